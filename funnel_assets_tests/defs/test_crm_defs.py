"""crm_assigned_leads / crm_sales through dg.materialize, against a real local HTTP server that
also misbehaves, on SQLite and Postgres. A dump that is not usable fails the asset and the
previous snapshot stays untouched."""

import logging
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from funnel_assets.defs.crm import assets as crm_assets
from funnel_assets.defs.crm.resources import CrmResource, resources as crm_resources
from funnel_assets.defs.resources import ProjectConfigResource, WarehouseResource
from funnel_assets.lib import crm as lib
from funnel_assets.lib.synthetic.edtech import DEFAULT_CONFIG_DIR, crm_assigned_leads_csv, crm_sales_csv, load_edtech_config
from funnel_assets.lib.warehouse import Warehouse
from funnel_assets_tests.http_server import LocalHTTPServer, ScriptedResponse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crm"
TOKEN = "s3cr3t-CRM-t0ken-4d9f"
CONFIG = ProjectConfigResource(config_dir=str(Path(__file__).resolve().parents[2] / "data" / "config"))
START, AS_OF, SEED, SCALE = date(2025, 3, 1), date(2025, 3, 20), 5, 0.1

# Same assets, with a Dagster retry that does not wait (production waits minutes).
ASSIGNED, SALES = crm_assets.build_crm_assets(dg.RetryPolicy(max_retries=1, delay=0))
TABLE = {"assigned_leads": "crm_assigned_leads", "sales": "crm_sales"}
ASSET = {"assigned_leads": ASSIGNED, "sales": SALES}
ORDER = {"assigned_leads": ["dump_row"], "sales": ["dump_row"]}


@pytest.fixture(scope="module")
def dumps() -> dict[str, str]:
    config = load_edtech_config(DEFAULT_CONFIG_DIR)
    return {
        "assigned_leads": crm_assigned_leads_csv(config, seed=SEED, as_of=AS_OF, start=START, scale=SCALE),
        "sales": crm_sales_csv(config, seed=SEED, as_of=AS_OF, start=START, scale=SCALE),
    }


@pytest.fixture
def server():
    with LocalHTTPServer() as s:
        yield s


def run(assets, warehouse_url: str, tags: dict | None = None, **crm_kw) -> dg.ExecuteInProcessResult:
    crm_kw.setdefault("backoff_seconds", 0)
    crm_kw.setdefault("timeout_seconds", 5)
    return dg.materialize(
        assets,
        resources={"crm": CrmResource(**crm_kw), "warehouse": WarehouseResource(url=warehouse_url), "project_config": CONFIG},
        raise_on_error=False,
        tags=tags,
    )


def http_kw(server: LocalHTTPServer, **kw) -> dict:
    return {"base_url": server.url("/api/dumps/"), "assigned_leads": "assigned_leads.csv", "sales": "sales.csv", **kw}


def table(url: str, dump: str) -> pl.DataFrame:
    return Warehouse(url).read_table(TABLE[dump], order_by=ORDER[dump])


def events_text(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(repr(e) for e in result.all_events)


def failure_text(result: dg.ExecuteInProcessResult, dump: str) -> str:
    data = result.failure_data_for_node(TABLE[dump])
    assert data is not None, f"{TABLE[dump]} did not fail"
    described = data.user_failure_data.description if data.user_failure_data else ""
    return f"{described}\n{data.error}"


# ------------------------------------------------------------------------------------ happy paths


def test_local_files_both_assets(tmp_path, dumps, warehouse_url):
    for dump, text in dumps.items():
        (tmp_path / f"{dump}.csv").write_text(text)
    result = run([crm_assets.crm_assigned_leads, crm_assets.crm_sales], warehouse_url,
                 assigned_leads=str(tmp_path / "assigned_leads.csv"), sales=str(tmp_path / "sales.csv"))
    assert result.success
    leads = table(warehouse_url, "assigned_leads")
    want = lib.parse_assigned_leads(dumps["assigned_leads"]).frame
    assert leads.height == want.height > 50
    assert leads["assignment_id"].to_list() == want["assignment_id"].to_list()
    assert leads["phone_key"].to_list() == want["phone_key"].to_list()
    assert leads["assigned_date"].to_list() == want["assigned_date"].to_list()
    sales = table(warehouse_url, "sales")
    want_sales = lib.parse_sales(dumps["sales"]).frame
    assert sales.columns == want_sales.columns
    assert sales["sale_id"].to_list() == want_sales["sale_id"].to_list()
    assert sales["net_amount"].to_list() == want_sales["net_amount"].to_list()
    assert sales["total_emi"].to_list() == want_sales["total_emi"].to_list()

    checks = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    assert set(checks) == {
        ("crm_assigned_leads", "has_usable_rows"), ("crm_assigned_leads", "problem_share"), ("crm_assigned_leads", "no_sharp_shrink"),
        ("crm_sales", "has_usable_rows"), ("crm_sales", "problem_share"), ("crm_sales", "no_sharp_shrink"),
        ("crm_sales", "unknown_phone_share"), ("crm_sales", "unique_sale_ids"),
    }
    assert all(e.passed for e in checks.values())
    meta = result.asset_materializations_for_node("crm_sales")[0].metadata
    assert meta["dagster/row_count"].value == want_sales.height
    assert {c.name for c in meta["dagster/column_schema"].schema.columns} >= {"sale_id", "phone_key", "net_amount", "problem"}


def test_ugly_fixtures_checks_and_masked_metadata(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    result = run([crm_assets.crm_assigned_leads, crm_assets.crm_sales], url,
                 assigned_leads=str(FIXTURES / "assigned_leads_ugly.csv"), sales=str(FIXTURES / "sales_ugly.csv"))
    assert result.success  # warnings only
    checks = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    assert checks[("crm_sales", "has_usable_rows")].passed
    assert not checks[("crm_sales", "problem_share")].passed
    assert checks[("crm_sales", "problem_share")].severity == dg.AssetCheckSeverity.WARN
    assert not checks[("crm_sales", "unique_sale_ids")].passed
    assert not checks[("crm_sales", "unknown_phone_share")].passed  # 1 of 8 without a phone
    assert not checks[("crm_assigned_leads", "problem_share")].passed
    sales = table(url, "crm_sales".removeprefix("crm_"))
    assert sales.height == 8 and sales["problem"].drop_nulls().len() == 6  # nothing dropped

    leads_raw = lib.parse_assigned_leads((FIXTURES / "assigned_leads_ugly.csv").read_bytes()).frame
    sales_raw = lib.parse_sales((FIXTURES / "sales_ugly.csv").read_bytes()).frame
    secrets = {v for v in leads_raw["phone_raw"].drop_nulls().to_list() + leads_raw["phone_key"].drop_nulls().to_list()
               + sales_raw["student_contact"].drop_nulls().to_list() + sales_raw["phone_key"].drop_nulls().to_list()
               + sales_raw["email"].drop_nulls().to_list() if len(v) > 6}
    shown = events_text(result)
    assert "extra_fields" in shown and "row 5" in shown  # the metadata examples are there ...
    assert not [s for s in secrets if s in shown]  # ... but masked


def test_european_amounts_load_right_and_the_metadata_says_how_they_were_read(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    result = run([crm_assets.crm_sales], url, sales=str(FIXTURES / "sales_european_amounts.csv"))
    assert result.success
    meta = result.asset_materializations_for_node("crm_sales")[0].metadata
    assert meta["decimal_mark"].value == "decimal comma, shown by the file (dump row 1 tokenAmount 0,00)"
    assert meta["date_order_decided_by"].value == "day-first, the configured default: no date in the file shows the order"
    sales = table(url, "sales")
    assert sales["net_amount"].to_list() == [75000.0, 150000.0, 127457.63]  # "75.000,00", not 75.0


def test_empty_dump_keeps_the_previous_snapshot_and_blocking_check(tmp_path, dumps):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    good = tmp_path / "sales.csv"
    good.write_text(dumps["sales"])
    assert run([SALES], url, sales=str(good)).success
    before = table(url, "sales")
    header_only = tmp_path / "header_only.csv"
    header_only.write_text(dumps["sales"].splitlines()[0] + "\n")
    result = run([SALES], url, sales=str(header_only))
    assert not result.success
    assert "no rows" in failure_text(result, "sales")
    assert table(url, "sales").equals(before)

    # a dump whose every row is unusable is first of all far smaller than the snapshot: refused;
    # accepted with the run tag, it replaces the table, but the blocking ERROR check fails
    only_bad = tmp_path / "bad.csv"
    lines = dumps["sales"].splitlines()
    only_bad.write_text(lines[0] + "\n" + ",".join("" for _ in lib.SALES_FIELDS) + "\n")
    result = run([SALES], url, sales=str(only_bad))
    assert not result.success and table(url, "sales").equals(before)
    assert [e.check_name for e in result.get_asset_check_evaluations()] == ["no_sharp_shrink"]
    result = run([SALES], url, tags={"funnel/accept_shrink": "crm_sales"}, sales=str(only_bad))
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["no_sharp_shrink"].passed and "accepted" in checks["no_sharp_shrink"].description
    check = checks["has_usable_rows"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert not result.success  # blocking check
    assert table(url, "sales").height == 1


def test_a_dump_with_half_its_rows_is_refused_until_accepted(tmp_path, dumps, warehouse_url):
    """Issue 12: a CRM dump with half its rows no longer replaces the snapshot with only a warning."""
    good = tmp_path / "assigned_leads.csv"
    good.write_text(dumps["assigned_leads"])
    downstream_ran = []

    @dg.asset(deps=["crm_assigned_leads"])
    def reads_the_snapshot() -> None:
        downstream_ran.append(True)

    assert run([ASSIGNED, reads_the_snapshot], warehouse_url, assigned_leads=str(good)).success
    before = table(warehouse_url, "assigned_leads")
    lines = dumps["assigned_leads"].splitlines()
    half = tmp_path / "half.csv"
    half.write_text("\n".join(lines[: 1 + (len(lines) - 1) // 2]) + "\n")
    downstream_ran.clear()

    result = run([ASSIGNED, reads_the_snapshot], warehouse_url, assigned_leads=str(half))
    assert not result.success and not downstream_ran
    assert not result.asset_materializations_for_node("crm_assigned_leads")
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "no_sharp_shrink" and not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    message = check.description
    assert "crm_assigned_leads" in message and f"{(len(lines) - 1) // 2} rows now, {before.height} in the warehouse" in message
    assert "funnel/accept_shrink=crm_assigned_leads" in message and "previous rows stay" in message
    assert table(warehouse_url, "assigned_leads").equals(before)

    # a wrong name in the tag accepts nothing and says so
    typo = run([ASSIGNED], warehouse_url, tags={"funnel/accept_shrink": "crm_asigned"}, assigned_leads=str(half))
    assert not typo.success and "no source" in failure_text(typo, "assigned_leads")
    assert table(warehouse_url, "assigned_leads").equals(before)

    accepted = run([ASSIGNED, reads_the_snapshot], warehouse_url, tags={"funnel/accept_shrink": "crm_assigned_leads"}, assigned_leads=str(half))
    assert accepted.success and downstream_ran
    assert table(warehouse_url, "assigned_leads").height == (len(lines) - 1) // 2


# ------------------------------------------------------------------------------------ HTTP


def test_token_in_header(server, dumps, warehouse_url):
    server.set_default("/api/dumps/assigned_leads.csv", ScriptedResponse.csv(dumps["assigned_leads"]))
    result = run([ASSIGNED], warehouse_url, **http_kw(server, token=TOKEN))
    assert result.success
    (req,) = server.requests_for("/api/dumps/assigned_leads.csv")
    assert req.header("Authorization") == f"Bearer {TOKEN}"
    assert req.query == {}
    assert TOKEN not in events_text(result)


def test_token_in_query_parameter_with_custom_name(server, dumps, tmp_path):
    server.set_default("/api/dumps/sales.csv", ScriptedResponse.csv(dumps["sales"]))
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    result = run([SALES], url, **http_kw(server, token=TOKEN, token_placement="query", token_name="access"))
    assert result.success
    (req,) = server.requests_for("/api/dumps/sales.csv")
    assert req.query_value("access") == TOKEN and req.header("Authorization") is None
    assert TOKEN not in events_text(result)  # "access" does not look secret: scrubbed by value
    assert table(url, "sales").height == lib.parse_sales(dumps["sales"]).frame.height


def test_query_token_with_an_ordinary_name_stays_out_of_retry_warnings(server, dumps, tmp_path, caplog):
    """A retry warning names the URL it retries: with the token in ``?access=`` (a name that does
    not look secret) it used to print the token into the run's log. Now the warning is in the
    step's log (the UI shows the retry) with the token scrubbed by value."""
    caplog.set_level(logging.INFO)  # (urllib3's own DEBUG lines quote request paths; off unless asked for)
    server.enqueue("/api/dumps/sales.csv", ScriptedResponse(status=503, body="busy"), ScriptedResponse.csv(dumps["sales"]))
    crm = CrmResource(**http_kw(server, token=TOKEN, token_placement="query", token_name="access", retries=2, backoff_seconds=0))
    with dg.instance_for_test() as instance:
        result = dg.materialize([SALES], instance=instance, resources={
            "crm": crm, "warehouse": WarehouseResource(url=f"sqlite:///{tmp_path / 'w.sqlite'}"), "project_config": CONFIG})
        records = "\n".join(repr(entry) for entry in instance.all_logs(result.run_id))
    assert result.success
    assert [r.query_value("access") for r in server.requests_for("/api/dumps/sales.csv")] == [TOKEN, TOKEN]
    assert TOKEN not in records and TOKEN not in caplog.text
    assert "attempt 1 of 3" in records and "access=***" in records


def test_custom_header_without_prefix(server, dumps, tmp_path):
    server.set_default("/api/dumps/sales.csv", ScriptedResponse.csv(dumps["sales"]))
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    assert run([SALES], url, **http_kw(server, token=TOKEN, token_name="X-CRM-Key", token_prefix="none")).success
    assert server.requests_for("/api/dumps/sales.csv")[0].header("X-CRM-Key") == TOKEN


def test_500_then_200_is_retried(server, dumps, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    server.enqueue("/api/dumps/sales.csv", ScriptedResponse(status=500, body="oops"), ScriptedResponse.csv(dumps["sales"]))
    assert run([SALES], url, **http_kw(server, token=TOKEN, retries=2)).success
    assert len(server.requests_for("/api/dumps/sales.csv")) == 2


def test_dagster_retry_policy_takes_over_when_quick_retries_are_exhausted(server, dumps, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    server.enqueue("/api/dumps/sales.csv", ScriptedResponse(status=503), ScriptedResponse.csv(dumps["sales"]))
    result = run([SALES], url, **http_kw(server, token=TOKEN, retries=0))
    assert result.success
    assert len(server.requests_for("/api/dumps/sales.csv")) == 2
    assert any(e.event_type_value == "STEP_UP_FOR_RETRY" for e in result.all_events)


def test_production_assets_carry_a_network_retry_policy():
    for asset in (crm_assets.crm_assigned_leads, crm_assets.crm_sales):
        policy = asset.op.retry_policy
        assert policy.max_retries == 3 and policy.backoff == dg.Backoff.EXPONENTIAL and policy.delay >= 60
        assert asset.group_names_by_key[asset.key] == "crm"
        assert asset.specs_by_key[asset.key].kinds >= {"http", "csv", "polars", "sql"}


MISBEHAVIOURS = {
    "unauthorized": (ScriptedResponse(status=401, body="invalid token", content_type="text/plain"), "401", False),
    "html_page": (ScriptedResponse.html((FIXTURES / "crm_error_page.html").read_text()), "web page", False),
    "missing_columns": (None, "StudentContact", False),
    "truncated": (None, "cut off", True),
    "timeout": (None, "(timeout)", True),
    "server_error": (ScriptedResponse(status=502, body="bad gateway", content_type="text/plain"), "502", True),
}


@pytest.mark.parametrize("case", list(MISBEHAVIOURS))
def test_misbehaving_server_fails_the_asset_and_keeps_the_snapshot(case, server, dumps, warehouse_url):
    dump = "sales"
    path = "/api/dumps/sales.csv"
    server.enqueue(path, ScriptedResponse.csv(dumps[dump]))
    assert run([SALES], warehouse_url, **http_kw(server, token=TOKEN)).success
    before = table(warehouse_url, dump)
    assert before.height > 5

    response, expected, retried = MISBEHAVIOURS[case]
    body = dumps[dump].encode()
    if case == "missing_columns":
        lines = dumps[dump].splitlines()
        keep = [i for i, name in enumerate(lines[0].split(",")) if name != "StudentContact"]
        response = ScriptedResponse.csv("\n".join(",".join(line.split(",")[i] for i in keep) for line in lines[:1]) + "\n")
    elif case == "truncated":
        response = ScriptedResponse.csv(body, close_after=len(body) // 2)
    elif case == "timeout":
        response = ScriptedResponse.csv(body, delay=4)
    server.set_default(path, response)
    result = run([SALES], warehouse_url, **http_kw(server, token=TOKEN, retries=0, timeout_seconds=1))

    assert not result.success
    message = failure_text(result, dump)
    assert expected.lower() in message.lower(), message
    assert "previous snapshot is kept" in message
    assert TOKEN not in events_text(result)
    # retried by Dagster only when it may help (1 request for the good run + 1 or 2 now)
    assert len(server.requests_for(path)) == 1 + (2 if retried else 1)
    assert table(warehouse_url, dump).equals(before)
    assert not result.asset_materializations_for_node("crm_sales")


def test_unauthorized_with_query_token_is_not_leaked(server, tmp_path):
    server.set_default("/api/dumps/assigned_leads.csv", ScriptedResponse(status=403, body=f"token {TOKEN} refused", content_type="text/plain"))
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    result = run([ASSIGNED], url, **http_kw(server, token=TOKEN, token_placement="query", token_name="k"))
    assert not result.success
    assert "403" in failure_text(result, "assigned_leads")
    assert TOKEN not in events_text(result)
    assert not Warehouse(url).has_table("crm_assigned_leads")


# ------------------------------------------------------------------------------------ wiring


def test_resource_definitions_and_locations(monkeypatch):
    defs = crm_resources()
    assert isinstance(defs.resources["crm"], CrmResource)
    crm = CrmResource()
    assert crm.location("assigned_leads").endswith("data/demo/crm/assigned_leads.csv")
    assert crm.location("sales").endswith("data/demo/crm/sales.csv")
    assert CrmResource(base_url="none", sales="/abs/sales.csv").location("sales") == "/abs/sales.csv"
    assert CrmResource(base_url="https://crm.example.in/api/", sales="/dumps/sales.csv").location("sales") == "https://crm.example.in/api/dumps/sales.csv"
    assert CrmResource(base_url="https://a", sales="https://b/s.csv").location("sales") == "https://b/s.csv"
    assert CrmResource(token="none")._auth() == ({}, {})
    assert CrmResource(token="", token_placement="query")._auth() == ({}, {})
    assert CrmResource(token="t0k3n", token_placement="query")._auth() == ({}, {"token": "t0k3n"})
    with pytest.raises(dg.Failure, match="header' or 'query"):
        CrmResource(token="t0k3n", token_placement="cookie")._auth()


DEMO_ENV = {
    "FUNNEL_CRM_BASE_URL": "",
    "FUNNEL_CRM_ASSIGNED_LEADS": "data/demo/crm/assigned_leads.csv",
    "FUNNEL_CRM_SALES": "data/demo/crm/sales.csv",
    "FUNNEL_CRM_TOKEN": "",
    "FUNNEL_CRM_TOKEN_PLACEMENT": "header",
    "FUNNEL_CRM_TOKEN_NAME": "",
    "FUNNEL_CRM_TOKEN_PREFIX": "Bearer",
    "FUNNEL_CRM_TIMEOUT_SECONDS": "60",
    "FUNNEL_CRM_RETRIES": "3",
    "FUNNEL_CRM_BACKOFF_SECONDS": "5",
}


def test_env_vars_with_demo_defaults_and_empty_values_resolve(monkeypatch, tmp_path, dumps):
    for name, value in DEMO_ENV.items():
        monkeypatch.setenv(name, value)
    sales_file = tmp_path / "sales.csv"
    sales_file.write_text(dumps["sales"])
    monkeypatch.setenv("FUNNEL_CRM_SALES", str(sales_file))
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    result = dg.materialize([SALES], resources={**crm_resources().resources, "warehouse": WarehouseResource(url=url), "project_config": CONFIG})
    assert result.success
    assert table(url, "sales").height == lib.parse_sales(dumps["sales"]).frame.height
