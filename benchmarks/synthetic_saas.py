"""One day of the SaaS world at full scale: the vectorised simulation vs a per-event Python one.

- ours: ``saas_journeys.simulate_saas_day`` for a mid-window day (the 60th after world_start),
  cold (empty cohort cache: every live cohort is planned) and warm (the previous day was just
  generated, so one new cohort is planned), including the Amplitude events, form fills,
  outcomes and ad rows.
- reference: ``saas_reference.simulate_day_reference``, the same rules one person, session and
  event at a time with ``random.Random`` (seed 001's style), also cold and warm. If a full
  reference day would take too long it is measured at a fraction of the scale and
  extrapolated linearly (its work is linear in people, sessions and events); a note says so.
- peak memory: tracemalloc's peak (Python + numpy allocations; polars' Rust buffers are not
  traced) and the process's max RSS.

Goal (issue): a full-scale day (75K sessions) in <= 2 s on this 2-core machine, and >= 20x the
per-event implementation, measured side by side.
"""

from __future__ import annotations

import gc
import resource
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

from benchmarks.report import Figure, Goal, Results
from funnel_assets.lib.synthetic import saas_journeys, saas_reference
from funnel_assets.lib.synthetic.saas_config import load_saas_config

CONFIG_DIR = Path(__file__).resolve().parents[1] / "data" / "config" / "synthetic"
WORLD_START = date(2025, 1, 1)
DAY = WORLD_START + timedelta(days=60)
SEED = 20250101


def _timed(fn):
    gc.collect()
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def run(args) -> Results:
    scale = float(getattr(args, "saas_scale", 1.0))
    ref_scale = float(getattr(args, "saas_reference_scale", 0.0)) or min(scale, 0.25)
    config = load_saas_config(CONFIG_DIR)
    results = Results()

    # ours, cold then warm (previous day generated first, untimed). The name tables (built once
    # per process from Faker's lists, ~0.2 s with the import) are built before the clock starts.
    saas_journeys.simulate_saas_day(config, seed=SEED + 1, day=WORLD_START, scale=0.01, world_start=WORLD_START)
    saas_journeys.clear_caches()
    day, cold = _timed(lambda: saas_journeys.simulate_saas_day(config, seed=SEED, day=DAY, scale=scale, world_start=WORLD_START))
    # peak memory of a cold day, measured in a separate run (tracemalloc slows numpy down ~2x)
    saas_journeys.clear_caches()
    gc.collect()
    tracemalloc.start()
    saas_journeys.simulate_saas_day(config, seed=SEED, day=DAY, scale=scale, world_start=WORLD_START)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    saas_journeys.clear_caches()
    saas_journeys.simulate_saas_day(config, seed=SEED, day=DAY - timedelta(days=1), scale=scale, world_start=WORLD_START)
    warm_runs = []
    for _ in range(3):  # the same warm day three times: the cache then holds every cohort it needs
        _, seconds = _timed(lambda: saas_journeys.simulate_saas_day(config, seed=SEED, day=DAY, scale=scale, world_start=WORLD_START))
        warm_runs.append(seconds)
    warm = warm_runs[0]
    sessions, events = day.sessions.height, day.events.height
    results.figures.append(Figure("ours cold (every live cohort planned)", cold, events, "events",
                                  f"{sessions:,} sessions, {events:,} events, {day.form_fills.height:,} forms, {day.outcomes.height:,} outcomes"))
    results.figures.append(Figure("ours warm (day before generated)", warm, events, "events",
                                  f"repeats: {', '.join(f'{s:.3f}' for s in warm_runs[1:])} s"))

    # the per-event reference, cold and warm, at ref_scale
    cache: dict = {}
    ref, ref_cold = _timed(lambda: saas_reference.simulate_day_reference(config, seed=SEED, day=DAY, scale=ref_scale, world_start=WORLD_START, cache=cache))
    cache.clear()
    saas_reference.simulate_day_reference(config, seed=SEED, day=DAY - timedelta(days=1), scale=ref_scale, world_start=WORLD_START, cache=cache)
    _, ref_warm = _timed(lambda: saas_reference.simulate_day_reference(config, seed=SEED, day=DAY, scale=ref_scale, world_start=WORLD_START, cache=cache))
    factor = scale / ref_scale
    ref_events = ref["events"].height
    suffix = f" (measured at scale {ref_scale:g}, x{factor:g})" if factor != 1 else ""
    results.figures.append(Figure("per-event Python reference cold" + suffix, ref_cold * factor, int(ref_events * factor), "events",
                                  f"measured {ref_cold:.2f} s for {ref['sessions'].height:,} sessions, {ref_events:,} events"))
    results.figures.append(Figure("per-event Python reference warm" + suffix, ref_warm * factor, int(ref_events * factor), "events",
                                  f"measured {ref_warm:.2f} s"))
    if factor != 1:
        results.notes.append(f"the reference ran at scale {ref_scale:g} and was extrapolated x{factor:g} to scale {scale:g} "
                             "(a full reference day takes about a minute cold); its work is linear in people, sessions and events")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.notes.append(f"peak memory of the cold day: tracemalloc {peak / 2**20:,.0f} MiB (Python + numpy); process max RSS {rss_mb:,.0f} MiB "
                         "(includes the reference's run and polars' buffers)")
    volumes = saas_journeys.expected_daily_volumes(config, scale)
    results.notes.append(f"day {DAY} at scale {scale:g}: {sessions:,} sessions (expected {volumes['sessions']:,.0f}: "
                         f"{volumes['prospect_sessions']:,.0f} prospect + {volumes['regular_sessions']:,.0f} from "
                         f"{volumes['regular_visitors']:,} established visitors)")
    paid = day.outcomes.filter(day.outcomes["kind"] != "trial_expired").height
    trials = (day.form_fills["form_type"] == "trial_signup").sum()
    results.notes.append(f"funnel that day: {day.form_fills.height:,} form fills, {trials:,} trials, {paid:,} new paying customers "
                         f"(expected a day {volumes['form_fills']:,.0f} / {volumes['trials']:,.0f} / {volumes['paid']:,.1f}; "
                         "seed 000: ~82K / ~29K / ~12.8K a year = ~225 / ~79 / ~35 a day)")
    results.goals.append(Goal("ours warm day at full scale, seconds", warm, 2.0, higher_is_better=False))
    results.goals.append(Goal("ours cold day at full scale, seconds", cold, 2.0, higher_is_better=False))
    results.goals.append(Goal("speed-up warm vs per-event reference warm", ref_warm * factor / warm, 20.0))
    results.goals.append(Goal("speed-up cold vs per-event reference cold", ref_cold * factor / cold, 20.0))
    return results


if __name__ == "__main__":  # python -m benchmarks.synthetic_saas
    import argparse

    from benchmarks.report import print_results

    parser = argparse.ArgumentParser()
    parser.add_argument("--saas-scale", type=float, default=1.0)
    parser.add_argument("--saas-reference-scale", type=float, default=0.0)
    print_results(run(parser.parse_args()))
