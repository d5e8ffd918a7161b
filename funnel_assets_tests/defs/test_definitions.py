"""The code location loads, validates, and every asset is documented for its users."""

from datetime import datetime, timezone

import dagster as dg
import pytest

from funnel_assets.defs.common import daily_partitions
from funnel_assets.definitions import defs


def test_definitions_load_and_validate():
    dg.Definitions.validate_loadable(defs())


def test_every_asset_has_group_kinds_description():
    repo = defs()
    specs = list(repo.resolve_all_asset_specs())
    assert specs, "no assets found under defs/"
    for spec in specs:
        name = spec.key.to_user_string()
        assert spec.group_name and spec.group_name != "default", f"{name} has no group"
        assert spec.kinds, f"{name} has no kinds"
        assert spec.description and len(spec.description) > 40, f"{name} needs an owner-facing description"


def test_daily_job_covers_the_leads_sheet():
    job = defs().resolve_job_def("daily_funnel_job")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert {"marketing_leads", "marketing_lead_rejects"} <= keys


def test_resources_come_from_environment_variables():
    repo = defs()
    for name in ("warehouse", "leads_sheet", "project_config"):
        assert name in repo.resources


@pytest.mark.parametrize(
    "now_utc, last_key",
    [
        # 06:30 IST on the 21st: the last complete day is the 20th
        (datetime(2026, 11, 21, 1, 0, tzinfo=timezone.utc), "2026-11-20"),
        # 00:30 IST on the 21st is still the 20th in UTC, but the team's day is the 21st
        (datetime(2026, 11, 20, 19, 0, tzinfo=timezone.utc), "2026-11-20"),
        # 23:30 IST on the 20th: the 20th is not over yet, D-1 is the 19th
        (datetime(2026, 11, 20, 18, 0, tzinfo=timezone.utc), "2026-11-19"),
    ],
)
def test_last_partition_is_yesterday_in_the_team_time_zone(now_utc, last_key):
    assert daily_partitions.timezone == "Asia/Kolkata"
    with dg.partition_loading_context(effective_dt=now_utc):
        assert daily_partitions.get_last_partition_key() == last_key
    assert daily_partitions.get_first_partition_key() == "2025-01-01"


def test_dagster_cli_validates_without_warnings_from_our_code(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    env.update(DAGSTER_HOME=str(tmp_path), PYTHONWARNINGS="default")
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "All code locations passed validation" in output
    ours = [line for line in output.splitlines() if "Warning" in line and ("funnel_assets/" in line or "does not match the name" in line)]
    assert not ours, "\n".join(ours)
