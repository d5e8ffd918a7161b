"""Run the benchmarks and print each figure with its ratios and goals.

    ./run bench                 # everything
    ./run bench warehouse_load  # one benchmark
    ./run bench --rows 200000   # smaller load (quick look)

Figures are measured side by side in one run on this machine; goals come from the issues.
"""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks import synthetic_saas, warehouse_load, zoom_ingest
from benchmarks.report import print_results

BENCHMARKS = {"warehouse_load": warehouse_load.run, "synthetic_saas": synthetic_saas.run, "zoom_ingest": zoom_ingest.run}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./run bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], help="benchmarks to run (default: all)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the warehouse load (default 1,000,000)")
    parser.add_argument("--zoom-files", type=int, default=20, help="Attendee Reports for zoom_ingest (default 20)")
    parser.add_argument("--zoom-rows", type=int, default=25_000, help="attendee rows per report for zoom_ingest (default 25,000)")
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
