"""Shared fixtures: a throw-away PostgreSQL database and warehouse URLs on both dialects.

The Postgres tests use ``FUNNEL_TEST_POSTGRES_URL`` (default: the local server, user
postgres). Without a reachable server they are skipped with a message saying how to enable
them; under CI (``CI`` set) an unreachable server is a failure, never a skip.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

PG_ENV = "FUNNEL_TEST_POSTGRES_URL"
PG_DEFAULT = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
HOW_TO_ENABLE = (
    f"PostgreSQL is not reachable at {{url}} ({{error}}). To run the Postgres tests, start a "
    f"server there (user postgres, trust auth) or set {PG_ENV}=postgresql+psycopg2://USER:PASSWORD@HOST:PORT/DB "
    f"to an account that may CREATE DATABASE."
)


def _server_url() -> str:
    return os.environ.get(PG_ENV, PG_DEFAULT)


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url = _server_url()
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        message = HOW_TO_ENABLE.format(url=url, error=str(exc).splitlines()[0])
        if os.environ.get("CI"):
            pytest.fail("CI must run the Postgres tests. " + message)
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def postgres_database(postgres_server_url: str):
    """A fresh database for this test session, dropped at the end."""
    name = f"funnel_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(postgres_server_url).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_database: str):
    """A URL whose connections work in a schema of their own (dropped after the test)."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.engine.make_url(postgres_database).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse_url(request, tmp_path) -> str:
    """The same test on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(autouse=True)
def _forget_dagster_defs_state_storage():
    """Dagster 1.13 keeps "the current definitions-state storage" in a context variable that a
    sensor context built in one test can leave pointing at that test's (closed) instance; the next
    ``defs()`` then fails with "Attempted to resolve undefined DagsterInstance weakref". Each test
    starts and ends without one."""
    from dagster._core.storage.defs_state.base import _current_storage

    _current_storage.set(None)
    yield
    _current_storage.set(None)
