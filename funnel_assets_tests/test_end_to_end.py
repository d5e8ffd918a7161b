"""End to end: the demo command through a persistent Dagster instance, SQLite and Postgres.

Each case runs ``python -m funnel_assets.demo`` in a fresh process with its own
``DAGSTER_HOME`` (holding the project's real instance configuration), then opens that
instance and the warehouse and checks what landed, and runs it again to prove reruns change
nothing.
"""

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import sqlalchemy as sa

from funnel_assets.instance_storage import PooledSqliteEventLogStorage
from funnel_assets.lib.text import markdown_html_tags
from funnel_assets.lib.warehouse import Warehouse
from funnel_assets_tests.settings_env import pipeline_env

ROOT = Path(__file__).resolve().parents[1]
DAYS = 3


@pytest.fixture
def fresh_pg_database(postgres_server_url):
    """Create databases on the test server; all dropped afterwards."""
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    created = []

    def make(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        created.append(name)
        return sa.engine.make_url(postgres_server_url).set(drivername="postgresql+psycopg2", database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def run_demo(env: dict, *extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "funnel_assets.demo", "--days", str(DAYS), "--saas-scale", "0.01", "--edtech-scale", "0.2", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"demo failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def base_env(tmp_path: Path, instance_config: Path, warehouse_url: str) -> dict:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(instance_config, home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FUNNEL_", "DAGSTER_"))}
    env.update(pipeline_env(tmp_path, FUNNEL_WAREHOUSE_URL=warehouse_url), DAGSTER_HOME=str(home))
    return env


def check_instance_and_warehouse(home: Path, warehouse_url: str) -> pl.DataFrame:
    with dg.DagsterInstance.from_config(str(home)) as instance:  # its dagster.yaml reads DAGSTER_HOME
        runs = instance.get_runs()
        assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert {r.job_name for r in runs} == {"nightly_funnel_job", "synthetic_world_job"}
        records = instance.fetch_materializations(dg.AssetKey("marketing_leads"), limit=100).records
        partitions = {r.partition_key for r in records}
        assert len(partitions) == DAYS
        checks = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("marketing_leads"), "has_leads"), limit=10
        )
        assert checks, "check results were not recorded in the instance"
    warehouse = Warehouse(warehouse_url)
    leads = warehouse.read_table("marketing_leads", order_by=["lead_id"])
    assert sorted(str(d) for d in leads["created_date"].unique()) == sorted(partitions)
    assert leads.height > DAYS * 20
    assert warehouse.row_count("web_events") > 0 and warehouse.row_count("truth_people") > 0
    return leads


def column_descriptions_the_ui_would_cut(instance: dg.DagsterInstance) -> dict[str, list[str]]:
    """Column descriptions of every asset's latest materialization that the UI's markdown would read as HTML."""
    cut = {}
    for key in instance.get_asset_keys():
        event = instance.get_latest_materialization_event(key)
        schema = event.asset_materialization.metadata.get("dagster/column_schema") if event and event.asset_materialization else None
        for column in schema.value.columns if schema else []:
            if markdown_html_tags(column.description):
                cut[f"{key.to_user_string()}.{column.name}"] = markdown_html_tags(column.description)
    return cut


def test_demo_on_sqlite_instance(tmp_path, monkeypatch):
    warehouse_url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    env = base_env(tmp_path, ROOT / "dagster.yaml", warehouse_url)
    env_file = tmp_path / ".env"
    env_file.write_text("FUNNEL_TIMEZONE=Asia/Kolkata\nFUNNEL_START_DATE=\n")
    out = run_demo(env, "--env-file", str(env_file)).stdout
    assert "marketing_leads:" in out and "./run ui" in out
    # the summary labels its figures; the UI's partitions start at the demo's first day (its .env)
    assert " refunded); net revenue " in out and " not refunded, spend " in out
    first_day = out.split("==> simulating ", 1)[1][:10]
    assert f"FUNNEL_START_DATE={first_day}\n" in env_file.read_text()
    env["FUNNEL_START_DATE"] = first_day  # what ./run exports from .env on the next run
    assert (tmp_path / "dagster_home" / "history" / "runs.db").exists()  # SQLite storage under DAGSTER_HOME
    assert (tmp_path / "dagster_home" / "history" / "runs" / "index.db").exists()  # the event log, where Dagster's default keeps it
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        # every column description shows in the UI as written ("+<digits>" was cut to "+")
        assert column_descriptions_the_ui_would_cut(instance) == {}
        leads_schema = instance.get_latest_materialization_event(dg.AssetKey("marketing_leads")).asset_materialization.metadata["dagster/column_schema"]
        assert "+\\<digits\\>" in next(c.description for c in leads_schema.value.columns if c.name == "phone_key")
    assert list((tmp_path / "inbox" / "zoom").glob("*.csv")), "the synthetic Zoom downloads did not land in the drop folder"
    first = check_instance_and_warehouse(tmp_path / "dagster_home", warehouse_url)
    run_demo(env, "--env-file", str(env_file))
    again = check_instance_and_warehouse(tmp_path / "dagster_home", warehouse_url)
    assert again.equals(first)


def test_demo_on_postgres_instance_and_warehouse(tmp_path, fresh_pg_database):
    dagster_db, warehouse_db = fresh_pg_database("funnel_e2e_dagster"), fresh_pg_database("funnel_e2e_wh")
    env = base_env(tmp_path, ROOT / "deploy" / "postgres" / "dagster.yaml", warehouse_db)
    env["DAGSTER_PG_URL"] = dagster_db
    run_demo(env)
    os.environ["DAGSTER_PG_URL"] = dagster_db  # the instance config reads it when opened here
    try:
        first = check_instance_and_warehouse(tmp_path / "dagster_home", warehouse_db)
    finally:
        del os.environ["DAGSTER_PG_URL"]
    # the run history really is in Postgres, and nothing was kept in SQLite files
    engine = sa.create_engine(dagster_db)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM runs WHERE status = 'SUCCESS'").scalar() >= 1
        assert conn.exec_driver_sql("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'").scalar() >= DAYS
    engine.dispose()
    assert not list((tmp_path / "dagster_home").rglob("runs.db"))
    assert first.height > 0
