"""ad_spend / ad_spend_rejects / spend_by_funnel / spend_funnel_totals through dg.materialize,
on SQLite and Postgres, checked against the synthetic world's truth."""

from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from funnel_assets.defs.resources import ProjectConfigResource, WarehouseResource
from funnel_assets.defs.spend.assets import spend_assets, spend_by_funnel, spend_funnel_totals
from funnel_assets.defs.spend.resources import SpendSheetResource
from funnel_assets.lib.config import OTHER_SOURCES_FUNNEL
from funnel_assets.lib.settings import PROJECT_ROOT
from funnel_assets.lib.synthetic.edtech import load_edtech_config, simulate_edtech_days, spend_csv
from funnel_assets.lib.warehouse import Warehouse
from funnel_assets_tests.http_server import LocalHTTPServer, ScriptedResponse

CONFIG_DIR = PROJECT_ROOT / "data" / "config"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spend"
SEED, SCALE = 7, 0.5
SHEET_START, SHEET_END = date(2025, 3, 1), date(2025, 3, 12)  # the sheet holds more days than a run
FIRST, LAST = date(2025, 3, 3), date(2025, 3, 9)
RANGE_TAGS = {"dagster/asset_partition_range_start": FIRST.isoformat(), "dagster/asset_partition_range_end": LAST.isoformat()}
ASSETS = [spend_assets, spend_by_funnel, spend_funnel_totals]
DAILY = [spend_assets, spend_by_funnel]
CHECKS = {"no_sharp_shrink", "has_spend_rows", "no_negative_cost", "rejects_share", "funnels_known"}


@lru_cache(maxsize=1)
def world() -> tuple[str, pl.DataFrame, pl.DataFrame]:
    """(sheet CSV, truth spend per day and funnel, truth spend per campaign) for the sheet's days."""
    config = load_edtech_config(CONFIG_DIR / "synthetic")
    days = simulate_edtech_days(config, seed=SEED, start=SHEET_START, end=SHEET_END, scale=SCALE)
    text = spend_csv(config, seed=SEED, start=SHEET_START, end=SHEET_END, scale=SCALE)
    return text, pl.concat([d.truth["spend"] for d in days]), pl.concat([d.truth["spend_by_campaign"] for d in days])


@pytest.fixture
def sheet(tmp_path) -> Path:
    path = tmp_path / "spend_sheet.csv"
    path.write_text(world()[0])
    return path


def resources(location: str, warehouse_url: str, **sheet_kw) -> dict:
    return {
        "spend_sheet": SpendSheetResource(location=location, backoff_seconds=0.01, **sheet_kw),
        "project_config": ProjectConfigResource(config_dir=str(CONFIG_DIR)),
        "warehouse": WarehouseResource(url=warehouse_url),
    }


def table(url: str, name: str, order_by=("day", "funnel")) -> pl.DataFrame:
    return Warehouse(url).read_table(name, order_by=list(order_by))


def assert_matches_truth(got: pl.DataFrame, first: date, last: date) -> None:
    truth = world()[1].filter(pl.col("day").is_between(first, last))
    joined = truth.join(got, on=["day", "funnel"], how="full", coalesce=True, suffix="_got")
    assert joined.height == truth.height == got.height > 0
    assert (joined["cost"].round(2) == joined["cost_got"]).all(), joined.filter(joined["cost"].round(2) != joined["cost_got"])
    assert (joined["impressions"] == joined["impressions_got"]).all()
    assert (joined["clicks"] == joined["clicks_got"]).all()


def test_one_day_matches_the_truth(sheet, warehouse_url):
    result = dg.materialize(DAILY, partition_key="2025-03-05", resources=resources(str(sheet), warehouse_url))
    assert result.success
    day = date(2025, 3, 5)
    spend = table(warehouse_url, "ad_spend", order_by=["sheet_row"])
    assert spend["day"].unique().to_list() == [day]
    by_campaign = world()[2].filter(pl.col("day") == day)
    assert spend.height == by_campaign.height
    assert sorted(spend["campaign"]) == sorted(by_campaign["campaign"])
    assert len([c for c in spend.columns if c in {"date_time", "funnel", "total_revenue", "sub_category"}]) == 4
    assert spend.schema["day"] == pl.Date and spend.schema["cost"] == pl.Float64 and spend.schema["clicks"] == pl.Int64
    assert_matches_truth(table(warehouse_url, "spend_by_funnel"), day, day)

    mats = {m.asset_key.to_user_string(): m for m in result.get_asset_materialization_events()}
    meta = mats["ad_spend"].step_materialization_data.materialization.metadata
    assert meta["dagster/row_count"].value == by_campaign.height
    assert {c.name for c in meta["dagster/column_schema"].schema.columns} >= {"day", "cost", "funnel", "spend_row_id"}
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(checks) == CHECKS
    assert all(c.passed for c in checks.values()), {n: c.metadata for n, c in checks.items() if not c.passed}


def test_range_run_rerun_and_totals(sheet, warehouse_url):
    res = resources(str(sheet), warehouse_url)
    ranged = dg.materialize(ASSETS, tags=RANGE_TAGS, resources=res)
    assert ranged.success
    spend = table(warehouse_url, "ad_spend", order_by=["spend_row_id"])
    # the sheet has 11 days; only the run's 7 are written
    assert sorted(spend["day"].unique()) == [FIRST + timedelta(days=i) for i in range(7)]
    by_funnel = table(warehouse_url, "spend_by_funnel")
    assert_matches_truth(by_funnel, FIRST, LAST)
    meta = ranged.asset_materializations_for_node("spend_assets")[0].metadata
    assert "dagster/row_count" not in meta and meta["rows_in_run"].value == spend.height

    totals = table(warehouse_url, "spend_funnel_totals", order_by=["funnel"])
    want = world()[1].filter(pl.col("day").is_between(FIRST, LAST)).group_by("funnel").agg(pl.col("cost").sum().round(2))
    assert dict(totals.select("funnel", "cost").rows()) == dict(want.rows())
    assert set(totals["days"]) == {7} and set(totals["first_day"]) == {FIRST} and set(totals["last_day"]) == {LAST}

    # rerunning one day (twice) changes nothing and leaves the other days alone
    for _ in range(2):
        assert dg.materialize(DAILY, partition_key="2025-03-05", resources=res).success
        assert table(warehouse_url, "ad_spend", order_by=["spend_row_id"]).equals(spend)
        assert table(warehouse_url, "spend_by_funnel").equals(by_funnel)


def test_sheet_over_http_with_a_server_error_and_a_token(sheet, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    with LocalHTTPServer() as server:
        server.enqueue("/export", ScriptedResponse(status=500, body="Internal error"), ScriptedResponse.csv(sheet.read_text()))
        result = dg.materialize(
            DAILY, partition_key="2025-03-05", resources=resources(server.url("/export?format=csv&gid=0"), url, token="s3cret-token")
        )
        assert result.success
        requests = server.requests_for("/export")
        assert len(requests) == 2
        assert all(r.header("Authorization") == "Bearer s3cret-token" for r in requests)
    assert_matches_truth(table(url, "spend_by_funnel"), date(2025, 3, 5), date(2025, 3, 5))
    texts = " ".join(str(v.value) for m in result.get_asset_materialization_events()
                     for v in m.step_materialization_data.materialization.metadata.values())
    assert "s3cret-token" not in texts


@pytest.mark.parametrize(
    "response, message",
    [
        (ScriptedResponse.html("<!DOCTYPE html><html><title>Sign in - Google Accounts</title></html>"), "web page"),
        (ScriptedResponse(status=404, body="Not Found"), "404"),
        (ScriptedResponse.csv("date_time,campaign,clicks\r\n2025-03-05,a,1\r\n"), "no cost, Funnel column"),
    ],
)
def test_a_bad_download_fails_at_once_and_keeps_the_previous_rows(sheet, tmp_path, response, message):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    assert dg.materialize(DAILY, partition_key="2025-03-05", resources=resources(str(sheet), url)).success
    before = table(url, "ad_spend", order_by=["spend_row_id"])
    with LocalHTTPServer() as server:
        server.set_default("/export", response)
        result = dg.materialize(
            DAILY, partition_key="2025-03-05", resources=resources(server.url("/export"), url, retries=0), raise_on_error=False
        )
        assert len(server.requests_for("/export")) == 1  # no retry, neither by the download nor by Dagster
    assert not result.success
    failure = result.failure_data_for_node("spend_assets")
    assert message.lower() in str(failure.error.message).lower()
    assert table(url, "ad_spend", order_by=["spend_row_id"]).equals(before)


def test_ugly_sheet_rejects_and_warnings(warehouse_url):
    tags = {"dagster/asset_partition_range_start": "2026-09-01", "dagster/asset_partition_range_end": "2026-09-03"}
    result = dg.materialize(ASSETS, tags=tags, resources=resources(str(FIXTURES / "ugly_sheet.csv"), warehouse_url))
    assert result.success  # warnings only
    spend = table(warehouse_url, "ad_spend", order_by=["sheet_row"])
    assert spend["sheet_row"].to_list() == [2, 3, 4, 5, 6, 10, 11]  # 12 is 14/09, outside the run
    rejects = table(warehouse_url, "ad_spend_rejects", order_by=["sheet_row"])
    assert rejects["sheet_row"].to_list() == [7, 8, 9, 13]
    assert rejects["reason_code"].to_list() == ["cost_unreadable", "date_missing", "date_unreadable", "before_start"]
    by_funnel = table(warehouse_url, "spend_by_funnel")
    day1 = by_funnel.filter(pl.col("day") == date(2026, 9, 1))
    assert dict(zip(day1["funnel"], day1["cost"])) == {"ACCA Webinar": 36147.24, OTHER_SOURCES_FUNNEL: 10895.39}
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["funnels_known"].passed and checks["funnels_known"].severity == dg.AssetCheckSeverity.WARN
    assert checks["funnels_known"].metadata["unknown_funnels"].value == "FRM Webinar"
    assert not checks["rejects_share"].passed and checks["rejects_share"].metadata["rejects"].value == 4
    assert checks["has_spend_rows"].passed and checks["no_negative_cost"].passed

    # a day without spend in the sheet only warns
    quiet = dg.materialize(DAILY, partition_key="2026-09-05", resources=resources(str(FIXTURES / "ugly_sheet.csv"), warehouse_url))
    assert quiet.success
    has_rows = next(e for e in quiet.get_asset_check_evaluations() if e.check_name == "has_spend_rows")
    assert not has_rows.passed and has_rows.severity == dg.AssetCheckSeverity.WARN
    assert has_rows.metadata["days_without_spend"].value == "2026-09-05"


def test_a_european_sheet_totals_right_and_says_how_it_was_read(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    tags = {"dagster/asset_partition_range_start": "2026-11-25", "dagster/asset_partition_range_end": "2026-12-02"}
    result = dg.materialize(DAILY, tags=tags, resources=resources(str(FIXTURES / "european_numbers.csv"), url))
    assert result.success
    meta = result.asset_materializations_for_node("spend_assets")[0].metadata
    assert meta["decimal_mark"].value == "decimal comma, shown by the file (row 2 cost 21.931,09)"
    assert meta["date_order_decided_by"].value == "day-first, shown by the file (row 2: 25/11/2026)"
    by_funnel = table(url, "spend_by_funnel")
    dec1 = by_funnel.filter(pl.col("day") == date(2026, 12, 1))  # 01/12/2026 is 1 December
    assert dict(zip(dec1["funnel"], dec1["cost"])) == {"CFA Webinar": 999.0, "CMA Webinar": 1234.5}
    assert by_funnel["cost"].sum() == 21931.09 + 1234.5 + 1234.5 + 999.0 + 2500.0 + 1200.0


def test_a_negative_cost_blocks_spend_by_funnel(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    result = dg.materialize(
        DAILY, partition_key="2026-09-02", resources=resources(str(FIXTURES / "negative_cost.csv"), url), raise_on_error=False
    )
    assert not result.success
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "no_negative_cost")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["sheet_rows"].value == "3"
    assert not Warehouse(url).has_table("spend_by_funnel")
    assert not result.asset_materializations_for_node("spend_by_funnel")


def test_empty_token_sends_no_header_and_relative_paths_resolve():
    assert SpendSheetResource(token="").headers() == {}
    assert SpendSheetResource(token="none").headers() == {}
    assert SpendSheetResource(token="abc", token_header="X-Api-Key").headers() == {"X-Api-Key": "abc"}
    assert SpendSheetResource().resolved_location() == str(PROJECT_ROOT / "data" / "demo" / "spend_sheet.csv")


def test_definitions_register_the_resource_and_assets(monkeypatch):
    from funnel_assets.defs.spend import resources as spend_resources

    defs = spend_resources.resources()
    assert isinstance(defs.resources["spend_sheet"], SpendSheetResource)
    for spec in [*spend_assets.specs, *spend_by_funnel.specs, *spend_funnel_totals.specs]:
        assert spec.group_name == "spend"
    assert spend_assets.op.retry_policy is not None


# ------------------------------------------------------------- issue 12: partial or empty exports


def test_a_header_only_spend_sheet_is_refused_and_keeps_the_days(sheet, tmp_path, warehouse_url):
    assert dg.materialize(DAILY, tags=RANGE_TAGS, resources=resources(str(sheet), warehouse_url)).success
    spend_before, by_funnel_before = table(warehouse_url, "ad_spend", ["sheet_row"]), table(warehouse_url, "spend_by_funnel")
    on_the_day = spend_before.filter(pl.col("day") == date(2025, 3, 5)).height
    header_only = tmp_path / "header_only.csv"
    header_only.write_text(sheet.read_text().splitlines()[0] + "\n")
    result = dg.materialize(DAILY, partition_key="2025-03-05", resources=resources(str(header_only), warehouse_url), raise_on_error=False)
    assert not result.success
    assert not result.asset_materializations_for_node("spend_by_funnel")  # blocked
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "no_sharp_shrink" and not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "spend_sheet: refused" in check.description and f"2025-03-05: 0 rows now, {on_the_day} in the warehouse" in check.description
    assert "funnel/accept_shrink=spend_sheet" in check.description
    assert table(warehouse_url, "ad_spend", ["sheet_row"]).equals(spend_before)
    assert table(warehouse_url, "spend_by_funnel").equals(by_funnel_before)

    # a spend sheet that really was emptied (the team moved to another sheet): accepted with the tag
    accepted = dg.materialize(
        DAILY, partition_key="2025-03-05", resources=resources(str(header_only), warehouse_url), tags={"funnel/accept_shrink": "all"}
    )
    assert accepted.success
    assert table(warehouse_url, "ad_spend", ["sheet_row"]).filter(pl.col("day") == date(2025, 3, 5)).is_empty()
    assert table(warehouse_url, "spend_by_funnel").filter(pl.col("day") == date(2025, 3, 5)).is_empty()


def test_a_row_pasted_twice_is_counted_once(sheet, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    lines = sheet.read_text().splitlines()
    pasted = next(i for i, line in enumerate(lines) if line.startswith("2025-03-05"))
    doubled = tmp_path / "doubled.csv"
    doubled.write_text("\n".join(lines[: pasted + 1] + [lines[pasted]] + lines[pasted + 1:]) + "\n")
    result = dg.materialize(DAILY, partition_key="2025-03-05", resources=resources(str(doubled), url))
    assert result.success
    assert_matches_truth(table(url, "spend_by_funnel"), date(2025, 3, 5), date(2025, 3, 5))  # not doubled
    (repeat,) = table(url, "ad_spend_rejects", ["sheet_row"]).rows(named=True)
    assert repeat["sheet_row"] == pasted + 2 and repeat["reason_code"] == "repeated_row"
    assert f"equals sheet row {pasted + 1}" in repeat["reason"]
    meta = result.asset_materializations_for_node("spend_assets")[0].metadata
    assert meta["repeated_rows_counted_once"].value == 1
