"""A small code location for the run launcher's tests (funnel_assets_tests/test_run_launcher.py).

Its assets do what a real run does in a forked process (polars on its thread pool, files, events)
and what a launcher must cope with: a run that waits to be terminated, a run whose process dies.
Each writes what it saw to ``LAUNCHER_TEST_DIR``.
"""

import json
import os
import signal
import time
from pathlib import Path

import dagster as dg
import polars as pl


# code that prints while it loads must not garble what the warm process answers its launcher
print("launcher test code location: loading")


def _out(name: str) -> Path:
    return Path(os.environ["LAUNCHER_TEST_DIR"]) / name


@dg.asset
def revenue_by_funnel(context: dg.AssetExecutionContext) -> None:
    """A group-by on polars' thread pool, in the run's own process."""
    frame = pl.DataFrame({"funnel": ["a", "b", "a", "c", "b", "a"] * 50_000, "amount": list(range(300_000))})
    totals = frame.group_by("funnel").agg(pl.col("amount").sum()).sort("funnel")
    _out(f"{context.run_id}.json").write_text(json.dumps({"pid": os.getpid(), "totals": totals.rows()}))


@dg.asset
def waits_to_be_terminated(context: dg.AssetExecutionContext) -> None:
    """Says it started, then waits (up to two minutes) for the run to be terminated."""
    _out(f"{context.run_id}.started").write_text(str(os.getpid()))
    time.sleep(120)


@dg.asset
def dies() -> None:
    """The run's process is killed midway, as by the out-of-memory killer."""
    os.kill(os.getpid(), signal.SIGKILL)


sums_job = dg.define_asset_job("sums_job", selection=[revenue_by_funnel], executor_def=dg.in_process_executor)
waits_job = dg.define_asset_job("waits_job", selection=[waits_to_be_terminated], executor_def=dg.in_process_executor)
dies_job = dg.define_asset_job("dies_job", selection=[dies], executor_def=dg.in_process_executor)

defs = dg.Definitions(assets=[revenue_by_funnel, waits_to_be_terminated, dies], jobs=[sums_job, waits_job, dies_job])
