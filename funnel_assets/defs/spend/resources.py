"""Where the spend sheet's CSV export is (a Google Sheet export URL or a local CSV file)."""

from collections.abc import Callable
from pathlib import Path

import dagster as dg
from pydantic import Field

from funnel_assets.lib.fetch import FetchedCSV, fetch_csv
from funnel_assets.lib.settings import PROJECT_ROOT

_UNSET = ("", "none")


class SpendSheetResource(dg.ConfigurableResource):
    """The ad-spend sheet (seed 002 Phase 3.1, ``Perf_import``): its CSV export URL, or a local CSV file."""

    location: str = Field(
        default="data/demo/spend_sheet.csv",
        description="http(s) CSV export URL of the spend sheet, or a path to a CSV file (relative to the project)",
    )
    timeout_seconds: float = Field(default=30.0, description="Seconds to wait for the server (per read)")
    retries: int = Field(default=3, description="Retries after the first attempt on 429/5xx, timeouts and truncated downloads")
    backoff_seconds: float = Field(default=2.0, description="The n-th retry waits backoff * 2**n seconds")
    token: str = Field(
        default="",
        description="Optional access token sent in `token_header` (blank or 'none': no token)",
    )
    token_header: str = Field(
        default="Authorization",
        description="Header carrying the token; for Authorization the value is 'Bearer <token>'",
    )
    day_first_dates: bool = Field(
        default=True,
        description="How to read dates like 03/04/2026 when the file itself doesn't settle it (True: 3 April, the Indian way).",
    )

    def headers(self) -> dict[str, str]:
        token = (self.token or "").strip()
        if token.lower() in _UNSET:
            return {}
        header = (self.token_header or "Authorization").strip()
        return {header: f"Bearer {token}" if header.lower() == "authorization" else token}

    def resolved_location(self) -> str:
        if "://" in self.location:
            return self.location
        path = Path(self.location).expanduser()
        return str(path if path.is_absolute() else PROJECT_ROOT / path)

    def fetch(self, warn: Callable[[str], object] | None = None) -> FetchedCSV:
        """The export's bytes; the token is scrubbed by value from every message and retry warning
        (``warn``: the step's ``context.log.warning``), whatever header carries it."""
        token = (self.token or "").strip()
        return fetch_csv(
            self.resolved_location(),
            timeout=self.timeout_seconds,
            retries=self.retries,
            backoff=self.backoff_seconds,
            headers=self.headers(),
            what="spend sheet export",
            secrets=[token] if token.lower() not in _UNSET else [],
            warn=warn,
        )


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "spend_sheet": SpendSheetResource(
                location=dg.EnvVar("FUNNEL_SPEND_SHEET"),
                token=dg.EnvVar("FUNNEL_SPEND_SHEET_TOKEN"),
            ),
        }
    )
