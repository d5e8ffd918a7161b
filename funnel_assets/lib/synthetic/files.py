"""Writing the synthetic world's exports to disk, in each system's own format.

Used by the ``synthetic`` Dagster assets and by the ``funnel-generate`` command. Every file is
written atomically (a temporary name, then a rename), so a folder watcher never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from . import edtech
from .saas_amplitude import amplitude_events_ndjson
from .saas_world import SaasDatasets

EDTECH_TRUTH = ("people", "leads", "zoom_sessions", "zoom_attendance", "zoom_files", "assignments", "sales", "spend", "spend_by_campaign")


def write_atomically(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _target(folder: Path, name: str, content: bytes) -> tuple[Path, bool]:
    """Where a browser would save ``name`` (the same name, or ``name (1)``, ``(2)``...), and
    whether an identical file is already there (the same download twice)."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    candidate, n = folder / name, 0
    while candidate.exists():
        if candidate.read_bytes() == content:
            return candidate, True
        n += 1
        candidate = folder / (f"{stem} ({n}).{suffix}" if suffix else f"{stem} ({n})")
    return candidate, False


def save_zoom_files(folder: Path, files: list[tuple[str, bytes]]) -> list[tuple[str, Path, bool]]:
    """Drop Zoom report downloads into ``folder`` as a person would.

    Returns, per file: its download name, the path it is saved under, and whether it was written
    now (False when an identical file was already there, as when a day is generated again)."""
    saved = []
    for name, content in files:
        target, present = _target(folder, name, content)
        if not present:
            write_atomically(target, content)
        saved.append((name, target, not present))
    return saved


def write_zoom_files(folder: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    """Like ``save_zoom_files``; only the paths written now."""
    return [path for _, path, new in save_zoom_files(folder, files) if new]


def zoom_files_truth(day_truth: pl.DataFrame, day: date, saved: list[tuple[str, Path, bool]]) -> pl.DataFrame:
    """The day's ``zoom_files`` truth (one row per download, in order) with the day and the name
    each file was saved under."""
    if day_truth["file_name"].to_list() != [name for name, _, _ in saved]:
        raise ValueError(f"{day}: the zoom_files truth does not list the day's downloads in order")
    return day_truth.with_columns(
        saved_as=pl.Series([path.name for _, path, _ in saved], dtype=pl.String),
        dropped_on=pl.lit(day, pl.Date),
    )


def write_edtech_exports(
    config: edtech.EdtechConfig,
    *,
    seed: int,
    start: date,
    end: date,
    scale: float,
    timezone: str,
    leads_sheet: Path,
    crm_assigned_leads: Path,
    crm_sales: Path,
    spend_sheet: Path,
) -> tuple[list[Path], dict[str, pl.DataFrame]]:
    """The leads sheet, the CRM's full dumps and the spend sheet covering ``[start, end)``, and the
    ground truth behind them (one frame per kind, over the same days)."""
    as_of = end - timedelta(days=1)
    kw = dict(seed=seed, scale=scale, timezone=timezone)
    written = [
        write_atomically(leads_sheet, edtech.leads_sheet_csv(config, start=start, end=end, **kw).encode()),
        write_atomically(crm_assigned_leads, edtech.crm_assigned_leads_csv(config, as_of=as_of, start=start, **kw).encode()),
        write_atomically(crm_sales, edtech.crm_sales_csv(config, as_of=as_of, start=start, **kw).encode()),
        write_atomically(spend_sheet, edtech.spend_csv(config, start=start, end=end, **kw).encode()),
    ]
    days = edtech.simulate_edtech_days(config, start=start, end=end, **kw)
    truth = {name: pl.concat([d.truth[name] for d in days], how="diagonal_relaxed") for name in EDTECH_TRUTH} if days else {}
    return written, truth


def _api_json(frame: pl.DataFrame, envelope: dict) -> bytes:
    rows = json.loads(frame.write_json()) if frame.height else []
    return json.dumps({**envelope, "data": rows}, ensure_ascii=False, default=str).encode()


def write_saas_day(out: Path, datasets: SaasDatasets) -> list[Path]:
    """One day of the SaaS systems' exports: Amplitude NDJSON, Google Ads CSV, Facebook insights
    JSON, Pipedrive and Stripe API-style JSON."""
    day = datasets.day.isoformat()
    sim = datasets.simulated
    pipedrive = {"success": True, "additional_data": {"pagination": {"more_items_in_collection": False}}}
    return [
        write_atomically(out / "amplitude" / f"{day}.ndjson", amplitude_events_ndjson(sim.events)),
        write_atomically(out / "google_ads" / f"{day}.csv", sim.ad_rows_google.write_csv().encode()),
        write_atomically(out / "facebook_ads" / f"{day}.json", _api_json(sim.ad_rows_facebook, {"paging": {}})),
        write_atomically(out / "pipedrive" / "leads" / f"{day}.json", _api_json(datasets.crm_leads.drop("day"), pipedrive)),
        write_atomically(out / "pipedrive" / "activities" / f"{day}.json", _api_json(datasets.crm_activities.drop("day"), pipedrive)),
        write_atomically(out / "pipedrive" / "deals" / f"{day}.json", _api_json(datasets.crm_deals.drop("day"), pipedrive)),
        write_atomically(out / "stripe" / "subscriptions" / f"{day}.json", _api_json(datasets.subscriptions.drop("day"), {"object": "list", "has_more": False})),
    ]
