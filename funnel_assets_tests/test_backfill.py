"""Backfilling three months from the UI: an asset backfill of 90 days over the whole pipeline.

The backfill is created the way the UI's "Materialize → date range → Launch backfill" creates it
(``PartitionBackfill.from_asset_partitions`` over every production asset), then the backfill
daemon's own iterations run until it is done; the instance launches each requested run at once
and executes it in this process (synchronous coordinator and launcher), with the executor the
definitions give the backfill's runs. The world is a small generated one (90 days of the ed-tech
generator at a tenth of its volume), so the runs really execute and write the warehouse.

What it proves: the backfill succeeds, and the days are batched: every daily asset is
materialized by 3 ranged runs of at most 31 days (the daily backfill policy) that cover the 90
days exactly once, never a run per day; each unpartitioned asset (CRM snapshots, people, the
marts) runs exactly once, after its daily upstreams.
"""

from datetime import date, timedelta

import dagster as dg
import pytest

from benchmarks.pipeline import (
    backfill_runs,
    daemon_workspace,
    file_zoom_downloads,
    generate_world,
    launch_ui_backfill,
    pipeline_environment,
    pipeline_partition_keys,
    run_backfill_daemon,
    run_failures,
    synchronous_instance,
)
from funnel_assets.lib.warehouse import Warehouse

DAYS = 90
FIRST_DAY = date(2025, 4, 1)
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
MAX_DAYS_PER_RUN = 31
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@pytest.fixture
def world(tmp_path, monkeypatch):
    env = pipeline_environment(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from funnel_assets.defs.common import SETTINGS

    generate_world(tmp_path, FIRST_DAY, DAYS, scale=0.1, timezone=SETTINGS.timezone)
    return tmp_path, env["FUNNEL_WAREHOUSE_URL"]


@pytest.mark.timeout(900)
def test_ninety_day_ui_backfill_runs_in_month_batches(world):
    from funnel_assets.defs.jobs import PIPELINE

    root, warehouse_url = world
    with synchronous_instance(root / "home") as instance:
        assert file_zoom_downloads(instance) > 0, "the Zoom downloads were not filed"
        with daemon_workspace(instance) as workspace:
            asset_graph = workspace.create_request_context().asset_graph
            selected = PIPELINE.resolve(asset_graph)
            daily = {k for k in selected if asset_graph.get(k).is_partitioned}
            unpartitioned = selected - daily
            assert daily and unpartitioned  # the mix this test is about

            backfill_id = launch_ui_backfill(instance, workspace, pipeline_partition_keys(FIRST_DAY, DAYS))
            run_backfill_daemon(instance, workspace, backfill_id)

        runs = backfill_runs(instance, backfill_id)
        failed = [r.run_id for r in runs if r.status != dg.DagsterRunStatus.SUCCESS]
        assert not failed, "\n".join(run_failures(instance, failed))
        assert instance.get_backfill(backfill_id).status.value == "COMPLETED_SUCCESS"

        # batched: no run per day; each daily asset in 3 ranged runs covering the 90 days once
        assert not [r for r in runs if "dagster/partition" in r.tags], "some runs were for a single day"
        for key in daily:
            ranges = sorted(
                (date.fromisoformat(r.tags[RANGE_START]), date.fromisoformat(r.tags[RANGE_END]))
                for r in runs if key in (r.asset_selection or ())
            )
            assert len(ranges) == 3, f"{key.to_user_string()}: {ranges}"
            assert ranges[0][0] == FIRST_DAY and ranges[-1][1] == LAST_DAY
            for (_, end), (start, _) in zip(ranges, ranges[1:]):
                assert start == end + timedelta(days=1), f"{key.to_user_string()}: gap or overlap in {ranges}"
            assert all((last - first).days + 1 <= MAX_DAYS_PER_RUN for first, last in ranges)
            materialized = instance.get_materialized_partitions(key)
            assert materialized == set(pipeline_partition_keys(FIRST_DAY, DAYS)), key.to_user_string()

        # the unpartitioned assets: one run each, no range tags, materialized once
        for key in unpartitioned:
            holding = [r for r in runs if key in (r.asset_selection or ())]
            assert len(holding) == 1 and RANGE_START not in holding[0].tags, key.to_user_string()
            assert len(instance.fetch_materializations(key, limit=10).records) == 1, key.to_user_string()
        assert len(runs) <= 3 * 3 + len(unpartitioned), f"{len(runs)} runs for {DAYS} days"

    warehouse = Warehouse(warehouse_url)
    leads = warehouse.read_table("marketing_leads", columns=["created_date"])
    assert leads["created_date"].n_unique() == DAYS
    assert warehouse.read_table("funnel_daily")["day"].n_unique() == DAYS
