"""The ed-tech world's editable configuration: ``data/config/synthetic/edtech_*.csv``.

Every file is read with :func:`funnel_assets.lib.config.read_config_csv`, so a problem is reported
with the file, the line (header = line 1), the column and what to do. Cross-file problems (an event
for a program no sales rep sells, a question id that does not exist) are reported the same way,
naming the file and line that refers to the missing thing.

Files (one row each):

``edtech_campaigns.csv``
    ``campaign`` (the ad platform's campaign name; also the ``utmCamp`` unless ``utm_camp`` says
    otherwise), ``utm_camp``, ``program``, ``funnel`` (blank: the funnel mapping does not know this
    campaign, so its leads and spend fall into "Other Sources (Miscellaneous)"), ``platform``,
    ``account``, ``account_name``, ``campaign_type``, ``objective``, ``channels``
    (``source/medium:weight;...`` the ``utmSource``/``utmMedium`` pairs), ``crm_source`` (how the CRM
    spells the source; blank = ``utm_camp``), ``ad_group``, ``daily_budget_inr``, ``cpl_inr``
    (cost per lead: leads a day ~ spend / CPL), ``cpc_inr``, ``ctr``, ``notes``.
``edtech_events.csv``
    ``event``, ``program``, ``kind`` (webinar/bootcamp), ``weekdays`` (``Tue;Thu``; a bootcamp is
    ``Sat;Sun``: Day 1 + Day 2), ``week_interval`` (1 weekly, 2 every other week), ``week_offset``,
    ``start_time`` (``19:00``, local time in Asia/Kolkata), ``duration_minutes``, ``topic``, ``host``,
    ``panelists`` (``;``-separated), ``conductor``, ``webinar_id`` (digits), ``webinar_id_day2``
    (a bootcamp run as two webinars "... Day 1"/"... Day 2"; blank: one recurring webinar ID for both
    days), ``questions`` (``;``-separated ids from edtech_questions.csv), ``meeting_rate`` (share of
    the event's occurrences the team runs as a Zoom *meeting* instead of a webinar: no registration,
    a meeting participant report instead of the webinar reports; blank = the
    ``bootcamp_meeting_rate`` setting for a bootcamp, 0 for a webinar), ``notes``.
``edtech_questions.csv``
    ``question_id``, ``question`` (free text: may hold commas and quotes), ``answers`` (``|``-separated).
``edtech_crm_sources.csv``
    ``source`` (a CRM source the funnel mapping does not know), ``weight`` (share of CRM-only arrivals
    and of re-assignments; 0 = only ever seen through an unknown campaign), ``manual_funnel`` (what the
    team's monthly manual mapping says for it, used for FINAL FUNNEL; blank = stays Miscellaneous),
    ``notes``.
``edtech_sales_reps.csv``
    ``employee``, ``team``, ``programs`` (``;``-separated).
``edtech_products.csv``
    ``product_id``, ``program``, ``course_name``, ``product``, ``p_type``, ``total_amount`` (INR incl.
    18% GST), ``ebook_rev``, ``book_rev``, ``weight``, ``emi_months`` (``3;6;9``; blank = no EMI),
    ``target_super_group``.
``edtech_settings.csv``
    ``setting,value,notes``: rates and volumes (see :class:`EdtechSettings`); a missing setting keeps
    its default, an unknown one is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import polars as pl

from funnel_assets.lib.config import (
    OTHER_SOURCES_FUNNEL,
    ConfigError,
    ConfigProblem,
    ConfigSpec,
    not_blank,
    number,
    one_of,
    read_config_csv,
)

__all__ = [
    "Campaign",
    "CrmSource",
    "EdtechConfig",
    "EdtechSettings",
    "Event",
    "Product",
    "Question",
    "SalesRep",
    "load_edtech_config",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = ("webinar", "bootcamp")


# ----------------------------------------------------------------------------- validators






def _weekdays(value: str) -> str | None:
    days = [d.strip().lower()[:3] for d in value.split(";") if d.strip()]
    if not days:
        return "is empty; write the weekdays like Tue;Thu"
    bad = [d for d in days if d not in WEEKDAYS]
    return f"unknown weekday(s) {', '.join(bad)}; write them like Mon;Tue;Wed" if bad else None


def _clock(value: str) -> str | None:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        return f"{value!r} is not a time; write it like 19:00"
    return None


def _digits_id(optional: bool = False):
    def check(value: str) -> str | None:
        if not value:
            return None if optional else "is empty; fill in the Zoom webinar ID"
        digits = re.sub(r"[\s-]", "", value)
        if not digits.isdigit() or not 9 <= len(digits) <= 11:
            return f"{value!r} is not a Zoom webinar ID (9 to 11 digits)"
        return None

    return check


def _channels(value: str) -> str | None:
    for part in value.split(";"):
        if not re.fullmatch(r"\s*[^/:;]+/[^/:;]*:\s*\d+(\.\d+)?\s*", part):
            return f"{part!r} is not source/medium:weight (e.g. facebook/paid_social:0.6;instagram/paid_social:0.4)"
    return None


def _emi_months(value: str) -> str | None:
    if not value:
        return None
    for part in value.split(";"):
        if not part.strip().isdigit() or not 1 <= int(part) <= 36:
            return f"{part!r} is not a number of months between 1 and 36"
    return None


POSITIVE = number(0.0001)
NON_NEGATIVE = number(0)
PROBABILITY = number(0, 1)

SPECS: dict[str, ConfigSpec] = {
    "edtech_campaigns.csv": ConfigSpec(
        required=("campaign", "program", "platform", "daily_budget_inr", "cpl_inr", "cpc_inr", "ctr", "channels"),
        optional=("utm_camp", "funnel", "account", "account_name", "campaign_type", "objective", "crm_source", "ad_group", "notes"),
        validators={
            "campaign": (not_blank,), "program": (not_blank,), "platform": (not_blank,),
            "daily_budget_inr": (NON_NEGATIVE,), "cpl_inr": (POSITIVE,), "cpc_inr": (POSITIVE,),
            "ctr": (number(0.00001, 1),), "channels": (not_blank, _channels),
        },
        unique=("campaign",),
    ),
    "edtech_events.csv": ConfigSpec(
        required=("event", "program", "kind", "weekdays", "start_time", "duration_minutes", "topic", "host", "webinar_id"),
        optional=("week_interval", "week_offset", "panelists", "conductor", "webinar_id_day2", "questions", "meeting_rate", "notes"),
        validators={
            "event": (not_blank,), "program": (not_blank,), "kind": (one_of(*KINDS, ignore_case=True),),
            "weekdays": (_weekdays,), "start_time": (_clock,), "duration_minutes": (number(10, 720, integer=True),),
            "topic": (not_blank,), "host": (not_blank,), "webinar_id": (_digits_id(),),
            "webinar_id_day2": (_digits_id(optional=True),),
            "week_interval": (number(1, 8, integer=True, optional=True),),
            "week_offset": (number(0, 7, integer=True, optional=True),),
            "meeting_rate": (number(0, 1, optional=True),),
        },
        unique=("event",),
    ),
    "edtech_questions.csv": ConfigSpec(
        required=("question_id", "question", "answers"),
        validators={"question_id": (not_blank,), "question": (not_blank,), "answers": (not_blank,)},
        unique=("question_id",),
    ),
    "edtech_crm_sources.csv": ConfigSpec(
        required=("source", "weight"),
        optional=("manual_funnel", "notes"),
        validators={"source": (not_blank,), "weight": (NON_NEGATIVE,)},
        unique=("source",),
    ),
    "edtech_sales_reps.csv": ConfigSpec(
        required=("employee", "team", "programs"),
        validators={"employee": (not_blank,), "team": (not_blank,), "programs": (not_blank,)},
        unique=("employee",),
    ),
    "edtech_products.csv": ConfigSpec(
        required=("product_id", "program", "course_name", "product", "p_type", "total_amount", "weight"),
        optional=("ebook_rev", "book_rev", "emi_months", "target_super_group"),
        validators={
            "product_id": (not_blank,), "program": (not_blank,), "course_name": (not_blank,), "product": (not_blank,),
            "p_type": (not_blank,), "total_amount": (number(1, integer=True),), "weight": (NON_NEGATIVE,),
            "ebook_rev": (number(0, integer=True, optional=True),), "book_rev": (number(0, integer=True, optional=True),),
            "emi_months": (_emi_months,),
        },
        unique=("product_id",),
    ),
    "edtech_settings.csv": ConfigSpec(
        required=("setting", "value"),
        optional=("notes",),
        validators={"setting": (not_blank,), "value": (not_blank,)},
        unique=("setting",),
    ),
}


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Campaign:
    """One ad campaign: spend rows come from it, and sheet leads in proportion to spend / CPL."""

    name: str
    utm_camp: str
    program: str
    funnel: str | None  # None: not in the funnel mapping
    platform: str
    account: str
    account_name: str
    campaign_type: str
    objective: str
    channels: tuple[tuple[str, str, float], ...]
    crm_source: str
    ad_group: str
    daily_budget: float
    cpl: float
    cpc: float
    ctr: float

    @property
    def spend_funnel(self) -> str:
        return self.funnel or OTHER_SOURCES_FUNNEL


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    """A recurring webinar, or a 2-day bootcamp (Day 1 on the first weekday, Day 2 on the next)."""

    name: str
    program: str
    kind: str
    weekdays: tuple[int, ...]  # Monday = 0
    week_interval: int
    week_offset: int
    start_hour: int
    start_minute: int
    duration_minutes: int
    topic: str
    host: str
    panelists: tuple[str, ...]
    conductor: str
    webinar_id: str  # digits
    webinar_id_day2: str | None  # digits; None: the bootcamp's two days share webinar_id
    questions: tuple[Question, ...]
    meeting_rate: float | None = None  # None: the bootcamp_meeting_rate setting (bootcamps) / 0 (webinars)

    @property
    def is_bootcamp(self) -> bool:
        return self.kind == "bootcamp"


@dataclass(frozen=True)
class CrmSource:
    source: str
    weight: float
    manual_funnel: str | None


@dataclass(frozen=True)
class SalesRep:
    employee: str
    team: str
    programs: tuple[str, ...]


@dataclass(frozen=True)
class Product:
    product_id: str
    program: str
    course_name: str
    product: str
    p_type: str
    total_amount: int
    ebook_rev: int
    book_rev: int
    weight: float
    emi_months: tuple[int, ...]
    target_super_group: str


@dataclass(frozen=True)
class EdtechSettings:
    """Volumes (per day at scale 1.0) and rates of the simulated world."""

    company_domain: str = "finedgeacademy.in"
    organic_leads_per_day: float = 12
    crm_only_per_day: float = 18
    repeat_submission_rate: float = 0.03
    register_rate_webinar: float = 0.5
    register_rate_bootcamp: float = 0.55
    register_rate_other: float = 0.3
    attend_rate_webinar: float = 0.42
    attend_rate_bootcamp_day1: float = 0.55
    attend_rate_bootcamp_day2_after_day1: float = 0.72
    attend_rate_bootcamp_day2_only: float = 0.08
    reregister_rate: float = 0.12
    denied_rate: float = 0.02
    pending_rate: float = 0.02
    direct_assign_rate: float = 0.18
    reassign_rate: float = 0.12
    sale_rate_attended: float = 0.09
    sale_rate_bootcamp: float = 0.14
    sale_rate_assigned: float = 0.03
    sale_rate_crm_only: float = 0.05
    emi_rate: float = 0.4
    duplicate_download_rate: float = 0.2
    walkins_per_session: float = 2
    bootcamp_meeting_rate: float = 0.35  # per bootcamp occurrence (an event's meeting_rate overrides it)
    meeting_unique_users_rate: float = 0.5
    junk_not_zoom_rate: float = 0.1  # junk_*: per day
    junk_empty_rate: float = 0.1
    junk_truncated_rate: float = 0.1
    junk_no_attendee_details_rate: float = 0.1


_RATE_SETTINGS = {f.name for f in fields(EdtechSettings) if f.name.endswith("_rate") or "_rate_" in f.name}


@dataclass(frozen=True)
class EdtechConfig:
    """Everything the ed-tech simulation reads from ``data/config/synthetic/edtech_*.csv``.

    Frozen and hashable (tuples only), so simulations can cache per-cohort work on it.
    """

    campaigns: tuple[Campaign, ...]
    events: tuple[Event, ...]
    crm_sources: tuple[CrmSource, ...]
    sales_reps: tuple[SalesRep, ...]
    products: tuple[Product, ...]
    settings: EdtechSettings = field(default_factory=EdtechSettings)
    source_dir: Path | None = field(default=None, compare=False, hash=False)

    def __hash__(self) -> int:
        # Simulations cache per-cohort work keyed on the config: hash it once, not per lookup.
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.campaigns, self.events, self.crm_sources, self.sales_reps, self.products, self.settings))
            object.__setattr__(self, "_hash", cached)
        return cached

    @property
    def programs(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for c in self.campaigns:
            seen[c.program] = None
        for e in self.events:
            seen[e.program] = None
        return tuple(seen)

    def funnel_mapping(self) -> dict[str, str]:
        """Source (lower-cased) → funnel, as data/config/funnel_mapping.csv has it: the mapped
        campaigns under their utm name, platform name and CRM spelling."""
        cached = self.__dict__.get("_funnel_mapping")
        if cached is not None:
            return cached
        out: dict[str, str] = {}
        for c in self.campaigns:
            if c.funnel:
                for key in (c.name, c.utm_camp, c.crm_source):
                    out[key.strip().lower()] = c.funnel
        object.__setattr__(self, "_funnel_mapping", out)
        return out

    def funnel_for(self, source: str | None) -> str:
        """The funnel of a source (case-insensitive); unknown or blank → Miscellaneous."""
        if not source or not source.strip():
            return OTHER_SOURCES_FUNNEL
        return self.funnel_mapping().get(source.strip().lower(), OTHER_SOURCES_FUNNEL)  # noqa: callers must not mutate

    def manual_mapping(self) -> dict[str, str]:
        """The team's manual mapping (seed 002's ``Sheet13!J:K``): source → funnel."""
        return {s.source: s.manual_funnel for s in self.crm_sources if s.manual_funnel}


# ----------------------------------------------------------------------------- loading


def _split(value: str | None, sep: str = ";") -> tuple[str, ...]:
    return tuple(p.strip() for p in (value or "").split(sep) if p.strip())


def _parse_channels(value: str) -> tuple[tuple[str, str, float], ...]:
    out = []
    for part in value.split(";"):
        pair, _, weight = part.strip().rpartition(":")
        source, _, medium = pair.partition("/")
        out.append((source.strip(), medium.strip(), float(weight)))
    return tuple(out)


def _settings(frame: pl.DataFrame, path: Path) -> EdtechSettings:
    kinds = {f.name: f.type for f in fields(EdtechSettings)}
    values: dict[str, object] = {}
    problems: list[ConfigProblem] = []
    for row in frame.iter_rows(named=True):
        name, value, line = row["setting"], row["value"], row["line"]
        if name not in kinds:
            problems.append(ConfigProblem(line, "setting", f"unknown setting {name!r}; known: {', '.join(kinds)}"))
            continue
        if kinds[name] in ("str", str):
            values[name] = value
            continue
        try:
            number = float(value)
        except ValueError:
            problems.append(ConfigProblem(line, "value", f"{value!r} is not a number"))
            continue
        if number < 0 or (name in _RATE_SETTINGS and number > 1):
            problems.append(ConfigProblem(line, "value", f"{value} is out of range ({'0 to 1' if name in _RATE_SETTINGS else '>= 0'})"))
            continue
        values[name] = number
    if problems:
        raise ConfigError(path, problems)
    return EdtechSettings(**values)


def load_edtech_config(config_dir: Path | str) -> EdtechConfig:
    """Load and validate ``edtech_*.csv`` from ``config_dir`` (normally data/config/synthetic).

    Raises ``ConfigError`` naming the file, line and problem (all problems of a file at once).
    """
    config_dir = Path(config_dir)
    frames = {name: read_config_csv(config_dir / name, spec) for name, spec in SPECS.items()}

    def path(name: str) -> Path:
        return config_dir / name

    questions = {
        r["question_id"]: Question(r["question_id"], r["question"], _split(r["answers"], "|"))
        for r in frames["edtech_questions.csv"].iter_rows(named=True)
    }

    campaigns = tuple(
        Campaign(
            name=r["campaign"],
            utm_camp=r.get("utm_camp") or r["campaign"],
            program=r["program"],
            funnel=r.get("funnel"),
            platform=r["platform"],
            account=r.get("account") or "",
            account_name=r.get("account_name") or "",
            campaign_type=r.get("campaign_type") or "",
            objective=r.get("objective") or "",
            channels=_parse_channels(r["channels"]),
            crm_source=r.get("crm_source") or r.get("utm_camp") or r["campaign"],
            ad_group=r.get("ad_group") or r["campaign"],
            daily_budget=float(r["daily_budget_inr"]),
            cpl=float(r["cpl_inr"]),
            cpc=float(r["cpc_inr"]),
            ctr=float(r["ctr"]),
        )
        for r in frames["edtech_campaigns.csv"].iter_rows(named=True)
    )

    event_problems: list[ConfigProblem] = []
    events = []
    for r in frames["edtech_events.csv"].iter_rows(named=True):
        line = r["line"]
        days = tuple(WEEKDAYS.index(d.lower()[:3]) for d in _split(r["weekdays"]))
        kind = r["kind"].lower()
        if kind == "bootcamp" and (len(days) != 2 or (days[1] - days[0]) % 7 != 1):
            event_problems.append(ConfigProblem(line, "weekdays", "a bootcamp runs on two consecutive days (Day 1;Day 2), e.g. Sat;Sun"))
        qs = []
        for qid in _split(r.get("questions")):
            if qid not in questions:
                event_problems.append(ConfigProblem(line, "questions", f"unknown question id {qid!r}; add it to edtech_questions.csv"))
            else:
                qs.append(questions[qid])
        hour, minute = (int(x) for x in r["start_time"].split(":"))
        panelists = _split(r.get("panelists"))
        events.append(
            Event(
                name=r["event"],
                program=r["program"],
                kind=kind,
                weekdays=days,
                week_interval=int(r.get("week_interval") or 1),
                week_offset=int(r.get("week_offset") or 0),
                start_hour=hour,
                start_minute=minute,
                duration_minutes=int(r["duration_minutes"]),
                topic=r["topic"],
                host=r["host"],
                panelists=panelists,
                conductor=r.get("conductor") or (panelists[0] if panelists else r["host"]),
                webinar_id=re.sub(r"\D", "", r["webinar_id"]),
                webinar_id_day2=re.sub(r"\D", "", r["webinar_id_day2"]) if r.get("webinar_id_day2") else None,
                questions=tuple(qs),
                meeting_rate=float(r["meeting_rate"]) if r.get("meeting_rate") else None,
            )
        )
    if event_problems:
        raise ConfigError(path("edtech_events.csv"), event_problems)

    crm_sources = tuple(
        CrmSource(r["source"], float(r["weight"]), r.get("manual_funnel"))
        for r in frames["edtech_crm_sources.csv"].iter_rows(named=True)
    )
    reps = tuple(
        SalesRep(r["employee"], r["team"], _split(r["programs"]))
        for r in frames["edtech_sales_reps.csv"].iter_rows(named=True)
    )
    products = tuple(
        Product(
            product_id=r["product_id"],
            program=r["program"],
            course_name=r["course_name"],
            product=r["product"],
            p_type=r["p_type"],
            total_amount=int(r["total_amount"]),
            ebook_rev=int(r.get("ebook_rev") or 0),
            book_rev=int(r.get("book_rev") or 0),
            weight=float(r["weight"]),
            emi_months=tuple(int(m) for m in _split(r.get("emi_months"))),
            target_super_group=r.get("target_super_group") or "",
        )
        for r in frames["edtech_products.csv"].iter_rows(named=True)
    )

    # Cross-file checks: every program that brings leads must be sellable.
    rep_programs = {p for rep in reps for p in rep.programs}
    product_programs = {p.program for p in products if p.weight > 0}
    for name, frame, column in (("edtech_campaigns.csv", frames["edtech_campaigns.csv"], "program"),
                                ("edtech_events.csv", frames["edtech_events.csv"], "program")):
        problems = []
        for r in frame.iter_rows(named=True):
            if r[column] not in rep_programs:
                problems.append(ConfigProblem(r["line"], column, f"no sales rep sells {r[column]!r}; add it to a rep's programs in edtech_sales_reps.csv"))
            if r[column] not in product_programs:
                problems.append(ConfigProblem(r["line"], column, f"no product of {r[column]!r} with a weight above 0 in edtech_products.csv"))
        if problems:
            raise ConfigError(path(name), problems)
    if not events:
        raise ConfigError(path("edtech_events.csv"), [ConfigProblem(None, None, "has no events; add at least one webinar")])
    if not any(c.daily_budget > 0 for c in campaigns):
        raise ConfigError(path("edtech_campaigns.csv"), [ConfigProblem(None, None, "no campaign has a daily budget above 0, so no leads would come in")])

    return EdtechConfig(
        campaigns=campaigns,
        events=tuple(events),
        crm_sources=crm_sources,
        sales_reps=reps,
        products=products,
        settings=_settings(frames["edtech_settings.csv"], path("edtech_settings.csv")),
        source_dir=config_dir,
    )
