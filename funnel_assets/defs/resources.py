"""Resources: where the warehouse, the sources and the editable configuration are.

Every field that differs between machines comes from an environment variable (``dg.EnvVar``),
resolved when a run starts, never at import time. ``./run`` writes defaults for all of them to
``.env`` (which Dagster's CLI loads); see README, "Configuration".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr

from funnel_assets.lib.attribution import (
    MANUAL_MAPPING_FILE,
    SETTINGS_FILE as ATTRIBUTION_SETTINGS_FILE,
    AttributionSettings,
    ManualMapping,
    load_attribution_settings,
    load_manual_mapping,
)
from funnel_assets.lib.config import FunnelMapping, load_funnel_mapping
from funnel_assets.lib.fetch import FetchedCSV, fetch_csv
from funnel_assets.lib.settings import PROJECT_ROOT, load_settings
from funnel_assets.lib.shrink_guard import SHRINK_GUARD_FILE, ShrinkRule, load_shrink_rules
from funnel_assets.lib.warehouse import Warehouse
from funnel_assets.lib.zoom_inbox import ZoomFolders
from funnel_assets.lib.zoom_metadata import ZoomConfig, load_zoom_config


def _project_path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


class WarehouseResource(dg.ConfigurableResource):
    """The SQL warehouse every dataset is written to (SQLite file or PostgreSQL)."""

    url: str = Field(description="SQLAlchemy URL, e.g. postgresql+psycopg2://user@host:5432/funnel or sqlite:///data/warehouse.sqlite")

    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def get(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(self.url, root=PROJECT_ROOT)
        return self._warehouse

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.dispose()


class LeadsSheetResource(dg.ConfigurableResource):
    """The performance-marketing leads sheet: its CSV export URL, or a local CSV file."""

    location: str = Field(description="http(s) CSV export URL of the Google Sheet, or a path to a CSV file")
    timeout_seconds: float = 30.0
    retries: int = 3
    backoff_seconds: float = 2.0
    day_first_dates: bool = Field(
        default=False,
        description="How to read dates like 03/04/2025 when the file itself doesn't settle it (True: 3 April).",
    )

    def fetch(self, warn: Callable[[str], object] | None = None) -> FetchedCSV:
        """The export's bytes; ``warn`` gets each retry warning (the step's ``context.log.warning``)."""
        location = self.location if "://" in self.location else str(_project_path(self.location))
        return fetch_csv(
            location,
            timeout=self.timeout_seconds,
            retries=self.retries,
            backoff=self.backoff_seconds,
            what="leads sheet export",
            warn=warn,
        )


class ProjectConfigResource(dg.ConfigurableResource):
    """The folder of editable configuration CSVs (funnel mapping, ...)."""

    config_dir: str = Field(description="Folder holding funnel_mapping.csv and the other configuration files")

    def path(self, name: str) -> Path:
        return _project_path(self.config_dir) / name

    def funnel_mapping(self) -> FunnelMapping:
        return load_funnel_mapping(self.path("funnel_mapping.csv"))

    def manual_mapping(self) -> ManualMapping:
        """The team's monthly hand mapping of Miscellaneous sources (``manual_mapping.csv``)."""
        return load_manual_mapping(self.path(MANUAL_MAPPING_FILE))

    def shrink_rules(self) -> dict[str, ShrinkRule]:
        """How sharp a shrink of each source is refused (``shrink_guard.csv``), validated."""
        return load_shrink_rules(self.path(SHRINK_GUARD_FILE))

    def attribution_settings(self) -> AttributionSettings:
        return load_attribution_settings(self.path(ATTRIBUTION_SETTINGS_FILE))

    def zoom_config(self) -> ZoomConfig:
        """Programs, conductors and Zoom settings (``zoom_*.csv``), validated."""
        return load_zoom_config(_project_path(self.config_dir))


class ZoomInboxResource(dg.ConfigurableResource):
    """The folder people drop Zoom report downloads into; processed/ and rejected/ live inside it."""

    inbox: str = Field(description="The watched folder (FUNNEL_ZOOM_INBOX), e.g. data/inbox/zoom")

    def folders(self) -> ZoomFolders:
        return ZoomFolders(_project_path(self.inbox), timezone=load_settings().timezone)


class ExportsResource(dg.ConfigurableResource):
    """Where CSV copies of the marts are written for spreadsheet users."""

    folder: str = Field(description="Folder of the CSV exports (FUNNEL_EXPORTS_DIR), e.g. data/exports")

    def path(self) -> Path:
        return _project_path(self.folder)


@dg.definitions
def resources() -> dg.Definitions:
    from funnel_assets.defs.synthetic.resources import DemoFilesResource, SyntheticWorldResource

    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(url=dg.EnvVar("FUNNEL_WAREHOUSE_URL")),
            "leads_sheet": LeadsSheetResource(location=dg.EnvVar("FUNNEL_LEADS_SHEET")),
            "project_config": ProjectConfigResource(config_dir=dg.EnvVar("FUNNEL_CONFIG_DIR")),
            "zoom_inbox": ZoomInboxResource(inbox=dg.EnvVar("FUNNEL_ZOOM_INBOX")),
            "exports": ExportsResource(folder=dg.EnvVar("FUNNEL_EXPORTS_DIR")),
            "synthetic_world": SyntheticWorldResource(),
            "demo_files": DemoFilesResource(
                zoom_inbox=dg.EnvVar("FUNNEL_ZOOM_INBOX"), leads_sheet=dg.EnvVar("FUNNEL_LEADS_SHEET"),
                crm_assigned_leads=dg.EnvVar("FUNNEL_CRM_ASSIGNED_LEADS"), crm_sales=dg.EnvVar("FUNNEL_CRM_SALES"),
                spend_sheet=dg.EnvVar("FUNNEL_SPEND_SHEET"),
            ),
        }
    )
