"""Jobs users launch from the UI, the schedule and the demo."""

import dagster as dg

PIPELINE = dg.AssetSelection.all() - dg.AssetSelection.groups("synthetic")
"""Every production asset: the sources, the canonical model and the marts (never the synthetic world)."""

nightly_funnel_job = dg.define_asset_job(
    "nightly_funnel_job",
    selection=PIPELINE,
    description=(
        "The whole pipeline for one day (the nightly D-1 run) or a range of days (a backfill): every "
        "daily asset for those days, the CRM snapshots and the marts rebuilt from them."
    ),
    # One process for the whole run: a process per step would cost ~2 s each on a small machine
    # (see README, "Benchmarks"), more than the data work of a day.
    executor_def=dg.in_process_executor,
)

synthetic_world_job = dg.define_asset_job(
    "synthetic_world_job",
    selection=dg.AssetSelection.groups("synthetic"),
    description="Demo only: simulate the synthetic world's days and drop its files where the pipeline reads them.",
    executor_def=dg.in_process_executor,
)
