"""The ad-spend sheet (seed 002, Phase 3): the raw spend rows per day and spend per funnel."""

from datetime import timedelta

import dagster as dg
import polars as pl

from funnel_assets.defs.common import (
    NETWORK_RETRY,
    SETTINGS,
    WAREHOUSE_POOL,
    daily_multi_asset,
    daily_backfill_policy,
    daily_partitions,
    partition_dates,
    retried_only_when_it_may_help,
    safe_metadata,
    table_metadata,
)
from funnel_assets.defs.guards import (
    SheetTable,
    changed_days_metadata,
    compare_with_warehouse,
    shrink_check_result,
    shrink_check_spec,
)
from funnel_assets.defs.resources import ProjectConfigResource, WarehouseResource
from funnel_assets.defs.spend.resources import SpendSheetResource
from funnel_assets.lib import sheet_sync as sync
from funnel_assets.lib import spend as lib
from funnel_assets.lib.spend_repeats import reject_repeated_rows

GROUP = "spend"
TAGS = {"layer": "raw", "source": "spend_sheet"}
SOURCE = "spend_sheet"
TABLES = (SheetTable("ad_spend", "day", "spend"), SheetTable("ad_spend_rejects", "day", "reject"))

AD_SPEND_COLUMNS = {
    "spend_row_id": "Stable id of the row: hash of day, campaign, ad group, account and platform (+ occurrence)",
    "day": "Day the money was spent, in the team's time zone (from date_time; the partition)",
    "date_time": "date_time as written in the sheet",
    "cost": "Spend in INR (blank counts as 0, as the sheet's SUMIFS does)",
    "impressions": "Impressions (blank: 0)",
    "clicks": "Clicks (blank: 0)",
    "sub_category": "The program (ACCA, CMA, CFA, CPA)",
    "funnel": "Funnel as the sheet has it (spacing tidied, spelled like funnel_mapping.csv when equal ignoring case); blank: Other Sources (Miscellaneous)",
    "funnel_as_written": "The Funnel cell exactly as written (null when blank)",
    "funnel_blank": "True when the sheet's Funnel cell was blank",
    "problem": "Numbers of the row that could not be read (left null), e.g. 'video_views n/a is not a whole number'; null when all is well",
    "sheet_row": "Row number in the sheet (the header is row 1)",
    sync.ROW_HASH: sync.ROW_HASH_DESCRIPTION,
}
REJECT_COLUMNS = {
    "day": "The row's day when it could be read (its cost could not), else null",
    "sheet_row": "Row number in the sheet (the header is row 1)",
    "reason_code": "date_missing, date_ambiguous, date_unreadable, cost_unreadable, cost_ambiguous, before_start, or repeated_row (every cell equals an earlier row: counted once)",
    "reason": "What is wrong and how to fix it in the sheet",
    "raw_row": "The row's non-blank cells as JSON, keyed by sheet header",
}
BY_FUNNEL_COLUMNS = {
    "day": "Day (team's time zone)",
    "funnel": "Funnel (sheet's Funnel column)",
    "cost": "SUMIFS(cost, Funnel = funnel) for the day, INR rounded to paise",
    "impressions": "Sum of impressions",
    "clicks": "Sum of clicks",
    "campaigns": "Distinct campaigns with spend",
    "rows": "Spend rows summed",
}
TOTALS_COLUMNS = {
    "funnel": "Funnel",
    "cost": "Total spend over every day loaded (INR)",
    "impressions": "Total impressions",
    "clicks": "Total clicks",
    "first_day": "First day with spend",
    "last_day": "Last day with spend",
    "days": "Days with spend",
    "share_of_cost": "This funnel's share of all spend (0-1)",
}

CHECKS = [
    shrink_check_spec("ad_spend", "Each day of the spend sheet (spend rows + rejects), and the whole export,"),
    dg.AssetCheckSpec("has_spend_rows", asset="ad_spend", description="Every day of the run has spend rows (warning: a day may genuinely have none)."),
    dg.AssetCheckSpec("no_negative_cost", asset="ad_spend", blocking=True, description="No spend row has a negative cost (blocks spend_by_funnel and everything downstream)."),
    dg.AssetCheckSpec("rejects_share", asset="ad_spend", description=f"At most {lib.MAX_REJECT_SHARE:.0%} of the run's sheet rows have an unreadable date or cost (warning)."),
    dg.AssetCheckSpec("funnels_known", asset="ad_spend", description="Every funnel in the spend sheet is a funnel of funnel_mapping.csv (warning)."),
]


@daily_multi_asset(
    specs=[
        dg.AssetSpec(
            "ad_spend",
            group_name=GROUP,
            kinds={"googlesheets", "polars", "sql"},
            description=(
                "The spend sheet (seed 002 Phase 3.1, Perf_import), one row per sheet row, typed: the 43 "
                "columns in snake_case, the day (team's time zone) the money was spent, amounts in INR and "
                "counts as numbers, and the Funnel (blank: Other Sources (Miscellaneous)). Partitioned by day."
            ),
            tags=TAGS,
            skippable=True,  # a refused shrink writes nothing and materializes nothing
        ),
        dg.AssetSpec(
            "ad_spend_rejects",
            group_name=GROUP,
            kinds={"polars", "sql"},
            description=(
                "Spend sheet rows whose date or cost could not be read (or dated before the pipeline's "
                "first day), with the sheet row number and what to fix. Their cost is NOT in spend_by_funnel."
            ),
            tags=TAGS,
            skippable=True,  # a refused shrink writes nothing and materializes nothing
        ),
    ],
    check_specs=CHECKS,
    retry_policy=NETWORK_RETRY,
)
def spend_assets(
    context: dg.AssetExecutionContext,
    spend_sheet: SpendSheetResource,
    project_config: ProjectConfigResource,
    warehouse: WarehouseResource,
):
    """Fetch the spend sheet export, type it, and replace the run's days of spend, unless that would
    shrink them sharply; name the other days whose rows changed in the sheet."""
    start, end = partition_dates(context)
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    with retried_only_when_it_may_help(lib.SpendSheetError):
        fetched = spend_sheet.fetch(warn=context.log.warning)
        raw = lib.read_spend_sheet(fetched.content, location=fetched.location)
        known_funnels = project_config.funnel_mapping().table["funnel"].unique().to_list()
        rule = project_config.shrink_rules()[SOURCE]
    cleaned = lib.clean_spend(
        raw.frame,
        timezone=SETTINGS.timezone,
        known_funnels=known_funnels,
        day_first_default=spend_sheet.day_first_dates,
        first_date=SETTINGS.start_date,
    )
    hashes = sync.row_hashes(raw.frame, list(lib.SHEET_COLUMNS.values()))
    cleaned = reject_repeated_rows(cleaned, raw.frame, hashes)
    all_spend, all_rejects = sync.with_row_hash(cleaned.spend, hashes), sync.with_row_hash(cleaned.rejects, hashes)
    db = warehouse.get()
    comparison = compare_with_warehouse(context, db, SOURCE, rule, TABLES, [all_spend, all_rejects], start=start, end=end)
    verdict, changed = comparison.verdict, comparison.changed
    if verdict.refused:
        yield shrink_check_result("ad_spend", verdict)
        return

    in_range = (pl.col("day") >= start) & (pl.col("day") < end)
    spend = all_spend.filter(in_range)
    rejects = all_rejects.filter(in_range | pl.col("day").is_null())
    spend_report = db.replace_partitions("ad_spend", spend, partition_column="day", start=start, end=end)
    rejects_report = db.replace_partitions("ad_spend_rejects", rejects, partition_column="day", start=start, end=end, replace_undated=True)
    quality = lib.spend_quality(spend, rejects, days=days, known_funnels=known_funnels)
    context.log.info(
        f"{fetched.location}: {raw.frame.height} sheet rows; {spend.height} spend rows "
        f"(INR {spend['cost'].sum():,.2f}) and {rejects.height} rejects for {start} .. {end - timedelta(days=1)}; "
        f"other days whose rows changed in the sheet: {sync.describe(changed)}"
    )

    source_meta = {
        "source": fetched.location,
        "source_sha256": fetched.sha256,
        "sheet_rows": dg.MetadataValue.int(raw.frame.height),
        "blank_sheet_rows_skipped": dg.MetadataValue.int(raw.blank_rows),
        "date_order": cleaned.date_order.label,
        "date_order_decided_by": cleaned.date_order.describe(),
        "decimal_mark": cleaned.decimal_mark.describe(),
        "missing_optional_columns": ", ".join(raw.missing_optional_columns) or "none",
        "extra_columns_ignored": ", ".join(raw.extra_columns) or "none",
        "days_in_run": f"{start} .. {end - timedelta(days=1)}",
    }
    yield dg.MaterializeResult(
        asset_key="ad_spend",
        metadata=table_metadata(
            spend,
            spend_report,
            descriptions=AD_SPEND_COLUMNS,
            partition_column="day",
            total_cost=dg.MetadataValue.float(round(float(spend["cost"].sum()), 2)),
            blank_funnel_rows=dg.MetadataValue.int(quality.blank_funnel_rows),
            rows_with_problems=dg.MetadataValue.int(quality.rows_with_problems),
            repeated_rows_counted_once=dg.MetadataValue.int(rejects.filter(pl.col("reason_code") == "repeated_row").height),
            **changed_days_metadata(changed),
            **source_meta,
        ),
        check_results=[shrink_check_result("ad_spend", verdict), *_check_results(quality)],
    )
    reasons = rejects.group_by("reason_code").len().sort("len", descending=True)
    yield dg.MaterializeResult(
        asset_key="ad_spend_rejects",
        metadata=table_metadata(
            rejects,
            rejects_report,
            descriptions=REJECT_COLUMNS,
            partition_column="day",
            reasons=dg.MetadataValue.md("\n".join(f"- {r}: {n}" for r, n in reasons.rows()) or "no rejects"),
            sheet_rows_to_fix=", ".join(str(r) for r in rejects["sheet_row"].head(30).to_list()) or "none",
            **source_meta,
        ),
    )


@dg.asset(
    group_name=GROUP,
    kinds={"polars", "sql"},
    deps=["ad_spend"],
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy,
    pool=WAREHOUSE_POOL,
    tags={"layer": "mart", "source": "spend_sheet"},
    description=(
        "Phase 3.2 per day: spend per funnel, SUMIFS(cost, Funnel = funnel), with impressions, clicks, "
        "campaigns and rows. Does not run when ad_spend has a negative cost (blocking check)."
    ),
)
def spend_by_funnel(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Sum the run's days of ad_spend per day and funnel, and replace those days."""
    start, end = partition_dates(context)
    db = warehouse.get()
    spend = db.read_table("ad_spend", partition_column="day", start=start, end=end)
    by_funnel = lib.spend_by_funnel(spend)
    report = db.replace_partitions("spend_by_funnel", by_funnel, partition_column="day", start=start, end=end)
    return dg.MaterializeResult(
        metadata=table_metadata(
            by_funnel,
            report,
            descriptions=BY_FUNNEL_COLUMNS,
            partition_column="day",
            total_cost=dg.MetadataValue.float(round(float(by_funnel["cost"].sum()), 2)),
            cost_by_funnel=dg.MetadataValue.md(_cost_table(by_funnel)),
            days_in_run=f"{start} .. {end - timedelta(days=1)}",
        )
    )


@dg.asset(
    group_name=GROUP,
    kinds={"polars", "sql"},
    deps=["ad_spend"],
    pool=WAREHOUSE_POOL,
    tags={"layer": "mart", "source": "spend_sheet"},
    description=(
        "Phase 3.2 as the sheet's raw tab shows it: total spend per funnel over every day in ad_spend, "
        "with impressions, clicks, first and last day with spend, and each funnel's share of all spend."
    ),
)
def spend_funnel_totals(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Recompute spend per funnel from the whole ad_spend table."""
    db = warehouse.get()
    spend = db.read_table("ad_spend") if db.has_table("ad_spend") else pl.DataFrame(schema=lib.AD_SPEND_SCHEMA)
    totals = lib.funnel_totals(spend)
    report = db.replace_table("spend_funnel_totals", totals)
    context.log.info(f"{totals.height} funnels, INR {totals['cost'].sum():,.2f} over {spend['day'].n_unique()} days")
    return dg.MaterializeResult(
        metadata=table_metadata(
            totals,
            report,
            descriptions=TOTALS_COLUMNS,
            total_cost=dg.MetadataValue.float(round(float(totals["cost"].sum()), 2)),
            cost_by_funnel=dg.MetadataValue.md(_cost_table(totals)),
        )
    )


def _cost_table(frame: pl.DataFrame) -> str:
    per_funnel = frame.group_by("funnel").agg(pl.col("cost").sum().round(2)).sort("cost", descending=True)
    if per_funnel.is_empty():
        return "no spend"
    return "| funnel | cost (INR) |\n|---|---:|\n" + "\n".join(f"| {f} | {c:,.2f} |" for f, c in per_funnel.rows())


def _check_results(q: lib.SpendQuality) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(
            check_name="has_spend_rows",
            asset_key="ad_spend",
            passed=not q.days_without_spend,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "rows": q.rows,
                "days_without_spend": ", ".join(str(d) for d in q.days_without_spend) or "none",
            },
        ),
        dg.AssetCheckResult(
            check_name="no_negative_cost",
            asset_key="ad_spend",
            passed=q.negative_cost_rows == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "negative_rows": q.negative_cost_rows,
                "sheet_rows": ", ".join(map(str, q.negative_cost_sheet_rows)) or "none",
                "what_to_do": "correct the cost in these sheet rows (refunds/credits belong elsewhere), then rerun the day",
            },
        ),
        dg.AssetCheckResult(
            check_name="rejects_share",
            asset_key="ad_spend",
            passed=q.reject_share <= lib.MAX_REJECT_SHARE,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "rejects": q.rejects,
                "share": round(q.reject_share, 4),
                "maximum": lib.MAX_REJECT_SHARE,
                "what_to_do": "see ad_spend_rejects for the sheet rows and reasons; fix them and rerun the days",
            },
        ),
        dg.AssetCheckResult(
            check_name="funnels_known",
            asset_key="ad_spend",
            passed=not q.unknown_funnels,
            severity=dg.AssetCheckSeverity.WARN,
            metadata=safe_metadata({
                "unknown_funnels": ", ".join(q.unknown_funnels) or "none",
                "what_to_do": "fix the Funnel spelling in the spend sheet, or add the funnel to data/config/funnel_mapping.csv",
            }),
        ),
    ]
