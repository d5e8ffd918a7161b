"""The warehouse: one SQLAlchemy URL, idempotent writes of polars frames.

Every dataset the pipeline produces is a table here, so any BI tool can read every layer.
Two ways to write, both in a single transaction, so a crash or a kill mid-write leaves the
previous contents exactly as they were:

- ``replace_partitions``: a daily-partitioned dataset replaces exactly the rows of the
  partitions it was given (a date range on its partition column) and nothing else.
- ``replace_table``: a snapshot (a full dump) replaces the whole table.

Tables are created from the frame's schema; a column the frame has and the table lacks is
added. On PostgreSQL rows go in through ``COPY ... FROM STDIN`` (the bulk path); on SQLite
through one prepared ``executemany`` (SQLite's own bulk path: no network round trips).
Writers to the same table are serialised (an advisory lock on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite).
"""

from __future__ import annotations

import io
import json
import queue
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Sequence

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

COPY_CHUNK_ROWS = 100_000


class WarehouseError(Exception):
    """A write or read the warehouse refused, with what to do about it."""


@dataclass(frozen=True)
class WriteReport:
    """What one write did."""

    table: str
    rows_written: int
    rows_deleted: int
    method: str
    seconds: float
    added_columns: tuple[str, ...] = ()
    recreated: bool = False


def normalize_url(url: str, *, root: Path | None = None) -> str:
    """Make a user-supplied URL usable.

    - A bare ``postgresql://`` URL means psycopg 3 to SQLAlchemy 2.1, which this project does
      not install; it is pointed at psycopg2 (the driver dagster-postgres already brings).
    - A relative SQLite path is resolved against ``root`` (the project folder), so the same
      default works whatever the current directory is.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        db_path = Path(parsed.database)
        if not db_path.is_absolute() and root is not None:
            db_path = root / db_path
        db_path.parent.mkdir(parents=True, exist_ok=True)
        parsed = parsed.set(database=str(db_path))
    return parsed.render_as_string(hide_password=False)


def create_warehouse_engine(url: str) -> Engine:
    """An engine with the settings the write protocol relies on."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # pragma: no cover - trivial wiring
            # Let SQLAlchemy, not pysqlite, decide when a transaction starts, so that DDL is
            # transactional too (pysqlite would otherwise run CREATE/ALTER in autocommit).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - trivial wiring
            mode = "IMMEDIATE" if conn.get_execution_options().get("funnel_write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


# ----------------------------------------------------------------------------- types


def _sql_type(dtype: pl.DataType, column: str) -> sa.types.TypeEngine:
    if dtype.is_integer():
        return sa.BigInteger()
    if dtype.is_float():
        return sa.Double()
    if isinstance(dtype, pl.Decimal):
        return sa.Numeric(dtype.precision or 38, dtype.scale or 0)
    if dtype == pl.Boolean:
        return sa.Boolean()
    if dtype in (pl.String, pl.Categorical, pl.Null) or isinstance(dtype, (pl.Enum, pl.Categorical)):
        return sa.Text()
    if dtype == pl.Date:
        return sa.Date()
    if isinstance(dtype, pl.Datetime):
        return sa.DateTime(timezone=dtype.time_zone is not None)
    if dtype == pl.Time:
        return sa.Time()
    if isinstance(dtype, (pl.List, pl.Array, pl.Struct)):
        return sa.Text()  # stored as JSON text: readable from any BI tool and any database
    raise WarehouseError(
        f"column {column!r} has type {dtype}, which the warehouse cannot store; "
        "cast it to a string, number, date or timestamp before writing"
    )


def _category(sql_type: sa.types.TypeEngine) -> str:
    """A coarse family, for deciding whether new data fits an existing column."""
    if isinstance(sql_type, sa.Boolean):
        return "boolean"
    if isinstance(sql_type, sa.Integer):
        return "integer"
    if isinstance(sql_type, (sa.Float, sa.Numeric)):
        return "number"
    if isinstance(sql_type, sa.DateTime):
        return "timestamp"
    if isinstance(sql_type, sa.Date):
        return "date"
    if isinstance(sql_type, sa.Time):
        return "time"
    if isinstance(sql_type, (sa.String, sa.Text)):
        return "text"
    name = type(sql_type).__name__.upper()
    if "TIMESTAMP" in name:
        return "timestamp"
    return name.lower()


def _fits(existing: str, new: str) -> bool:
    return existing == new or (existing == "number" and new == "integer")


# ------------------------------------------------------------------------- the warehouse


class Warehouse:
    """Idempotent reads and writes of polars frames against one SQLAlchemy URL."""

    def __init__(self, url: str, *, root: Path | None = None, engine: Engine | None = None):
        self.url = normalize_url(url, root=root)
        self.engine = engine or create_warehouse_engine(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    # -- writes -------------------------------------------------------------------------

    def replace_partitions(
        self,
        table: str,
        frame: pl.DataFrame,
        *,
        partition_column: str,
        start: date,
        end: date,
        replace_undated: bool = False,
    ) -> WriteReport:
        """Replace exactly the rows whose ``partition_column`` is in ``[start, end)``.

        With ``replace_undated``, rows whose partition column is NULL are replaced as well
        (used for rejects that have no usable date: they belong to the latest read of the
        source, not to a day). Rows of ``frame`` outside the range are a bug and refused.
        """
        if partition_column not in frame.columns:
            raise WarehouseError(f"{table}: the frame has no partition column {partition_column!r}")
        frame = frame.with_columns(pl.col(partition_column).cast(pl.Date))
        outside = frame.filter(
            (pl.col(partition_column) < start) | (pl.col(partition_column) >= end)
            | (pl.col(partition_column).is_null() & (not replace_undated))
        )
        if outside.height:
            sample = outside[partition_column].head(3).to_list()
            raise WarehouseError(
                f"{table}: {outside.height} rows fall outside the partitions being written "
                f"[{start}, {end}) (e.g. {sample}); nothing was written"
            )
        started = time.perf_counter()
        with self._write_transaction(table) as conn:
            added, recreated = self._ensure_table(conn, table, frame, index_on=partition_column, may_recreate=False)
            q = self._q(conn)
            col = q(partition_column)
            clause = f"({col} >= :start AND {col} < :end)"
            if replace_undated:
                clause += f" OR {col} IS NULL"
            deleted = conn.execute(
                sa.text(f"DELETE FROM {q(table)} WHERE {clause}"), {"start": start, "end": end}
            ).rowcount
            method = self._insert(conn, table, frame)
        return WriteReport(table, frame.height, max(deleted, 0), method, time.perf_counter() - started, added, recreated)

    def replace_table(self, table: str, frame: pl.DataFrame) -> WriteReport:
        """Replace the whole table with ``frame``, atomically."""
        started = time.perf_counter()
        with self._write_transaction(table) as conn:
            added, recreated = self._ensure_table(conn, table, frame, index_on=None, may_recreate=True)
            q = self._q(conn)
            deleted = 0
            if not recreated:
                if self.dialect == "postgresql":
                    deleted = conn.execute(sa.text(f"SELECT count(*) FROM {q(table)}")).scalar_one()
                    conn.execute(sa.text(f"TRUNCATE {q(table)}"))
                else:
                    deleted = conn.execute(sa.text(f"DELETE FROM {q(table)}")).rowcount
            method = self._insert(conn, table, frame)
        return WriteReport(table, frame.height, max(deleted, 0), method, time.perf_counter() - started, added, recreated)

    # -- reads --------------------------------------------------------------------------

    def has_table(self, table: str) -> bool:
        with self.engine.connect() as conn:
            return sa.inspect(conn).has_table(table)

    def read_table(
        self,
        table: str,
        *,
        partition_column: str | None = None,
        start: date | None = None,
        end: date | None = None,
        order_by: Sequence[str] = (),
        columns: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """Read a table (optionally only ``[start, end)`` of its partition column, and only
        ``columns``) into polars."""
        with self.engine.connect() as conn:
            meta = sa.MetaData()
            try:
                tbl = sa.Table(table, meta, autoload_with=conn)
            except sa.exc.NoSuchTableError as exc:
                raise WarehouseError(f"table {table!r} does not exist in the warehouse yet: materialize its asset first") from exc
            if columns is not None:
                missing = [c for c in columns if c not in tbl.c]
                if missing:
                    raise WarehouseError(f"table {table!r} has no column(s) {', '.join(missing)}: materialize its asset again with this version")
            chosen = [tbl.c[c] for c in columns] if columns is not None else list(tbl.columns)
            stmt = sa.select(*chosen)
            if partition_column is not None:
                col = tbl.c[partition_column]
                if start is not None:
                    stmt = stmt.where(col >= start)
                if end is not None:
                    stmt = stmt.where(col < end)
            for name in order_by:
                stmt = stmt.order_by(tbl.c[name])
            result = conn.execute(stmt)
            rows = result.fetchall()
            columns = list(result.keys())
        # A table is always read back with its declared types: a column whose values are all
        # NULL in the rows read (a day without phones, say) is still text, not polars' Null type.
        schema = {c.name: _polars_type(c.type) for c in chosen}
        if not rows:
            return pl.DataFrame(schema=schema)
        frame = pl.DataFrame([tuple(r) for r in rows], schema=columns, orient="row", infer_schema_length=None)
        return frame.with_columns(
            [pl.col(name).cast(dtype) for name, dtype in schema.items() if dtype is not None and frame.schema[name] != dtype]
        )

    def table_columns(self, table: str) -> list[str]:
        """The table's column names (the table must exist)."""
        with self.engine.connect() as conn:
            return [c["name"] for c in sa.inspect(conn).get_columns(table)]

    def row_count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT count(*) FROM {self._q(conn)(table)}")).scalar_one()

    # -- internals ----------------------------------------------------------------------

    @staticmethod
    def _q(conn: Connection):
        return conn.dialect.identifier_preparer.quote

    def _write_transaction(self, table: str):
        engine = self.engine
        dialect = self.dialect

        class _Txn:
            def __enter__(self_inner) -> Connection:
                self_inner.conn = engine.connect().execution_options(funnel_write=True)
                self_inner.txn = self_inner.conn.begin()
                if dialect == "postgresql":
                    key = zlib.crc32(table.encode()) - 2**31
                    self_inner.conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                return self_inner.conn

            def __exit__(self_inner, exc_type, exc, tb):
                try:
                    if exc_type is None:
                        self_inner.txn.commit()
                    else:
                        self_inner.txn.rollback()
                finally:
                    self_inner.conn.close()
                return False

        return _Txn()

    def _ensure_table(
        self, conn: Connection, table: str, frame: pl.DataFrame, *, index_on: str | None, may_recreate: bool
    ) -> tuple[tuple[str, ...], bool]:
        """Create the table from the frame's schema, or add the columns it lacks."""
        wanted = {name: _sql_type(dtype, name) for name, dtype in frame.schema.items()}
        inspector = sa.inspect(conn)
        q = self._q(conn)
        if not inspector.has_table(table):
            self._create(conn, table, wanted, index_on)
            return (), False
        existing = {c["name"]: c["type"] for c in inspector.get_columns(table)}
        conflicts = [
            (name, _category(existing[name]), _category(sql_type))
            for name, sql_type in wanted.items()
            if name in existing
            and frame.schema[name] != pl.Null
            and not _fits(_category(existing[name]), _category(sql_type))
        ]
        if conflicts:
            if may_recreate:
                conn.execute(sa.text(f"DROP TABLE {q(table)}"))
                self._create(conn, table, wanted, index_on)
                return (), True
            described = ", ".join(f"{n} (table: {old}, new data: {new})" for n, old, new in conflicts)
            raise WarehouseError(
                f"{table}: column types changed: {described}. Nothing was written. Rename or drop "
                f"the old column (or the table, then rematerialize all partitions) and run again."
            )
        added = []
        for name, sql_type in wanted.items():
            if name not in existing:
                type_sql = sql_type.compile(dialect=conn.dialect)
                conn.execute(sa.text(f"ALTER TABLE {q(table)} ADD COLUMN {q(name)} {type_sql}"))
                added.append(name)
        return tuple(added), False

    @staticmethod
    def _create(conn: Connection, table: str, wanted: dict, index_on: str | None) -> None:
        meta = sa.MetaData()
        tbl = sa.Table(table, meta, *[sa.Column(name, sql_type) for name, sql_type in wanted.items()])
        if index_on is not None:
            sa.Index(f"ix_{table}_{index_on}"[:63], tbl.c[index_on])
        meta.create_all(conn)

    def _insert(self, conn: Connection, table: str, frame: pl.DataFrame) -> str:
        if frame.height == 0:
            return "none"
        frame = _flatten_nested(frame)
        if self.dialect == "postgresql":
            _copy_into_postgres(conn, table, frame)
            return "COPY"
        q = self._q(conn)
        cols = ", ".join(q(c) for c in frame.columns)
        marks = ", ".join("?" for _ in frame.columns)
        sql = f"INSERT INTO {q(table)} ({cols}) VALUES ({marks})"
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            for chunk in frame.iter_slices(COPY_CHUNK_ROWS):
                cursor.executemany(sql, _sqlite_ready(chunk).rows())
        finally:
            cursor.close()
        return "executemany"


def _flatten_nested(frame: pl.DataFrame) -> pl.DataFrame:
    nested = [n for n, t in frame.schema.items() if isinstance(t, (pl.List, pl.Array, pl.Struct))]
    if not nested:
        return frame
    return frame.with_columns(
        [
            pl.Series(n, [None if v is None else json.dumps(v, default=str) for v in frame[n].to_list()], dtype=pl.String)
            for n in nested
        ]
    )


def _sqlite_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Values in the text forms SQLAlchemy's SQLite types read back."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype == pl.Date:
            exprs.append(col.dt.to_string("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime):
            if dtype.time_zone is not None:
                col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            exprs.append(col.dt.to_string("%Y-%m-%d %H:%M:%S.%6f"))
        elif dtype == pl.Time:
            exprs.append(col.dt.to_string("%H:%M:%S.%6f"))
        elif isinstance(dtype, pl.Decimal):
            exprs.append(col.cast(pl.Float64))
        elif dtype == pl.Boolean:
            exprs.append(col.cast(pl.Int8))
        elif isinstance(dtype, (pl.Categorical, pl.Enum)):
            exprs.append(col.cast(pl.String))
    return frame.with_columns(exprs) if exprs else frame


class _CsvStream(io.RawIOBase):
    """A file-like view of a frame as CSV for COPY.

    A background thread serialises the next slices (polars releases the GIL) while the
    database ingests the current one, so serialisation and loading overlap; at most a few
    slices are held in memory at once.
    """

    def __init__(self, frame: pl.DataFrame, *, ahead: int = 3):
        self._queue: queue.Queue = queue.Queue(maxsize=ahead)
        self._buf = b""
        self._pos = 0
        self._done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(frame,), daemon=True)
        self._thread.start()

    def _produce(self, frame: pl.DataFrame) -> None:
        try:
            for s in frame.iter_slices(COPY_CHUNK_ROWS):
                if self._stop.is_set():
                    return
                self._queue.put(s.write_csv(include_header=False).encode())
            self._queue.put(None)
        except BaseException as exc:  # handed to the reader, which raises it
            self._queue.put(exc)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        # Hand out at most what is left of the current chunk: each byte is copied once.
        while self._pos >= len(self._buf):
            if self._done:
                return b""
            item = self._queue.get()
            if item is None:
                self._done = True
            elif isinstance(item, BaseException):
                self._done = True
                raise item
            else:
                self._buf, self._pos = item, 0
        end = len(self._buf) if size is None or size < 0 else min(len(self._buf), self._pos + size)
        out = self._buf[self._pos:end] if (self._pos or end < len(self._buf)) else self._buf
        self._pos = end
        return out

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                self._thread.join(0.01)
        super().close()


def _copy_into_postgres(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    q = conn.dialect.identifier_preparer.quote
    cols = ", ".join(q(c) for c in frame.columns)
    sql = f"COPY {q(table)} ({cols}) FROM STDIN WITH (FORMAT csv)"
    frame = frame.with_columns(
        [pl.col(n).cast(pl.String) for n, t in frame.schema.items() if isinstance(t, (pl.Categorical, pl.Enum))]
    )
    dbapi_conn = conn.connection.dbapi_connection
    cursor = dbapi_conn.cursor()
    try:
        if hasattr(cursor, "copy_expert"):  # psycopg2
            stream = _CsvStream(frame)
            try:
                cursor.copy_expert(sql, stream, size=8 << 20)
            finally:
                stream.close()
        else:  # psycopg 3
            with cursor.copy(sql) as copy:
                for s in frame.iter_slices(COPY_CHUNK_ROWS):
                    copy.write(s.write_csv(include_header=False).encode())
    finally:
        cursor.close()


def _polars_type(sql_type: sa.types.TypeEngine):
    cat = _category(sql_type)
    return {
        "boolean": pl.Boolean,
        "integer": pl.Int64,
        "number": pl.Float64,
        "date": pl.Date,
        "text": pl.String,
    }.get(cat) or (
        pl.Datetime("us", "UTC") if cat == "timestamp" and getattr(sql_type, "timezone", False) else
        pl.Datetime("us") if cat == "timestamp" else None
    )
