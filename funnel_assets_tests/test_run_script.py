"""The ``./run`` script's commands that need no data, run the way a user runs them on a fresh checkout."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _checkout(tmp_path: Path) -> Path:
    """The files ``./run`` reads, in a folder of their own (no .env, no data/ yet), sharing this venv."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("run", "pyproject.toml", "workspace.yaml", "dagster.yaml"):
        shutil.copy2(ROOT / name, checkout / name)
    shutil.copytree(ROOT / "deploy", checkout / "deploy")
    return checkout


def _run_env() -> dict[str, str]:
    venv = Path(sys.prefix)
    stamp = venv / f".installed-{hashlib.sha256((ROOT / 'pyproject.toml').read_bytes()).hexdigest()[:16]}"
    if not stamp.exists():
        pytest.skip(f"the tests do not run in a venv made by ./run (no {stamp.name} in {venv}): ./run would install into it")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "FUNNEL_"))}
    env["FUNNEL_VENV"] = str(venv)
    return env


def test_validate_works_on_a_fresh_checkout(tmp_path):
    # the instance's dagster.yaml reads DAGSTER_HOME: ./run validate must set it as ./run ui does
    checkout = _checkout(tmp_path)
    proc = subprocess.run(["bash", str(checkout / "run"), "validate"], cwd=tmp_path, env=_run_env(),
                          capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "All code locations passed validation" in output
    assert (checkout / ".env").is_file()
    assert (checkout / "data" / "dagster_home" / "sqlite" / "dagster.yaml").resolve() == (checkout / "dagster.yaml").resolve()


def test_demo_refuses_to_run_while_the_uis_daemon_runs_on_its_instance(tmp_path):
    """./run demo and ./run ui share the instance (data/dagster_home/sqlite) and the Zoom folder: with
    a daemon heartbeating there, the demo stops before writing anything and says what to do."""
    import time

    import dagster as dg
    from dagster._daemon.types import DaemonHeartbeat  # test only: what a running daemon writes

    checkout = _checkout(tmp_path)
    home = checkout / "data" / "dagster_home" / "sqlite"
    home.mkdir(parents=True)
    (home / "dagster.yaml").symlink_to(checkout / "dagster.yaml")
    env = _run_env()
    saved = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)  # the instance's dagster.yaml reads it
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.add_daemon_heartbeat(DaemonHeartbeat(time.time(), "SENSOR", "dagster-dev"))
    finally:
        if saved is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = saved
    env["PYTHONPATH"] = str(ROOT)  # the code under test, as the venv's editable install would give it
    proc = subprocess.run(["bash", str(checkout / "run"), "demo", "--days", "2"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "./run ui (its Dagster daemon) is running on this instance" in output and "Stop ./run ui" in output
    assert "FUNNEL_START_DATE=\n" in (checkout / ".env").read_text()  # the demo changed nothing
    assert not (checkout / "data" / "demo").exists() and not (checkout / "data" / "inbox").exists()
