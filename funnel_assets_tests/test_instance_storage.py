"""The instance storages (funnel_assets/instance_storage*.py): Dagster's own, keeping their database
connections. They must store and read exactly what Dagster's do, in the same files or tables,
while other processes read and write them, after they delete them, and in forked children."""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import sqlite3
import threading
import time
import uuid

import dagster as dg
import psycopg2
import pytest
import sqlalchemy as sa
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster_postgres import DagsterPostgresStorage

from funnel_assets.instance_storage import OPEN_SHARDS, PooledSqliteEventLogStorage, event_logs_directory
from funnel_assets.instance_storage_postgres import PooledPostgresEventLogStorage, PooledPostgresRunStorage
from funnel_assets.lib.settings import PROJECT_ROOT


def log_entry(run_id: str, message: str) -> EventLogEntry:
    return EventLogEntry(error_info=None, level=logging.INFO, user_message=message, run_id=run_id, timestamp=time.time())


def messages(storage, run_id: str) -> list[str]:
    return [entry.user_message for entry in storage.get_logs_for_run(run_id)]


def count_connects(module, set_attribute=setattr) -> list:
    """Count the connections opened through ``module.connect`` (SQLAlchemy opens SQLite's through
    sqlite3.dbapi2.connect and PostgreSQL's through psycopg2.connect)."""
    opened = []
    real = module.connect

    def connect(*args, **kwargs):
        opened.append(1)
        return real(*args, **kwargs)

    set_attribute(module, "connect", connect)
    return opened


@dg.asset(check_specs=[dg.AssetCheckSpec("has_rows", asset="signups")])
def signups():
    return dg.MaterializeResult(metadata={"dagster/row_count": 3}, check_results=[dg.AssetCheckResult(passed=True)])


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A DAGSTER_HOME with the project's dagster.yaml."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def count_sqlite_connects(monkeypatch):
    """How many SQLite connections are opened."""
    return count_connects(sqlite3.dbapi2, monkeypatch.setattr)


def test_the_project_instance_stores_runs_where_dagsters_default_does(home):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        result = dg.materialize([signups], instance=instance)
        assert result.success
    run_id = result.run_id
    assert (home / "history" / "runs" / f"{run_id}.db").exists()
    assert (home / "history" / "runs" / "index.db").exists()
    # Dagster's own storage reads everything from the same files
    plain = SqliteEventLogStorage(event_logs_directory(str(home)))
    stored = {e.dagster_event_type for e in plain.get_logs_for_run(run_id) if e.is_dagster_event}
    assert {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            dg.DagsterEventType.RUN_SUCCESS} <= stored
    assert plain.fetch_materializations(dg.AssetKey("signups"), limit=5).records[0].run_id == run_id
    (check,) = plain.get_asset_check_execution_history(dg.AssetCheckKey(dg.AssetKey("signups"), "has_rows"), limit=5)
    assert check.run_id == run_id and check.status.value == "SUCCEEDED"


def test_an_instance_switched_to_it_keeps_its_history(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as default_instance:  # Dagster's default SQLite storage
        assert type(default_instance.event_log_storage) is SqliteEventLogStorage
        before = dg.materialize([signups], instance=default_instance).run_id
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        after = dg.materialize([signups], instance=instance).run_id
        runs = [r.run_id for r in instance.fetch_materializations(dg.AssetKey("signups"), limit=5).records]
        assert runs == [after, before]
        assert any(e.is_dagster_event for e in instance.all_logs(before))


def test_a_run_reuses_its_connections_where_dagsters_storage_opens_one_per_event(tmp_path, count_sqlite_connects):
    pooled = PooledSqliteEventLogStorage(str(tmp_path / "pooled"))
    plain = SqliteEventLogStorage(str(tmp_path / "plain"))
    run_id = str(uuid.uuid4())
    for storage in (pooled, plain):
        count_sqlite_connects.clear()
        for i in range(100):
            storage.store_event(log_entry(run_id, f"event {i}"))
        assert messages(storage, run_id) == [f"event {i}" for i in range(100)]
        if storage is pooled:
            assert len(count_sqlite_connects) <= 5, "a connection per event: the kept one was not reused"
        else:
            assert len(count_sqlite_connects) >= 100
    pooled.dispose()


def test_only_the_most_recent_files_are_kept_open_and_an_evicted_one_reopens(tmp_path):
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    runs = [str(uuid.uuid4()) for _ in range(OPEN_SHARDS * 2 + 3)]
    for run_id in runs:
        storage.store_event(log_entry(run_id, f"started {run_id}"))
        assert len(storage._engines) <= OPEN_SHARDS
    for run_id in runs:  # the first ones were closed long ago
        storage.store_event(log_entry(run_id, "ended"))
        assert messages(storage, run_id) == [f"started {run_id}", "ended"]
    storage.dispose()
    assert not storage._engines


def test_a_run_file_another_process_deleted_or_replaced_is_reopened(tmp_path):
    ours = PooledSqliteEventLogStorage(str(tmp_path))
    run_id = str(uuid.uuid4())
    ours.store_event(log_entry(run_id, "before the wipe"))
    other = SqliteEventLogStorage(str(tmp_path / "history" / "runs"))  # another process's view, same files
    other.wipe()  # deletes every run's file (`dagster run wipe`)
    assert not (tmp_path / "history" / "runs" / f"{run_id}.db").exists()
    ours.store_event(log_entry(run_id, "after the wipe"))  # not into the deleted file
    assert messages(other, run_id) == ["after the wipe"]
    other.wipe()
    other.store_event(log_entry(run_id, "the other process recreated the file"))
    ours.store_event(log_entry(run_id, "and we write into the new one"))
    assert messages(other, run_id) == ["the other process recreated the file", "and we write into the new one"]
    ours.dispose()


def test_a_wipe_in_this_process_starts_the_run_files_afresh(tmp_path):
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    run_id = str(uuid.uuid4())
    storage.store_event(log_entry(run_id, "old"))
    storage.wipe()
    storage.store_event(log_entry(run_id, "new"))
    assert messages(storage, run_id) == ["new"]
    assert messages(SqliteEventLogStorage(str(tmp_path / "history" / "runs")), run_id) == ["new"]
    storage.dispose()


def test_threads_share_the_storage_without_losing_an_event(tmp_path):
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    runs = [str(uuid.uuid4()), str(uuid.uuid4())]
    errors = []

    def write(thread: int) -> None:
        try:
            for i in range(50):
                storage.store_event(log_entry(runs[i % 2], f"{thread}-{i}"))
                if i % 10 == 0:
                    messages(storage, runs[thread % 2])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stored = messages(storage, runs[0]) + messages(storage, runs[1])
    assert sorted(stored) == sorted(f"{t}-{i}" for t in range(4) for i in range(50))
    storage.dispose()


def _report_materializations(home: str, count: int, tag: str) -> None:
    import os

    os.environ["DAGSTER_HOME"] = home
    with dg.DagsterInstance.from_config(home) as instance:
        for i in range(count):
            instance.report_runless_asset_event(dg.AssetMaterialization("signups", metadata={"writer": tag, "i": i}))


def test_two_processes_write_the_same_files_at_once(home):
    spawn = multiprocessing.get_context("spawn")
    others = [spawn.Process(target=_report_materializations, args=(str(home), 60, f"other-{n}")) for n in range(2)]
    for process in others:
        process.start()
    _report_materializations(str(home), 60, "this")
    for process in others:
        process.join(120)
        assert process.exitcode == 0
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.fetch_materializations(dg.AssetKey("signups"), limit=1000).records
    writers = [r.asset_materialization.metadata["writer"].value for r in records]
    assert sorted(writers) == sorted(["this"] * 60 + ["other-0"] * 60 + ["other-1"] * 60)


def _write_after_fork(storage: PooledSqliteEventLogStorage, run_id: str, queue) -> None:
    opened = count_connects(sqlite3.dbapi2)
    storage.store_event(log_entry(run_id, "from the child"))
    queue.put(len(opened))


def test_a_forked_child_opens_its_own_connections(tmp_path):
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    run_id = str(uuid.uuid4())
    storage.store_event(log_entry(run_id, "from the parent"))  # the parent now keeps a connection to this run's file
    fork = multiprocessing.get_context("fork")
    queue = fork.Queue()
    child = fork.Process(target=_write_after_fork, args=(storage, run_id, queue))
    child.start()
    opened_in_child = queue.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0
    assert opened_in_child >= 1, "the child wrote through its parent's connection"
    storage.store_event(log_entry(run_id, "the parent again"))
    assert messages(storage, run_id) == ["from the parent", "from the child", "the parent again"]
    storage.dispose()


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_home(tmp_path, monkeypatch, postgres_server_url):
    """A DAGSTER_HOME with the project's PostgreSQL dagster.yaml, on a database of its own."""
    name = f"funnel_instance_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(postgres_server_url).set(drivername="postgresql+psycopg2", database=name)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "postgres" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", url.render_as_string(hide_password=False))

    def connections() -> int:
        with admin.connect() as conn:
            return conn.exec_driver_sql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}'").scalar()

    yield home, url.render_as_string(hide_password=False), connections
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def count_pg_connects(monkeypatch):
    """How many PostgreSQL connections are opened."""
    return count_connects(psycopg2, monkeypatch.setattr)


def test_the_postgres_instance_keeps_a_connection_and_stores_what_dagster_postgres_reads(pg_home, count_pg_connects):
    home, url, connections = pg_home
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, PooledPostgresEventLogStorage)
        assert isinstance(instance.run_storage, PooledPostgresRunStorage)
        count_pg_connects.clear()
        result = dg.materialize([signups], instance=instance)
        assert result.success
        # a run writes ~20 events and updates the run several times: dagster-postgres alone opens
        # a connection for each
        assert len(count_pg_connects) <= 6, f"{len(count_pg_connects)} connections opened for one run"
        assert connections() >= 1
    # a closed connection's server process leaves pg_stat_activity a moment later (longer on a busy machine)
    deadline = time.monotonic() + 10
    while connections() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert connections() == 0, "the instance's connections were not closed when it was disposed"
    plain = DagsterPostgresStorage(url)
    try:
        (run,) = plain.run_storage.get_runs(dg.RunsFilter(run_ids=[result.run_id]))
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert plain.event_log_storage.fetch_materializations(dg.AssetKey("signups"), limit=5).records[0].run_id == result.run_id
        (check,) = plain.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("signups"), "has_rows"), limit=5)
        assert check.run_id == result.run_id
    finally:
        plain.event_log_storage.dispose()


def _report_after_fork(instance, queue) -> None:
    opened = count_connects(psycopg2)
    instance.report_runless_asset_event(dg.AssetMaterialization("signups", metadata={"writer": "child"}))
    queue.put(len(opened))


def test_a_forked_child_of_the_postgres_instance_opens_its_own_connection(pg_home):
    home, _, _ = pg_home
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization("signups", metadata={"writer": "parent"}))
        fork = multiprocessing.get_context("fork")
        queue = fork.Queue()
        child = fork.Process(target=_report_after_fork, args=(instance, queue))
        child.start()
        opened_in_child = queue.get(timeout=60)
        child.join(60)
        assert child.exitcode == 0
        assert opened_in_child >= 1, "the child used its parent's connection"
        instance.report_runless_asset_event(dg.AssetMaterialization("signups", metadata={"writer": "parent again"}))
        records = instance.fetch_materializations(dg.AssetKey("signups"), limit=10).records
        assert [r.asset_materialization.metadata["writer"].value for r in records] == ["parent again", "child", "parent"]
