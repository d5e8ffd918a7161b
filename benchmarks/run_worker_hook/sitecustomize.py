"""Put on PYTHONPATH by the pipeline benchmark for the processes it starts (the run launcher's warm
process, Dagster's run worker): times each step's compute in that process, into the file
``FUNNEL_BENCH_COMPUTE_LOG`` names (benchmarks/compute_timer.py). Does nothing without it."""

import os

if os.environ.get("FUNNEL_BENCH_COMPUTE_LOG"):
    from benchmarks.compute_timer import append_to_compute_log, timing_compute

    # entered for the life of the process (a forked run's process inherits it); kept referenced, or
    # the context manager's generator, collected, would undo the timing at once
    _TIMING = timing_compute(append_to_compute_log(os.environ["FUNNEL_BENCH_COMPUTE_LOG"]))
    _TIMING.__enter__()
