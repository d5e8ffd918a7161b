"""Zoom reports as the team downloads them by hand, rendered byte for byte, and the junk that lands
in the same folder.

For each session held on a day: an Attendee Report and a Registration Report (stacked CSV
sections, see /work/shared/docs/zoom-formats.md), or, for a bootcamp the team ran as a Zoom
meeting, a meeting participant report; each sometimes downloaded twice (the earlier copy misses a
row or two), under unreliable file names. The layout quirks are drawn per file
(``FileStyle``) from ``(seed, session, report, copy)``; what people did is drawn per session, so
the truth does not depend on how the files look.

Quirks (each file's are listed in the truth's ``zoom_files.quirks``): report vintages 2020 (no
Phone / Is Guest / "(Original Name)", "--" no-show times, "Other Attended" walk-ins), 2025 (plus
Enable Registration) and newer ("# Registrants", "Report generated time", sometimes a column
omitted or a blank Max Concurrent Views); rows padded with trailing commas vs blank lines between
sections; UTF-8 with or without BOM; Excel re-saves (cp1252 or UTF-8 BOM, CRLF, padded, phones as
floats ``9876543210.0`` and rarely ``9.87654321E9``, dates ``15/08/2022 01:27`` or ``8/30/2026
20:00``); dates ``Mar 28, 2020 08:07:27``, ``Mar 28, 2020 8:07 AM``, ``08/09/2026 10:45:00 AM``,
``08/30/2026 20:00:00``; sections quoted entirely or not at all; custom questions whose headers
hold commas and quotes; webinar IDs with dashes or spaces; one row per join/leave segment,
unsorted, later rows without Registration Time / Approval Status, overlapping segments; denied and
pending registrants; hosts/panelists also registered (``upgraded to panelist``); registration
minutes after the first join (clock skew); a stray NUL in a name; the Registration Report under
"Attendee Details" or "Registrant Details", the team's fixed column order or a form-dependent
one with optional fields, "Scheduled Time" or "Scheduled Start Time"; the same report downloaded
twice (the first copy misses a row or two, the second gets a browser " (1)" name); file names
like ``participants_<id>.csv``, ``Attendee Report (1).csv``, ``webinar.csv``.

Meetings (``Session.run_as == "meeting"``: a share of bootcamp occurrences, both days, from the
``bootcamp_meeting_rate`` setting or the event's ``meeting_rate``): there is no registration, so
the truth lists only who joined (none registered) and the session's Zoom ID is a meeting ID. The
participant report is exported "with meeting data" (summary block ``Meeting ID,Topic,Start Time,
End Time,User Email,Duration (Minutes),Participants``, one row, a blank line, then ``Name (Original
Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest`` one row per join/leave segment)
and/or with "show unique users" (``Total Duration (Minutes)`` = the union of the person's segments,
rounded up, instead of the join/leave columns); sometimes with ``Recording Consent`` and ``In
Waiting Room`` (waiting-room rows, marked ``Yes``, are not time in the meeting). Names carry device
prefixes and pronouns (``iPhone (Vikram Singh)``, ``priya (she/her)``), guests mostly have no
email, walk-ins join with the link, there is no phone column. Zoom's BOM, ``08/09/2026 10:45:00
AM`` dates, Excel re-saves (padded, cp1252, day-first dates) and quoted sections vary per file.

Junk (zoom-formats.md quirk 16), each on a day with its setting's rate, in addition to the day's
good files: a non-Zoom CSV (a Google Sheet export, a bank statement, a payments export), an empty
(0-byte) file, one of the day's reports cut off mid-row, and an Attendee Report without its
Attendee Details section. Truth ``zoom_files`` gives each file's ``junk`` kind and
``expected_outcome`` (``accept`` or ``reject: <reason>``, see ``JUNK_OUTCOMES``).

Time precision: a session flagged ``minute_precision`` has all its times (registration, join,
leave) on whole minutes, and only then may its files use formats without seconds
(``Mar 28, 2020 8:07 AM``, Excel's ``15/08/2022 01:27``); otherwise files show seconds. Either
way the truth is exactly recoverable from every file of the session.
"""

from __future__ import annotations

import csv
import io
import math
import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from faker.providers.person.en_IN import Provider as _PersonProvider

from funnel_assets.lib.demo_leads import _format_mobile, _messy_email, _messy_name

from .edtech_config import EdtechConfig
from .edtech_rng import (
    E_FILE,
    E_SESSION,
    P_JUNK,
    P_MEETING,
    P_NAMES,
    P_RENDER,
    P_SEGMENTS,
    P_STYLE,
    P_WALKINS,
    day_index,
    local_datetime,
    py_rng,
    stable_hash,
)
from .edtech_world import (
    APPROVAL_TEXT,
    FIRST_NAMES,
    LAST_NAMES,
    REGISTRATION_HORIZON_DAYS,
    Cohort,
    _answers,
    Registration,
    Session,
    cohort,
    staff_member,
)

__all__ = [
    "JUNK_OUTCOMES",
    "MEETING_REPORTS",
    "SessionPresence",
    "ZoomFile",
    "junk_files",
    "meeting_participants",
    "meeting_reports",
    "render_day",
    "render_session",
    "session_presence",
]

ZOOM_PHONE_STYLES = (
    ("plain", 0.40), ("+91 space", 0.14), ("+91", 0.12), ("91", 0.10), ("0", 0.06),
    ("dash", 0.05), ("(+91)", 0.04), ("+91-", 0.04), ("space", 0.05),
)
DEVICE_NAMES = ("iPhone", "Galaxy A52", "Redmi Note 10", "OnePlus Nord", "DESKTOP-7HQ2K1", "vivo 1906", "Guest")
DEVICE_PREFIXES = ("iPhone", "iPad", "Galaxy A52", "Redmi Note 10", "OnePlus Nord", "vivo 1906")
FEMALE_FIRST_NAMES = frozenset(_PersonProvider.first_names_female) - frozenset(_PersonProvider.first_names_male)

# Reports: webinar sessions get an Attendee Report and a Registration Report; a session run as a
# meeting gets a meeting participant report, exported with meeting data (one row per join/leave)
# and/or with "show unique users" (one row per person, Total Duration).
WEBINAR_REPORTS = ("attendee", "registration")
MEETING_REPORTS = ("meeting_participants", "meeting_unique_users")
REPORT_KEY = {"attendee": 1, "registration": 2, "meeting_participants": 3, "meeting_unique_users": 4}
MEETING_BOTH_VARIANTS = 0.3
"""Share of meeting sessions whose report is downloaded both ways (with join/leave rows and unique users)."""

# Junk drops (zoom-formats.md quirk 16): kind -> what the truth says should happen to the file.
JUNK_OUTCOMES = {
    "not_zoom": "reject: not a Zoom report",
    "empty": "reject: empty file",
    "truncated": "reject: truncated file (cut off mid-row)",
    "no_attendee_details": "reject: no Attendee Details section",
}

# date formats: name -> (strftime-like renderer, has seconds)
SECOND_FORMATS = ("mon24", "us12s", "us24s")
MINUTE_FORMATS = ("mon12", "dmy", "mdy_excel")


def format_time(epoch: int, fmt: str, tz: ZoneInfo) -> str:
    d = local_datetime(epoch, tz)
    if fmt == "mon24":
        return d.strftime("%b %d, %Y %H:%M:%S")
    if fmt == "mon12":
        return f"{d:%b} {d.day:02d}, {d.year} {d.hour % 12 or 12}:{d.minute:02d} {'AM' if d.hour < 12 else 'PM'}"
    if fmt == "us12s":
        return d.strftime("%m/%d/%Y %I:%M:%S ") + ("AM" if d.hour < 12 else "PM")
    if fmt == "us24s":
        return d.strftime("%m/%d/%Y %H:%M:%S")
    if fmt == "dmy":
        return d.strftime("%d/%m/%Y %H:%M")
    if fmt == "mdy_excel":
        return f"{d.month}/{d.day}/{d.year} {d.hour:02d}:{d.minute:02d}"
    raise ValueError(fmt)


# ============================================================================= who was there


@dataclass
class Presence:
    """One person's presence in one session (a registrant, a host/panelist or a walk-in)."""

    person_id: str
    role: str  # attendee, host, panelist, walk_in
    first: str
    last: str
    email: str
    phone: str  # 10 digits, "+<cc>..." or ""
    country: str
    city: str
    registered: bool
    registered_at: int | None
    approval: str
    source_name: str
    answers: tuple[str, ...]
    segments: list[tuple[int, int]] = field(default_factory=list)
    display: str = ""  # User Name (Original Name)
    is_guest: bool = True
    late: bool = False
    meeting_email: str = ""  # the User Email a meeting participant report shows ("" for most guests)

    @property
    def attended(self) -> bool:
        return bool(self.segments)

    def union_seconds(self) -> int:
        total, cur_start, cur_end = 0, None, None
        for a, b in sorted(self.segments):
            if cur_end is None or a > cur_end:
                if cur_end is not None:
                    total += cur_end - cur_start
                cur_start, cur_end = a, b
            else:
                cur_end = max(cur_end, b)
        if cur_end is not None:
            total += cur_end - cur_start
        return total


@dataclass
class SessionPresence:
    session: Session
    # registered people (attendees and no-shows), incl. staff who registered; for a session run as a
    # meeting (no registration): the audience who joined, none of them registered
    registrants: list[Presence]
    hosts: list[Presence]
    panelists: list[Presence]
    walk_ins: list[Presence]


def session_registrations(config: EdtechConfig, seed: int, session: Session, scale: float, tz_name: str) -> list[tuple[Cohort, Registration]]:
    out = []
    d = session.day - timedelta(days=REGISTRATION_HORIZON_DAYS + 2)
    while d <= session.day + timedelta(days=1):
        co = cohort(config, seed, d, scale, tz_name)
        for reg in co.registrations:
            if reg.session.key == session.key:
                out.append((co, reg))
        d += timedelta(days=1)
    return out


def _display_name(r: random.Random, first: str, last: str) -> str:
    full = f"{first} {last}".strip()
    u = r.random()
    if u < 0.68:
        return full
    if u < 0.78:
        return first
    if u < 0.86:
        return full.lower()
    if u < 0.92:
        return f"{first} {last[:1]}".strip() + f" ({full})"  # renamed in the session: "Priya S (Priya Sharma)"
    if u < 0.96:
        return f"{r.choice(DEVICE_NAMES)} ({full})"
    return f"{full} | Student"


def _floor(t: int, minute: bool) -> int:
    return t - t % 60 if minute else t


def _attendee_segments(r: random.Random, s: Session, late_reg_at: int | None) -> list[tuple[int, int]]:
    start, end = s.actual_start, s.actual_end
    dur = end - start
    if late_reg_at is not None:
        # clock skew: Zoom's registration time is often a minute or two after the first join
        join = max(start, late_reg_at - int(r.random() * 180)) if r.random() < 0.6 else late_reg_at + int(r.random() * 120)
    else:
        u = r.random()
        if u < 0.15:
            join = start - int(r.random() * 600)
        elif u < 0.70:
            join = start + int(r.random() * 600)
        elif u < 0.92:
            join = start + 600 + int(r.random() * 1800)
        else:
            join = start + 2400 + int(r.random() * max(1, int(dur * 0.6) - 2400))
    join = min(join, end - 300)
    if r.random() < 0.6:
        leave = end - int(r.random() * 240) + (int(r.random() * 120) if r.random() < 0.3 else 0)
    else:
        leave = join + 300 + int(r.random() * max(1, end - join - 300))
    leave = max(leave, join + 120)
    segs = [(join, leave)]
    v = r.random()
    length = leave - join
    if v < 0.16 and length > 900:  # dropped and rejoined
        t = join + 300 + int(r.random() * (length - 600))
        gap = 30 + int(r.random() * 450)
        segs = [(join, t), (min(t + gap, leave - 60), leave)]
    elif v < 0.24 and length > 600:  # a second device: overlapping segment
        a = join + int(r.random() * length * 0.5)
        b = a + 60 + int(r.random() * max(1, leave - a))
        segs.append((a, min(b, end + 300)))
    elif v < 0.28 and length > 2400:  # three segments (lunch break on a bootcamp, flaky network...)
        t1 = join + 600 + int(r.random() * (length // 3))
        t2 = t1 + 120 + int(r.random() * 900)
        t3 = t2 + 300 + int(r.random() * max(1, leave - t2 - 600))
        segs = [(join, t1), (t2, min(t3, leave - 120)), (min(t3, leave - 120) + 60, leave)]
    out = []
    for a, b in segs:
        a, b = _floor(a, s.minute_precision), _floor(b, s.minute_precision)
        if b <= a:
            b = a + 60
        out.append((a, b))
    return out


def session_presence(config: EdtechConfig, seed: int, session: Session, scale: float, tz_name: str) -> SessionPresence:
    """Everyone in ``session``: registrants (with their segments), hosts, panelists, walk-ins."""
    s = session
    r = py_rng(seed, day_index(s.day), E_SESSION, stable_hash(s.event.name), P_SEGMENTS)
    minute = s.minute_precision
    registrants: list[Presence] = []
    for co, reg in session_registrations(config, seed, s, scale, tz_name):
        k = reg.person
        p = Presence(
            person_id=co.person_id(k), role="attendee", first=co.first[k], last=co.last[k], email=co.email[k],
            phone=co.phone[k] or co.intl_phone[k], country=co.country[k], city=co.city[k], registered=True,
            registered_at=reg.registered_at, approval=APPROVAL_TEXT[reg.approval], source_name=reg.source_name,
            answers=_answers(r.random, s.event, co.program[k]), late=reg.late,
        )
        p.display = _display_name(r, p.first, p.last)
        p.is_guest = r.random() < 0.85
        if reg.attended:
            p.segments = _attendee_segments(r, s, reg.registered_at if reg.late else None)
        registrants.append(p)

    def staff_presence(name: str, role: str) -> Presence:
        st = staff_member(config, seed, name)
        first, _, last = name.partition(" ")
        return Presence(st.person_id, role, first, last, st.email, st.phone, "India", "", False, None, "", "", (), display=name, is_guest=False)

    host = staff_presence(s.event.host, "host")
    join = _floor(s.actual_start - 300 - int(r.random() * 900), minute)
    leave = max(_floor(s.actual_end + int(r.random() * 300), minute), join + 600)
    if r.random() < 0.15:
        t = join + 600 + int(r.random() * max(1, leave - join - 1200))
        host.segments = [(join, _floor(t, minute)), (_floor(t + 60 + int(r.random() * 120), minute) + 60, leave)]
    else:
        host.segments = [(join, leave)]
    panelists = []
    for name in s.event.panelists:
        if r.random() < 0.05:
            continue  # did not make it
        p = staff_presence(name, "panelist")
        a = _floor(s.actual_start - int(r.random() * 600), minute)
        b = _floor(s.actual_end - int(r.random() * 120) if r.random() < 0.9 else s.actual_start + int(r.random() * (s.actual_end - s.actual_start)), minute)
        p.segments = [(a, max(b, a + 120))]
        panelists.append(p)
    # staff who also registered (a test registration, or a panelist registered as an attendee first)
    staff_regs = []
    if panelists and r.random() < 0.2:
        p = panelists[int(r.random() * len(panelists))]
        staff_regs.append((p, "upgraded to panelist" if r.random() < 0.5 else "approved"))
    if r.random() < 0.06:
        staff_regs.append((host, "approved"))
    for sp, status in staff_regs:
        reg_at = _floor(s.scheduled_start - 86400 * (1 + int(r.random() * 5)) - int(r.random() * 36000), minute)
        sp.registered, sp.registered_at, sp.approval = True, reg_at, status
        registrants.append(sp)

    walk_ins = []
    meeting = s.run_as == "meeting"
    if s.attendee_vintage == "2020" or meeting:  # old webinar reports list walk-ins; anyone with a meeting link can join
        wr = py_rng(seed, day_index(s.day), E_SESSION, stable_hash(s.event.name), P_WALKINS)
        lam = config.settings.walkins_per_session
        count = _poisson(wr, lam)
        for i in range(count):
            first = FIRST_NAMES[int(wr.random() * len(FIRST_NAMES))]
            display = wr.choice((first, first.lower(), f"{wr.choice(DEVICE_NAMES)}", f"{first} ({wr.choice(DEVICE_NAMES)})"))
            p = Presence(f"walkin:{s.key}:{i}", "walk_in", "", "", "", "", "India", "", False, None, "", "", (), display=display)
            p.segments = _attendee_segments(wr, s, None)
            walk_ins.append(p)
    if meeting:
        registrants = _as_meeting(seed, s, registrants, [host, *panelists], walk_ins)
    return SessionPresence(s, registrants, [host], panelists, walk_ins)


def _as_meeting(seed: int, s: Session, registrants: list[Presence], staff: list[Presence], walk_ins: list[Presence]) -> list[Presence]:
    """A session run as a meeting: nobody registered in Zoom (people got the link after signing up),
    so only those who joined are known; names and emails as a meeting participant report shows them."""
    r = py_rng(seed, day_index(s.day), E_SESSION, stable_hash(s.event.name), P_NAMES)
    for st in staff:
        st.registered, st.registered_at, st.approval, st.meeting_email = False, None, "", st.email
    audience = [p for p in registrants if p.role == "attendee" and p.segments]
    for p in audience:
        p.registered, p.registered_at, p.approval, p.source_name, p.answers, p.late = False, None, "", "", (), False
        p.display = _meeting_display(r, p.first, p.last)
        # signed-in users show their account email; guests mostly none
        p.meeting_email = _messy_email(r, p.email) if (not p.is_guest or r.random() < 0.25) else ""
    for p in walk_ins:
        p.meeting_email = ""
    return audience


def _meeting_display(r: random.Random, first: str, last: str) -> str:
    """A meeting's ``Name (Original Name)``: device prefixes and pronouns, as people set them."""
    full = f"{first} {last}".strip()
    pronouns = "(they/them)" if r.random() < 0.04 else ("(she/her)" if first in FEMALE_FIRST_NAMES else "(he/him)")
    u = r.random()
    if u < 0.50:
        return full
    if u < 0.58:
        return first
    if u < 0.65:
        return full.lower()
    if u < 0.74:
        return f"{first.lower()} {pronouns}"  # "priya (she/her)"
    if u < 0.80:
        return f"{full} {pronouns}"
    if u < 0.91:
        return f"{r.choice(DEVICE_PREFIXES)} ({full})"  # "iPhone (Vikram Singh)"
    return f"{first} {last[:1]}".strip() + f" ({full})"  # renamed in the meeting: "Priya S (Priya Sharma)"


def _poisson(r: random.Random, lam: float) -> int:
    threshold, k, prod = math.exp(-lam), 0, r.random()
    while prod > threshold:
        k += 1
        prod *= r.random()
    return k


# ============================================================================= file styles


@dataclass(frozen=True)
class FileStyle:
    vintage: str  # 2020 / 2025 / newer
    date_format: str
    excel: bool  # re-saved in Excel: padded, CRLF, phones as numbers
    encoding: str  # utf-8, utf-8-sig, cp1252
    layout: str  # padded, blank_lines, plain
    newline: str
    webinar_id_style: str  # plain, dashes, spaces
    questions: bool
    generated_label: str  # "Report Generated:" or "Report generated time"
    quote_sections: tuple[bool, ...]  # per section: quote every field
    nul_in_name: bool
    registration_title: str  # Attendee Details / Registrant Details (registration report)
    registration_columns: str  # team / form (registration report)
    scheduled_label: str  # Scheduled Time / Scheduled Start Time
    count_label: str  # # Registered / # Registrants
    omit_cancelled: bool  # newer summaries sometimes omit columns
    blank_max_concurrent: bool
    recording_consent: bool = False  # meeting report: a "Recording Consent" column
    waiting_room: bool = False  # meeting report: an "In Waiting Room" column (and waiting-room rows)


def _style(r: random.Random, session: Session, report: str) -> FileStyle:
    minute = session.minute_precision
    vintage = session.attendee_vintage if report == "attendee" else r.choice(("2020", "2025", "newer", "newer"))
    excel = minute and r.random() < 0.45
    if excel:
        fmt = "dmy" if r.random() < 0.7 else "mdy_excel"
        encoding = "cp1252" if r.random() < 0.6 else "utf-8-sig"
        layout, newline = "padded", "\r\n"
    else:
        if vintage == "newer":
            fmt = r.choice(("us12s", "us24s"))
        elif minute and r.random() < 0.5:
            fmt = "mon12"
        else:
            fmt = "mon24"
        encoding = "utf-8" if r.random() < 0.55 else "utf-8-sig"
        pad_p = {"2020": 0.85, "2025": 0.7, "newer": 0.15}[vintage]
        u = r.random()
        layout = "padded" if u < pad_p else ("blank_lines" if (vintage == "newer" or r.random() < 0.5) else "plain")
        newline = "\r\n" if r.random() < 0.5 else "\n"
    return FileStyle(
        vintage=vintage,
        date_format=fmt,
        excel=excel,
        encoding=encoding,
        layout=layout,
        newline=newline,
        webinar_id_style=r.choice(("plain", "plain", "dashes", "spaces")),
        questions=r.random() < 0.85,
        generated_label="Report generated time" if vintage == "newer" else "Report Generated:",
        quote_sections=tuple((not excel) and r.random() < 0.3 for _ in range(8)),
        nul_in_name=(not excel) and r.random() < 0.15,
        registration_title="Registrant Details" if r.random() < 0.3 else "Attendee Details",
        registration_columns="team" if r.random() < 0.5 else "form",
        scheduled_label="Scheduled Start Time" if r.random() < 0.35 else "Scheduled Time",
        count_label="# Registrants" if vintage == "newer" else "# Registered",
        omit_cancelled=vintage == "newer" and r.random() < 0.3,
        blank_max_concurrent=vintage == "newer" and r.random() < 0.35,
    )


def _meeting_style(r: random.Random, session: Session) -> FileStyle:
    """How a meeting participant report looks: Zoom writes a BOM, ``08/09/2026 10:45:00 AM`` dates and
    a blank line between the summary and the participants; an Excel re-save pads and reformats."""
    excel = session.minute_precision and r.random() < 0.35
    if excel:
        fmt = "dmy" if r.random() < 0.7 else "mdy_excel"
        encoding = "cp1252" if r.random() < 0.6 else "utf-8-sig"
        layout, newline = "padded", "\r\n"
    else:
        u = r.random()
        fmt = "us12s" if u < 0.65 else ("us24s" if u < 0.85 else "mon24")
        encoding = "utf-8-sig" if r.random() < 0.6 else "utf-8"
        layout = "blank_lines"
        newline = "\r\n" if r.random() < 0.6 else "\n"
    return FileStyle(
        vintage="meeting", date_format=fmt, excel=excel, encoding=encoding, layout=layout, newline=newline,
        webinar_id_style=r.choice(("plain", "spaces", "spaces", "dashes")), questions=False, generated_label="",
        quote_sections=tuple((not excel) and r.random() < 0.3 for _ in range(2)), nul_in_name=False,
        registration_title="", registration_columns="", scheduled_label="", count_label="", omit_cancelled=False,
        blank_max_concurrent=False, recording_consent=r.random() < 0.5, waiting_room=r.random() < 0.35,
    )


def _webinar_id(digits: str, style: str) -> str:
    if style == "plain":
        return digits
    sep = "-" if style == "dashes" else " "
    n = len(digits)
    parts = [digits[:3], digits[3:6], digits[6:]] if n <= 10 else [digits[:3], digits[3:7], digits[7:]]
    return sep.join(parts)


def _excel_number(r: random.Random, text: str) -> tuple[str, str | None]:
    """What Excel writes back for a phone cell: numbers become floats, rarely scientific."""
    raw = text.strip()
    body = raw[1:] if raw.startswith("+") else raw
    if not body.isdigit():
        return text, None
    value = str(int(body))  # the leading 0 / + are gone
    u = r.random()
    if u < 0.04:
        return f"{value[0]}." + value[1:9].rstrip("0") + f"E{len(value) - 1}", "sci_phone"
    if u < 0.9:
        return f"{value}.0", "float_phone"
    return value, None


# ============================================================================= rendering


@dataclass
class ZoomFile:
    name: str
    content: bytes
    session_key: str | None  # None: a junk file that belongs to no session (not Zoom, empty)
    report: str | None  # attendee / registration / meeting_participants / meeting_unique_users (junk: what it was cut from)
    copy: int | None  # 1, or 2 for the second download; None for junk
    complete: bool  # False: this download misses a row or two (or is junk)
    style: FileStyle | None
    quirks: tuple[str, ...]
    junk: str | None = None  # not_zoom / empty / truncated / no_attendee_details
    expected_outcome: str = "accept"  # or "reject: <reason>" (JUNK_OUTCOMES)


class _Doc:
    """Builds one stacked-section CSV text."""

    def __init__(self, style: FileStyle):
        self.style = style
        self.rows: list[tuple[list[str], bool, bool]] = []  # cells, quote_all, blank_before
        self.section = 0

    def title(self, text: str) -> None:
        self.rows.append(([text], False, self.style.layout == "blank_lines" and bool(self.rows)))

    def table(self, header: list[str], rows: list[list[str]], *, blank_before: bool = True) -> None:
        quote = self.style.quote_sections[self.section % len(self.style.quote_sections)]
        self.section += 1
        self.rows.append((header, quote, blank_before and self.style.layout == "blank_lines" and bool(self.rows)))
        for row in rows:
            self.rows.append((row, quote, False))

    def text(self) -> str:
        width = max(len(cells) for cells, _, _ in self.rows)
        out = io.StringIO()
        minimal = csv.writer(out, lineterminator=self.style.newline, quoting=csv.QUOTE_MINIMAL)
        quoted = csv.writer(out, lineterminator=self.style.newline, quoting=csv.QUOTE_ALL)
        for cells, quote_all, blank in self.rows:
            if blank:
                out.write(self.style.newline)
            if self.style.layout == "padded":
                cells = cells + [""] * (width - len(cells))
            if quote_all and len(cells) > 1:
                quoted.writerow(cells)
            else:
                minimal.writerow(cells)
        return out.getvalue()


def _minutes(a: int, b: int) -> str:
    return str(max(1, math.ceil((b - a) / 60)))


def meeting_reports(config: EdtechConfig, seed: int, session: Session) -> tuple[str, ...]:
    """Which meeting participant report(s) the team downloads for a session run as a meeting."""
    r = py_rng(seed, day_index(session.day), E_FILE, stable_hash(session.event.name), P_MEETING)
    if r.random() < MEETING_BOTH_VARIANTS:
        return MEETING_REPORTS
    return ("meeting_unique_users",) if r.random() < config.settings.meeting_unique_users_rate else ("meeting_participants",)


def render_session(config: EdtechConfig, seed: int, sp: SessionPresence, tz: ZoneInfo) -> list[ZoomFile]:
    """A webinar's Attendee Report and Registration Report, or a meeting's participant report(s),
    each maybe downloaded twice."""
    s = sp.session
    files: list[ZoomFile] = []
    reports = meeting_reports(config, seed, s) if s.run_as == "meeting" else WEBINAR_REPORTS
    for report in reports:
        key = (seed, day_index(s.day), E_FILE, stable_hash(s.event.name), REPORT_KEY[report])
        r = py_rng(*key, P_STYLE)
        style = _meeting_style(r, s) if report in MEETING_REPORTS else _style(r, s, report)
        twice = r.random() < config.settings.duplicate_download_rate
        if twice:  # the earlier download misses a row or two; the later one is complete
            copies = [(1, s.download_at - 60 * (3 + int(r.random() * 40)), False), (2, s.download_at, True)]
        else:
            copies = [(1, s.download_at, True)]
        for copy, generated_at, complete in copies:
            row_rng = py_rng(*key, P_RENDER)  # the same cell formatting in both copies
            drop_rng = None if complete else py_rng(*key, P_RENDER, 1)
            if report in MEETING_REPORTS:
                text, quirks = _meeting_report(sp, style, tz, report == "meeting_unique_users", row_rng, drop_rng)
            else:
                render = _attendee_report if report == "attendee" else _registration_report
                text, quirks = render(sp, style, tz, generated_at, row_rng, drop_rng)
            if twice:
                quirks.append("duplicate_download")
            content = text.encode(style.encoding, errors="replace")
            files.append(ZoomFile("", content, s.key, report, copy, complete, style, tuple(sorted(set(quirks)))))
    return files


def _summary_attendee(sp: SessionPresence, style: FileStyle, tz: ZoneInfo, wid: str) -> tuple[list[str], list[str]]:
    s = sp.session
    audience = [p for p in sp.registrants if p.attended and p.role == "attendee"] + sp.walk_ins
    everyone = audience + sp.hosts + sp.panelists
    events = sorted([(a, 1) for p in everyone for a, _ in p.segments] + [(b, -1) for p in everyone for _, b in p.segments], key=lambda x: (x[0], x[1]))
    cur = peak = 0
    for _, d in events:
        cur += d
        peak = max(peak, cur)
    duration = str(max(1, round((s.actual_end - s.actual_start) / 60)))
    registered = str(sum(1 for p in sp.registrants if p.role == "attendee"))
    values = {
        "Topic": s.topic,
        "Webinar ID": wid,
        "Actual Start Time": format_time(s.actual_start, style.date_format, tz),
        "Actual Duration (minutes)": duration,
        "# Registered": registered,
        "# Cancelled": str(s.cancelled),
        "# Registrants": registered,
        "# Cancelled registrants": str(s.cancelled),
        "Unique Viewers": str(len(audience)),
        "Total Users": str(len(everyone)),
        "Max Concurrent Views": "" if style.blank_max_concurrent else str(peak),
        "Enable Registration": "Yes",
    }
    if style.vintage == "2020":
        header = ["Topic", "Webinar ID", "Actual Start Time", "Actual Duration (minutes)", "# Registered", "# Cancelled", "Unique Viewers", "Total Users", "Max Concurrent Views"]
    elif style.vintage == "2025":
        header = ["Topic", "Webinar ID", "Actual Start Time", "Actual Duration (minutes)", "# Registered", "# Cancelled", "Unique Viewers", "Total Users", "Max Concurrent Views", "Enable Registration"]
    else:
        header = ["Topic", "Webinar ID", "Actual Start Time", "Actual Duration (minutes)", "# Registrants", "# Cancelled registrants", "Unique Viewers", "Total Users", "Max Concurrent Views", "Enable Registration"]
        if style.omit_cancelled:
            header.remove("# Cancelled registrants")
    return header, [values[h] for h in header]


def _phone_text(r: random.Random, p: Presence, style: FileStyle, quirks: list[str]) -> str:
    if not p.phone:
        return ""
    if p.phone.startswith("+"):
        cc = next((c for c in ("+971", "+44", "+65", "+1") if p.phone.startswith(c)), p.phone[:3])
        # written with a space, Excel keeps it as text (a bare +6581388248 would lose its "+")
        text = p.phone if (r.random() < 0.6 and not style.excel) else f"{cc} {p.phone[len(cc):]}"
    else:
        styles = [x for x, _ in ZOOM_PHONE_STYLES]
        text = _format_mobile(p.phone, r.choices(styles, weights=[w for _, w in ZOOM_PHONE_STYLES])[0])
    if style.excel:
        text, quirk = _excel_number(r, text)
        if quirk:
            quirks.append(quirk)
    return text


def _attendee_report(sp: SessionPresence, style: FileStyle, tz: ZoneInfo, generated_at: int, r: random.Random, drop: random.Random | None) -> tuple[str, list[str]]:
    s = sp.session
    quirks = [f"vintage_{style.vintage}", f"date_{style.date_format}", f"layout_{style.layout}", f"encoding_{style.encoding}"]
    if style.excel:
        quirks.append("excel_resave")
    if style.webinar_id_style != "plain":
        quirks.append(f"webinar_id_{style.webinar_id_style}")
    fmt = style.date_format

    def t(x: int) -> str:
        return format_time(x, fmt, tz)

    doc = _Doc(style)
    wid = _webinar_id(s.webinar_id, style.webinar_id_style)
    doc.title("Attendee Report")
    doc.rows.append(([style.generated_label, t(generated_at)], False, False))
    header, values = _summary_attendee(sp, style, tz, wid)
    doc.table(header, [values], blank_before=False)

    old = style.vintage == "2020"
    staff_header = (["Attended", "User Name", "Email", "Join Time", "Leave Time", "Time in Session (minutes)", "Country/Region Name"] if old
                    else ["Attended", "User Name (Original Name)", "Email", "Join Time", "Leave Time", "Time in Session (minutes)", "Is Guest", "Country/Region Name"])

    def staff_rows(people: list[Presence]) -> list[list[str]]:
        rows = []
        for p in people:
            for a, b in p.segments:
                row = ["Yes", p.display, p.email, t(a), t(b), _minutes(a, b)]
                if not old:
                    row.append("No")
                row.append(p.country)
                rows.append(row)
        return rows

    doc.title("Host Details")
    doc.table(staff_header, staff_rows(sp.hosts))
    if sp.panelists:
        quirks.append("panelists")
        doc.title("Panelist Details")
        doc.table(staff_header, staff_rows(sp.panelists))

    questions = [q.text for q in s.event.questions] if style.questions else []
    if questions:
        quirks.append("custom_questions")
        if any("," in q or '"' in q for q in questions):
            quirks.append("question_header_with_comma_or_quote")
    if old:
        header = ["Attended", "User Name", "First Name", "Last Name", "Email", "Registration Time", "Approval Status", "Join Time", "Leave Time", "Time in Session (minutes)", *questions, "Country/Region Name"]
    else:
        header = ["Attended", "User Name (Original Name)", "First Name", "Last Name", "Email", "Phone", "Registration Time", "Approval Status", "Join Time", "Leave Time", "Time in Session (minutes)", "Is Guest", *questions, "Country/Region Name", "Source Name"]
    rows: list[list[str]] = []
    nul_done = not style.nul_in_name
    # no-show rows: "--" in the time fields (older files) or blank times and 0 minutes (newer)
    no_times = ["--", "--", "--"] if old or (style.vintage == "2025" and r.random() < 0.5) else ["", "", "0"]
    for p in sp.registrants:
        first = _messy_name(r, p.first, "").strip() if p.first else ""
        last = p.last if r.random() < 0.9 else p.last.lower()
        email = _messy_email(r, p.email)
        phone = _phone_text(r, p, style, quirks)
        display = p.display
        if not nul_done and p.role == "attendee" and len(display) > 3:
            display = display[:2] + "\x00" + display[2:]
            nul_done = True
            quirks.append("nul_in_name")
        answers = list(p.answers[: len(questions)]) + [""] * (len(questions) - len(p.answers[: len(questions)]))
        reg = t(p.registered_at) if p.registered_at is not None else ""
        if p.role != "attendee":
            quirks.append("staff_registered")
        if p.approval in ("denied", "pending"):
            quirks.append(f"approval_{p.approval}")
        if p.late and p.segments and p.registered_at is not None and p.registered_at > min(a for a, _ in p.segments):
            quirks.append("registered_after_join")
        segs = list(p.segments)
        attended = bool(segs) and not (p.role == "host")
        if not attended:
            if no_times[0] == "--":
                quirks.append("dash_times")
            segs_rows = [("No", *no_times)]
        else:
            if len(segs) > 1:
                quirks.append("multiple_segments")
                ordered = sorted(segs)
                if any(ordered[i + 1][0] < ordered[i][1] for i in range(len(ordered) - 1)):
                    quirks.append("overlapping_segments")
            segs_rows = [("Yes", t(a), t(b), _minutes(a, b)) for a, b in segs]
        for j, (flag, jt, lt, mins) in enumerate(segs_rows):
            first_row = j == 0
            if old:
                row = [flag, display, first, last, email, reg if first_row else "", p.approval if first_row else "", jt, lt, mins, *answers, p.country]
            else:
                row = [flag, display, first, last, email, phone, reg if first_row else "", p.approval if first_row else "", jt, lt, mins,
                       "Yes" if p.is_guest else "No", *answers, p.country, p.source_name]
            rows.append(row)
    # Zoom does not sort the rows: the segments of one person are scattered
    r.shuffle(rows)
    if drop is not None:
        rows = _drop_rows(drop, rows)
        quirks.append("incomplete_copy")
    doc.title("Attendee Details")
    doc.table(header, rows)
    if old and sp.walk_ins:
        quirks.append("other_attended")
        doc.title("Other Attended")
        other = [[p.display, t(a), t(b), _minutes(a, b), p.country] for p in sp.walk_ins for a, b in p.segments]
        doc.table(["User Name", "Join Time", "Leave Time", "Time in Session (minutes)", "Country/Region Name"], other)
    return doc.text(), quirks


def _drop_rows(r: random.Random, rows: list[list[str]]) -> list[list[str]]:
    if not rows:
        return rows
    k = 1 if len(rows) < 3 or r.random() < 0.6 else 2
    gone = set(r.sample(range(len(rows)), k))
    return [row for i, row in enumerate(rows) if i not in gone]


FORM_OPTIONAL = ("City", "Country/Region", "Organization", "Job Title", "State/Province", "Questions & Comments")


def _registration_report(sp: SessionPresence, style: FileStyle, tz: ZoneInfo, generated_at: int, r: random.Random, drop: random.Random | None) -> tuple[str, list[str]]:
    s = sp.session
    quirks = ["registration_report", f"date_{style.date_format}", f"layout_{style.layout}", f"encoding_{style.encoding}",
              f"registration_title_{style.registration_title.split()[0].lower()}", f"registration_columns_{style.registration_columns}"]
    if style.excel:
        quirks.append("excel_resave")
    if style.webinar_id_style != "plain":
        quirks.append(f"webinar_id_{style.webinar_id_style}")
    if style.scheduled_label != "Scheduled Time":
        quirks.append("scheduled_start_time_label")
    fmt = style.date_format

    def t(x: int) -> str:
        return format_time(x, fmt, tz)

    doc = _Doc(style)
    doc.title("Registration Report")
    doc.rows.append(([style.generated_label, t(generated_at)], False, False))
    registrants = sp.registrants
    doc.table(["Topic", "Webinar ID", style.scheduled_label, style.count_label],
              [[s.topic, _webinar_id(s.webinar_id, style.webinar_id_style), t(s.scheduled_start), str(len(registrants))]], blank_before=False)
    questions = [q.text for q in s.event.questions] if style.questions else []
    if style.registration_columns == "team":
        header = ["First Name", "Last Name", "Email", "Registration Time", "Approval Status", "Phone", "Source Name", "Attendance Type"]
        questions = []
    else:
        optional = [f for f in FORM_OPTIONAL if r.random() < 0.35]
        header = ["First Name", "Last Name", "Email", *[f for f in optional if f in ("City", "Country/Region", "State/Province")], "Phone",
                  *[f for f in optional if f in ("Organization", "Job Title")], "Registration Time", "Approval Status", *questions,
                  *(["Questions & Comments"] if "Questions & Comments" in optional else []), "Source Name"]
        if r.random() < 0.5:
            header.append("Attendance Type")
        if questions:
            quirks.append("custom_questions")
    rows = []
    for p in sorted(registrants, key=lambda p: (p.registered_at or 0, p.person_id)):
        values = {
            "First Name": _messy_name(r, p.first, "").strip() if p.first else "",
            "Last Name": p.last,
            "Email": _messy_email(r, p.email),
            "Registration Time": t(p.registered_at) if p.registered_at is not None else "",
            "Approval Status": p.approval,
            "Phone": _phone_text(r, p, style, quirks),
            "Source Name": p.source_name,
            "Attendance Type": "Virtual",
            "City": p.city if r.random() < 0.8 else p.city.lower(),
            "Country/Region": p.country,
            "State/Province": "",
            "Organization": r.choice(("", "", "Deloitte", "EY", "KPMG", "PwC", "Student", "TCS", "self")),
            "Job Title": r.choice(("", "", "Student", "Accountant", "Audit Associate", "Analyst")),
            "Questions & Comments": r.choice(("", "", "", "What are the fees?", "Is there an EMI option?")),
        }
        for q, a in zip(s.event.questions, p.answers):
            values[q.text] = a
        if p.approval in ("denied", "pending"):
            quirks.append(f"approval_{p.approval}")
        rows.append([values.get(h, "") for h in header])
    if drop is not None:
        rows = _drop_rows(drop, rows)
        quirks.append("incomplete_copy")
    doc.title(style.registration_title)
    doc.table(header, rows)
    return doc.text(), quirks


MEETING_SUMMARY_HEADER = ["Meeting ID", "Topic", "Start Time", "End Time", "User Email", "Duration (Minutes)", "Participants"]


def meeting_participants(sp: SessionPresence) -> list[Presence]:
    """Everyone who joined a meeting (host, panelists, audience, walk-ins), by first join."""
    seen: set[str] = set()
    out = []
    for p in [*sp.hosts, *sp.panelists, *sp.registrants, *sp.walk_ins]:
        if p.segments and p.person_id not in seen:
            seen.add(p.person_id)
            out.append(p)
    out.sort(key=lambda p: (min(a for a, _ in p.segments), p.person_id))
    return out


def _meeting_report(sp: SessionPresence, style: FileStyle, tz: ZoneInfo, unique: bool, r: random.Random, drop: random.Random | None) -> tuple[str, list[str]]:
    """A meeting participant report: the summary block (one row), a blank line, the participants.

    With meeting data: one row per join/leave segment (sorted by join time; with an "In Waiting Room"
    column, some people also have a row for their time in the waiting room, marked "Yes", which is
    not time in the meeting). With "show unique users": one row per person, ``Total Duration
    (Minutes)`` = the union of their segments in minutes, rounded up. ``Start Time``/``End Time`` are
    the first join and the last leave of anyone (usually the host's); ``Participants`` counts people.
    """
    s = sp.session
    quirks = ["meeting_report", "meeting_unique_users" if unique else "meeting_join_leave", f"date_{style.date_format}",
              f"layout_{style.layout}", f"encoding_{style.encoding}"]
    if style.excel:
        quirks.append("excel_resave")
    if style.webinar_id_style != "plain":
        quirks.append(f"meeting_id_{style.webinar_id_style}")
    fmt = style.date_format

    def t(x: int) -> str:
        return format_time(x, fmt, tz)

    people = meeting_participants(sp)
    staff = {p.person_id for p in [*sp.hosts, *sp.panelists]}
    start = min(a for p in people for a, _ in p.segments)
    end = max(b for p in people for _, b in p.segments)
    host = sp.hosts[0]
    summary = [_webinar_id(s.webinar_id, style.webinar_id_style), s.topic, t(start), t(end), host.email,
               str(max(1, math.ceil((end - start) / 60))), str(len(people))]
    extra = (["Recording Consent"] if style.recording_consent else []) + (["In Waiting Room"] if style.waiting_room else [])
    if style.recording_consent:
        quirks.append("recording_consent")
    if style.waiting_room:
        quirks.append("in_waiting_room")

    def extras(p: Presence, waiting: bool) -> list[str]:
        out = []
        if style.recording_consent:
            out.append("" if p.role == "host" or r.random() < 0.08 else "Y")
        if style.waiting_room:
            out.append("Yes" if waiting else "No")
        return out

    def who(p: Presence) -> list[str]:
        return [p.display, p.meeting_email]

    def guest(p: Presence) -> str:
        return "No" if p.person_id in staff or not p.is_guest else "Yes"

    if any(p.role not in ("host", "panelist") and not p.meeting_email for p in people):
        quirks.append("guest_without_email")
    if any("(" in p.display and ("/" in p.display or p.display.split(" (")[0] in DEVICE_PREFIXES) for p in people):
        quirks.append("device_or_pronoun_names")
    if unique:
        header = ["Name (Original Name)", "User Email", "Total Duration (Minutes)", "Guest", *extra]
        rows = [[*who(p), str(max(1, math.ceil(p.union_seconds() / 60))), guest(p), *extras(p, False)] for p in people]
    else:
        header = ["Name (Original Name)", "User Email", "Join Time", "Leave Time", "Duration (Minutes)", "Guest", *extra]
        timed: list[tuple[int, int, list[str]]] = []
        for i, p in enumerate(people):
            segs = sorted(p.segments)
            if len(segs) > 1:
                quirks.append("multiple_segments")
                if any(segs[j + 1][0] < segs[j][1] for j in range(len(segs) - 1)):
                    quirks.append("overlapping_segments")
            for a, b in segs:
                timed.append((a, i, [*who(p), t(a), t(b), _minutes(a, b), guest(p), *extras(p, False)]))
            if style.waiting_room and p.person_id not in staff and r.random() < 0.12:
                a = segs[0][0]
                w = _floor(a - 60 * (1 + int(r.random() * 8)), s.minute_precision)
                timed.append((w, i, [*who(p), t(w), t(a), _minutes(w, a), guest(p), *extras(p, True)]))
                quirks.append("waiting_room_rows")
        timed.sort(key=lambda x: (x[0], x[1]))
        rows = [row for *_, row in timed]
    if drop is not None:
        rows = _drop_rows(drop, rows)
        quirks.append("incomplete_copy")

    lines: list[tuple[list[str], bool]] = [(MEETING_SUMMARY_HEADER, style.quote_sections[0]), (summary, style.quote_sections[0]), ([], False),
                                           (header, style.quote_sections[1]), *((row, style.quote_sections[1]) for row in rows)]
    width = max(len(cells) for cells, _ in lines)
    out = io.StringIO()
    minimal = csv.writer(out, lineterminator=style.newline, quoting=csv.QUOTE_MINIMAL)
    quoted = csv.writer(out, lineterminator=style.newline, quoting=csv.QUOTE_ALL)
    for cells, quote_all in lines:
        if style.layout == "padded":
            cells = cells + [""] * (width - len(cells))  # Excel pads the blank line too: ",,,,,,"
        if not cells:
            out.write(style.newline)
        elif quote_all:
            quoted.writerow(cells)
        else:
            minimal.writerow(cells)
    return out.getvalue(), quirks


# ============================================================================= file names


def file_names(r: random.Random, files: list[ZoomFile], sessions: dict[str, Session], taken: set[str]) -> None:
    """Give each file the kind of name it gets on a user's disk (unreliable, sometimes generic)."""
    for f in files:
        s = sessions[f.session_key]
        wid = s.webinar_id
        program = s.event.program
        if f.copy == 2:
            base = None  # the browser numbers a second download of the same name
        elif f.report in MEETING_REPORTS:
            base = r.choice((
                f"participants_{wid}.csv", f"participants_{wid}.csv", "participants.csv", f"{program} bootcamp day {s.bootcamp_day}.csv",
                f"{program.lower()}_bootcamp_{s.day:%d-%m}.csv", "Zoom meeting.csv", f"meeting_{wid}.csv",
            ))
        elif f.report == "attendee":
            base = r.choice((
                f"participants_{wid}.csv", "Attendee Report.csv", f"{wid} - Attendee Report.csv", "webinar.csv",
                f"attendee_{wid}_{s.day:%Y%m%d}.csv", f"{program} webinar {s.day.day} {s.day:%b}.csv",
                f"{program.lower()}_attendees_{s.day:%d-%m}.csv",
            ))
        else:
            base = r.choice((
                f"registration_{wid}.csv", "Registration Report.csv", f"{wid}_RegistrationReport.csv", "webinar.csv",
                f"{program} regs {s.day:%d.%m.%Y}.csv", f"registrants_{wid}.csv",
            ))
        if base is None:
            first_copy = next(x for x in files if x.session_key == f.session_key and x.report == f.report and x.copy == 1)
            base = first_copy.name
        else:
            base = _with_date_order(base, f)
        f.name = _claim(base, taken)


_SLASH_DATE = re.compile(rb"(?<![0-9])([0-9]{1,2})/([0-9]{1,2})/[0-9]{4}")


def _with_date_order(base: str, f: ZoomFile) -> str:
    """An Excel re-save whose every date reads two ways (day and month both <= 12) is named by the
    analyst with its order ("... day-first.csv"), as the README asks: otherwise it would wait in the
    folder until they did."""
    if f.style is None or f.style.date_format not in ("dmy", "mdy_excel"):
        return base
    pairs = _SLASH_DATE.findall(f.content)
    if not pairs or any(int(a) > 12 or int(b) > 12 for a, b in pairs):
        return base
    stem, dot, ext = base.rpartition(".")
    return f"{stem} {'day-first' if f.style.date_format == 'dmy' else 'month-first'}.{ext}"


def _claim(base: str, taken: set[str]) -> str:
    """``base``, or the browser's ``base (1)``, ``(2)``... if a file of that name was saved already."""
    name = base
    stem, dot, ext = base.rpartition(".")
    n = 1
    while name in taken:
        name = f"{stem} ({n}).{ext}"
        n += 1
    taken.add(name)
    return name


# ============================================================================= junk drops


def _not_zoom_file(config: EdtechConfig, r: random.Random, day: date) -> ZoomFile:
    """A CSV that is not a Zoom report at all, dropped into the Zoom folder by mistake."""
    kind = r.choice(("google_sheet", "bank_statement", "payments_export"))
    rows: list[list[str]] = []
    encoding, newline = "utf-8", "\r\n"

    def person() -> tuple[str, str, str]:
        first, last = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
        email = f"{''.join(c for c in first.lower() if c.isalpha())}{r.randint(1, 999)}@gmail.com"
        return f"{first} {last}", email, str(r.randint(6_000_000_000, 9_999_999_999))

    if kind == "google_sheet":  # the team's call tracker, exported from Google Sheets
        name = r.choice(("Untitled spreadsheet - Sheet1.csv", "Copy of Webinar follow-ups - Sheet1.csv", f"Leads tracker {day:%d %b} - Calls.csv"))
        rows.append(["Timestamp", "Name", "Phone Number", "Email", "Course", "Called By", "Status", "Remarks"])
        reps = [rep.employee.split()[0] for rep in config.sales_reps]
        for _ in range(r.randint(4, 30)):
            full, email, phone = person()
            at = f"{day.month}/{day.day}/{day.year} {r.randint(9, 20)}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
            rows.append([at, full, phone, email, r.choice(config.programs), r.choice(reps),
                         r.choice(("Interested", "Not picking", "Call back", "Enrolled", "Not interested")),
                         r.choice(("", "", "Asked about EMI", "Call after 6 pm", "Wants a demo class, fees too high"))])
    elif kind == "bank_statement":  # the current account's statement (SBI-style, lakh-grouped amounts)
        name = r.choice((f"AccountStatement_{day:%d%m%Y}.csv", f"Statement {day:%b %Y}.csv", "statement.csv"))
        encoding = "utf-8-sig"
        rows += [["Account Name :", "FINEDGE ACADEMY PVT LTD"], ["Account Number :", f"XXXXXXX{r.randint(1000, 9999)}"],
                 ["Branch :", "ANDHERI EAST, MUMBAI"], [], ["Txn Date", "Value Date", "Description", "Ref No./Cheque No.", "Debit", "Credit", "Balance"]]
        balance = r.randint(5_00_000, 50_00_000) * 100
        txns = sorted((day - timedelta(days=r.randint(0, 27)), r.random() < 0.6, r.randint(5_000, 2_00_000) * 100, r.random())
                      for _ in range(r.randint(5, 25)))
        for d, credit, amount, u in txns:
            balance += amount if credit else -amount
            if credit:
                desc = ("NEFT-RAZORPAY SOFTWARE PVT LTD-SETTLEMENT", f"UPI/CR/{int(u * 10**12):012d}", "BY TRANSFER-IMPS-PROPELLD")[int(u * 3)]
            else:
                desc = ("TO TRANSFER-FACEBOOK INDIA ONLINE SERVICES", "DEBIT-GOOGLE ADS INDIA", f"SALARY {d:%b}".upper())[int(u * 3)]
            rows.append([f"{d:%d %b %Y}", f"{d:%d %b %Y}", desc, f"N{int(u * 10**14):014d}",
                         "" if credit else _inr(amount), _inr(amount) if credit else "", _inr(balance)])
    else:  # a payment gateway's export
        name = r.choice(("payments.csv", f"razorpay_payments_{day:%Y-%m-%d}.csv", "export.csv"))
        newline = "\n"
        rows.append(["id", "amount", "currency", "status", "order_id", "method", "email", "contact", "created_at"])
        for _ in range(r.randint(3, 20)):
            _, email, phone = person()
            rows.append([f"pay_{r.getrandbits(56):014x}", str(r.choice((9440, 64900, 88500, 5000, 10000))), "INR",
                         r.choice(("captured", "captured", "failed", "refunded")), f"order_{r.getrandbits(56):014x}",
                         r.choice(("upi", "card", "netbanking", "emi")), email, "+91" + phone,
                         f"{day:%d/%m/%Y} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    for row in rows:
        if row:
            writer.writerow(row)
        else:
            out.write(newline)
    return ZoomFile(name, out.getvalue().encode(encoding), None, None, None, False, None, (f"not_zoom_{kind}",),
                    "not_zoom", JUNK_OUTCOMES["not_zoom"])


def _inr(paise: int) -> str:
    """Indian digit grouping: 12,34,567.89."""
    rupees, p = divmod(paise, 100)
    text = str(rupees)
    head, tail = text[:-3], text[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join([*groups, tail]) + f".{p:02d}"


def _empty_file(r: random.Random, sessions: list[Session]) -> ZoomFile:
    """A failed download: 0 bytes under a report's name."""
    names = ["Attendee Report.csv", "Registration Report.csv", "webinar.csv", "download.csv", *(f"participants_{s.webinar_id}.csv" for s in sessions)]
    return ZoomFile(r.choice(names), b"", None, None, None, False, None, ("zero_bytes",), "empty", JUNK_OUTCOMES["empty"])


def _truncated_file(r: random.Random, source: ZoomFile) -> ZoomFile | None:
    """An interrupted download of ``source``: its bytes up to a point in the middle of a row in the
    second half of the file (at most half the row's cells, no line end). None if the file has no
    row long enough to cut."""
    data = source.content
    starts = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A]
    spans = [(a, b - 1 if b > a and data[b - 1] == 0x0A else b) for a, b in zip(starts, starts[1:] + [len(data)])]
    spans = [(a, b - 1 if b > a and data[b - 1] == 0x0D else b) for a, b in spans]
    spans = [(a, a + len(data[a:b].rstrip(b","))) for a, b in spans]  # not into a row's padding
    rows = [(a, b) for a, b in spans if data[a:b].count(b",") >= 4]
    later = [(a, b) for a, b in rows if a >= len(data) // 2] or rows[3:]
    if not later:
        return None
    a, b = later[int(r.random() * len(later))]
    commas = [a + i for i, ch in enumerate(data[a:b]) if ch == 0x2C]
    cut = commas[r.randint(1, len(commas) // 2) - 1] + 1
    for _ in range(r.randint(0, 5)):  # sometimes mid-cell
        if cut < b and data[cut] < 0x80 and data[cut] not in b',"\r\n':
            cut += 1
    quirks = ("truncated_mid_row",)
    return ZoomFile(source.name, data[:cut], source.session_key, source.report, None, False, source.style, quirks,
                    "truncated", JUNK_OUTCOMES["truncated"])


def _no_details_file(source: ZoomFile) -> ZoomFile | None:
    """``source`` (an Attendee Report) without its Attendee Details section (and what follows it)."""
    data = source.content
    pos = 0
    for line in data.splitlines(keepends=True):
        if line.rstrip(b"\r\n").rstrip(b",") == b"Attendee Details":
            head = data[:pos]
            nl = source.style.newline.encode()
            if head.endswith(nl + nl):  # the blank line before the section
                head = head[: -len(nl)]
            return ZoomFile(source.name, head, source.session_key, source.report, None, False, source.style,
                            ("no_attendee_details",), "no_attendee_details", JUNK_OUTCOMES["no_attendee_details"])
        pos += len(line)
    return None


def junk_files(config: EdtechConfig, seed: int, day: date, sessions: list[Session], files: list[ZoomFile]) -> list[ZoomFile]:
    """The day's junk drops (zoom-formats.md quirk 16), each on a day with the settings' rate: a
    non-Zoom CSV, an empty file, a truncated copy of one of the day's reports and an Attendee Report
    without its Attendee Details section. Derived files come in addition to the complete report."""
    st = config.settings
    r = py_rng(seed, day_index(day), E_FILE, 0, P_JUNK)
    u = [r.random() for _ in range(4)]
    out: list[ZoomFile | None] = []
    if u[0] < st.junk_not_zoom_rate:
        out.append(_not_zoom_file(config, r, day))
    if u[1] < st.junk_empty_rate:
        out.append(_empty_file(r, sessions))
    if u[2] < st.junk_truncated_rate and files:
        out.append(_truncated_file(r, files[int(r.random() * len(files))]))
    attendee = [f for f in files if f.report == "attendee"]
    if u[3] < st.junk_no_attendee_details_rate and attendee:
        out.append(_no_details_file(attendee[int(r.random() * len(attendee))]))
    return [f for f in out if f is not None]


def render_day(config: EdtechConfig, seed: int, day: date, sessions: list[Session], presences: list[SessionPresence], tz: ZoneInfo) -> list[ZoomFile]:
    """Every file dropped on ``day``: the sessions' reports, then the day's junk."""
    files: list[ZoomFile] = []
    for sp in presences:
        files.extend(render_session(config, seed, sp, tz))
    by_key = {s.key: s for s in sessions}
    taken: set[str] = set()
    # webinar reports are named first, from the day's stream, as before meetings existed
    file_names(py_rng(seed, day_index(day), E_FILE, 0, P_RENDER), [f for f in files if f.report not in MEETING_REPORTS], by_key, taken)
    file_names(py_rng(seed, day_index(day), E_FILE, 0, P_MEETING), [f for f in files if f.report in MEETING_REPORTS], by_key, taken)
    junk = junk_files(config, seed, day, sessions, files)
    for f in junk:
        f.name = _claim(f.name, taken)
    return files + junk
