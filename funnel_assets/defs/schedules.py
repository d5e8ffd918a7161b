"""The nightly D-1 run: at 02:00 in the team's time zone, yesterday's partition of everything."""

import dagster as dg

from funnel_assets.defs.jobs import nightly_funnel_job

NIGHTLY_HOUR, NIGHTLY_MINUTE = 2, 0

nightly_funnel_schedule = dg.build_schedule_from_partitioned_job(
    nightly_funnel_job,
    name="nightly_funnel_schedule",
    description=(
        "Every night at 02:00 (team's time zone): materializes yesterday's partition of every daily "
        "asset, refreshes the CRM snapshots and rebuilds the marts, so the data is complete up to D-1 "
        "by morning."
    ),
    hour_of_day=NIGHTLY_HOUR,
    minute_of_hour=NIGHTLY_MINUTE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
