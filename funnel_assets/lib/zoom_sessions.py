"""Cleaned Zoom sessions: one row per person per session, from any mix of parsed reports.

Input: the :class:`~funnel_assets.lib.zoom_reports.ZoomReport` objects of the files archived for
a day (Attendee Reports, Registration Reports, meeting participant reports, some downloaded twice
or corrected). Output: the ``zoom_sessions`` rows (:data:`ROW_SCHEMA`), one summary row per
session, and the figures the asset checks need.

The rules (seed 002, "Existing Streamlit App Analysis", done better):

* A session is ``(webinar id, start date)``: the occurrences of a recurring webinar are separate
  sessions, and every report of one occurrence (registration, attendance, a second download, a
  corrected export) merges into the same rows.
* People: phone key first, then email, then the row. Within a session a row without a phone
  takes the phone of another row with the same email (a 2020 Attendee Report has no phone
  column; the Registration Report of the same session does). Rows with neither phone nor email
  (walk-ins, meeting guests) are grouped by their displayed name, because Zoom writes one row
  per rejoin under the same name.
* Names properly cased ("iPhone (Vikram Singh)" → "Vikram Singh", "priya (she/her)" → "Priya"),
  emails trimmed and lower-cased, phones normalised (:mod:`funnel_assets.lib.phones`).
* Attendance per person: attended if any segment says so, earliest join, latest leave, minutes
  as the union of the join/leave intervals (rejoins and a second device overlap: summing would
  over-count; a re-downloaded copy repeats the same intervals and adds nothing). A meeting
  report exported with "show unique users" has no intervals: its total minutes are used.
* First touch: the earliest registration time is kept; approval status, source name and
  answers come from the most recently generated report that has them.
* Hosts and panelists are never audience: emails of the Host/Panelist Details sections, a
  meeting's host (``User Email``), the configured staff email domains and approved conductors.
* Denied and pending registrations are kept and flagged (``approval_status``).
* Attendance is unknown (null), not "no", for a session whose only report is a Registration
  Report: the Attendee Report may simply not have been dropped yet.
"""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from datetime import timezone as _tz
from typing import TYPE_CHECKING, Callable, Final, Sequence, TypeVar

import polars as pl

from .dates import UTC_DTYPE
from .phones import INTERNATIONAL, MISSING, VALID, normalize_phones
from .text import email_is_valid_expr, normalize_email_expr, normalize_emails, proper_case_expr

if TYPE_CHECKING:
    from .zoom_metadata import ZoomConfig
    from .zoom_reports import ZoomReport

__all__ = [
    "ROW_SCHEMA",
    "SESSION_SCHEMA",
    "CleanedZoom",
    "ZoomQuality",
    "build_zoom_sessions",
    "clean_display_name_expr",
    "latest_reports",
    "session_key",
]

ATTENDANCE_KINDS: Final = ("attendee", "meeting_participants", "meeting_unique_users")
MEETING_KINDS: Final = ("meeting_participants", "meeting_unique_users")
REGISTERED_SECTIONS: Final = ("attendee_details", "registrant_details")
NOT_REGISTERED: Final = "not registered"

_SESSION_FIELDS: Final[dict[str, pl.DataType]] = {
    "session_date": pl.Date(),
    "session_key": pl.String(),
    "webinar_id": pl.String(),
    "topic": pl.String(),
    "program": pl.String(),
    "kind": pl.String(),
    "bootcamp_day": pl.String(),
    "conductor": pl.String(),
    "run_as": pl.String(),
    "session_start": UTC_DTYPE,
}
"""What every row says about its session (in both tables)."""

ROW_SCHEMA: Final[dict[str, pl.DataType]] = {
    **_SESSION_FIELDS,
    "person_key": pl.String(),
    "identity": pl.String(),
    "name": pl.String(),
    "first_name": pl.String(),
    "last_name": pl.String(),
    "email": pl.String(),
    "phone_key": pl.String(),
    "phone_status": pl.String(),
    "country": pl.String(),
    "city": pl.String(),
    "registered": pl.Boolean(),
    "registered_at": UTC_DTYPE,
    "approval_status": pl.String(),
    "approved": pl.Boolean(),
    "source_name": pl.String(),
    "attended": pl.Boolean(),
    "first_join": UTC_DTYPE,
    "last_leave": UTC_DTYPE,
    "minutes": pl.Float64(),
    "segments": pl.Int64(),
    "is_guest": pl.Boolean(),
    "answers": pl.String(),
    "source_files": pl.String(),
}
"""Columns of ``zoom_sessions``, in order."""

SESSION_SCHEMA: Final[dict[str, pl.DataType]] = {
    **_SESSION_FIELDS,
    "conductor_source": pl.String(),
    "conductor_approved": pl.Boolean(),
    "has_registration": pl.Boolean(),
    "has_attendance": pl.Boolean(),
    "registrants": pl.Int64(),
    "attendees": pl.Int64(),
    "staff_excluded": pl.Int64(),
    "files": pl.String(),
}
"""Columns of ``zoom_session_summary``, in order."""

# "priya (she/her)", "Tejas Mangal (he/him)", "Alex (they/them)": pronouns are not part of a name.
_PRONOUNS: Final = r"(?i)\s*\(\s*(?:she|he|they|ze|xe)\s*/\s*(?:her|hers|him|his|them|theirs|they|zir|xem)\s*\)\s*$"
# "iPhone (Vikram Singh)", "Priya S (Priya Sharma)", "Kalpit (Galaxy A52)": Zoom shows "Name (Original
# Name)"; of the two, a device name is never the person's name.
_NAME_AND_ORIGINAL: Final = r"^\s*(.*?)\s*\(\s*([^()]*[^()\s][^()]*)\s*\)\s*$"
_DEVICE: Final = (
    r"(?i)^(?:iphone|ipad|android|guest|zoom user|user|(?:galaxy|redmi|oneplus|vivo|oppo|realme|samsung|moto|nokia|"
    r"poco|iqoo|huawei|honor|lenovo|dell|hp|macbook)(?:[ -].*)?|(?:desktop|laptop)-[0-9a-z]+)$"
)
T = TypeVar("T")
UTC: Final = _tz.utc
_SESSION_KEY_UNSAFE: Final = re.compile(r"[^0-9a-z]+")
# Which of its session's files a person's values come from is kept as a bit mask while grouping.
_MAX_FILES_PER_SESSION: Final = 62


def _background(work: Callable[[], T]) -> Future[T]:
    """``work()`` on a thread of its own, while the caller goes on (the work is in polars, which
    releases the GIL: the two threads use the two cores)."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zoom-clean")
    try:
        return executor.submit(work)
    finally:
        executor.shutdown(wait=False)


def session_key(webinar_id: str | None, session_date: date, topic: str | None = None) -> str:
    """``"<webinar id>@<YYYY-MM-DD>"``; without an ID (never seen in real exports) the topic."""
    ident = webinar_id or _SESSION_KEY_UNSAFE.sub("-", (topic or "untitled").lower()).strip("-")
    return f"{ident}@{session_date.isoformat()}"


def clean_display_name_expr(expr: pl.Expr) -> pl.Expr:
    """A Zoom display name as a person's name: pronouns dropped; of ``"Shown (Original)"`` the
    original name, unless that is a device (``"Kalpit (Galaxy A52)"`` → ``"Kalpit"``); properly
    cased; null if nothing is left."""
    no_pronouns = expr.str.replace(_PRONOUNS, "")
    shown = no_pronouns.str.extract(_NAME_AND_ORIGINAL, 1)
    original = no_pronouns.str.extract(_NAME_AND_ORIGINAL, 2)
    picked = (
        pl.when(original.is_null()).then(no_pronouns)
        .when(original.str.contains(_DEVICE) & shown.str.len_chars().gt(0)).then(shown)
        .otherwise(original)
    )
    return proper_case_expr(picked)


def latest_reports(reports: Sequence[ZoomReport], dropped_at: Sequence[float]) -> tuple[list[int], dict[int, int]]:
    """Which reports count: of several downloads of the same report (kind) of the same session, only
    the latest, which replaces the others as a whole: a corrected re-export fixes a phone or a name,
    and merging it with the earlier file would count that person twice. Latest: the later "Report
    generated" time, else the later drop (``dropped_at``, e.g. the file's mtime); for files dropped
    at the same moment, the one with more rows (a report only grows: the earlier download misses
    the people who came later), else the browser's numbering of a second download of one name
    ("report (1).csv" came after "report.csv").

    Returns the indexes of the reports to use (in their order) and ``{replaced index: index of the
    report that replaces it}``."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(reports):
        groups.setdefault((session_key(r.webinar_id, r.session_date, r.topic), r.kind), []).append(i)
    replaced: dict[int, int] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        newest = max(members, key=lambda i: (reports[i].generated_at is not None,
                                             reports[i].generated_at or datetime.min.replace(tzinfo=UTC),
                                             dropped_at[i], reports[i].audience.height, _browser_copy(reports[i].source),
                                             reports[i].source))
        replaced.update({i: newest for i in members if i != newest})
    return [i for i in range(len(reports)) if i not in replaced], replaced


_BROWSER_COPY: Final = re.compile(r" \((\d{1,3})\)(?:\.[^.]*)?$")


def _browser_copy(name: str) -> int:
    """``n`` of a browser's ``name (n).csv`` (0 without)."""
    match = _BROWSER_COPY.search(name)
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class ZoomQuality:
    """What the asset checks look at (counts, so ratios can be reported honestly)."""

    sessions: int
    rows: int
    time_cells: int
    time_parsed: int
    phones_present: int
    """Registered people in sessions whose reports have a Phone column and who gave one."""
    phones_usable: int
    staff_in_audience: int
    """Output rows whose email is a host's or panelist's of the session, or a staff address:
    must be 0 (the exclusion is checked on the result, not assumed)."""
    registrants_below_attendees: tuple[str, ...]
    """Sessions with a registration list where more people attended than registered."""

    @property
    def time_parse_ratio(self) -> float:
        return self.time_parsed / self.time_cells if self.time_cells else 1.0

    @property
    def usable_phone_share(self) -> float:
        return self.phones_usable / self.phones_present if self.phones_present else 1.0


@dataclass(frozen=True)
class CleanedZoom:
    rows: pl.DataFrame
    sessions: pl.DataFrame
    quality: ZoomQuality


def _empty_audience() -> pl.DataFrame:
    return pl.DataFrame(schema={"session_key": pl.String, "file": pl.String, "generated_at": UTC_DTYPE, "report_kind": pl.String})


def _report_frame(report: ZoomReport, key: str, session: int, order: int) -> pl.DataFrame:
    generated = report.generated_at or report.start_at
    return report.audience.with_columns(
        session_key=pl.lit(key),
        __session=pl.lit(session, dtype=pl.UInt32),
        file=pl.lit(report.source),
        report_kind=pl.lit(report.kind),
        generated_at=pl.lit(generated).cast(UTC_DTYPE),
        file_order=pl.lit(order, dtype=pl.Int64),
        file_bit=pl.lit(1 << order if order < _MAX_FILES_PER_SESSION else 0, dtype=pl.Int64),
    )


def _all_staff(reports: Sequence[ZoomReport]) -> pl.DataFrame:
    staff = [r.staff.select("email", "display_name") for r in reports if r.staff.height]
    if not staff:
        return pl.DataFrame(schema={"email": pl.String, "display_name": pl.String})
    return pl.concat(staff, how="vertical_relaxed")


def _staff_emails(reports: Sequence[ZoomReport]) -> set[str]:
    """Emails of the Host/Panelist Details sections and meeting hosts of all the reports."""
    emails: set[str] = {r.host_email.strip().lower() for r in reports if r.host_email}
    staff = _all_staff(reports)
    if staff.height:
        emails.update(staff.select(normalize_email_expr(pl.col("email"))).to_series().drop_nulls().to_list())
    return emails


def _staff_names(reports: Sequence[ZoomReport]) -> set[str]:
    staff = _all_staff(reports)
    if not staff.height:
        return set()
    return {n.lower() for n in staff.select(clean_display_name_expr(pl.col("display_name"))).to_series().drop_nulls().to_list()}


def _session_metadata(key: str, reports: list[ZoomReport], config: ZoomConfig) -> dict:
    attendance = [r for r in reports if r.kind in ATTENDANCE_KINDS]
    newest_first = sorted(reports, key=lambda r: (r.kind not in ATTENDANCE_KINDS, -(r.generated_at or r.start_at).timestamp()))
    lead = newest_first[0]
    topic = next((r.topic for r in newest_first if r.topic), None)
    start_at = lead.start_at
    panelists: list[str] = []
    host: str | None = None
    for r in newest_first:
        if r.staff.height:
            staff = r.staff.sort("line")
            panelists = staff.filter(pl.col("role") == "panelist")["display_name"].drop_nulls().to_list()
            hosts = staff.filter(pl.col("role") == "host")["display_name"].drop_nulls().to_list()
            host = hosts[0] if hosts else None
            break
    if host is None:
        host = next((r.host_email for r in newest_first if r.host_email), None)
    meta = config.session_metadata(
        topic=topic, webinar_id=lead.webinar_id, session_date=lead.session_date, panelists=panelists, host=host
    )
    return {
        "session_key": key,
        "session_date": lead.session_date,
        "webinar_id": lead.webinar_id,
        "topic": topic,
        "program": meta.program,
        "kind": meta.kind,
        "bootcamp_day": meta.bootcamp_day,
        "conductor": meta.conductor,
        "conductor_source": meta.conductor_source,
        "conductor_approved": meta.conductor_approved,
        "run_as": "meeting" if any(r.kind in MEETING_KINDS for r in reports) else "webinar",
        "session_start": start_at,
        "has_registration": any(r.kind in ("attendee", "registration") for r in reports),
        "has_attendance": bool(attendance),
        "files": "; ".join(sorted({r.source for r in reports})),
    }


def _staff_domain(email: pl.Expr, config: ZoomConfig) -> pl.Expr:
    """An address at one of the configured staff email domains (or a subdomain of one)."""
    domains = [d.lower().lstrip("@") for d in config.settings.staff_email_domains]
    return pl.any_horizontal(pl.lit(False), *(email.str.ends_with("@" + d) | email.str.ends_with("." + d) for d in domains))


def _staff_flags(frame: pl.DataFrame, staff_emails: set[str], staff_names: set[str], config: ZoomConfig) -> pl.Series:
    """True for rows that are a host or panelist (by the reports' Host/Panelist sections, a
    meeting's host, the configured staff email domains, or the approved-conductor list)."""
    email = pl.col("email")
    # The approved-conductor list matters for meeting reports, which have no Host/Panelist sections.
    # Few distinct (email, name) pairs there: checked in Python.
    meeting = frame.filter(pl.col("report_kind").is_in(MEETING_KINDS)).select("email", "name").unique()
    configured = [e for e, n in meeting.iter_rows() if e is not None and config.is_staff(e, n)]
    configured_names = [n.lower() for e, n in meeting.iter_rows() if e is None and n is not None and config.is_staff(None, n)]
    by_email = _staff_domain(email, config).fill_null(False) | email.is_in(list(staff_emails) + configured).fill_null(False)
    flags = frame.select(by_email.alias("is_staff")).to_series()
    # By name only where there is no email (few rows): names checked for those rows only.
    emailless = frame.get_column("email").is_null().arg_true()
    if emailless.len():
        names = list(staff_names) + configured_names
        by_name = frame.select(pl.col("name").gather(emailless).str.to_lowercase().is_in(names).fill_null(False)).to_series()
        flags = flags.scatter(emailless, flags.gather(emailless) | by_name)
    return flags


def _union_seconds(segments: pl.DataFrame) -> pl.DataFrame:
    """Per person (``pid``): seconds covered by the union of their [join, leave] intervals, and
    how many distinct intervals there were.

    Sorted by person and join time, each person's times are shifted by ``pid`` times the whole
    batch's time span, so one running maximum over the whole column never carries over from one
    person to the next: an interval starts a new block when it begins after everything before it.
    """
    seg = segments.select("pid", j=pl.col("join_at").dt.epoch("s"), l=pl.col("leave_at").dt.epoch("s"))
    if seg.height == 0:
        return pl.DataFrame(schema={"pid": pl.Int64, "union_seconds": pl.Int64, "segments": pl.UInt32})
    origin, span = seg["j"].min(), seg["l"].max() - seg["j"].min() + 1
    offset = pl.col("pid").cast(pl.Int64) * pl.lit(span, dtype=pl.Int64) - pl.lit(origin, dtype=pl.Int64)
    seg = seg.sort("pid", "j", "l")
    # repeated intervals (a re-downloaded copy) count once: sorted, a repeat follows its original
    repeat = (pl.col("pid") == pl.col("pid").shift(1)) & (pl.col("j") == pl.col("j").shift(1)) & (pl.col("l") == pl.col("l").shift(1))
    seg = (
        seg.filter(~repeat.fill_null(False))
        .with_columns(j=pl.col("j") + offset, l=pl.col("l") + offset)
        .with_columns(reach=pl.col("l").cum_max())
        .with_columns(starts=(pl.col("j") > pl.col("reach").shift(1)).fill_null(True))
    )
    # a block's end is the running maximum at its last interval; its start the first interval's join
    covered = (
        pl.when(pl.col("starts").shift(-1).fill_null(True))
        .then(pl.col("reach") - pl.when(pl.col("starts")).then(pl.col("j")).forward_fill())
    )
    return seg.with_columns(covered=covered).group_by("pid").agg(union_seconds=pl.col("covered").sum(), segments=pl.len())


def _file_names(people: pl.DataFrame, sessions: list[list[ZoomReport]]) -> pl.DataFrame:
    """``source_files`` ("a.csv; b.csv") for each (session, bit mask of its files) that occurs: a
    person's files cost one bitwise OR while grouping. A session with more files than the mask
    holds lists all its files."""
    rows = []
    for session, mask in people.select("__session", "files").unique().iter_rows():
        reports = sessions[session]
        chosen = reports if len(reports) > _MAX_FILES_PER_SESSION else [r for i, r in enumerate(reports) if mask >> i & 1]
        rows.append((session, mask, "; ".join(sorted({r.source for r in chosen}))))
    return pl.DataFrame(rows, schema={"__session": pl.UInt32, "files": pl.Int64, "source_files": pl.String}, orient="row")


def _join_columns(frame: pl.DataFrame, other: pl.DataFrame, *, on: str | list[str]) -> pl.DataFrame:
    """``frame`` left-joined with ``other``, joining only the key columns (a frame join copies every
    column of ``frame``; this adds ``other``'s columns to it instead)."""
    keys = [on] if isinstance(on, str) else on
    matched = frame.select(keys).join(other, on=keys, how="left", maintain_order="left")
    return frame.with_columns(matched.drop(keys).get_columns())


def _map_distinct(frame: pl.DataFrame, column: str, clean, *, out: str | None = None, where: pl.Expr | None = None) -> pl.DataFrame:
    """``clean`` (an expression builder) applied once per distinct value of ``column`` (of the
    rows ``where`` selects, if given; other values map to null)."""
    out = out or column
    distinct = (frame if where is None else frame.filter(where)).select(pl.col(column).unique())
    mapping = distinct.with_columns(clean(pl.col(column)).alias(f"__{out}"))
    # join the one column, not the frame (a frame join copies every column)
    mapped = frame.select(column).join(mapping, on=column, how="left", nulls_equal=True, maintain_order="left")
    return frame.with_columns(mapped.get_column(f"__{out}").alias(out))


def build_zoom_sessions(reports: Sequence[ZoomReport], config: ZoomConfig) -> CleanedZoom:
    """Merge and clean the parsed reports of any number of sessions (see the module docstring)."""
    by_session: dict[str, list[ZoomReport]] = {}
    for report in reports:
        by_session.setdefault(session_key(report.webinar_id, report.session_date, report.topic), []).append(report)
    counted = ("registrants", "attendees", "staff_excluded")
    sessions = pl.DataFrame(
        [_session_metadata(k, rs, config) for k, rs in by_session.items()],
        schema={c: t for c, t in SESSION_SCHEMA.items() if c not in counted},
    )

    frames = [_report_frame(r, k, s, i) for s, (k, rs) in enumerate(by_session.items()) for i, r in enumerate(rs)]
    raw = pl.concat(frames, how="diagonal_relaxed") if frames else _empty_audience()
    time_cells = sum(r.stats.time_cells for r in reports)
    time_parsed = sum(r.stats.time_parsed for r in reports)
    if raw.height == 0:
        empty = sessions.with_columns(pl.lit(0, dtype=pl.Int64).alias(c) for c in counted).select(list(SESSION_SCHEMA))
        return CleanedZoom(pl.DataFrame(schema=ROW_SCHEMA), empty, ZoomQuality(len(by_session), 0, time_cells, time_parsed, 0, 0, 0, ()))

    # Phones and names on another thread while this one cleans the emails and collects the staff.
    def phones_and_names() -> tuple[pl.DataFrame, pl.Series, pl.Series]:
        # Names are cleaned once per distinct value (first names, last names and cities repeat a lot).
        names = raw.select("first_name", "last_name")
        names = _map_distinct(_map_distinct(names, "first_name", proper_case_expr), "last_name", proper_case_expr)
        return normalize_phones(raw["phone"]), names.get_column("first_name"), names.get_column("last_name")

    job = _background(phones_and_names)
    email = normalize_emails(raw["email"])
    email = pl.select(pl.when(email_is_valid_expr(pl.lit(email))).then(pl.lit(email))).to_series()
    staff_emails, staff_names = _staff_emails(reports), _staff_names(reports)
    phones, first_name, last_name = job.result()
    waiting = pl.col("in_waiting_room").fill_null(False)
    df = raw.with_columns(
        phone_key=phones["phone_key"],
        phone_status=phones["phone_status"],
        email=email,
        first_name=first_name,
        last_name=last_name,
        registered_row=pl.col("section").is_in(REGISTERED_SECTIONS),
        attended_row=~waiting & (pl.col("attended").fill_null(False) | pl.col("join_at").is_not_null()),
    )

    def order_and_rank(frame: pl.DataFrame = df) -> tuple[pl.Series, pl.Series]:
        """The rows in the order values are picked in (see below), and each row's rank in it."""
        order = frame.select(
            pl.arg_sort_by(["generated_at", "registered_row", "file_order", "line"], descending=[True, True, False, False], nulls_last=True)
        ).to_series()
        return order, pl.zeros(frame.height, dtype=order.dtype, eager=True).scatter(order, pl.int_range(frame.height, dtype=order.dtype, eager=True))

    ordering = _background(order_and_rank)
    # The displayed name only matters where the file gives no first/last name (meetings, walk-ins).
    nameless = pl.col("first_name").is_null() & pl.col("last_name").is_null()
    if df.select(nameless.any()).item():
        df = _map_distinct(df, "display_name", clean_display_name_expr, out="shown", where=nameless)
    else:
        df = df.with_columns(shown=pl.lit(None, dtype=pl.String))
    df = df.with_columns(
        name=pl.coalesce(
            pl.concat_str([pl.col("first_name"), pl.col("last_name")], separator=" ", ignore_nulls=True).replace("", None),
            pl.col("shown"),
        )
    )

    df = df.with_columns(is_staff=_staff_flags(df, staff_emails, staff_names, config))

    # Identity: phone, else the phone another row gives the same email, else email, else name, else the row.
    no_phone = df.filter(pl.col("phone_key").is_null() & pl.col("email").is_not_null()).select("session_key", "email").unique()
    email_phone = (
        df.select("session_key", "email", "phone_key", "registered_at", "join_at")
        .filter(pl.col("phone_key").is_not_null())
        .join(no_phone, on=["session_key", "email"], how="semi")
        .sort(pl.coalesce("registered_at", "join_at"), nulls_last=True)
        .group_by("session_key", "email", maintain_order=True)
        .agg(__email_phone=pl.col("phone_key").first())
    ) if no_phone.height else None
    if email_phone is not None and email_phone.height:
        adopted = df.select("session_key", "email").join(email_phone, on=["session_key", "email"], how="left", maintain_order="left")
        df = df.with_columns(adopted.get_column("__email_phone"))
    else:
        df = df.with_columns(__email_phone=pl.lit(None, dtype=pl.String))
    phone = pl.coalesce("phone_key", "__email_phone")
    df = df.with_columns(person_key=pl.coalesce(phone, pl.col("email")))
    keyless = df.get_column("person_key").is_null().arg_true()
    if keyless.len():
        # Rare: neither phone nor email. Name, else the row (computed for those rows only).
        row_id = pl.format("row:{}:{}", pl.col("file"), pl.col("line"))
        fallback = df[keyless].select(pl.coalesce(pl.lit("name:") + pl.col("name").str.to_lowercase(), row_id)).to_series()
        df = df.with_columns(df.get_column("person_key").scatter(keyless, fallback))

    # Newest report first, registration rows before others, then file order: within each person's
    # group, "first non-null" then picks each value from the best source. The (wide) frame is not
    # sorted: each row gets its rank in that order, each person the smallest rank of the rows
    # that have a value, and the values are gathered from those rows once per person.
    order, rank = ordering.result()
    # A person is identified by the rank of their first row: hashing the (session, person key)
    # strings once, the grouping itself is on an integer.
    df = df.with_columns(rank.alias("__rank")).with_columns(__person=pl.col("__rank").min().over("__session", "person_key"))
    rank_where = lambda cond: pl.when(cond).then(pl.col("__rank")).min()  # noqa: E731
    picked = ("name", "first_name", "last_name", "email", "phone_key", "__email_phone", "country", "city", "approval_status", "source_name", "is_guest", "answers")
    usable = pl.col("phone_status").is_in([VALID, INTERNATIONAL])
    attended_row = pl.col("attended_row")
    # A column without nulls (or all null) takes its value from the person's first row.
    nulls = df.select(pl.col(picked).null_count()).row(0, named=True)
    sparse = [c for c in picked if 0 < nulls[c] < df.height]
    at = {c: f"__at_{c}" if c in sparse else "__person" for c in picked}
    grouped = df.lazy().group_by("__person").agg(
        **{f"__at_{c}": rank_where(pl.col(c).is_not_null()) for c in sparse},
        __at_usable=rank_where(usable),
        __at_given=rank_where(pl.col("phone_status") != MISSING),
        phone_given=(pl.col("phone_status") != MISSING).any(),
        phone_column=pl.col("phone").is_not_null().any(),
        registered=pl.col("registered_row").any(),
        registered_at=pl.col("registered_at").min(),
        attended_any=attended_row.any(),
        first_join=pl.when(attended_row).then(pl.col("join_at")).min(),
        last_leave=pl.when(attended_row).then(pl.col("leave_at")).max(),
        reported_minutes=pl.when(attended_row).then(pl.col("minutes")).max(),
        files=pl.col("file_bit").bitwise_or(),
        is_staff=pl.col("is_staff").any(),
    ).collect()

    def intervals() -> pl.DataFrame:
        """Union of the intervals of the non-staff people, each row mapped to its person (``pid``,
        the row of ``grouped``) by its person's first rank."""
        pid_of_rank = pl.zeros(df.height, dtype=pl.UInt32, eager=True).scatter(
            grouped.get_column("__person"), pl.int_range(grouped.height, dtype=pl.UInt32, eager=True)
        )
        timed = df.select(pid_of_rank.gather(df.get_column("__person")).alias("pid"), "join_at", "leave_at", "is_staff", "attended_row").filter(
            ~pl.col("is_staff") & pl.col("attended_row") & pl.col("join_at").is_not_null() & pl.col("leave_at").is_not_null() & (pl.col("leave_at") >= pl.col("join_at"))
        )
        return _union_seconds(timed.filter(~grouped.get_column("is_staff").gather(timed.get_column("pid"))))

    union_job = _background(intervals)
    rows_at: dict[str, pl.Series] = {}
    values: dict[tuple[str, str], pl.Series] = {}

    def value(column: str, at: str) -> pl.Series:
        """``column`` of the row each person's ``at`` rank points to (null where none does)."""
        if (column, at) not in values:
            if at not in rows_at:
                rows_at[at] = order.gather(grouped.get_column(at))
            values[column, at] = df.get_column(column).gather(rows_at[at])
        return values[column, at]

    lead = pl.DataFrame([value(c, "__person").alias(c) for c in ("phone_key", "__email_phone", "email", "name")])
    identity = lead.select(
        pl.when(pl.coalesce("phone_key", "__email_phone").is_not_null()).then(pl.lit("phone"))
        .when(pl.col("email").is_not_null()).then(pl.lit("email"))
        .when(pl.col("name").is_not_null()).then(pl.lit("name"))
        .otherwise(pl.lit("row"))
        .alias("identity")
    ).get_column("identity")
    person_session = value("__session", "__person")
    people = pl.DataFrame([
        sessions.get_column("session_key").gather(person_session),
        person_session,
        value("person_key", "__person"),
    ]).with_columns(
        identity,
        *(value(c, at[c]) for c in ("name", "first_name", "last_name", "email")),
        pl.coalesce(value("phone_key", at["phone_key"]), value("__email_phone", at["__email_phone"])).alias("phone_key"),
        pl.coalesce(
            value("phone_status", "__at_usable"),
            value("phone_status", "__at_given"),
            pl.lit(MISSING),
        ).alias("phone_status"),
        grouped.get_column("phone_given"),
        grouped.get_column("phone_column"),
        value("country", at["country"]),
        value("city", at["city"]),
        grouped.get_column("registered"),
        grouped.get_column("registered_at"),
        value("approval_status", at["approval_status"]),
        value("source_name", at["source_name"]),
        *(grouped.get_column(c) for c in ("attended_any", "first_join", "last_leave", "reported_minutes")),
        value("is_guest", at["is_guest"]),
        value("answers", at["answers"]),
        grouped.get_column("files"),
        grouped.get_column("is_staff"),
    ).with_row_index("pid")

    unions = union_job.result()
    union_seconds = pl.repeat(None, people.height, dtype=pl.Int64, eager=True).alias("union_seconds")
    segments = pl.repeat(None, people.height, dtype=pl.Int64, eager=True).alias("segments")
    if unions.height:
        union_seconds = union_seconds.scatter(unions.get_column("pid"), unions.get_column("union_seconds").cast(pl.Int64))
        segments = segments.scatter(unions.get_column("pid"), unions.get_column("segments").cast(pl.Int64))
    people = people.with_columns(union_seconds, segments)

    # A person any of whose rows is a host's or panelist's is staff, not audience.
    staff_excluded = people.filter("is_staff").group_by("session_key").agg(staff_excluded=pl.len())
    people = people.filter(~pl.col("is_staff"))
    people = _join_columns(people, _file_names(people, list(by_session.values())), on=["__session", "files"])
    people = _map_distinct(people, "city", proper_case_expr)
    people = people.with_columns(
        pl.col("source_name", "country").str.strip_chars().replace("", None),
    )
    session_columns = sessions.drop("session_key")
    people = people.with_columns(session_columns.select(pl.all().gather(people.get_column("__session"))).get_columns())

    attended = pl.when(pl.col("has_attendance")).then(pl.col("attended_any"))
    minutes = (
        pl.when(~pl.col("has_attendance")).then(None)
        .when(pl.col("union_seconds").is_not_null()).then(pl.col("union_seconds") / 60.0)
        .when(pl.col("attended_any")).then(pl.col("reported_minutes"))
        .otherwise(0.0)
    )
    rows = people.with_columns(
        attended=attended,
        minutes=minutes,
        segments=pl.when(pl.col("has_attendance")).then(pl.col("segments").fill_null(0)),
        approval_status=pl.when(pl.col("registered")).then(pl.col("approval_status").fill_null("approved")).otherwise(pl.lit(NOT_REGISTERED)),
    ).with_columns(
        approved=pl.when(pl.col("registered")).then(pl.col("approval_status") == "approved"),
    ).select([pl.col(c).cast(t) for c, t in ROW_SCHEMA.items()])

    counts = rows.group_by("session_key").agg(
        registrants=pl.col("registered").sum().cast(pl.Int64),
        attendees=pl.col("attended").fill_null(False).sum().cast(pl.Int64),
    )
    sessions = (
        sessions.join(counts, on="session_key", how="left", maintain_order="left")
        .join(staff_excluded, on="session_key", how="left", maintain_order="left")
        .with_columns(pl.col("registrants", "attendees", "staff_excluded").fill_null(0).cast(pl.Int64))
        .select(list(SESSION_SCHEMA))
        .sort("session_start", "session_key")
    )
    registered_with_phone = people.filter(pl.col("registered") & pl.col("phone_column") & pl.col("phone_given"))
    phones_usable = registered_with_phone.filter(pl.col("phone_status").is_in([VALID, INTERNATIONAL])).height
    leaked = _staff_leaks(rows, staff_emails, config)
    below = sessions.filter(pl.col("has_registration") & pl.col("has_attendance") & (pl.col("registrants") < pl.col("attendees")))
    quality = ZoomQuality(
        sessions=sessions.height,
        rows=rows.height,
        time_cells=time_cells,
        time_parsed=time_parsed,
        phones_present=registered_with_phone.height,
        phones_usable=phones_usable,
        staff_in_audience=leaked,
        registrants_below_attendees=tuple(below["session_key"].to_list()),
    )
    return CleanedZoom(rows, sessions, quality)


def _staff_leaks(rows: pl.DataFrame, staff_emails: set[str], config: ZoomConfig) -> int:
    """Rows of the result that are a host's/panelist's email or a staff address (checked on the
    result, independently of how the exclusion was done)."""
    email = pl.col("email")
    leaked = email.is_in(list(staff_emails)) | _staff_domain(email, config)
    return rows.filter(leaked.fill_null(False)).height
