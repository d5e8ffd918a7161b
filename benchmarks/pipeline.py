"""The whole pipeline through a real Dagster instance: a 90-day backfill and the nightly D-1 run.

World (not timed): ``--pipeline-days`` + 1 days of the ed-tech world at ``--pipeline-scale``
(1.0 = the generator's full scale), rendered the way the team's sources deliver them: the leads
sheet and the spend sheet covering the window, the CRM's full dumps as of the last day, and the
day's Zoom downloads dropped into the inbox and filed by two ticks of the drop-folder sensor.
Instance: a fresh SQLite instance (the project's ``dagster.yaml``: its event log storage and pools) whose run coordinator
and launcher are synchronous, so each run executes in this process as soon as it is submitted;
the warehouse is SQLite (``--pipeline-warehouse-url`` for Postgres).

- 90-day backfill, as the UI launches it (Assets → select the pipeline → Materialize → a date
  range → Launch backfill): an asset backfill (``PartitionBackfill.from_asset_partitions``, what
  the UI's GraphQL mutation creates) over every production asset, then the backfill daemon's
  iterations (``execute_backfill_iteration``) until it is done. The runs are the asset backfill's
  own (the implicit asset job, with the executor the definitions give it). Goal: <= 5 minutes.
- D-1, as the schedule launches it: the schedule's tick for the next day at 02:00 (team's time
  zone) gives the RunRequest for the last day; the run of ``nightly_funnel_job`` is created the
  way the scheduler daemon creates it (remote job, execution plan snapshot, schedule tags) and
  submitted to the instance. Wall time from creating the run to its end. Goal: <= 30 s.
- the same D-1 run in a run worker process of its own: in production Dagster's run launcher starts
  every run in a new process (the code server spawns it: Python, importing Dagster, loading the
  code location). Here the run is created the same way and executed by ``dagster api
  execute_run`` (the launcher's command) in a new process; wall time from creating the run to the
  process's exit.

Dagster's overhead = wall time - compute time, where compute time is the time spent inside the
asset bodies: every call into a step's compute generator is timed in-process (Dagster's
``_yield_compute_results`` is wrapped), so compute covers the asset's own code, its reads and
writes and its log calls, and excludes what Dagster does with what the body yields (outputs,
materialization and check events written to the event log), run and plan creation, resource
set-up and the step/run events. Goal: overhead < 1/3 of the D-1 run, reported for the in-process
run and for the run worker process (whose compute, out of the timer's sight, is taken to be the
in-process run's: the same partition and data).
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import logging
import os
import pstats
import shutil
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks.report import Figure, Goal, Results
from funnel_assets.lib.settings import PROJECT_ROOT

LAST_DAY = date(2025, 6, 30)
"""The D-1 day of the benchmark world (fixed, so every run generates the same files)."""

PATH_SETTINGS = {
    "FUNNEL_LEADS_SHEET": "leads_sheet.csv",
    "FUNNEL_ZOOM_INBOX": "inbox/zoom",
    "FUNNEL_CRM_ASSIGNED_LEADS": "crm/assigned_leads.csv",
    "FUNNEL_CRM_SALES": "crm/sales.csv",
    "FUNNEL_SPEND_SHEET": "spend_sheet.csv",
    "FUNNEL_EXPORTS_DIR": "exports",
}


# --------------------------------------------------------------------------- the world


def pipeline_environment(root: Path, warehouse_url: str | None = None) -> dict[str, str]:
    """The demo's settings (deploy/defaults.env) with every path inside ``root``."""
    env = {}
    for line in (PROJECT_ROOT / "deploy" / "defaults.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            env[name.strip()] = value.strip()
    env.pop("DAGSTER_PG_URL", None)
    env.update({name: str(root / rel) for name, rel in PATH_SETTINGS.items()})
    env["FUNNEL_CONFIG_DIR"] = str(PROJECT_ROOT / "data" / "config")
    env["FUNNEL_WAREHOUSE_URL"] = warehouse_url or f"sqlite:///{root / 'warehouse.sqlite'}"
    return env


@contextlib.contextmanager
def environment(env: dict[str, str]):
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def generate_world(root: Path, first_day: date, days: int, *, scale: float, seed: int = 7, timezone: str) -> dict[str, int]:
    """``days`` days of the ed-tech world from ``first_day``: Zoom downloads in the inbox, the
    sheets covering the window and the CRM dumps as of the last day (paths as in PATH_SETTINGS)."""
    from funnel_assets.lib.synthetic import edtech
    from funnel_assets.lib.synthetic.files import save_zoom_files, write_edtech_exports

    config = edtech.load_edtech_config(PROJECT_ROOT / "data" / "config" / "synthetic")
    end = first_day + timedelta(days=days)
    inbox = root / PATH_SETTINGS["FUNNEL_ZOOM_INBOX"]
    zoom_files = 0
    for i in range(days):
        simulated = edtech.simulate_edtech_day(config, seed=seed, day=first_day + timedelta(days=i), scale=scale, timezone=timezone)
        zoom_files += sum(new for _, _, new in save_zoom_files(inbox, simulated.zoom_files))
    written, truth = write_edtech_exports(
        config, seed=seed, start=first_day, end=end, scale=scale, timezone=timezone,
        leads_sheet=root / PATH_SETTINGS["FUNNEL_LEADS_SHEET"],
        crm_assigned_leads=root / PATH_SETTINGS["FUNNEL_CRM_ASSIGNED_LEADS"],
        crm_sales=root / PATH_SETTINGS["FUNNEL_CRM_SALES"], spend_sheet=root / PATH_SETTINGS["FUNNEL_SPEND_SHEET"],
    )
    return {"zoom_files": zoom_files, "bytes": sum(p.stat().st_size for p in written),
            **{f"truth_{k}": v.height for k, v in truth.items()}}


# --------------------------------------------------------------------------- the instance


def project_instance_config(path: Path = PROJECT_ROOT / "dagster.yaml") -> dict:
    """The project instance's dagster.yaml (its storage and pools); its run queue is replaced by
    synchronous launching."""
    import yaml

    config = yaml.safe_load(path.read_text()) or {}
    concurrency = {k: v for k, v in (config.pop("concurrency", None) or {}).items() if k != "runs"}
    return {**config, **({"concurrency": concurrency} if concurrency else {})}


@contextlib.contextmanager
def synchronous_instance(home: Path, postgres_server: str | None = None, cleanups: list | None = None):
    """A persistent instance whose submitted runs execute in this process at once: SQLite files in
    ``home`` (the project's default), or, with ``postgres_server``, storage in a throw-away
    PostgreSQL database on that server (``deploy/postgres``'s set-up), dropped by ``cleanups``
    (called by the caller once it has read what it needs) or at the end."""
    import uuid

    import dagster as dg
    import sqlalchemy as sa

    home.mkdir(parents=True, exist_ok=True)
    overrides = project_instance_config()
    admin, name = None, None
    if postgres_server:
        name = f"funnel_bench_dagster_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(postgres_server).set(drivername="postgresql+psycopg2", database=name)
        overrides = project_instance_config(PROJECT_ROOT / "deploy" / "postgres" / "dagster.yaml")
    saved_pg_url = os.environ.get("DAGSTER_PG_URL")
    if postgres_server:
        os.environ["DAGSTER_PG_URL"] = url.render_as_string(hide_password=False)  # what that file reads

    def drop() -> None:
        if saved_pg_url is None:
            os.environ.pop("DAGSTER_PG_URL", None)
        else:
            os.environ["DAGSTER_PG_URL"] = saved_pg_url
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()

    try:
        with dg.instance_for_test(temp_dir=str(home), overrides=overrides,
                                  synchronous_run_coordinator=True, synchronous_run_launcher=True) as instance:
            yield instance
    finally:
        if cleanups is None:
            drop()
        else:
            cleanups.append(drop)


@contextlib.contextmanager
def daemon_workspace(instance):
    """The code location as the daemons see it (loaded in this process)."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, create_test_daemon_workspace_context
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    origin = LoadableTargetOrigin(module_name="funnel_assets.definitions", working_directory=str(PROJECT_ROOT))
    target = InProcessTestWorkspaceLoadTarget(InProcessCodeLocationOrigin(origin, location_name="funnel_assets"))
    with create_test_daemon_workspace_context(target, instance) as context:
        entries = context.create_request_context().get_code_location_entries()
        for name, entry in entries.items():
            if entry.load_error:
                raise RuntimeError(f"code location {name} failed to load:\n{entry.load_error.to_string()}")
        yield context


def file_zoom_downloads(instance) -> int:
    """The drop folder's sensor files every report (run requests not launched here)."""
    from funnel_assets.defs.zoom.sensors import tick_like_the_daemon

    return len(tick_like_the_daemon(instance))


# --------------------------------------------------------------------------- launching


def pipeline_partition_keys(first_day: date, days: int) -> list[str]:
    return [(first_day + timedelta(days=i)).isoformat() for i in range(days)]


def launch_ui_backfill(instance, workspace_context, partition_keys: list[str], *, title: str = "benchmark backfill") -> str:
    """What the UI's "Materialize → date range → Launch backfill" does over the pipeline's assets:
    an asset backfill of those days (the GraphQL mutation calls ``from_asset_partitions`` too)."""
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    from funnel_assets.defs.jobs import PIPELINE

    asset_graph = workspace_context.create_request_context().asset_graph
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(), asset_graph=asset_graph, partition_names=partition_keys,
        asset_selection=sorted(PIPELINE.resolve(asset_graph)), backfill_timestamp=time.time(),
        tags={}, dynamic_partitions_store=instance, all_partitions=False, title=title, description=None, run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id


def run_backfill_daemon(instance, workspace_context, backfill_id: str, *, max_iterations: int = 100) -> int:
    """The backfill daemon's iterations until the backfill is no longer in progress (each
    iteration requests the runs whose upstream is done; the synchronous launcher executes them)."""
    from dagster._core.execution.backfill import BulkActionStatus
    from dagster._daemon.backfill import execute_backfill_iteration

    logger = logging.getLogger("funnel_bench.backfill_daemon")
    for iteration in range(1, max_iterations + 1):
        for error in execute_backfill_iteration(workspace_context, logger):
            if error is not None:
                raise RuntimeError(f"backfill daemon iteration failed: {error.to_string()}")
        if instance.get_backfill(backfill_id).status != BulkActionStatus.REQUESTED:
            return iteration
    raise RuntimeError(f"backfill {backfill_id} still in progress after {max_iterations} daemon iterations")


def backfill_runs(instance, backfill_id: str) -> list:
    import dagster as dg

    return list(reversed(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))))


def launch_scheduled_run(instance, workspace_context, day: date, *, submit: bool = True) -> str:
    """The nightly schedule's run for ``day``: the tick at 02:00 the next morning (team's time zone)
    gives the RunRequest; the run is created the way the scheduler daemon creates it and submitted
    (or, with ``submit=False``, only created)."""
    from dagster._core.definitions.selector import JobSubsetSelector
    from dagster._core.definitions.timestamp import TimestampWithTimezone
    from dagster._scheduler.scheduler import _create_scheduler_run

    from funnel_assets.defs.common import SETTINGS
    from funnel_assets.defs.schedules import NIGHTLY_HOUR, NIGHTLY_MINUTE

    request_context = workspace_context.create_request_context()
    location = next(iter(request_context.get_code_location_entries().values())).code_location
    repository = next(iter(location.get_repositories().values()))
    remote_schedule = repository.get_schedule("nightly_funnel_schedule")
    tick = datetime(day.year, day.month, day.day, NIGHTLY_HOUR, NIGHTLY_MINUTE, tzinfo=ZoneInfo(SETTINGS.timezone)) + timedelta(days=1)
    data = location.get_schedule_execution_data(instance, repository.handle, remote_schedule.name,
                                                TimestampWithTimezone(tick.timestamp(), SETTINGS.timezone), None)
    if data.skip_message or not data.run_requests:
        raise RuntimeError(f"the schedule requested no run for the tick at {tick}: {data.skip_message}")
    (run_request,) = data.run_requests
    remote_job = location.get_job(JobSubsetSelector(
        location_name=location.name, repository_name=repository.name, job_name=remote_schedule.job_name,
        op_selection=remote_schedule.op_selection, asset_selection=run_request.asset_selection,
        asset_check_selection=run_request.asset_check_keys,
    ))
    run = _create_scheduler_run(instance, tick, location, remote_schedule, remote_job, run_request)
    if submit:
        instance.submit_run(run.run_id, request_context)
    return run.run_id


def execute_in_run_worker(instance, run_id: str, log: Path) -> float:
    """Execute a created run the way Dagster's default run launcher does in production: a new
    process running ``dagster api execute_run`` (import Dagster, load the code location, open the
    instance, execute). Returns the seconds from starting the process to its first event."""
    import subprocess

    from dagster._grpc.types import ExecuteRunArgs

    run = instance.get_run_by_id(run_id)
    args = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run_id, instance_ref=instance.get_ref(),
                          set_exit_code_on_failure=True)
    started = time.time()
    with open(log, "ab") as out:
        # the launcher's command (`dagster api execute_run <args>`), with this environment's Python;
        # started in the benchmark's folder: Dagster loads a .env from the working directory (over
        # the environment), and the project's own .env points at the demo's files
        command = [sys.executable, "-m", *args.get_command_args()]
        subprocess.run(command, stdout=out, stderr=out, check=False, cwd=log.parent, timeout=600)
    first = min((r.timestamp for r in instance.all_logs(run_id) if r.timestamp >= started), default=None)
    if first is None:
        raise RuntimeError(f"the run worker for {run_id} wrote no event; see {log}")
    return first - started


# --------------------------------------------------------------------------- measuring


@dataclass
class ComputeTimer:
    """Seconds spent inside each step's compute generator, per (run id, step key)."""

    seconds: dict = field(default_factory=lambda: defaultdict(float))

    @contextlib.contextmanager
    def installed(self):
        from dagster._core.execution.plan import compute

        original = compute._yield_compute_results
        seconds = self.seconds

        def timed(step_context, inputs, compute_fn, compute_context):
            key = (step_context.dagster_run.run_id, step_context.step.key)
            results = original(step_context, inputs, compute_fn, compute_context)
            while True:
                began = time.perf_counter()
                try:
                    item = next(results)
                except StopIteration:
                    seconds[key] += time.perf_counter() - began
                    return
                except BaseException:
                    seconds[key] += time.perf_counter() - began
                    raise
                seconds[key] += time.perf_counter() - began
                yield item

        compute._yield_compute_results = timed
        try:
            yield self
        finally:
            compute._yield_compute_results = original

    def for_run(self, run_id: str) -> dict[str, float]:
        return {step: s for (run, step), s in self.seconds.items() if run == run_id}


def step_spans(instance, run_id: str) -> dict[str, float]:
    """STEP_START → STEP_SUCCESS/FAILURE seconds per step, from the run's event log."""
    started, spans = {}, {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or not record.step_key:
            continue
        if event.event_type_value == "STEP_START":
            started[record.step_key] = record.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and record.step_key in started:
            spans[record.step_key] = record.timestamp - started[record.step_key]
    return spans


def run_failures(instance, run_ids: list[str], limit: int = 3) -> list[str]:
    lines = []
    for run_id in run_ids:
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if event is not None and event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE"):
                error = getattr(event.event_specific_data, "error", None)
                lines.append(f"run {run_id[:8]} {record.step_key or ''}: {(error.message if error else record.message or '').strip()[:500]}")
    return lines[:limit]


@contextlib.contextmanager
def stderr_to(path: Path):
    """Dagster's console logs (every event of every run) go to a file, as a run worker's do."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _profile_text(profiler, limit: int = 45) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(limit)
    return "\n".join(line for line in out.getvalue().splitlines() if line.strip())


# --------------------------------------------------------------------------- the benchmark


def run(args) -> Results:
    days = int(getattr(args, "pipeline_days", 90))
    scale = float(getattr(args, "pipeline_scale", 1.0))
    warehouse_url = getattr(args, "pipeline_warehouse_url", None)
    keep = bool(getattr(args, "pipeline_keep", False))
    profile = bool(getattr(args, "pipeline_profile", False))
    instance_server = None
    if getattr(args, "pipeline_instance", "sqlite") == "postgres":
        instance_server = os.environ.get("FUNNEL_BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    # Dagster's in-process runs leave an event loop behind: a harmless RuntimeWarning per run
    warnings.filterwarnings("ignore", message="coroutine 'BaseEventLoop.shutdown_asyncgens' was never awaited")
    root = Path(tempfile.mkdtemp(prefix="pipeline_bench_"))
    env = pipeline_environment(root, warehouse_url)
    first_day = LAST_DAY - timedelta(days=days)
    results = Results()
    cleanups: list = []
    try:
        with environment(env):
            return _measure(root, first_day, days, scale, profile, results, instance_server, cleanups)
    finally:
        for cleanup in cleanups:
            cleanup()
        if keep:
            print(f"  kept {root} (instance in home/, Dagster's console log in dagster.log)")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _measure(root: Path, first_day: date, days: int, scale: float, profile: bool, results: Results, instance_server: str | None, cleanups: list) -> Results:
    import dagster as dg

    from funnel_assets.defs.common import SETTINGS

    if SETTINGS.start_date > first_day:
        raise SystemExit(f"FUNNEL_START_DATE is {SETTINGS.start_date}: the benchmark needs partitions from {first_day}")
    began = time.perf_counter()
    world = generate_world(root, first_day, days + 1, scale=scale, timezone=SETTINGS.timezone)
    generated = time.perf_counter() - began
    log = root / "dagster.log"
    timer = ComputeTimer()
    with synchronous_instance(root / "home", postgres_server=instance_server, cleanups=cleanups) as instance, timer.installed():
        with stderr_to(log):
            zoom_requests = file_zoom_downloads(instance)
        print(f"  world: {days + 1} days at scale {scale} ({first_day} .. {LAST_DAY}), {world['zoom_files']} Zoom files "
              f"filed ({zoom_requests} sensor run requests, not launched), sheets and dumps {world['bytes'] / 2**20:.1f} MiB; "
              f"{generated:.1f} s, not timed", flush=True)
        with daemon_workspace(instance) as workspace:
            # --- the backfill
            with stderr_to(log):
                began = time.perf_counter()
                backfill_id = launch_ui_backfill(instance, workspace, pipeline_partition_keys(first_day, days))
                iterations = run_backfill_daemon(instance, workspace, backfill_id)
                backfill_seconds = time.perf_counter() - began
            runs = backfill_runs(instance, backfill_id)
            status = instance.get_backfill(backfill_id).status
            failed = [r.run_id for r in runs if r.status != dg.DagsterRunStatus.SUCCESS]
            backfill_compute = sum(s for r in runs for s in timer.for_run(r.run_id).values())
            # steps of a multiprocess executor run in child processes, out of the timer's sight:
            # there the step spans (child process start-up excluded) stand in for compute
            backfill_steps = sum(s for r in runs for s in step_spans(instance, r.run_id).values())
            ranged = [r for r in runs if "dagster/asset_partition_range_start" in r.tags]
            # --- the nightly D-1 run
            profiler = cProfile.Profile() if profile else contextlib.nullcontext()
            with stderr_to(log), profiler:
                began = time.perf_counter()
                run_id = launch_scheduled_run(instance, workspace, LAST_DAY)
                d1_seconds = time.perf_counter() - began
            # --- the same run in a run worker process of its own, as the default run launcher starts it
            with stderr_to(log):
                began = time.perf_counter()
                worker_run_id = launch_scheduled_run(instance, workspace, LAST_DAY, submit=False)
                worker_startup = execute_in_run_worker(instance, worker_run_id, log)
                worker_seconds = time.perf_counter() - began
            worker_ok = instance.get_run_by_id(worker_run_id).status == dg.DagsterRunStatus.SUCCESS
            d1 = instance.get_run_by_id(run_id)
            record = instance.get_run_record_by_id(run_id)
            run_span = (record.end_time - record.start_time) if record and record.start_time and record.end_time else None
            compute = timer.for_run(run_id)
            spans = step_spans(instance, run_id)
            d1_failed = d1.status != dg.DagsterRunStatus.SUCCESS
            failures = run_failures(instance, failed + ([run_id] if d1_failed else []))

    executor = "in-process executor, " + ("PostgreSQL" if instance_server else "SQLite") + " instance"
    results.figures.append(Figure(
        f"backfill {days} days", backfill_seconds,
        note=f"{len(runs)} runs ({len(ranged)} ranged, {len(runs) - len(ranged)} unpartitioned), {iterations} daemon iterations, "
             f"{status.value}; " + (f"compute {backfill_compute:.1f} s, Dagster {backfill_seconds - backfill_compute:.1f} s"
                                    if backfill_compute else f"step spans {backfill_steps:.1f} s (compute in child processes)") + f"; {executor}",
    ))
    for r in runs:
        tags = r.tags
        span = f"{tags['dagster/asset_partition_range_start']} .. {tags['dagster/asset_partition_range_end']}" if r in ranged else tags.get("dagster/partition", "unpartitioned")
        assets = ", ".join(sorted(k.to_user_string() for k in (r.asset_selection or [])))
        stats = instance.get_run_stats(r.run_id)
        results.figures.append(Figure(f"  run {span}", (stats.end_time or 0) - (stats.start_time or 0), note=f"{r.status.value}: {assets}"))
    overhead = d1_seconds - sum(compute.values())
    results.figures.append(Figure(f"D-1 {LAST_DAY} (nightly_funnel_job)", d1_seconds, note=f"{d1.status.value}; compute {sum(compute.values()):.2f} s, Dagster overhead {overhead:.2f} s (from the schedule's tick: creating the run included)"))
    if run_span:
        inside = run_span - sum(compute.values())
        results.figures.append(Figure("  the run itself (RUN_START .. end)", run_span,
                                      note=f"what the UI shows as its duration: Dagster overhead {inside:.2f} s = {inside / run_span:.0%}"))
    compute_seconds = sum(compute.values())
    with_worker = (worker_seconds - compute_seconds) / worker_seconds
    results.figures.append(Figure(
        "D-1 in a run worker process of its own", worker_seconds,
        note=f"{'SUCCESS' if worker_ok else 'FAILED'}: as Dagster's run launcher starts every run in production "
             f"(a new process: Python, Dagster, the code location); {worker_seconds - d1_seconds:.2f} s more than in-process, "
             f"{worker_startup:.2f} s of it before the run's first event; Dagster's share {with_worker:.0%} "
             f"(with the in-process run's compute, {compute_seconds:.2f} s)",
    ))
    for step in sorted(spans, key=lambda s: -spans[s]):
        results.figures.append(Figure(f"  step {step}", spans[step], note=f"compute {compute.get(step, 0.0):.3f} s, Dagster {spans[step] - compute.get(step, 0.0):.3f} s"))
    results.goals += [
        Goal(f"{days}-day backfill as the UI launches it, seconds", backfill_seconds, 300.0, higher_is_better=False),
        Goal("nightly D-1 run as the schedule launches it, seconds", d1_seconds, 30.0, higher_is_better=False),
        Goal("Dagster's share of the D-1 run", overhead / d1_seconds, 1 / 3, higher_is_better=False),
        Goal("Dagster's share of the D-1 run, its run worker's start-up counted", with_worker, 1 / 3, higher_is_better=False),
    ]
    results.notes.append(
        f"D-1 = {30.0 / d1_seconds:.1f}x inside its goal, overhead {overhead / d1_seconds:.0%} of it; backfill = "
        f"{300.0 / backfill_seconds:.1f}x inside its goal ({backfill_seconds / days:.2f} s a day)"
    )
    results.notes.append("compute = time inside the asset bodies (each step's compute generator, timed in-process); "
                         "overhead = wall time - compute (run/plan creation, events, materializations, checks, step/run bookkeeping)")
    if profile:
        results.notes.append("profile of the D-1 run (cumulative seconds, top entries; under cProfile, so slower):\n" + _profile_text(profiler))
    if status.value != "COMPLETED_SUCCESS" or failed or d1_failed or not worker_ok:
        results.goals.append(Goal("runs that failed", len(failed) + d1_failed + (not worker_ok), 0, higher_is_better=False))
        results.notes += failures
    return results
