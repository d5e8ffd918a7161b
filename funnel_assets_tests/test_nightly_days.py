"""The nightly path, day by day, as the schedule launches it (issue 12, item 1).

The schedule runs ``nightly_funnel_job`` for ONE day, yesterday, every night; the other end-to-end
tests run ranges of days, which hid a crash that only a single day shows (a bootcamp Day 2 held as
a Zoom meeting has no phones at all, and the day's ``zoom_sessions`` rows read back with a
``phone_key`` column of polars' Null type: ``SchemaError ... phone_key: null ... str``).

Three weeks of the synthetic ed-tech world (over a month boundary) are written where production
reads them and the Zoom downloads are filed by the drop-folder sensor, as the daemon does. Then,
for each kind of day the world produces, the schedule's tick at 02:00 the next morning gives the
run request, and that single-day run executes through a real Dagster instance (the project's
dagster.yaml): a webinar day, a meeting-only day, a day without Zoom files, a day whose only Zoom
file is rejected when the run reads it, and the first day of a month. Every run must succeed, with
every daily asset materialized for its day and the day's rows in the warehouse; the rejected file
is a failed ``all_files_loaded`` check on ``zoom_sessions``, not a green "no Zoom files".
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
import pytest

from funnel_assets.definitions import defs
from funnel_assets.defs.zoom.sensors import tick_like_the_daemon
from funnel_assets.lib.settings import PROJECT_ROOT
from funnel_assets.lib.synthetic.edtech import DEFAULT_CONFIG_DIR, load_edtech_config, simulate_edtech_days
from funnel_assets.lib.synthetic.files import save_zoom_files, write_edtech_exports
from funnel_assets.lib.warehouse import Warehouse
from funnel_assets_tests.settings_env import pipeline_env

SEED, SCALE, TZ_NAME = 11, 0.2, "Asia/Kolkata"
TZ = ZoneInfo(TZ_NAME)
START, END = date(2025, 3, 20), date(2025, 4, 4)  # [START, END): 15 days over the March/April boundary
DAILY_ASSETS = ("marketing_leads", "zoom_sessions", "ad_spend", "touchpoints", "funnel_daily")


def nightly_funnel_job() -> dg.JobDefinition:
    return defs().resolve_job_def("nightly_funnel_job")


@pytest.fixture(scope="module")
def world():
    config = load_edtech_config(DEFAULT_CONFIG_DIR)
    return config, simulate_edtech_days(config, seed=SEED, start=START, end=END, scale=SCALE, timezone=TZ_NAME)


def kinds_of_days(days) -> dict[str, date]:
    """One day of each kind, found in the world's truth (not hard-coded: a change to the world that
    removes a kind fails here, saying which)."""
    held = {d.day: d.truth["zoom_sessions"] for d in days}
    webinar_only = [day for day, s in held.items() if s.height and set(s["run_as"]) == {"webinar"}]
    meeting_only = [day for day, s in held.items() if s.height and set(s["run_as"]) == {"meeting"}]
    no_session = [day for day, s in held.items() if s.height == 0]
    found = {
        "webinar day": webinar_only[0] if webinar_only else None,
        "meeting-only day": meeting_only[0] if meeting_only else None,
        "day without Zoom files": no_session[0] if no_session else None,
        # its files are replaced by one damaged file below
        "day whose only Zoom file is rejected": webinar_only[1] if len(webinar_only) > 1 else None,
        "first day of a month": next((d for d in held if d.day == 1), None),
    }
    missing = [kind for kind, day in found.items() if day is None]
    assert not missing, f"the synthetic world's window {START}..{END} has no {', '.join(missing)}: widen it"
    return found


def schedule_request(instance: dg.DagsterInstance, day: date) -> dg.RunRequest:
    """What nightly_funnel_schedule asks for at 02:00 local time the morning after ``day``."""
    schedule = defs().resolve_schedule_def("nightly_funnel_schedule")
    at = datetime.combine(day + timedelta(days=1), datetime.min.time(), TZ).replace(hour=2)
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=at) as context:
        result = schedule.evaluate_tick(context)
    assert result.run_requests and len(result.run_requests) >= 1, result
    request = result.run_requests[0]
    assert request.partition_key == day.isoformat()
    return request


def leave_one_damaged_file(inbox: Path, day: date) -> str:
    """The day's filed reports are replaced by one that is cut off past its first lines: the sensor
    filed it (its head is fine), the run rejects it when it reads the whole file."""
    filed = sorted(p for p in (inbox / "processed" / day.isoformat()).iterdir() if p.is_file())
    assert filed, f"no Zoom file was filed under {day}"
    keep, *others = filed
    for other in others:
        other.unlink()
    content = keep.read_bytes()
    cut = content[: int(len(content) * 0.6)]
    keep.write_bytes(cut.rsplit(b",", 1)[0])  # mid-row, no line ending: an interrupted download
    return keep.name


def test_every_kind_of_day_runs_on_its_own_as_the_schedule_launches_it(tmp_path, world, monkeypatch):
    config, days = world
    env = pipeline_env(tmp_path, FUNNEL_TIMEZONE=TZ_NAME, FUNNEL_START_DATE="2025-01-01", FUNNEL_CRM_BASE_URL="")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    inbox = Path(env["FUNNEL_ZOOM_INBOX"])
    inbox.mkdir(parents=True)
    write_edtech_exports(
        config, seed=SEED, start=START, end=END, scale=SCALE, timezone=TZ_NAME,
        leads_sheet=Path(env["FUNNEL_LEADS_SHEET"]), crm_assigned_leads=Path(env["FUNNEL_CRM_ASSIGNED_LEADS"]),
        crm_sales=Path(env["FUNNEL_CRM_SALES"]), spend_sheet=Path(env["FUNNEL_SPEND_SHEET"]),
    )
    kinds = kinds_of_days(days)
    for day in days:
        save_zoom_files(inbox, day.zoom_files)
    stamp = time.time() - 3600
    for path in inbox.iterdir():
        os.utime(path, (stamp, stamp))

    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert tick_like_the_daemon(instance)
        damaged = leave_one_damaged_file(inbox, kinds["day whose only Zoom file is rejected"])
        assert not (inbox / "processed" / kinds["day without Zoom files"].isoformat()).exists()

        for kind, day in kinds.items():
            request = schedule_request(instance, day)
            tags = {**request.tags, "dagster/partition": request.partition_key}
            with dg.execute_job(dg.reconstructable(nightly_funnel_job), instance=instance, tags=tags,
                                run_config=quiet, raise_on_error=False) as result:
                errors = [
                    f"{e.step_key}: {(e.event_specific_data.error.cause or e.event_specific_data.error).message.strip()}"
                    for e in result.all_events if e.is_step_failure
                ]
                assert result.success, f"{kind} {day}: the nightly run failed: {errors}"
                loaded = [e for e in result.get_asset_check_evaluations() if e.check_name == "all_files_loaded"]
                assert len(loaded) == 1, f"{kind} {day}: zoom_sessions.all_files_loaded was not evaluated"
                # a file the run rejects is a failed check (and so an alert), never a green "no Zoom files"
                assert loaded[0].passed == (kind != "day whose only Zoom file is rejected"), (kind, loaded[0].metadata)
            for asset in DAILY_ASSETS:
                record = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[day.isoformat()]), limit=1
                ).records
                assert record, f"{kind} {day}: {asset} was not materialized for the day"

        db = Warehouse(env["FUNNEL_WAREHOUSE_URL"])
        meeting_day = kinds["meeting-only day"]
        rows = db.read_table("zoom_sessions", partition_column="session_date", start=meeting_day, end=meeting_day + timedelta(days=1))
        assert rows.height > 0 and rows["phone_key"].null_count() == rows.height  # a meeting report has no phones
        assert rows.schema["phone_key"] == pl.String
        for kind in ("day without Zoom files", "day whose only Zoom file is rejected"):
            day = kinds[kind]
            assert db.read_table("zoom_sessions", partition_column="session_date", start=day, end=day + timedelta(days=1)).height == 0, kind
            assert db.read_table("marketing_leads", partition_column="created_date", start=day, end=day + timedelta(days=1)).height > 0, kind
        original_name = damaged.split("__", 1)[1]  # processed/ files carry "<content code>__"
        rejected = [p.name for p in (inbox / "rejected").iterdir() if p.name.endswith("__" + original_name)]
        assert rejected, f"{damaged} was not moved to rejected/"
        funnel = db.read_table("funnel_daily")
        assert set(kinds.values()) <= set(funnel["day"].to_list())
