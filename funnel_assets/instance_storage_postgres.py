"""The PostgreSQL Dagster instance's storage: dagster-postgres' own, with its connections kept.

dagster-postgres opens a new connection (TCP and authentication) for every event and every run
update, unless the process is the webserver. ``PooledPostgresStorage`` is its storage whose run and
event log storages keep one pooled connection each per process (checked before use, recycled
hourly, up to four more while threads overlap); a forked child opens its own. Same tables.
Configured in ``deploy/postgres/dagster.yaml``::

    storage:
      custom:
        module: funnel_assets.instance_storage_postgres
        class: PooledPostgresStorage
        config:
          postgres_url:
            env: DAGSTER_PG_URL
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from typing import Any

from dagster._core.storage.base_storage import DagsterStorage
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage, PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config
from sqlalchemy.engine import Engine

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
