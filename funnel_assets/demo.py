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

from funnel_assets.lib.funnel_daily import is_refunded
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


DAEMON_HEARTBEAT_SECONDS = 75
"""A Dagster daemon writes a heartbeat every 30 s: one younger than this means it is running."""


def running_daemon(instance: dg.DagsterInstance, now: float | None = None) -> tuple[str, float] | None:
    """(daemon type, seconds since its heartbeat) of a Dagster daemon running on ``instance`` (the
    one ``./run ui`` starts), or None when none has sent a heartbeat in the last 75 s."""
    now = time.time() if now is None else now
    ages = {kind: now - beat.timestamp for kind, beat in instance.get_daemon_heartbeats().items()}
    recent = {kind: age for kind, age in ages.items() if age <= DAEMON_HEARTBEAT_SECONDS}
    return min(recent.items(), key=lambda item: item[1]) if recent else None


def refuse_while_the_ui_runs(instance: dg.DagsterInstance) -> None:
    """The demo files the Zoom drop folder itself, as the sensor would. A daemon on the same instance
    (``./run ui``) runs that sensor too: both would move the same files and run the same days. So
    the demo does not start (nor file the folder) while a daemon is running there."""
    daemon = running_daemon(instance)
    if daemon is not None:
        kind, age = daemon
        raise SystemExit(
            f"./run ui (its Dagster daemon) is running on this instance ({instance.root_directory}): its {kind.lower()} "
            f"daemon sent a heartbeat {age:.0f} s ago. Its zoom_drop_folder_sensor files the same Zoom folder the demo fills, "
            "so the demo does not run alongside it. Stop ./run ui (Ctrl-C in its terminal), run ./run demo, then start "
            f"./run ui again. (Just stopped it? A daemon's last heartbeat counts for {DAEMON_HEARTBEAT_SECONDS} s.)"
        )


START_DATE_MARK = "# set by ./run demo: FUNNEL_START_DATE={day}, its first simulated day (each demo run moves it; a date you write below is kept)"


def _is_mark(line: str) -> bool:
    prefix, _, suffix = START_DATE_MARK.partition("{day}")
    return line.startswith(prefix) and line.endswith(suffix)


def _dotenv_start_date(env_file: Path) -> tuple[str | None, bool]:
    """(FUNNEL_START_DATE's value in ``env_file`` or None, whether the demo wrote that value)."""
    lines = env_file.read_text(encoding="utf-8").splitlines() if env_file.exists() else []
    for i, line in enumerate(lines):
        if line.startswith("FUNNEL_START_DATE="):
            value = line.split("=", 1)[1].strip()
            return value, i > 0 and lines[i - 1] == START_DATE_MARK.format(day=value)
    return None, False


def write_dotenv_start_date(env_file: Path, day: date) -> None:
    """Set FUNNEL_START_DATE in ``env_file`` to ``day``, marked as the demo's; every other line stays."""
    lines = env_file.read_text(encoding="utf-8").splitlines() if env_file.exists() else []
    at = next((i for i, line in enumerate(lines) if line.startswith("FUNNEL_START_DATE=")), None)
    if at is None:
        at = len(lines)
    else:
        del lines[at]
        if at > 0 and _is_mark(lines[at - 1]):
            at -= 1
            del lines[at]
    lines[at:at] = [START_DATE_MARK.format(day=day.isoformat()), f"FUNNEL_START_DATE={day.isoformat()}"]
    temporary = env_file.with_name(env_file.name + ".demo-tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    temporary.replace(env_file)


def choose_start_date(settings, *, days: int, env_file: Path | None) -> tuple[date, str | None]:
    """The demo's first day, and what to tell the user about FUNNEL_START_DATE.

    The daily partitions start at FUNNEL_START_DATE: with the shipped default (empty) the UI would
    show every day since 2025-01-01 as a missing partition before the demo's data. So when the
    setting is empty, or was written by an earlier demo run, the demo sets it to its own first day:
    in this process (its runs) and in ``env_file`` (``.env``, which ``./run ui`` reads). A date the
    user wrote is kept: the demo then starts no earlier than it."""
    end = settings.yesterday() + timedelta(days=1)
    first = end - timedelta(days=days)
    configured = (os.environ.get("FUNNEL_START_DATE") or "").strip()
    in_file, written_by_demo = _dotenv_start_date(env_file) if env_file is not None else (None, False)
    if not configured or (written_by_demo and in_file == configured):
        os.environ["FUNNEL_START_DATE"] = first.isoformat()
        if env_file is None:
            return first, None
        write_dotenv_start_date(env_file, first)
        return first, f"FUNNEL_START_DATE={first} written to {env_file} (the demo's first day): ./run ui shows partitions from that day"
    start = max(first, settings.start_date)
    if settings.start_date < start:
        return start, (f"FUNNEL_START_DATE={settings.start_date} (your setting) is {(start - settings.start_date).days} days before the "
                       f"demo's first day: the UI shows those days as missing partitions. Empty it in .env to let the demo set it.")
    return start, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=90, help="how many days up to yesterday to simulate and load (default 90)")
    parser.add_argument("--saas-scale", type=float, default=0.02, help="SaaS volume; 1.0 = 75K web sessions a day (default 0.02)")
    parser.add_argument("--edtech-scale", type=float, default=1.0, help="ed-tech volume; 1.0 = ~300 sheet leads a day (default 1.0)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--env-file", type=Path, default=None,
                        help="the settings file ./run ui reads (./run demo passes .env): FUNNEL_START_DATE is set there to the demo's first day")
    args = parser.parse_args(argv)

    settings = load_settings()
    _require("DAGSTER_HOME")
    for name in ("FUNNEL_LEADS_SHEET", "FUNNEL_ZOOM_INBOX", "FUNNEL_CRM_ASSIGNED_LEADS", "FUNNEL_CRM_SALES", "FUNNEL_SPEND_SHEET"):
        if "://" in _require(name):
            raise SystemExit(f"{name} points at {os.environ[name]}; the demo writes its own files. Run it without that setting.")
    instance = dg.DagsterInstance.get()
    refuse_while_the_ui_runs(instance)
    end = settings.yesterday() + timedelta(days=1)
    start, note = choose_start_date(settings, days=args.days, env_file=args.env_file)
    world = {"resources": {"synthetic_world": {"config": {
        "seed": args.seed, "saas_scale": args.saas_scale, "edtech_scale": args.edtech_scale, "world_start": start.isoformat(),
    }}}}
    print(f"==> simulating {start} .. {end - timedelta(days=1)} ({settings.timezone}); seed {args.seed}")
    if note:
        print(f"==> {note}")

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
    refuse_while_the_ui_runs(instance)  # started meanwhile? its sensor would file the folder too
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


def sales_lines(warehouse: Warehouse) -> list[str]:
    """The summary's sales figures, each labelled with what it counts: sales with the refunded ones
    among them, and net revenue of the sales that were not refunded (the rule ``funnel_daily``
    applies: ``lib.funnel_daily.is_refunded``)."""
    lines = []
    if warehouse.has_table("sales_enriched"):
        sales = warehouse.read_table("sales_enriched", columns=["final_funnel", "net_amount", "status"]).with_columns(
            refunded=is_refunded(), net_amount=pl.col("net_amount").fill_null(0.0))
        by_funnel = sales.group_by("final_funnel").agg(
            sales=pl.len(), refunded=pl.col("refunded").sum(), net=pl.col("net_amount").filter(~pl.col("refunded")).sum(),
        ).sort("sales", "final_funnel", descending=[True, False])
        refunded = int(sales["refunded"].sum())
        net = sales.filter(~pl.col("refunded"))["net_amount"].sum()
        lines.append(f"  sales_enriched: {sales.height} sales ({refunded} refunded); net revenue {net:,.0f} from the "
                     f"{sales.height - refunded} not refunded; by FINAL FUNNEL (sales, refunded among them, net revenue):")
        lines += [f"    {n:6d} {r:4d} refunded {v:14,.0f}  {funnel}" for funnel, n, r, v in by_funnel.rows()]
    if warehouse.has_table("funnel_daily"):
        daily = warehouse.read_table("funnel_daily")
        t = daily.select(pl.col(c).sum() for c in (
            "leads", "registrations", "attendees", "sales_handover", "conversions", "refunds", "net_revenue", "spend")).row(0, named=True)
        lines.append(
            f"  funnel_daily: {daily.height} rows (day x funnel x program); totals: {t['leads']} leads, {t['registrations']} registrations, "
            f"{t['attendees']} attendees, {t['sales_handover']} handed over, {t['conversions'] + t['refunds']} sales ({t['refunds']} refunded), "
            f"net revenue {t['net_revenue']:,.0f} from the {t['conversions']} not refunded, spend {t['spend']:,.0f}"
            + (f", ROAS {t['net_revenue'] / t['spend']:.2f}" if t["spend"] else ""))
    return lines


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
    for line in sales_lines(warehouse):
        print(line)
    if warehouse.has_table("funnel_daily"):
        print(f"  CSV exports for spreadsheets: {_path(os.environ.get('FUNNEL_EXPORTS_DIR', 'data/exports'))}")
    if failed_checks:
        print(f"  checks that did not pass ({len(failed_checks)}):")
        for line in failed_checks[:12]:
            print(f"    {line}")
    else:
        print("  every check passed")


if __name__ == "__main__":
    sys.exit(main())
