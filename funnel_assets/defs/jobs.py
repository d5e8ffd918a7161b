"""Jobs users launch from the UI, the schedule and the demo."""

import dagster as dg

daily_funnel_job = dg.define_asset_job(
    "daily_funnel_job",
    selection=dg.AssetSelection.groups("leads_sheet", "zoom"),
    description="Every daily pipeline asset for one day (or a range of days in a backfill).",
    executor_def=dg.in_process_executor,
)

synthetic_world_job = dg.define_asset_job(
    "synthetic_world_job",
    selection=dg.AssetSelection.groups("synthetic"),
    description="Demo only: simulate the synthetic world's days and drop its files where the pipeline reads them.",
    executor_def=dg.in_process_executor,
)
