"""The ed-tech half of the synthetic world (seed 002): one seeded simulation, every system's export.

An India-based ed-tech team sells finance certifications (ACCA, CMA, CFA, CPA). Ad spend brings
leads into a Google Sheet; leads register for Zoom webinars and 2-day bootcamps; some attend;
attendees (and some others) are assigned to sales reps in the in-house CRM; some buy. This module
simulates that world from ``(seed, day)`` and renders what each system exports, in its real
format, plus the ground truth the pipeline's answers can be checked against.

Public API
----------
``load_edtech_config(config_dir) -> EdtechConfig``
    Reads ``data/config/synthetic/edtech_*.csv`` (see :mod:`.edtech_config` for every file and
    column), validated with ``funnel_assets.lib.config.read_config_csv``: errors name file + line.
``simulate_edtech_day(config, *, seed, day, scale=1.0, timezone="Asia/Kolkata") -> EdtechDay``
    Everything that happens on ``day`` (a calendar day in ``timezone``): the leads-sheet rows
    created that day, the Zoom reports of the sessions held that day, the spend rows of that day
    and the day's ground truth.
``leads_sheet_csv(config, *, seed, start, end, ...)``
    The sheet's CSV export covering ``[start, end)`` (Google Sheets style, as demo_leads).
``crm_assigned_leads_csv(config, *, seed, as_of, start, ...)`` / ``crm_sales_csv(...)``
    The CRM's full dumps as of the end of ``as_of``: everything assigned / sold in
    ``[start, as_of]`` (both inclusive). A sale's EMI and refund columns evolve with ``as_of``.
``spend_csv(config, *, seed, start, end, ...)``
    The spend import (seed 002 Phase 3.1 columns incl. ``Funnel``) for ``[start, end)``.
``simulate_edtech_days(config, *, seed, start, end, ...) -> list[EdtechDay]``
    ``simulate_edtech_day`` for each day of ``[start, end)`` (truth of a window = concatenate).
``final_funnel(funnel, assigned_lead_sources, manual_mapping)``
    Seed 002's FINAL FUNNEL formula, for truth and for pipeline tests.
``clear_caches()``
    Drops cached cohorts/sessions (results never depend on the caches; tests use it to prove so).

Column tuples: ``LEADS_SHEET_COLUMNS``, ``CRM_ASSIGNED_COLUMNS``, ``CRM_SALES_COLUMNS`` (44),
``SPEND_COLUMNS`` (43: the seed says "44 total" but lists 43, and its SUMIFS puts Funnel in
column AQ, the 43rd). ``TRUTH_SCHEMAS`` documents every truth frame.

Truth of people who arrived before a window: zoom attendance, assignments and sales of a day
refer to people who may have arrived up to ``MAX_JOURNEY_DAYS`` earlier; their ``people`` rows
are in the truth of their arrival day (simulate from ``start - MAX_JOURNEY_DAYS`` to have them).

The world
---------
* ~300 sheet leads a day at ``scale=1.0`` (plus ~18 CRM-only people: referrals, walk-ins, IVR).
  Each campaign's leads on a day are Poisson(cost / CPL): spend drives volume. ``scale``
  multiplies budgets (so spend too) and the other volumes.
* A person has one identity (name, email, phone key ``"91"`` + 10 digits; ~0.8% have a foreign
  ``"+<digits>"`` number) that every export writes in its own, per-row varying format. Phones are
  a keyed permutation of the person's global index, so no two people share one.
* Sessions come from ``edtech_events.csv``. Bootcamps run Sat (Day 1) + Sun (Day 2), either as two
  webinars with "Day 1"/"Day 2" in the topic or as one recurring webinar ID. Some bootcamp
  occurrences are run as Zoom meetings (``bootcamp_meeting_rate``, or the event's ``meeting_rate``):
  no registration, a meeting participant report instead of the webinar reports, and the truth
  lists only who joined.
* Leads register (before the session; a few after it started), some are denied / left pending,
  ~42% of approved webinar registrants attend, with join/leave segments (rejoins, overlapping
  segments from a second device, late joins, early leaves). Some no-shows register for the next
  session. Hosts and panelists attend every session; some also registered. Old (2020-vintage)
  Attendee Reports list walk-ins under "Other Attended"; meetings have walk-ins too.
* The Zoom folder also gets junk now and then (``junk_*_rate`` settings): a non-Zoom CSV, an empty
  file, a report cut off mid-row, an Attendee Report without Attendee Details. Truth ``zoom_files``
  says what should happen to each file (``expected_outcome``: ``accept`` / ``reject: <reason>``).
* Attendees are assigned to a rep of the program 0.5-26 h after the session; ~18% of other sheet
  leads are assigned directly; CRM-only people are assigned on arrival. ~12% are assigned again
  7-50 days later from another source (first touch = earliest ``assignOn``), 3% twice in a row.
* Assigned people buy with a rate by path; ~40% of sales are EMI plans.

Determinism: every random stream is ``np.random.default_rng(SeedSequence([seed, day index, entity,
purpose, ...]))`` or a ``random.Random`` seeded from the same. A cohort of people (those arriving
on one day) has its whole journey computed from ``(seed, cohort day)``; no journey is longer than
``MAX_JOURNEY_DAYS`` (60), so day D is computed from the cohorts of ``[D-60, D]``, whatever else
was generated before. Same ``(config, seed, day, scale, timezone)`` → byte-identical exports.

Ground truth (``EdtechDay.truth``, polars frames; times are ``Datetime("us", "UTC")``):
``people``, ``leads``, ``zoom_sessions``, ``zoom_attendance``, ``zoom_segments``, ``zoom_files``,
``assignments``, ``sales``, ``spend``, ``spend_by_campaign``: see :data:`TRUTH_SCHEMAS`.

FINAL FUNNEL: the seed's formula ``IF(TRIM(ar)="Other Sources (Miscellaneous)",
IFNA(VLOOKUP(TRIM(as), Sheet13!J:K, 2, FALSE), ar), IF(LEN(as), as, ar))``, read as issue 5 spells
it out: ``ar`` = the dump's ``Funnel``, ``as`` = its ``assignedLeadSources``, and Sheet13!J:K = the
team's manual mapping (source → funnel; here ``edtech_crm_sources.csv``'s ``manual_funnel``, which
``data/config/manual_mapping.csv`` repeats). In this world ``assignedLeadSources`` is what the CRM
tagged the lead with when it was (last) assigned: that source's funnel, or the raw source when the
CRM could not map it (a Miscellaneous lead); about 10% of sales leave it blank.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from funnel_assets.lib.config import OTHER_SOURCES_FUNNEL

from .edtech_config import EdtechConfig, load_edtech_config
from .edtech_exports import (
    CRM_ASSIGNED_COLUMNS,
    CRM_SALES_COLUMNS,
    LEADS_SHEET_COLUMNS,
    SPEND_COLUMNS,
    assignment_row,
    cohort_sheet_rows,
    sale_amounts,
    sale_id,
    sale_row,
    spend_rows,
)
from .edtech_rng import check_seed, day_span
from .edtech_world import (
    KIND_CRM,
    MAX_JOURNEY_DAYS,
    REPEAT_LOOKBACK_DAYS,
    cohort,
    sessions_held_on,
    spend_day,
)
from .edtech_zoom import render_day, session_presence

__all__ = [
    "CRM_ASSIGNED_COLUMNS",
    "CRM_SALES_COLUMNS",
    "DEFAULT_CONFIG_DIR",
    "EdtechConfig",
    "EdtechDay",
    "LEADS_SHEET_COLUMNS",
    "MAX_JOURNEY_DAYS",
    "SPEND_COLUMNS",
    "TRUTH_SCHEMAS",
    "clear_caches",
    "crm_assigned_leads_csv",
    "crm_sales_csv",
    "final_funnel",
    "leads_sheet_csv",
    "load_edtech_config",
    "simulate_edtech_day",
    "simulate_edtech_days",
    "spend_csv",
]

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parents[3] / "data" / "config" / "synthetic"
"""The shipped configuration (``data/config/synthetic``)."""

UTC = pl.Datetime("us", "UTC")

TRUTH_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    # one row per person whose first touch is on the day
    "people": {
        "person_id": pl.String, "kind": pl.String, "name": pl.String, "first_name": pl.String, "last_name": pl.String,
        "email": pl.String, "phone_key": pl.String, "country": pl.String, "city": pl.String, "program": pl.String,
        "first_touch_at": UTC, "first_touch_source": pl.String, "first_touch_funnel": pl.String, "campaign": pl.String,
    },
    # one row per leads-sheet row of the day, in sheet order (sheet_row 2 = first data row of the day's rows)
    "leads": {
        "sheet_row": pl.Int64, "person_id": pl.String, "created_at": UTC, "is_repeat": pl.Boolean,
        "campaign": pl.String, "utm_camp": pl.String, "bad_date": pl.Boolean, "phone": pl.String, "email": pl.String,
    },
    # webinar_id: the Zoom ID the session's files show (a meeting ID when run_as = "meeting");
    # attendee_vintage: null for meetings (no Attendee Report)
    "zoom_sessions": {
        "session_key": pl.String, "event": pl.String, "program": pl.String, "kind": pl.String, "bootcamp_day": pl.Int64,
        "webinar_id": pl.String, "topic": pl.String, "conductor": pl.String, "host": pl.String,
        "scheduled_start": UTC, "actual_start": UTC, "actual_end": UTC, "minute_precision": pl.Boolean,
        "attendee_vintage": pl.String, "run_as": pl.String,
    },
    # one row per person per session: registrants (attended or not), hosts, panelists, walk-ins;
    # for a session run as a meeting only those who joined, none registered
    "zoom_attendance": {
        "session_key": pl.String, "webinar_id": pl.String, "session_date": pl.Date, "bootcamp_day": pl.Int64,
        "person_id": pl.String, "role": pl.String, "phone_key": pl.String, "email": pl.String,
        "registered": pl.Boolean, "registered_at": UTC, "approval_status": pl.String, "source_name": pl.String,
        "attended": pl.Boolean, "segments": pl.Int64, "attended_seconds": pl.Int64, "minutes": pl.Float64,
        "first_join": UTC, "last_leave": UTC,
    },
    "zoom_segments": {
        "session_key": pl.String, "person_id": pl.String, "role": pl.String, "join_at": UTC, "leave_at": UTC,
    },
    # one row per file dropped on the day: reports (report = attendee / registration / meeting_participants /
    # meeting_unique_users, junk null, expected_outcome "accept") and junk (junk = not_zoom / empty / truncated /
    # no_attendee_details, copy null, expected_outcome "reject: <reason>"; a truncated file or one without
    # Attendee Details keeps the session_key, report and style columns of the report it was cut from)
    "zoom_files": {
        "file_name": pl.String, "session_key": pl.String, "report": pl.String, "copy": pl.Int64, "complete": pl.Boolean,
        "vintage": pl.String, "date_format": pl.String, "encoding": pl.String, "layout": pl.String, "quirks": pl.String,
        "junk": pl.String, "expected_outcome": pl.String,
    },
    "assignments": {
        "person_id": pl.String, "phone_key": pl.String, "assigned_at": UTC, "source": pl.String, "funnel": pl.String,
        "employee": pl.String, "is_first": pl.Boolean,
    },
    "sales": {
        "_id": pl.String, "person_id": pl.String, "phone_key": pl.String, "created_at": UTC, "product_id": pl.String,
        "program": pl.String, "total_amount": pl.Int64, "net_amount": pl.Float64, "emi_months": pl.Int64,
        "employee": pl.String, "funnel": pl.String, "assigned_lead_sources": pl.String,
        "final_funnel": pl.String, "first_assignment_source": pl.String,
    },
    "spend": {"day": pl.Date, "funnel": pl.String, "cost": pl.Float64, "impressions": pl.Int64, "clicks": pl.Int64, "leads": pl.Int64},
    "spend_by_campaign": {"day": pl.Date, "campaign": pl.String, "funnel": pl.String, "cost": pl.Float64, "leads": pl.Int64},
}


@dataclass
class EdtechDay:
    """What happened on ``day`` and what each system exports for it."""

    day: date
    leads_sheet_rows: pl.DataFrame
    """String columns exactly as the sheet header (``LEADS_SHEET_COLUMNS``), leads created on ``day``."""
    zoom_files: list[tuple[str, bytes]]
    """(file name, bytes) of the reports of the sessions held on ``day``, as downloaded, then the
    day's junk drops (truth ``zoom_files`` says which file is which)."""
    spend_rows: pl.DataFrame
    """String columns, ``SPEND_COLUMNS`` (seed 002 Phase 3.1), one row per campaign with spend."""
    truth: dict[str, pl.DataFrame] = field(default_factory=dict)
    """Ground truth for ``day``; see ``TRUTH_SCHEMAS``."""


def final_funnel(funnel: str | None, assigned_lead_sources: str | None, manual_mapping: dict[str, str]) -> str:
    """Seed 002's FINAL FUNNEL, as issue 5 reads it: ``IF(TRIM(ar)=Misc, IFNA(VLOOKUP(TRIM(as),
    manual mapping, 2, FALSE), ar), IF(LEN(as), as, ar))`` with ``ar`` = Funnel and ``as`` =
    assignedLeadSources. VLOOKUP is case-insensitive, like Sheets'."""
    ar = funnel or ""
    as_ = assigned_lead_sources or ""
    if ar.strip() == OTHER_SOURCES_FUNNEL:
        table = {k.strip().lower(): v for k, v in manual_mapping.items()}
        return table.get(as_.strip().lower(), ar)
    return as_ if len(as_) else ar


def clear_caches() -> None:
    """Forget every cached cohort, session and rendered row (results never depend on them)."""
    from . import edtech_exports, edtech_world

    for fn in (edtech_world.spend_day, edtech_world.session_on, edtech_world.sessions_on_date, edtech_world.cohort,
               edtech_exports.cohort_sheet_rows):
        fn.cache_clear()
    edtech_world._PLANS.clear()


def _tz(timezone: str) -> ZoneInfo:
    return ZoneInfo(timezone)


def _utc(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(int(epoch), dt_timezone.utc)


def _frame(name: str, rows: list[dict]) -> pl.DataFrame:
    schema = TRUTH_SCHEMAS[name]
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _check_scale(scale: float) -> float:
    if not scale > 0:
        raise ValueError(f"scale must be above 0, got {scale!r}")
    return float(scale)


def _days(start: date, end: date):
    d = start
    while d < end:
        yield d
        d += timedelta(days=1)


# ============================================================================= leads sheet


def _sheet_rows_of_day(config: EdtechConfig, seed: int, day: date, scale: float, tz_name: str):
    lo, hi = day_span(day, _tz(tz_name))
    picked = []
    for back in range(REPEAT_LOOKBACK_DAYS + 1, -1, -1):
        c = day - timedelta(days=back)
        co = cohort(config, seed, c, scale, tz_name)
        for row in cohort_sheet_rows(config, seed, c, scale, tz_name):
            if lo <= row.at < hi:
                picked.append((row.at, co.index, row.person, row.is_repeat, co, row))
    picked.sort(key=lambda x: x[:4])
    return [(co, row) for *_, co, row in picked]


def _leads_frame(rows) -> pl.DataFrame:
    columns = list(zip(*[row.values for _, row in rows])) if rows else [[] for _ in LEADS_SHEET_COLUMNS]
    return pl.DataFrame({name: list(col) for name, col in zip(LEADS_SHEET_COLUMNS, columns)}, schema={c: pl.String for c in LEADS_SHEET_COLUMNS})


def _write_csv(header, rows, *, lineterminator: str = "\r\n", trailing: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=lineterminator, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue()
    return text if trailing else text.removesuffix(lineterminator)


def leads_sheet_csv(config: EdtechConfig, *, seed: int, start: date, end: date, scale: float = 1.0, timezone: str = "Asia/Kolkata") -> str:
    """The leads sheet's CSV export for ``[start, end)``: header ``LEADS_SHEET_COLUMNS``, CRLF,
    minimal quoting, no trailing newline, rows in submission order (as Google Sheets exports)."""
    seed, scale = check_seed(seed), _check_scale(scale)
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start})")
    rows = []
    for d in _days(start, end):
        rows.extend(row.values for _, row in _sheet_rows_of_day(config, seed, d, scale, timezone))
    return _write_csv(LEADS_SHEET_COLUMNS, rows)


# ============================================================================= CRM dumps


def _happening_between(config: EdtechConfig, seed: int, start: date, as_of: date, scale: float, tz_name: str, items, when, order):
    """``(cohort, item)`` for every item of the live cohorts happening in ``[start, as_of]``.

    ``items(cohort)`` lists a cohort's items, ``when(item)`` is its time, ``order(item)`` breaks
    ties; the result is oldest first."""
    lo = day_span(start, _tz(tz_name))[0]
    hi = day_span(as_of, _tz(tz_name))[1]
    picked = []
    c = start - timedelta(days=MAX_JOURNEY_DAYS)
    while c <= as_of:
        co = cohort(config, seed, c, scale, tz_name)
        for i, item in enumerate(items(co)):
            if lo <= when(item) < hi:
                picked.append((when(item), co.index, order(i, item), co, item))
        c += timedelta(days=1)
    picked.sort(key=lambda x: x[:3])
    return [(co, item) for *_, co, item in picked]


def _assignment_rows(config: EdtechConfig, seed: int, start: date, as_of: date, scale: float, tz_name: str):
    """(cohort, assignment) for every assignment in ``[start, as_of]``, oldest first."""
    return _happening_between(config, seed, start, as_of, scale, tz_name,
                              lambda co: co.assignments, lambda a: a.assigned_at, lambda i, a: i)


def crm_assigned_leads_csv(config: EdtechConfig, *, seed: int, as_of: date, start: date, scale: float = 1.0, timezone: str = "Asia/Kolkata") -> str:
    """The CRM's assigned-leads dump as of the end of ``as_of``: ``sources,assignOn,leadMobile,employee``
    for every assignment in ``[start, as_of]``, oldest first; ``assignOn`` is local time
    ``YYYY-MM-DD HH:MM:SS``. LF line ends, trailing newline (as the CRM's API serves it)."""
    seed, scale = check_seed(seed), _check_scale(scale)
    tz = _tz(timezone)
    rows = [assignment_row(config, co, a, tz) for co, a in _assignment_rows(config, seed, start, as_of, scale, timezone)]
    return _write_csv(CRM_ASSIGNED_COLUMNS, rows, lineterminator="\n", trailing=True)


def _sales(config: EdtechConfig, seed: int, start: date, as_of: date, scale: float, tz_name: str):
    """(cohort, sale) for every sale created in ``[start, as_of]``, oldest first."""
    return _happening_between(config, seed, start, as_of, scale, tz_name,
                              lambda co: co.sales, lambda sale: sale.created_at, lambda i, sale: sale.number)


def crm_sales_csv(config: EdtechConfig, *, seed: int, as_of: date, start: date, scale: float = 1.0, timezone: str = "Asia/Kolkata") -> str:
    """The CRM's sales dump as of the end of ``as_of``: the 44 columns of seed 002 Phase 2.1 for every
    sale created in ``[start, as_of]``, oldest first. ``createdOn``/``StudentSignupDate`` are ISO UTC
    with milliseconds (``2025-03-14T04:53:45.123Z``); EMI dates are ``YYYY-MM-DD``."""
    seed, scale = check_seed(seed), _check_scale(scale)
    tz = _tz(timezone)
    rows = [sale_row(config, co, sale, as_of, tz) for co, sale in _sales(config, seed, start, as_of, scale, timezone)]
    return _write_csv(CRM_SALES_COLUMNS, rows, lineterminator="\n", trailing=True)


# ============================================================================= spend


def spend_csv(config: EdtechConfig, *, seed: int, start: date, end: date, scale: float = 1.0, timezone: str = "Asia/Kolkata") -> str:
    """The spend import for ``[start, end)``: ``SPEND_COLUMNS``, one row per campaign per day with
    spend, ``cost`` in INR with 2 decimals, ``Funnel`` as the spend sheet computes it."""
    seed, scale = check_seed(seed), _check_scale(scale)
    rows = []
    for d in _days(start, end):
        rows.extend(spend_rows(config, seed, d, scale))
    return _write_csv(SPEND_COLUMNS, rows)


# ============================================================================= one day


def simulate_edtech_days(config: EdtechConfig, *, seed: int, start: date, end: date, scale: float = 1.0, timezone: str = "Asia/Kolkata") -> list[EdtechDay]:
    """:func:`simulate_edtech_day` for every day of ``[start, end)``."""
    return [simulate_edtech_day(config, seed=seed, day=d, scale=scale, timezone=timezone) for d in _days(start, end)]


def simulate_edtech_day(config: EdtechConfig, *, seed: int, day: date, scale: float = 1.0, timezone: str = "Asia/Kolkata") -> EdtechDay:
    """Simulate ``day`` (a calendar day in ``timezone``): exports and ground truth.

    Pure: depends only on the arguments. Generating other days first (or not) changes nothing.
    """
    seed, scale = check_seed(seed), _check_scale(scale)
    tz = _tz(timezone)
    sheet13 = config.manual_mapping()

    # ---- leads sheet
    sheet = _sheet_rows_of_day(config, seed, day, scale, timezone)
    leads_truth = []
    for i, (co, row) in enumerate(sheet):
        k = row.person
        leads_truth.append({
            "sheet_row": i + 2, "person_id": co.person_id(k), "created_at": _utc(row.at), "is_repeat": row.is_repeat,
            "campaign": config.campaigns[row.campaign].name if row.campaign >= 0 else None,
            "utm_camp": config.campaigns[row.campaign].utm_camp if row.campaign >= 0 else None,
            "bad_date": row.bad_date, "phone": row.values[2], "email": row.values[1],
        })

    # ---- people who first arrive today
    co = cohort(config, seed, day, scale, timezone)
    people = []
    for k in range(co.n):
        c = int(co.campaign[k])
        if co.kind[k] == KIND_CRM:
            kind, source = "crm_only", co.crm_source[k]
        else:
            kind = "sheet_lead"
            source = config.campaigns[c].utm_camp.strip().lower() if c >= 0 else (co.utm_source[k] or None)
        people.append({
            "person_id": co.person_id(k), "kind": kind, "name": co.name(k), "first_name": co.first[k], "last_name": co.last[k],
            "email": co.email[k], "phone_key": co.phone_key(k), "country": co.country[k], "city": co.city[k],
            "program": co.program[k], "first_touch_at": _utc(int(co.arrived_at[k])), "first_touch_source": source,
            "first_touch_funnel": config.funnel_for(source), "campaign": config.campaigns[c].name if c >= 0 else None,
        })

    # ---- Zoom
    sessions = sessions_held_on(config, seed, day, tz)
    presences = [session_presence(config, seed, s, scale, timezone) for s in sessions]
    zfiles = render_day(config, seed, day, sessions, presences, tz)
    sessions_truth, attendance, segments = [], [], []
    for sp in presences:
        s = sp.session
        sessions_truth.append({
            "session_key": s.key, "event": s.event.name, "program": s.event.program, "kind": s.event.kind,
            "bootcamp_day": s.bootcamp_day, "webinar_id": s.webinar_id, "topic": s.topic, "conductor": s.event.conductor,
            "host": s.event.host, "scheduled_start": _utc(s.scheduled_start), "actual_start": _utc(s.actual_start),
            "actual_end": _utc(s.actual_end), "minute_precision": s.minute_precision,
            "attendee_vintage": s.attendee_vintage if s.run_as == "webinar" else None, "run_as": s.run_as,
        })
        seen: set[str] = set()
        for p in [*sp.hosts, *sp.panelists, *sp.registrants, *sp.walk_ins]:
            if p.person_id in seen:  # staff who registered are listed once, with their role
                continue
            seen.add(p.person_id)
            segs = sorted(p.segments)
            phone_key = ("91" + p.phone) if p.phone and not p.phone.startswith("+") else (p.phone or None)
            attendance.append({
                "session_key": s.key, "webinar_id": s.webinar_id, "session_date": s.day, "bootcamp_day": s.bootcamp_day,
                "person_id": p.person_id, "role": p.role, "phone_key": phone_key, "email": p.email or None,
                "registered": p.registered, "registered_at": _utc(p.registered_at), "approval_status": p.approval or None,
                "source_name": p.source_name if p.registered else None, "attended": bool(segs), "segments": len(segs),
                "attended_seconds": p.union_seconds(), "minutes": p.union_seconds() / 60.0,
                "first_join": _utc(segs[0][0]) if segs else None, "last_leave": _utc(max(b for _, b in segs)) if segs else None,
            })
            for a, b in segs:
                segments.append({"session_key": s.key, "person_id": p.person_id, "role": p.role, "join_at": _utc(a), "leave_at": _utc(b)})
    files_truth = [{
        "file_name": f.name, "session_key": f.session_key, "report": f.report, "copy": f.copy, "complete": f.complete,
        "vintage": f.style.vintage if f.style and f.report in ("attendee", "registration") else None,
        "date_format": f.style.date_format if f.style else None, "encoding": f.style.encoding if f.style else None,
        "layout": f.style.layout if f.style else None, "quirks": ",".join(f.quirks), "junk": f.junk,
        "expected_outcome": f.expected_outcome,
    } for f in zfiles]

    # ---- CRM: assignments and sales of the day
    assignments = []
    for aco, a in _assignment_rows(config, seed, day, day, scale, timezone):
        assignments.append({
            "person_id": aco.person_id(a.person), "phone_key": aco.phone_key(a.person), "assigned_at": _utc(a.assigned_at),
            "source": a.source, "funnel": config.funnel_for(a.source), "employee": config.sales_reps[a.employee].employee,
            "is_first": a.is_first,
        })
    sales = []
    for sco, sale in _sales(config, seed, day, day, scale, timezone):
        money = sale_amounts(config, sale)
        first_source = min((a for a in sco.assignments if a.person == sale.person), key=lambda a: a.assigned_at).source
        sales.append({
            "_id": sale_id(sale), "person_id": sco.person_id(sale.person), "phone_key": sco.phone_key(sale.person),
            "created_at": _utc(sale.created_at), "product_id": config.products[sale.product].product_id,
            "program": config.products[sale.product].program, "total_amount": money["total"], "net_amount": money["net"],
            "emi_months": sale.emi_months, "employee": config.sales_reps[sale.employee].employee, "funnel": sale.funnel,
            "assigned_lead_sources": sale.assigned_lead_sources,
            "final_funnel": final_funnel(sale.funnel, sale.assigned_lead_sources, sheet13), "first_assignment_source": first_source,
        })

    # ---- spend
    by_campaign, by_funnel = [], {}
    for cd in spend_day(config, seed, day, scale):
        if cd.cost <= 0:
            continue
        funnel = cd.campaign.spend_funnel
        by_campaign.append({"day": day, "campaign": cd.campaign.name, "funnel": funnel, "cost": cd.cost, "leads": cd.leads})
        agg = by_funnel.setdefault(funnel, {"day": day, "funnel": funnel, "cost": 0.0, "impressions": 0, "clicks": 0, "leads": 0})
        agg["cost"] = round(agg["cost"] + cd.cost, 2)
        agg["impressions"] += cd.impressions
        agg["clicks"] += cd.clicks
        agg["leads"] += cd.leads
    srows = spend_rows(config, seed, day, scale)
    spend_frame = pl.DataFrame(
        {name: [r[i] for r in srows] for i, name in enumerate(SPEND_COLUMNS)}, schema={c: pl.String for c in SPEND_COLUMNS}
    )

    truth = {
        "people": _frame("people", people),
        "leads": _frame("leads", leads_truth),
        "zoom_sessions": _frame("zoom_sessions", sessions_truth),
        "zoom_attendance": _frame("zoom_attendance", attendance),
        "zoom_segments": _frame("zoom_segments", segments),
        "zoom_files": _frame("zoom_files", files_truth),
        "assignments": _frame("assignments", assignments),
        "sales": _frame("sales", sales),
        "spend": _frame("spend", sorted(by_funnel.values(), key=lambda r: r["funnel"])),
        "spend_by_campaign": _frame("spend_by_campaign", by_campaign),
    }
    return EdtechDay(
        day=day,
        leads_sheet_rows=_leads_frame(sheet),
        zoom_files=[(f.name, f.content) for f in zfiles],
        spend_rows=spend_frame,
        truth=truth,
    )
