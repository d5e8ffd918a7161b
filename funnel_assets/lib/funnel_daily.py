"""``funnel_daily``: the dashboard's numbers, day × funnel × program (seed 002, "Key Funnel Metrics").

Each stage is counted on its own day and attributed to a funnel the way the team counts it:

* **leads**: first submissions in the leads sheet (repeat submissions are counted apart, in
  ``repeat_leads``), under the lead's own funnel (its campaign's, from ``funnel_mapping.csv``);
* **registrations / attendance** (webinar and bootcamp apart): Zoom rows of sessions held on the
  day, under the person's first-touch funnel (``people``), the session's program;
* **sales handover**: phones assigned to a sales rep on the day, under their attributed funnel
  (``attributed_leads``' FINAL funnel of that month: first touch over the lookback, manual mapping);
* **conversions / net revenue**: sales created on the day under their FINAL FUNNEL
  (``sales_enriched``), the course's program; refunded sales are counted in ``refunds`` and
  their revenue is not;
* **spend**: ``ad_spend`` cost under the sheet's Funnel, the campaign's program (subCategory);
* **assigned_mtd**: the dashboard's "Assigned MTD": distinct phones assigned from the 1st of the
  month up to and including the day (``attributed_leads``), under their attributed funnel.

Rates are null when their denominator is 0: registration rate (registrations / leads),
attendance rate (attendees / registrations), handover rate (handovers / attendees), conversion
rate (conversions / handovers), CPL (spend / leads), CAC (spend / conversions), ROAS
(net revenue / spend).

A program is taken from the data where it has one (Zoom session, sale, spend row); for a lead or
an assignment it is read from the source, else the funnel name, with the program tokens of
``zoom_programs.csv`` ("acca_webinar_meta" → ACCA); anything else is "Other".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import polars as pl

from funnel_assets.lib.config import OTHER_SOURCES_FUNNEL

__all__ = ["COLUMNS", "COUNT_COLUMNS", "build_funnel_daily", "is_refunded", "programs_for"]

OTHER_PROGRAM = "Other"

COLUMNS: dict[str, str] = {
    "day": "The day (team's time zone); the partition",
    "funnel": "Funnel the numbers are attributed to (see the asset description)",
    "program": "Program (ACCA, CMA, ...): the session's, the course's, the campaign's, or read from the source",
    "leads": "First submissions in the leads sheet",
    "repeat_leads": "Repeat submissions by people already in the sheet",
    "webinar_registrations": "People registered for a webinar held on the day",
    "webinar_attendees": "People who attended a webinar held on the day",
    "bootcamp_registrations": "People registered for a bootcamp day held on the day",
    "bootcamp_attendees": "People who attended a bootcamp day held on the day",
    "registrations": "webinar + bootcamp registrations",
    "attendees": "webinar + bootcamp attendees",
    "sales_handover": "Distinct phones assigned to a sales rep on the day",
    "conversions": "Sales created on the day (not refunded)",
    "refunds": "Sales created on the day and refunded since",
    "net_revenue": "Net amount (excl. GST) of the day's sales that were not refunded",
    "spend": "Ad spend (cost) of the day",
    "impressions": "Ad impressions of the day",
    "clicks": "Ad clicks of the day",
    "assigned_mtd": "Distinct phones assigned from the 1st of the month to the day (the dashboard's Assigned MTD)",
    "registration_rate": "registrations / leads",
    "attendance_rate": "attendees / registrations",
    "handover_rate": "sales_handover / attendees",
    "conversion_rate": "conversions / sales_handover",
    "cpl": "spend / leads (cost per lead)",
    "cac": "spend / conversions (customer acquisition cost)",
    "roas": "net_revenue / spend (return on ad spend)",
}

COUNT_COLUMNS = (
    "leads", "repeat_leads", "webinar_registrations", "webinar_attendees", "bootcamp_registrations", "bootcamp_attendees",
    "sales_handover", "conversions", "refunds", "assigned_mtd",
)
_MONEY = ("net_revenue", "spend")
_ADS = ("impressions", "clicks")
KEY = ["day", "funnel", "program"]


def programs_for(values: pl.Series, program_for: Callable[[str | None], str]) -> pl.Series:
    """``program_for`` over the distinct values of ``values`` (underscores read as spaces)."""
    distinct = values.unique().to_list()
    table = {v: program_for(v.replace("_", " ") if v else v) for v in distinct}
    return values.replace_strict(table, default=OTHER_PROGRAM, return_dtype=pl.String)


def _program_from_text(frame: pl.DataFrame, source: str, funnel: str, program_for: Callable[[str | None], str]) -> pl.Series:
    by_source = programs_for(frame[source].cast(pl.String), program_for)
    by_funnel = programs_for(frame[funnel].cast(pl.String), program_for)
    return pl.select(pl.when(by_source != OTHER_PROGRAM).then(by_source).otherwise(by_funnel)).to_series().alias("program")


def _count(frame: pl.DataFrame, **aggs: pl.Expr) -> pl.DataFrame:
    return frame.group_by(KEY).agg(**aggs)


def is_refunded(status: str = "status") -> pl.Expr:
    """A sale counts as refunded when the CRM's status says "refunded" (any case); every other sale,
    whatever its status (or none), is a conversion and its net amount is revenue."""
    return pl.col(status).fill_null("").str.strip_chars().str.to_lowercase() == "refunded"


def build_funnel_daily(
    *,
    start: date,
    end: date,
    leads: pl.DataFrame,
    zoom: pl.DataFrame,
    people: pl.DataFrame,
    attributed: pl.DataFrame,
    assignments: pl.DataFrame,
    sales: pl.DataFrame,
    spend: pl.DataFrame,
    program_for: Callable[[str | None], str],
) -> pl.DataFrame:
    """Every (day, funnel, program) of ``[start, end)`` that has anything, with all its numbers.

    Inputs are the warehouse tables (already limited to the days where partitioned):
    ``marketing_leads``, ``zoom_sessions``, ``people``, ``attributed_leads``,
    ``crm_assigned_leads``, ``sales_enriched``, ``ad_spend``.
    """
    in_days = lambda col: (pl.col(col) >= start) & (pl.col(col) < end)  # noqa: E731
    parts: list[pl.DataFrame] = []

    # leads: the sheet's own funnel
    lead_rows = leads.filter(in_days("created_date")).with_columns(day=pl.col("created_date"))
    lead_rows = lead_rows.with_columns(_program_from_text(lead_rows, "source", "funnel", program_for))
    parts.append(_count(lead_rows, leads=(~pl.col("is_duplicate")).sum(), repeat_leads=pl.col("is_duplicate").sum()))

    # registrations / attendance: the person's first-touch funnel
    by_phone = people.filter(pl.col("phone_key").is_not_null()).group_by("phone_key").agg(__f_phone=pl.col("first_touch_funnel").first())
    by_email = people.filter(pl.col("email").is_not_null()).group_by("email").agg(__f_email=pl.col("first_touch_funnel").first())
    z = (
        zoom.filter(in_days("session_date"))
        .join(by_phone, on="phone_key", how="left")
        .join(by_email, on="email", how="left")
        .with_columns(
            day=pl.col("session_date"),
            funnel=pl.coalesce("__f_phone", "__f_email", pl.lit(OTHER_SOURCES_FUNNEL)),
            program=pl.col("program").fill_null(OTHER_PROGRAM),
            __reg=pl.col("registered").fill_null(False),
            __att=pl.col("attended").fill_null(False),
            __boot=pl.col("kind") == "bootcamp",
        )
    )
    parts.append(_count(
        z,
        webinar_registrations=(pl.col("__reg") & ~pl.col("__boot")).sum(),
        webinar_attendees=(pl.col("__att") & ~pl.col("__boot")).sum(),
        bootcamp_registrations=(pl.col("__reg") & pl.col("__boot")).sum(),
        bootcamp_attendees=(pl.col("__att") & pl.col("__boot")).sum(),
    ))

    # sales handover and Assigned MTD: the phone's attributed funnel of the month
    attributed = attributed.rename({"first_assigned_in_month_date": "__first_day"}).with_columns(_program_from_text(attributed, "first_source", "final_funnel", program_for))
    handed = (
        assignments.filter(pl.col("phone_key").is_not_null() & in_days("assigned_date"))
        .select("phone_key", day=pl.col("assigned_date"))
        .unique()
        .with_columns(month=pl.col("day").dt.truncate("1mo"))
        .join(attributed.select("month", "phone_key", funnel="final_funnel", program="program"), on=["month", "phone_key"], how="left")
        .with_columns(pl.col("funnel").fill_null(OTHER_SOURCES_FUNNEL), pl.col("program").fill_null(OTHER_PROGRAM))
    )
    parts.append(_count(handed, sales_handover=pl.len()))
    days = pl.date_range(start, end, interval="1d", closed="left", eager=True).alias("day").to_frame()
    mtd = (
        days.with_columns(month=pl.col("day").dt.truncate("1mo"))
        .join(attributed.select("month", "__first_day", funnel="final_funnel", program="program"), on="month", how="inner")
        .filter(pl.col("__first_day") <= pl.col("day"))
    )
    parts.append(_count(mtd, assigned_mtd=pl.len()))

    # conversions and revenue: FINAL FUNNEL
    s = sales.filter(in_days("created_date") & pl.col("sale_id").is_not_null()).with_columns(
        day=pl.col("created_date"),
        funnel=pl.col("final_funnel").fill_null(OTHER_SOURCES_FUNNEL),
        program=pl.col("target").fill_null(OTHER_PROGRAM),
        __refunded=is_refunded(),
    )
    parts.append(_count(
        s,
        conversions=(~pl.col("__refunded")).sum(),
        refunds=pl.col("__refunded").sum(),
        net_revenue=pl.col("net_amount").fill_null(0.0).filter(~pl.col("__refunded")).sum(),
    ))

    # spend: the sheet's Funnel
    sp = spend.filter(in_days("day")).with_columns(
        funnel=pl.col("funnel").fill_null(OTHER_SOURCES_FUNNEL),
        program=pl.col("sub_category").fill_null(OTHER_PROGRAM),
    )
    parts.append(_count(sp, spend=pl.col("cost").fill_null(0.0).sum(), impressions=pl.col("impressions").fill_null(0).sum(), clicks=pl.col("clicks").fill_null(0).sum()))

    keys = pl.concat([p.select(KEY).with_columns(pl.col("day").cast(pl.Date), pl.col("funnel").cast(pl.String), pl.col("program").cast(pl.String)) for p in parts]).unique()
    out = keys
    for p in parts:
        out = out.join(p.with_columns(pl.col("day").cast(pl.Date)), on=KEY, how="left")
    out = out.with_columns(
        [pl.col(c).fill_null(0).cast(pl.Int64) for c in (*COUNT_COLUMNS, *_ADS)]
        + [pl.col(c).fill_null(0.0).cast(pl.Float64).round(2) for c in _MONEY]
    ).with_columns(
        registrations=pl.col("webinar_registrations") + pl.col("bootcamp_registrations"),
        attendees=pl.col("webinar_attendees") + pl.col("bootcamp_attendees"),
    )

    def ratio(num: str, den: str) -> pl.Expr:
        return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).otherwise(None).round(4)

    out = out.with_columns(
        registration_rate=ratio("registrations", "leads"),
        attendance_rate=ratio("attendees", "registrations"),
        handover_rate=ratio("sales_handover", "attendees"),
        conversion_rate=ratio("conversions", "sales_handover"),
        cpl=pl.when(pl.col("leads") > 0).then(pl.col("spend") / pl.col("leads")).round(2),
        cac=pl.when(pl.col("conversions") > 0).then(pl.col("spend") / pl.col("conversions")).round(2),
        roas=ratio("net_revenue", "spend"),
    )
    return out.select(list(COLUMNS)).sort(KEY)
