"""funnel-generate: write the synthetic world's exports to a folder, without Dagster.

    funnel-generate --start 2025-01-01 --days 90 --scale 0.1 --out /tmp/world

Layout of the output folder:

    amplitude/<day>.ndjson            Amplitude events (one JSON object per line)
    google_ads/<day>.csv              Google Ads campaign rows
    facebook_ads/<day>.json           Facebook Ads insights ({"data": [...]})
    pipedrive/{leads,activities,deals}/<day>.json    Pipedrive API-style responses
    stripe/subscriptions/<day>.json   Stripe subscriptions created or updated that day
    stripe/products.json, stripe/plans.json
    zoom/                             Zoom Registration and Attendee Reports, as downloaded
    leads_sheet.csv                   the performance-marketing leads sheet export
    crm/assigned_leads.csv, crm/sales.csv    the CRM's full dumps as of the last day
    spend_sheet.csv                   the spend sheet
    truth/*.parquet                   the ground truth behind all of it

The same arguments always produce byte-identical files.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from tqdm import tqdm

from funnel_assets.lib.settings import PROJECT_ROOT, load_settings
from funnel_assets.lib.synthetic import edtech
from funnel_assets.lib.synthetic.files import _api_json, save_zoom_files, write_atomically, write_edtech_exports, write_saas_day, zoom_files_truth
from funnel_assets.lib.synthetic.saas_config import load_saas_config
from funnel_assets.lib.synthetic.saas_world import SaasWorld


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; write it as YYYY-MM-DD") from None


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="funnel-generate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=_day, required=True, help="first day of the world (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, default=30, help="how many days to generate (default 30)")
    parser.add_argument("--scale", type=float, default=0.1, help="SaaS volume; 1.0 = the seeds' full scale, 75K sessions a day (default 0.1)")
    parser.add_argument("--edtech-scale", type=float, default=1.0, help="ed-tech volume; 1.0 = ~300 sheet leads a day (default 1.0)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--config-dir", type=Path, default=PROJECT_ROOT / "data" / "config" / "synthetic")
    parser.add_argument("--timezone", default=settings.timezone, help=f"the ed-tech team's time zone (default {settings.timezone})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    args = parser.parse_args(argv)
    if args.days < 1 or args.scale <= 0 or args.edtech_scale <= 0:
        parser.error("--days, --scale and --edtech-scale must be positive")

    began = time.perf_counter()
    saas = SaasWorld(load_saas_config(args.config_dir), seed=args.seed, scale=args.scale, world_start=args.start)
    ed_config = edtech.load_edtech_config(args.config_dir)
    end = args.start + timedelta(days=args.days)
    out: Path = args.out
    files = 0
    forms, outcomes, zoom_truth = [], [], []
    days = [args.start + timedelta(days=i) for i in range(args.days)]
    for day in tqdm(days, desc="simulating days", unit="day", disable=args.no_progress, file=sys.stderr):
        datasets = saas.datasets(day)
        files += len(write_saas_day(out, datasets))
        forms.append(datasets.simulated.form_fills)
        outcomes.append(datasets.simulated.outcomes)
        ed_day = edtech.simulate_edtech_day(ed_config, seed=args.seed, day=day, scale=args.edtech_scale, timezone=args.timezone)
        saved = save_zoom_files(out / "zoom", ed_day.zoom_files)
        files += sum(new for _, _, new in saved)
        zoom_truth.append(zoom_files_truth(ed_day.truth["zoom_files"], day, saved))
    for name, frame in saas.catalog().items():
        write_atomically(out / "stripe" / f"{name.removeprefix('stripe_')}.json", _api_json(frame, {"object": "list", "has_more": False}))
        files += 1
    written, truth = write_edtech_exports(
        ed_config, seed=args.seed, start=args.start, end=end, scale=args.edtech_scale, timezone=args.timezone,
        leads_sheet=out / "leads_sheet.csv",
        crm_assigned_leads=out / "crm" / "assigned_leads.csv", crm_sales=out / "crm" / "sales.csv", spend_sheet=out / "spend_sheet.csv",
    )
    files += len(written)
    truth["zoom_files"] = pl.concat(zoom_truth, how="diagonal_relaxed")  # with the names the files were saved under
    (out / "truth").mkdir(parents=True, exist_ok=True)
    for name, frame in {**{f"edtech_{k}": v for k, v in truth.items()},
                        "saas_form_fills": pl.concat(forms, how="diagonal_relaxed"),
                        "saas_outcomes": pl.concat(outcomes, how="diagonal_relaxed")}.items():
        frame.write_parquet(out / "truth" / f"{name}.parquet")
        files += 1
    print(f"wrote {files} files for {args.start} .. {end - timedelta(days=1)} to {out} in {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
