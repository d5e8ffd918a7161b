"""Zoom report CSVs (webinar Attendee / Registration reports, meeting participant reports) -> tables.

Users download these by hand and drop them in a folder; see /work/shared/docs/zoom-formats.md for
the formats and the quirks handled here. A file is several CSV tables stacked on top of each other:
sections are found by their TITLE row (``Attendee Details``...), columns by HEADER NAME, never by
position. The kind of report, the webinar ID and the start time come from the content, never from
the (unreliable) file name.

* :func:`peek_report` reads only the first bytes of a file (cheap: a drop-folder sensor calls it
  on many files) and returns a :class:`ReportHead` (kind, topic, webinar ID, start, session date).
* :func:`parse_report` parses a whole file into a :class:`ZoomReport`: the summary, the staff
  (Host / Panelist Details) and the audience (Attendee / Registrant Details, Other Attended,
  meeting participants) as polars frames with fixed columns and dtypes.
* :func:`assess_usability` rejects parsed reports whose dates or phones are mostly unreadable.

Everything that goes wrong is a :class:`ZoomReportError` with a ``code`` and a plain-language
``reason`` saying what happened and what to do; ``str(error)`` starts with the file name.

Speed: one vectorised pass over the bytes indexes the lines (and finds control characters, lone
CRs and title-row candidates); each large table is read by polars' CSV reader (all columns as
text) and converted with expressions, few and wide (polars runs each in parallel). The costly
steps are skipped where the bytes or a cheap test show they change nothing: stripping cells (only
columns with a cell that starts or ends with whitespace), JSON escaping, the day-first test of
cells a month-name format reads, the time zone rules (a fixed offset). About 25,000 rows of an
Attendee Report parse in 30-40 ms.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from funnel_assets.lib import dates
from funnel_assets.lib.phones import CORRUPT, INVALID, PLAIN_MOBILE_PATTERN, normalize_phones

__all__ = [
    "AUDIENCE_SCHEMA",
    "ERROR_CODES",
    "WAITING_CODES",
    "PEEK_BYTES",
    "REPORT_KINDS",
    "STAFF_SCHEMA",
    "ParseStats",
    "ReportHead",
    "ZoomReport",
    "ZoomReportError",
    "assess_usability",
    "date_order_in_name",
    "parse_report",
    "peek_report",
]

PEEK_BYTES: Final = 65536
REPORT_KINDS: Final = ("attendee", "registration", "meeting_participants", "meeting_unique_users")
ERROR_CODES: Final = (
    "empty", "not_zoom", "truncated", "no_attendee_details", "no_session_date",
    "dates_unusable", "phones_unusable", "not_csv", "inconsistent_dates", "ambiguous_dates",
)
WAITING_CODES: Final = frozenset({"ambiguous_dates"})
_DATE_ORDER: Final = re.compile(r"(?i)(?<![a-z])(day|month)[ _.-]?first(?![a-z])")
"""Codes of files that are not wrong but wait for the user to say something (see the reason)."""

UTC: Final = dates.UTC_DTYPE
STAFF_SCHEMA: Final = {
    "line": pl.Int64, "role": pl.String, "display_name": pl.String, "email": pl.String,
    "join_at": UTC, "leave_at": UTC, "minutes": pl.Float64,
}
AUDIENCE_SCHEMA: Final = {
    "line": pl.Int64, "section": pl.String, "attended": pl.Boolean, "display_name": pl.String,
    "first_name": pl.String, "last_name": pl.String, "email": pl.String, "phone": pl.String,
    "registered_at": UTC, "approval_status": pl.String, "join_at": UTC, "leave_at": UTC,
    "minutes": pl.Float64, "is_guest": pl.Boolean, "in_waiting_room": pl.Boolean, "country": pl.String,
    "city": pl.String, "source_name": pl.String, "attendance_type": pl.String, "answers": pl.String,
}


class ZoomReportError(Exception):
    """A file that cannot be used: ``code`` (one of :data:`ERROR_CODES`), a plain-language
    ``reason`` (what happened, what to do) and the ``source`` file name."""

    def __init__(self, code: str, reason: str, source: str):
        super().__init__(f"{source}: {reason}")
        self.code, self.reason, self.source = code, reason, source

    def __reduce__(self):  # picklable: errors cross process boundaries in run workers
        return (type(self), (self.code, self.reason, self.source))


@dataclass(frozen=True)
class ReportHead:
    """What :func:`peek_report` learns from the first bytes of a file."""

    kind: str
    topic: str | None
    webinar_id: str | None
    start_at: datetime
    session_date: date
    start_is_scheduled: bool


@dataclass(frozen=True)
class ParseStats:
    time_cells: int  # non-blank time cells (excluding "--"), summary + all tables
    time_parsed: int  # of which parsed
    rows: int  # data rows in the audience table
    bad_time_examples: tuple[str, ...] = ()  # up to 3 time cells that did not parse (for messages)


@dataclass(frozen=True)
class ZoomReport:
    source: str
    kind: str
    vintage: str | None
    topic: str | None
    webinar_id: str | None
    start_at: datetime
    start_is_scheduled: bool
    end_at: datetime | None
    duration_minutes: float | None
    generated_at: datetime | None
    session_date: date
    host_email: str | None
    day_first: bool
    summary: dict[str, str]
    staff: pl.DataFrame
    audience: pl.DataFrame
    custom_questions: tuple[str, ...]
    stats: ParseStats
    warnings: tuple[str, ...]


# ============================================================================= constants

_TITLES: Final = {
    "attendee report": "attendee_report", "registration report": "registration_report",
    "host details": "host", "panelist details": "panelist", "attendee details": "attendee_details",
    "registrant details": "registrant_details", "other attended": "other_attended",
}
_REPORT_TITLES: Final = {"attendee_report": "attendee", "registration_report": "registration"}
_AUDIENCE_SECTIONS: Final = ("attendee_details", "registrant_details", "other_attended")
# the first two letters (lower case) of every title: lines starting otherwise are not titles
_TITLE_PREFIXES: Final = np.zeros(65536, dtype=bool)
_TITLE_PREFIXES[[ord(t[0]) * 256 + ord(t[1]) for t in _TITLES]] = True

# header (normalised: lower case, single spaces, "(original name)" removed) -> audience field
_FIELDS: Final = {
    "attended": "attended", "user name": "display_name", "name": "display_name",
    "first name": "first_name", "last name": "last_name", "email": "email", "user email": "email",
    "phone": "phone", "registration time": "registered_at", "approval status": "approval_status",
    "join time": "join_at", "leave time": "leave_at", "time in session (minutes)": "minutes",
    "duration (minutes)": "minutes", "total duration (minutes)": "minutes", "is guest": "is_guest",
    "guest": "is_guest", "in waiting room": "in_waiting_room", "country/region name": "country",
    "country/region": "country", "city": "city", "source name": "source_name",
    "attendance type": "attendance_type",
}
_TIME_FIELDS: Final = ("registered_at", "join_at", "leave_at")
_RAW_AUDIENCE: Final = ("attended", "display_name", "first_name", "last_name", "email", "phone", "registered_at",
                        "approval_status", "join_at", "leave_at", "minutes", "is_guest", "in_waiting_room", "country",
                        "city", "source_name", "attendance_type")
_RAW_STAFF: Final = ("display_name", "email", "join_at", "leave_at", "minutes")
# Zoom's optional standard registration fields: kept in ``answers`` but not custom questions
_STANDARD_OPTIONAL: Final = frozenset({
    "zip/postal code", "state/province", "industry", "organization", "job title", "purchasing time frame",
    "role in purchase process", "no of employees", "no. of employees", "questions & comments",
    "recording consent", "address", "country/region", "country/region name", "city",
})
_START_COLUMNS: Final = {
    "attendee": ("actual start time",),
    "registration": ("scheduled time", "scheduled start time"),
    "meeting": ("start time",),
}
_SUMMARY_TIME_COLUMNS: Final = ("actual start time", "scheduled time", "scheduled start time", "start time", "end time")
# a bare Zoom table (no summary above it) has at least two of these headers
_ZOOM_TABLE_HEADERS: Final = frozenset({
    "registration time", "approval status", "join time", "leave time", "time in session (minutes)",
    "duration (minutes)", "total duration (minutes)", "attended", "is guest", "user email",
})

_CONTROL_BYTES: Final = bytes(c for c in range(32) if c not in (9, 10, 13)) + b"\x7f"
_ONLY_BLANK: Final = re.compile(rb"(?:\xef\xbb\xbf|\xff\xfe|\xfe\xff)?[\s\x00,;]*\Z")
_NOT_BLANK: Final = re.compile(rb'[^\s,;"]')
_NUMERIC_DATE: Final = re.compile(r"\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:\D|$)")
_SCI_PHONE: Final = r"^\+?[0-9](?:\.[0-9]+)?[eE]\+?[0-9]+$"
_FLOAT_PHONE: Final = r"^\+?[0-9]{6,}\.0+$"
_REDOWNLOAD: Final = "Download the report from Zoom again and drop the new file in the folder."
_NO_EXCEL: Final = "Download the report from Zoom again and drop it in the folder without opening it in Excel."
_PHONES_AS_TEXT: Final = f"{_NO_EXCEL[:-1]} (if you must edit it, format the Phone column as Text before saving as CSV)."

# Zoom's time formats (numeric ones month-first; flipped for day-first files): tried on a sample of
# a column, the best one parses the whole column; dates.parse_local_datetimes reads the rest.
_ZOOM_FORMATS: Final = ("%b %d, %Y %H:%M:%S", "%b %d, %Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S",
                        "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%b %d, %Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S")
# the same for single cells (summary start, end, report generated), with Python's strptime
_PY_FORMATS: Final = ("%b %d, %Y %H:%M:%S", "%b %d, %Y %I:%M %p", "%b %d, %Y %I:%M:%S %p", "%b %d, %Y %H:%M",
                      "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p",
                      "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


# ============================================================================= small helpers


class _NotUtf8(Exception):
    """Raised while parsing when the bytes turn out not to be UTF-8 (the file is re-read as cp1252)."""


@functools.lru_cache(maxsize=4096)
def _norm(header: str) -> str:
    """Header name for matching: lower case, single spaces, without "(Original Name)"."""
    h = " ".join(header.replace("\ufeff", "").split()).lower()
    return h.replace("(original name)", "").strip()


def _cells(line: bytes, delimiter: str = ",") -> list[str]:
    """One CSV line as stripped cells, trailing empty cells removed."""
    try:
        text = line.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _NotUtf8 from exc
    row = [c.strip() for c in next(csv.reader([text], delimiter=delimiter), [])]
    while row and not row[-1]:
        row.pop()
    return row


def _blank(line: bytes) -> bool:
    return _NOT_BLANK.search(line) is None


def _title_of(line: bytes) -> str | None:
    """The section key if ``line`` is a title row (its only non-empty cell is a known title)."""
    if len(line) > 400:
        return None
    text = line.rstrip(b' \t\r,;"').lstrip(b' \t"').decode("utf-8", "replace").lower()
    return _TITLES.get(" ".join(text.split()))


def _digits(text: str | None) -> str | None:
    return re.sub(r"[^0-9]", "", text or "") or None


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text and text.strip() not in ("", "--") else None
    except ValueError:
        return None


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


# ============================================================================= bytes -> indexed text


def _sniff(content: bytes, source: str, *, whole: bool) -> None:
    """Raise ``empty`` / ``not_csv`` (binary, Excel, PDF...) / ``truncated`` (zero-filled tail)."""
    if not content:
        raise ZoomReportError("empty", f"This file is empty (0 bytes): the download probably failed. {_REDOWNLOAD}", source)
    if _ONLY_BLANK.match(content):
        raise ZoomReportError(
            "empty", "This file has no content (only blank lines, spaces or zero bytes): the download probably failed. "
            + _REDOWNLOAD, source)
    head = content[:4096]
    kind = None
    if head.startswith(b"PK\x03\x04"):
        kind = "an Excel workbook (.xlsx)" if (b"xl/" in head or b"[Content_Types].xml" in head) else "a ZIP archive"
    elif head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        kind = "an old-style Excel workbook (.xls)"
    elif head.startswith(b"%PDF"):
        kind = "a PDF document"
    elif head.startswith((b"\x1f\x8b", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"Rar!", b"7z\xbc\xaf")):
        kind = "a compressed file or an image"
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return  # UTF-16 text (Excel's "Unicode Text"): converted by _decode
    else:
        body = content.rstrip(b"\x00") if content.endswith(b"\x00\x00") else content
        if whole and len(content) - len(body) >= 2 and body.count(b"\x00") * 100 <= len(body):
            raise ZoomReportError(
                "truncated", f"The end of this file is blank (zero bytes): the download was interrupted. {_REDOWNLOAD}", source)
        # binary files are full of NUL and other control bytes; text has (nearly) none
        if (len(head) - len(head.translate(None, _CONTROL_BYTES))) * 50 > len(head):
            kind = "a binary (non-text) file"
    if kind:
        raise ZoomReportError(
            "not_csv",
            f"This is {kind}, not a CSV file. Zoom reports must be CSV: download the report from Zoom again (it comes "
            "as a .csv file) and drop that file here without opening it in Excel. If you only have an Excel file, "
            "open it and use File > Save As > 'CSV UTF-8 (Comma delimited)'.", source)


@dataclass
class _Text:
    """A file as UTF-8 bytes plus an index of its lines (0-based here, 1-based in messages)."""

    data: bytes
    encoding: str
    removed: int  # control characters (NUL...) removed
    starts: np.ndarray = field(repr=False)  # byte offset where each line starts
    ends: np.ndarray = field(repr=False)  # byte offset where each line ends (before "\r\n" / "\n")
    size: int = -1  # bytes that belong to the indexed lines (-1: all)
    delimiter: str = ","  # "," as Zoom writes; ";" after a European Excel re-save, tab in Excel's "Unicode Text"

    def drop_partial_line(self) -> str:
        """Forget a last line without line end (a head cut mid-line); return its text."""
        if not len(self.starts) or self.data.endswith(b"\n"):
            return ""
        partial = self.data[self.starts[-1]:].decode("utf-8", "replace")
        self.size = int(self.starts[-1])
        self.starts, self.ends = self.starts[:-1], self.ends[:-1]
        return partial

    def __len__(self) -> int:
        return len(self.starts)

    def line(self, k: int) -> bytes:
        return self.data[self.starts[k]:self.ends[k]]

    def offset(self, k: int) -> int:
        """Byte offset of line ``k`` (the end of the data for k == len)."""
        if k < len(self.starts):
            return int(self.starts[k])
        return len(self.data) if self.size < 0 else self.size

    def title_lines(self) -> list[tuple[int, str]]:
        """(line, section key) of every title row. Vectorised pre-filter on the first two letters
        (after an opening quote), then an exact check of the few candidates."""
        if not len(self.starts):
            return []
        arr = np.frombuffer(self.data, dtype=np.uint8)
        last = len(arr) - 1
        s = self.starts
        b0, b1, b2 = arr[np.minimum(s, last)], arr[np.minimum(s + 1, last)], arr[np.minimum(s + 2, last)]
        quoted = b0 == 34
        first = np.where(quoted, b1, b0).astype(np.int32) | 0x20
        second = np.where(quoted, b2, b1).astype(np.int32) | 0x20
        candidates = np.flatnonzero(_TITLE_PREFIXES[first * 256 + second])
        out = []
        for k in candidates.tolist():
            key = _title_of(self.line(k))
            if key:
                out.append((k, key))
        return out


def _decode(content: bytes, *, head: bool = False, cp1252: bool = False) -> _Text:
    """The file as UTF-8 bytes without BOM or control characters (NUL...), indexed by line.

    A whole file is NOT checked for valid UTF-8 here (a full decode costs time): the parser raises
    :class:`_NotUtf8` when it meets invalid bytes, and the file is decoded again with
    ``cp1252=True``. A ``head`` is checked (it is small) and may end in the middle of a character."""
    encoding = "utf-8"
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        content, encoding = content.decode("utf-16", "replace").encode("utf-8"), "utf-16"
    elif content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    if head and encoding == "utf-8" and not content.isascii():
        try:
            content.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason == "unexpected end of data" and len(content) - exc.start < 4:
                content = content[: exc.start]  # the head ends in the middle of a character
            else:
                cp1252 = True
    if cp1252:
        content, encoding = content.decode("cp1252", "replace").encode("utf-8"), "cp1252"
    arr = np.frombuffer(content, dtype=np.uint8)
    low = np.flatnonzero(arr < 32)  # line ends, tabs and control characters: one pass
    kinds = arr[low]
    removed = 0
    if not ((kinds == 10) | (kinds == 13) | (kinds == 9)).all() or content.find(b"\x7f") != -1:
        cleaned = content.translate(None, _CONTROL_BYTES)
        removed = len(content) - len(cleaned)
        content, arr = cleaned, np.frombuffer(cleaned, dtype=np.uint8)
        low = np.flatnonzero(arr < 32)
        kinds = arr[low]
    cr = low[kinds == 13]
    if len(cr) and (cr[-1] == len(arr) - 1 or (arr[cr + 1] != 10).any()):  # CR alone (old Mac line ends)
        content = content.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        arr = np.frombuffer(content, dtype=np.uint8)
        nl = np.flatnonzero(arr == 10)
    else:
        nl = low[kinds == 10]
    n = len(content)
    starts = np.concatenate(([0], nl + 1)).astype(np.int64)
    ends = np.concatenate((nl, [n])).astype(np.int64)
    if n and content.endswith(b"\n"):
        starts, ends = starts[:-1], ends[:-1]
    if n:
        ends = ends - ((arr[np.maximum(ends - 1, 0)] == 13) & (ends > starts))
    return _Text(content, encoding, removed, starts, ends, delimiter=_sniff_delimiter(content))


_QUOTED: Final = re.compile(rb'"[^"]*"')


def _sniff_delimiter(content: bytes) -> str:
    """The cell delimiter of the first lines: the one of ``,`` ``;`` and tab found most often
    outside quotes (a comma when none is)."""
    lines = [line for line in _QUOTED.sub(b"", content[:16384]).split(b"\n")[:40] if line.strip()]
    counts = {d: sum(line.count(d.encode()) for line in lines) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


# ============================================================================= layout


@dataclass
class _Table:
    """One table of the file: its header and where its rows are."""

    section: str  # host / panelist / attendee_details / registrant_details / other_attended / participants
    header: list[str]
    header_k: int  # 0-based line of the header (or of the title when there is no header)
    end_k: int  # 0-based line after the last row (the next title or the end)


@dataclass
class _Layout:
    report_title: str | None = None
    generated: str | None = None
    generated_label: str = ""
    summary_header: list[str] | None = None
    summary_row: list[str] | None = None
    summary_k: int = -1  # line of the summary row
    meeting: bool = False
    tables: list[_Table] = field(default_factory=list)
    first_line: str = ""  # first non-blank line (for messages)
    bare_header: list[str] | None = None  # a Zoom table header with no summary above it
    has_titles: bool = False


def _is_summary_header(cells: list[str], titled: bool) -> bool:
    """The summary header has the Webinar/Meeting ID (or, under a report title, starts with Topic)."""
    names = {_norm(c) for c in cells}
    return bool(names & {"webinar id", "meeting id"}) or (titled and bool(cells) and _norm(cells[0]) == "topic")


def _layout(text: _Text) -> _Layout:
    """The report title, the "Report Generated" row, the summary, the tables and their headers."""
    out = _Layout()
    titles = text.title_lines()
    out.has_titles = any(key not in _REPORT_TITLES for _, key in titles)
    pre_end = next((k for k, key in titles if key not in _REPORT_TITLES), len(text))
    sections = [(k, key) for k, key in titles if k >= pre_end]  # the report title is part of the preamble
    seen = 0
    for k in range(pre_end):
        line = text.line(k)
        if _blank(line):
            continue
        seen += 1
        cells = _cells(line, text.delimiter)
        if not out.first_line:
            out.first_line = _clip(", ".join(c for c in cells if c), 80)
        key = _title_of(line)
        if key in _REPORT_TITLES and out.report_title is None and out.summary_header is None:
            out.report_title = key
        elif cells and _norm(cells[0]).startswith("report generated"):
            out.generated = next((c for c in cells[1:] if c), None)
            out.generated_label = _norm(cells[0])
        elif out.summary_header is None and _is_summary_header(cells, out.report_title is not None):
            out.summary_header = cells
            out.meeting = out.report_title is None and "meeting id" in {_norm(c) for c in cells}
        elif out.summary_header is not None and out.summary_row is None:
            out.summary_row, out.summary_k = cells, k
        elif out.meeting and out.summary_row is not None:
            out.tables.append(_Table("participants", cells, k, pre_end))
            break
        else:
            if out.summary_header is None and out.report_title is None and seen == 1:
                if len({_norm(c) for c in cells} & _ZOOM_TABLE_HEADERS) >= 2:
                    out.bare_header = cells
            break
        if seen >= 12:
            break
    bounds = [k for k, _ in sections] + [len(text)]
    for (k, key), stop in zip(sections, bounds[1:]):
        if key in _REPORT_TITLES:
            continue  # a second report pasted below the first: ignored
        header_k = next((j for j in range(k + 1, stop) if not _blank(text.line(j))), None)
        if header_k is None:
            out.tables.append(_Table(key, [], k, stop))
        else:
            out.tables.append(_Table(key, _cells(text.line(header_k), text.delimiter), header_k, stop))
    return out


def _truncation(text: _Text, layout: _Layout) -> str | None:
    """Why the file looks cut off mid-row, or None: the last line has no line end and an
    unterminated quote or fewer cells than its table's header, or is a title / header / summary
    header with nothing after it."""
    if not len(text) or text.data.endswith(b"\n"):
        return None
    k = len(text) - 1
    last = text.line(k)
    if _blank(last):
        return None
    if last.count(b'"') % 2:
        return f"its last line (line {k + 1}) stops inside a quoted cell"
    header = next((t.header for t in layout.tables if t.header and t.header_k < k < t.end_k), None)
    if header is None:
        if k != layout.summary_k:
            return f"it stops at line {k + 1}, before the rows that should follow it"
        header = layout.summary_header or []
    n = len(next(csv.reader([last.rstrip(b"\r").decode("utf-8", "replace")], delimiter=text.delimiter), []))
    if n < len(header):
        return f"its last line (line {k + 1}) has {n} of {len(header)} columns and no line ending"
    return None


def _kind(layout: _Layout, partial: str = "") -> str | None:
    """The report kind from the content: report title, else summary/participants headers."""
    if layout.report_title:
        return _REPORT_TITLES[layout.report_title]
    if layout.meeting:
        participants = next((t.header for t in layout.tables if t.section == "participants"), None)
        if participants is not None:
            names = {_norm(c) for c in participants}
            return "meeting_unique_users" if "total duration (minutes)" in names else "meeting_participants"
        cells = re.split(r"[,;\t]", partial)  # a head cut inside the participants header: its 3rd column says
        third = cells[2].strip('" ').lower() if len(cells) >= 3 else ""
        return "meeting_unique_users" if third.startswith("t") else "meeting_participants"
    if layout.summary_header:
        names = {_norm(c) for c in layout.summary_header}
        if "actual start time" in names:
            return "attendee"
        if names & {"scheduled time", "scheduled start time"}:
            return "registration"
        return "attendee" if {t.section for t in layout.tables} & {"host", "panelist"} else "registration"
    return None


def _require_zoom(layout: _Layout, source: str) -> str:
    """The kind, or ``no_session_date`` for a Zoom table without summary, ``not_zoom`` otherwise."""
    kind = _kind(layout)
    if kind:
        return kind
    if layout.bare_header is not None or layout.has_titles:
        what = "meeting participant list" if "user email" in {_norm(c) for c in layout.bare_header or []} else "list"
        raise ZoomReportError(
            "no_session_date",
            f"This looks like a Zoom {what} without its summary rows (Topic, Webinar/Meeting ID, start time), so the "
            "session and its date are unknown. Download the full report from Zoom (Reports > Usage reports > Webinar: "
            "Attendee or Registration report; for a meeting, tick 'Export with meeting data') and drop that file.", source)
    first = f" (it starts with: '{layout.first_line}')" if layout.first_line else ""
    raise ZoomReportError(
        "not_zoom",
        f"This does not look like a Zoom report{first}: it has no 'Attendee Report' or 'Registration Report' title and "
        "no Topic / Webinar ID or Meeting ID summary. If it is a Zoom report, download it again from Zoom (Reports > "
        "Usage reports > Webinar, or a meeting's participant list exported with meeting data); otherwise move it out "
        "of the Zoom folder.", source)


def _summary(layout: _Layout, kind: str) -> tuple[dict[str, str], dict[str, str], str]:
    """The summary row (header -> cell), the same keyed by normalised header, and the start cell."""
    header = layout.summary_header or []
    summary = dict(zip(header, (layout.summary_row or []) + [""] * len(header)))
    by_norm = {_norm(h): v for h, v in summary.items()}
    columns = _START_COLUMNS["meeting" if kind.startswith("meeting") else kind]
    return summary, by_norm, next((by_norm[c] for c in columns if by_norm.get(c)), "")


# ============================================================================= dates


def _parse_one(text: str | None, timezone: str, day_first: bool) -> datetime | None:
    """One local timestamp -> aware UTC datetime, None if unreadable. Zoom's formats are tried with
    strptime (fast); anything else goes to :func:`dates.parse_local_datetimes` (same results)."""
    text = (text or "").strip()
    if not re.search(r"[0-9]", text):
        return None
    zone = ZoneInfo(timezone)
    for fmt in _PY_FORMATS:
        if day_first:
            fmt = fmt.replace("%m/%d", "%d/%m")
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if not 1900 <= naive.year <= 2199:
            return None
        utc = naive.replace(tzinfo=zone).astimezone(dt_timezone.utc)  # fold=0: earliest, as polars
        if utc.astimezone(zone).replace(tzinfo=None) != naive:
            return None  # a local time that does not exist (DST gap): null in polars too
        return utc
    return dates.parse_local_datetimes(pl.Series([text]), timezone=timezone, day_first=day_first).item()


_ZOOM_NATIVE_TIME = re.compile(r"^\s*\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}(?: ?[AaPp][Mm])?\s*$")


def _native_default(cells, default: bool | None) -> bool | None:
    """The default reading of ambiguous numeric dates for a file. Zoom itself writes
    ``MM/DD/YYYY hh:mm:ss[ AM]`` (always month-first, always with seconds); a spreadsheet re-save
    drops the seconds and writes the user's locale (``15/08/2022 01:27`` in India), which is what
    the configured default is for."""
    return False if any(_ZOOM_NATIVE_TIME.match(c or "") for c in cells) else default


def _decide_day_first(cells, default: bool | None, *, start: str = "", kind: str = "",
                      not_after: date | None = None) -> bool | None:
    """Day-first from cells in file order (the report-generated cell first): the first whose first
    (second) field is above 12 settles it (cheap: a head usually has one within a few rows); if
    none does, the same rules as for a whole file (:func:`_undecided_order`). None when nothing
    decides and there is no ``default``."""
    cells = list(cells)
    generated = cells[0] if cells else ""
    seen = []
    for cell in cells:
        m = _NUMERIC_DATE.match(cell or "")
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if a <= 31 and b <= 31:
                if a > 12 >= b:
                    return True
                if b > 12 >= a:
                    return False
            seen.append(cell[:10])
    if not seen:
        return default
    try:
        decided = dates.detect_day_first(pl.Series(sorted(set(seen)), dtype=pl.String), None)
    except ValueError:
        decided = None  # cannot happen without a decisive cell; parse_report reports inconsistencies
    if decided is not None:
        return decided
    return _undecided_order(set(seen), generated=generated, start=start, kind=kind, not_after=not_after,
                            native=_native_default(cells[:50], None), default=default)


def _cell_date(cell: str, day_first: bool) -> date | None:
    """The calendar date of a time cell read one way (None: not a date that way, or unreadable)."""
    m = _NUMERIC_DATE.match(cell or "")
    if m:
        a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        y = y + 2000 if y < 100 else y
        try:
            return date(y, b, a) if day_first else date(y, a, b)
        except ValueError:
            return None
    moment = _parse_one(cell, "UTC", day_first) if cell else None
    return moment.date() if moment else None


def _possible_order(day_first: bool, cells: set[str], *, generated: str, start: str, kind: str,
                    not_after: date | None) -> bool:
    """Whether reading the file's numeric dates day-first (or month-first) keeps its times possible:
    the report was not generated after the file reached us (``not_after``), an attended session
    did not start after its report was generated, and nothing in it happened after that (but the
    scheduled start of a registration report may be later). A day of slack on each (the report's
    clock and ours may be in different zones)."""
    slack = timedelta(days=1)
    if kind == "registration":  # a registration report may be downloaded before its session is held
        cells = {c for c in cells if c[:10] != start[:10]}
    made = _cell_date(generated, day_first)
    if made is None:
        return not_after is None or all(
            (d := _cell_date(c, day_first)) is None or d <= not_after + slack for c in cells)
    if not_after is not None and made > not_after + slack:
        return False
    began = _cell_date(start, day_first)
    if began is not None and kind != "registration" and began > made + slack:
        return False
    return all((d := _cell_date(c, day_first)) is None or d <= made + slack for c in cells)


def _undecided_order(cells: set[str], *, generated: str, start: str, kind: str, not_after: date | None,
                     native: bool | None, default: bool | None) -> bool | None:
    """Day-first for a file whose numeric dates could all be read either way (every day and month
    <= 12), from the evidence the file carries: a reading that makes its times impossible (see
    :func:`_possible_order`) is out; Zoom's own ``MM/DD/YYYY hh:mm:ss`` format is month-first
    (:func:`_native_default`); dates written with dots (``03.11.2025``) are day-first in every
    locale that writes them. Else ``default`` (the file name's or the team's stated order): None
    when there is none, and the caller asks."""
    possible = [o for o in (True, False)
                if _possible_order(o, cells, generated=generated, start=start, kind=kind, not_after=not_after)]
    if len(possible) == 1:
        return possible[0]
    if native is not None:
        return native
    numeric = [c for c in cells if _NUMERIC_DATE.match(c)]
    if numeric and all(re.match(r"\s*\d{1,2}\.\d{1,2}\.", c) for c in numeric):
        return True
    return default


def _utc_expr(naive: pl.Expr, lo: datetime | None, hi: datetime | None, timezone: str) -> pl.Expr:
    """Local naive datetimes -> UTC as ``dt.replace_time_zone(..., ambiguous="earliest",
    non_existent="null")`` does; a plain subtraction when the zone's offset is constant over
    [lo, hi] (checked day by day), which is much cheaper."""
    if lo is not None and hi is not None and hi - lo < timedelta(days=400):
        offset = _fixed_offset(lo.date(), hi.date(), timezone)
        if offset is not None:
            return (naive - offset).dt.replace_time_zone("UTC")
    return naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")


@functools.lru_cache(maxsize=1024)
def _fixed_offset(first: date, last: date, timezone: str) -> timedelta | None:
    """The zone's UTC offset if it is the same at every midnight from ``first`` to the day after
    ``last``, else None."""
    zone = ZoneInfo(timezone)
    day, last, offsets = first, last + timedelta(days=1), set()
    while day <= last and len(offsets) < 2:
        offsets.add(datetime.combine(day, time()).replace(tzinfo=zone).utcoffset())
        day += timedelta(days=1)
    return offsets.pop() if len(offsets) == 1 else None


def _strptime_ok(value: str, fmt: str) -> bool:
    try:
        datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def _time_sample(columns: list[pl.Series]) -> tuple[str, ...]:
    """Up to 20 filled cells (not "--") among the first 40 non-null cells of the columns, in order."""
    values: list[str] = []
    for column in columns:
        need = 40 - len(values)
        if need <= 0:
            break
        head = column.head(4 * need).drop_nulls()  # usually enough, without a pass over the whole column
        values += (head if head.len() >= need or column.len() <= 4 * need else column.drop_nulls()).head(need).to_list()
    return tuple([v for v in values if v != "--"][:20])


def _best_format(sample: tuple[str, ...], day_first: bool) -> tuple[str, int]:
    """The Zoom format that reads most of the sample (the first one that reads all of it), and how
    many cells of the sample it reads."""
    formats = [f.replace("%m/%d", "%d/%m") if day_first else f for f in _ZOOM_FORMATS]
    best, best_hits = formats[0], -1
    for fmt in formats:  # strptime reads these directives as polars does; a sample is enough to choose
        hits = sum(1 for v in sample if _strptime_ok(v, fmt))
        if hits > best_hits:
            best, best_hits = fmt, hits
        if hits == len(sample):
            break
    return best, best_hits


def _month_name_format(sample: tuple[str, ...]) -> str | None:
    """The format of the sample's time cells if it has a month name ("Mar 28, 2020 ..."): it reads
    them the same whether the file is day-first or not, and none of the cells it reads looks like a
    numeric date, so they can be read before that decision is made (from the others)."""
    fmt, hits = _best_format(sample, False)
    # the first two formats, when they read all the sample, are chosen before any numeric one is tried
    if fmt.startswith("%b") and ((hits == len(sample) and fmt in _ZOOM_FORMATS[:2]) or fmt == _best_format(sample, True)[0]):
        return fmt
    return None


def _file_day_first(summary_cells: list[str], columns: list[pl.Series], default: bool | None, hint: date | None,
                    source: str, *, start: str = "", kind: str = "", not_after: date | None = None) -> bool | None:
    """Day-first for the whole file, from the summary's time cells (the report-generated cell
    first) and the table cells given: :func:`dates.detect_day_first` (a day above 12, the hint,
    the spread of the dates), else :func:`_undecided_order`; ``default`` (False when None) if no
    cell is a numeric date. None when nothing decides and there is no ``default``."""
    heads = {c[:10] for c in summary_cells}
    if any(c.len() for c in columns):
        heads.update(pl.concat(columns).str.slice(0, 10).unique().drop_nulls().to_list())
    if not any(_NUMERIC_DATE.match(h) for h in heads):
        return bool(default)
    try:
        decided = dates.detect_day_first(pl.Series(sorted(heads), dtype=pl.String), None, hint=hint)
        if decided is not None:
            return decided
        return _undecided_order(heads, generated=summary_cells[0], start=start, kind=kind, not_after=not_after,
                                native=_native_default(summary_cells, None), default=default)
    except ValueError as exc:
        raise ZoomReportError(
            "inconsistent_dates",
            f"The dates in this file mix day-first and month-first formats ({exc}). The file was probably edited in "
            f"Excel. {_NO_EXCEL}", source) from exc


def _time_stats(summary_cells: list[str], summary_parsed: list[datetime | None], columns: list[pl.Series],
                times: list[pl.Series], rows: int) -> ParseStats:
    """:class:`ParseStats` of the summary's time cells and the table columns (``times``: the
    columns read, null where unreadable)."""
    bad = [c for c, p in zip(summary_cells, summary_parsed) if c and c != "--" and p is None]
    cells, ok = sum(1 for c in summary_cells if c and c != "--"), sum(p is not None for p in summary_parsed)
    for column, read in zip(columns, times):
        if read.null_count() == column.null_count():  # every cell read (or blank)
            cells, ok = cells + column.len() - column.null_count(), ok + read.len() - read.null_count()
            continue
        present = column.is_not_null() & (column != "--")
        cells, ok = cells + int(present.sum()), ok + int((present & read.is_not_null()).sum())
        if len(bad) < 3:
            bad += column.filter(present & read.is_null()).head(3).to_list()
    return ParseStats(time_cells=cells, time_parsed=ok, rows=rows, bad_time_examples=tuple(bad[:3]))


def _to_naive(text: pl.Expr, fmt: str) -> pl.Expr:
    return text.str.to_datetime(fmt, strict=False, exact=True, time_unit="us", cache=False)


def _naive_times(columns: list[pl.Series], fmt: str) -> list[pl.Series]:
    """The columns read with one format as naive datetimes (null where it does not match or the
    year is outside 1900-2199, as :func:`dates.parse_local_datetimes` has it)."""
    return _in_years(_per_column(columns, lambda c: _to_naive(c, fmt)))


def _in_years(naive: list[pl.Series]) -> list[pl.Series]:
    """Naive datetimes with the years outside 1900-2199 made null."""
    lo, hi = _bounds(naive)
    if lo is not None and not (1900 <= lo.year and hi.year <= 2199):
        naive = _per_column(naive, lambda n: pl.when(n.dt.year().is_between(1900, 2199)).then(n))
    return naive


def _per_column(columns: list[pl.Series], expr: Callable[[pl.Expr], pl.Expr]) -> list[pl.Series]:
    """``expr(pl.col(...))`` on each column; the columns of one length in one select (in parallel)."""
    out: list[pl.Series] = list(columns)
    groups: dict[int, list[int]] = {}
    for i, column in enumerate(columns):
        groups.setdefault(column.len(), []).append(i)
    for group in groups.values():
        frame = pl.DataFrame({f"c{i}": columns[i] for i in group})
        frame = frame.select(expr(pl.col(f"c{i}")).alias(f"c{i}") for i in group)
        for i in group:
            out[i] = frame.get_column(f"c{i}")
    return out


def _bounds(naive: list[pl.Series]) -> tuple[datetime | None, datetime | None]:
    """The earliest and latest datetime of the columns (None if all are null)."""
    los = [x for x in (n.min() for n in naive) if x is not None]
    his = [x for x in (n.max() for n in naive) if x is not None]
    return min(los, default=None), max(his, default=None)


def _utc_times(columns: list[pl.Series], naive: list[pl.Series], timezone: str,
               day_first: bool) -> tuple[list[pl.Series] | list[pl.Expr], bool]:
    """Like :func:`dates.parse_local_datetimes` on the columns (which reads the cells the format of
    ``naive`` did not), faster for columns in one of Zoom's formats: one pass per column. And True
    when every non-blank cell was read and the zone's offset is fixed over them: then the columns
    are expressions, converted in the caller's select (one pass fewer)."""
    lo, hi = _bounds(naive)
    if all(n.null_count() == c.null_count() for c, n in zip(columns, naive)) and (
            lo is None or (hi - lo < timedelta(days=400) and _fixed_offset(lo.date(), hi.date(), timezone) is not None)):
        return [_utc_expr(pl.lit(n), lo, hi, timezone).cast(UTC) for n in naive], True
    parsed, pending = _per_column(naive, lambda n: _utc_expr(n, lo, hi, timezone).cast(UTC)), []
    for column, times in zip(columns, naive):
        if times.null_count() == column.null_count():  # every cell read (or blank)
            pending.append(pl.Series([], dtype=pl.get_index_type()))
        else:
            pending.append((times.is_null() & column.is_not_null() & (column != "--")).arg_true())
    if any(len(idx) for idx in pending):  # the rest, read as one series in file order
        rest = dates.parse_local_datetimes(pl.concat([c.gather(idx) for c, idx in zip(columns, pending)]),
                                           timezone=timezone, day_first=day_first)
        offset = 0
        for i, idx in enumerate(pending):
            if len(idx):
                parsed[i] = parsed[i].scatter(idx, rest.slice(offset, len(idx)))
                offset += len(idx)
    return parsed, False


def _local_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def _start(cell: str, kind: str, source: str, timezone: str, day_first: bool) -> datetime:
    start = _parse_one(cell, timezone, day_first)
    if start is None:
        want = {"attendee": "Actual Start Time", "registration": "Scheduled Time"}.get(kind, "Start Time")
        found = f"'{_clip(cell)}' could not be read as a date and time" if cell else "it is missing or blank"
        raise ZoomReportError(
            "no_session_date",
            f"The report's summary row has no usable {want} ({found}), so the session date is unknown. {_REDOWNLOAD} "
            "If the file was edited, make sure the summary row under Topic / Webinar ID still holds the start time.", source)
    return start


def date_order_in_name(name: str) -> bool | None:
    """The order of day and month the user wrote into a file's name: True for "day-first", False
    for "month-first" (any case; a space, "_" or "." instead of "-", or none), None without (or
    with both)."""
    found = {m.group(1).lower() for m in _DATE_ORDER.finditer(name)}
    return None if len(found) != 1 else found == {"day"}


def _stated_order(source: str, default: bool | None) -> bool | None:
    """The order the file's name states (:func:`date_order_in_name`), else ``default``."""
    order = date_order_in_name(source)
    return default if order is None else order


# ============================================================================= peek


def peek_report(head: bytes, *, source: str, timezone: str, default_day_first: bool | None,
                not_after: datetime | None = None) -> ReportHead:
    """From the first bytes of a file (at most :data:`PEEK_BYTES`, more are ignored; may end
    mid-line), find kind, topic, webinar ID and start. Raises :class:`ZoomReportError` with code
    ``empty`` / ``not_csv`` / ``not_zoom`` / ``no_session_date``.

    Day-first vs month-first for a numeric start time, from the time cells visible in the head: the
    first whose first (second) field is above 12 settles it; if none does, the rules of
    :func:`dates.detect_day_first` (hint, spread of the dates, ``default_day_first``) on those
    cells. A whole file can hold dates the head does not show, so for a file whose head has no
    decisive date :func:`parse_report` may decide otherwise. The last, possibly cut, line is not
    read, except that a meeting head cut inside its participants header is taken as
    ``meeting_unique_users`` when the third column already starts with "T" (Total Duration)."""
    head = head[:PEEK_BYTES]
    _sniff(head, source, whole=False)
    default_day_first = _stated_order(source, default_day_first)
    text = _decode(head, head=True)
    partial = text.drop_partial_line()
    layout = _layout(text)
    kind = _require_zoom(layout, source)
    kind = _kind(layout, partial) or kind
    summary, by_norm, cell = _summary(layout, kind)
    day_first = default_day_first
    if _NUMERIC_DATE.match(cell):
        day_first = _decide_day_first(_head_time_cells(text, layout), default_day_first, start=cell, kind=kind,
                                      not_after=_local_date(not_after, timezone) if not_after else None)
        if day_first is None:
            raise _ambiguous(cell, source)
    start = _start(cell, kind, source, timezone, bool(day_first))
    return ReportHead(
        kind=kind, topic=by_norm.get("topic") or None,
        webinar_id=_digits(by_norm.get("webinar id") or by_norm.get("meeting id")),
        start_at=start, session_date=_local_date(start, timezone), start_is_scheduled=kind == "registration",
    )


def _head_time_cells(text: _Text, layout: _Layout):
    """The time cells of a head, lazily, in file order."""
    yield layout.generated or ""
    for h, v in zip(layout.summary_header or [], layout.summary_row or []):
        if _norm(h) in _SUMMARY_TIME_COLUMNS:
            yield v
    for t in layout.tables:
        idx = [i for i, h in enumerate(t.header) if _FIELDS.get(_norm(h)) in _TIME_FIELDS]
        if idx and t.header_k + 1 < t.end_k:
            body = text.data[text.offset(t.header_k + 1):text.offset(t.end_k)].decode("utf-8", "replace")
            for row in csv.reader(io.StringIO(body), delimiter=text.delimiter):
                yield from (row[i] for i in idx if i < len(row))


# ============================================================================= parse


# tables smaller than this are read with the csv module: polars' reader has a fixed cost that
# dominates for the few dozen rows of a Host Details section or a small webinar
_SMALL_TABLE_BYTES: Final = 16384


def _read_table(text: _Text, table: _Table, source: str,
                with_answers: bool = False) -> tuple[pl.DataFrame, list[str], dict[str, bool] | None]:
    """The table's rows as String columns c0..cN plus ``line`` (1-based physical line), cells
    stripped, blank -> null, blank rows dropped; the header padded to the columns read; and for a
    large table read ``with_answers``, whether each answer column (see :func:`_map_columns`) may
    hold characters to escape in JSON (else None).

    The number of columns is the header line's (padding included); longer rows are cut to it,
    shorter ones filled with nulls."""
    first, end = table.header_k + 1, table.end_k
    start, stop = text.offset(first), text.offset(end)
    if not table.header or first >= end or _NOT_BLANK.search(text.data, start, stop) is None:
        empty = pl.DataFrame(schema={"line": pl.Int64, **{f"c{i}": pl.String for i in range(len(table.header))}})
        return empty, table.header, None
    small = stop - start < _SMALL_TABLE_BYTES
    if small:
        df, to_escape = _read_small_table(text.data[text.offset(table.header_k):stop], first, text.delimiter), None
    else:
        df, to_escape = _read_large_table(text, table, source, with_answers)
    names = [c for c in df.columns if c != "line"]
    header = (table.header + [""] * len(names))[: len(names)]
    if small or any(df.get_column(c).null_count() == 0 for c in names):  # no blank row
        return df, header, to_escape
    keep = df.select(pl.any_horizontal(pl.col(c).is_not_null() for c in names)).to_series()
    n_keep = int(keep.sum())
    if n_keep == df.height:
        return df, header, to_escape
    if keep.head(n_keep).all():  # blank rows only at the end (blank lines / padding before the next section)
        return df.head(n_keep), header, to_escape
    return df.filter(keep), header, to_escape


def _read_small_table(chunk: bytes, first: int, delimiter: str = ",") -> pl.DataFrame:
    """:func:`_read_table` with the csv module (``chunk`` starts with the header line), without
    blank rows."""
    try:
        body = chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _NotUtf8 from exc
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter)
    width = len(next(reader))
    lines, rows, prev = [], [], reader.line_num
    for row in reader:
        line, prev = first + prev, reader.line_num
        cells = [c.strip() or None for c in row[:width]]
        if any(cells):  # blank rows are dropped
            lines.append(line)
            rows.append(cells + [None] * (width - len(cells)))
    columns = {"line": lines, **{f"c{i}": [r[i] for r in rows] for i in range(width)}}
    return pl.DataFrame(columns, schema={"line": pl.Int64, **{f"c{i}": pl.String for i in range(width)}})


def _read_large_table(text: _Text, table: _Table, source: str,
                      with_answers: bool) -> tuple[pl.DataFrame, dict[str, bool] | None]:
    """:func:`_read_table` with polars' CSV reader, from the header line."""
    first, end = table.header_k + 1, table.end_k
    start, stop = text.offset(first), text.offset(end)
    try:
        df = pl.read_csv(text.data[text.offset(table.header_k):stop], has_header=False, infer_schema=False,
                         truncate_ragged_lines=True, quote_char='"', raise_if_empty=False,
                         separator=text.delimiter).slice(1)
    except pl.exceptions.PolarsError as exc:
        if "utf-8" in str(exc).lower():
            raise _NotUtf8 from exc
        raise ZoomReportError(
            "not_csv", f"The table that starts at line {table.header_k + 1} could not be read as CSV "
            f"({_clip(str(exc), 120)}). {_REDOWNLOAD}", source) from exc
    names = [f"c{i}" for i in range(df.width)]
    df.columns = names
    multiline = df.height != end - first
    if not multiline:
        lines = pl.int_range(first + 1, end + 1, dtype=pl.Int64, eager=True)
    else:  # quoted cells spanning lines: number the records with the csv module
        body = text.data[start:stop].replace(b"\r\n", b"\n").decode("utf-8", "replace")
        reader, numbers, prev = csv.reader(io.StringIO(body, newline=""), delimiter=text.delimiter), [], 0
        for _ in reader:
            numbers.append(first + 1 + prev)
            prev = reader.line_num
        lines = pl.Series((numbers + numbers[-1:] * df.height)[: df.height], dtype=pl.Int64)
    # Stripping every cell costs more than reading the file: only the columns where a cell starts with a byte
    # <= " " (a space...) or is empty (from a test on the cells) or may end with a space (from the bytes) are.
    # In the same pass: the answer cells to escape in JSON (testing them before stripping gives the same
    # answer: stripping removes whitespace, after which escaping is a no-op).
    answers = [c for c, _ in _map_columns((table.header + [""] * df.width)[: df.width])[1]] if with_answers else []
    tests = [pl.col(c).str.contains_any(_JSON_SPECIAL).any().alias(f"json {c}") for c in answers]
    ends = None if multiline or text.delimiter != "," else _rows_ending_in_space(text.data, start, stop, text.starts[first:end])
    if ends is not None:
        ends_in_space = (lambda c: pl.col(c).gather(ends).str.ends_with(" ").any()) if len(ends) else (lambda c: False)
        tests = [((pl.col(c) < "!").any() | ends_in_space(c)).alias(c) for c in names] + tests
    tested = df.select(tests).row(0, named=True) if tests else {}
    strip = names if ends is None else [c for c in names if tested[c]]
    df = df.select(pl.lit(lines).alias("line"), *(pl.col(c).str.strip_chars().replace("", None) if c in strip else pl.col(c)
                                                   for c in names))
    return df, {c: tested[f"json {c}"] for c in answers} if with_answers else None


_BLOCK: Final = 1 << 20  # bytes per step of a numpy pass over a table (no temporaries as large as the table)
# a space before one of these ends a cell (unquoted, or inside its quotes)
_CELL_END: Final = np.zeros(256, dtype=bool)
_CELL_END[[ord(","), ord('"'), ord("\r"), ord("\n")]] = True
# the UTF-8 forms of the non-ASCII characters str.strip_chars() removes (U+0085, U+00A0, U+1680,
# U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000)
_UNICODE_SPACES: Final = re.compile(
    rb"\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80")


def _rows_ending_in_space(data: bytes, start: int, stop: int, line_starts: np.ndarray) -> np.ndarray | None:
    """The rows (0-based; one per line, no cell spans lines) of CSV rows ``data[start:stop]`` where
    a cell may end in a space (a space before a delimiter, quote or line end), or None when cells
    may start or end with another kind of whitespace (tab, non-ASCII space): then every column is
    stripped."""
    chunk = np.frombuffer(data, dtype=np.uint8, count=stop - start, offset=start)
    if not len(chunk) or data.find(b"\t", start, stop) != -1 or (
            chunk.max() >= 128 and _UNICODE_SPACES.search(memoryview(data)[start:stop]) is not None):
        return None
    # a space followed by a byte <= "," (then checked exactly), block by block
    n, found = len(chunk) - 1, [np.flatnonzero(chunk[-1:] == 32) + len(chunk) - 1]
    space, low = np.empty(min(n, _BLOCK), dtype=bool), np.empty(min(n, _BLOCK), dtype=bool)
    for s in range(0, n, _BLOCK):
        k = min(n - s, _BLOCK)
        np.equal(chunk[s:s + k], 32, out=space[:k])
        np.less_equal(chunk[s + 1:s + k + 1], 44, out=low[:k])
        np.logical_and(space[:k], low[:k], out=space[:k])
        if space[:k].any():
            hits = np.flatnonzero(space[:k]) + s
            found.append(hits[_CELL_END[chunk[hits + 1]]])
    return np.unique(np.searchsorted(line_starts - start, np.concatenate(found), side="right") - 1)


def _map_columns(header: list[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """field -> column (the first header that maps to it) and [(column, answer key)] for the rest."""
    fields: dict[str, str] = {}
    answers: list[tuple[str, str]] = []
    keys: set[str] = set()
    for i, h in enumerate(header):
        name = _FIELDS.get(_norm(h))
        if name and name not in fields:
            fields[name] = f"c{i}"
            continue
        key = base = " ".join(h.split()) or f"column {i + 1}"
        n = 2
        while key in keys:
            key, n = f"{base} ({n})", n + 1
        keys.add(key)
        answers.append((f"c{i}", key))
    return fields, answers


_JSON_SPECIAL: Final = ["\\", '"', "\n", "\r", "\t"]  # what _json_escape escapes


def _json_escape(expr: pl.Expr) -> pl.Expr:
    """The body of a JSON string as json.dumps writes it (cells hold no control characters but
    tabs and the line breaks of multi-line cells)."""
    for old, new in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        expr = expr.str.replace_all(old, new, literal=True)
    return expr


def _raw_frame(df: pl.DataFrame, header: list[str], section: str, wanted: tuple[str, ...], with_answers: bool,
               to_escape: dict[str, bool] | None = None) -> tuple[pl.DataFrame, pl.LazyFrame | None, list[str]]:
    """``line``, ``section`` and the ``wanted`` fields as text (null if the file has no such
    column); with ``answers``: a query for every other non-blank cell as a JSON object keyed by
    header (run later, in parallel with other work) and the custom questions (``to_escape``:
    which answer columns may need escaping in JSON, when already known)."""
    fields, answer_cols = _map_columns(header)
    exprs = [pl.col("line"), pl.lit(section).alias("section")]
    exprs += [(pl.col(fields[f]) if f in fields else pl.lit(None, pl.String)).alias(f) for f in wanted]
    frame = df.select(exprs)
    if not with_answers:
        return frame, None, []
    questions = [k for _, k in answer_cols if _norm(k) not in _STANDARD_OPTIONAL and not k.startswith("column ")]
    used = [(c, k) for c, k in answer_cols if df.get_column(c).null_count() < df.height]
    if not used:
        return frame, df.lazy().select(answers=pl.repeat(None, pl.len(), dtype=pl.String)), questions
    if to_escape is None:
        escape = df.select(pl.col(c).str.contains_any(_JSON_SPECIAL).any() for c, _ in used).row(0)
    else:
        escape = [to_escape[c] for c, _ in used]
    values = [_json_escape(pl.col(c)) if esc else pl.col(c) for (c, _), esc in zip(used, escape)]
    keys = [json.dumps(k, ensure_ascii=False) for _, k in used]
    if not any(df.get_column(c).null_count() for c, _ in used):  # every row has every answer: one concat
        openers = [pl.lit(("{" if i == 0 else '", ') + key + ': "') for i, key in enumerate(keys)]
        answers = pl.concat_str(*(e for pair in zip(openers, values) for e in pair), pl.lit('"}'))
    else:  # '"key": "value"' per non-null cell (null stays null and is skipped), joined; "{}" -> null
        body = pl.concat_str([pl.concat_str(pl.lit(key + ': "'), value, pl.lit('"')) for key, value in zip(keys, values)],
                             separator=", ", ignore_nulls=True)
        answers = pl.concat_str(pl.lit("{"), body, pl.lit("}")).replace("{}", None)
    return frame, df.lazy().select(answers.alias("answers")), questions


_FLAG_COLUMNS: Final = ("attended", "is_guest", "in_waiting_room")


def _audience_pass(audience: pl.DataFrame, answer_queries: list[pl.LazyFrame],
                   fmt: str | None) -> tuple[pl.DataFrame, list[bool], bool]:
    """One parallel pass over the audience as text (with the queries for the answers of its parts,
    see :func:`_raw_frame`): the answers, approval status in lower case, minutes as numbers and,
    with ``fmt``, the times as naive datetimes (not yet checked for their years); which Yes/No
    columns hold only "Yes", "No" or nothing (see :func:`_yes_no`); and whether a phone number has
    a dot (see :func:`_warnings`)."""
    converted = {"approval_status": pl.col("approval_status").str.to_lowercase(),
                 "minutes": pl.col("minutes").cast(pl.Float64, strict=False)}
    if fmt:
        converted |= {f: _to_naive(pl.col(f), fmt) for f in _TIME_FIELDS}
    tests = [((pl.col(c) == "Yes") | (pl.col(c) == "No") | pl.col(c).is_null()).all().alias(c) for c in _FLAG_COLUMNS]
    tests.append(pl.col("phone").str.contains(".", literal=True).any().alias("dotted phones"))
    queries = [audience.lazy().select(**converted), audience.lazy().select(tests), *answer_queries]
    frame, tested, *answers = pl.collect_all(queries)
    frame = frame.with_columns(answers=pl.concat(answers).to_series() if answers else pl.Series([], dtype=pl.String))
    *yes_no_only, dotted = tested.row(0)
    return frame, yes_no_only, bool(dotted)


def _yes_no(yes_no_only: list[bool]) -> dict[str, pl.Expr]:
    """Yes/No text -> Boolean (other text -> null), per column of :data:`_FLAG_COLUMNS`: plain
    comparisons when the column holds only "Yes" / "No" (Zoom's spelling), else a case-insensitive
    mapping (y/n, true/false)."""
    out = {}
    for c, only_yes_no in zip(_FLAG_COLUMNS, yes_no_only):
        if only_yes_no:
            out[c] = pl.when(pl.col(c) == "Yes").then(True).when(pl.col(c) == "No").then(False)
        else:
            out[c] = pl.col(c).str.to_lowercase().replace_strict(
                {"yes": True, "no": False, "y": True, "n": False, "true": True, "false": False}, default=None, return_dtype=pl.Boolean)
    return out


def parse_report(content: bytes, *, source: str, timezone: str, default_day_first: bool | None,
                 not_after: datetime | None = None) -> ZoomReport:
    """Parse a whole Zoom report file (see the module docstring and zoom-formats.md).

    Raises :class:`ZoomReportError` with code ``empty``, ``not_csv``, ``not_zoom``, ``truncated``
    (cut off mid-row), ``no_attendee_details`` (an Attendee/Registration report without its
    Attendee Details / Registrant Details section), ``no_session_date`` or ``inconsistent_dates``.
    Day-first vs month-first is decided once for the file from all of its date cells and the
    evidence they carry (``not_after``: when the file reached us; a report is not generated
    later); where nothing decides, the order the file's name states ("day-first" / "month-first",
    :func:`date_order_in_name`), else ``default_day_first``; when that is None too such a file
    raises ``ambiguous_dates`` (one of :data:`WAITING_CODES`: the user says which it is)."""
    _sniff(content, source, whole=True)
    default_day_first = _stated_order(source, default_day_first)
    last_day = _local_date(not_after, timezone) if not_after else None
    try:
        return _parse(_decode(content), source, timezone, default_day_first, last_day)
    except _NotUtf8:
        return _parse(_decode(content, cp1252=True), source, timezone, default_day_first, last_day)


def _ambiguous(cell: str, source: str) -> ZoomReportError:
    m = _NUMERIC_DATE.match(cell)
    example = ""
    if m:
        day_first, month_first = _cell_date(cell, True), _cell_date(cell, False)
        if day_first and month_first:
            example = (f" (the session's start, '{_clip(cell.strip(), 30)}', is either {day_first.day} {day_first:%B %Y} or "
                       f"{month_first.day} {month_first:%B %Y})")
    return ZoomReportError(
        "ambiguous_dates",
        f"Every date in this file can be read two ways{example}, and nothing in the file tells which. This happens "
        "when a report is opened and saved again in Excel, which writes dates the way the computer is set up. "
        "To load it, say which it is: rename the file so that its name contains "
        "'day-first' (when the day comes first, as in India: 11/3 is 11 March) or 'month-first' (as in the US: "
        "11/3 is 3 November), for example 'attendees day-first.csv'. Or download the report from Zoom again and "
        "drop it without opening it in Excel.", source)


def _parse(text: _Text, source: str, timezone: str, default_day_first: bool | None,
           not_after: date | None = None) -> ZoomReport:
    layout = _layout(text)
    kind = _require_zoom(layout, source)
    why = _truncation(text, layout)
    if why:
        raise ZoomReportError("truncated", f"This file is cut off: {why}. The download was interrupted. {_REDOWNLOAD}", source)
    meeting = kind.startswith("meeting")
    if not meeting and not any(t.section in ("attendee_details", "registrant_details") for t in layout.tables):
        what = "Attendee Report" if kind == "attendee" else "Registration Report"
        raise ZoomReportError(
            "no_attendee_details",
            f"This {what} has no 'Attendee Details' section (the list of registrants"
            f"{' and attendees' if kind == 'attendee' else ''}), so there is nobody to import. The download was "
            f"probably cut short or the file was edited. {_REDOWNLOAD}", source)

    # ---- tables, as text
    staff_parts, audience_parts, answer_queries, questions, sections = [], [], [], [], set()
    for t in layout.tables:
        if t.section in ("host", "panelist") and kind == "attendee":
            df, header, _ = _read_table(text, t, source)
            staff_parts.append(_raw_frame(df, header, t.section, _RAW_STAFF, False)[0].rename({"section": "role"}))
        elif (t.section in _AUDIENCE_SECTIONS and not meeting and (t.section != "other_attended" or kind == "attendee")) or (
                t.section == "participants" and meeting):
            df, header, to_escape = _read_table(text, t, source, with_answers=True)
            raw, answers, qs = _raw_frame(df, header, t.section, _RAW_AUDIENCE, True, to_escape)
            audience_parts.append(raw)
            answer_queries.append(answers)
            if df.height:
                sections.add(t.section)
            questions += [q for q in qs if q not in questions]
    audience = pl.concat(audience_parts) if audience_parts else pl.DataFrame(
        schema={"line": pl.Int64, "section": pl.String, **dict.fromkeys(_RAW_AUDIENCE, pl.String)})
    audience = _without_filler(audience)
    staff = pl.concat(staff_parts) if staff_parts else pl.DataFrame(
        schema={"line": pl.Int64, "role": pl.String, **dict.fromkeys(_RAW_STAFF, pl.String)})

    # ---- day-first, once for the file
    summary, by_norm, start_cell = _summary(layout, kind)
    summary_cells = [layout.generated or ""] + [v for h, v in by_norm.items() if h in _SUMMARY_TIME_COLUMNS]
    columns = [staff.get_column("join_at"), staff.get_column("leave_at"), *(audience.get_column(f) for f in _TIME_FIELDS)]
    hint = None
    if start_cell[:1].isalpha():  # "Mar 28, 2020 ...": its date does not depend on the decision
        named = _parse_one(start_cell, timezone, bool(default_day_first))
        hint = _local_date(named, timezone) if named else None
    sample = _time_sample(columns)
    fmt = _month_name_format(sample)
    converted, yes_no_only, dotted_phones = _audience_pass(audience, answer_queries, fmt)
    naive = None
    if fmt:  # read before the decision, which then only looks at the cells the format did not read
        staff_times = _per_column(columns[:2], lambda c: _to_naive(c, fmt))
        naive = _in_years([*staff_times, *(converted.get_column(f) for f in _TIME_FIELDS)])
    unread = columns if naive is None else [
        c.filter(n.is_null() & c.is_not_null()) for c, n in zip(columns, naive) if n.null_count() > c.null_count()]
    day_first = _file_day_first(summary_cells, unread, default_day_first, hint, source, start=start_cell, kind=kind,
                                not_after=not_after)
    if day_first is None:
        raise _ambiguous(start_cell, source)
    start = _start(start_cell, kind, source, timezone, day_first)

    # ---- times and types
    if naive is None:
        naive = _naive_times(columns, _best_format(sample, day_first)[0])
    parsed, all_read = _utc_times(columns, naive, timezone, day_first)
    summary_parsed = [_parse_one(c, timezone, day_first) for c in summary_cells]
    stats = _time_stats(summary_cells, summary_parsed, columns, naive if all_read else parsed, audience.height)
    staff = staff.select(
        pl.col("line"), pl.col("role"), pl.col("display_name"), pl.col("email"),
        join_at=parsed[0], leave_at=parsed[1],
        minutes=pl.col("minutes").cast(pl.Float64, strict=False))
    flags = _yes_no(yes_no_only)
    waiting = flags["in_waiting_room"]
    if kind == "registration":
        attended = pl.lit(None, pl.Boolean)
    elif sections <= {"participants"}:
        attended = ~waiting.fill_null(False)  # waiting-room time is not time in the meeting
    elif sections <= {"other_attended"}:
        attended = pl.lit(True)
    elif "other_attended" not in sections:
        attended = flags["attended"]
    else:
        attended = pl.when(pl.col("section") == "other_attended").then(True).otherwise(flags["attended"])
    audience = audience.select(
        pl.col("line"), pl.col("section"), attended.alias("attended"),
        *(pl.col(c) for c in ("display_name", "first_name", "last_name", "email", "phone")),
        registered_at=parsed[2], approval_status=converted.get_column("approval_status"),
        join_at=parsed[3], leave_at=parsed[4], minutes=converted.get_column("minutes"), is_guest=flags["is_guest"],
        in_waiting_room=waiting, **{c: pl.col(c) for c in ("country", "city", "source_name", "attendance_type")},
        answers=converted.get_column("answers"),
    )

    # ---- summary values
    duration = _float(by_norm.get("actual duration (minutes)") or by_norm.get("duration (minutes)"))
    end_at = None
    if meeting:
        end_at = _parse_one(by_norm.get("end time"), timezone, day_first)
    elif kind == "attendee" and duration is not None:
        end_at = start + timedelta(minutes=duration)
    vintage = None
    if not meeting:
        names = set(by_norm)
        newer = bool(names & {"# registrants", "# cancelled registrants"}) or (
            not names & {"# registered", "# cancelled"} and layout.generated_label.startswith("report generated time"))
        vintage = "newer" if newer else ("2025" if kind == "attendee" and "enable registration" in names else "2020")
    return ZoomReport(
        source=source, kind=kind, vintage=vintage, topic=by_norm.get("topic") or None,
        webinar_id=_digits(by_norm.get("webinar id") or by_norm.get("meeting id")), start_at=start,
        start_is_scheduled=kind == "registration", end_at=end_at,
        duration_minutes=None if kind == "registration" else duration,
        generated_at=summary_parsed[0], session_date=_local_date(start, timezone),
        host_email=((by_norm.get("user email") or "").strip().lower() or None) if meeting else None,
        day_first=day_first, summary=summary, staff=staff, audience=audience, custom_questions=tuple(questions),
        stats=stats, warnings=_warnings(audience, text, stats, dotted_phones),
    )


_FILLER: Final = ("NA", "N/A", "na", "n/a")
_FILLED: Final = ("registered_at", "approval_status")


def _without_filler(audience: pl.DataFrame) -> pl.DataFrame:
    """Zoom's own ``NA`` filler (older Attendee Reports write it in Registration Time and
    Approval Status on a person's rejoin rows) as blank: the value is empty, not unreadable."""
    if not audience.height or not audience.select(pl.any_horizontal(pl.col(_FILLED).is_in(_FILLER)).any()).item():
        return audience
    return audience.with_columns(pl.when(~pl.col(c).is_in(_FILLER)).then(pl.col(c)).alias(c) for c in _FILLED)


def _warnings(audience: pl.DataFrame, text: _Text, stats: ParseStats, dotted_phones: bool) -> tuple[str, ...]:
    out = []
    if text.encoding == "cp1252":
        out.append("The file is not UTF-8 (it was probably re-saved in Excel); it was read as Windows-1252 text.")
    elif text.encoding == "utf-16":
        out.append("The file was saved as UTF-16 ('Unicode Text'); it was converted.")
    if text.removed:
        out.append(f"{_plural(text.removed, 'invisible control character was', 'invisible control characters were')} "
                   "removed (such as a NUL byte inside a name).")
    if dotted_phones:  # both Excel forms have a dot
        phones = audience.get_column("phone")
        phones = phones.filter(phones.str.contains(".", literal=True))
        sci, flt = pl.DataFrame({"p": phones}).select(
            pl.col("p").str.contains(_SCI_PHONE).sum(), pl.col("p").str.contains(_FLOAT_PHONE).sum().alias("f")).row(0)
        if sci:
            out.append(f"{_plural(sci, 'phone number was', 'phone numbers were')} in Excel scientific notation (like "
                       "9.87654321E9): digits are lost, so they cannot be used. " + _PHONES_AS_TEXT)
        if flt:
            out.append(f"{_plural(flt, 'phone number was', 'phone numbers were')} turned into decimals by Excel "
                       "(like 9876543210.0); the numbers are still complete.")
    unread = stats.time_cells - stats.time_parsed
    if unread:
        examples = ", ".join(f"'{_clip(e, 30)}'" for e in stats.bad_time_examples)
        out.append(f"{unread} of {stats.time_cells} date/time cells could not be read (e.g. {examples}).")
    return tuple(out)


# ============================================================================= usability


def assess_usability(report: ZoomReport, *, max_bad_time_share: float = 0.05, max_bad_phone_share: float = 0.5) -> None:
    """Raise :class:`ZoomReportError` ``dates_unusable`` if more than ``max_bad_time_share`` of the
    time cells did not parse, or ``phones_unusable`` if more than ``max_bad_phone_share`` of the
    non-blank phones are corrupt (Excel scientific notation...) or invalid."""
    s = report.stats
    bad = s.time_cells - s.time_parsed
    if s.time_cells and bad > max_bad_time_share * s.time_cells:
        examples = ", ".join(f"'{_clip(e, 30)}'" for e in s.bad_time_examples)
        raise ZoomReportError(
            "dates_unusable",
            f"{bad} of {s.time_cells} dates/times in this file ({bad / s.time_cells:.0%}) could not be read"
            f"{f' (e.g. {examples})' if examples else ''}, so join times and the session date cannot be trusted. "
            f"The file was probably edited in Excel or another program. {_NO_EXCEL}", report.source)
    phones = report.audience.get_column("phone").drop_nulls()
    if phones.len() == 0:
        return
    # Plain mobiles are never unusable: when the others could not reach the threshold even if all
    # were bad, the full normalisation (done again when cleaning) is not needed here.
    # First without removing spaces and hyphens: a cell that is a plain mobile as it is stays one.
    plain = int(phones.str.contains(PLAIN_MOBILE_PATTERN).sum())
    if phones.len() - plain <= max_bad_phone_share * phones.len():
        return
    plain = int(phones.str.replace_many([" ", "-"], ["", ""]).str.contains(PLAIN_MOBILE_PATTERN).sum())
    if phones.len() - plain <= max_bad_phone_share * phones.len():
        return
    status = normalize_phones(phones).get_column("phone_status")
    n_bad = int(status.is_in([CORRUPT, INVALID]).sum())
    if n_bad > max_bad_phone_share * phones.len():
        sci = int(phones.str.contains(_SCI_PHONE).sum())
        what = (f"{sci} of them are in Excel scientific notation (like 9.87654321E9), which loses digits: the file "
                "was opened and saved in Excel" if sci else "they do not look like phone numbers")
        raise ZoomReportError(
            "phones_unusable",
            f"{n_bad} of {phones.len()} phone numbers in this file are unusable ({n_bad / phones.len():.0%}): {what}. "
            + _PHONES_AS_TEXT, report.source)
