"""A failed step is re-executed from the UI without redoing the rest (issue 5, item 7).

The nightly run of one day fails in the marts because someone saved a broken manual mapping;
once the file is fixed, "Re-execute → From failure" (``ReexecutionOptions.from_failure``, what the
UI button launches) runs only the failed steps and what depends on them: the sources, touchpoints
and people are not fetched or rebuilt again.
"""

import os
import shutil
import time
from datetime import date, timedelta

import dagster as dg
import pytest

from funnel_assets.definitions import defs
from funnel_assets.defs.zoom.sensors import zoom_drop_folder_sensor
from funnel_assets.lib.settings import PROJECT_ROOT
from funnel_assets.lib.synthetic.edtech import DEFAULT_CONFIG_DIR, load_edtech_config, simulate_edtech_days
from funnel_assets.lib.synthetic.files import save_zoom_files, write_edtech_exports
from funnel_assets.lib.warehouse import Warehouse
from funnel_assets_tests.settings_env import pipeline_env

START, DAYS = date(2025, 5, 1), 6
DAY = START + timedelta(days=DAYS - 1)


def nightly_funnel_job() -> dg.JobDefinition:
    return defs().resolve_job_def("nightly_funnel_job")


def steps(instance: dg.DagsterInstance, run_id: str, event: dg.DagsterEventType) -> set[str]:
    return {r.event_log_entry.step_key for r in instance.get_records_for_run(run_id, of_type=event).records}


@pytest.fixture
def world(tmp_path, monkeypatch):
    config_dir = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "data" / "config", config_dir)
    env = pipeline_env(tmp_path, FUNNEL_CONFIG_DIR=str(config_dir))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = load_edtech_config(DEFAULT_CONFIG_DIR)
    kw = dict(seed=5, start=START, end=DAY + timedelta(days=1), scale=0.1, timezone="Asia/Kolkata")
    write_edtech_exports(
        config, leads_sheet=tmp_path / "inputs" / "leads_sheet.csv", crm_assigned_leads=tmp_path / "inputs" / "crm" / "assigned_leads.csv",
        crm_sales=tmp_path / "inputs" / "crm" / "sales.csv", spend_sheet=tmp_path / "inputs" / "spend_sheet.csv", **kw,
    )
    inbox = tmp_path / "inbox" / "zoom"
    for day in simulate_edtech_days(config, **kw):
        save_zoom_files(inbox, day.zoom_files)
    stamp = time.time() - 3600
    for path in inbox.iterdir():
        os.utime(path, (stamp, stamp))
    return config_dir, env


def test_a_failed_step_is_re_executed_without_redoing_the_rest(world):
    config_dir, env = world
    manual = config_dir / "manual_mapping.csv"
    good = manual.read_text()
    manual.write_text(good + "2025-13,Walk-in,Offline,a month that does not exist\n")
    with dg.instance_for_test() as instance:
        definitions = defs()
        with dg.build_sensor_context(instance=instance, definitions=definitions, resources=definitions.resources) as context:
            zoom_drop_folder_sensor.evaluate_tick(context)  # files the downloads under processed/<day>/
        job = dg.reconstructable(nightly_funnel_job)
        with dg.execute_job(job, instance=instance, tags={"dagster/partition": DAY.isoformat()}, raise_on_error=False) as first:
            assert not first.success
            failed_run = first.run_id
        failed = steps(instance, failed_run, dg.DagsterEventType.STEP_FAILURE)
        done = steps(instance, failed_run, dg.DagsterEventType.STEP_SUCCESS)
        assert failed == {"attributed_leads", "sales_enriched"}
        assert {"leads_sheet_assets", "zoom_assets", "crm_assigned_leads", "crm_sales", "touchpoints", "people"} <= done
        assert "funnel_daily" not in done  # skipped: its inputs failed

        manual.write_text(good)  # the analyst fixes the file
        options = dg.ReexecutionOptions.from_failure(failed_run, instance)
        parent_tags = instance.get_run_by_id(failed_run).tags  # the UI's re-execution keeps the run's partition
        with dg.execute_job(job, instance=instance, reexecution_options=options,
                            tags={k: v for k, v in parent_tags.items() if k == "dagster/partition"}) as again:
            assert again.success
            rerun = steps(instance, again.run_id, dg.DagsterEventType.STEP_SUCCESS)
    assert rerun == {"attributed_leads", "sales_enriched", "funnel_daily"}
    db = Warehouse(env["FUNNEL_WAREHOUSE_URL"])
    assert db.row_count("attributed_leads") > 0 and db.row_count("funnel_daily") > 0
