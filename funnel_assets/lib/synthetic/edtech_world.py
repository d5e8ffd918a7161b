"""The ed-tech world's state: spend, people in daily cohorts, sessions and every person's journey.

Design: people arrive in daily cohorts. A cohort's whole journey (sheet submission(s) →
webinar/bootcamp registrations → attendance → sales assignments → sale) is a deterministic
function of ``(config, seed, cohort day, scale, timezone)`` and nothing else, computed once and
cached. A journey never lasts longer than :data:`MAX_JOURNEY_DAYS`, so what happens on day D is
found by computing the cohorts of ``[D - MAX_JOURNEY_DAYS, D]`` and keeping D's events. Sessions
(one webinar, or one day of a bootcamp) depend only on ``(seed, event, date)``. Spend depends
only on ``(seed, day, scale)``; a cohort's sheet leads per campaign are Poisson(spend / CPL).

All times here are epoch seconds (UTC) as Python ints / numpy int64.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from faker.providers.address.en_IN import Provider as _AddressProvider
from faker.providers.person.en_IN import Provider as _PersonProvider

from funnel_assets.lib.config import OTHER_SOURCES_FUNNEL

from .edtech_config import Campaign, EdtechConfig, Event
from .edtech_rng import (
    AUDIENCE_TZ,
    E_COHORT,
    E_SESSION,
    E_SPEND,
    P_MEETING,
    P_PEOPLE,
    P_STYLE,
    P_VOLUME,
    PER_DAY,
    day_index,
    day_span,
    mobile_numbers,
    np_rng,
    stable_hash,
)

MAX_JOURNEY_DAYS = 60
"""Nothing in a person's journey happens more than this many days after they arrive."""
REGISTRATION_HORIZON_DAYS = 16
"""People register for sessions at most this many days after they arrive."""
REPEAT_LOOKBACK_DAYS = 3
"""A repeat sheet submission comes at most this many days after the first."""

FIRST_NAMES: tuple[str, ...] = tuple(sorted(set(_PersonProvider.first_names_male) | set(_PersonProvider.first_names_female)))
LAST_NAMES: tuple[str, ...] = tuple(sorted(set(_PersonProvider.last_names)))
CITIES: tuple[str, ...] = tuple(dict.fromkeys(_AddressProvider.cities))

EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "yahoo.co.in", "outlook.com", "rediffmail.com", "hotmail.com")
EMAIL_DOMAIN_WEIGHTS = np.array([0.64, 0.07, 0.05, 0.10, 0.10, 0.04])
EMAIL_PATTERN_WEIGHTS = np.array([0.15, 0.25, 0.20, 0.10, 0.10, 0.20])

# Volume by weekday (Monday first), as in demo_leads: mean 1.
WEEKDAY_FACTOR = (1.10, 1.08, 1.05, 1.00, 0.92, 0.88, 0.97)
# Relative form submissions by hour of the day (Asia/Kolkata), as in demo_leads.
HOUR_WEIGHT = np.array([
    0.4, 0.25, 0.12, 0.08, 0.08, 0.15, 0.5, 1.0, 2.0, 3.0, 4.0, 4.5,
    4.5, 4.5, 4.0, 4.0, 4.0, 4.5, 5.0, 6.0, 6.5, 6.0, 4.5, 2.0,
])

ORGANIC_SOURCE = "Organic Website"
"""CRM source of assigned sheet leads that came without a campaign."""

INTERNATIONAL = (
    ("+1", "United States"),
    ("+971", "United Arab Emirates"),
    ("+44", "United Kingdom"),
    ("+65", "Singapore"),
)
"""Country codes of the ~0.8% of sheet leads with a foreign number."""

# Approval status codes
APPROVED, DENIED, PENDING = 0, 1, 2
APPROVAL_TEXT = ("approved", "denied", "pending")

# Registration sources (Zoom "Source Name")
SOURCE_NAMES = ("", "Instagram", "Facebook", "Ads", "Google", "LinkedIn", "YouTube", "Email", "WhatsApp")


# ============================================================================= spend


@dataclass(frozen=True)
class CampaignDay:
    campaign: Campaign
    cost: float
    impressions: int
    clicks: int
    video_views: int
    signups: int
    purchases: int
    revenue: float
    leads: int  # sheet leads this campaign brings on the day (what the platform does not know)


@lru_cache(maxsize=4096)
def spend_day(config: EdtechConfig, seed: int, day: date, scale: float) -> tuple[CampaignDay, ...]:
    """Each campaign's spend on ``day`` and the sheet leads it brings (Poisson(cost / CPL))."""
    rng = np_rng(seed, day_index(day), E_SPEND, P_VOLUME)
    weekday = WEEKDAY_FACTOR[day.weekday()]
    n = len(config.campaigns)
    z = rng.standard_normal((n, 3))
    u = rng.random((n, 4))
    budget = np.array([c.daily_budget for c in config.campaigns])
    cost = np.round(budget * scale * np.exp(0.08 * z[:, 0]) * (0.92 + 0.08 * u[:, 0]), 2)
    cpl_today = np.array([c.cpl for c in config.campaigns]) * np.exp(0.15 * z[:, 1]) / weekday
    leads = rng.poisson(np.where(cost > 0, cost / cpl_today, 0.0))
    clicks = np.round(cost / (np.array([c.cpc for c in config.campaigns]) * np.exp(0.1 * z[:, 2]))).astype(np.int64)
    impressions = np.round(clicks / (np.array([c.ctr for c in config.campaigns]) * (0.85 + 0.3 * u[:, 1]))).astype(np.int64)
    purchases = rng.poisson(0.01 * leads)
    out = []
    for i, c in enumerate(config.campaigns):
        video = c.platform.lower() == "youtube" or c.campaign_type.lower() == "video"
        views = int(impressions[i] * (0.22 + 0.1 * u[i, 2])) if video else int(impressions[i] * 0.04 * u[i, 2])
        signups = int(round(leads[i] * (0.85 + 0.35 * u[i, 3])))
        out.append(CampaignDay(c, float(cost[i]), int(impressions[i]), int(clicks[i]), views, signups,
                               int(purchases[i]), float(purchases[i] * 2999), int(leads[i])))
    return tuple(out)


# ============================================================================= sessions


@dataclass(frozen=True)
class Session:
    """One Zoom session: a webinar, or one day of a bootcamp."""

    key: str  # "<event>:<YYYY-MM-DD>"
    event: Event
    day: date  # local date (Asia/Kolkata)
    bootcamp_day: int  # 0 for a webinar, 1 or 2
    occurrence: date  # the bootcamp's Day 1 date (= day for webinars)
    webinar_id: str  # the Zoom ID its reports show: the webinar ID, or the meeting ID when run as a meeting
    topic: str
    scheduled_start: int
    actual_start: int
    actual_end: int
    show_factor: float  # multiplies attendance rates
    minute_precision: bool  # times are whole minutes (some of its report files show no seconds)
    attendee_vintage: str  # "2020", "2025" or "newer": the Attendee Report's layout
    cancelled: int  # "# Cancelled" in the summary
    download_at: int  # when the reports are downloaded (after the session)
    run_as: str = "webinar"  # "webinar", or "meeting": no registration, a meeting participant report

    @property
    def scheduled_end(self) -> int:
        return self.scheduled_start + 60 * self.event.duration_minutes

    @property
    def event_kind(self) -> str:
        return self.event.kind


def _week_ok(event: Event, d: date) -> bool:
    week = (d - date(2000, 1, 3)).days // 7  # 2000-01-03 is a Monday
    return (week - event.week_offset) % event.week_interval == 0


def event_day(event: Event, d: date) -> int | None:
    """None if ``event`` has no session on ``d``; else 0 (webinar) or the bootcamp day (1/2)."""
    wd = d.weekday()
    if not event.is_bootcamp:
        return 0 if wd in event.weekdays and _week_ok(event, d) else None
    if wd == event.weekdays[0] and _week_ok(event, d):
        return 1
    if wd == event.weekdays[1] and _week_ok(event, d - timedelta(days=1)):
        return 2
    return None


@lru_cache(maxsize=8192)
def session_on(config: EdtechConfig, seed: int, event_no: int, d: date) -> Session | None:
    event = config.events[event_no]
    bday = event_day(event, d)
    if bday is None:
        return None
    rng = np_rng(seed, day_index(d), E_SESSION, stable_hash(event.name), P_STYLE)
    r = rng.random(12)
    start_local = datetime(d.year, d.month, d.day, event.start_hour, event.start_minute, tzinfo=AUDIENCE_TZ)
    scheduled = int(start_local.timestamp())
    actual_start = scheduled + int(r[0] * 6 * 60) - 60
    overrun = int((8 + 12 * (r[1] - 0.4)) * 60)
    actual_end = actual_start + 60 * event.duration_minutes + overrun
    two_webinars = event.is_bootcamp and event.webinar_id_day2 is not None
    webinar_id = event.webinar_id_day2 if (two_webinars and bday == 2) else event.webinar_id
    run_as, meeting_id = run_as_meeting(config, seed, event, d - timedelta(days=1) if bday == 2 else d, bday)
    if run_as == "meeting":
        webinar_id = meeting_id
    topic = f"{event.topic} - Day {bday}" if two_webinars else event.topic
    vintage = "2020" if r[2] < 0.22 else ("2025" if r[2] < 0.62 else "newer")
    day_end = int(datetime(d.year, d.month, d.day, 23, 58, tzinfo=AUDIENCE_TZ).timestamp())
    download = actual_end + int((10 + 140 * r[4]) * 60)
    if download > day_end:
        download = max(actual_end + 120, day_end - int(r[5] * 600))
    return Session(
        key=f"{event.name}:{d.isoformat()}",
        event=event,
        day=d,
        bootcamp_day=bday,
        occurrence=d - timedelta(days=1) if bday == 2 else d,
        webinar_id=webinar_id,
        topic=topic,
        scheduled_start=scheduled,
        actual_start=actual_start,
        actual_end=actual_end,
        show_factor=float(np.exp(0.12 * (r[6] + r[7] - 1.0) * 1.7)),
        minute_precision=bool(r[3] < 0.4),
        attendee_vintage=vintage,
        cancelled=int(r[8] * 4) + (1 if r[9] < 0.3 else 0),
        download_at=download,
        run_as=run_as,
    )


def run_as_meeting(config: EdtechConfig, seed: int, event: Event, occurrence: date, bootcamp_day: int) -> tuple[str, str]:
    """("meeting", meeting ID) if the team runs this occurrence of ``event`` as a Zoom meeting, else
    ("webinar", ""). Drawn once per occurrence (both days of a bootcamp are run the same way) from
    ``(seed, event, occurrence)`` alone. A bootcamp held as two webinars ("Day 1"/"Day 2") becomes two
    meetings; a recurring one keeps one meeting ID for both days."""
    rate = event.meeting_rate if event.meeting_rate is not None else (config.settings.bootcamp_meeting_rate if event.is_bootcamp else 0.0)
    if rate <= 0:
        return "webinar", ""
    rng = np_rng(seed, day_index(occurrence), E_SESSION, stable_hash(event.name), P_MEETING)
    u = rng.random()
    ids = [str(x) for x in rng.integers(81_000_000_000, 99_999_999_999, size=2)]
    if u >= rate:
        return "webinar", ""
    two = event.is_bootcamp and event.webinar_id_day2 is not None
    return "meeting", ids[1] if (two and bootcamp_day == 2) else ids[0]


@lru_cache(maxsize=8192)
def sessions_on_date(config: EdtechConfig, seed: int, d: date) -> tuple[Session, ...]:
    """The sessions whose (Asia/Kolkata) date is ``d``."""
    return tuple(s for i in range(len(config.events)) if (s := session_on(config, seed, i, d)) is not None)


def sessions_between(config: EdtechConfig, seed: int, first: date, last: date) -> list[Session]:
    """Sessions whose (Asia/Kolkata) date is in ``[first, last]``, sorted by start."""
    out: list[Session] = []
    d = first
    while d <= last:
        out.extend(sessions_on_date(config, seed, d))
        d += timedelta(days=1)
    out.sort(key=lambda s: (s.scheduled_start, s.key))
    return out


def sessions_held_on(config: EdtechConfig, seed: int, day: date, tz: ZoneInfo) -> list[Session]:
    """Sessions that start on ``day`` in the team's time zone ``tz``."""
    lo, hi = day_span(day, tz)
    cands = sessions_between(config, seed, day - timedelta(days=1), day + timedelta(days=1))
    return [s for s in cands if lo <= s.actual_start < hi]


# ============================================================================= staff


@dataclass(frozen=True)
class Staff:
    person_id: str
    name: str
    email: str
    phone: str  # 10 digits


def staff_member(config: EdtechConfig, seed: int, name: str) -> Staff:
    slug = "".join(ch for ch in name.lower() if ch.isalnum() or ch == " ").split()
    email = ".".join(slug) + "@" + config.settings.company_domain
    g = np.array([stable_hash("staff:" + name) % PER_DAY], dtype=np.int64)  # day index 0 block
    phone = str(int(mobile_numbers(seed, g)[0]))
    return Staff("staff:" + "-".join(slug), name, email, phone)


# ============================================================================= cohorts

KIND_SHEET, KIND_CRM = 0, 1


def _ascii(name: str) -> str:
    return "".join(ch for ch in name.lower() if "a" <= ch <= "z")


_FIRST_ASCII = tuple(_ascii(n) or "user" for n in FIRST_NAMES)
_LAST_ASCII = tuple(_ascii(n) for n in LAST_NAMES)


@dataclass
class Registration:
    person: int  # index in the cohort
    session: Session
    registered_at: int
    approval: int
    source_name: str
    attended: bool
    late: bool  # registered after the session started (and joined right away)


@dataclass
class Assignment:
    person: int
    assigned_at: int
    source: str
    employee: int  # index into config.sales_reps
    is_first: bool = False
    u: float = 0.0  # drawn for the dump's formatting of this row


@dataclass
class Sale:
    person: int
    created_at: int
    product: int  # index into config.products
    employee: int
    emi_months: int  # 0 = paid in full
    discount: float
    token: int
    refunded: bool
    default_after: int | None  # EMIs stop after this many were paid (mandate cancelled)
    funnel: str
    assigned_lead_sources: str
    signup_at: int
    gateway: str
    partner: str
    channel: str
    number: int  # position in the cohort's sales (for ids)
    uniq: int  # 64 random bits for ids


class _Lazy:
    """A read-only list whose items are computed on first access (identity strings of people
    that no export of the requested range shows are never built)."""

    __slots__ = ("_fn", "_n", "_cache")

    def __init__(self, fn, n: int):
        self._fn, self._n, self._cache = fn, n, {}

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, k: int):
        try:
            return self._cache[k]
        except KeyError:
            if not 0 <= k < self._n:
                raise IndexError(k) from None
            v = self._cache[k] = self._fn(k)
            return v

    def __iter__(self):
        return (self[k] for k in range(self._n))


@dataclass
class Cohort:
    """Everyone who first arrives on ``day`` (in the team's time zone) and their journeys.

    Identity fields (first, last, email, phone, ...) are lazy lists indexed by the person's
    position in the cohort.
    """

    day: date
    index: int  # day index
    n: int
    kind: np.ndarray  # KIND_SHEET / KIND_CRM
    arrived_at: np.ndarray  # int64 epoch: sheet submission, or CRM-only first assignment
    campaign: np.ndarray  # index into config.campaigns, -1: no campaign (organic / CRM-only)
    program: list[str]
    utm_source: _Lazy
    utm_medium: _Lazy
    first: _Lazy
    last: _Lazy
    email: _Lazy
    phone: _Lazy  # 10 digits, or "" for international people
    intl_phone: _Lazy  # "+<cc><digits>" for international people, else ""
    country: _Lazy
    city: _Lazy
    crm_source: _Lazy  # CRM-only people's source, else ""
    # sheet row quirks for the first submission
    sheet_phone: list[str]  # "normal", "placeholder", "none"
    sheet_email: list[bool]  # email written
    bad_date: list[str | None]
    repeat_at: list[int]  # 0 = no repeat submission
    repeat_campaign: list[int]  # index, -1 none
    registrations: list[Registration] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    sales: list[Sale] = field(default_factory=list)

    def person_id(self, i: int) -> str:
        return f"P{self.day:%Y%m%d}-{i:05d}"

    def phone_key(self, i: int) -> str:
        return "91" + self.phone[i] if self.phone[i] else self.intl_phone[i]

    def name(self, i: int) -> str:
        return f"{self.first[i]} {self.last[i]}".strip()


@dataclass(frozen=True)
class _Plan:
    """Per-config lookups the cohorts share."""

    programs: tuple[str, ...]
    program_weights: np.ndarray
    campaign_program: tuple[str, ...]
    channel_cum: tuple[tuple[float, ...], ...]
    promotes: tuple[str, ...]
    mapped: tuple[bool, ...]
    budget_p: np.ndarray
    events_for: dict
    reps_for: dict
    products_for: dict
    crm_sources: tuple[str, ...]
    crm_source_p: np.ndarray


_PLANS: dict[int, tuple[EdtechConfig, _Plan]] = {}


def _plan(config: EdtechConfig) -> _Plan:
    hit = _PLANS.get(id(config))
    if hit is not None and hit[0] is config:
        return hit[1]
    programs = config.programs
    pw = np.array([3.0, 2.0, 1.0, 1.0][: len(programs)] + [1.0] * max(0, len(programs) - 4))
    events_for = {}
    for program in programs:
        for kind in ("webinar", "bootcamp"):
            evs = [e for e in config.events if e.program == program and e.kind == kind]
            evs = evs or [e for e in config.events if e.program == program] or [e for e in config.events if e.kind == "webinar"] or list(config.events)
            events_for[(program, kind)] = tuple(evs)
    reps_for = {}
    products_for = {}
    for program in programs:
        reps = [i for i, r in enumerate(config.sales_reps) if program in r.programs]
        reps_for[program] = tuple(reps or range(len(config.sales_reps)))
        prods = [i for i, p in enumerate(config.products) if p.program == program and p.weight > 0]
        products_for[program] = (tuple(prods), tuple(config.products[i].weight for i in prods))
    chan = []
    for c in config.campaigns:
        total = sum(w for *_, w in c.channels) or 1.0
        acc, cum = 0.0, []
        for *_, w in c.channels:
            acc += w / total
            cum.append(acc)
        chan.append(tuple(cum))
    budgets = np.array([max(c.daily_budget, 1.0) for c in config.campaigns])
    weighted = [s for s in config.crm_sources if s.weight > 0]
    sw = np.array([s.weight for s in weighted], dtype=float)
    plan = _Plan(
        programs=programs,
        program_weights=pw / pw.sum(),
        campaign_program=tuple(c.program for c in config.campaigns),
        channel_cum=tuple(chan),
        promotes=tuple("bootcamp" if "bootcamp" in f"{c.name} {c.funnel or ''}".lower() else "webinar" for c in config.campaigns),
        mapped=tuple(c.funnel is not None for c in config.campaigns),
        budget_p=budgets / budgets.sum(),
        events_for=events_for,
        reps_for=reps_for,
        products_for=products_for,
        crm_sources=tuple(s.source for s in weighted) or ("Referral",),
        crm_source_p=(sw / sw.sum()) if len(sw) else np.array([1.0]),
    )
    _PLANS[id(config)] = (config, plan)
    return plan


def _email(k: int, fi: int, li: int, has_last: bool, pattern: int, n2: int, n3: int, n4: int, domain: str) -> str:
    f = _FIRST_ASCII[fi]
    l = (_LAST_ASCII[li] if has_last else "") or f"{n3}"
    if pattern == 0:
        local = f"{f}{l}{n4}"
    elif pattern == 1:
        local = f"{f}{l}{n2}"
    elif pattern == 2:
        local = f"{f}.{l}{n2}"
    elif pattern == 3:
        local = f"{f}{l[:1]}{n3}"
    elif pattern == 4:
        local = f"{f}_{l}{n2}"
    else:
        local = f"{f[0]}{l}{n3}"
    return f"{local}@{domain}"


def _choice(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    """``rng.choice(len(p), n, p=p)`` without its per-call overhead."""
    return np.minimum(np.searchsorted(np.cumsum(p), rng.random(n), side="right"), len(p) - 1)


def _lead_times(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    """Submission instants in [lo, hi) following the Indian audience's time-of-day pattern."""
    hours = (hi - lo) // 3600
    starts = lo + 3600 * np.arange(hours)
    ist_hours = ((starts + 19800) // 3600) % 24  # Asia/Kolkata is UTC+5:30 (no DST)
    w = HOUR_WEIGHT[ist_hours]
    slot = _choice(rng, w / w.sum(), n)
    return (starts[slot] + rng.integers(0, 3600, size=n)).astype(np.int64)


def _pick(cum: tuple[float, ...], u: float) -> int:
    for i, c in enumerate(cum):
        if u < c:
            return i
    return len(cum) - 1


@lru_cache(maxsize=512)
def cohort(config: EdtechConfig, seed: int, day: date, scale: float, tz_name: str) -> Cohort:
    """The people who arrive on ``day`` and their whole journey. Cached; pure."""
    tz = ZoneInfo(tz_name)
    plan = _plan(config)
    di = day_index(day)
    settings = config.settings
    lo, hi = day_span(day, tz)
    rng = np_rng(seed, di, E_COHORT, P_PEOPLE)
    # independent streams for the later stages (sheet quirks, registration, attendance,
    # assignment, sale), seeded from this cohort's SeedSequence
    stream_seeds = [int(x) for x in rng.integers(0, 2**63, size=5)]

    # ---- who arrives: sheet leads per campaign from spend, organic leads, CRM-only people
    spend = spend_day(config, seed, day, scale)
    n_organic = int(rng.poisson(settings.organic_leads_per_day * scale * WEEKDAY_FACTOR[day.weekday()]))
    n_crm = int(rng.poisson(settings.crm_only_per_day * scale))
    campaign = np.concatenate([
        np.repeat(np.arange(len(spend)), [cd.leads for cd in spend]),
        np.full(n_organic, -1),
        np.full(n_crm, -1),
    ]).astype(np.int64)
    n = len(campaign)
    if n > PER_DAY:
        raise ValueError(f"scale {scale} gives {n} arrivals on {day}; at most {PER_DAY} a day are supported")
    kind = np.concatenate([np.zeros(n - n_crm, np.int8), np.ones(n_crm, np.int8)])
    arrived = _lead_times(rng, n, lo, hi)
    order = np.lexsort((np.arange(n), arrived))  # cohort positions in arrival order
    campaign, kind, arrived = campaign[order], kind[order], arrived[order]

    # ---- identity (drawn for everyone now, formatted lazily)
    first_idx = rng.integers(0, len(FIRST_NAMES), n)
    last_idx = rng.integers(0, len(LAST_NAMES), n)
    has_last = rng.random(n) >= 0.06
    city_idx = np.minimum(rng.zipf(1.6, n) - 1, len(CITIES) - 1)
    pattern = _choice(rng, EMAIL_PATTERN_WEIGHTS, n)
    nums = np.stack([rng.integers(1, 1000, n), rng.integers(100, 10000, n), rng.integers(1975, 2008, n)], axis=1)
    dom = _choice(rng, EMAIL_DOMAIN_WEIGHTS, n)
    phones = mobile_numbers(seed, di * PER_DAY + np.arange(n, dtype=np.int64))
    intl = (rng.random(n) < 0.008) & (kind == KIND_SHEET)
    intl_cc = (rng.random(n) * len(INTERNATIONAL)).astype(np.int64)
    u_chan = rng.random(n)
    u_org = rng.random(n)
    organic_program = _choice(rng, plan.program_weights, n)
    crm_pick = _choice(rng, plan.crm_source_p, n)

    def first_of(k: int) -> str:
        return FIRST_NAMES[first_idx[k]]

    def last_of(k: int) -> str:
        return LAST_NAMES[last_idx[k]] if has_last[k] else ""

    def email_of(k: int) -> str:
        n2, n3, n4 = (int(x) for x in nums[k])
        return _email(k, int(first_idx[k]), int(last_idx[k]), bool(has_last[k]), int(pattern[k]), n2, n3, n4, EMAIL_DOMAINS[dom[k]])

    def phone_of(k: int) -> str:
        return "" if intl[k] else str(int(phones[k]))

    def intl_of(k: int) -> str:
        if not intl[k]:
            return ""
        # digits of the (unique) Indian number keep international numbers distinct too
        cc = INTERNATIONAL[intl_cc[k]][0]
        digits = str(int(phones[k]))[1:]
        return cc + {"+1": "9" + digits[:9], "+971": "5" + digits[:8], "+44": "7" + digits[:9], "+65": "8" + digits[:7]}[cc]

    def country_of(k: int) -> str:
        return INTERNATIONAL[intl_cc[k]][1] if intl[k] else "India"

    camp_list = campaign.tolist()
    kind_list = kind.tolist()
    organic_sources = ("facebook", "instagram", "google")

    def channel_of(k: int) -> tuple[str, str]:
        c = camp_list[k]
        if c >= 0:
            src, med, _ = config.campaigns[c].channels[_pick(plan.channel_cum[c], float(u_chan[k]))]
            return src, med
        if kind_list[k] == KIND_SHEET and u_chan[k] < 0.4:
            return organic_sources[int(u_org[k] * 3)], ""
        return "", ""

    def crm_source_of(k: int) -> str:
        return plan.crm_sources[crm_pick[k]] if kind_list[k] == KIND_CRM else ""

    camp_prog = plan.campaign_program
    org_prog = organic_program.tolist()
    program = [camp_prog[c] if c >= 0 else plan.programs[org_prog[k]] for k, c in enumerate(camp_list)]

    # ---- sheet row quirks (as demo_leads) and repeat submissions
    sheet_rng = np.random.default_rng(stream_seeds[0])
    q = sheet_rng.random(n)
    ph = sheet_rng.random(n)
    none_phone = (q < 0.005) | ((q >= 0.010) & (q < 0.025))
    sheet_phone = np.where(none_phone, "none", np.where(ph < 0.006, "placeholder", "normal")).tolist()
    sheet_email = ~((q < 0.005) | ((q >= 0.025) & (q < 0.045)))
    bad = (q >= 0.005) & (q < 0.010)
    bad_date: list[str | None] = [None] * n
    for k in np.flatnonzero(bad).tolist():
        bad_date[k] = "#VALUE!" if ph[k] < 0.5 else f"31/31/{day.year}"
    rep = (sheet_rng.random(n) < settings.repeat_submission_rate) & (kind == KIND_SHEET)
    delay = np.round(600 * (6 * 24 * REPEAT_LOOKBACK_DAYS) ** sheet_rng.random(n)).astype(np.int64)
    repeat_at = np.where(rep, arrived + delay, 0)
    other = _choice(sheet_rng, plan.budget_p, n)
    repeat_campaign = np.where(rep, np.where(sheet_rng.random(n) < 0.5, other, campaign), -1)

    co = Cohort(
        day=day, index=di, n=n, kind=kind, arrived_at=arrived, campaign=campaign, program=program,
        utm_source=_Lazy(lambda k: channel_of(k)[0], n), utm_medium=_Lazy(lambda k: channel_of(k)[1], n),
        first=_Lazy(first_of, n), last=_Lazy(last_of, n), email=_Lazy(email_of, n), phone=_Lazy(phone_of, n),
        intl_phone=_Lazy(intl_of, n), country=_Lazy(country_of, n), city=_Lazy(lambda k: CITIES[city_idx[k]], n),
        crm_source=_Lazy(crm_source_of, n), sheet_phone=sheet_phone,
        sheet_email=sheet_email.tolist(), bad_date=bad_date, repeat_at=repeat_at.tolist(),
        repeat_campaign=repeat_campaign.tolist(),
    )
    _register(config, plan, seed, co, random.Random(stream_seeds[1]).random, random.Random(stream_seeds[2]).random)
    _assign(config, plan, seed, co, random.Random(stream_seeds[3]).random)
    _sell(config, plan, seed, co, random.Random(stream_seeds[4]))
    return co


# ----------------------------------------------------------------------------- registrations


def _source_name(r: float, r2: float, camp: Campaign | None, immediate: bool) -> str:
    if r < 0.1:
        return ""
    if immediate and camp is not None:
        plat = camp.platform.lower()
        if plat == "facebook":
            return ("Instagram", "Instagram", "Facebook", "Ads")[int(r2 * 4)]
        if plat == "google":
            return ("Ads", "Google")[int(r2 * 2)]
        if plat == "youtube":
            return ("YouTube", "Ads")[int(r2 * 2)]
        if plat == "linkedin":
            return ("LinkedIn", "Ads")[int(r2 * 2)]
        return "Ads"
    return ("Email", "WhatsApp", "WhatsApp")[int(r2 * 3)]


def _answers(rand, event: Event, program: str) -> tuple[str, ...]:
    out = []
    for q in event.questions:
        r = rand()
        if r < 0.08:
            out.append("")
        elif program in q.answers and r < 0.75:
            out.append(program)
        else:
            out.append(q.answers[int(rand() * len(q.answers))])
    return tuple(out)


def _floor(t: int, minute: bool) -> int:
    return t - t % 60 if minute else t


def _register(config: EdtechConfig, plan: _Plan, seed: int, co: Cohort, rand, arand) -> None:
    s = config.settings
    sessions = sessions_between(config, seed, co.day - timedelta(days=1), co.day + timedelta(days=REGISTRATION_HORIZON_DAYS))
    by_event: dict[str, list[Session]] = {}
    for sess in sessions:
        by_event.setdefault(sess.event.name, []).append(sess)
    # (program, kind) -> registrable sessions (webinars, bootcamp Day 1s) sorted by start
    cands_for: dict[tuple[str, str], tuple[list[int], list[Session]]] = {}
    for key, evs in plan.events_for.items():
        lst = sorted((x for e in evs for x in by_event.get(e.name, ()) if x.bootcamp_day in (0, 1)), key=lambda x: (x.scheduled_start, x.key))
        cands_for[key] = ([x.scheduled_start for x in lst], lst)

    def between(a: int, b: int) -> int:
        return a + int(rand() * max(1, b - a))

    def approval() -> int:
        r = rand()
        return DENIED if r < s.denied_rate else (PENDING if r < s.denied_rate + s.pending_rate else APPROVED)

    def reg_time(lead: int, start: int, minute: bool) -> tuple[int, bool]:
        if rand() < 0.55:
            t = lead + between(60, 1800)
            if t < start - 60:
                return _floor(t, minute), True
        t = between(lead + 60, max(lead + 61, start - 300))
        return _floor(t, minute), t - lead <= 1800

    camp_list = co.campaign.tolist()
    arrived = co.arrived_at.tolist()
    # who registers at all: one uniform per person, compared with the rate of their campaign
    rate_of = np.array([
        (s.register_rate_bootcamp if plan.promotes[i] == "bootcamp" else s.register_rate_webinar) if plan.mapped[i] else s.register_rate_other
        for i in range(len(config.campaigns))
    ] + [s.register_rate_other])
    u = np.array([rand() for _ in range(co.n)]) if co.n else np.zeros(0)
    registering = np.flatnonzero((co.kind == KIND_SHEET) & (u < rate_of[co.campaign])).tolist()
    for k in registering:
        c = camp_list[k]
        promotes = plan.promotes[c] if c >= 0 else "webinar"
        lead = arrived[k]
        camp = config.campaigns[c] if c >= 0 else None
        program = co.program[k]
        # bootcamp ads mostly fill bootcamps; some webinar leads pick the program's bootcamp
        kind = promotes
        u = rand()
        if promotes == "bootcamp" and u < 0.15:
            kind = "webinar"
        elif promotes == "webinar" and u < 0.2:
            kind = "bootcamp"
        starts, cands = cands_for[(program, kind)]
        i = bisect_left(starts, lead + 900)
        if i >= len(cands):
            continue
        target = cands[i] if (i + 1 >= len(cands) or rand() < 0.7) else cands[i + 1]
        # a few register only once the session has started (the "join now" reminder) and join at once
        late = target.bootcamp_day == 0 and rand() < 0.04
        if target.bootcamp_day == 0:
            if late:
                t = _floor(target.actual_start + between(60, 1500), target.minute_precision)
                immediate = False
                ap = APPROVED
            else:
                t, immediate = reg_time(lead, target.scheduled_start, target.minute_precision)
                ap = approval()
            src = _source_name(rand(), rand(), camp, immediate)
            att = ap == APPROVED and arand() < (0.9 if late else s.attend_rate_webinar * target.show_factor)
            co.registrations.append(Registration(k, target, t, ap, src, att, late))
            if not att and ap == APPROVED and rand() < s.reregister_rate:
                nxt = next((x for x in by_event.get(target.event.name, ()) if x.scheduled_start > target.actual_end + 3600), None)
                if nxt is not None:
                    t2 = _floor(between(target.actual_end + 600, max(target.actual_end + 601, nxt.scheduled_start - 600)), nxt.minute_precision)
                    att2 = arand() < s.attend_rate_webinar * nxt.show_factor
                    src2 = ("Email", "WhatsApp", "")[int(rand() * 3)]
                    co.registrations.append(Registration(k, nxt, t2, APPROVED, src2, att2, False))
            continue
        # bootcamp: Day 1 session `target`, Day 2 the next day
        day2 = next((x for x in by_event.get(target.event.name, ()) if x.bootcamp_day == 2 and x.occurrence == target.occurrence), None)
        t1, immediate = reg_time(lead, target.scheduled_start, target.minute_precision)
        src = _source_name(rand(), rand(), camp, immediate)
        ap = approval()
        att1 = ap == APPROVED and arand() < s.attend_rate_bootcamp_day1 * target.show_factor
        if target.event.webinar_id_day2 is None:
            # one recurring webinar: one registration covers both days
            co.registrations.append(Registration(k, target, t1, ap, src, att1, False))
            if day2 is not None:
                p2 = s.attend_rate_bootcamp_day2_after_day1 if att1 else s.attend_rate_bootcamp_day2_only
                att2 = ap == APPROVED and arand() < p2 * day2.show_factor
                co.registrations.append(Registration(k, day2, _floor(t1, day2.minute_precision), ap, src, att2, False))
            continue
        reg1 = rand() < 0.93
        if reg1:
            co.registrations.append(Registration(k, target, t1, ap, src, att1, False))
        else:
            att1 = False
        if day2 is not None and (not reg1 or rand() < 0.85):
            if rand() < 0.7:
                t2 = t1 + between(20, 240)
            else:
                t2 = between(t1 + 60, max(t1 + 61, day2.scheduled_start - 600))
            p2 = s.attend_rate_bootcamp_day2_after_day1 if att1 else (s.attend_rate_bootcamp_day2_only if reg1 else s.attend_rate_bootcamp_day1)
            ap2 = ap if reg1 else approval()
            att2 = ap2 == APPROVED and arand() < p2 * day2.show_factor
            src2 = src if rand() < 0.8 else "Email"
            co.registrations.append(Registration(k, day2, _floor(t2, day2.minute_precision), ap2, src2, att2, False))


# ----------------------------------------------------------------------------- assignments


def _assign(config: EdtechConfig, plan: _Plan, seed: int, co: Cohort, rand) -> None:
    s = config.settings
    horizon = day_span(co.day, ZoneInfo("UTC"))[0] + 86400 * (MAX_JOURNEY_DAYS - 5)
    first_attended: dict[int, int] = {}
    for reg in co.registrations:
        if reg.attended:
            end = reg.session.actual_end
            if reg.person not in first_attended or end < first_attended[reg.person]:
                first_attended[reg.person] = end
    camp_list = co.campaign.tolist()
    arrived = co.arrived_at.tolist()
    kinds = co.kind.tolist()
    n_camp = len(config.campaigns)
    budget_cum = np.cumsum(plan.budget_p).tolist()
    crm_cum = np.cumsum(plan.crm_source_p).tolist()

    def between(a: int, b: int) -> int:
        return a + int(rand() * max(1, b - a))

    for k in range(co.n):
        c = camp_list[k]
        if kinds[k] == KIND_CRM:
            at = arrived[k]
            source = co.crm_source[k]
        else:
            if k in first_attended:
                at = first_attended[k] + between(1800, 26 * 3600)
            elif rand() < s.direct_assign_rate:
                at = arrived[k] + between(3600, 5 * 86400)
            else:
                continue
            source = config.campaigns[c].crm_source if c >= 0 else ORGANIC_SOURCE
        reps = plan.reps_for[co.program[k]]
        emp = reps[int(rand() * len(reps))]
        co.assignments.append(Assignment(k, at, source, emp, True, rand()))
        if rand() < 0.03:  # a manager hands the lead to another rep: same source again
            co.assignments.append(Assignment(k, at + between(3600, 48 * 3600), source, reps[int(rand() * len(reps))], False, rand()))
        if rand() < s.reassign_rate:
            later = min(at + between(7 * 86400, 50 * 86400), horizon)
            if later > at:
                if rand() < 0.5:
                    src2 = config.campaigns[min(_pick(tuple(budget_cum), rand()), n_camp - 1)].crm_source
                else:
                    src2 = plan.crm_sources[_pick(tuple(crm_cum), rand())]
                emp2 = emp if rand() < 0.5 else reps[int(rand() * len(reps))]
                co.assignments.append(Assignment(k, later, src2, emp2, False, rand()))


# ----------------------------------------------------------------------------- sales

GATEWAYS_FULL = ("Razorpay", "Razorpay", "Cashfree", "PayU", "Bank Transfer")
GATEWAYS_EMI = (("Propelld", "Propelld"), ("ShopSe", "ShopSe"), ("Razorpay", "Razorpay EMI"))
DISCOUNTS = (0.0, 0.0, 0.0, 0.05, 0.1, 0.15)
CHANNELS = ("Sales", "Sales", "Sales", "Website", "App")


def _sell(config: EdtechConfig, plan: _Plan, seed: int, co: Cohort, r: random.Random) -> None:
    s = config.settings
    rand = r.random
    by_person: dict[int, list[Assignment]] = {}
    for a in co.assignments:
        by_person.setdefault(a.person, []).append(a)
    attended_kind: dict[int, str] = {}
    for reg in co.registrations:
        if reg.attended:
            if reg.session.bootcamp_day:
                attended_kind[reg.person] = "bootcamp"
            else:
                attended_kind.setdefault(reg.person, "webinar")
    horizon = day_span(co.day, ZoneInfo("UTC"))[0] + 86400 * (MAX_JOURNEY_DAYS - 2)
    kinds = co.kind.tolist()
    arrived = co.arrived_at.tolist()
    number = 0
    for k, assigns in by_person.items():
        assigns.sort(key=lambda a: a.assigned_at)
        for a in assigns:
            a.is_first = False
        assigns[0].is_first = True
        if kinds[k] == KIND_CRM:
            rate = s.sale_rate_crm_only
        elif attended_kind.get(k) == "bootcamp":
            rate = s.sale_rate_bootcamp
        elif attended_kind.get(k) == "webinar":
            rate = s.sale_rate_attended
        else:
            rate = s.sale_rate_assigned
        if rand() >= rate:
            continue
        first = assigns[0]
        at = min(first.assigned_at + max(7200, int(86400 * math.exp(math.log(6) + 0.9 * r.gauss(0, 1)))), horizon)
        latest = [a for a in assigns if a.assigned_at <= at][-1]
        products, weights = plan.products_for[co.program[k]]
        pi = r.choices(products, weights=weights)[0]
        product = config.products[pi]
        emi = 0
        if product.emi_months and rand() < s.emi_rate:
            emi = product.emi_months[int(rand() * len(product.emi_months))]
        # The CRM's Funnel is its mapping of the first source. assignedLeadSources is what the CRM
        # tagged the lead with when it was (last) assigned: the funnel of that assignment's source,
        # or, when the CRM could not map the source, the raw source itself; the field is not always
        # filled in. Seed 002's FINAL FUNNEL reads it: a Miscellaneous sale looks it up in the
        # team's manual mapping (source -> funnel), any other sale takes it when present.
        funnel = config.funnel_for(first.source)
        if rand() < 0.1:
            als = ""
        elif funnel == OTHER_SOURCES_FUNNEL:
            als = first.source if rand() < 0.8 else "  " + first.source.lower() + " "
        else:
            tagged = config.funnel_for(latest.source)
            als = tagged if tagged != OTHER_SOURCES_FUNNEL else funnel
        if emi:
            gateway, partner = GATEWAYS_EMI[int(rand() * len(GATEWAYS_EMI))]
        else:
            gateway, partner = GATEWAYS_FULL[int(rand() * len(GATEWAYS_FULL))], ""
        signup = min(arrived[k] + int(rand() * 2 * 86400), at - 60)
        co.sales.append(Sale(
            person=k, created_at=at, product=pi, employee=latest.employee, emi_months=emi,
            discount=DISCOUNTS[int(rand() * len(DISCOUNTS))],
            token=(5000, 10000)[int(rand() * 2)] if (not emi and rand() < 0.2) else 0,
            refunded=rand() < 0.03,
            default_after=1 + int(rand() * (emi - 2)) if (emi > 2 and rand() < 0.1) else None,
            funnel=funnel, assigned_lead_sources=als, signup_at=signup, gateway=gateway, partner=partner,
            channel=CHANNELS[int(rand() * len(CHANNELS))], number=number, uniq=r.getrandbits(64),
        ))
        number += 1


def cohorts_between(config: EdtechConfig, seed: int, first: date, last: date, scale: float, tz_name: str) -> list[Cohort]:
    out = []
    d = first
    while d <= last:
        out.append(cohort(config, seed, d, scale, tz_name))
        d += timedelta(days=1)
    return out
