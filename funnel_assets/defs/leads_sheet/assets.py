"""The performance-marketing leads sheet (seed 002, "Top of Funnel")."""

from datetime import timedelta

import dagster as dg
import polars as pl

from funnel_assets.defs.common import (
    NETWORK_RETRY,
    SETTINGS,
    daily_multi_asset,
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
from funnel_assets.defs.resources import LeadsSheetResource, ProjectConfigResource, WarehouseResource
from funnel_assets.lib import leads_sheet as lib
from funnel_assets.lib import sheet_sync as sync
from funnel_assets.lib.phones import mask_phone

GROUP = "leads_sheet"

LEAD_COLUMNS = {
    "lead_id": "Stable id of the sheet row (hash of its content)",
    "created_date": "Day the lead was captured, in the team's time zone (the partition)",
    "created_at": "When the lead was captured (UTC)",
    "phone_key": "91 + 10-digit mobile (or +<digits> abroad): the join key with Zoom and the CRM",
    "phone_status": "valid, international, placeholder, corrupt, invalid or missing",
    "source": "The campaign (utmCamp), or utmSource when there is no campaign",
    "funnel": "The source's funnel from data/config/funnel_mapping.csv; unknown sources: Other Sources (Miscellaneous)",
    "funnel_mapped": "False when the source is not in the funnel mapping yet",
    "is_duplicate": "A later submission by a person already in the sheet (same phone, else same email)",
    "duplicate_of": "lead_id of that person's first submission",
    "sheet_row": "Row number in the sheet (the header is row 1)",
    "extra_fields": "Columns the sheet has beyond the expected ones, as JSON",
    sync.ROW_HASH: sync.ROW_HASH_DESCRIPTION,
}
SOURCE = "leads_sheet"
TABLES = (
    SheetTable("marketing_leads", "created_date", "lead", also=("duplicate_of",)),
    SheetTable("marketing_lead_rejects", "created_date", "reject"),
)

CHECKS = [
    shrink_check_spec("marketing_leads", "Each day of the leads sheet (leads + rejects), and the whole export,"),
    dg.AssetCheckSpec("has_leads", asset="marketing_leads", description="At least one lead was captured on the day."),
    dg.AssetCheckSpec("valid_phone_share", asset="marketing_leads", description=f"At least {lib.MIN_VALID_PHONE_SHARE:.0%} of leads have a usable phone number."),
    dg.AssetCheckSpec("duplicate_share", asset="marketing_leads", description=f"At most {lib.MAX_DUPLICATE_SHARE:.0%} of leads are repeat submissions."),
    dg.AssetCheckSpec("unmapped_source_share", asset="marketing_leads", description=f"At most {lib.MAX_UNMAPPED_SHARE:.0%} of leads come from a source missing in funnel_mapping.csv (warning)."),
]


def _specs() -> list[dg.AssetSpec]:
    # built on demand: AssetSpecs at module level would be loaded as assets of their own
    return [
        dg.AssetSpec(
            "marketing_leads",
            group_name=GROUP,
            kinds={"googlesheets", "polars", "sql"},
            description=(
                "Leads captured by performance-marketing campaigns, one row per sheet row, cleaned: "
                "phone key, lower-cased email, proper-cased name and city, UTM values, the campaign's "
                "funnel, and repeat submissions flagged (the first one is the person's first touch). "
                "Partitioned by the day the lead was created."
            ),
            tags={"layer": "raw", "source": "leads_sheet"},
            skippable=True,  # a refused shrink writes nothing and materializes nothing
        ),
        dg.AssetSpec(
            "marketing_lead_rejects",
            group_name=GROUP,
            kinds={"polars", "sql"},
            description=(
                "Sheet rows that could not be used as leads, with the reason and the row number so "
                "they can be fixed in the sheet: no usable phone or email, an unreadable date, or a "
                "date before the pipeline's first day (these have no partition date and are "
                "refreshed on every run)."
            ),
            tags={"layer": "raw", "source": "leads_sheet"},
            skippable=True,
        ),
    ]


def _leads_sheet(
    context: dg.AssetExecutionContext,
    leads_sheet: LeadsSheetResource,
    project_config: ProjectConfigResource,
    warehouse: WarehouseResource,
):
    """Fetch the leads sheet export, clean it, and replace the run's days in the warehouse,
    unless that would shrink them sharply; name the other days whose rows changed in the sheet."""
    start, end = partition_dates(context)
    with retried_only_when_it_may_help(lib.LeadsSheetError):
        fetched = leads_sheet.fetch(warn=context.log.warning)
        raw, missing_columns = lib.read_leads_sheet(fetched.content, location=fetched.location)
        mapping = project_config.funnel_mapping()
        rule = project_config.shrink_rules()[SOURCE]
    cleaned = lib.clean_leads(
        raw,
        mapping,
        timezone=SETTINGS.timezone,
        day_first_default=leads_sheet.day_first_dates,
        first_date=SETTINGS.start_date,
        location=fetched.location,
    )
    hashes = sync.row_hashes(raw, list(lib.HEADER_ALIASES))
    all_leads, all_rejects = sync.with_row_hash(cleaned.leads, hashes), sync.with_row_hash(cleaned.rejects, hashes)
    db = warehouse.get()
    comparison = compare_with_warehouse(context, db, SOURCE, rule, TABLES, [all_leads, all_rejects], start=start, end=end)
    verdict, changed = comparison.verdict, comparison.changed
    if verdict.refused:
        yield shrink_check_result("marketing_leads", verdict)
        return

    in_range = (pl.col("created_date") >= start) & (pl.col("created_date") < end)
    leads = all_leads.filter(in_range)
    rejects = all_rejects.filter(in_range | pl.col("created_date").is_null())
    leads_report = db.replace_partitions("marketing_leads", leads, partition_column="created_date", start=start, end=end)
    rejects_report = db.replace_partitions(
        "marketing_lead_rejects", rejects, partition_column="created_date", start=start, end=end, replace_undated=True
    )
    context.log.info(
        f"{fetched.location}: {raw.height} sheet rows; {leads.height} leads and {rejects.height} rejects "
        f"for {start} .. {end - timedelta(days=1)}; other days whose rows changed in the sheet: {sync.describe(changed)}"
    )

    quality = lib.leads_quality(leads)
    source_meta = {
        "source": fetched.location,
        "source_sha256": fetched.sha256,
        "sheet_rows": dg.MetadataValue.int(raw.height),
        "date_order": cleaned.date_order.label,
        "date_order_decided_by": cleaned.date_order.describe(),
        "missing_optional_columns": ", ".join(missing_columns) or "none",
        "days_in_run": f"{start} .. {end - timedelta(days=1)}",
    }
    yield dg.MaterializeResult(
        asset_key="marketing_leads",
        metadata=table_metadata(
            leads,
            leads_report,
            descriptions=LEAD_COLUMNS,
            partition_column="created_date",
            duplicates=dg.MetadataValue.int(leads.filter(pl.col("is_duplicate")).height),
            unmapped_sources=", ".join(quality.unmapped_sources) or "none",
            **changed_days_metadata(changed),
            **source_meta,
        ),
        check_results=[shrink_check_result("marketing_leads", verdict), *_check_results(quality)],
    )
    reasons = rejects.group_by("reason_code").len().sort("len", descending=True)
    yield dg.MaterializeResult(
        asset_key="marketing_lead_rejects",
        metadata=table_metadata(
            rejects,
            rejects_report,
            partition_column="created_date",
            reasons=dg.MetadataValue.md(
                "\n".join(f"- {r}: {n}" for r, n in reasons.rows()) or "no rejects"
            ),
            example_phones=", ".join(filter(None, (mask_phone(p) for p in rejects["phone_raw"].head(5).to_list()))) or "none",
            **source_meta,
        ),
    )


def build_leads_sheet_assets(retry_policy: dg.RetryPolicy | None = NETWORK_RETRY) -> dg.AssetsDefinition:
    """The leads sheet's assets; tests pass a retry policy that does not wait."""
    return daily_multi_asset(specs=_specs(), check_specs=CHECKS, retry_policy=retry_policy, name="leads_sheet_assets")(_leads_sheet)


leads_sheet_assets = build_leads_sheet_assets()


def _check_results(q: lib.LeadsQuality) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(
            check_name="has_leads",
            asset_key="marketing_leads",
            passed=q.rows > 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"rows": q.rows},
        ),
        dg.AssetCheckResult(
            check_name="valid_phone_share",
            asset_key="marketing_leads",
            passed=q.rows == 0 or q.valid_phone_share >= lib.MIN_VALID_PHONE_SHARE,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"share": round(q.valid_phone_share, 4), "minimum": lib.MIN_VALID_PHONE_SHARE, "rows": q.rows},
        ),
        dg.AssetCheckResult(
            check_name="duplicate_share",
            asset_key="marketing_leads",
            passed=q.duplicate_share <= lib.MAX_DUPLICATE_SHARE,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"share": round(q.duplicate_share, 4), "maximum": lib.MAX_DUPLICATE_SHARE, "rows": q.rows},
        ),
        dg.AssetCheckResult(
            check_name="unmapped_source_share",
            asset_key="marketing_leads",
            passed=q.unmapped_share <= lib.MAX_UNMAPPED_SHARE,
            severity=dg.AssetCheckSeverity.WARN,
            metadata=safe_metadata({
                "share": round(q.unmapped_share, 4),
                "maximum": lib.MAX_UNMAPPED_SHARE,
                "unmapped_sources": ", ".join(q.unmapped_sources) or "none",
                "what_to_do": "add these sources to data/config/funnel_mapping.csv",
            }),
        ),
    ]
