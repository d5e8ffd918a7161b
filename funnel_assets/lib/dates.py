"""Timestamps from spreadsheets and Zoom exports.

The text carries no offset (except ISO values that say so explicitly): it is local time in the
account's configured IANA zone (Asia/Kolkata for our first user). Numeric dates are ambiguous
(``08/09/2026``): the day-first/month-first decision is made once per file with
:func:`detect_day_first` and passed to :func:`parse_local_datetimes`.
See /work/shared/docs/zoom-formats.md, quirk 10.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

import polars as pl

__all__ = [
    "DEFAULT_TIMEZONE",
    "UTC_DTYPE",
    "DateOrder",
    "decide_date_order",
    "detect_day_first",
    "parse_in_order",
    "parse_local_datetimes",
    "local_date",
]

DEFAULT_TIMEZONE: Final = "Asia/Kolkata"
UTC_DTYPE: Final = pl.Datetime("us", time_zone="UTC")

# Parsed years outside this range are rejected: chrono's %Y happily reads "15/08/22" as the
# year 22 AD and a bare time as year 1, which must fall through to the %y formats / null.
_MIN_YEAR: Final = 1900
_MAX_YEAR: Final = 2199
_RANK_SAMPLE: Final = 200
# Ambiguous numeric dates: a reading whose dates span at least twice as many days as the other's,
# plus this margin, is taken to be the wrong one.
_SPAN_MARGIN_DAYS: Final = 7

# Numeric date (d/m/y or m/d/y with / - or . separators, 2- or 4-digit year) at the start of a
# cell, followed by a non-digit or the end. Used for day-first detection only.
_NUMERIC_DATE: Final = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:\D|$)"

# Spreadsheet/Zoom times have no fractional seconds. Formats with %.f are much slower even on
# values without a fraction (polars has a fast path only for plain formats), so %.f is only
# used for ISO values, after the plain variant.
_TIMES_24: Final = ("%H:%M:%S", "%H:%M")
_TIMES_12: Final = ("%I:%M:%S %p", "%I:%M %p")  # chrono also accepts "10:45AM"
_TIMES: Final = (*_TIMES_24, *_TIMES_12)

_MONTH_NAME_DATES: Final = ("%B %d, %Y", "%B %d %Y", "%d %B %Y", "%d-%B-%Y", "%d-%B-%y")
_ISO_NAIVE: Final = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)
# %#z accepts "Z", "+05:30", "+0530" and a space before the offset.
_ISO_AWARE: Final = (
    "%Y-%m-%dT%H:%M:%S%#z",
    "%Y-%m-%d %H:%M:%S%#z",
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M%#z",
)


def _with_times(dates: tuple[str, ...] | list[str]) -> list[str]:
    return [f"{d} {t}" for d in dates for t in _TIMES] + list(dates)


def _naive_formats(day_first: bool) -> list[str]:
    order = ("%d", "%m") if day_first else ("%m", "%d")
    numeric = [f"{order[0]}{sep}{order[1]}{sep}{year}" for year in ("%Y", "%y") for sep in "/-."]
    return [*_ISO_NAIVE, *_with_times(_MONTH_NAME_DATES), *_with_times(numeric)]


def detect_day_first(
    values: pl.Series, default_day_first: bool | None, hint: date | None = None, *, compact: bool = True
) -> bool | None:
    """Decide whether a file's numeric dates (``08/09/2026 10:45 AM``) are day-first.

    A first field above 12 anywhere settles day-first; a second field above 12 settles
    month-first; both in one file raises ``ValueError`` (inconsistent file). Otherwise, if
    ``hint`` (a known date, e.g. the webinar start date from the summary row) equals some value
    under exactly one interpretation, that interpretation wins. Otherwise, when one reading
    spreads the dates over far more days than the other (at least twice as many plus a week:
    ``02/01 .. 02/11`` is ten days month-first but ten months day-first), the compact reading
    wins (``compact=False`` turns this off: for a sheet that collects rows over months, where the
    dates are not expected to be close together). Otherwise ``default_day_first`` (None: nothing
    decided, the caller looks further).
    """
    if values.dtype != pl.String:
        values = values.cast(pl.String)
    parts = (
        values.str.extract_groups(_NUMERIC_DATE)
        .struct.unnest()
        .select(
            a=pl.col("1").cast(pl.Int32),
            b=pl.col("2").cast(pl.Int32),
            y=pl.col("3").cast(pl.Int32),
            text=values,
        )
        .drop_nulls(["a", "b", "y"])
        .with_columns(
            y=pl.when(pl.col("y") < 100).then(pl.col("y") + 2000).otherwise(pl.col("y"))
        )
        # Rows that are no date under either reading (e.g. 31/31/2020) prove nothing.
        .filter(pl.col("a").is_between(1, 31) & pl.col("b").is_between(1, 31))
        .filter((pl.col("a") <= 12) | (pl.col("b") <= 12))
    )
    day_first_rows = parts.filter(pl.col("a") > 12)
    month_first_rows = parts.filter(pl.col("b") > 12)
    if day_first_rows.height and month_first_rows.height:
        raise ValueError(
            "Inconsistent date formats in one file: "
            f"{day_first_rows.item(0, 'text')!r} can only be day-first but "
            f"{month_first_rows.item(0, 'text')!r} can only be month-first."
        )
    if day_first_rows.height:
        return True
    if month_first_rows.height:
        return False
    if hint is not None and parts.height:
        y, m, d = hint.year, hint.month, hint.day
        matches = parts.select(
            day_first=((pl.col("a") == d) & (pl.col("b") == m) & (pl.col("y") == y)).any(),
            month_first=((pl.col("a") == m) & (pl.col("b") == d) & (pl.col("y") == y)).any(),
        ).row(0)
        if matches == (True, False):
            return True
        if matches == (False, True):
            return False
    if compact and parts.height > 1:
        # Only ambiguous dates (both fields <= 12): the right reading keeps a file's dates close
        # together (registrations in the weeks before a session), the wrong one scatters them
        # over months (02/01..02/11 is 1-11 Feb, or 2 Jan..2 Nov).
        spans = parts.select(
            day_first=(pl.date(pl.col("y"), pl.col("b"), pl.col("a")).max() - pl.date(pl.col("y"), pl.col("b"), pl.col("a")).min()).dt.total_days(),
            month_first=(pl.date(pl.col("y"), pl.col("a"), pl.col("b")).max() - pl.date(pl.col("y"), pl.col("a"), pl.col("b")).min()).dt.total_days(),
        ).row(0)
        small, large = sorted(spans)
        if large >= 2 * small + _SPAN_MARGIN_DAYS:
            return spans[0] < spans[1]
    return default_day_first


def _nulls(n: int, name: str = "") -> pl.Series:
    return pl.Series(name, [], dtype=UTC_DTYPE).extend_constant(None, n)


def _parse_with(text: pl.Series, fmt: str, timezone: str) -> pl.Series:
    """Parse ``text`` with one format (nulls where it does not match) and return UTC."""
    aware = "%#z" in fmt or "%z" in fmt or "%:z" in fmt
    parsed = text.str.to_datetime(
        fmt, strict=False, exact=True, time_unit="us", time_zone="UTC" if aware else None
    )
    if not aware:
        parsed = parsed.dt.replace_time_zone(
            timezone, ambiguous="earliest", non_existent="null"
        ).dt.convert_time_zone("UTC")
    year = parsed.dt.year()
    if year.is_between(_MIN_YEAR, _MAX_YEAR).fill_null(True).all():
        return parsed.cast(UTC_DTYPE)
    in_range = year.is_between(_MIN_YEAR, _MAX_YEAR).fill_null(False)
    return parsed.cast(UTC_DTYPE).zip_with(in_range, _nulls(parsed.len()))


def _rank_formats(text: pl.Series, formats: list[str], timezone: str) -> list[str]:
    """Order formats by how many of a small sample they parse (ties keep the given order)."""
    if text.len() <= _RANK_SAMPLE:
        return formats  # ranking would cost as much as just trying every format
    sample = text.head(10 * _RANK_SAMPLE).unique(maintain_order=True).head(_RANK_SAMPLE)
    hits = [_parse_with(sample, fmt, timezone).is_not_null().sum() for fmt in formats]
    order = sorted(range(len(formats)), key=lambda i: -hits[i])  # stable: ties keep order
    return [formats[i] for i in order]


def _parse_pending(
    text: pl.Series,
    pending: pl.Series,
    result: pl.Series,
    formats: list[str],
    timezone: str,
) -> tuple[pl.Series, pl.Series]:
    """Try each format on the still-unparsed rows only; scatter hits into ``result``."""
    for fmt in _rank_formats(text.gather(pending), formats, timezone):
        if pending.len() == 0:
            break
        whole = pending.len() == text.len()  # first pass over a column: skip the gather
        parsed = _parse_with(text if whole else text.gather(pending), fmt, timezone)
        ok = parsed.is_not_null()
        n_ok = ok.sum()
        if n_ok == 0:
            continue
        if whole and result.null_count() == result.len():
            result = parsed.alias(result.name)  # nulls where not ok, which is what we want
        else:
            result = result.scatter(pending.filter(ok), parsed.filter(ok))
        pending = pending.filter(~ok)
    return result, pending


def parse_local_datetimes(
    values: pl.Series, *, timezone: str, day_first: bool
) -> pl.Series:
    """Parse spreadsheet/Zoom timestamps to ``Datetime("us", "UTC")``, null where unparseable.

    Naive text is local time in ``timezone`` (ambiguous DST times take the earliest instant,
    non-existent ones become null); ISO values with ``Z`` or an explicit offset keep their
    offset. Numeric dates are read day-first or month-first as told (see
    :func:`detect_day_first`). Handles ``Mar 28, 2020 08:07:27``, ``Mar 28, 2020 8:07 AM``,
    ``08/09/2026 10:45:00 AM``, ``15/08/2022 01:27``, ``3/1/2025 10:20:30``, ISO with or
    without ``T``/offset, date-only values (local midnight); ``--`` and blanks give null.

    Vectorised: each candidate format is one ``str.to_datetime(strict=False)`` pass, applied
    only to rows no earlier format parsed, with formats ordered by hits on a sample, so a
    single-format column costs about one parse.
    """
    if values.dtype != pl.String:
        values = values.cast(pl.String)
    n = values.len()
    result = _nulls(n, values.name)
    text = values.str.strip_chars()
    # Without a digit it cannot be a timestamp ("--", "", "N/A"): skip those entirely.
    pending = text.str.contains(r"[0-9]").fill_null(False).arg_true()
    if pending.len() == 0:
        return result

    formats = [*_ISO_AWARE, *_naive_formats(day_first)]
    result, pending = _parse_pending(text, pending, result, formats, timezone)
    if pending.len():
        # Second chance for the rare messy leftovers: invisible characters, odd whitespace,
        # "a.m."/"p.m.". Only the leftover rows pay for these regex replacements.
        leftover = (
            text.gather(pending)
            .str.replace_all(r"[\x00-\x08\x0E-\x1F\x7F\u200B\u2060\uFEFF]", "")
            .str.replace_all(r"\s+", " ")
            .str.replace_all(r"(?i)\b([ap])\.?\s?m\.?$", "${1}M")
            .str.strip_chars()
        )
        changed = leftover != text.gather(pending)
        if changed.any():
            retry_text = text.scatter(pending, leftover)
            result, _ = _parse_pending(
                retry_text, pending.filter(changed), result, formats, timezone
            )
    return result


def local_date(utc_series: pl.Series, timezone: str) -> pl.Series:
    """Calendar date (``pl.Date``) of each instant in ``timezone`` (naive input is taken as
    UTC). Use it to bucket events by the team's day, not the UTC day."""
    series = utc_series
    if isinstance(series.dtype, pl.Datetime) and series.dtype.time_zone is None:
        series = series.dt.replace_time_zone("UTC")
    return series.dt.convert_time_zone(timezone).dt.date()


# ------------------------------------------------------------------------------ per-file order


@dataclass(frozen=True)
class DateOrder:
    """How a file writes its numeric dates, and what decided it.

    ``decided_by`` is ``"file"`` (a first field above 12 somewhere proves day-first, a second
    field above 12 month-first), ``"default"`` (no date in the file decides: the configured
    order is used) or ``"mixed"`` (the file proves both: each date that can be read only one way
    is read that way, one that could be either is not read, see :func:`parse_in_order`).
    """

    day_first: bool
    decided_by: str
    day_first_example: str | None = None
    """e.g. ``row 5: 25/11/2026``: the first date that can only be day-first."""
    month_first_example: str | None = None

    @property
    def label(self) -> str:
        """``day-first``, ``month-first`` or ``mixed`` (for metadata)."""
        if self.decided_by == "mixed":
            return "mixed"
        return "day-first" if self.day_first else "month-first"

    def describe(self) -> str:
        """Plain words for metadata and logs: the order and what decided it."""
        if self.decided_by == "file":
            return f"{self.label}, shown by the file ({self.day_first_example or self.month_first_example})"
        if self.decided_by == "mixed":
            return (
                f"mixed: {self.day_first_example} can only be day-first but {self.month_first_example} can only be "
                "month-first; dates that could be either are not read"
            )
        return f"{self.label}, the configured default: no date in the file shows the order"

    def why_ambiguous(self) -> str:
        """Why a date that could be either is not read (``decided_by == "mixed"`` only)."""
        return (
            f"the file has dates that can only be day-first ({self.day_first_example}) and dates that can only be "
            f"month-first ({self.month_first_example})"
        )


def decide_date_order(
    values: pl.Series, *, default_day_first: bool, rows: pl.Series | None = None, row_label: str = "row"
) -> DateOrder:
    """Decide a file's day-first/month-first order from the evidence in ``values`` (one file's
    date column, or several columns of one file concatenated, with ``rows`` their row numbers).

    A first field above 12 proves day-first (``25/11/2026``), a second field above 12 proves
    month-first (``11/25/2026``); with no such date the default applies (``decided_by ==
    "default"``); with both, the file is ``mixed`` and examples of each are kept for the message.
    No majority vote: in a mixed file a date like ``01/12/2026`` cannot be known.
    """
    if values.dtype != pl.String:
        values = values.cast(pl.String)
    numbers = rows if rows is not None else pl.Series(range(1, values.len() + 1))
    parts = (
        values.str.extract_groups(_NUMERIC_DATE)
        .struct.unnest()
        .select(
            a=pl.col("1").cast(pl.Int32),
            b=pl.col("2").cast(pl.Int32),
            text=values.str.strip_chars(),
            row=numbers,
        )
        .drop_nulls(["a", "b"])
        .filter(pl.col("a").is_between(1, 31) & pl.col("b").is_between(1, 31))
    )
    day_first_rows = parts.filter((pl.col("a") > 12) & (pl.col("b") <= 12))
    month_first_rows = parts.filter((pl.col("b") > 12) & (pl.col("a") <= 12))

    def example(frame: pl.DataFrame) -> str | None:
        if not frame.height:
            return None
        return f"{row_label} {frame.item(0, 'row')}: {frame.item(0, 'text')}"

    d, m = example(day_first_rows), example(month_first_rows)
    if d and m:
        return DateOrder(default_day_first, "mixed", d, m)
    if d or m:
        return DateOrder(bool(d), "file", d, m)
    return DateOrder(default_day_first, "default")


def parse_in_order(values: pl.Series, order: DateOrder, *, timezone: str) -> tuple[pl.Series, pl.Series]:
    """:func:`parse_local_datetimes` in a file's :class:`DateOrder`.

    Returns ``(parsed, either)``. In a mixed file a date is read the only way it can be read
    (``25/11/2026``, ``11/25/2026``, ``05/05/2026``, ISO); one that reads as two different dates
    (``01/12/2026``) is null, and ``either`` holds its two readings (``01 Dec 2026 or 12 Jan 2026``,
    local days) so the caller can say so. Elsewhere ``either`` is all null.
    """
    if order.decided_by != "mixed":
        parsed = parse_local_datetimes(values, timezone=timezone, day_first=order.day_first)
        return parsed, pl.Series(values.name, [None] * values.len(), dtype=pl.String)
    day_first = parse_local_datetimes(values, timezone=timezone, day_first=True)
    month_first = parse_local_datetimes(values, timezone=timezone, day_first=False)
    differ = (day_first.is_not_null() & month_first.is_not_null() & (day_first != month_first)).fill_null(False)
    parsed = day_first.fill_null(month_first).zip_with(~differ, _nulls(values.len(), values.name))
    readings = (
        local_date(day_first, timezone).dt.strftime("%d %b %Y") + " or " + local_date(month_first, timezone).dt.strftime("%d %b %Y")
    )
    either = readings.zip_with(differ, pl.Series([None] * values.len(), dtype=pl.String)).alias(values.name)
    return parsed.alias(values.name), either
