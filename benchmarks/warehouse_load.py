"""Loading 1M rows into PostgreSQL: our bulk path vs row-by-row INSERTs vs psql's \\copy.

- ours: ``Warehouse.replace_partitions`` from a polars frame (CSV serialisation + COPY, in
  one transaction, including the delete of the partitions' old rows and the index).
- row-by-row: psycopg2 ``cursor.executemany`` of one parameterised INSERT per row, the
  approach of seed 004's ``ingest_event``.
- psql \\copy: the same rows, already written as a CSV file, loaded by ``psql`` (the
  practical limit: no serialisation cost, the server's COPY speed).

Database: ``FUNNEL_BENCH_POSTGRES_URL`` (default the local server), in a throw-away database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import sqlalchemy as sa

from benchmarks.report import Figure, Goal, Results
from funnel_assets.lib.warehouse import Warehouse

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
START = date(2025, 1, 1)
DAYS = 90


def leads_frame(rows: int, seed: int = 1) -> pl.DataFrame:
    """Rows shaped like marketing_leads (strings, a date, a timestamp, numbers, booleans)."""
    rng = np.random.default_rng(seed)
    day_offsets = rng.integers(0, DAYS, rows)
    ids = np.arange(rows)
    return pl.DataFrame({"lead_id": pl.Series(ids).cast(pl.String).str.zfill(12)}).with_columns(
        created_date=pl.lit(START) + pl.duration(days=pl.Series(day_offsets)),
        created_at=(pl.lit(START).cast(pl.Datetime("us")) + pl.duration(days=pl.Series(day_offsets), seconds=pl.Series(rng.integers(0, 86400, rows)))).dt.replace_time_zone("UTC"),
        name=pl.Series(rng.choice(["Priya Sharma", "Rahul Verma", "Ananya Iyer", "Vikram Singh", "Sneha Reddy"], rows)),
        email=pl.format("user{}@gmail.com", pl.Series(ids)),
        phone_key=pl.format("91{}", pl.Series(9_000_000_000 + ids)),
        city=pl.Series(rng.choice(["Mumbai", "Delhi", "Bengaluru", "Pune", "Chennai"], rows)),
        utm_source=pl.Series(rng.choice(["facebook", "google", "instagram"], rows)),
        utm_campaign=pl.Series(rng.choice(["acca_webinar_meta", "cma_bootcamp_meta", "cfa_webinar_linkedin"], rows)),
        funnel=pl.Series(rng.choice(["ACCA Webinar", "CMA Bootcamp", "CFA Webinar"], rows)),
        is_duplicate=pl.Series(rng.random(rows) < 0.03),
        score=pl.Series(rng.random(rows)),
    )


def run(args) -> Results:
    rows = args.rows
    server = os.environ.get("FUNNEL_BENCH_POSTGRES_URL", DEFAULT_URL)
    db_name = f"funnel_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{db_name}"')
    url = sa.engine.make_url(server).set(database=db_name)
    results = Results()
    workdir = Path(tempfile.mkdtemp(prefix="funnel-bench-"))
    try:
        frame = leads_frame(rows)
        end = START + timedelta(days=DAYS)
        w = Warehouse(url.render_as_string(hide_password=False))

        # ours (first load creates the table; the timed load replaces all 90 partitions)
        w.replace_partitions("leads_ours", frame.head(1000), partition_column="created_date", start=START, end=end)
        t = time.perf_counter()
        w.replace_partitions("leads_ours", frame, partition_column="created_date", start=START, end=end)
        ours = time.perf_counter() - t
        results.figures.append(Figure("ours: replace_partitions (COPY)", ours, rows))

        # the same empty table shape for the other two
        with w.engine.begin() as conn:
            for name in ("leads_rows", "leads_psql"):
                conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE leads_ours INCLUDING ALL)")
        cols = ", ".join(frame.columns)

        # row-by-row executemany
        raw = w.engine.raw_connection()
        try:
            cur = raw.cursor()
            marks = ", ".join(["%s"] * len(frame.columns))
            data = frame.rows()
            t = time.perf_counter()
            cur.executemany(f"INSERT INTO leads_rows ({cols}) VALUES ({marks})", data)
            raw.commit()
            by_row = time.perf_counter() - t
        finally:
            raw.close()
        results.figures.append(Figure("row-by-row executemany INSERT", by_row, rows))

        # psql \copy of the same rows as a CSV file
        csv_path = workdir / "leads.csv"
        frame.write_csv(csv_path, include_header=False)
        psql = shutil.which("psql")
        if psql:
            u = url
            env = {**os.environ, "PGPASSWORD": u.password or ""}
            t = time.perf_counter()
            subprocess.run(
                [psql, "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres", "-d", db_name, "-q",
                 "-v", "ON_ERROR_STOP=1", "-c", f"\\copy leads_psql ({cols}) FROM '{csv_path}' WITH (FORMAT csv)"],
                check=True, env=env,
            )
            raw_copy = time.perf_counter() - t
            results.figures.append(Figure("psql \\copy of a ready CSV file", raw_copy, rows))
            results.goals.append(Goal("ours / psql \\copy speed", raw_copy / ours, 0.7))
        else:
            results.notes.append("psql not found: the raw-copy comparison was skipped (apt-get install postgresql-client)")
        results.goals.append(Goal("ours / row-by-row speed", by_row / ours, 10.0))
        with w.engine.connect() as conn:
            counts = {n: conn.exec_driver_sql(f"SELECT count(*) FROM {n}").scalar() for n in ("leads_ours", "leads_rows", "leads_psql")}
        results.notes.append(f"rows loaded: {counts}")
        w.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.dispose()
    return results
