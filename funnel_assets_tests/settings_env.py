"""The project's settings for a test: ``deploy/defaults.env`` with every path moved into tmp_path.

Runs that go through the real definitions resolve every resource's ``EnvVar`` from the
environment, so a test sets them all, exactly as ``./run`` does from ``deploy/defaults.env``.
"""

from __future__ import annotations

from pathlib import Path

from funnel_assets.lib.settings import PROJECT_ROOT

DEFAULTS_FILE = PROJECT_ROOT / "deploy" / "defaults.env"


def read_env_file(path: Path) -> dict[str, str]:
    """The plain ``NAME=value`` lines of a settings file (what ``./run`` exports from it)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
    return out


def defaults() -> dict[str, str]:
    return read_env_file(DEFAULTS_FILE)


def pipeline_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Every FUNNEL_ setting, with the warehouse, the sources, the drop folder and the exports under tmp_path."""
    env = {k: v for k, v in defaults().items() if k.startswith("FUNNEL_")}
    env.update(
        FUNNEL_WAREHOUSE_URL=f"sqlite:///{tmp_path / 'warehouse.sqlite'}",
        FUNNEL_CONFIG_DIR=str(PROJECT_ROOT / "data" / "config"),
        FUNNEL_EXPORTS_DIR=str(tmp_path / "exports"),
        FUNNEL_LEADS_SHEET=str(tmp_path / "inputs" / "leads_sheet.csv"),
        FUNNEL_ZOOM_INBOX=str(tmp_path / "inbox" / "zoom"),
        FUNNEL_CRM_ASSIGNED_LEADS=str(tmp_path / "inputs" / "crm" / "assigned_leads.csv"),
        FUNNEL_CRM_SALES=str(tmp_path / "inputs" / "crm" / "sales.csv"),
        FUNNEL_SPEND_SHEET=str(tmp_path / "inputs" / "spend_sheet.csv"),
    )
    env.update(overrides)
    return env
