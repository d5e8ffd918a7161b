"""The synthetic group through dg.materialize: raw SaaS tables, checks, Zoom drops, exports."""

from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from funnel_assets.defs.common import SETTINGS
from funnel_assets.defs.resources import ProjectConfigResource, WarehouseResource
from funnel_assets.defs.synthetic.assets import edtech_source_exports, saas_world, stripe_catalog, zoom_report_downloads
from funnel_assets.defs.synthetic.resources import DemoFilesResource, SyntheticWorldResource
from funnel_assets.lib.leads_sheet import read_leads_sheet
from funnel_assets.lib.warehouse import Warehouse

CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "config"
LAST = SETTINGS.yesterday()
FIRST = LAST - timedelta(days=2)
WORLD_START = LAST - timedelta(days=12)
RANGE = {"dagster/asset_partition_range_start": FIRST.isoformat(), "dagster/asset_partition_range_end": LAST.isoformat()}


@pytest.fixture
def resources(tmp_path):
    return {
        "synthetic_world": SyntheticWorldResource(seed=3, saas_scale=0.1, edtech_scale=0.3, world_start=WORLD_START.isoformat()),
        "project_config": ProjectConfigResource(config_dir=str(CONFIG_DIR)),
        "warehouse": WarehouseResource(url=f"sqlite:///{tmp_path / 'w.sqlite'}"),
        "demo_files": DemoFilesResource(zoom_inbox=str(tmp_path / "inbox"), leads_sheet=str(tmp_path / "sheet.csv"), crm_assigned_leads=str(tmp_path / "demo" / "crm" / "assigned_leads.csv"),
                                       crm_sales=str(tmp_path / "demo" / "crm" / "sales.csv"), spend_sheet=str(tmp_path / "demo" / "spend_sheet.csv")),
    }


def test_saas_world_writes_raw_tables_and_passes_its_checks(resources):
    result = dg.materialize([saas_world, stripe_catalog], tags=RANGE, resources=resources)
    assert result.success
    w = resources["warehouse"].get()
    for table in ("web_events", "ad_campaigns", "crm_leads", "crm_activities", "crm_deals", "subscriptions"):
        days = w.read_table(table)["day"].unique().sort().to_list()
        assert days == [FIRST, FIRST + timedelta(days=1), LAST], table
    assert w.row_count("stripe_plans") == 8 and w.row_count("stripe_products") == 4
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 12
    assert [c.check_name for c in checks if not c.passed] == []
    # rerunning a day replaces it exactly
    before = w.read_table("web_events", order_by=["insert_id"])
    assert dg.materialize([saas_world], partition_key=FIRST.isoformat(), resources=resources).success
    assert w.read_table("web_events", order_by=["insert_id"]).equals(before)


def test_zoom_downloads_land_in_the_inbox_and_truth_in_the_warehouse(resources, tmp_path):
    assert dg.materialize([zoom_report_downloads], tags=RANGE, resources=resources).success
    files = sorted((tmp_path / "inbox").iterdir())
    truth = resources["warehouse"].get().read_table("truth_zoom_attendance")
    assert truth.height > 0 and set(truth["session_date"]) <= {FIRST, FIRST + timedelta(days=1), LAST}
    assert files and all(not p.name.startswith(".") for p in files)
    files_truth = resources["warehouse"].get().read_table("truth_zoom_files")
    assert sorted(files_truth["saved_as"].to_list()) == [p.name for p in files]  # the truth names every file in the inbox
    assert set(files_truth["expected_outcome"]) <= {"accept"} | {o for o in files_truth["expected_outcome"] if o.startswith("reject")}
    # the same days again: the same downloads are already there, nothing doubles
    assert dg.materialize([zoom_report_downloads], tags=RANGE, resources=resources).success
    assert sorted((tmp_path / "inbox").iterdir()) == files
    assert resources["warehouse"].get().read_table("truth_zoom_files").sort("saved_as").equals(files_truth.sort("saved_as"))


def test_edtech_exports_are_readable_by_the_pipeline(resources, tmp_path):
    assert dg.materialize([edtech_source_exports], resources=resources).success
    raw, _ = read_leads_sheet((tmp_path / "sheet.csv").read_bytes(), location="sheet")
    assert raw.height > 100
    sales = pl.read_csv(tmp_path / "demo" / "crm" / "sales.csv", infer_schema=False)
    assert len(sales.columns) == 44
    w = resources["warehouse"].get()
    assert w.row_count("truth_people") > 0 and w.row_count("truth_assignments") > 0


def test_days_before_the_world_starts_fail_with_a_clear_message(resources):
    early = (WORLD_START - timedelta(days=5)).isoformat()
    result = dg.materialize([zoom_report_downloads], partition_key=early, resources=resources, raise_on_error=False)
    assert not result.success
    assert "pick later days or an earlier world_start" in str(result.failure_data_for_node("zoom_report_downloads").error)
