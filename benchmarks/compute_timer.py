"""Seconds spent inside each step's compute generator: what the benchmarks call compute.

Every call into a step's compute generator is timed (Dagster's ``_yield_compute_results`` is
wrapped), so compute covers the asset's own code, its reads and writes and its log calls, and
excludes what Dagster does with what the body yields (outputs, materialization and check events),
run and plan creation, resource set-up and the step/run events.

In the benchmark's own process, ``ComputeTimer`` collects the seconds. In a run's process of its
own (a forked or spawned run worker), ``run_worker_hook/sitecustomize.py`` installs the same timer
when ``FUNNEL_BENCH_COMPUTE_LOG`` names a file, and appends a line per step to it
(``read_compute_log`` reads them back).
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

COMPUTE_LOG_ENV = "FUNNEL_BENCH_COMPUTE_LOG"


@contextlib.contextmanager
def timing_compute(record: Callable[[str, str, float], None]):
    """Wraps Dagster's step compute so that ``record(run_id, step_key, seconds)`` is called for each
    step once its compute generator is exhausted (or raised)."""
    from dagster._core.execution.plan import compute

    original = compute._yield_compute_results

    def timed(step_context, inputs, compute_fn, compute_context):
        run_id, step_key = step_context.dagster_run.run_id, step_context.step.key
        results = original(step_context, inputs, compute_fn, compute_context)
        spent = 0.0
        try:
            while True:
                began = time.perf_counter()
                try:
                    item = next(results)
                except StopIteration:
                    spent += time.perf_counter() - began
                    return
                except BaseException:
                    spent += time.perf_counter() - began
                    raise
                spent += time.perf_counter() - began
                yield item
        finally:
            record(run_id, step_key, spent)

    compute._yield_compute_results = timed
    try:
        yield
    finally:
        compute._yield_compute_results = original


@dataclass
class ComputeTimer:
    """Seconds spent inside each step's compute generator, per (run id, step key), in this process."""

    seconds: dict = field(default_factory=lambda: defaultdict(float))

    def record(self, run_id: str, step_key: str, seconds: float) -> None:
        self.seconds[(run_id, step_key)] += seconds

    @contextlib.contextmanager
    def installed(self):
        with timing_compute(self.record):
            yield self

    def for_run(self, run_id: str) -> dict[str, float]:
        return {step: s for (run, step), s in self.seconds.items() if run == run_id}


def append_to_compute_log(path: str) -> Callable[[str, str, float], None]:
    def record(run_id: str, step_key: str, seconds: float) -> None:
        with open(path, "a", encoding="utf-8") as log:  # one short append per step: whole lines
            log.write(f"{run_id}\t{step_key}\t{seconds:.6f}\n")

    return record


def read_compute_log(path: Path, run_id: str) -> dict[str, float]:
    seconds: dict[str, float] = defaultdict(float)
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            run, step, spent = line.split("\t")
            if run == run_id:
                seconds[step] += float(spent)
    return dict(seconds)
