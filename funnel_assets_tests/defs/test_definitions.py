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


PIPELINE_ASSETS = {
    "marketing_leads", "marketing_lead_rejects", "zoom_sessions", "zoom_session_summary", "crm_assigned_leads", "crm_sales",
    "ad_spend", "spend_by_funnel", "touchpoints", "people", "attributed_leads", "sales_enriched", "funnel_daily", "bootcamp_attendance",
}


def test_nightly_job_covers_the_whole_pipeline_and_never_the_synthetic_world():
    repo = defs()
    job = repo.resolve_job_def("nightly_funnel_job")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert PIPELINE_ASSETS <= keys
    synthetic = {s.key.to_user_string() for s in repo.resolve_all_asset_specs() if s.group_name == "synthetic"}
    assert synthetic and not (keys & synthetic)
    assert isinstance(job.executor_def, type(dg.in_process_executor)) and job.executor_def.name == "in_process"


def test_nightly_schedule_runs_by_default_and_requests_yesterday_in_the_team_time_zone():
    from zoneinfo import ZoneInfo

    repo = defs()
    schedule = repo.resolve_schedule_def("nightly_funnel_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.execution_timezone == "Asia/Kolkata" and schedule.cron_schedule == "0 2 * * *"
    with dg.instance_for_test() as instance:
        tick = datetime(2026, 11, 21, 2, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-11-20"]
    assert requests[0].job_name == "nightly_funnel_job"


def test_marts_carry_a_freshness_policy():
    specs = {s.key.to_user_string(): s for s in defs().resolve_all_asset_specs()}
    for name in ("attributed_leads", "sales_enriched", "funnel_daily", "bootcamp_attendance"):
        assert specs[name].freshness_policy is not None, name


def test_resources_come_from_environment_variables():
    repo = defs()
    for name in ("warehouse", "leads_sheet", "project_config", "zoom_inbox", "exports"):
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


def _column_description_dicts() -> dict[str, dict[str, str]]:
    """Every module-level ``*COLUMNS`` dict of column name → description in the code location (what
    the assets pass to ``table_metadata``), once the definitions are loaded."""
    import sys

    defs()
    found = {}
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("funnel_assets."):
            continue
        for name, value in vars(module).items():
            if "COLUMNS" in name and isinstance(value, dict) and value and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                found[f"{module_name}.{name}"] = value
    return found


def test_column_descriptions_show_in_the_ui_as_written():
    """The UI renders a column description as markdown and drops what looks like HTML: "91 +
    10-digit mobile (or +<digits> abroad)" showed as "... (or + abroad)". column_schema escapes it."""
    import re

    import polars as pl

    from funnel_assets.defs.common import column_schema
    from funnel_assets.lib.text import markdown_html_tags

    dicts = _column_description_dicts()
    assert "funnel_assets.defs.leads_sheet.assets.LEAD_COLUMNS" in dicts and "funnel_assets.defs.zoom.assets.SESSION_COLUMNS" in dicts
    bracketed = 0
    for where, descriptions in dicts.items():
        schema = column_schema(pl.DataFrame(schema={c: pl.String for c in descriptions}), descriptions)
        for column in schema.columns:
            assert not markdown_html_tags(column.description), f"{where}[{column.name}]: {column.description!r}"
            # what markdown shows (a backslash before punctuation is dropped) is the description as written
            assert re.sub(r"\\([<>])", r"\1", column.description) == descriptions[column.name], where
            bracketed += "<" in descriptions[column.name]
    assert bracketed >= 5  # +<digits>, <webinar id>@<session date>, email:<email>, ...


def test_asset_check_sensor_and_job_descriptions_show_in_the_ui_as_written():
    from funnel_assets.lib.text import markdown_html_tags

    repo = defs()
    texts = {f"asset {s.key.to_user_string()}": s.description for s in repo.resolve_all_asset_specs()}
    for assets_def in repo.resolve_asset_graph().assets_defs:
        texts.update({f"check {c.key.name}": c.description for c in assets_def.check_specs})
    texts.update({f"sensor {s.name}": s.description for s in repo.sensors or []})
    texts.update({f"schedule {s.name}": s.description for s in repo.schedules or []})
    texts.update({f"job {j.name}": j.description for j in repo.resolve_all_job_defs()})
    assert any(k.startswith("sensor zoom_drop_folder_sensor") for k in texts)
    bad = {k: markdown_html_tags(v) for k, v in texts.items() if markdown_html_tags(v)}
    assert not bad, bad
