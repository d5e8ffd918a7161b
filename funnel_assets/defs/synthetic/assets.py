"""The synthetic world (demo and tests only): realistic data from every source, from a seed.

Never part of the nightly production run: these assets belong to the ``synthetic`` group and to
``synthetic_world_job`` only.
"""

from datetime import timedelta

import dagster as dg
import polars as pl

from funnel_assets.defs.common import (
    SETTINGS,
    WAREHOUSE_POOL,
    daily_backfill_policy,
    daily_partitions,
    partition_dates,
    table_metadata,
)
from funnel_assets.defs.resources import ProjectConfigResource, WarehouseResource
from funnel_assets.defs.synthetic.resources import DemoFilesResource, SyntheticWorldResource
from funnel_assets.lib.synthetic import edtech
from funnel_assets.lib.synthetic.files import save_zoom_files, write_edtech_exports, zoom_files_truth
from funnel_assets.lib.synthetic.saas_checks import CHECKS, days_between, saas_checks
from funnel_assets.lib.synthetic.saas_config import load_saas_config
from funnel_assets.lib.synthetic.saas_world import SaasWorld

GROUP = "synthetic"
SAAS_DESCRIPTIONS = {
    "web_events": "Amplitude events of the simulated SaaS product (HTTP V2 shape: event_type, user_id, device_id, time, session_id, insert_id, properties, UTM), by day.",
    "ad_campaigns": "Google Ads and Facebook Ads daily campaign rows of the simulated SaaS world: impressions, clicks and cost per campaign, by day.",
    "crm_leads": "Pipedrive leads of the simulated SaaS world: one per form fill plus bought lists, with form type, trial path and owner, by day created.",
    "crm_activities": "Pipedrive activities of the simulated SaaS world, per template (self-service trial 1, sales-assisted 10-12, demo 8, ...): created, and marked done on their due day.",
    "crm_deals": "Pipedrive deals of the simulated SaaS world, linked to SKUs: each day the deals created or moved to another stage that day, in their state at the end of the day.",
    "subscriptions": "Stripe subscriptions of the simulated SaaS world: each day the subscriptions created or updated (trialing, active, canceled) that day.",
}
CATALOG_DESCRIPTIONS = {
    "stripe_products": "Stripe products of the simulated SaaS world: the STARTER, PRO, BUSINESS and ENTERPRISE tiers (data/config/synthetic/saas_products.csv).",
    "stripe_plans": "Stripe plans of the simulated SaaS world: a monthly and an annual plan per product, amounts in cents.",
}
SEVERITY = dg.AssetCheckSeverity.ERROR


def _saas_world(project_config: ProjectConfigResource, world: SyntheticWorldResource) -> SaasWorld:
    config = load_saas_config(project_config.path("synthetic"))
    return SaasWorld(config, seed=world.seed, scale=world.saas_scale, world_start=world.start())


def _run_days(context: dg.AssetExecutionContext, world: SyntheticWorldResource) -> list:
    """The run's days on which the world exists (it starts on ``world_start``)."""
    start, end = partition_dates(context)
    first = max(start, world.start())
    if first >= end:
        raise dg.Failure(
            f"the synthetic world starts on {world.world_start}, after {start} .. {end - timedelta(days=1)}; "
            "pick later days or an earlier world_start"
        )
    return days_between(first, end - timedelta(days=1))


@dg.multi_asset(
    specs=[dg.AssetSpec(name, group_name=GROUP, kinds={"python", "polars", "sql"}, description=text, tags={"layer": "raw", "source": "synthetic"})
           for name, text in SAAS_DESCRIPTIONS.items()],
    check_specs=[dg.AssetCheckSpec(check, asset=asset, description=text) for asset, checks in CHECKS.items() for check, text in checks.items()],
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy,
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def saas_world(context: dg.AssetExecutionContext, synthetic_world: SyntheticWorldResource, project_config: ProjectConfigResource, warehouse: WarehouseResource):
    """Simulate the SaaS world's days and write its raw datasets, with the seeds' validation checks."""
    start, end = partition_dates(context)
    world = _saas_world(project_config, synthetic_world)
    days = [world.datasets(d) for d in _run_days(context, synthetic_world)]
    outcomes = saas_checks(world.config, days)
    db = warehouse.get()
    for name in SAAS_DESCRIPTIONS:
        frame = pl.concat([d.tables()[name] for d in days], how="diagonal_relaxed")
        report = db.replace_partitions(name, frame, partition_column="day", start=start, end=end)
        yield dg.MaterializeResult(
            asset_key=name,
            metadata=table_metadata(frame, report, partition_column="day", seed=synthetic_world.seed, scale=synthetic_world.saas_scale),
            check_results=[
                dg.AssetCheckResult(check_name=o.name, asset_key=name, passed=o.passed, severity=SEVERITY,
                                    description=o.description[:2000], metadata={k: v for k, v in o.metadata.items() if v is not None})
                for o in outcomes if o.asset == name
            ],
        )


@dg.multi_asset(
    specs=[dg.AssetSpec(name, group_name=GROUP, kinds={"python", "polars", "sql"}, description=text, tags={"layer": "raw", "source": "synthetic"})
           for name, text in CATALOG_DESCRIPTIONS.items()],
    pool=WAREHOUSE_POOL,
)
def stripe_catalog(project_config: ProjectConfigResource, synthetic_world: SyntheticWorldResource, warehouse: WarehouseResource):
    """Write the simulated Stripe catalog (products and plans)."""
    world = _saas_world(project_config, synthetic_world)
    db = warehouse.get()
    for name, frame in world.catalog().items():
        report = db.replace_table(name, frame)
        yield dg.MaterializeResult(asset_key=name, metadata=table_metadata(frame, report))


ZOOM_DOWNLOADS_DESCRIPTION = (
    "The Zoom Registration and Attendee Reports of each day's webinars and bootcamps, as the team "
    "downloads them by hand (every quirk of real files, meeting participant reports for bootcamps run "
    "as meetings), dropped into the watched Zoom folder, with now and then a file that must be "
    "rejected (not a Zoom report, empty, truncated, no attendee section). The true attendance and "
    "each file's expected outcome go to the warehouse tables truth_zoom_attendance and truth_zoom_files."
)


# a multi_asset with one spec: @dg.asset's backfill_policy parameter is still flagged beta
@dg.multi_asset(
    specs=[dg.AssetSpec("zoom_report_downloads", group_name=GROUP, kinds={"python", "csv", "sql"},
                        description=ZOOM_DOWNLOADS_DESCRIPTION, tags={"source": "synthetic"})],
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy,
    pool=WAREHOUSE_POOL,
)
def zoom_report_downloads(context: dg.AssetExecutionContext, synthetic_world: SyntheticWorldResource, project_config: ProjectConfigResource,
                          demo_files: DemoFilesResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Simulate the days' sessions and drop their Zoom reports into the watched folder."""
    start, end = partition_dates(context)
    config = edtech.load_edtech_config(project_config.path("synthetic"))
    days = [edtech.simulate_edtech_day(config, seed=synthetic_world.seed, day=d, scale=synthetic_world.edtech_scale, timezone=SETTINGS.timezone)
            for d in _run_days(context, synthetic_world)]
    inbox = demo_files.zoom_inbox_path()
    saved = {d.day: save_zoom_files(inbox, d.zoom_files) for d in days}
    written = [path for files in saved.values() for _, path, new in files if new]
    db = warehouse.get()
    attendance = pl.concat([d.truth["zoom_attendance"] for d in days], how="diagonal_relaxed")
    report = db.replace_partitions("truth_zoom_attendance", attendance, partition_column="session_date", start=start, end=end)
    files_truth = pl.concat([zoom_files_truth(d.truth["zoom_files"], d.day, saved[d.day]) for d in days], how="diagonal_relaxed")
    db.replace_partitions("truth_zoom_files", files_truth, partition_column="dropped_on", start=start, end=end)
    return dg.MaterializeResult(
        metadata={
            "files_written": dg.MetadataValue.int(len(written)),
            "zoom_inbox": str(demo_files.zoom_inbox_path()),
            "files": dg.MetadataValue.md("\n".join(f"- {p.name}" for p in written[:50]) or "no new files (no sessions, or already dropped)"),
            "expected_rejects": dg.MetadataValue.int(files_truth.filter(pl.col("expected_outcome") != "accept").height),
            "truth_rows": dg.MetadataValue.int(report.rows_written),
        }
    )


@dg.asset(
    group_name=GROUP,
    kinds={"python", "csv", "sql"},
    pool=WAREHOUSE_POOL,
    tags={"source": "synthetic"},
)
def edtech_source_exports(context: dg.AssetExecutionContext, synthetic_world: SyntheticWorldResource, project_config: ProjectConfigResource,
                          demo_files: DemoFilesResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The ed-tech team's other sources as of yesterday, written where the pipeline reads them: the
    performance-marketing leads sheet, the CRM's full dumps (assigned leads, 44-column sales) and the
    spend sheet; the ground truth (people, first touch, assignments, sales, spend) goes to the
    warehouse tables ``truth_*``."""
    config = edtech.load_edtech_config(project_config.path("synthetic"))
    start, end = synthetic_world.start(), SETTINGS.yesterday() + timedelta(days=1)
    written, truth = write_edtech_exports(
        config, seed=synthetic_world.seed, start=start, end=end, scale=synthetic_world.edtech_scale, timezone=SETTINGS.timezone,
        leads_sheet=demo_files.leads_sheet_path(), crm_assigned_leads=demo_files.crm_assigned_leads_path(),
        crm_sales=demo_files.crm_sales_path(), spend_sheet=demo_files.spend_sheet_path(),
    )
    db = warehouse.get()
    rows = {}
    for name, frame in truth.items():
        rows[name] = db.replace_table(f"truth_{name}", frame).rows_written
    context.log.info(f"wrote {', '.join(str(p) for p in written)}")
    return dg.MaterializeResult(
        metadata={
            "as_of": str(end - timedelta(days=1)),
            "files": dg.MetadataValue.md("\n".join(f"- {p}" for p in written)),
            **{f"truth_{k}_rows": dg.MetadataValue.int(v) for k, v in rows.items()},
        }
    )
