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

from funnel_assets.lib.settings import PROJECT_ROOT, load_settings
from funnel_assets.lib.warehouse import Warehouse
from funnel_assets.lib.zoom_inbox import ZoomFolders, read_log

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
MAX_DAYS_PER_RUN = 31


def _job(name: str) -> dg.JobDefinition:
    from funnel_assets.definitions import defs

    return defs().resolve_job_def(name)


def nightly_funnel_job() -> dg.JobDefinition:
    """The production job (module-level, so Dagster can reconstruct it in a run)."""
    return _job("nightly_funnel_job")


def synthetic_world_job() -> dg.JobDefinition:
    """The demo's world generator."""
    return _job("synthetic_world_job")


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


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
"""The console shows warnings only; every event is still stored in the instance (UI → Runs)."""


def _run(job, instance, label: str, *, tags: dict | None = None, run_config: dict | None = None, assets: list[str] | None = None,
         failed_checks: list[str]) -> bool:
    began = time.perf_counter()
    config = {**QUIET, **(run_config or {})}
    selection = [dg.AssetKey(a) for a in assets] if assets else None
    with dg.execute_job(job, instance=instance, tags={**(tags or {}), "source": "demo"}, run_config=config,
                        asset_selection=selection, raise_on_error=False) as result:
        ok, run_id = result.success, result.run_id
        for evaluation in result.get_asset_check_evaluations():
            if not evaluation.passed:
                failed_checks.append(f"{evaluation.asset_key.to_user_string()}.{evaluation.check_name} ({label}, {evaluation.severity.value})")
    print(f"==> {label}: {'ok' if ok else 'FAILED'} in {time.perf_counter() - began:.1f} s (run {run_id[:8]})", flush=True)
    if not ok:
        print(f"    see the run's logs: ./run ui, then Runs → {run_id}", file=sys.stderr)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=90, help="how many days up to yesterday to simulate and load (default 90)")
    parser.add_argument("--saas-scale", type=float, default=0.02, help="SaaS volume; 1.0 = 75K web sessions a day (default 0.02)")
    parser.add_argument("--edtech-scale", type=float, default=1.0, help="ed-tech volume; 1.0 = ~300 sheet leads a day (default 1.0)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    settings = load_settings()
    _require("DAGSTER_HOME")
    for name in ("FUNNEL_LEADS_SHEET", "FUNNEL_ZOOM_INBOX", "FUNNEL_CRM_ASSIGNED_LEADS", "FUNNEL_CRM_SALES", "FUNNEL_SPEND_SHEET"):
        if "://" in _require(name):
            raise SystemExit(f"{name} points at {os.environ[name]}; the demo writes its own files. Run it without that setting.")
    end = settings.yesterday() + timedelta(days=1)
    start = max(end - timedelta(days=args.days), settings.start_date)
    world = {"resources": {"synthetic_world": {"config": {
        "seed": args.seed, "saas_scale": args.saas_scale, "edtech_scale": args.edtech_scale, "world_start": start.isoformat(),
    }}}}
    print(f"==> simulating {start} .. {end - timedelta(days=1)} ({settings.timezone}); seed {args.seed}")

    instance = dg.DagsterInstance.get()
    failed: list[str] = []
    world_job, funnel_job = dg.reconstructable(synthetic_world_job), dg.reconstructable(nightly_funnel_job)
    if not _run(world_job, instance, "synthetic world: sheet, CRM dumps, spend, Stripe catalog", run_config=world,
                assets=["edtech_source_exports", "stripe_products", "stripe_plans"], failed_checks=failed):
        return 1
    for first, last in date_chunks(start, end):
        tags = {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}
        if not _run(world_job, instance, f"synthetic world {first} .. {last}: Zoom downloads, SaaS systems", tags=tags, run_config=world,
                    assets=["zoom_report_downloads", "web_events", "ad_campaigns", "crm_leads", "crm_activities", "crm_deals", "subscriptions"],
                    failed_checks=failed):
            return 1
    _pick_up_zoom_downloads(instance)
    for first, last in date_chunks(start, end):
        tags = {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}
        if not _run(funnel_job, instance, f"nightly_funnel_job {first} .. {last}", tags=tags, failed_checks=failed):
            return 1

    _summary(Warehouse(_require("FUNNEL_WAREHOUSE_URL"), root=PROJECT_ROOT), Path(_path(os.environ["FUNNEL_ZOOM_INBOX"])), failed)
    print(
        "\nOpen the UI on these runs: ./run ui  then http://127.0.0.1:3000\n"
        "  Assets → funnel_daily, attributed_leads, sales_enriched (group marts): row counts, schema, check results\n"
        "  Assets → marketing_leads, zoom_sessions: partitions, row counts, schema and check results\n"
        "  Assets → synthetic group: the simulated sources and the seeds' validation checks\n"
        "  Runs: one run per month of days, with their logs"
    )
    return 0


def _pick_up_zoom_downloads(instance: dg.DagsterInstance) -> None:
    """What the running sensor does in production: two ticks (a file is read once it has not changed
    since the previous tick), filing every report under its session day. The days' runs follow."""
    from funnel_assets.defs.zoom.sensors import tick_like_the_daemon

    began = time.perf_counter()
    requested = len(tick_like_the_daemon(instance))
    print(f"==> zoom_drop_folder_sensor: filed the Zoom downloads ({requested} day range(s) to run) in {time.perf_counter() - began:.1f} s", flush=True)


def _path(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else PROJECT_ROOT / path


def _summary(warehouse: Warehouse, zoom_inbox: Path, failed_checks: list[str]) -> None:
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
    saas = {t: warehouse.row_count(t) for t in ("web_events", "crm_leads", "crm_deals", "subscriptions")}
    print("  synthetic SaaS world: " + ", ".join(f"{t} {n}" for t, n in saas.items()))
    if warehouse.has_table("zoom_sessions"):
        zoom = warehouse.read_table("zoom_sessions")
        print(f"  zoom_sessions: {zoom.height} people rows in {zoom['session_key'].n_unique()} sessions; "
              f"{zoom.filter(pl.col('registered')).height} registrations, {zoom.filter(pl.col('attended').fill_null(False)).height} attendances")
    log = read_log(ZoomFolders(zoom_inbox))
    if log.height:
        print(f"  Zoom drop folder {zoom_inbox} (see zoom_file_log.csv there):")
        for outcome, n in log.group_by("outcome").len().sort("outcome").rows():
            print(f"    {n:6d}  {outcome}")
    marts = [t for t in ("crm_assigned_leads", "crm_sales", "ad_spend", "touchpoints", "people") if warehouse.has_table(t)]
    if marts:
        print("  " + ", ".join(f"{t} {warehouse.row_count(t)}" for t in marts))
    if warehouse.has_table("attributed_leads"):
        attributed = warehouse.read_table("attributed_leads", columns=["month", "final_funnel", "attended"])
        print("  attributed_leads (assigned leads per month, first touch; see data/exports/attributed_leads.csv):")
        for month, n, attended in attributed.group_by("month").agg(pl.len(), pl.col("attended").sum()).sort("month").rows():
            print(f"    {month:%Y-%m}  {n:6d} leads, {attended} attended a session")
    if warehouse.has_table("sales_enriched"):
        sales = warehouse.read_table("sales_enriched", columns=["final_funnel", "net_amount", "status"])
        print(f"  sales_enriched: {sales.height} sales, net {sales.filter(pl.col('status') != 'refunded')['net_amount'].sum():,.0f} by FINAL FUNNEL:")
        for funnel, n in sales.group_by("final_funnel").len().sort("len", descending=True).rows():
            print(f"    {n:6d}  {funnel}")
    if warehouse.has_table("funnel_daily"):
        daily = warehouse.read_table("funnel_daily")
        totals = daily.select(pl.col(c).sum() for c in ("leads", "registrations", "attendees", "sales_handover", "conversions", "net_revenue", "spend"))
        t = totals.row(0, named=True)
        print(f"  funnel_daily: {daily.height} rows (day x funnel x program); totals: {t['leads']} leads, {t['registrations']} registrations, "
              f"{t['attendees']} attendees, {t['sales_handover']} handed over, {t['conversions']} sales, net revenue {t['net_revenue']:,.0f}, "
              f"spend {t['spend']:,.0f}" + (f", ROAS {t['net_revenue'] / t['spend']:.2f}" if t["spend"] else ""))
        print(f"  CSV exports for spreadsheets: {_path(os.environ.get('FUNNEL_EXPORTS_DIR', 'data/exports'))}")
    if failed_checks:
        print(f"  checks that did not pass ({len(failed_checks)}):")
        for line in failed_checks[:12]:
            print(f"    {line}")
    else:
        print("  every check passed")


if __name__ == "__main__":
    sys.exit(main())
