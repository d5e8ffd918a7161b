"""The project's Dagster instance storage: Dagster's own, with its database connections kept.

Dagster's ``SqliteEventLogStorage`` creates a new SQLAlchemy engine and opens a new SQLite
connection for every read and every write, and a run writes about 200 events (a check result
alone is three: planned, output, evaluation; most events touch two or three databases). On a
small machine that connection churn was over half of Dagster's own share of the nightly run
(README, "Benchmarks").

``PooledSqliteEventLogStorage`` is that storage with one change: each database file (the index and
the most recent runs' shards) keeps one engine and one open connection, reused under the storage's
own lock. Same files, schema and layout as Dagster's default (``<base_dir>/history/runs/``), so an
existing instance keeps its history; same locking between processes (SQLite's, with the same busy
timeout); nothing is held between transactions. A file that another process deleted or replaced
(``dagster run wipe``) is noticed by its inode and reopened; ``wipe`` and ``dispose`` close every
connection; a forked child never reuses its parent's.

Configured in ``dagster.yaml``::

    event_log_storage:
      module: funnel_assets.instance_storage
      class: PooledSqliteEventLogStorage
      config:
        base_dir:
          env: DAGSTER_HOME

``PooledPostgresStorage`` does the same for the PostgreSQL instance (``deploy/postgres/dagster.yaml``):
dagster-postgres opens a new connection (TCP, authentication) for every event and every run
update, unless the process is the webserver; here its run and event log storages keep one pooled
connection each per process (checked before use, recycled hourly, up to four more while threads
overlap), and a forked child opens its own.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster._config import StringSource
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from dagster._core.storage.base_storage import DagsterStorage
from dagster_postgres import DagsterPostgresStorage, PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

OPEN_SHARDS = 8
"""Database files kept open at once: the index and the runs most recently written or read (a run
worker needs two; the UI reads many runs' shards, each reopened when it is needed again)."""


def event_logs_directory(home: str) -> str:
    """Where Dagster's default SQLite storage keeps the event logs of the instance at ``home``."""
    return os.path.join(home, "history", "runs", "")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log storage, with one kept connection per database file."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._home = base_dir
        self._engines: OrderedDict[str, tuple[Engine, int]] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._engines_pid = os.getpid()
        self._tables_seen: set[str] = set()
        super().__init__(event_logs_directory(base_dir), inst_data=inst_data)

    @classmethod
    def config_type(cls) -> Any:
        return {"base_dir": StringSource}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    # ---------------------------------------------------------------- connections

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # as Dagster's: one connection at a time per storage, under its lock; only the engine is kept
        with self._db_lock:
            engine = self._engine_for(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def _engine_for(self, shard: str) -> Engine:
        path = self.path_for_shard(shard)
        with self._engines_lock:
            if self._engines_pid != os.getpid():
                # a forked child: the parent's connections are not ours to use, nor to close
                for engine, _ in self._engines.values():
                    engine.dispose(close=False)
                self._engines.clear()
                self._engines_pid = os.getpid()
            if not os.path.exists(path):
                # never created here, or deleted since (another process wiped the instance)
                self._initialized_dbs.discard(shard)
            if shard not in self._initialized_dbs:
                fresh = create_engine(self.conn_string_for_shard(shard), poolclass=NullPool,
                                      connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
                try:
                    self._initdb(fresh)
                finally:
                    fresh.dispose()
                self._initialized_dbs.add(shard)
            inode = os.stat(path).st_ino
            kept = self._engines.pop(shard, None)
            if kept is not None and kept[1] != inode:
                kept[0].dispose()  # the file was replaced: its old connection reads a deleted file
                kept = None
            if kept is None:
                engine = create_engine(self.conn_string_for_shard(shard), pool_size=1, max_overflow=2,
                                       connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
                kept = (engine, inode)
            self._engines[shard] = kept  # most recently used last
            while len(self._engines) > OPEN_SHARDS:
                _, (oldest, _) = self._engines.popitem(last=False)
                oldest.dispose()
            return kept[0]

    def has_table(self, table_name: str) -> bool:
        # asked before every check result is stored (a new engine each time in Dagster's); a table
        # that exists stays, so only "yes" is remembered
        if table_name in self._tables_seen:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables_seen.add(table_name)
        return found

    def _close_connections(self) -> None:
        with self._engines_lock:
            for engine, _ in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        with self._db_lock:
            self._close_connections()
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._close_connections()


# --------------------------------------------------------------------------- PostgreSQL

PG_RECYCLE_SECONDS = 3600
_KEPT_PG_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_pg_connections_in_child() -> None:
    # a forked child must not talk over its parent's sockets: the engines start a new pool there
    for engine in list(_KEPT_PG_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_pg_connections_in_child)


class _KeepsPgConnection:
    """Swaps a dagster-postgres storage's engine (NullPool: a new connection every time) for one that
    keeps a connection, as dagster-postgres does for its webserver, without a statement timeout."""

    _engine: Engine

    def _keep_connection(self) -> None:
        kwargs: dict[str, Any] = {"isolation_level": "AUTOCOMMIT", "pool_size": 1, "max_overflow": 4,
                                  "pool_recycle": PG_RECYCLE_SECONDS, "pool_pre_ping": True}
        options = self._engine.url.query.get("options")
        if options:
            kwargs["connect_args"] = {"options": options}
        previous = self._engine
        self._engine = create_pg_engine(self.postgres_url, self._token_provider, **kwargs)  # type: ignore[attr-defined]
        _KEPT_PG_ENGINES.add(self._engine)
        previous.dispose()

    def dispose(self) -> None:
        super().dispose()  # type: ignore[misc]
        self._engine.dispose()


class PooledPostgresRunStorage(_KeepsPgConnection, PostgresRunStorage):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._keep_connection()


class PooledPostgresEventLogStorage(_KeepsPgConnection, PostgresEventLogStorage):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._keep_connection()


class PooledPostgresStorage(DagsterPostgresStorage):
    """dagster-postgres' storage whose run and event log storages keep a connection per process
    (its schedule storage, used by the daemon's ticks, is dagster-postgres' own)."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: ConfigurableClassData | None = None, token_provider: Any = None):
        # as DagsterPostgresStorage.__init__, with the pooled run and event log storages
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        self._run_storage = PooledPostgresRunStorage(postgres_url, should_autocreate_tables, token_provider=token_provider)
        self._event_log_storage = PooledPostgresEventLogStorage(postgres_url, should_autocreate_tables, token_provider=token_provider)
        self._schedule_storage = PostgresScheduleStorage(postgres_url, should_autocreate_tables, token_provider=token_provider)
        DagsterStorage.__init__(self)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]) -> PooledPostgresStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
