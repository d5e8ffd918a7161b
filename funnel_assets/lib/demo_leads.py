"""Synthetic performance-marketing leads sheet exports, for the demo and for tests.

The team's leads land in a Google Sheet whose CSV export has exactly these columns::

    Name,Email,Phone,City,Question 1,utmSource,utmMedium,utmCamp,created date

`generate_leads_sheet` writes such an export for a date range, with the mess real exports
have: names in random casing with extra spaces, emails in mixed case with stray spaces,
phones in a dozen formats (``+91 98765 43210``, ``09876543210``, Excel floats
``9876543210.0``, the occasional ``9.87654321E9`` or ``9999999999`` placeholder, foreign
numbers), UTM values in random casing, unknown and blank campaigns, ~3% repeat
submissions by the same person with differently formatted contact details, ~1% broken
rows (no contact at all, or an unreadable date such as ``#VALUE!``), a few rows with
only an email or only a phone.

Determinism: the rows of a given day depend only on ``(seed, day, leads_per_day,
timezone)``, not on the range asked for, so the export for a longer range is the export
for a shorter one plus the new days (the way a sheet only grows). Nothing depends on the
current time or on global random state.
"""

from __future__ import annotations

import csv
import io
import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

from faker import Faker

__all__ = [
    "AUDIENCE_TIMEZONE",
    "CREATED_DATE_FORMAT",
    "DEMO_CAMPAIGNS",
    "DEMO_CAMPAIGN_NAMES",
    "DEMO_UNKNOWN_CAMPAIGNS",
    "DemoCampaign",
    "LEADS_SHEET_COLUMNS",
    "generate_leads_sheet",
]

LEADS_SHEET_COLUMNS: tuple[str, ...] = (
    "Name",
    "Email",
    "Phone",
    "City",
    "Question 1",
    "utmSource",
    "utmMedium",
    "utmCamp",
    "created date",
)
"""The export's header, exactly as the sheet has it."""

CREATED_DATE_FORMAT = "%m/%d/%Y %H:%M:%S"
"""strptime format of ``created date`` (written month-first without zero padding of the
month, day and hour, e.g. ``3/7/2025 9:05:33``, as Google Sheets' US locale does)."""

AUDIENCE_TIMEZONE = "Asia/Kolkata"
"""Where the people filling the forms live: the time-of-day pattern follows this zone."""


@dataclass(frozen=True)
class DemoCampaign:
    """A campaign the demo's leads come from.

    Attributes:
        name: the ``utmCamp`` value (the key of the funnel mapping).
        program: the certification it sells (ACCA, CMA, CFA, CPA).
        funnel: the funnel it belongs to (as in data/config/funnel_mapping.csv).
        channels: the ``(utmSource, utmMedium)`` pairs its ads run on, with weights.
        weight: its share of the leads that carry a known campaign.
        notes: a human description (for the mapping's ``notes`` column).
    """

    name: str
    program: str
    funnel: str
    channels: tuple[tuple[str, str, float], ...]
    weight: float
    notes: str


_META = (("facebook", "paid_social", 0.6), ("instagram", "paid_social", 0.4))

DEMO_CAMPAIGNS: tuple[DemoCampaign, ...] = (
    DemoCampaign("acca_webinar_meta", "ACCA", "ACCA Webinar", _META, 0.28,
                 "Meta (Facebook/Instagram) ads for the ACCA webinar"),
    DemoCampaign("acca_webinar_google", "ACCA", "ACCA Webinar",
                 (("google", "cpc", 0.8), ("google", "display", 0.2)), 0.15,
                 "Google search ads for the ACCA webinar"),
    DemoCampaign("cma_bootcamp_meta", "CMA", "CMA Bootcamp", _META, 0.13,
                 "Meta ads for the 2-day CMA bootcamp"),
    DemoCampaign("cma_webinar_yt", "CMA", "CMA Webinar", (("youtube", "video", 1.0),), 0.09,
                 "YouTube ads for the CMA webinar"),
    DemoCampaign("cfa_webinar_linkedin", "CFA", "CFA Webinar", (("linkedin", "paid_social", 1.0),), 0.08,
                 "LinkedIn ads for the CFA webinar"),
    DemoCampaign("cpa_webinar_meta", "CPA", "CPA Webinar", _META, 0.10,
                 "Meta ads for the CPA webinar"),
    DemoCampaign("acca_finproclub", "ACCA", "ACCA Community",
                 (("instagram", "paid_social", 0.7), ("youtube", "video", 0.3)), 0.07,
                 "Deprecated: FinPro Club community"),
    DemoCampaign("acca_influencer", "ACCA", "ACCA Community",
                 (("instagram", "paid_social", 0.6), ("youtube", "video", 0.4)), 0.10,
                 "Deprecated: influencer collaborations"),
)
"""The campaigns the funnel mapping should know (write the mapping CSV from these)."""

DEMO_CAMPAIGN_NAMES: tuple[str, ...] = tuple(c.name for c in DEMO_CAMPAIGNS)

DEMO_UNKNOWN_CAMPAIGNS: tuple[str, ...] = (
    "diwali_offer_test",
    "acca_webinar_meta_v2",
    "{{campaign.name}}",  # an unreplaced Meta URL macro
)
"""Campaign values that appear in the sheet but are deliberately not in the mapping."""

_PROGRAMS = ("ACCA", "CMA", "CFA", "CPA")
_ANSWERS = {
    "ACCA": ("ACCA", "ACCA", "ACCA", "acca", "ACCA ", "ACCA (UK)", "I want to do ACCA"),
    "CMA": ("CMA", "CMA", "CMA (US)", "US CMA", "cma"),
    "CFA": ("CFA", "CFA", "CFA Level 1", "cfa"),
    "CPA": ("CPA", "CPA", "CPA (US)", "US CPA"),
}
_FREE_TEXT_ANSWERS = (
    "ACCA, CMA",
    "Not sure, \"whichever has better placements\"",
    "Want to know the fees",
    "Not sure yet - need guidance",
    "CMA or CPA, which is better?",
)

# Volume by weekday (Monday first); the mean is 1, so leads_per_day is the average.
_WEEKDAY_FACTOR = (1.10, 1.08, 1.05, 1.00, 0.92, 0.88, 0.97)
# Relative form submissions by hour of the day in the audience's time zone.
_HOUR_WEIGHT = (
    0.4, 0.25, 0.12, 0.08, 0.08, 0.15, 0.5, 1.0, 2.0, 3.0, 4.0, 4.5,
    4.5, 4.5, 4.0, 4.0, 4.0, 4.5, 5.0, 6.0, 6.5, 6.0, 4.5, 2.0,
)
_DUPLICATE_LOOKBACK_DAYS = 3  # a repeat submission comes at most this many days later

_EMAIL_DOMAINS = (
    ("gmail.com", 0.66), ("yahoo.com", 0.07), ("yahoo.co.in", 0.05),
    ("outlook.com", 0.10), ("rediffmail.com", 0.12),
)
_INTERNATIONAL_FORMATS = (
    lambda r: f"+1 {r.randint(201, 989)} 555 {r.randint(100, 199):04d}",  # US
    lambda r: f"+971 5{r.choice('024568')} {r.randint(100, 999)} {r.randint(1000, 9999)}",  # UAE
    lambda r: f"+44 7{r.randint(100, 999)} {r.randint(100000, 999999)}",  # UK
    lambda r: f"+65 {r.choice('89')}{r.randint(100, 999)} {r.randint(1000, 9999)}",  # Singapore
)


@dataclass
class _Row:
    """One sheet row before formatting; ``at`` is the UTC instant used for ordering."""

    at: datetime
    name: str
    email: str
    phone: str
    city: str
    answer: str
    source: str
    medium: str
    campaign: str
    bad_date: str | None = None


@dataclass
class _Person:
    first: str
    last: str
    email: str | None  # canonical (lower-case); None: gave no email
    mobile: str | None  # 10 digits; None: gave no phone
    special_phone: str | None  # placeholder / international, written as-is
    city: str


def _weighted(rng: random.Random, items, weights):
    return rng.choices(items, weights=weights, k=1)[0]


def _ascii_letters(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


def _messy_name(rng: random.Random, first: str, last: str) -> str:
    parts = [first] + ([last] if last else [])
    style = rng.random()
    if style < 0.62:
        parts = [p.title() for p in parts]
    elif style < 0.76:
        parts = [p.lower() for p in parts]
    elif style < 0.86:
        parts = [p.upper() for p in parts]
    else:  # first letter only / random mix, as typed on a phone
        parts = [p.capitalize() if rng.random() < 0.5 else p.lower() for p in parts]
    sep = "  " if rng.random() < 0.08 else " "
    name = sep.join(parts)
    if rng.random() < 0.07:
        name = " " + name
    if rng.random() < 0.10:
        name = name + rng.choice((" ", "  "))
    return name


def _make_email(rng: random.Random, first: str, last: str, taken: set[str]) -> str:
    f, l = _ascii_letters(first) or "user", _ascii_letters(last)
    n2, n3, n4 = rng.randint(1, 99), rng.randint(100, 999), rng.randint(1975, 2007)
    # Every pattern carries a number and enough of the name that two people practically
    # never share an address (uniqueness is only enforced within a day, so that each day
    # stays independent of the others).
    if not l:
        l = f"{n3}"
    patterns = [
        (f"{f}{l}{n4}", 0.15),
        (f"{f}{l}{n2}", 0.25),
        (f"{f}.{l}{n2}", 0.20),
        (f"{f}{l[:1]}{n3}", 0.10),
        (f"{f}_{l}{n2}", 0.10),
        (f"{f[0]}{l}{n3}", 0.20),
    ]
    local = _weighted(rng, [p for p, _ in patterns], [w for _, w in patterns])
    domain = _weighted(rng, [d for d, _ in _EMAIL_DOMAINS], [w for _, w in _EMAIL_DOMAINS])
    email = f"{local}@{domain}"
    while email in taken:
        email = f"{local}{rng.randint(100, 999)}@{domain}"
    taken.add(email)
    return email


def _messy_email(rng: random.Random, email: str) -> str:
    style = rng.random()
    if style < 0.86:
        out = email
    elif style < 0.93:
        out = email[0].upper() + email[1:]
    elif style < 0.97:
        out = email.upper()
    else:
        local, _, domain = email.partition("@")
        out = "".join(c.upper() if rng.random() < 0.3 else c for c in local) + "@" + domain.title()
    if rng.random() < 0.05:
        out = rng.choice((" ", "  ")) + out if rng.random() < 0.5 else out + " "
    return out


def _mobile(rng: random.Random) -> str:
    first = _weighted(rng, "9876", (0.45, 0.25, 0.2, 0.1))
    while True:
        rest = f"{rng.randrange(10**9):09d}"
        number = first + rest
        # keep random numbers away from the patterns a placeholder check flags
        if len(set(number)) > 3 and number not in ("9876543210", "6789012345"):
            return number


_PHONE_FORMATS = (
    ("plain", 0.38),
    ("+91 space", 0.12),
    ("+91", 0.07),
    ("91", 0.10),
    ("0", 0.06),
    ("dash", 0.05),
    ("(+91)", 0.04),
    ("+91-", 0.03),
    ("space", 0.04),
    ("float", 0.04),
    ("sci", 0.006),
)


def _format_mobile(number: str, style: str) -> str:
    a, b = number[:5], number[5:]
    return {
        "plain": number,
        "+91 space": f"+91 {a} {b}",
        "+91": f"+91{number}",
        "91": f"91{number}",
        "0": f"0{number}",
        "dash": f"{a}-{b}",
        "(+91)": f"(+91) {a} {b}",
        "+91-": f"+91-{number}",
        "space": f"{a} {b}",
        "float": f"{number}.0",
        # Excel's scientific notation: significant digits only, trailing zeros dropped
        "sci": (f"{number[0]}." + number[1:].rstrip("0")).rstrip(".") + "E9",
    }[style]


def _pick_phone_style(rng: random.Random, exclude: str | None = None) -> str:
    styles = [s for s, _ in _PHONE_FORMATS if s != exclude]
    weights = [w for s, w in _PHONE_FORMATS if s != exclude]
    return _weighted(rng, styles, weights)


def _random_case(rng: random.Random, value: str, p_lower: float) -> str:
    roll = rng.random()
    if roll < p_lower:
        return value
    if roll < p_lower + (1 - p_lower) * 0.6:
        return value.title() if "_" not in value else value.capitalize()
    if roll < p_lower + (1 - p_lower) * 0.9:
        return value.upper()
    return "".join(c.upper() if rng.random() < 0.5 else c for c in value)


def _pick_campaign(rng: random.Random) -> tuple[str, str, str, str]:
    """Return (utmSource, utmMedium, utmCamp, program) for one submission."""
    roll = rng.random()
    if roll < 0.04:  # no UTM at all (organic form link), or only a source
        if rng.random() < 0.6:
            return "", "", "", rng.choice(_PROGRAMS)
        source, medium, _ = rng.choice(_META)
        return _random_case(rng, source, 0.8), "", "", rng.choice(_PROGRAMS)
    if roll < 0.065:  # campaigns the mapping does not know
        campaign = rng.choice(DEMO_UNKNOWN_CAMPAIGNS)
        source, medium, _ = rng.choice(_META)
        return _random_case(rng, source, 0.8), medium, campaign, "ACCA"
    camp = _weighted(rng, DEMO_CAMPAIGNS, [c.weight for c in DEMO_CAMPAIGNS])
    source, medium, _ = _weighted(rng, camp.channels, [w for *_, w in camp.channels])
    campaign = camp.name
    if rng.random() < 0.03:
        campaign = _random_case(rng, campaign, 0.0)
    elif rng.random() < 0.02:
        campaign = campaign + " "
    medium = medium if rng.random() < 0.95 else medium.upper()
    return _random_case(rng, source, 0.78), medium, campaign, camp.program


def _pick_answer(rng: random.Random, program: str) -> str:
    roll = rng.random()
    if roll < 0.70:
        return rng.choice(_ANSWERS[program])
    if roll < 0.78:
        return rng.choice(_ANSWERS[rng.choice([p for p in _PROGRAMS if p != program])])
    if roll < 0.86:
        return rng.choice(("Not sure yet", "Not sure yet", "not sure"))
    if roll < 0.96:
        return ""
    return rng.choice(_FREE_TEXT_ANSWERS)


def _messy_city(rng: random.Random, city: str) -> str:
    roll = rng.random()
    if roll < 0.03:
        return ""
    if roll < 0.10:
        return city.lower()
    if roll < 0.13:
        return city.upper()
    if roll < 0.17:
        return city + " "
    return city


def _format_created(local: datetime) -> str:
    return f"{local.month}/{local.day}/{local.year} {local.hour}:{local.minute:02d}:{local.second:02d}"


def _day_span_utc(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(dt_timezone.utc)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).astimezone(dt_timezone.utc)
    return start, end


def _day_rows(
    day: date, *, seed: int, leads_per_day: int, tz: ZoneInfo, fake: Faker
) -> list[_Row]:
    """All rows whose *first* submission is on ``day`` (sheet-local), with their repeats.

    Depends only on the arguments, never on the range being generated.
    """
    rng = random.Random(f"funnel-demo-leads|{seed}|{day.isoformat()}")
    fake.seed_instance(f"funnel-demo-leads-faker|{seed}|{day.isoformat()}")
    audience = ZoneInfo(AUDIENCE_TIMEZONE)

    factor = _WEEKDAY_FACTOR[day.weekday()] * rng.uniform(0.88, 1.12)
    if rng.random() < 0.05:  # a webinar announcement day
        factor *= 1.5
    count = max(0, round(leads_per_day * factor))

    span_start, span_end = _day_span_utc(day, tz)
    hours = int((span_end - span_start).total_seconds() // 3600)
    slot_weights = [
        _HOUR_WEIGHT[(span_start + timedelta(hours=h)).astimezone(audience).hour] for h in range(hours)
    ]
    taken_emails: set[str] = set()
    rows: list[_Row] = []
    for _ in range(count):
        slot = _weighted(rng, range(hours), slot_weights)
        at = span_start + timedelta(hours=slot, seconds=rng.randrange(3600))
        first, last = fake.first_name(), fake.last_name()
        if rng.random() < 0.08:
            last = ""
        person = _Person(
            first=first,
            last=last,
            email=_make_email(rng, first, last, taken_emails),
            mobile=_mobile(rng),
            special_phone=None,
            city=fake.city(),
        )
        roll = rng.random()
        if roll < 0.006:
            person.special_phone = "9999999999" if rng.random() < 0.8 else "1234567890"
        elif roll < 0.016:
            person.special_phone = rng.choice(_INTERNATIONAL_FORMATS)(rng)
            person.mobile = None

        quirk = rng.random()
        bad_date = None
        if quirk < 0.005:  # broken: no way to contact them
            person.email, person.mobile, person.special_phone = None, None, None
        elif quirk < 0.010:  # broken: the date cell holds a formula error / impossible date
            bad_date = "#VALUE!" if rng.random() < 0.5 else f"31/31/{at.astimezone(tz).year}"
        elif quirk < 0.025:  # only an email
            person.mobile, person.special_phone = None, None
        elif quirk < 0.045:  # only a phone
            person.email = None

        source, medium, campaign, program = _pick_campaign(rng)
        phone_style = _pick_phone_style(rng)
        rows.append(
            _Row(
                at=at,
                name=_messy_name(rng, first, last),
                email=_messy_email(rng, person.email) if person.email else "",
                phone=_phone_text(person, phone_style),
                city=_messy_city(rng, person.city),
                answer=_pick_answer(rng, program),
                source=source,
                medium=medium,
                campaign=campaign,
                bad_date=bad_date,
            )
        )
        # ~3% of people submit the form again later, typing their details differently.
        if rng.random() < 0.03 and (person.email or person.mobile):
            later = at + timedelta(
                seconds=round(60 * 10 * (6 * 24 * _DUPLICATE_LOOKBACK_DAYS) ** rng.random())
            )
            if rng.random() < 0.5:
                source, medium, campaign, program = _pick_campaign(rng)
            rows.append(
                _Row(
                    at=later,
                    name=_messy_name(rng, first, last),
                    email=_messy_email(rng, person.email) if person.email else "",
                    phone=_phone_text(person, _pick_phone_style(rng, exclude=phone_style)),
                    city=_messy_city(rng, person.city) if rng.random() < 0.9 else "",
                    answer=_pick_answer(rng, program),
                    source=source,
                    medium=medium,
                    campaign=campaign,
                )
            )
    return rows


def _phone_text(person: _Person, style: str) -> str:
    if person.special_phone:
        return person.special_phone
    if person.mobile:
        return _format_mobile(person.mobile, style)
    return ""


def generate_leads_sheet(
    start: date,
    end: date,
    *,
    seed: int = 7,
    leads_per_day: int = 120,
    timezone: str = "Asia/Kolkata",
) -> str:
    """Generate the leads sheet's CSV export for the days ``[start, end)``.

    Args:
        start: first day included (in the sheet's time zone).
        end: first day *not* included.
        seed: the same seed (and other arguments) always gives the same text.
        leads_per_day: average new leads per day (volume varies by weekday, with the odd
            busy day; ~3% repeat submissions come on top).
        timezone: the sheet's time zone: ``created date`` is written as local time there,
            and only rows whose local date is in ``[start, end)`` are included. The
            time-of-day pattern follows the audience in India whatever the sheet's zone.

    Returns:
        The CSV text as Google Sheets exports it: the header `LEADS_SHEET_COLUMNS`,
        comma-separated, quoted only when needed, ``\\r\\n`` between rows, no trailing
        newline, rows in submission order, ``created date`` like ``3/7/2025 9:05:33``
        (see `CREATED_DATE_FORMAT`).

    Raises:
        ValueError: ``end`` before ``start`` or a negative ``leads_per_day``.
        zoneinfo.ZoneInfoNotFoundError: an unknown ``timezone``.
    """
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start})")
    if leads_per_day < 0:
        raise ValueError("leads_per_day must be >= 0")
    tz = ZoneInfo(timezone)
    fake = Faker("en_IN")
    range_start, _ = _day_span_utc(start, tz)
    range_end, _ = _day_span_utc(end, tz)

    rows: list[_Row] = []
    day = start - timedelta(days=_DUPLICATE_LOOKBACK_DAYS + 1)
    while day < end:
        for row in _day_rows(day, seed=seed, leads_per_day=leads_per_day, tz=tz, fake=fake):
            if range_start <= row.at < range_end:
                rows.append(row)
        day += timedelta(days=1)
    rows.sort(key=lambda r: r.at)

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(LEADS_SHEET_COLUMNS)
    for row in rows:
        created = row.bad_date or _format_created(row.at.astimezone(tz))
        writer.writerow(
            (row.name, row.email, row.phone, row.city, row.answer,
             row.source, row.medium, row.campaign, created)
        )
    return out.getvalue().removesuffix("\r\n")
