"""The SQLite Dagster instance's event log: Dagster's own, with its database connections kept.

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

The PostgreSQL instance's counterpart is in ``instance_storage_postgres.py`` (a module of its own:
importing dagster-postgres costs every process that opens the SQLite instance 0.3 s).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
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
        self._engines: OrderedDict[str, tuple[Engine, int]] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._engines_pid = os.getpid()
        self._tables_seen: set[str] = set()
        super().__init__(event_logs_directory(base_dir), inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]) -> PooledSqliteEventLogStorage:
        # the config schema is Dagster's ({base_dir}); here base_dir is the instance's home
        return cls(inst_data=inst_data, **config_value)

    # ---------------------------------------------------------------- connections

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # as Dagster's: one connection at a time per storage, under its lock; here it is the file's kept one
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
