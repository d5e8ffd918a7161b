"""Dagster's default run launcher, with each run's process forked from a warm one.

Dagster's ``DefaultRunLauncher`` asks the code server to start every run, and the code server
spawns a new Python process for it (``multiprocessing`` spawn, hard-coded): Python, importing
Dagster, polars and SQLAlchemy, and loading the code location again, about 3 s on a small machine
before the run's first step, as long as a third of the nightly run (README, "Benchmarks").

``ForkingRunLauncher`` keeps one warm process per code location and code server: a process that
has imported Dagster and loaded the code location once, started with the code location's own
Python and working directory. For each run it forks a child that executes the run exactly as
Dagster's run worker does (``dagster api execute_run``'s body, in a fresh instance), so a run
starts in a fraction of a second. Everything else is Dagster's default launcher:

- the warm process is replaced when the code server is (a reload in the UI, a restart), so runs
  always execute the code the UI shows; it ends when the launcher's process does;
- terminating a run from the UI interrupts its process as Dagster's own run worker is interrupted
  (SIGINT: the run is marked canceled);
- a run whose process dies without finishing the run (killed, out of memory) is marked failed
  with the exit status, instead of staying STARTED;
- if the warm process cannot start or load the code, or on a system without ``fork``, the run is
  launched by Dagster's default launcher instead, and an engine event on the run says why.

Configured in ``dagster.yaml``::

    run_launcher:
      module: funnel_assets.run_launcher
      class: ForkingRunLauncher
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import IO, Any

from dagster._core.launcher import DefaultRunLauncher, LaunchRunContext
from dagster._core.storage.dagster_run import DagsterRun
from dagster._serdes import ConfigurableClassData, deserialize_value, serialize_value

RUN_WORKER_TAG = "funnel/run_worker"
"""Tag on each run launched by a warm process: JSON ``{"host", "pid", "warm_pid"}``."""

READY_TIMEOUT_SECONDS = 300.0
"""How long a new warm process may take to load the code location before runs fall back."""

REPLY_TIMEOUT_SECONDS = 60.0
"""How long a warm process may take to fork a run's process and say its pid."""


class WarmProcessError(RuntimeError):
    """The warm process could not be started, could not load the code, or stopped answering."""


def _warm_process_command(executable: str, repository_origin: Any) -> list[str]:
    return [executable, "-m", "funnel_assets.run_launcher", serialize_value(repository_origin)]


class _WarmProcess:
    """The launcher's handle on one warm process: a child speaking JSON lines on its stdin/stdout."""

    def __init__(self, executable: str, repository_origin: Any, working_directory: str | None):
        self.process = subprocess.Popen(
            _warm_process_command(executable, repository_origin),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, text=True, bufsize=1,
            cwd=working_directory or None,
        )
        self.lock = threading.Lock()
        self.ready = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self, timeout: float) -> dict:
        stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        readable, _, _ = select.select([stdout], [], [], timeout)
        if not readable:
            raise WarmProcessError(f"warm process {self.pid} gave no answer within {timeout:.0f} s")
        line = stdout.readline()
        if not line:
            raise WarmProcessError(f"warm process {self.pid} ended (exit status {self.process.wait()})")
        try:
            return json.loads(line)
        except ValueError as error:
            raise WarmProcessError(f"warm process {self.pid} answered {line[:200]!r}") from error

    def wait_ready(self) -> None:
        if self.ready:
            return
        reply = self._read(READY_TIMEOUT_SECONDS)
        if "error" in reply:
            raise WarmProcessError(f"warm process {self.pid} could not load the code location:\n{reply['error']}")
        self.ready = True

    def fork_run(self, execute_run_args: Any) -> int:
        with self.lock:
            self.wait_ready()
            try:
                self.process.stdin.write(serialize_value(execute_run_args) + "\n")  # type: ignore[union-attr]
                self.process.stdin.flush()  # type: ignore[union-attr]
            except (BrokenPipeError, OSError) as error:
                raise WarmProcessError(f"warm process {self.pid} is gone ({error})") from error
            reply = self._read(REPLY_TIMEOUT_SECONDS)
        if "error" in reply:
            raise WarmProcessError(f"warm process {self.pid} could not fork the run: {reply['error']}")
        return int(reply["pid"])

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """Ends the warm process (its runs go on: they are processes of their own)."""
        if self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


class ForkingRunLauncher(DefaultRunLauncher):
    """Dagster's default run launcher, each run's process forked from a warm one (see the module)."""

    def __init__(self, inst_data: ConfigurableClassData | None = None):
        super().__init__(inst_data=inst_data)
        self._warm: dict[tuple, _WarmProcess] = {}
        self._warm_lock = threading.Lock()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> ForkingRunLauncher:
        return cls(inst_data=inst_data)

    # ---------------------------------------------------------------- launching

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin
        if origin is None or context.workspace is None or not hasattr(os, "fork"):
            super().launch_run(context)
            return
        warm = None
        try:
            warm = self._warm_process_for(context, run)
            pid = warm.fork_run(self._execute_run_args(run))
        except WarmProcessError as error:
            if warm is not None:
                self._discard(warm)
            self._instance.report_engine_event(
                f"Launching the run the default way (a new process from the code server): {error}",
                run, cls=self.__class__,
            )
            super().launch_run(context)
            return
        self._instance.add_run_tags(run.run_id, {RUN_WORKER_TAG: json.dumps({"host": socket.gethostname(), "pid": pid, "warm_pid": warm.pid})})
        self._run_ids.add(run.run_id)

    def _execute_run_args(self, run: DagsterRun):
        from dagster._grpc.types import ExecuteRunArgs

        return ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id, instance_ref=self._instance.get_ref(),
                              set_exit_code_on_failure=True)

    def _warm_process_for(self, context: LaunchRunContext, run: DagsterRun) -> _WarmProcess:
        origin = run.job_code_origin
        location_name = run.remote_job_origin.location_name if run.remote_job_origin else None
        code_location = context.workspace.get_code_location(location_name) if location_name else None
        # a code server's id changes when it restarts or reloads: then the code may have changed
        server_id = getattr(code_location, "server_id", None)
        repository_origin = origin.repository_origin
        key = (location_name, server_id, repository_origin.executable_path, serialize_value(repository_origin.code_pointer))
        with self._warm_lock:
            stale = [k for k, w in self._warm.items() if (k[0] == location_name and k != key) or not w.alive()]
            for k in stale:
                self._warm.pop(k).close()
            warm = self._warm.get(key)
            if warm is None:
                try:
                    warm = _WarmProcess(repository_origin.executable_path or sys.executable, repository_origin,
                                        repository_origin.code_pointer.working_directory)
                except OSError as error:
                    raise WarmProcessError(f"could not start a warm process: {error}") from error
                self._warm[key] = warm
        return warm

    def _discard(self, warm: _WarmProcess) -> None:
        with self._warm_lock:
            for key in [k for k, w in self._warm.items() if w is warm]:
                del self._warm[key]
        warm.close()

    # ---------------------------------------------------------------- terminating

    def terminate(self, run_id: str) -> bool:
        if not self.has_instance:
            return False
        run = self._instance.get_run_by_id(run_id)
        if not run or run.is_finished:
            return False
        worker = _run_worker(run)
        if worker is None:
            return super().terminate(run_id)
        self._instance.report_run_canceling(run)
        if worker["host"] != socket.gethostname():
            self._instance.report_engine_event(
                f"The run's process ({worker['pid']}) is on {worker['host']}; it can only be interrupted there.",
                run, cls=self.__class__,
            )
            return False
        try:
            # as Dagster's run worker is interrupted: SIGINT, turned into a clean cancellation
            os.kill(worker["pid"], signal.SIGINT)
        except ProcessLookupError:
            self._instance.report_engine_event(f"The run's process ({worker['pid']}) is not running.", run, cls=self.__class__)
            return False
        return True

    def dispose(self) -> None:
        with self._warm_lock:
            warm, self._warm = list(self._warm.values()), {}
        for w in warm:
            w.close()
        super().dispose()


def _run_worker(run: DagsterRun) -> dict | None:
    tag = run.tags.get(RUN_WORKER_TAG)
    if not tag:
        return None
    try:
        worker = json.loads(tag)
        return {"host": str(worker["host"]), "pid": int(worker["pid"])}
    except (ValueError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------- the warm process


_answers: IO[str] | None = None
"""The warm process's channel to its launcher: its original stdout. Its ``sys.stdout`` goes where its
logs go, so that nothing printed while loading the code can garble an answer."""


def _say(message: dict) -> None:
    assert _answers is not None
    _answers.write(json.dumps(message) + "\n")
    _answers.flush()


def _execute_forked_run(line: str) -> int:
    """In the forked child: the body of ``dagster api execute_run``, on a fresh instance, in the warm
    process's environment (as a run's process has its code server's)."""
    from dagster._cli.api import _execute_run_command_body
    from dagster._core.instance import DagsterInstance
    from dagster._grpc.types import ExecuteRunArgs
    from dagster._utils.interrupts import capture_interrupts

    args = deserialize_value(line, ExecuteRunArgs)
    with capture_interrupts(), DagsterInstance.from_ref(args.instance_ref) as instance:
        return _execute_run_command_body(args.run_id, instance, lambda _event: None,
                                         set_exit_code_on_failure=bool(args.set_exit_code_on_failure))


def _fork(line: str) -> int:
    pid = os.fork()
    if pid:
        return pid
    # the child: the run's own process; it never returns to the warm process's loop
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)  # the launcher's requests are the warm process's, not the run's
        os.close(devnull)
        if _answers is not None:
            _answers.close()  # and so are its answers
        signal.signal(signal.SIGINT, signal.default_int_handler)
        code = _execute_forked_run(line)
    except BaseException:  # noqa: BLE001 - anything escaping the run body ends this process, reported
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reap(children: dict[int, str]) -> None:
    """Collects ended runs' processes; marks failed a run whose process died before finishing it."""
    for pid in list(children):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            children.pop(pid)
            continue
        if done:
            line = children.pop(pid)
            if status != 0:
                _fail_unfinished_run(line, pid, status)


def _fail_unfinished_run(line: str, pid: int, status: int) -> None:
    from dagster._core.instance import DagsterInstance
    from dagster._grpc.types import ExecuteRunArgs

    try:
        args = deserialize_value(line, ExecuteRunArgs)
        with DagsterInstance.from_ref(args.instance_ref) as instance:
            run = instance.get_run_by_id(args.run_id)
            if run is not None and not run.is_finished:
                how = f"was killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exited with status {os.WEXITSTATUS(status)}"
                instance.report_run_failed(run, f"The run's process ({pid}) {how} before the run finished.")
    except Exception as error:  # noqa: BLE001 - the warm process outlives a failed report
        print(f"funnel_assets.run_launcher: could not report the end of run process {pid}: {error}", file=sys.stderr, flush=True)


def serve(serialized_repository_origin: str) -> int:
    """The warm process: load the code location once, then fork a run's process per request line."""
    import contextvars

    from dagster._core.secrets.env_file import get_env_var_dict
    from dagster._utils.hosted_user_process import recon_repository_from_origin

    global _answers
    _answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopped by its launcher closing stdin, not by Ctrl-C
    # as a code server does, whose processes the runs' would otherwise be: the working directory's .env
    os.environ.update(get_env_var_dict(os.getcwd()))
    try:
        repository_origin = deserialize_value(serialized_repository_origin)
        # loaded in a context of its own: each run loads the definitions afresh, as in a new process,
        # and finds its modules imported already
        contextvars.copy_context().run(lambda: recon_repository_from_origin(repository_origin).get_definition())
    except Exception:  # noqa: BLE001 - said to the launcher, which launches the default way instead
        import traceback

        _say({"error": traceback.format_exc()})
        return 1
    _say({"ready": True, "pid": os.getpid()})
    children: dict[int, str] = {}
    stdin = sys.stdin
    while True:
        readable, _, _ = select.select([stdin], [], [], 1.0)
        _reap(children)
        if not readable:
            continue
        line = stdin.readline()
        if not line:
            break  # the launcher is gone or disposed: runs still going carry on by themselves
        try:
            pid = contextvars.copy_context().run(_fork, line.strip())
        except OSError as error:
            _say({"error": str(error)})
            continue
        children[pid] = line.strip()
        _say({"pid": pid})
    deadline = time.monotonic() + 0.5
    while children and time.monotonic() < deadline:
        _reap(children)
        time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]))
