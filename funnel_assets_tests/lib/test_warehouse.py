"""The warehouse write protocol, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from funnel_assets.lib import warehouse as wh
from funnel_assets.lib.warehouse import Warehouse, WarehouseError, normalize_url

D1, D2, D3, D4 = (date(2025, 3, d) for d in (1, 2, 3, 4))


def frame_for(days: list[date], per_day: int = 3, tag: str = "a") -> pl.DataFrame:
    rows = []
    for d in days:
        for i in range(per_day):
            rows.append(
                {
                    "day": d,
                    "lead_id": f"{tag}-{d.isoformat()}-{i}",
                    "name": f"Person {i}, \"quoted\"" if i == 0 else ("" if i == 1 else None),
                    "score": i * 1.5,
                    "count": i,
                    "ok": i % 2 == 0,
                    "at": datetime(d.year, d.month, d.day, 10, tzinfo=timezone.utc) + timedelta(minutes=i),
                }
            )
    return pl.DataFrame(rows, schema={"day": pl.Date, "lead_id": pl.String, "name": pl.String, "score": pl.Float64, "count": pl.Int64, "ok": pl.Boolean, "at": pl.Datetime("us", "UTC")})


def contents(w: Warehouse, table: str) -> pl.DataFrame:
    out = w.read_table(table, order_by=["lead_id"])
    if "at" in out.columns and out.schema["at"] == pl.Datetime("us"):  # SQLite keeps UTC, naive
        out = out.with_columns(pl.col("at").dt.replace_time_zone("UTC"))
    return out


def test_roundtrip_types_and_strings(warehouse_url):
    w = Warehouse(warehouse_url)
    df = frame_for([D1])
    w.replace_partitions("leads", df, partition_column="day", start=D1, end=D2)
    back = contents(w, "leads")
    assert back.select(df.columns).equals(df.sort("lead_id"))
    # an empty string and a NULL stay different
    assert back.filter(pl.col("name") == "").height == 1
    assert back["name"].null_count() == 1


def test_a_read_keeps_declared_types_when_every_value_read_is_null(warehouse_url):
    """A day whose rows all lack a value (a meeting-only Zoom day has no phones) reads back with
    the column's declared type, not polars' Null type: downstream code joins and validates on it."""
    w = Warehouse(warehouse_url)
    full = frame_for([D1])
    empty_day = frame_for([D2]).with_columns(
        [pl.lit(None, dtype=full.schema[c]).alias(c) for c in ("name", "score", "count", "ok", "at")]
    )
    w.replace_partitions("leads", pl.concat([full, empty_day]), partition_column="day", start=D1, end=D3)
    back = w.read_table("leads", partition_column="day", start=D2, end=D3)
    assert back.height == 3
    assert all(back[c].null_count() == 3 for c in ("name", "score", "count", "ok", "at"))
    assert back.schema["name"] == pl.String
    assert back.schema["score"] == pl.Float64
    assert back.schema["count"] == pl.Int64
    assert back.schema["ok"] == pl.Boolean
    assert isinstance(back.schema["at"], pl.Datetime)
    assert back.schema["day"] == pl.Date
    # and the same for a column chosen by name
    assert w.read_table("leads", partition_column="day", start=D2, end=D3, columns=["name"]).schema["name"] == pl.String


def test_partition_write_replaces_only_its_days_and_is_idempotent(warehouse_url):
    w = Warehouse(warehouse_url)
    w.replace_partitions("leads", frame_for([D1, D2, D3]), partition_column="day", start=D1, end=D4)
    new_d2 = frame_for([D2], per_day=5, tag="b")
    for _ in range(3):
        report = w.replace_partitions("leads", new_d2, partition_column="day", start=D2, end=D3)
        snapshot = contents(w, "leads")
        assert report.rows_written == 5
    assert snapshot.filter(pl.col("day") == D2)["lead_id"].to_list() == sorted(new_d2["lead_id"].to_list())
    assert snapshot.filter(pl.col("day") != D2).height == 6  # D1 and D3 untouched
    again = w.replace_partitions("leads", new_d2, partition_column="day", start=D2, end=D3)
    assert again.rows_deleted == 5
    assert contents(w, "leads").equals(snapshot)


def test_range_write_replaces_the_whole_range(warehouse_url):
    w = Warehouse(warehouse_url)
    w.replace_partitions("leads", frame_for([D1, D2, D3]), partition_column="day", start=D1, end=D4)
    # a range write whose new data has nothing on D2: D2's old rows must go too
    w.replace_partitions("leads", frame_for([D1, D3], tag="c"), partition_column="day", start=D1, end=D4)
    assert set(contents(w, "leads")["lead_id"].str.slice(0, 1).to_list()) == {"c"}
    assert contents(w, "leads").filter(pl.col("day") == D2).is_empty()


def test_rows_outside_the_partitions_are_refused_and_nothing_changes(warehouse_url):
    w = Warehouse(warehouse_url)
    w.replace_partitions("leads", frame_for([D1]), partition_column="day", start=D1, end=D2)
    before = contents(w, "leads")
    with pytest.raises(WarehouseError, match="outside the partitions"):
        w.replace_partitions("leads", frame_for([D1, D2], tag="x"), partition_column="day", start=D1, end=D2)
    assert contents(w, "leads").equals(before)


def test_undated_rows_are_replaced_as_a_group(warehouse_url):
    w = Warehouse(warehouse_url)
    undated = frame_for([D1]).with_columns(pl.lit(None, pl.Date).alias("day"))
    w.replace_partitions("rejects", pl.concat([frame_for([D1]), undated.head(2)]), partition_column="day", start=D1, end=D2, replace_undated=True)
    w.replace_partitions("rejects", undated.head(1), partition_column="day", start=D2, end=D3, replace_undated=True)
    back = contents(w, "rejects")
    assert back.filter(pl.col("day").is_null()).height == 1
    assert back.filter(pl.col("day") == D1).height == 3


def test_new_column_is_added_not_failed(warehouse_url):
    w = Warehouse(warehouse_url)
    w.replace_partitions("leads", frame_for([D1]), partition_column="day", start=D1, end=D2)
    wider = frame_for([D2]).with_columns(pl.lit("web").alias("channel"))
    report = w.replace_partitions("leads", wider, partition_column="day", start=D2, end=D3)
    assert report.added_columns == ("channel",)
    back = contents(w, "leads")
    assert back.filter(pl.col("day") == D1)["channel"].null_count() == 3
    assert back.filter(pl.col("day") == D2)["channel"].to_list() == ["web"] * 3


def test_changed_column_type_is_a_clear_error_for_partitions(warehouse_url):
    w = Warehouse(warehouse_url)
    w.replace_partitions("leads", frame_for([D1]), partition_column="day", start=D1, end=D2)
    before = contents(w, "leads")
    retyped = frame_for([D1]).with_columns(pl.col("count").cast(pl.String) + "x")
    with pytest.raises(WarehouseError, match="count"):
        w.replace_partitions("leads", retyped, partition_column="day", start=D1, end=D2)
    assert contents(w, "leads").equals(before)


def test_snapshot_replaces_atomically_and_follows_the_new_schema(warehouse_url):
    w = Warehouse(warehouse_url)
    w.replace_table("crm_dump", frame_for([D1, D2]))
    w.replace_table("crm_dump", frame_for([D3], tag="z"))
    assert contents(w, "crm_dump")["lead_id"].str.slice(0, 1).unique().to_list() == ["z"]
    retyped = frame_for([D3]).with_columns(pl.col("count").cast(pl.String))
    report = w.replace_table("crm_dump", retyped)
    assert report.recreated
    assert w.read_table("crm_dump").schema["count"] == pl.String


def test_a_failing_write_leaves_previous_contents(warehouse_url, monkeypatch):
    w = Warehouse(warehouse_url)
    w.replace_partitions("leads", frame_for([D1, D2]), partition_column="day", start=D1, end=D3)
    w.replace_table("snap", frame_for([D1]))
    before, before_snap = contents(w, "leads"), contents(w, "snap")

    def explode(*_a, **_k):
        raise RuntimeError("connection lost mid-write")

    monkeypatch.setattr(w, "_insert", explode)
    with pytest.raises(RuntimeError):
        w.replace_partitions("leads", frame_for([D1], tag="n").with_columns(pl.lit(1).alias("newcol")), partition_column="day", start=D1, end=D2)
    with pytest.raises(RuntimeError):
        w.replace_table("snap", frame_for([D2], tag="n"))
    monkeypatch.undo()
    assert contents(w, "leads").equals(before)  # rows and schema (no newcol) unchanged
    assert contents(w, "snap").equals(before_snap)


def test_postgres_uses_copy_not_row_inserts(postgres_url):
    w = Warehouse(postgres_url)
    statements: list[str] = []
    sa.event.listen(w.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    report = w.replace_partitions("leads", frame_for([D1, D2], per_day=500), partition_column="day", start=D1, end=D3)
    assert report.method == "COPY" and report.rows_written == 1000
    assert not [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert w.row_count("leads") == 1000


def test_normalize_url():
    assert normalize_url("postgresql://u@h/db").startswith("postgresql+psycopg2://")
    assert normalize_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    root = Path("/tmp/funnel-root-test")
    assert normalize_url("sqlite:///data/w.sqlite", root=root) == f"sqlite:///{root}/data/w.sqlite"


def test_unsupported_type_names_the_column(tmp_path):
    w = Warehouse(f"sqlite:///{tmp_path / 'w.sqlite'}")
    with pytest.raises(WarehouseError, match="'blob'"):
        w.replace_table("t", pl.DataFrame({"blob": [b"x"]}))


# ------------------------------------------------------------------------- a real kill

KILL_CHILD = textwrap.dedent(
    """
    import sys, datetime as dt, polars as pl
    from funnel_assets.lib.warehouse import Warehouse
    url, rows = sys.argv[1], int(sys.argv[2])
    day = dt.date(2025, 3, 1)
    frame = pl.DataFrame({
        "day": [day] * rows,
        "lead_id": pl.int_range(rows, eager=True).cast(pl.String),
        "payload": pl.Series(["x" * 200] * rows),
    })
    w = Warehouse(url)
    print("writing", flush=True)
    w.replace_partitions("big", frame, partition_column="day", start=day, end=day + dt.timedelta(days=1))
    print("done", flush=True)
    """
)


def _wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.timeout(180)
def test_a_write_killed_midway_leaves_previous_contents(warehouse_url, tmp_path):
    """SIGKILL the writing process while its transaction is under way; nothing changes."""
    is_pg = warehouse_url.startswith("postgresql")
    if is_pg:
        warehouse_url = sa.engine.make_url(warehouse_url).update_query_dict({"application_name": "funnel_kill_test"}).render_as_string(hide_password=False)
    w = Warehouse(warehouse_url)
    day = date(2025, 3, 1)
    old = pl.DataFrame({"day": [day] * 1000, "lead_id": [f"old-{i}" for i in range(1000)], "payload": ["old"] * 1000})
    w.replace_partitions("big", old, partition_column="day", start=day, end=day + timedelta(days=1))
    w.replace_partitions("big", old.with_columns(pl.lit(D2).alias("day"), ("d2-" + pl.col("lead_id")).alias("lead_id")), partition_column="day", start=D2, end=D3)
    before = w.read_table("big", order_by=["lead_id"])

    if is_pg:
        probe = sa.create_engine(warehouse_url)

        def mid_write() -> bool:
            with probe.connect() as conn:
                return bool(conn.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'funnel_kill_test' "
                    "AND state = 'active' AND query ILIKE 'COPY%'"
                )).scalar())
    else:
        wal = Path(sa.engine.make_url(warehouse_url).database + "-wal")
        base = wal.stat().st_size if wal.exists() else 0

        def mid_write() -> bool:
            return wal.exists() and wal.stat().st_size > base + 8 * 1024 * 1024

    child = subprocess.Popen(
        [sys.executable, "-c", KILL_CHILD, warehouse_url, "3000000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )
    try:
        assert child.stdout.readline().strip() == "writing", child.stderr.read()
        assert _wait_until(mid_write, 120), "the child never got mid-write"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL  # killed, not finished
    if is_pg:
        assert _wait_until(lambda: not mid_write(), 60)
        probe.dispose()
    after = Warehouse(warehouse_url).read_table("big", order_by=["lead_id"])
    assert after.equals(before)
