"""The synthetic world's settings (demo and tests only; never part of the production run)."""

from datetime import date
from pathlib import Path

import dagster as dg
from pydantic import Field

from funnel_assets.defs.common import SETTINGS
from funnel_assets.lib.settings import PROJECT_ROOT


def _path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


class SyntheticWorldResource(dg.ConfigurableResource):
    """Seed, scales and start of the simulated world: the same settings always give the same data."""

    seed: int = Field(default=7, description="Random seed of the world: change it for a different, equally realistic world")
    saas_scale: float = Field(default=0.02, description="SaaS volume; 1.0 = the seeds' full scale (75K web sessions a day)")
    edtech_scale: float = Field(default=1.0, description="Ed-tech volume; 1.0 = ~300 sheet leads a day")
    world_start: str = Field(default=SETTINGS.start_date.isoformat(), description="First day of the world (YYYY-MM-DD)")

    def start(self) -> date:
        return date.fromisoformat(self.world_start)


class DemoFilesResource(dg.ConfigurableResource):
    """Where the synthetic world leaves the files a real team would download or receive."""

    zoom_inbox: str = Field(description="The watched folder for Zoom reports (FUNNEL_ZOOM_INBOX)")
    leads_sheet: str = Field(description="Where the leads sheet export is written (FUNNEL_LEADS_SHEET)")
    crm_assigned_leads: str = Field(default="data/demo/crm/assigned_leads.csv", description="Where the CRM's assigned-leads dump is written (FUNNEL_CRM_ASSIGNED_LEADS)")
    crm_sales: str = Field(default="data/demo/crm/sales.csv", description="Where the CRM's sales dump is written (FUNNEL_CRM_SALES)")
    spend_sheet: str = Field(default="data/demo/spend_sheet.csv", description="Where the spend sheet export is written (FUNNEL_SPEND_SHEET)")

    def zoom_inbox_path(self) -> Path:
        return _path(self.zoom_inbox)

    def leads_sheet_path(self) -> Path:
        return _path(self.leads_sheet)

    def crm_assigned_leads_path(self) -> Path:
        return _path(self.crm_assigned_leads)

    def crm_sales_path(self) -> Path:
        return _path(self.crm_sales)

    def spend_sheet_path(self) -> Path:
        return _path(self.spend_sheet)
