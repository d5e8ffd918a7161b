"""marketing_leads / marketing_lead_rejects through dg.materialize, on SQLite and Postgres."""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from funnel_assets.defs.leads_sheet.assets import build_leads_sheet_assets, leads_sheet_assets
from funnel_assets.defs.resources import LeadsSheetResource, ProjectConfigResource, WarehouseResource
from funnel_assets.lib.config import OTHER_SOURCES_FUNNEL
from funnel_assets.lib.demo_leads import generate_leads_sheet
from funnel_assets.lib.leads_sheet import clean_leads, read_leads_sheet
from funnel_assets.lib.config import load_funnel_mapping
from funnel_assets.lib.warehouse import Warehouse
from funnel_assets_tests.http_server import LocalHTTPServer, ScriptedResponse

CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "config"
FIRST, LAST = date(2025, 3, 3), date(2025, 3, 9)
RANGE_TAGS = {"dagster/asset_partition_range_start": "2025-03-03", "dagster/asset_partition_range_end": "2025-03-09"}


@pytest.fixture
def sheet(tmp_path) -> Path:
    path = tmp_path / "leads_sheet.csv"
    path.write_text(generate_leads_sheet(FIRST - timedelta(days=2), LAST + timedelta(days=3), seed=11, leads_per_day=60))
    return path


def resources(sheet_location: str, warehouse_url: str, config_dir: Path = CONFIG_DIR, **sheet_kw) -> dict:
    return {
        "leads_sheet": LeadsSheetResource(location=sheet_location, backoff_seconds=0.01, **sheet_kw),
        "project_config": ProjectConfigResource(config_dir=str(config_dir)),
        "warehouse": WarehouseResource(url=warehouse_url),
    }


def expected(sheet: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    raw, _ = read_leads_sheet(sheet.read_bytes(), location=str(sheet))
    cleaned = clean_leads(raw, load_funnel_mapping(CONFIG_DIR / "funnel_mapping.csv"), timezone="Asia/Kolkata", first_date=date(2025, 1, 1))
    return cleaned.leads, cleaned.rejects


def leads_table(url: str) -> pl.DataFrame:
    return Warehouse(url).read_table("marketing_leads", order_by=["lead_id"])


def test_one_day(sheet, warehouse_url):
    result = dg.materialize([leads_sheet_assets], partition_key="2025-03-05", resources=resources(str(sheet), warehouse_url))
    assert result.success
    want, _ = expected(sheet)
    want_day = want.filter(pl.col("created_date") == date(2025, 3, 5))
    got = leads_table(warehouse_url)
    assert got.height == want_day.height > 20
    assert set(got["lead_id"]) == set(want_day["lead_id"])
    assert got["created_date"].unique().to_list() == [date(2025, 3, 5)]

    (mat,) = result.asset_materializations_for_node("leads_sheet_assets")[:1]
    meta = mat.metadata
    assert meta["dagster/row_count"].value == want_day.height
    assert {c.name for c in meta["dagster/column_schema"].schema.columns} >= {"phone_key", "funnel", "created_date"}
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(checks) == {"no_sharp_shrink", "has_leads", "valid_phone_share", "duplicate_share", "unmapped_source_share"}
    assert checks["no_sharp_shrink"].passed
    assert checks["has_leads"].passed
    assert checks["valid_phone_share"].passed


def test_metadata_never_shows_full_phones_or_emails(sheet, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    result = dg.materialize([leads_sheet_assets], partition_key="2025-03-05", resources=resources(str(sheet), url))
    raw, _ = read_leads_sheet(sheet.read_bytes(), location=str(sheet))
    contacts = {v for v in raw["phone"].drop_nulls().to_list() + raw["email"].drop_nulls().to_list() if len(v) > 6}
    for mat in result.asset_materializations_for_node("leads_sheet_assets"):
        text = " ".join(str(v.value) for v in mat.metadata.values())
        assert not [c for c in contacts if c in text]


def test_rerun_is_idempotent_and_leaves_other_days_alone(sheet, warehouse_url):
    res = resources(str(sheet), warehouse_url)
    ranged = dg.materialize([leads_sheet_assets], tags=RANGE_TAGS, resources=res)
    assert ranged.success
    week = leads_table(warehouse_url)
    meta = ranged.asset_materializations_for_node("leads_sheet_assets")[0].metadata
    # one event per day carries the run's metadata: no per-partition row count that is really the range's
    assert "dagster/row_count" not in meta and meta["rows_in_run"].value == week.height
    assert "| 2025-03-05 |" in meta["rows_per_day"].value
    assert sorted(week["created_date"].unique().to_list()) == [FIRST + timedelta(days=i) for i in range(7)]
    for _ in range(2):
        assert dg.materialize([leads_sheet_assets], partition_key="2025-03-05", resources=res).success
        assert leads_table(warehouse_url).equals(week)
    want, _ = expected(sheet)
    assert week.height == want.filter(pl.col("created_date").is_between(FIRST, LAST)).height


def test_rejects_are_kept_with_reasons(sheet, warehouse_url):
    assert dg.materialize([leads_sheet_assets], tags=RANGE_TAGS, resources=resources(str(sheet), warehouse_url)).success
    rejects = Warehouse(warehouse_url).read_table("marketing_lead_rejects")
    _, want_rejects = expected(sheet)
    want = want_rejects.filter(pl.col("created_date").is_between(FIRST, LAST) | pl.col("created_date").is_null())
    assert rejects.height == want.height > 0
    assert rejects["reason"].str.contains("could not be read|no usable phone or email").all()


def test_the_step_is_retried_by_dagster_when_the_download_keeps_failing(sheet, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    assets = build_leads_sheet_assets(dg.RetryPolicy(max_retries=2, delay=0))
    with LocalHTTPServer() as server:
        server.enqueue("/export", ScriptedResponse(status=503), ScriptedResponse(status=503), ScriptedResponse.csv(sheet.read_text()))
        result = dg.materialize([assets], partition_key="2025-03-05", resources=resources(server.url("/export"), url, retries=1))
        assert result.success
        assert len(server.requests_for("/export")) == 3  # two in the first attempt, one in Dagster's retry
    assert leads_table(url).height > 20


def test_sheet_over_http_with_a_transient_failure(sheet, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    with LocalHTTPServer() as server:
        server.enqueue("/export", ScriptedResponse(status=503), ScriptedResponse.csv(sheet.read_text()))
        result = dg.materialize([leads_sheet_assets], partition_key="2025-03-05", resources=resources(server.url("/export?format=csv"), url))
        assert result.success
        assert len(server.requests_for("/export")) == 2
    assert leads_table(url).height > 20


@pytest.mark.parametrize(
    "response, message",
    [
        (ScriptedResponse.html("<!DOCTYPE html><html><title>Sign in - Google Accounts</title></html>"), "web page"),
        ("truncated", "the server announced"),
        (ScriptedResponse(status=404), "404"),
    ],
)
def test_a_bad_download_fails_the_run_and_keeps_yesterdays_rows(sheet, tmp_path, response, message):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    assert dg.materialize([leads_sheet_assets], partition_key="2025-03-05", resources=resources(str(sheet), url)).success
    before = leads_table(url)
    if response == "truncated":
        response = ScriptedResponse.csv(sheet.read_text(), close_after=5000)
    no_wait = build_leads_sheet_assets(dg.RetryPolicy(max_retries=2, delay=0))
    with LocalHTTPServer() as server:
        server.set_default("/export", response)
        result = dg.materialize(
            [no_wait], partition_key="2025-03-05", resources=resources(server.url("/export"), url, retries=1), raise_on_error=False
        )
        requests = len(server.requests_for("/export"))
    assert not result.success
    # a cut-off download may succeed later: Dagster retries the step (3 attempts of 2 requests);
    # a sign-in page or a 404 will not fix itself: one attempt
    assert requests == (6 if message == "the server announced" else 1)
    failure = result.failure_data_for_node("leads_sheet_assets")
    said = " ".join(str(x) for x in (failure.error.message, failure.error.cause, failure.user_failure_data and failure.user_failure_data.description))
    assert message.lower() in said.lower() and "previous data is kept" in said
    assert leads_table(url).equals(before)


def test_unknown_sources_go_to_miscellaneous_and_warn(sheet, tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "funnel_mapping.csv").write_text("source,funnel\nacca_webinar_meta,ACCA Webinar\n")
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    result = dg.materialize([leads_sheet_assets], partition_key="2025-03-05", resources=resources(str(sheet), url, config_dir=config))
    assert result.success  # a warning, not a failure
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "unmapped_source_share")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "cma_bootcamp_meta" in check.metadata["unmapped_sources"].value
    leads = leads_table(url)
    assert set(leads.filter(~pl.col("funnel_mapped"))["funnel"]) == {OTHER_SOURCES_FUNNEL}


def test_a_broken_mapping_file_names_file_and_line(sheet, tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "funnel_mapping.csv").write_text("source,funnel\nacca_webinar_meta,\n")
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    result = dg.materialize([leads_sheet_assets], partition_key="2025-03-05", resources=resources(str(sheet), url, config_dir=config), raise_on_error=False)
    assert not result.success
    text = str(result.failure_data_for_node("leads_sheet_assets").error)
    assert "funnel_mapping.csv" in text and "line 2" in text and "funnel" in text


def test_date_order_and_what_decided_it_are_in_the_metadata(tmp_path):
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "leads_sheet"
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    for name, order, decided_by in [
        ("day_first_december.csv", "day-first", "day-first, shown by the file (row 2: 28/11/2026 19:42:10)"),
        ("mixed_date_orders.csv", "mixed", "mixed: row 2: 25/11/2026 19:42:10 can only be day-first but "
         "row 6: 11/28/2026 10:02:00 AM can only be month-first; dates that could be either are not read"),
    ]:
        result = dg.materialize([leads_sheet_assets], partition_key="2026-11-30", resources=resources(str(fixtures / name), url))
        meta = result.asset_materializations_for_node("leads_sheet_assets")[0].metadata
        assert (meta["date_order"].value, meta["date_order_decided_by"].value) == (order, decided_by)
    rejects = Warehouse(url).read_table("marketing_lead_rejects", order_by=["sheet_row"])
    assert rejects.select("sheet_row", "reason_code").rows() == [(4, "date_ambiguous"), (5, "date_ambiguous"), (7, "date_ambiguous")]


# ------------------------------------------------------------- issue 12: partial or empty exports


def both_tables(url: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    db = Warehouse(url)
    return db.read_table("marketing_leads", order_by=["lead_id"]), db.read_table("marketing_lead_rejects", order_by=["sheet_row"])


@dg.asset(deps=["marketing_leads"], partitions_def=leads_sheet_assets.partitions_def)
def reads_the_leads(context: dg.AssetExecutionContext) -> None:
    """Stands for everything downstream of marketing_leads."""


@pytest.mark.parametrize("case", ["empty_file", "header_only", "missing_day", "cut_at_line_end"])
def test_a_partial_or_empty_export_never_replaces_the_days_rows(sheet, tmp_path, case):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    assert dg.materialize([leads_sheet_assets], tags=RANGE_TAGS, resources=resources(str(sheet), url)).success
    before = both_tables(url)
    on_the_day = before[0].filter(pl.col("created_date") == date(2025, 3, 5)).height
    lines = sheet.read_text().splitlines()
    if case == "empty_file":
        partial = ""
    elif case == "header_only":
        partial = lines[0] + "\n"
    elif case == "missing_day":
        partial = "\n".join(line for line in lines if ",3/5/2025 " not in line) + "\n"
    else:  # the server's body stops at the end of a line, before 5 March's rows, with a matching length
        partial = "\n".join(lines[: next(i for i, line in enumerate(lines) if ",3/5/2025 " in line) - 3]) + "\n"
    with LocalHTTPServer() as server:
        server.set_default("/export", ScriptedResponse.csv(partial))
        location = server.url("/export") if case == "cut_at_line_end" else str(tmp_path / "partial.csv")
        (tmp_path / "partial.csv").write_text(partial)
        result = dg.materialize(
            [leads_sheet_assets, reads_the_leads], partition_key="2025-03-05", resources=resources(location, url), raise_on_error=False
        )
    assert not result.success
    assert not result.asset_materializations_for_node("leads_sheet_assets")
    assert not result.asset_materializations_for_node("reads_the_leads")  # blocked downstream
    if case == "empty_file":  # not even a header: the step fails before comparing
        failure = result.failure_data_for_node("leads_sheet_assets").user_failure_data.description
        assert "the file is empty" in failure and "previous data is kept" in failure
        after = both_tables(url)
        assert after[0].equals(before[0]) and after[1].equals(before[1])
        return
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "no_sharp_shrink" and not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    message = check.description
    assert message.startswith("leads_sheet: refused")
    assert f"2025-03-05: 0 rows now, {on_the_day} in the warehouse" in message
    assert "previous rows stay" in message and "funnel/accept_shrink=leads_sheet" in message
    if case != "missing_day":
        assert "the whole export" in message
    after = both_tables(url)
    assert after[0].equals(before[0]) and after[1].equals(before[1])


def test_a_real_shrink_is_accepted_with_the_run_tag(sheet, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    assert dg.materialize([leads_sheet_assets], tags=RANGE_TAGS, resources=resources(str(sheet), url)).success
    text = sheet.read_text().splitlines()
    # the team deleted most of 5 March's rows: test submissions
    kept_on_day = [line for line in text if ",3/5/2025 " in line][:5]
    sheet.write_text("\n".join(line for line in text if ",3/5/2025 " not in line or line in kept_on_day) + "\n")
    refused = dg.materialize([leads_sheet_assets], partition_key="2025-03-05", resources=resources(str(sheet), url), raise_on_error=False)
    assert not refused.success
    accepted = dg.materialize(
        [leads_sheet_assets, reads_the_leads], partition_key="2025-03-05", resources=resources(str(sheet), url),
        tags={"funnel/accept_shrink": "leads_sheet"},
    )
    assert accepted.success and accepted.asset_materializations_for_node("reads_the_leads")
    check = next(e for e in accepted.get_asset_check_evaluations() if e.check_name == "no_sharp_shrink")
    assert check.passed and "accepted by the run tag" in check.description
    leads, _ = both_tables(url)
    assert leads.filter(pl.col("created_date") == date(2025, 3, 5)).height == 5


def test_a_sheet_whose_oldest_rows_were_archived_is_no_shrink(sheet, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    assert dg.materialize([leads_sheet_assets], tags=RANGE_TAGS, resources=resources(str(sheet), url)).success
    before, _ = both_tables(url)
    lines = sheet.read_text().splitlines()
    archived = [line for line in lines[1:] if any(f",3/{d}/2025 " in line for d in range(1, 6))]
    assert archived
    sheet.write_text("\n".join(line for line in lines if line not in archived) + "\n")
    result = dg.materialize([leads_sheet_assets], partition_key="2025-03-09", resources=resources(str(sheet), url))
    assert result.success
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "no_sharp_shrink")
    assert check.passed
    # the archived days stay in the warehouse and are not taken for deleted rows (a later day may
    # change: a person's first submission was archived, so a later one is no longer a repeat)
    changed = result.asset_materializations_for_node("leads_sheet_assets")[0].metadata["changed_days_json"].value
    assert all(group["start"] >= "2025-03-06" for group in changed)
    leads, _ = both_tables(url)
    assert leads.filter(pl.col("created_date") <= date(2025, 3, 5)).equals(before.filter(pl.col("created_date") <= date(2025, 3, 5)))


def test_a_range_run_with_one_sharply_shrunk_day_writes_none_of_its_days(sheet, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    assert dg.materialize([leads_sheet_assets], tags=RANGE_TAGS, resources=resources(str(sheet), url)).success
    before = both_tables(url)
    lines = sheet.read_text().splitlines()
    # 5 March lost its rows; 3 March got a late row that would otherwise be written
    late = "Ritika Sen,ritika.sen@gmail.com,9876501234,Kolkata,CMA,facebook,paid_social,cma_webinar_meta,3/3/2025 16:40:00"
    sheet.write_text("\n".join([*(line for line in lines if ",3/5/2025 " not in line), late]) + "\n")
    result = dg.materialize([leads_sheet_assets], tags=RANGE_TAGS, resources=resources(str(sheet), url), raise_on_error=False)
    assert not result.success and not result.asset_materializations_for_node("leads_sheet_assets")
    (check,) = result.get_asset_check_evaluations()
    assert "2025-03-05: 0 rows now" in check.description and "2025-03-03" not in check.description
    after = both_tables(url)
    assert after[0].equals(before[0]) and after[1].equals(before[1])
