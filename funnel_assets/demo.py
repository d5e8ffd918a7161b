"""The demo: generate realistic source files, run the pipeline on them, show what came out.

Run it with ``./run demo`` (which sets up the environment, ``.env`` and ``DAGSTER_HOME``).
Every run goes through the persistent Dagster instance, so afterwards ``./run ui`` shows the
runs, the materializations of every partition and the check results.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from funnel_assets.lib.demo_leads import generate_leads_sheet
from funnel_assets.lib.settings import PROJECT_ROOT, load_settings
from funnel_assets.lib.warehouse import Warehouse

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
MAX_DAYS_PER_RUN = 31


def daily_funnel_job() -> dg.JobDefinition:
    """The job the demo launches (module-level, so Dagster can reconstruct it in a run)."""
    from funnel_assets.definitions import defs

    return defs().get_job_def("daily_funnel_job")


def date_chunks(start: date, end: date, size: int = MAX_DAYS_PER_RUN) -> list[tuple[date, date]]:
    """Inclusive (first, last) day pairs covering [start, end) in runs of at most ``size`` days."""
    chunks = []
    day = start
    while day < end:
        last = min(day + timedelta(days=size), end) - timedelta(days=1)
        chunks.append((day, last))
        day = last + timedelta(days=1)
    return chunks


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set: start the demo with ./run demo, which sets it up")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=60, help="how many days up to yesterday to generate and load (default 60)")
    parser.add_argument("--leads-per-day", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    settings = load_settings()
    _require("DAGSTER_HOME")
    sheet_location = _require("FUNNEL_LEADS_SHEET")
    if "://" in sheet_location:
        raise SystemExit(f"FUNNEL_LEADS_SHEET points at {sheet_location}; the demo writes its own file. Run it without that setting.")
    end = settings.yesterday() + timedelta(days=1)
    start = max(end - timedelta(days=args.days), settings.start_date)

    sheet_path = Path(sheet_location)
    sheet_path = sheet_path if sheet_path.is_absolute() else PROJECT_ROOT / sheet_path
    sheet_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"==> generating the leads sheet for {start} .. {end - timedelta(days=1)} ({settings.timezone})")
    sheet_path.write_text(generate_leads_sheet(start, end, seed=args.seed, leads_per_day=args.leads_per_day, timezone=settings.timezone), encoding="utf-8")
    print(f"    {sheet_path}")

    instance = dg.DagsterInstance.get()
    job = dg.reconstructable(daily_funnel_job)
    failed_checks: list[str] = []
    for first, last in date_chunks(start, end):
        began = time.perf_counter()
        tags = {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat(), "source": "demo"}
        # the console shows warnings only; every event is still stored in the instance (UI → Runs)
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        with dg.execute_job(job, instance=instance, tags=tags, run_config=quiet, raise_on_error=False) as result:
            status = "ok" if result.success else "FAILED"
            run_id = result.run_id
            for evaluation in result.get_asset_check_evaluations():
                if not evaluation.passed:
                    failed_checks.append(f"{evaluation.asset_key.to_user_string()}.{evaluation.check_name} ({first}..{last}, {evaluation.severity.value})")
        print(f"==> daily_funnel_job {first} .. {last}: {status} in {time.perf_counter() - began:.1f} s (run {run_id[:8]})")
        if status != "ok":
            print(f"    see the run's logs: ./run ui, then Runs → {run_id}", file=sys.stderr)
            return 1

    _summary(Warehouse(_require("FUNNEL_WAREHOUSE_URL"), root=PROJECT_ROOT), failed_checks)
    print(
        "\nOpen the UI on these runs: ./run ui  then http://127.0.0.1:3000\n"
        "  Assets → marketing_leads: partitions, row counts, schema and check results\n"
        "  Runs: one run per month of days, with their logs"
    )
    return 0


def _summary(warehouse: Warehouse, failed_checks: list[str]) -> None:
    leads = warehouse.read_table("marketing_leads")
    rejects = warehouse.read_table("marketing_lead_rejects")
    print(f"\nWarehouse: {warehouse.engine.url.render_as_string(hide_password=True)}")
    print(f"  marketing_leads: {leads.height} rows over {leads['created_date'].n_unique()} days; "
          f"{leads.filter(pl.col('is_duplicate')).height} repeat submissions flagged")
    by_funnel = leads.group_by("funnel").len().sort("len", descending=True)
    for funnel, n in by_funnel.rows():
        print(f"    {n:6d}  {funnel}")
    print(f"  marketing_lead_rejects: {rejects.height} rows")
    for reason, n in rejects.group_by("reason_code").len().sort("len", descending=True).rows():
        print(f"    {n:6d}  {reason}")
    if failed_checks:
        print(f"  checks that did not pass ({len(failed_checks)}):")
        for line in failed_checks[:10]:
            print(f"    {line}")
    else:
        print("  every check passed")


if __name__ == "__main__":
    sys.exit(main())
