"""The in-house CRM: where its two nightly dumps are and how to authenticate.

Every field comes from an environment variable (see README, "Configuration"):

* ``FUNNEL_CRM_BASE_URL``: the CRM's dump endpoint, e.g. ``https://crm.example.in/api/dumps``
  (``none`` or empty: no base URL, the dump locations are full URLs or local files).
* ``FUNNEL_CRM_ASSIGNED_LEADS`` / ``FUNNEL_CRM_SALES``: each dump's location: a full
  ``http(s)://`` URL, a path relative to the base URL when one is set (``assigned_leads.csv``),
  or a local CSV file (the demo: ``data/demo/crm/assigned_leads.csv``).
* ``FUNNEL_CRM_TOKEN``: the access token (``none`` or empty: no authentication).
* ``FUNNEL_CRM_TOKEN_PLACEMENT``: ``header`` (default) or ``query``.
* ``FUNNEL_CRM_TOKEN_NAME``: the header or query-parameter name (default ``Authorization``
  for a header, ``token`` for a query parameter).
* ``FUNNEL_CRM_TOKEN_PREFIX``: put before the token in a header (default ``Bearer``; ``none``
  sends the bare token).
* ``FUNNEL_CRM_TIMEOUT_SECONDS``, ``FUNNEL_CRM_RETRIES``, ``FUNNEL_CRM_BACKOFF_SECONDS``.

The token never appears in errors, log lines (retry warnings included) or metadata: it is
scrubbed by its value, whatever the header or query parameter carrying it is called.
"""

from collections.abc import Callable
from pathlib import Path

import dagster as dg
from pydantic import Field

from funnel_assets.lib.crm import ASSIGNED_LEADS_COLUMNS, SALES_REQUIRED_COLUMNS
from funnel_assets.lib.fetch import FetchedCSV, FetchError, fetch_csv
from funnel_assets.lib.redact import scrub_secrets
from funnel_assets.lib.settings import PROJECT_ROOT

_NONE = ("", "none", "null", "-")
PLACEMENTS = ("header", "query")


def _unset(value: str | None) -> bool:
    return value is None or value.strip().lower() in _NONE


class CrmResource(dg.ConfigurableResource):
    """The team's in-house CRM, which serves full dumps as CSV over HTTP(S) (or local files in the demo)."""

    base_url: str = Field(default="", description="Dump endpoint; relative dump locations are joined to it ('' or 'none': not used)")
    assigned_leads: str = Field(default="data/demo/crm/assigned_leads.csv", description="Assigned-leads dump: URL, path under base_url, or local file")
    sales: str = Field(default="data/demo/crm/sales.csv", description="Sales dump: URL, path under base_url, or local file")
    token: str = Field(default="", description="Access token ('' or 'none': no authentication)")
    token_placement: str = Field(default="header", description="'header' or 'query'")
    token_name: str = Field(default="", description="Header / query-parameter name ('' or 'none': Authorization / token)")
    token_prefix: str = Field(default="Bearer", description="Put before the token in a header ('none': the bare token)")
    timeout_seconds: int = Field(default=60, description="Seconds to wait for the connection and for each read")
    retries: int = Field(default=3, description="Retries after the first request (timeouts, 429/5xx, truncated downloads)")
    backoff_seconds: int = Field(default=5, description="Wait before the n-th retry: backoff * 2**n seconds (0: retry at once)")

    # -- locations --------------------------------------------------------------------------
    def location(self, dump: str) -> str:
        """Where ``dump`` ("assigned_leads" or "sales") is fetched from (a URL or an absolute path)."""
        value = {"assigned_leads": self.assigned_leads, "sales": self.sales}[dump].strip()
        if "://" in value:
            return value
        if not _unset(self.base_url):
            return self.base_url.strip().rstrip("/") + "/" + value.lstrip("/")
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else PROJECT_ROOT / path)

    # -- authentication ---------------------------------------------------------------------
    def _auth(self) -> tuple[dict[str, str], dict[str, str]]:
        """(headers, params) carrying the token."""
        placement = self.token_placement.strip().lower()
        if placement not in PLACEMENTS:
            raise dg.Failure(
                f"FUNNEL_CRM_TOKEN_PLACEMENT is {self.token_placement!r}; use 'header' or 'query'.", allow_retries=False
            )
        if _unset(self.token):
            return {}, {}
        token = self.token.strip()
        if placement == "header":
            name = "Authorization" if _unset(self.token_name) else self.token_name.strip()
            prefix = "" if _unset(self.token_prefix) else self.token_prefix.strip() + " "
            return {name: prefix + token}, {}
        name = "token" if _unset(self.token_name) else self.token_name.strip()
        return {}, {name: token}

    def secrets(self) -> list[str]:
        """Values never to print: the token (scrubbed by value, whatever carries it)."""
        return [] if _unset(self.token) else [self.token.strip()]

    def scrub(self, text: str) -> str:
        """``text`` without the token, plain or URL-encoded."""
        return scrub_secrets(text, self.secrets())

    # -- fetching ---------------------------------------------------------------------------
    def fetch(self, dump: str, warn: Callable[[str], object] | None = None) -> FetchedCSV:
        """Download one dump and check it is complete CSV with the required columns.

        Raises ``FetchError`` (message in plain language, token scrubbed) on HTTP errors after
        the retries, HTML pages, truncated or empty bodies and missing columns. ``warn`` gets
        each retry warning (the step's ``context.log.warning``), token scrubbed.
        """
        headers, params = self._auth()
        what = {"assigned_leads": "CRM assigned-leads dump", "sales": "CRM sales dump"}[dump]
        required = {"assigned_leads": ASSIGNED_LEADS_COLUMNS, "sales": SALES_REQUIRED_COLUMNS}[dump]
        try:
            fetched = fetch_csv(
                self.location(dump),
                timeout=self.timeout_seconds,
                retries=self.retries,
                backoff=self.backoff_seconds,
                headers=headers or None,
                params=params or None,
                required_columns=required,
                what=what,
                secrets=self.secrets(),
                warn=warn,
            )
        except FetchError as exc:
            # fetch_csv redacts secret-looking names; a custom header / parameter name might not
            # look secret, so scrub the token value itself as well.
            exc.message = self.scrub(exc.message)
            exc.location = self.scrub(exc.location)
            exc.args = (exc.message,)
            raise
        if _unset(self.token):
            return fetched
        return FetchedCSV(
            content=fetched.content,
            location=self.scrub(fetched.location),
            header=fetched.header,
            fetched_at=fetched.fetched_at,
            attempts=fetched.attempts,
            sha256=fetched.sha256,
        )


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "crm": CrmResource(
                base_url=dg.EnvVar("FUNNEL_CRM_BASE_URL"),
                assigned_leads=dg.EnvVar("FUNNEL_CRM_ASSIGNED_LEADS"),
                sales=dg.EnvVar("FUNNEL_CRM_SALES"),
                token=dg.EnvVar("FUNNEL_CRM_TOKEN"),
                token_placement=dg.EnvVar("FUNNEL_CRM_TOKEN_PLACEMENT"),
                token_name=dg.EnvVar("FUNNEL_CRM_TOKEN_NAME"),
                token_prefix=dg.EnvVar("FUNNEL_CRM_TOKEN_PREFIX"),
                timeout_seconds=dg.EnvVar.int("FUNNEL_CRM_TIMEOUT_SECONDS"),
                retries=dg.EnvVar.int("FUNNEL_CRM_RETRIES"),
                backoff_seconds=dg.EnvVar.int("FUNNEL_CRM_BACKOFF_SECONDS"),
            )
        }
    )
