"""What a new user sees from ``./run demo`` (issue 12, item 9), without running the whole demo:
its summary's sales figures, the first day it gives the UI's partitions, and that it does not
run alongside ``./run ui``'s daemon. The whole demo runs in test_end_to_end.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._daemon.types import DaemonHeartbeat  # test only: how a running daemon marks the instance

from funnel_assets import demo
from funnel_assets.lib.settings import PROJECT_ROOT, load_settings
from funnel_assets.lib.warehouse import Warehouse
from funnel_assets_tests.settings_env import DEFAULTS_FILE, pipeline_env, read_env_file


# ============================================================================= the summary


def test_the_summarys_sales_figures_say_what_they_count(tmp_path):
    """Today's main printed "4 sales, net 92,000": a count with the refunded sale in it next to an
    amount without it (and without the sale whose status is blank, which funnel_daily counts)."""
    db = Warehouse(f"sqlite:///{tmp_path / 'wh.sqlite'}")
    db.replace_table("sales_enriched", pl.DataFrame({
        "sale_id": ["6aa0a0d842aa871525cd1772", "6aa0a8420011", "6aa44c4d0b13", "6aa58613376e"],
        "final_funnel": ["ACCA Webinar", "ACCA Webinar", "CMA Bootcamp", "Referral"],
        "status": ["success", "Refunded", None, "success"],
        "net_amount": [50000.0, 42000.5, 30000.0, 12000.0],
    }))
    db.replace_table("funnel_daily", pl.DataFrame({
        "day": [date(2026, 9, 8), date(2026, 9, 9), date(2026, 9, 9)],
        "funnel": ["ACCA Webinar", "CMA Bootcamp", "Referral"],
        "leads": [40, 12, 0], "registrations": [20, 6, 0], "attendees": [9, 3, 0], "sales_handover": [7, 2, 1],
        "conversions": [1, 1, 1], "refunds": [1, 0, 0], "net_revenue": [50000.0, 30000.0, 12000.0], "spend": [8000.0, 2000.0, 0.0],
    }))
    lines = demo.sales_lines(db)
    assert lines[0] == ("  sales_enriched: 4 sales (1 refunded); net revenue 92,000 from the 3 not refunded; "
                        "by FINAL FUNNEL (sales, refunded among them, net revenue):")
    assert lines[1:4] == [
        "         2    1 refunded         50,000  ACCA Webinar",
        "         1    0 refunded         30,000  CMA Bootcamp",
        "         1    0 refunded         12,000  Referral",
    ]
    assert lines[4] == ("  funnel_daily: 3 rows (day x funnel x program); totals: 52 leads, 26 registrations, 12 attendees, 10 handed over, "
                        "4 sales (1 refunded), net revenue 92,000 from the 3 not refunded, spend 10,000, ROAS 9.20")


# ============================================================================= the partitions' first day


def _fresh_dotenv(tmp_path: Path) -> Path:
    """The .env ./run writes on a fresh checkout: the header, then every line of deploy/defaults.env."""
    env_file = tmp_path / ".env"
    defaults = [line for line in DEFAULTS_FILE.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    env_file.write_text("# funnel-assets settings\n" + "\n".join(defaults) + "\n", encoding="utf-8")
    return env_file


def _first_partition_seen_by_the_ui(env: dict[str, str]) -> str:
    """The first daily partition as Dagster loads the code location with these settings (./run ui)."""
    code = "from funnel_assets.defs.common import daily_partitions; print(daily_partitions.get_first_partition_key())"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FUNNEL_")}
    proc = subprocess.run([sys.executable, "-c", code], env={**clean, **env, "PYTHONPATH": str(PROJECT_ROOT)},
                          capture_output=True, text=True, timeout=120, check=True)
    return proc.stdout.strip().splitlines()[-1]


def test_the_ui_shows_partitions_from_the_demos_first_day(tmp_path, monkeypatch):
    """Today's main: the partitions start at 2025-01-01 while the demo simulates the last 90 days,
    so the UI shows hundreds of missing days before the data. The shipped default is now empty;
    the demo sets FUNNEL_START_DATE to its first day, in .env too, and moves it on the next run."""
    env_file = _fresh_dotenv(tmp_path)
    assert read_env_file(env_file)["FUNNEL_START_DATE"] == ""
    monkeypatch.setenv("FUNNEL_START_DATE", "")
    settings = load_settings({"FUNNEL_TIMEZONE": "Asia/Kolkata"})
    first = settings.yesterday() - timedelta(days=89)

    start, note = demo.choose_start_date(settings, days=90, env_file=env_file)
    assert start == first and os.environ["FUNNEL_START_DATE"] == first.isoformat()
    assert note and str(env_file) in note
    written = read_env_file(env_file)
    assert written["FUNNEL_START_DATE"] == first.isoformat() and written["FUNNEL_TIMEZONE"] == "Asia/Kolkata"
    assert _first_partition_seen_by_the_ui(written) == first.isoformat()

    # the next demo run (./run exports .env first) moves the date it wrote; one line, one marker
    monkeypatch.setenv("FUNNEL_START_DATE", written["FUNNEL_START_DATE"])
    start, _ = demo.choose_start_date(settings, days=30, env_file=env_file)
    assert start == settings.yesterday() - timedelta(days=29) and read_env_file(env_file)["FUNNEL_START_DATE"] == start.isoformat()
    text = env_file.read_text(encoding="utf-8")
    assert text.count("FUNNEL_START_DATE=") == 2 and text.count("# set by ./run demo") == 1  # the marker names the date


def test_a_start_date_the_user_wrote_is_kept(tmp_path, monkeypatch):
    env_file = _fresh_dotenv(tmp_path)
    env_file.write_text(env_file.read_text(encoding="utf-8").replace("FUNNEL_START_DATE=\n", "FUNNEL_START_DATE=2025-01-01\n"))
    before = env_file.read_text(encoding="utf-8")
    monkeypatch.setenv("FUNNEL_START_DATE", "2025-01-01")
    settings = load_settings({"FUNNEL_TIMEZONE": "Asia/Kolkata", "FUNNEL_START_DATE": "2025-01-01"})
    start, note = demo.choose_start_date(settings, days=90, env_file=env_file)
    assert start == settings.yesterday() - timedelta(days=89)
    assert env_file.read_text(encoding="utf-8") == before and os.environ["FUNNEL_START_DATE"] == "2025-01-01"
    assert "FUNNEL_START_DATE=2025-01-01 (your setting)" in note and "missing partitions" in note

    # a date the user wrote over the demo's (the marker's date no longer matches) is kept too
    demo.write_dotenv_start_date(env_file, date(2026, 9, 9))
    env_file.write_text(env_file.read_text(encoding="utf-8").replace("FUNNEL_START_DATE=2026-09-09\n", "FUNNEL_START_DATE=2026-10-01\n"))
    monkeypatch.setenv("FUNNEL_START_DATE", "2026-10-01")
    kept = env_file.read_text(encoding="utf-8")
    demo.choose_start_date(load_settings({"FUNNEL_START_DATE": "2026-10-01"}), days=90, env_file=env_file)
    assert env_file.read_text(encoding="utf-8") == kept


# ============================================================================= ./run demo while ./run ui runs


def test_the_demo_does_not_run_alongside_the_uis_daemon(tmp_path, monkeypatch):
    """./run ui's daemon runs zoom_drop_folder_sensor on the same instance and folder: the demo,
    which files that folder itself, refuses to start (before writing anything) while it runs."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    for key, value in {**pipeline_env(tmp_path), "DAGSTER_HOME": str(home)}.items():
        monkeypatch.setenv(key, value)
    with dg.DagsterInstance.get() as instance:
        assert demo.running_daemon(instance) is None
        instance.add_daemon_heartbeat(DaemonHeartbeat(time.time() - 200, "SENSOR", "stopped-daemon"))
        assert demo.running_daemon(instance) is None  # ./run ui stopped minutes ago
        instance.add_daemon_heartbeat(DaemonHeartbeat(time.time() - 12, "SENSOR", "running-daemon"))
        kind, age = demo.running_daemon(instance)
        assert kind == "SENSOR" and 11 <= age < 75

    with pytest.raises(SystemExit) as refused:
        demo.main(["--days", "3", "--env-file", str(tmp_path / ".env")])
    message = str(refused.value)
    assert "./run ui" in message and "zoom_drop_folder_sensor" in message and "Stop ./run ui" in message
    assert not (tmp_path / "inbox").exists() and not (tmp_path / "inputs").exists() and not (tmp_path / ".env").exists()
