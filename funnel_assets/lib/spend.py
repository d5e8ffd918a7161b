"""The ad-spend sheet (seed 002, Phase 3): read its CSV export, type it, total it per funnel.

Phase 3.1 imports the spend sheet (``Perf_import``: 43 columns, ``date_time`` ... ``Funnel``);
Phase 3.2 sums ``cost`` per funnel (``SUMIFS(Perf_import!F:F, Perf_import!AQ:AQ, funnel)``).
Here:

* :func:`read_spend_sheet` parses the export into one string column per sheet column (snake_case
  names, header matched ignoring case, spaces and underscores) plus ``sheet_row``.
* :func:`clean_spend` types it: ``date_time`` → ``day`` (the team's local date; day-first or
  month-first decided by the file's own dates, see :func:`funnel_assets.lib.dates.decide_date_order`),
  numbers with thousands separators, ``₹``/``Rs``/``INR`` or accounting brackets → Int64 / Float64,
  with the decimal mark the file shows (``1,234.50`` or ``1.234,50``, see
  :mod:`funnel_assets.lib.numbers`; a blank metric is 0, as SUMIFS counts it), a blank
  ``Funnel`` → "Other Sources (Miscellaneous)" with ``funnel_blank`` set. A row whose date or cost
  cannot be read, or could be read two ways (``01/12/2026`` in a sheet with both date orders,
  ``1.234`` when nothing shows the decimal mark), is a *reject* (with the sheet row number and a
  plain reason), never dropped; an
  unreadable non-key number becomes null and is named in the row's ``problem``.
* :func:`spend_by_funnel` is Phase 3.2 per day; :func:`funnel_totals` over all days.

Plain polars; no Dagster.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Sequence

import polars as pl

from funnel_assets.lib.config import OTHER_SOURCES_FUNNEL
from funnel_assets.lib.dates import DateOrder, decide_date_order, local_date, parse_in_order
from funnel_assets.lib.fetch import decode_csv_bytes
from funnel_assets.lib.numbers import DecimalMark, ReadNumbers, read_numbers
from funnel_assets.lib.text import header_key

__all__ = [
    "AD_SPEND_SCHEMA",
    "BY_FUNNEL_SCHEMA",
    "CleanedSpend",
    "REJECTS_SCHEMA",
    "raw_rows_json",
    "SHEET_COLUMNS",
    "SpendQuality",
    "SpendSheetError",
    "TOTALS_SCHEMA",
    "clean_spend",
    "funnel_totals",
    "read_spend_sheet",
    "spend_by_funnel",
    "spend_quality",
]

# Sheet header (seed 002 Phase 3.1, in order) → warehouse column.
SHEET_COLUMNS: dict[str, str] = {
    "date_time": "date_time",
    "campaign": "campaign",
    "ad_group": "ad_group",
    "impressions": "impressions",
    "clicks": "clicks",
    "cost": "cost",
    "account": "account",
    "video_views": "video_views",
    "platform": "platform",
    "AccountDescriptiveName": "account_descriptive_name",
    "CampaignType": "campaign_type",
    "Objective": "objective",
    "Category": "category",
    "subCategory": "sub_category",
    "goalID": "goal_id",
    "goalName": "goal_name",
    "region": "region",
    "Installs": "installs",
    "SignUps": "sign_ups",
    "Purchases": "purchases",
    "Revenue": "revenue",
    "Web Purchases": "web_purchases",
    "Web Revenue": "web_revenue",
    "Subscribers": "subscribers",
    "Super Leads": "super_leads",
    "Skill Leads": "skill_leads",
    "Online Purchases": "online_purchases",
    "Online Revenue": "online_revenue",
    "Lead Purchases": "lead_purchases",
    "Lead Revenue": "lead_revenue",
    "Pass Purchases": "pass_purchases",
    "Pass Revenue": "pass_revenue",
    "Pass Pro Purchases": "pass_pro_purchases",
    "Pass Pro Revenue": "pass_pro_revenue",
    "SuperCoaching Purchases": "super_coaching_purchases",
    "SuperCoaching Revenue": "super_coaching_revenue",
    "SkillAcademy Purchases": "skill_academy_purchases",
    "SkillAcademy Revenue": "skill_academy_revenue",
    "Book Purchases": "book_purchases",
    "Book Revenue": "book_revenue",
    "Total Purchases": "total_purchases",
    "Total Revenue": "total_revenue",
    "Funnel": "funnel",
}
HEADER_BY_COLUMN = {v: k for k, v in SHEET_COLUMNS.items()}
REQUIRED = ("date_time", "campaign", "cost", "funnel")

AMOUNT_COLUMNS = ("cost", *(c for c in SHEET_COLUMNS.values() if c.endswith("_revenue") or c == "revenue"))
COUNT_COLUMNS = (
    "impressions", "clicks", "video_views", "installs", "sign_ups", "subscribers", "super_leads", "skill_leads",
    *(c for c in SHEET_COLUMNS.values() if c.endswith("purchases")),
)
TEXT_COLUMNS = tuple(c for c in SHEET_COLUMNS.values() if c not in AMOUNT_COLUMNS and c not in COUNT_COLUMNS)

AD_SPEND_SCHEMA: dict[str, pl.DataType] = {
    "spend_row_id": pl.String,
    "day": pl.Date,
    **{c: (pl.Float64 if c in AMOUNT_COLUMNS else pl.Int64 if c in COUNT_COLUMNS else pl.String) for c in SHEET_COLUMNS.values()},
    "funnel_as_written": pl.String,
    "funnel_blank": pl.Boolean,
    "problem": pl.String,
    "sheet_row": pl.Int64,
}
REJECTS_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date,
    "sheet_row": pl.Int64,
    "reason_code": pl.String,
    "reason": pl.String,
    "date_time": pl.String,
    "campaign": pl.String,
    "cost": pl.String,
    "funnel": pl.String,
    "raw_row": pl.String,
}
BY_FUNNEL_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date,
    "funnel": pl.String,
    "cost": pl.Float64,
    "impressions": pl.Int64,
    "clicks": pl.Int64,
    "campaigns": pl.Int64,
    "rows": pl.Int64,
}
TOTALS_SCHEMA: dict[str, pl.DataType] = {
    "funnel": pl.String,
    "cost": pl.Float64,
    "impressions": pl.Int64,
    "clicks": pl.Int64,
    "first_day": pl.Date,
    "last_day": pl.Date,
    "days": pl.Int64,
    "share_of_cost": pl.Float64,
}

# Google Sheets date serial numbers (days since 1899-12-30) of plausible days: 1982 .. 2119.
_SERIAL_MIN, _SERIAL_MAX = 30000, 80000


class SpendSheetError(Exception):
    """The export as a whole cannot be read (not a row-level problem)."""


@dataclass(frozen=True)
class RawSpend:
    frame: pl.DataFrame
    """One String column per sheet column (absent ones all null) plus ``sheet_row``."""
    missing_optional_columns: tuple[str, ...]
    """Sheet headers of the optional columns the export lacks."""
    extra_columns: tuple[str, ...]
    """Headers the export has beyond Phase 3.1's (ignored)."""
    blank_rows: int
    """Rows with every cell blank (trailing empty sheet rows), skipped."""


@dataclass(frozen=True)
class CleanedSpend:
    spend: pl.DataFrame  # AD_SPEND_SCHEMA
    rejects: pl.DataFrame  # REJECTS_SCHEMA
    day_first: bool
    date_order: DateOrder
    """How the sheet writes its dates and what decided it (the file, or the configured default)."""
    decimal_mark: DecimalMark
    """How the sheet writes its numbers (1,234.50 or 1.234,50) and what decided it."""


_KEY_TO_COLUMN = {header_key(h): c for h, c in SHEET_COLUMNS.items()}


def read_spend_sheet(content: bytes, *, location: str) -> RawSpend:
    """Parse the export's bytes into canonical string columns (cells as written, blanks null)."""
    text = decode_csv_bytes(content)
    if not text.strip():
        raise SpendSheetError(f"{location}: the spend export is empty; check the sheet still has its header row")
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise SpendSheetError(f"{location}: is not a readable CSV export ({exc}); download the spend sheet as CSV again") from exc
    header = [h.strip() for h in records[0]]
    found: dict[str, int] = {}
    extra: list[str] = []
    for i, name in enumerate(header):
        column = _KEY_TO_COLUMN.get(header_key(name)) if name else None
        if column is None:
            if name:
                extra.append(name)
        else:
            found.setdefault(column, i)
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise SpendSheetError(
            f"{location}: the spend sheet has no {', '.join(HEADER_BY_COLUMN[c] for c in missing)} column(s); "
            f"found columns: {', '.join(h for h in header if h) or '(none)'}. Restore the Phase 3.1 headers "
            f"(date_time, campaign, ad_group, impressions, clicks, cost, ..., Funnel) and run again"
        )

    def cell(row: list[str], i: int) -> str | None:
        if i >= len(row):
            return None
        value = row[i].strip()
        return value or None

    rows: list[list[str]] = []
    sheet_rows: list[int] = []
    blank = 0
    for number, record in enumerate(records[1:], start=2):
        if not any(c.strip() for c in record):
            blank += bool(record)  # [] is a bare line break (e.g. the file's last newline)
            continue
        rows.append(record)
        sheet_rows.append(number)
    columns = {
        c: ([cell(r, found[c]) for r in rows] if c in found else [None] * len(rows)) for c in SHEET_COLUMNS.values()
    }
    frame = pl.DataFrame(
        {**columns, "sheet_row": sheet_rows},
        schema={**{c: pl.String for c in SHEET_COLUMNS.values()}, "sheet_row": pl.Int64},
    )
    missing_optional = tuple(HEADER_BY_COLUMN[c] for c in SHEET_COLUMNS.values() if c not in found)
    return RawSpend(frame, missing_optional, tuple(extra), blank)


# ------------------------------------------------------------------------------ typing


_BLANK_NUMBER = ("", "-", "—", "–")  # blank, or how Sheets' accounting format shows zero


def _read_numbers(raw: pl.DataFrame) -> ReadNumbers:
    """Every amount and count column, with one decimal convention for the whole sheet."""
    columns = (*AMOUNT_COLUMNS, *COUNT_COLUMNS)
    text = raw.select(
        "sheet_row",
        *[pl.when(pl.col(c).str.strip_chars().is_in(_BLANK_NUMBER)).then(None).otherwise(pl.col(c).str.strip_chars()).alias(c)
          for c in columns],
    )
    return read_numbers(text, columns, row_column="sheet_row", labels=HEADER_BY_COLUMN)


def _typed_number(numbers: ReadNumbers, column: str, *, integer: bool) -> tuple[pl.Series, pl.Expr]:
    """(value, problem) for one numeric column: blank → 0; unreadable or ambiguous → null + a problem text."""
    value = numbers.values[column]
    blank = ~numbers.unreadable[column] & numbers.ambiguous[column].is_null() & value.is_null()
    either = pl.lit(numbers.ambiguous[column])
    bad = pl.lit(numbers.unreadable[column])
    if integer:
        fractional = value.is_not_null() & (value != value.round(0))
        bad = bad | pl.lit(fractional)
        value = value.round(0).zip_with(~fractional, pl.Series([None] * value.len(), dtype=pl.Float64))
        kind = "a whole number"
    else:
        kind = "a number"
    dtype = pl.Int64 if integer else pl.Float64
    out = value.zip_with(~blank, pl.Series([0] * value.len(), dtype=pl.Float64)).cast(dtype).alias(column)
    header = HEADER_BY_COLUMN[column]
    problem = (
        pl.when(bad).then(pl.format("{} {} is not {}", pl.lit(header), pl.col(column), pl.lit(kind)))
        .when(either.is_not_null()).then(
            pl.format(
                "{} {} could be {}: {}; write it without a thousands separator",
                pl.lit(header), pl.col(column), either, pl.lit(numbers.decimal_mark.why_ambiguous()),
            )
        )
    )
    return out, problem


def _parse_days(values: pl.Series, order: DateOrder, *, timezone: str) -> tuple[pl.Series, pl.Series]:
    """``date_time`` → local Date (and the two readings of a date that could be either, see
    :func:`parse_in_order`). Sheets serial numbers (45901) are read as dates too."""
    parsed_at, either = parse_in_order(values, order, timezone=timezone)
    parsed = local_date(parsed_at, timezone)
    serial_days = values.str.strip_chars().str.extract(r"^(\d{5})(?:\.0+)?$", 1).cast(pl.Int64, strict=False)
    ok = serial_days.is_between(_SERIAL_MIN, _SERIAL_MAX).fill_null(False)
    from_serial = (pl.lit(date(1899, 12, 30)).cast(pl.Date) + pl.duration(days=pl.lit(serial_days)))
    serial_dates = pl.select(from_serial.cast(pl.Date)).to_series()
    return parsed.zip_with(~ok, serial_dates).alias("day"), either


def _canonical_funnels(funnel: pl.Series, known_funnels: Sequence[str]) -> pl.Series:
    """Trim and collapse spaces; a funnel matching a known one ignoring case takes its spelling
    (SUMIFS matches text case-insensitively, so "acca webinar" is the ACCA Webinar funnel)."""
    tidy = funnel.str.replace_all(r"\s+", " ").str.strip_chars()
    spelling = {f.strip().lower(): f.strip() for f in [OTHER_SOURCES_FUNNEL, *known_funnels] if f and f.strip()}
    lower = tidy.str.to_lowercase()
    return lower.replace_strict(spelling, default=tidy, return_dtype=pl.String)


def _row_ids(frame: pl.DataFrame) -> list[str]:
    """Stable id per spend row: hash of (day, campaign, ad group, account, platform) and the
    occurrence number, so a corrected cost keeps its row's id."""
    seen: dict[str, int] = {}
    ids = []
    key_columns = ["day", "campaign", "ad_group", "account", "platform"]
    for row in frame.select(key_columns).rows():
        digest = hashlib.sha1("\x1f".join("" if v is None else str(v) for v in row).encode()).hexdigest()[:16]
        n = seen.get(digest, 0)
        seen[digest] = n + 1
        ids.append(digest if n == 0 else f"{digest}-{n + 1}")
    return ids


def raw_rows_json(rows: pl.DataFrame) -> pl.Series:
    """Each row's non-blank sheet cells as JSON keyed by the sheet's headers (``raw_row`` of a reject)."""
    columns = list(SHEET_COLUMNS.values())
    return pl.Series(
        [json.dumps({HEADER_BY_COLUMN[c]: v for c, v in zip(columns, r) if v is not None}, ensure_ascii=False)
         for r in rows.select(columns).rows()],
        dtype=pl.String,
    )


def clean_spend(
    raw: pl.DataFrame,
    *,
    timezone: str,
    known_funnels: Sequence[str] = (),
    day_first_default: bool = False,
    first_date: date | None = None,
) -> CleanedSpend:
    """Type every row; rows whose date or cost cannot be used go to ``rejects`` with a reason.

    Reject reasons: ``date_missing``, ``date_unreadable``, ``cost_unreadable`` and
    ``before_start`` (a day before ``first_date``, the first partition; no partition holds it).
    Rejects keep ``day`` when it was readable (so they belong to that day's partition), else null.
    """
    order = decide_date_order(raw["date_time"], default_day_first=day_first_default, rows=raw["sheet_row"])
    day_first = order.day_first
    day, day_either = _parse_days(raw["date_time"], order, timezone=timezone)
    numbers = _read_numbers(raw)
    typed = {c: _typed_number(numbers, c, integer=c in COUNT_COLUMNS) for c in (*AMOUNT_COLUMNS, *COUNT_COLUMNS)}
    funnel = _canonical_funnels(raw["funnel"], known_funnels)

    df = raw.with_columns(
        day=day,
        __day_either=day_either,
        __cost_unreadable=numbers.unreadable["cost"],
        __cost_either=numbers.ambiguous["cost"],
        __funnel=funnel,
        **{f"__v_{c}": value for c, (value, _) in typed.items()},
    )
    df = df.with_columns(
        __problem=pl.concat_str([problem for c, (_, problem) in typed.items() if c != "cost"], separator="; ", ignore_nulls=True),
    )
    if order.decided_by == "mixed":
        how_dates = "with the month's name (1 Sep 2026) or as 2026-09-01, since the sheet mixes day-first and month-first dates"
    else:
        how_dates = "day first, like 01/09/2026" if day_first else "like 2026-09-01 or 09/01/2026 (month first)"
    rules: list[tuple[str, pl.Expr, pl.Expr]] = [
        ("date_missing", pl.col("day").is_null() & pl.col("date_time").is_null(),
         pl.lit("date_time is empty; fill in the day the money was spent")),
        ("date_ambiguous", pl.col("__day_either").is_not_null(),
         pl.format("date_time {} could be {}: {}; write it with the month's name (1 Sep 2026) or as 2026-09-01",
                   pl.col("date_time"), pl.col("__day_either"), pl.lit(order.why_ambiguous()))),
        ("date_unreadable", pl.col("day").is_null(),
         pl.format("date_time {} could not be read; write it {}", pl.col("date_time"), pl.lit(how_dates))),
        ("cost_unreadable", pl.col("__cost_unreadable"),
         pl.format("cost {} is not a number; write the amount in rupees, like 1234.50", pl.col("cost"))),
        ("cost_ambiguous", pl.col("__cost_either").is_not_null(),
         pl.format("cost {} could be {}: {}; write it without a thousands separator, like the sheet's other amounts",
                   pl.col("cost"), pl.col("__cost_either"), pl.lit(numbers.decimal_mark.why_ambiguous()))),
    ]
    if first_date is not None:
        rules.append((
            "before_start", pl.col("day") < first_date,
            pl.lit(f"spent before the pipeline's first day {first_date}; set FUNNEL_START_DATE earlier to load it"),
        ))
    code, reason = pl.when(rules[0][1]).then(pl.lit(rules[0][0])), pl.when(rules[0][1]).then(rules[0][2])
    for name, condition, text in rules[1:]:
        code, reason = code.when(condition).then(pl.lit(name)), reason.when(condition).then(text)
    df = df.with_columns(__reason_code=code.otherwise(None), __reason=reason.otherwise(None))

    bad = df.filter(pl.col("__reason_code").is_not_null())
    rejects = bad.select(
        day=pl.when(pl.col("__reason_code") != "before_start").then(pl.col("day")),
        sheet_row=pl.col("sheet_row"),
        reason_code=pl.col("__reason_code"),
        reason=pl.col("__reason"),
        date_time=pl.col("date_time"),
        campaign=pl.col("campaign"),
        cost=pl.col("cost"),
        funnel=pl.col("funnel"),
        raw_row=raw_rows_json(bad),
    ).cast(REJECTS_SCHEMA).sort("sheet_row")

    good = df.filter(pl.col("__reason_code").is_null())
    typed = good.with_columns(
        *[pl.col(f"__v_{c}").alias(c) for c in typed],
        problem=pl.col("__problem"),
        funnel_as_written=pl.col("funnel"),
        funnel_blank=pl.col("__funnel").is_null() | (pl.col("__funnel") == ""),
    ).with_columns(
        funnel=pl.when(pl.col("funnel_blank")).then(pl.lit(OTHER_SOURCES_FUNNEL)).otherwise(pl.col("__funnel")),
        problem=pl.when(pl.col("problem") == "").then(None).otherwise(pl.col("problem")),
        **{c: pl.col(c).str.replace_all(r"\s+", " ") for c in TEXT_COLUMNS if c not in ("funnel",)},
    )
    typed = typed.with_columns(spend_row_id=pl.Series(_row_ids(typed), dtype=pl.String))
    spend = typed.select(list(AD_SPEND_SCHEMA)).cast(AD_SPEND_SCHEMA).sort("day", "sheet_row")
    return CleanedSpend(
        spend=spend, rejects=rejects, day_first=day_first, date_order=order, decimal_mark=numbers.decimal_mark
    )


# ------------------------------------------------------------------------------ Phase 3.2


def spend_by_funnel(spend: pl.DataFrame) -> pl.DataFrame:
    """Phase 3.2 per day: ``SUMIFS(cost, Funnel = f)`` for each day and funnel (cents rounded)."""
    if spend.is_empty():
        return pl.DataFrame(schema=BY_FUNNEL_SCHEMA)
    return (
        spend.group_by("day", "funnel")
        .agg(
            cost=pl.col("cost").fill_null(0.0).sum().round(2),
            impressions=pl.col("impressions").fill_null(0).sum(),
            clicks=pl.col("clicks").fill_null(0).sum(),
            campaigns=pl.col("campaign").drop_nulls().n_unique(),
            rows=pl.len(),
        )
        .cast(BY_FUNNEL_SCHEMA)
        .select(list(BY_FUNNEL_SCHEMA))
        .sort("day", "funnel")
    )


def funnel_totals(spend: pl.DataFrame) -> pl.DataFrame:
    """Total cost per funnel over every day in ``spend`` (the sheet's Phase 3.2 "raw" tab)."""
    if spend.is_empty():
        return pl.DataFrame(schema=TOTALS_SCHEMA)
    totals = spend.group_by("funnel").agg(
        cost=pl.col("cost").fill_null(0.0).sum().round(2),
        impressions=pl.col("impressions").fill_null(0).sum(),
        clicks=pl.col("clicks").fill_null(0).sum(),
        first_day=pl.col("day").min(),
        last_day=pl.col("day").max(),
        days=pl.col("day").n_unique(),
    )
    grand = totals["cost"].sum()
    totals = totals.with_columns(
        share_of_cost=(pl.col("cost") / grand).round(4) if grand else pl.lit(0.0),
    )
    return totals.cast(TOTALS_SCHEMA).select(list(TOTALS_SCHEMA)).sort(["cost", "funnel"], descending=[True, False])


# ------------------------------------------------------------------------------ checks

MAX_REJECT_SHARE = 0.01


@dataclass(frozen=True)
class SpendQuality:
    rows: int
    rejects: int
    reject_share: float
    negative_cost_rows: int
    negative_cost_sheet_rows: tuple[int, ...]
    days_without_spend: tuple[date, ...]
    unknown_funnels: tuple[str, ...]
    blank_funnel_rows: int
    rows_with_problems: int


def spend_quality(
    spend: pl.DataFrame, rejects: pl.DataFrame, *, days: Sequence[date], known_funnels: Sequence[str]
) -> SpendQuality:
    """The figures the ad_spend checks judge, for the run's ``days``."""
    n, r = spend.height, rejects.height
    negative = spend.filter(pl.col("cost") < 0)
    present = set(spend["day"].unique().to_list())
    known = {f.strip().lower() for f in [OTHER_SOURCES_FUNNEL, *known_funnels] if f}
    unknown = sorted({f for f in spend["funnel"].unique().to_list() if f and f.strip().lower() not in known})
    return SpendQuality(
        rows=n,
        rejects=r,
        reject_share=r / (n + r) if n + r else 0.0,
        negative_cost_rows=negative.height,
        negative_cost_sheet_rows=tuple(negative["sheet_row"].head(20).to_list()),
        days_without_spend=tuple(d for d in days if d not in present),
        unknown_funnels=tuple(unknown),
        blank_funnel_rows=int(spend["funnel_blank"].sum()),
        rows_with_problems=int(spend["problem"].is_not_null().sum()),
    )
