"""The run launcher (funnel_assets/run_launcher.py) as Dagster's daemon uses it: the project's
dagster.yaml, a real code server (a managed gRPC server, as ``dagster dev`` starts), runs launched
through the instance and executed in processes forked from the warm one."""

import json
import os
import shutil
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.launcher import LaunchRunContext
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget

from funnel_assets import run_launcher
from funnel_assets.lib.settings import PROJECT_ROOT
from funnel_assets.run_launcher import RUN_WORKER_TAG, ForkingRunLauncher
from funnel_assets_tests.launcher_code import definitions as code

LOCATION = "launcher_code"

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the warm process forks runs: POSIX only")


@pytest.fixture(scope="module")
def launcher_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("launcher")
    home = root / "home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")  # the project's instance, its launcher included
    with pytest.MonkeyPatch.context() as env:  # the warm process inherits this environment
        env.setenv("DAGSTER_HOME", str(home))
        env.setenv("LAUNCHER_TEST_DIR", str(root))
        with dg.DagsterInstance.from_config(str(home)) as instance:
            target = ModuleTarget(module_name="funnel_assets_tests.launcher_code.definitions", attribute=None,
                                  working_directory=str(PROJECT_ROOT), location_name=LOCATION)
            with WorkspaceProcessContext(instance, target) as workspace:
                yield instance, workspace, root


def create_run(instance, workspace, job_name: str):
    """A run of ``job_name`` created from the code server's job; returns it and the request context."""
    request = workspace.create_request_context()
    remote_job = next(iter(request.get_code_location(LOCATION).get_repositories().values())).get_full_job(job_name)
    run = instance.create_run_for_job(job_def=code.defs.resolve_job_def(job_name), remote_job_origin=remote_job.get_remote_origin(),
                                      job_code_origin=remote_job.get_python_origin())
    return run, request


def launch(instance, workspace, job_name: str) -> str:
    """Creates a run of ``job_name`` and launches it, as the run queue does."""
    run, request = create_run(instance, workspace, job_name)
    instance.launch_run(run.run_id, request)
    return run.run_id


def wait_until_finished(instance, run_id: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run.is_finished:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish within {timeout} s: {instance.get_run_by_id(run_id).status}")


def worker(run) -> dict:
    return json.loads(run.tags[RUN_WORKER_TAG])


def ended(pid: int, timeout: float = 10.0) -> bool:
    """Whether the process ``pid`` has ended, given a moment to exit: a run is finished once its
    last event is written, a little before its process is gone."""
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]


def test_the_project_instance_uses_the_forking_launcher(launcher_env):
    instance, _, _ = launcher_env
    assert isinstance(instance.run_launcher, ForkingRunLauncher)
    # and picks queued runs up within a second, one at a time (SQLite)
    assert instance.run_coordinator.dequeue_interval_seconds == 1
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1


def test_the_postgres_instance_configures_the_same_launcher_and_queue():
    import yaml

    sqlite, postgres = (yaml.safe_load(p.read_text()) for p in (PROJECT_ROOT / "dagster.yaml", PROJECT_ROOT / "deploy" / "postgres" / "dagster.yaml"))
    assert postgres["run_launcher"] == sqlite["run_launcher"]
    assert postgres["run_coordinator"] == sqlite["run_coordinator"]


def test_runs_execute_in_processes_forked_from_one_warm_process(launcher_env):
    instance, workspace, root = launcher_env
    expected = [["a", sum(i for i in range(300_000) if i % 6 in (0, 2, 5))],
                ["b", sum(i for i in range(300_000) if i % 6 in (1, 4))],
                ["c", sum(i for i in range(300_000) if i % 6 == 3)]]
    runs = []
    for _ in range(3):
        run = wait_until_finished(instance, launch(instance, workspace, "sums_job"))
        assert run.status == dg.DagsterRunStatus.SUCCESS, run.status
        runs.append(run)
    workers = [worker(r) for r in runs]
    assert len({w["warm_pid"] for w in workers}) == 1, workers  # one warm process for all three
    assert len({w["pid"] for w in workers}) == 3 and workers[0]["warm_pid"] not in {w["pid"] for w in workers}
    for run, w in zip(runs, workers):
        seen = json.loads((root / f"{run.run_id}.json").read_text())
        assert seen["pid"] == w["pid"]  # the asset ran in the forked process the tag names
        assert seen["totals"] == expected
        started = [e.message for e in instance.all_logs(run.run_id) if e.message and e.message.startswith("Started process for run")]
        assert started == [f"Started process for run (pid: {w['pid']})."]
        assert ended(w["pid"])  # and that process has ended
    assert alive(workers[0]["warm_pid"])  # the warm process stays for the next run
    assert instance.get_latest_materialization_event(dg.AssetKey("revenue_by_funnel")).run_id == runs[-1].run_id


def test_terminating_a_run_interrupts_its_process_and_cancels_it(launcher_env):
    instance, workspace, root = launcher_env
    run_id = launch(instance, workspace, "waits_job")
    deadline = time.monotonic() + 60
    while not (root / f"{run_id}.started").exists():
        assert time.monotonic() < deadline, instance.get_run_by_id(run_id).status
        time.sleep(0.1)
    began = time.monotonic()
    assert instance.run_launcher.terminate(run_id)
    run = wait_until_finished(instance, run_id, timeout=30)
    assert run.status == dg.DagsterRunStatus.CANCELED
    assert time.monotonic() - began < 30  # not the asset's two minutes
    assert ended(worker(run)["pid"])
    assert not instance.run_launcher.terminate(run_id)  # a finished run: nothing to do


def test_a_run_whose_process_dies_is_marked_failed(launcher_env):
    instance, workspace, _ = launcher_env
    run = wait_until_finished(instance, launch(instance, workspace, "dies_job"), timeout=60)
    assert run.status == dg.DagsterRunStatus.FAILURE
    messages = [e.message for e in instance.all_logs(run.run_id) if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_FAILURE"]
    assert messages and f"The run's process ({worker(run)['pid']}) was killed by signal 9" in messages[-1]


def test_a_reloaded_code_server_gets_a_new_warm_process(launcher_env):
    instance, workspace, _ = launcher_env
    before = worker(wait_until_finished(instance, launch(instance, workspace, "sums_job")))
    workspace.reload_code_location(LOCATION)  # "Reload" in the UI: a new code server, maybe new code
    run = wait_until_finished(instance, launch(instance, workspace, "sums_job"))
    assert run.status == dg.DagsterRunStatus.SUCCESS
    after = worker(run)
    assert after["warm_pid"] != before["warm_pid"]
    assert not alive(before["warm_pid"])  # the old one was ended


def test_without_a_warm_process_the_run_is_launched_the_default_way(launcher_env, monkeypatch):
    instance, workspace, _ = launcher_env
    # a warm process that cannot load the code location (its answer is what serve() says then)
    failing = [sys.executable, "-c", "import json; print(json.dumps({'error': 'ImportError: no module named funnel_assets'}))"]
    monkeypatch.setattr(run_launcher, "_warm_process_command", lambda executable, origin: failing)
    workspace.reload_code_location(LOCATION)  # a new code server: a new warm process is needed
    run = wait_until_finished(instance, launch(instance, workspace, "sums_job"))
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert RUN_WORKER_TAG not in run.tags and GRPC_INFO_TAG in run.tags  # the code server started it
    events = [e.message for e in instance.all_logs(run.run_id) if e.message and "the default way" in e.message]
    assert events and "could not load the code location" in events[0] and "no module named funnel_assets" in events[0]


def test_disposing_the_launcher_ends_its_warm_process(launcher_env):
    instance, workspace, _ = launcher_env
    launcher = ForkingRunLauncher()
    launcher.register_instance(instance)
    run, request = create_run(instance, workspace, "sums_job")
    launcher.launch_run(LaunchRunContext(run, request))
    warm_pid = worker(instance.get_run_by_id(run.run_id))["warm_pid"]
    assert wait_until_finished(instance, run.run_id).status == dg.DagsterRunStatus.SUCCESS
    assert alive(warm_pid)
    launcher.dispose()
    assert not alive(warm_pid)
