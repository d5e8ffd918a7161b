"""The whole pipeline through a real Dagster instance: a 90-day backfill and the nightly D-1 run.

World (not timed): ``--pipeline-days`` + 1 days of the ed-tech world at ``--pipeline-scale``
(1.0 = the generator's full scale), rendered the way the team's sources deliver them: the leads
sheet and the spend sheet covering the window, the CRM's full dumps as of the last day, and the
day's Zoom downloads dropped into the inbox and filed by two ticks of the drop-folder sensor.
Instance: a fresh SQLite instance (the project's ``dagster.yaml``: its event log storage and pools;
``--pipeline-instance postgres``: ``deploy/postgres/dagster.yaml``) whose run coordinator and launcher
are synchronous, so each run the backfill daemon submits executes in this process at once; the
warehouse is SQLite (``--pipeline-warehouse-url`` for Postgres).

- 90-day backfill, as the UI launches it (Assets → select the pipeline → Materialize → a date
  range → Launch backfill): an asset backfill (``PartitionBackfill.from_asset_partitions``, what
  the UI's GraphQL mutation creates) over every production asset, then the backfill daemon's
  iterations (``execute_backfill_iteration``) until it is done. The runs are the asset backfill's
  own (the implicit asset job, with the executor the definitions give it). Goal: <= 5 minutes.
- D-1, as the schedule launches it: the schedule's tick for the next day at 02:00 (team's time
  zone) gives the RunRequest for the last day; the run of ``nightly_funnel_job`` is created the
  way the scheduler daemon creates it (remote job, execution plan snapshot, schedule tags) and
  launched the way the run queue daemon launches it (``instance.launch_run``) through the run
  launcher the project's dagster.yaml configures: the run's process is forked from the launcher's
  warm process. Wall time from the tick's evaluation to the run's end. Goal: <= 30 s. The warm
  process is started by the run before (in production: by the first run after the code server
  starts, reported as a figure of its own).
- for comparison, the same run with Dagster's default launcher (a new process, as the code server
  spawns it: Python, importing Dagster, loading the code location; here ``dagster api
  execute_run``, the same body), and in the benchmark's own process (no run process at all).

Dagster's overhead = wall time - compute time, where compute time is the time spent inside the
asset bodies, timed in whichever process runs them (benchmarks/compute_timer.py; in run processes
through ``run_worker_hook/sitecustomize.py``). Compute covers the asset's own code, its reads and
writes and its log calls; Dagster's share is everything else: run and plan creation, the run's
process, resource set-up, the events written for what the bodies yield, step and run bookkeeping.
Goal: Dagster's share < 1/3 of the D-1 run.
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
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks.compute_timer import COMPUTE_LOG_ENV, ComputeTimer, read_compute_log
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
    """The project instance's dagster.yaml (its storage and pools); its run queue and run launcher
    are replaced by synchronous launching (the launcher is measured on its own: ``project_run_launcher``)."""
    import yaml

    config = yaml.safe_load(path.read_text()) or {}
    config.pop("run_launcher", None)
    config.pop("run_coordinator", None)
    concurrency = {k: v for k, v in (config.pop("concurrency", None) or {}).items() if k != "runs"}
    return {**config, **({"concurrency": concurrency} if concurrency else {})}


def project_run_launcher(instance, path: Path = PROJECT_ROOT / "dagster.yaml"):
    """The run launcher the project's dagster.yaml configures, for ``instance``."""
    import yaml
    from dagster._core.launcher import RunLauncher
    from dagster._serdes import ConfigurableClassData

    block = (yaml.safe_load(path.read_text()) or {})["run_launcher"]
    launcher = ConfigurableClassData(block["module"], block["class"], yaml.safe_dump(block.get("config") or {})).rehydrate(as_type=RunLauncher)
    launcher.register_instance(instance)
    return launcher


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
def daemon_workspace(instance, working_directory: Path = PROJECT_ROOT):
    """The code location as the daemons see it (loaded in this process). ``working_directory`` is
    where its run processes start: Dagster reads the ``.env`` there, over the environment."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, create_test_daemon_workspace_context
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    origin = LoadableTargetOrigin(module_name="funnel_assets.definitions", working_directory=str(working_directory))
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
    """Execute a created run the way Dagster's default run launcher does: a new process running
    ``dagster api execute_run`` (import Dagster, load the code location, open the instance,
    execute). Returns the seconds from starting the process to its first event."""
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


@contextlib.contextmanager
def timed_run_processes(compute_log: Path):
    """Run processes started meanwhile (the run launcher's warm process and the runs it forks,
    Dagster's run worker) time their steps' compute into ``compute_log`` (run_worker_hook/)."""
    path = [str(Path(__file__).parent / "run_worker_hook"), str(PROJECT_ROOT)]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    with environment({COMPUTE_LOG_ENV: str(compute_log), "PYTHONPATH": os.pathsep.join(path)}):
        yield


def launch_through(instance, workspace_context, launcher, day: date, *, timeout: float = 600.0) -> tuple[str, float]:
    """The schedule's run for ``day``, created from its tick and launched through ``launcher`` the
    way the run queue daemon launches a run (``instance.launch_run``). Returns the run id and the
    seconds from the tick's evaluation to the run's end (its RUN_SUCCESS or RUN_FAILURE event)."""
    began = time.time()
    run_id = launch_scheduled_run(instance, workspace_context, day, submit=False)
    own = instance._run_launcher  # the benchmark instance's own launcher is the synchronous one
    instance._run_launcher = launcher
    try:
        instance.launch_run(run_id, workspace_context.create_request_context())
    finally:
        instance._run_launcher = own
    deadline = time.monotonic() + timeout
    while not instance.get_run_by_id(run_id).is_finished:
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} did not finish within {timeout:.0f} s")
        time.sleep(0.1)
    return run_id, instance.get_run_record_by_id(run_id).end_time - began


# --------------------------------------------------------------------------- measuring


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
    instance_config = PROJECT_ROOT / "deploy" / "postgres" / "dagster.yaml" if instance_server else PROJECT_ROOT / "dagster.yaml"
    timer = ComputeTimer()
    with synchronous_instance(root / "home", postgres_server=instance_server, cleanups=cleanups) as instance, timer.installed():
        with stderr_to(log):
            zoom_requests = file_zoom_downloads(instance)
        print(f"  world: {days + 1} days at scale {scale} ({first_day} .. {LAST_DAY}), {world['zoom_files']} Zoom files "
              f"filed ({zoom_requests} sensor run requests, not launched), sheets and dumps {world['bytes'] / 2**20:.1f} MiB; "
              f"{generated:.1f} s, not timed", flush=True)
        # run processes start in the benchmark's folder: Dagster reads a .env where they start, and
        # the project's own .env points at the demo's files
        with daemon_workspace(instance, working_directory=root) as workspace:
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
            # --- the nightly D-1 run in this process (the synchronous launcher): Dagster's overhead within a run
            profiler = cProfile.Profile() if profile else contextlib.nullcontext()
            with stderr_to(log), profiler:
                began = time.perf_counter()
                run_id = launch_scheduled_run(instance, workspace, LAST_DAY)
                d1_seconds = time.perf_counter() - began
            # --- D-1 as the schedule launches it in production: the project's run launcher, then
            # Dagster's default one (a new run worker process); compute timed inside those processes
            compute_log = root / "compute.log"
            with stderr_to(log), timed_run_processes(compute_log):
                launcher = project_run_launcher(instance, instance_config)
                try:
                    # the first run after a code server starts also starts the warm process
                    cold_id, cold_seconds = launch_through(instance, workspace, launcher, LAST_DAY)
                    # every run after it: the nightly run
                    nightly_id, nightly_seconds = launch_through(instance, workspace, launcher, LAST_DAY)
                finally:
                    launcher.dispose()
                began = time.time()
                worker_run_id = launch_scheduled_run(instance, workspace, LAST_DAY, submit=False)
                worker_startup = execute_in_run_worker(instance, worker_run_id, log)
                worker_seconds = time.time() - began
            d1 = instance.get_run_by_id(run_id)
            record = instance.get_run_record_by_id(run_id)
            run_span = (record.end_time - record.start_time) if record and record.start_time and record.end_time else None
            compute = timer.for_run(run_id)
            spans = step_spans(instance, nightly_id)
            nightly_compute = read_compute_log(compute_log, nightly_id)
            launched = {i: instance.get_run_by_id(i) for i in (cold_id, nightly_id, worker_run_id)}
            not_ok = [i for i, r in launched.items() if r.status != dg.DagsterRunStatus.SUCCESS]
            d1_failed = d1.status != dg.DagsterRunStatus.SUCCESS
            failures = run_failures(instance, failed + ([run_id] if d1_failed else []) + not_ok)
            launcher_name = type(launcher).__name__
            cold_compute = sum(read_compute_log(compute_log, cold_id).values())
            worker_compute = sum(read_compute_log(compute_log, worker_run_id).values())

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
    nightly_total = sum(nightly_compute.values())
    nightly_overhead = nightly_seconds - nightly_total
    results.figures.append(Figure(
        f"D-1 {LAST_DAY} (nightly_funnel_job)", nightly_seconds,
        note=f"{launched[nightly_id].status.value}: as the schedule launches it, through the project's run launcher ({launcher_name}: "
             f"the run's process forked from the warm one); compute {nightly_total:.2f} s (timed in that process), "
             f"Dagster {nightly_overhead:.2f} s = {nightly_overhead / nightly_seconds:.0%} (from the schedule's tick to the run's end)"))
    for step in sorted(spans, key=lambda s: -spans[s]):
        results.figures.append(Figure(f"  step {step}", spans[step], note=f"compute {nightly_compute.get(step, 0.0):.3f} s, Dagster {spans[step] - nightly_compute.get(step, 0.0):.3f} s"))
    results.figures.append(Figure(
        "  the first run after a code server (re)start", cold_seconds,
        note=f"{launched[cold_id].status.value}: the warm process starts with it (Python, Dagster, the code location); "
             f"Dagster {(cold_seconds - cold_compute) / cold_seconds:.0%}"))
    results.figures.append(Figure(
        "  with Dagster's default run launcher", worker_seconds,
        note=f"{launched[worker_run_id].status.value}: a new process for the run (`dagster api execute_run`), "
             f"{worker_startup:.2f} s of it before the run's first event; Dagster {(worker_seconds - worker_compute) / worker_seconds:.0%}"))
    overhead = d1_seconds - sum(compute.values())
    results.figures.append(Figure(
        "  in the benchmark's own process", d1_seconds,
        note=f"{d1.status.value}: no run process at all (a synchronous launcher); compute {sum(compute.values()):.2f} s, "
             f"Dagster {overhead:.2f} s = {overhead / d1_seconds:.0%}" + (
                 f"; the run itself (RUN_START .. end, the UI's duration) {run_span:.2f} s, Dagster {(run_span - sum(compute.values())) / run_span:.0%}" if run_span else "")))
    results.goals += [
        Goal(f"{days}-day backfill as the UI launches it, seconds", backfill_seconds, 300.0, higher_is_better=False),
        Goal("nightly D-1 run as the schedule launches it, seconds", nightly_seconds, 30.0, higher_is_better=False),
        Goal("Dagster's share of the D-1 run", nightly_overhead / nightly_seconds, 1 / 3, higher_is_better=False),
    ]
    results.notes.append(
        f"D-1 = {30.0 / nightly_seconds:.1f}x inside its goal, Dagster {nightly_overhead / nightly_seconds:.0%} of it; backfill = "
        f"{300.0 / backfill_seconds:.1f}x inside its goal ({backfill_seconds / days:.2f} s a day)"
    )
    results.notes.append("compute = time inside the asset bodies (each step's compute generator, timed in the process that runs it); "
                         "Dagster = wall time - compute (run/plan creation, the run's process, events, materializations, checks, step/run bookkeeping)")
    if profile:
        results.notes.append("profile of the in-process D-1 run (cumulative seconds, top entries; under cProfile, so slower):\n" + _profile_text(profiler))
    if status.value != "COMPLETED_SUCCESS" or failed or d1_failed or not_ok:
        results.goals.append(Goal("runs that failed", len(failed) + d1_failed + len(not_ok), 0, higher_is_better=False))
        results.notes += failures
    return results
