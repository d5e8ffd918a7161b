"""Issue 12, item 3: late and corrected sheet rows are never lost.

The nightly path for real, on one Dagster instance: the schedule's run of nightly_funnel_job
for D-1, then the runs sheet_changes_sensor requests, executed. Between the first load and the
night, people fixed rejected rows, added a row back-dated to a day that already ran, and deleted
a row of an earlier day, in both the leads sheet and the spend sheet. Afterwards every row of
each export (up to D-1) is in exactly one of its table and its rejects table, and nothing stale
remains.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
import pytest

from funnel_assets.defs.jobs import nightly_funnel_job
from funnel_assets.defs.leads_sheet.assets import leads_sheet_assets
from funnel_assets.defs.resources import LeadsSheetResource, ProjectConfigResource, WarehouseResource
from funnel_assets.defs.schedules import nightly_funnel_schedule
from funnel_assets.defs.sheet_changes import sheet_changes_sensor
from funnel_assets.defs.spend.assets import spend_assets, spend_by_funnel
from funnel_assets.defs.spend.resources import SpendSheetResource
from funnel_assets.lib import leads_sheet as leads_lib
from funnel_assets.lib import sheet_sync as sync
from funnel_assets.lib import spend as spend_lib
from funnel_assets.lib.config import load_funnel_mapping
from funnel_assets.lib.demo_leads import generate_leads_sheet
from funnel_assets.lib.settings import PROJECT_ROOT
from funnel_assets.lib.spend_repeats import reject_repeated_rows
from funnel_assets.lib.synthetic.edtech import load_edtech_config, spend_csv
from funnel_assets.lib.warehouse import Warehouse

CONFIG_DIR = PROJECT_ROOT / "data" / "config"
TZ = "Asia/Kolkata"
FIRST, NIGHT = date(2025, 3, 3), date(2025, 3, 9)  # loaded before: FIRST .. NIGHT-1; the night runs NIGHT
BACKFILL = {"dagster/asset_partition_range_start": "2025-03-03", "dagster/asset_partition_range_end": "2025-03-08"}


# ------------------------------------------------------------------------------- the two sheets


def leads_sheets() -> tuple[str, str]:
    """(sheet as first loaded, sheet on the night): a fixed unreadable date, a fixed missing
    contact, a back-dated row added, a row deleted."""
    lines = generate_leads_sheet(FIRST, date(2025, 3, 10), seed=11, leads_per_day=60).splitlines()
    header, rows = lines[0], lines[1:]

    def on(day: str) -> list[int]:
        return [i for i, r in enumerate(rows) if r.rsplit(",", 1)[1].startswith(day + " ")]

    unreadable, no_contact, deleted = on("3/4/2025")[3], on("3/5/2025")[4], on("3/7/2025")[5]
    first = list(rows)
    cells = first[unreadable].split(",")
    first[unreadable] = ",".join(cells[:-1] + ["3/34/2025 11:15:00"])  # a typo: unreadable, no day
    fixed_date = ",".join(cells[:-1] + ["3/3/2025 11:15:00"])  # the fix puts it on 3 March
    cells = first[no_contact].split(",")
    first[no_contact] = ",".join(cells[:1] + ["", ""] + cells[3:])  # phone and email missing: a reject of 5 March
    night = list(first)
    night[unreadable] = fixed_date
    night[no_contact] = rows[no_contact]
    back_dated = "Ritika Sen,ritika.sen@gmail.com,9876501234,Kolkata,CMA,facebook,paid_social,cma_webinar_meta,3/7/2025 16:40:00"
    night = night[:deleted] + night[deleted + 1:] + [back_dated]
    return "\n".join([header, *first]) + "\n", "\n".join([header, *night]) + "\n"


def spend_sheets() -> tuple[str, str]:
    """(sheet as first loaded, sheet on the night): a fixed unreadable cost, a row added
    back-dated, a row deleted; and a row pasted twice in both (counted once)."""
    config = load_edtech_config(CONFIG_DIR / "synthetic")
    lines = spend_csv(config, seed=7, start=FIRST, end=date(2025, 3, 10), scale=0.5).splitlines()
    header, rows = lines[0], lines[1:]

    def on(day: str) -> list[int]:
        return [i for i, r in enumerate(rows) if r.startswith(day)]

    bad_cost, deleted, pasted = on("2025-03-04")[2], on("2025-03-08")[3], on("2025-03-05")[1]
    first = list(rows)
    cells = first[bad_cost].split(",")
    first[bad_cost] = ",".join(cells[:5] + ["n/a"] + cells[6:])
    first.insert(pasted + 1, rows[pasted])  # pasted twice
    night = list(first)
    night[bad_cost] = rows[bad_cost]
    cells = rows[on("2025-03-06")[0]].split(",")
    back_dated = ",".join(cells[:2] + ["Late import - added by hand"] + cells[3:5] + ["4321.50"] + cells[6:])
    night_deleted = deleted + (1 if deleted > pasted else 0)
    night = night[:night_deleted] + night[night_deleted + 1:] + [back_dated]
    return "\n".join([header, *first]) + "\n", "\n".join([header, *night]) + "\n"


# ------------------------------------------------------------------------------------- helpers


def definitions(leads: Path, spend: Path, url: str) -> dg.Definitions:
    return dg.Definitions(
        assets=[leads_sheet_assets, spend_assets, spend_by_funnel],
        jobs=[nightly_funnel_job],
        schedules=[nightly_funnel_schedule],
        sensors=[sheet_changes_sensor],
        resources={
            "leads_sheet": LeadsSheetResource(location=str(leads)),
            "spend_sheet": SpendSheetResource(location=str(spend)),
            "project_config": ProjectConfigResource(config_dir=str(CONFIG_DIR)),
            "warehouse": WarehouseResource(url=url),
        },
    )


def export_rows(leads_text: str, spend_text: str) -> dict[str, pl.DataFrame]:
    """What each source's export holds, up to the night (and undated), as (table, row_hash) rows."""
    raw, _ = leads_lib.read_leads_sheet(leads_text.encode(), location="leads")
    cleaned = leads_lib.clean_leads(raw, load_funnel_mapping(CONFIG_DIR / "funnel_mapping.csv"), timezone=TZ, first_date=date(2025, 1, 1))
    hashes = sync.row_hashes(raw, list(leads_lib.HEADER_ALIASES))
    spend_raw = spend_lib.read_spend_sheet(spend_text.encode(), location="spend").frame
    spend_hashes = sync.row_hashes(spend_raw, list(spend_lib.SHEET_COLUMNS.values()))
    spend = reject_repeated_rows(spend_lib.clean_spend(spend_raw, timezone=TZ, first_date=date(2025, 1, 1)), spend_raw, spend_hashes)

    def rows(frame: pl.DataFrame, day: str, table: str, h: pl.DataFrame) -> pl.DataFrame:
        kept = sync.with_row_hash(frame, h).filter(pl.col(day).is_null() | (pl.col(day) <= NIGHT))
        return kept.select(table=pl.lit(table), day=pl.col(day), row_hash=pl.col("row_hash"))

    return {
        "leads": pl.concat([rows(cleaned.leads, "created_date", "marketing_leads", hashes),
                            rows(cleaned.rejects, "created_date", "marketing_lead_rejects", hashes)]),
        "spend": pl.concat([rows(spend.spend, "day", "ad_spend", spend_hashes),
                            rows(spend.rejects, "day", "ad_spend_rejects", spend_hashes)]),
    }


def want_after_night(leads_text: str) -> int:
    """Rows of the leads sheet dated after the night (not loaded yet)."""
    raw, _ = leads_lib.read_leads_sheet(leads_text.encode(), location="leads")
    cleaned = leads_lib.clean_leads(raw, load_funnel_mapping(CONFIG_DIR / "funnel_mapping.csv"), timezone=TZ)
    return cleaned.leads.filter(pl.col("created_date") > NIGHT).height


def warehouse_rows(url: str) -> dict[str, pl.DataFrame]:
    db = Warehouse(url)

    def rows(table: str, day: str) -> pl.DataFrame:
        return db.read_table(table, columns=[day, "row_hash"]).select(table=pl.lit(table), day=pl.col(day), row_hash=pl.col("row_hash"))

    return {
        "leads": pl.concat([rows("marketing_leads", "created_date"), rows("marketing_lead_rejects", "created_date")]),
        "spend": pl.concat([rows("ad_spend", "day"), rows("ad_spend_rejects", "day")]),
    }


def as_multiset(frame: pl.DataFrame) -> list[tuple]:
    return sorted(frame.select("table", "day", "row_hash").rows(), key=str)


# --------------------------------------------------------------------------------------- test


def test_fixed_back_dated_and_deleted_rows_are_run_again_on_the_night(tmp_path, warehouse_url):
    url = warehouse_url
    leads_first, leads_night = leads_sheets()
    spend_first, spend_night = spend_sheets()
    leads_file, spend_file = tmp_path / "leads_sheet.csv", tmp_path / "spend_sheet.csv"
    leads_file.write_text(leads_first)
    spend_file.write_text(spend_first)
    defs = definitions(leads_file, spend_file, url)
    job = defs.resolve_job_def("nightly_funnel_job")

    with dg.instance_for_test() as instance:
        # the days before the night were loaded from the sheets as they were then
        assert job.execute_in_process(instance=instance, tags=BACKFILL).success
        sensor = defs.resolve_sensor_def("sheet_changes_sensor")
        with dg.build_sensor_context(instance=instance, definitions=defs) as ctx:
            quiet = sensor.evaluate_tick(ctx)
        assert quiet.run_requests == []  # nothing changed yet
        before = warehouse_rows(url)
        assert before["spend"].filter(pl.col("table") == "ad_spend_rejects").height == 2  # bad cost + the repeat

        # people edit the sheets; the nightly schedule runs D-1
        leads_file.write_text(leads_night)
        spend_file.write_text(spend_night)
        schedule = defs.resolve_schedule_def("nightly_funnel_schedule")
        tick = schedule.evaluate_tick(
            dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime(2025, 3, 10, 2, 0, tzinfo=ZoneInfo(TZ)))
        )
        (nightly,) = tick.run_requests
        assert nightly.partition_key == NIGHT.isoformat()
        assert job.execute_in_process(instance=instance, partition_key=nightly.partition_key, tags=nightly.tags).success
        want = export_rows(leads_night, spend_night)
        after_nightly = warehouse_rows(url)
        # the nightly run alone (today's behaviour) leaves the fixed and back-dated rows out and the deleted one in
        assert as_multiset(after_nightly["leads"]) != as_multiset(want["leads"])
        assert as_multiset(after_nightly["spend"]) != as_multiset(want["spend"])

        # the sensor asks for the changed days, per source, with everything downstream
        with dg.build_sensor_context(instance=instance, definitions=defs, cursor=quiet.cursor) as ctx:
            result = sensor.evaluate_tick(ctx)
        asked = {(r.job_name, r.partition_key) for r in result.run_requests}
        assert asked == {
            ("leads_sheet_changes_job", "2025-03-03"), ("leads_sheet_changes_job", "2025-03-05"), ("leads_sheet_changes_job", "2025-03-07"),
            ("spend_sheet_changes_job", "2025-03-04"), ("spend_sheet_changes_job", "2025-03-06"), ("spend_sheet_changes_job", "2025-03-08"),
        }
        for request in result.run_requests:
            run = defs.resolve_job_def(request.job_name).execute_in_process(
                instance=instance, partition_key=request.partition_key, tags=request.tags
            )
            assert run.success
            if request.job_name == "spend_sheet_changes_job":  # downstream days follow
                assert run.asset_materializations_for_node("spend_by_funnel")

        # every sheet row up to the night is in exactly one of the two tables, nothing else is
        got = warehouse_rows(url)
        assert as_multiset(got["leads"]) == as_multiset(want["leads"])
        assert as_multiset(got["spend"]) == as_multiset(want["spend"])
        assert got["leads"].height == len(leads_night.splitlines()) - 1 - want_after_night(leads_night)
        assert got["spend"].height == len(spend_night.splitlines()) - 1 - spend_night.count("\n2025-03-10")
        leads = Warehouse(url).read_table("marketing_leads")
        assert leads.filter(pl.col("created_date") == date(2025, 3, 7))["email"].to_list().count("ritika.sen@gmail.com") == 1
        assert Warehouse(url).read_table("marketing_lead_rejects").is_empty()  # both rejects were fixed

        # spend per funnel is the sum of ad_spend again, and the pasted row counts once
        db = Warehouse(url)
        spend, by_funnel = db.read_table("ad_spend"), db.read_table("spend_by_funnel")
        assert by_funnel.filter(pl.col("day") == date(2025, 3, 6))["cost"].sum() == pytest.approx(
            spend.filter(pl.col("day") == date(2025, 3, 6))["cost"].sum()
        )
        (repeat,) = db.read_table("ad_spend_rejects").rows(named=True)
        assert repeat["reason_code"] == "repeated_row" and "counted once" in repeat["reason"]

        # the same changes are not asked for twice (same run keys: the daemon skips them) and nothing new is
        with dg.build_sensor_context(instance=instance, definitions=defs, cursor=result.cursor) as ctx:
            again = sensor.evaluate_tick(ctx)
        assert {r.run_key for r in again.run_requests} <= {r.run_key for r in result.run_requests}
        last = instance.get_latest_materialization_event(dg.AssetKey("marketing_leads")).asset_materialization
        assert last.metadata["changed_days"].value == "none"


def test_the_sensor_runs_by_default_and_its_jobs_take_everything_downstream(monkeypatch, tmp_path):
    from funnel_assets.definitions import defs as project_defs
    from funnel_assets_tests.settings_env import pipeline_env

    for name, value in pipeline_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    defs = project_defs()
    sensor = defs.resolve_sensor_def("sheet_changes_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    spend_job = {k.to_user_string() for k in defs.resolve_job_def("spend_sheet_changes_job").asset_layer.executable_asset_keys}
    assert {"ad_spend", "ad_spend_rejects", "spend_by_funnel", "funnel_daily"} <= spend_job and "marketing_leads" not in spend_job
    leads_job = {k.to_user_string() for k in defs.resolve_job_def("leads_sheet_changes_job").asset_layer.executable_asset_keys}
    assert {"marketing_leads", "marketing_lead_rejects", "touchpoints", "funnel_daily"} <= leads_job and "ad_spend" not in leads_job
