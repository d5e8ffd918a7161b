"""The marts the team's dashboard reads (seed 002, Phases 1-2 and "Key Funnel Metrics").

``attributed_leads`` and ``sales_enriched`` are rebuilt whole every night from the CRM's full
dumps; ``funnel_daily`` is partitioned by day. After each write, a CSV copy of the whole table
lands in the exports folder (``data/exports/``) for spreadsheet users.
"""

from datetime import timedelta

import dagster as dg
import polars as pl

from funnel_assets.defs.common import (
    SETTINGS,
    read_source_table,
    WAREHOUSE_POOL,
    daily_backfill_policy,
    daily_partitions,
    partition_dates,
    safe_metadata,
    table_metadata,
)
from funnel_assets.defs.resources import ExportsResource, ProjectConfigResource, WarehouseResource
from funnel_assets.lib import attribution
from funnel_assets.lib.bootcamps import bootcamp_attendance as bootcamp_attendance_of
from funnel_assets.lib import funnel_daily as funnel_daily_lib
from funnel_assets.lib.crm import ASSIGNED_LEADS_SCHEMA, SALES_SCHEMA
from funnel_assets.lib.identity import TOUCHPOINT_SCHEMA
from funnel_assets.lib.leads_sheet import LEADS_SCHEMA
from funnel_assets.lib.spend import AD_SPEND_SCHEMA
from funnel_assets.lib.zoom_sessions import ROW_SCHEMA as ZOOM_SCHEMA
from funnel_assets.lib.config import OTHER_SOURCES_FUNNEL
from funnel_assets.lib.exports import write_csv_export
from funnel_assets.lib.warehouse import Warehouse

GROUP = "marts"
MARTS_FRESHNESS = dg.FreshnessPolicy.cron(
    deadline_cron="0 8 * * *", lower_bound_delta=timedelta(hours=24), timezone=SETTINGS.timezone
)
"""Refreshed by 08:00 every morning in the team's time zone (the nightly run starts at 02:00)."""

MAX_MISC_SHARE = 0.10

ASSIGNMENT_COLUMNS = ["phone_key", "assigned_at", "assigned_date", "source", "employee", "dump_row", "problem"]
ZOOM_COLUMNS = ["phone_key", "email", "session_date", "registered", "attended"]
TOUCH_COLUMNS = ["touchpoint_id", "occurred_at", "kind", "phone_key", "email"]

ATTRIBUTED_COLUMNS = {
    "month": "The month (its first day): every phone assigned in it appears once",
    "phone_key": "91 + 10-digit mobile: the lead",
    "first_assigned_at": "The phone's earliest assignment over the month and the lookback months before it (UTC)",
    "first_assigned_date": "Its local date",
    "first_source": "The CRM source of that first assignment (first touch)",
    "funnel": "The source's funnel from funnel_mapping.csv (unknown: Other Sources (Miscellaneous))",
    "funnel_mapped": "False when the source is missing from funnel_mapping.csv",
    "manual_funnel": "manual_mapping.csv's funnel for a Miscellaneous source in this month (null: not mapped)",
    "final_funnel": "The funnel the lead counts in: the manual funnel for a mapped Miscellaneous source, else funnel",
    "first_touch_in_month": "True when the first assignment is in the month itself (a new lead), False when it is older",
    "assignments_in_month": "How many times the phone was assigned in the month",
    "first_assigned_in_month_at": "The phone's first assignment in the month (UTC)",
    "first_assigned_in_month_date": "Its local date (Assigned MTD counts from it)",
    "employee": "The sales rep of the phone's first assignment in the month",
    "registered": "The phone registered for a Zoom session between the lookback start and the month's end",
    "attended": "The phone attended a Zoom session between the lookback start and the month's end",
}


def _usable_assignments(context, db: Warehouse, notes: list[str], **read) -> pl.DataFrame:
    rows = read_source_table(context, db, "crm_assigned_leads", schema=ASSIGNED_LEADS_SCHEMA, notes=notes, columns=ASSIGNMENT_COLUMNS, **read)
    return rows.filter(pl.col("problem").is_null()).drop("problem")


def _zoom_people(context, db: Warehouse, notes: list[str]) -> pl.DataFrame:
    """Zoom rows with a phone: their own, else their email's (meeting reports carry no phone)."""
    zoom = read_source_table(context, db, "zoom_sessions", schema=ZOOM_SCHEMA, notes=notes, columns=ZOOM_COLUMNS)
    touches = read_source_table(context, db, "touchpoints", schema=TOUCHPOINT_SCHEMA, notes=notes, columns=TOUCH_COLUMNS)
    return attribution.zoom_with_phones(zoom, touches)


def _notes(notes: list[str]) -> dict:
    return {"inputs_not_loaded": dg.MetadataValue.md("\n".join(f"- {n}" for n in notes))} if notes else {}


def _export(exports: ExportsResource, db: Warehouse, table: str, frame: pl.DataFrame | None = None) -> dict:
    whole = frame if frame is not None else db.read_table(table)
    path = write_csv_export(whole, exports.path(), table)
    return {"csv_export": dg.MetadataValue.path(str(path)), "csv_export_rows": dg.MetadataValue.int(whole.height)}


@dg.asset(
    group_name=GROUP,
    kinds={"polars", "sql", "csv"},
    deps=["crm_assigned_leads", "zoom_sessions", "touchpoints"],
    pool=WAREHOUSE_POOL,
    freshness_policy=MARTS_FRESHNESS,
    tags={"layer": "mart"},
    check_specs=[
        dg.AssetCheckSpec("one_row_per_phone_per_month", asset="attributed_leads", blocking=True,
                          description="Every phone appears at most once per month (the M0 tab's deduplication)."),
        dg.AssetCheckSpec("miscellaneous_share", asset="attributed_leads",
                          description=f"At most {MAX_MISC_SHARE:.0%} of the latest month's leads stay in {OTHER_SOURCES_FUNNEL} after the manual mapping (warning)."),
    ],
)
def attributed_leads(
    context: dg.AssetExecutionContext,
    project_config: ProjectConfigResource,
    warehouse: WarehouseResource,
    exports: ExportsResource,
):
    """Seed 002's monthly M0 tab, every month: each phone assigned to sales in the month once, with
    its first-touch funnel and date (earliest CRM assignment over the month and the lookback months
    before it; `attribution_settings.csv`), the manual mapping of Miscellaneous sources
    (`manual_mapping.csv`), whether it registered for and attended a Zoom session, and the sales rep
    it was assigned to. Answers: how many leads did sales get this month, from which funnel, and
    how many of them attended?"""
    db, notes = warehouse.get(), []
    assignments = _usable_assignments(context, db, notes)
    settings = project_config.attribution_settings()
    months = attribution.months_between(assignments["assigned_date"].min(), assignments["assigned_date"].max()) if assignments.height else []
    leads = attribution.attributed_leads(
        assignments,
        _zoom_people(context, db, notes),
        months,
        funnel_mapping=project_config.funnel_mapping(),
        manual_mapping=project_config.manual_mapping(),
        lookback_months=settings.lookback_months,
    )
    report = db.replace_table("attributed_leads", leads)

    duplicates = leads.group_by("month", "phone_key").len().filter(pl.col("len") > 1).height
    latest = leads.filter(pl.col("month") == leads["month"].max()) if leads.height else leads
    misc = latest.filter(pl.col("final_funnel") == OTHER_SOURCES_FUNNEL)
    misc_share = misc.height / latest.height if latest.height else 0.0
    unmapped = misc.group_by("first_source").len().sort("len", descending=True).head(10)
    per_month = leads.group_by("month").agg(leads=pl.len(), new=pl.col("first_touch_in_month").sum(), attended=pl.col("attended").sum()).sort("month")
    yield dg.MaterializeResult(
        metadata=table_metadata(
            leads, report, descriptions=ATTRIBUTED_COLUMNS,
            lookback_months=settings.lookback_months,
            months=dg.MetadataValue.md("| month | leads | new in month | attended |\n|---|---|---|---|\n" + "\n".join(
                f"| {m:%Y-%m} | {n} | {new} | {a} |" for m, n, new, a in per_month.rows())),
            **_export(exports, db, "attributed_leads", leads),
            **_notes(notes),
        ),
        check_results=[
            dg.AssetCheckResult(check_name="one_row_per_phone_per_month", passed=duplicates == 0,
                                severity=dg.AssetCheckSeverity.ERROR, metadata={"repeated_phone_months": duplicates}),
            dg.AssetCheckResult(
                check_name="miscellaneous_share", passed=misc_share <= MAX_MISC_SHARE, severity=dg.AssetCheckSeverity.WARN,
                metadata=safe_metadata({
                    "month": str(latest["month"].max()) if latest.height else "none",
                    "share": round(misc_share, 4), "maximum": MAX_MISC_SHARE,
                    "unmapped_sources": ", ".join(f"{s} ({n})" for s, n in unmapped.rows()) or "none",
                    "what_to_do": "add these sources to data/config/manual_mapping.csv (month, source, funnel), or to funnel_mapping.csv if they are campaigns",
                }),
            ),
        ],
    )


SALES_COLUMNS = {
    **attribution.SALES_ENRICHED_COLUMNS,
    "sale_id": "The CRM's _id of the sale",
    "phone_key": "The buyer's phone key (StudentContact normalized): the join key with Part 1",
}


@dg.asset(
    group_name=GROUP,
    kinds={"polars", "sql", "csv"},
    deps=["crm_sales", "crm_assigned_leads", "zoom_sessions", "touchpoints"],
    pool=WAREHOUSE_POOL,
    freshness_policy=MARTS_FRESHNESS,
    tags={"layer": "mart"},
    check_specs=[
        dg.AssetCheckSpec("final_funnel_filled", asset="sales_enriched", blocking=True,
                          description="Every sale has a FINAL FUNNEL (a blank Funnel in the CRM dump would leave it empty)."),
        dg.AssetCheckSpec("miscellaneous_sales_mapped", asset="sales_enriched",
                          description="Miscellaneous sales whose assignedLeadSources is missing from manual_mapping.csv (warning: map them)."),
        dg.AssetCheckSpec("buyers_found_in_crm_assignments", asset="sales_enriched",
                          description="At least 90% of sales with a phone were assigned to sales first (Part 2 joins Part 1 by phone)."),
        dg.AssetCheckSpec("first_touch_not_after_sale", asset="sales_enriched", blocking=True,
                          description="No buyer's first touch (first_assigned_at) is dated after the sale's createdOn; "
                                      "checked before the write: a table that breaks it is refused and the previous one kept."),
    ],
)
def sales_enriched(
    context: dg.AssetExecutionContext,
    project_config: ProjectConfigResource,
    warehouse: WarehouseResource,
    exports: ExportsResource,
):
    """Seed 002's sales tab (Phase 2.2): every sale of the CRM dump with Manual Mapping, FINAL
    FUNNEL (Miscellaneous → the manual mapping's funnel for its assignedLeadSources if there is one;
    else assignedLeadSources when present; else Funnel) and whether the buyer attended a Zoom
    session, plus the first-touch source and funnel of the buyer's phone (its earliest assignment at
    or before the sale, never one after it). Answers: which funnel
    does each sale and each rupee of revenue count in?"""
    db, notes = warehouse.get(), []
    sales = read_source_table(context, db, "crm_sales", schema=SALES_SCHEMA, notes=notes)
    enriched = attribution.enrich_sales(
        sales,
        _zoom_people(context, db, notes),
        _usable_assignments(context, db, notes),
        funnel_mapping=project_config.funnel_mapping(),
        manual_mapping=project_config.manual_mapping(),
    )
    late = attribution.first_touch_after_sale(enriched)
    first_touch_check = dg.AssetCheckResult(
        check_name="first_touch_not_after_sale", passed=late.is_empty(), severity=dg.AssetCheckSeverity.ERROR,
        metadata={"sales_with_first_touch_after_sale": late.height,
                  **({"sale_ids": ", ".join(late["sale_id"].fill_null("(no _id)").head(20).to_list())} if late.height else {})},
    )
    if late.height:
        yield first_touch_check
        raise dg.Failure(
            description=f"{late.height} sale(s) would get a first touch dated after the sale (sale ids: "
                        f"{', '.join(late['sale_id'].fill_null('(no _id)').head(20).to_list())}). sales_enriched was not written; "
                        "the previous table is kept. This is a bug in the attribution rule: report it with these sale ids.",
            allow_retries=False,
        )
    report = db.replace_table("sales_enriched", enriched)

    blank = enriched.filter(pl.col("final_funnel").fill_null("").str.strip_chars() == "").height
    misc = enriched.filter(pl.col("final_funnel") == OTHER_SOURCES_FUNNEL)
    unmapped = misc.group_by(pl.col("assigned_lead_sources").fill_null("(blank)")).len().sort("len", descending=True).head(10)
    with_phone = enriched.filter(pl.col("phone_key").is_not_null())
    found = with_phone.filter(pl.col("first_assigned_at").is_not_null()).height
    found_share = found / with_phone.height if with_phone.height else 1.0
    by_funnel = enriched.group_by("final_funnel").agg(sales=pl.len(), net=pl.col("net_amount").sum()).sort("net", descending=True)
    yield dg.MaterializeResult(
        metadata=table_metadata(
            enriched, report, descriptions=SALES_COLUMNS,
            by_final_funnel=dg.MetadataValue.md("| FINAL FUNNEL | sales | net amount |\n|---|---|---|\n" + "\n".join(
                f"| {f} | {n} | {net:,.0f} |" for f, n, net in by_funnel.rows())),
            **_export(exports, db, "sales_enriched", enriched),
            **_notes(notes),
        ),
        check_results=[
            dg.AssetCheckResult(check_name="final_funnel_filled", passed=blank == 0, severity=dg.AssetCheckSeverity.ERROR,
                                metadata={"sales_without_final_funnel": blank}),
            dg.AssetCheckResult(
                check_name="miscellaneous_sales_mapped", passed=misc.height == 0, severity=dg.AssetCheckSeverity.WARN,
                metadata=safe_metadata({"miscellaneous_sales": misc.height, "by_assigned_lead_sources": ", ".join(f"{s} ({n})" for s, n in unmapped.rows()) or "none",
                                        "what_to_do": "add these sources to data/config/manual_mapping.csv"}),
            ),
            dg.AssetCheckResult(check_name="buyers_found_in_crm_assignments", passed=found_share >= 0.9, severity=dg.AssetCheckSeverity.WARN,
                                metadata={"share": round(found_share, 4), "minimum": 0.9, "sales_with_phone": with_phone.height}),
            first_touch_check,
        ],
    )


LEAD_COLUMNS = ["created_date", "source", "funnel", "is_duplicate", "phone_key"]
ZOOM_DAY_COLUMNS = ["session_date", "kind", "program", "registered", "attended", "phone_key", "email"]
PEOPLE_COLUMNS = ["phone_key", "email", "first_touch_funnel"]
SALE_COLUMNS = ["sale_id", "created_date", "final_funnel", "target", "status", "net_amount"]
SPEND_COLUMNS = ["day", "funnel", "sub_category", "cost", "impressions", "clicks"]
ATTRIBUTED_READ = ["month", "phone_key", "first_source", "final_funnel", "first_assigned_in_month_date"]


@dg.asset(
    group_name=GROUP,
    kinds={"polars", "sql", "csv"},
    deps=["marketing_leads", "zoom_sessions", "people", "attributed_leads", "crm_assigned_leads", "sales_enriched", "ad_spend"],
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy,
    pool=WAREHOUSE_POOL,
    freshness_policy=MARTS_FRESHNESS,
    tags={"layer": "mart"},
    check_specs=[
        dg.AssetCheckSpec("reconciles_with_sources", asset="funnel_daily",
                          description="Leads, registrations, sales and spend of the days add up to their source tables exactly."),
    ],
)
def funnel_daily(
    context: dg.AssetExecutionContext,
    project_config: ProjectConfigResource,
    warehouse: WarehouseResource,
    exports: ExportsResource,
):
    """The dashboard's table, one row per day × funnel × program: leads, webinar and bootcamp
    registrations and attendance, sales handover, conversions, refunds, net revenue, spend,
    impressions, clicks, stage-to-stage conversion rates, CPL, CAC, ROAS and Assigned MTD.
    Answers: how is each funnel doing, day by day, from ad spend to revenue?"""
    start, end = partition_dates(context)
    db = warehouse.get()
    month_start = attribution.month_start(start)
    notes: list[str] = []
    days = lambda column: dict(partition_column=column, start=start, end=end)  # noqa: E731
    inputs = dict(
        leads=read_source_table(context, db, "marketing_leads", schema=LEADS_SCHEMA, notes=notes, columns=LEAD_COLUMNS, **days("created_date")),
        zoom=read_source_table(context, db, "zoom_sessions", schema=ZOOM_SCHEMA, notes=notes, columns=ZOOM_DAY_COLUMNS, **days("session_date")),
        people=db.read_table("people", columns=PEOPLE_COLUMNS),
        attributed=db.read_table("attributed_leads", columns=ATTRIBUTED_READ, partition_column="month", start=month_start, end=end),
        assignments=_usable_assignments(context, db, notes, **days("assigned_date")),
        sales=db.read_table("sales_enriched", columns=SALE_COLUMNS, **days("created_date")),
        spend=read_source_table(context, db, "ad_spend", schema=AD_SPEND_SCHEMA, notes=notes, columns=SPEND_COLUMNS, **days("day")),
    )
    table = funnel_daily_lib.build_funnel_daily(start=start, end=end, program_for=project_config.zoom_config().program_for, **inputs)
    report = db.replace_partitions("funnel_daily", table, partition_column="day", start=start, end=end)

    expected = {
        "leads": inputs["leads"].height,
        "registrations": int(inputs["zoom"]["registered"].fill_null(False).sum()),
        "sales": inputs["sales"].height,
        "spend": round(float(inputs["spend"]["cost"].fill_null(0.0).sum()), 2),
    }
    got = {
        "leads": int(table["leads"].sum() + table["repeat_leads"].sum()),
        "registrations": int(table["registrations"].sum()),
        "sales": int(table["conversions"].sum() + table["refunds"].sum()),
        "spend": round(float(table["spend"].sum()), 2),
    }
    mismatched = {k: (expected[k], got[k]) for k in expected if abs(expected[k] - got[k]) >= 0.01}
    totals = table.select(pl.col(c).sum() for c in ("leads", "registrations", "attendees", "sales_handover", "conversions", "net_revenue", "spend"))
    yield dg.MaterializeResult(
        metadata=table_metadata(
            table, report, descriptions=funnel_daily_lib.COLUMNS, partition_column="day",
            totals=dg.MetadataValue.md("| " + " | ".join(totals.columns) + " |\n|" + "---|" * totals.width + "\n| "
                                       + " | ".join(f"{v:,.0f}" if isinstance(v, float) else str(v) for v in totals.row(0)) + " |"),
            **_export(exports, db, "funnel_daily"),
            **_notes(notes),
        ),
        check_results=[
            dg.AssetCheckResult(
                check_name="reconciles_with_sources", passed=not mismatched, severity=dg.AssetCheckSeverity.ERROR,
                metadata={**{f"source_{k}": v for k, v in expected.items()}, **{f"funnel_daily_{k}": v for k, v in got.items()},
                          "mismatched": ", ".join(f"{k}: source {a} vs mart {b}" for k, (a, b) in mismatched.items()) or "none"},
            ),
        ],
    )


BOOTCAMP_COLUMNS = {
    "bootcamp_start": "The bootcamp's Day 1 date (a Day 2 session belongs to the bootcamp that started the day before)",
    "program": "The bootcamp's program",
    "person": "The person: phone key (adopted through the email when the report had none), else email, else zoom_sessions' person key",
    "registered_days": "Day 1, Day 2 or Both: the days the person registered for (null: walked in)",
    "attended_days": "Day 1, Day 2 or Both: the days the person attended (null: registered, never came)",
    "minutes": "Minutes attended over both days",
    "sessions": "session_key of the bootcamp's sessions the person appears in",
}
BOOTCAMP_READ = ["session_date", "session_key", "kind", "bootcamp_day", "program", "person_key", "phone_key", "email", "name",
                 "registered", "attended", "minutes"]


@dg.asset(
    group_name=GROUP,
    kinds={"polars", "sql", "csv"},
    deps=["zoom_sessions", "touchpoints"],
    pool=WAREHOUSE_POOL,
    freshness_policy=MARTS_FRESHNESS,
    tags={"layer": "mart"},
)
def bootcamp_attendance(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    exports: ExportsResource,
):
    """Who came to each 2-day bootcamp, and on which days: one row per person per bootcamp with
    Day 1, Day 2 or Both (seed 002, "Boot Camps"), for registrations and for attendance, and the
    minutes over both days. Answers: how many bootcamp attendees stayed for both days?"""
    db, notes = warehouse.get(), []
    zoom = read_source_table(context, db, "zoom_sessions", schema=ZOOM_SCHEMA, notes=notes, columns=BOOTCAMP_READ)
    touches = read_source_table(context, db, "touchpoints", schema=TOUCHPOINT_SCHEMA, notes=notes, columns=TOUCH_COLUMNS)
    table = bootcamp_attendance_of(attribution.zoom_with_phones(zoom, touches))
    report = db.replace_table("bootcamp_attendance", table)
    by_days = table.group_by("attended_days").len().sort("attended_days", nulls_last=True)
    return dg.MaterializeResult(
        metadata=table_metadata(
            table, report, descriptions=BOOTCAMP_COLUMNS,
            attended_days=dg.MetadataValue.md("| attended | people |\n|---|---|\n" + "\n".join(
                f"| {d or 'registered, did not come'} | {n} |" for d, n in by_days.rows())),
            **_export(exports, db, "bootcamp_attendance", table),
            **_notes(notes),
        )
    )
