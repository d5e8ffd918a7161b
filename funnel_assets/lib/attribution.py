"""First-touch attribution of assigned leads and the sales tab's FINAL FUNNEL (seed 002, Phases 1-2).

Phase 1 (the team's ``all_leads`` → ``M0_Leads`` → ``M0`` tabs), for one month M:

* every phone assigned in M (``assignOn`` in M, the team's time zone) appears once;
* its first funnel and date are those of its earliest assignment over a lookback window: the
  ``lookback_months`` (3 by default) before M, and M itself up to its end. An assignment from a
  later month never changes M's answer, so a closed month keeps its figures;
* a source is mapped to its funnel by ``funnel_mapping.csv`` (unknown → "Other Sources
  (Miscellaneous)"); a Miscellaneous first source is then looked up in the month's
  ``manual_mapping.csv`` rows (and in the rows without a month), which the team fills in by hand;
* ``attended``: the phone attended a Zoom webinar or bootcamp session between the window's start
  and the end of M (the seed's XLOOKUP into the Zoom attendance tab); ``registered`` likewise. A
  Zoom row without a phone (a meeting participant report has none; some webinar reports have no
  phone column) counts for the phone its email belongs to, by the identity rule of
  ``lib.identity`` (:func:`zoom_with_phones`);
* ``employee``: the rep of the phone's first assignment in M (the seed's XLOOKUP returns the first
  match of the month's tab, which the CRM lists by assignOn).

Phase 2, FINAL FUNNEL per sale, exactly the seed's formula
``IF(TRIM(ar)="Other Sources (Miscellaneous)", IFNA(VLOOKUP(TRIM(as), manual mapping, 2, FALSE), ar),
IF(LEN(as), as, ar))`` with ``ar`` = ``Funnel`` and ``as`` = ``assignedLeadSources`` of the dump:
a Miscellaneous sale takes the manual mapping's funnel for its ``assignedLeadSources`` when there is
one (the month of the sale's ``createdOn`` first, then the rows without a month; case-insensitive,
like VLOOKUP), any other sale takes ``assignedLeadSources`` when it is not empty, else ``Funnel``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from funnel_assets.lib.config import (
    OTHER_SOURCES_FUNNEL,
    ConfigError,
    ConfigProblem,
    ConfigSpec,
    FunnelMapping,
    not_blank,
    read_config_csv,
)
from funnel_assets.lib.identity import email_phones

__all__ = [
    "ATTRIBUTED_LEADS_SCHEMA",
    "AttributionSettings",
    "ManualMapping",
    "SALES_ENRICHED_COLUMNS",
    "attributed_leads",
    "enrich_sales",
    "first_touch_after_sale",
    "zoom_with_phones",
    "final_funnel_expr",
    "load_attribution_settings",
    "load_manual_mapping",
    "month_start",
    "months_between",
]

MANUAL_MAPPING_FILE = "manual_mapping.csv"
SETTINGS_FILE = "attribution_settings.csv"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    y, m = divmod(month.month - 1 + n, 12)
    return date(month.year + y, m + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """First days of the months from ``first``'s month to ``last``'s month, both included."""
    out, m = [], month_start(first)
    while m <= last:
        out.append(m)
        m = add_months(m, 1)
    return out


# ============================================================================= manual mapping


def _month_or_blank(value: str) -> str | None:
    if value and not _MONTH.match(value):
        return f"{value!r} is not a month; write it as YYYY-MM (e.g. 2026-09), or leave it blank for every month"
    return None


MANUAL_MAPPING_SPEC = ConfigSpec(
    required=("month", "source", "funnel"),
    optional=("notes",),
    validators={"month": (_month_or_blank,), "source": (not_blank,), "funnel": (not_blank,)},
    unique=("month", "source"),
)


@dataclass(frozen=True)
class ManualMapping:
    """The team's monthly hand mapping of Miscellaneous sources: (month or every month, source) → funnel."""

    table: pl.DataFrame  # month (String "YYYY-MM" or null), source_key (trimmed, lower-cased), funnel
    path: Path | None = None

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, path: Path | None = None) -> "ManualMapping":
        return cls(
            frame.select(
                month=pl.col("month"),
                source_key=pl.col("source").str.strip_chars().str.to_lowercase(),
                funnel=pl.col("funnel").str.strip_chars(),
            ),
            path,
        )

    @classmethod
    def empty(cls) -> "ManualMapping":
        return cls(pl.DataFrame(schema={"month": pl.String, "source_key": pl.String, "funnel": pl.String}))

    def lookup(self, frame: pl.DataFrame, *, source: pl.Expr, month: pl.Expr, out: str) -> pl.DataFrame:
        """Add column ``out``: the manual funnel of ``source`` in ``month`` (a Date column: any day of
        the month), falling back to the rows without a month; null when there is none."""
        keyed = frame.with_columns(
            __mm_key=source.str.strip_chars().str.to_lowercase(),
            __mm_month=month.dt.strftime("%Y-%m"),
        )
        monthly = self.table.filter(pl.col("month").is_not_null()).select(
            __mm_month="month", __mm_key="source_key", __mm_monthly="funnel"
        )
        always = self.table.filter(pl.col("month").is_null()).select(__mm_key="source_key", __mm_always="funnel")
        joined = (
            keyed.join(monthly, on=["__mm_month", "__mm_key"], how="left", maintain_order="left")
            .join(always, on="__mm_key", how="left", maintain_order="left")
        )
        return joined.with_columns(pl.coalesce("__mm_monthly", "__mm_always").alias(out)).drop(
            "__mm_key", "__mm_month", "__mm_monthly", "__mm_always"
        )


def load_manual_mapping(path: Path | str) -> ManualMapping:
    """Load ``manual_mapping.csv`` (``month,source,funnel[,notes]``); a missing file means no mapping yet."""
    path = Path(path)
    if not path.exists():
        return ManualMapping(ManualMapping.empty().table, path)
    return ManualMapping.from_frame(read_config_csv(path, MANUAL_MAPPING_SPEC), path)


# ============================================================================= settings


@dataclass(frozen=True)
class AttributionSettings:
    lookback_months: int = 3
    """How many months before the month itself a phone's first assignment is looked for."""


SETTINGS_SPEC = ConfigSpec(required=("setting", "value"), optional=("notes",), validators={"setting": (not_blank,)}, unique=("setting",))


def load_attribution_settings(path: Path | str) -> AttributionSettings:
    """``attribution_settings.csv`` (``setting,value[,notes]``); a missing file means the defaults."""
    path = Path(path)
    if not path.exists():
        return AttributionSettings()
    frame = read_config_csv(path, SETTINGS_SPEC)
    problems, values = [], {}
    for row in frame.iter_rows(named=True):
        name, value = row["setting"], (row["value"] or "")
        if name == "lookback_months":
            if not value.isdigit() or not 0 <= int(value) <= 24:
                problems.append(ConfigProblem(row["line"], "value", f"lookback_months must be a whole number of months from 0 to 24, not {value!r}"))
            else:
                values[name] = int(value)
        else:
            problems.append(ConfigProblem(row["line"], "setting", f"unknown setting {name!r}; known settings: lookback_months"))
    if problems:
        raise ConfigError(path, problems)
    return AttributionSettings(**values)


# ============================================================================= Zoom rows → phones


def zoom_with_phones(zoom: pl.DataFrame, touches: pl.DataFrame) -> pl.DataFrame:
    """Zoom rows whose ``phone_key`` is null take the phone of their ``email``, as ``people`` resolves
    identity (``lib.identity``): the phone of the email's earliest touch that has both (touches in
    first-touch order: ``occurred_at``, kind, ``touchpoint_id``). A Zoom row keeps its own phone.

    Without this, everyone who joined a session run as a Zoom meeting (whose participant report
    has names and emails, never phones) or a webinar whose report has no phone column would count
    as not having attended. ``touches``: ``touchpoints`` rows (``touchpoint_id``, ``occurred_at``,
    ``kind``, ``phone_key``, ``email``)."""
    as_text = [pl.col("phone_key").cast(pl.String), pl.col("email").cast(pl.String)]  # an all-null column reads back untyped
    zoom, touches = zoom.with_columns(as_text), touches.with_columns(as_text)
    return (
        zoom.join(email_phones(touches).select("email", "__adopted"), on="email", how="left", maintain_order="left")
        .with_columns(phone_key=pl.coalesce("phone_key", "__adopted"))
        .drop("__adopted")
    )


# ============================================================================= Phase 1: attributed leads

ATTRIBUTED_LEADS_SCHEMA: dict[str, pl.DataType] = {
    "month": pl.Date(),
    "phone_key": pl.String(),
    "first_assigned_at": pl.Datetime("us", "UTC"),
    "first_assigned_date": pl.Date(),
    "first_source": pl.String(),
    "funnel": pl.String(),
    "funnel_mapped": pl.Boolean(),
    "manual_funnel": pl.String(),
    "final_funnel": pl.String(),
    "first_touch_in_month": pl.Boolean(),
    "assignments_in_month": pl.Int64(),
    "first_assigned_in_month_at": pl.Datetime("us", "UTC"),
    "first_assigned_in_month_date": pl.Date(),
    "employee": pl.String(),
    "registered": pl.Boolean(),
    "attended": pl.Boolean(),
}


def attributed_leads(
    assignments: pl.DataFrame,
    zoom: pl.DataFrame,
    months: list[date],
    *,
    funnel_mapping: FunnelMapping,
    manual_mapping: ManualMapping,
    lookback_months: int = 3,
) -> pl.DataFrame:
    """Seed 002's M0 tab for each month in ``months`` (first days of months).

    ``assignments``: usable CRM assignment rows (columns ``phone_key``, ``assigned_at``,
    ``assigned_date``, ``source``, ``employee``, ``dump_row``); rows without a phone key can't be
    attributed (they stay in ``crm_assigned_leads`` with their problem). ``zoom``: rows with
    ``phone_key``, ``session_date``, ``registered``, ``attended`` (phones resolved from emails with
    :func:`zoom_with_phones`).
    """
    usable = assignments.filter(pl.col("phone_key").is_not_null() & pl.col("assigned_at").is_not_null())
    usable = funnel_mapping.apply(usable, "source")
    zoom = zoom.filter(pl.col("phone_key").is_not_null()).select("phone_key", "session_date", "registered", "attended")
    frames = []
    for month in months:
        window_start, next_month = add_months(month, -lookback_months), add_months(month, 1)
        window = usable.filter((pl.col("assigned_date") >= window_start) & (pl.col("assigned_date") < next_month))
        in_month = window.filter(pl.col("assigned_date") >= month)
        if in_month.is_empty():
            continue
        order = ["phone_key", "assigned_at", "dump_row"]
        first = window.sort(order).group_by("phone_key", maintain_order=True).first()
        month_rows = in_month.sort(order).group_by("phone_key", maintain_order=True).agg(
            assignments_in_month=pl.len(),
            first_assigned_in_month_at=pl.col("assigned_at").first(),
            first_assigned_in_month_date=pl.col("assigned_date").first(),
            employee=pl.col("employee").first(),
        )
        seen = zoom.filter((pl.col("session_date") >= window_start) & (pl.col("session_date") < next_month)).group_by("phone_key").agg(
            registered=pl.col("registered").fill_null(False).any(),
            attended=pl.col("attended").fill_null(False).any(),
        )
        rows = (
            month_rows.join(first.select("phone_key", "assigned_at", "assigned_date", "source", "funnel", "funnel_mapped"), on="phone_key", how="left")
            .join(seen, on="phone_key", how="left")
            .with_columns(month=pl.lit(month, pl.Date))
        )
        frames.append(rows)
    if not frames:
        return pl.DataFrame(schema=ATTRIBUTED_LEADS_SCHEMA)
    out = pl.concat(frames, how="vertical_relaxed")
    out = manual_mapping.lookup(out, source=pl.col("source"), month=pl.col("month"), out="manual_funnel")
    is_misc = pl.col("funnel") == OTHER_SOURCES_FUNNEL
    out = out.with_columns(
        manual_funnel=pl.when(is_misc).then(pl.col("manual_funnel")),
    ).with_columns(
        final_funnel=pl.when(is_misc).then(pl.coalesce("manual_funnel", "funnel")).otherwise("funnel"),
        first_touch_in_month=pl.col("assigned_date") >= pl.col("month"),
        registered=pl.col("registered").fill_null(False),
        attended=pl.col("attended").fill_null(False),
    )
    out = out.rename({"assigned_at": "first_assigned_at", "assigned_date": "first_assigned_date", "source": "first_source"})
    return out.select([pl.col(c).cast(t) for c, t in ATTRIBUTED_LEADS_SCHEMA.items()]).sort("month", "first_assigned_at", "phone_key")


# ============================================================================= Phase 2: sales enriched


def final_funnel_expr(funnel: str, assigned_lead_sources: str, manual_funnel: str) -> pl.Expr:
    """The seed's FINAL FUNNEL formula, given the manual mapping's lookup of TRIM(assignedLeadSources)."""
    ar, as_ = pl.col(funnel).fill_null(""), pl.col(assigned_lead_sources).fill_null("")
    return (
        pl.when(ar.str.strip_chars() == OTHER_SOURCES_FUNNEL)
        .then(pl.coalesce(pl.col(manual_funnel), ar))
        .when(as_.str.len_chars() > 0)
        .then(as_)
        .otherwise(ar)
    )


SALES_ENRICHED_COLUMNS: dict[str, str] = {
    "manual_mapping": "The manual mapping's funnel for the sale's assignedLeadSources (Miscellaneous sales only; null when the team has not mapped it)",
    "final_funnel": "FINAL FUNNEL (seed 002): Miscellaneous → the manual mapping's funnel if any; else assignedLeadSources when present; else Funnel",
    "attended": "The buyer's phone attended a Zoom webinar or bootcamp session on or before the sale's day",
    "registered": "The buyer's phone registered for a Zoom session on or before the sale's day",
    "first_source": "Source of the buyer's earliest CRM assignment at or before the sale (null: none before the sale)",
    "first_funnel": "Funnel of that source (first-touch attribution carried from Part 1 to Part 2)",
    "first_assigned_at": "When the buyer was first assigned, never after the sale's createdOn (UTC)",
}


def _first_assignment_before_sale(sales: pl.DataFrame, assignments: pl.DataFrame, funnel_mapping: FunnelMapping) -> pl.DataFrame:
    """Per sale (``__sale_row``): the buyer's earliest CRM assignment made at or before the sale's
    ``created_at``. An assignment after the sale (the buyer assigned again later, or a dump whose
    history starts after the buyer's first assignment) is never the sale's first touch; a sale
    without such an assignment, or whose time could not be read, has none."""
    usable = assignments.filter(pl.col("phone_key").is_not_null() & pl.col("assigned_at").is_not_null())
    usable = funnel_mapping.apply(usable.select("phone_key", "assigned_at", "source", "dump_row"), "source", mapped_column=None)
    return (
        sales.filter(pl.col("phone_key").is_not_null() & pl.col("created_at").is_not_null())
        .select("__sale_row", "phone_key", "created_at")
        .join(usable, on="phone_key", how="inner")
        .filter(pl.col("assigned_at") <= pl.col("created_at"))
        .sort("__sale_row", "assigned_at", "dump_row")
        .group_by("__sale_row", maintain_order=True)
        .first()
        .select("__sale_row", first_source="source", first_funnel="funnel", first_assigned_at="assigned_at")
    )


def first_touch_after_sale(enriched: pl.DataFrame) -> pl.DataFrame:
    """Sales whose first touch is dated after the sale itself (``first_assigned_at`` later than
    ``created_at``): none, by :func:`enrich_sales`'s rule; ``sales_enriched`` refuses to write any."""
    return enriched.filter(pl.col("first_assigned_at") > pl.col("created_at"))


def enrich_sales(
    sales: pl.DataFrame,
    zoom: pl.DataFrame,
    assignments: pl.DataFrame,
    *,
    funnel_mapping: FunnelMapping,
    manual_mapping: ManualMapping,
) -> pl.DataFrame:
    """The sales tab of Phase 2.2: every ``crm_sales`` row plus Manual Mapping, FINAL FUNNEL and Attended.

    The raw ``funnel`` and ``assigned_lead_sources`` are read as the dump wrote them (the formula
    trims ``Funnel`` for the comparison only). ``attended`` looks the buyer's phone up in the Zoom
    attendance up to the sale's day (the seed's XLOOKUP of StudentContact into the Zoom tab).
    ``first_source``/``first_funnel``/``first_assigned_at``: the buyer's first touch, the earliest
    assignment of the phone at or before the sale's ``created_at`` (never one after the sale).
    """
    sale_day = pl.col("created_date")
    out = manual_mapping.lookup(sales, source=pl.col("assigned_lead_sources").fill_null(""), month=sale_day, out="__manual")
    out = out.with_columns(
        manual_mapping=pl.when(pl.col("funnel").fill_null("").str.strip_chars() == OTHER_SOURCES_FUNNEL).then(pl.col("__manual")),
    ).with_columns(final_funnel=final_funnel_expr("funnel", "assigned_lead_sources", "__manual")).drop("__manual")

    first_seen = (
        zoom.filter(pl.col("phone_key").is_not_null())
        .group_by("phone_key")
        .agg(
            __first_registered=pl.col("session_date").filter(pl.col("registered").fill_null(False)).min(),
            __first_attended=pl.col("session_date").filter(pl.col("attended").fill_null(False)).min(),
        )
    )
    out = out.with_row_index("__sale_row").join(first_seen, on="phone_key", how="left", maintain_order="left")
    out = out.join(_first_assignment_before_sale(out, assignments, funnel_mapping), on="__sale_row", how="left", maintain_order="left")
    out = out.drop("__sale_row")
    no_phone = pl.col("phone_key").is_null()
    out = out.with_columns(
        attended=pl.when(no_phone).then(None).otherwise(pl.col("__first_attended").is_not_null() & (pl.col("__first_attended") <= sale_day)),
        registered=pl.when(no_phone).then(None).otherwise(pl.col("__first_registered").is_not_null() & (pl.col("__first_registered") <= sale_day)),
    ).drop("__first_registered", "__first_attended")
    return out
