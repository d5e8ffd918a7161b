"""Run the benchmarks and print each figure with its ratios and goals.

    ./run bench                 # everything
    ./run bench warehouse_load  # one benchmark
    ./run bench --rows 200000   # smaller load (quick look)
    ./run bench pipeline --pipeline-days 90   # the whole pipeline: a 90-day backfill and the D-1 run

Figures are measured side by side in one run on this machine; goals come from the issues.
"""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks import pipeline, synthetic_saas, warehouse_load, zoom_ingest
from benchmarks.report import print_results

BENCHMARKS = {"warehouse_load": warehouse_load.run, "synthetic_saas": synthetic_saas.run, "zoom_ingest": zoom_ingest.run,
              "pipeline": pipeline.run}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], help="benchmarks to run (default: all)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the warehouse load (default 1,000,000)")
    parser.add_argument("--zoom-files", type=int, default=20, help="Attendee Reports for zoom_ingest (default 20)")
    parser.add_argument("--zoom-rows", type=int, default=25_000, help="attendee rows per report for zoom_ingest (default 25,000)")
    parser.add_argument("--pipeline-days", type=int, default=90, help="days in the pipeline benchmark's backfill (default 90)")
    parser.add_argument("--pipeline-scale", type=float, default=1.0, help="ed-tech world volume for the pipeline benchmark (default 1.0, full scale)")
    parser.add_argument("--pipeline-warehouse-url", default=None, help="warehouse for the pipeline benchmark (default: a SQLite file in a temp folder)")
    parser.add_argument("--pipeline-instance", choices=["sqlite", "postgres"], default="sqlite",
                        help="pipeline benchmark: the Dagster instance's storage (default sqlite; postgres: a throw-away database on FUNNEL_BENCH_POSTGRES_URL)")
    parser.add_argument("--pipeline-profile", action="store_true", help="pipeline benchmark: print a cProfile of the D-1 run")
    parser.add_argument("--pipeline-keep", action="store_true", help="keep the pipeline benchmark's temp folder (instance, warehouse, logs)")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    started = time.perf_counter()
    all_ok = True
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        results = BENCHMARKS[name](args)
        all_ok &= print_results(results)
    print(f"\nall benchmarks done in {time.perf_counter() - started:.0f} s; goals {'met' if all_ok else 'NOT all met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
