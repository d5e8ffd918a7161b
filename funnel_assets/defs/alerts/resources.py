"""Where alerts go: a webhook URL and/or an SMTP server; empty settings turn a channel off.

Every field comes from an environment variable (see README, "Alerts"); with all of them empty
(the demo's default) the alert sensors skip with a message saying what to set.
"""

import dagster as dg
from pydantic import Field

from funnel_assets.lib.alerts import SEVERITIES, Channels, RetryPolicy, parse_bool, severity_at_least, split_addresses

DEFAULT_UI_BASE_URL = "http://127.0.0.1:3000"

HOW_TO_CONFIGURE = (
    "No alert channel is configured: set FUNNEL_ALERT_WEBHOOK_URL (a Slack-compatible or any JSON webhook) "
    "and/or FUNNEL_ALERT_SMTP_HOST with FUNNEL_ALERT_EMAIL_FROM and FUNNEL_ALERT_EMAIL_TO "
    "(plus FUNNEL_ALERT_SMTP_PORT, _USER, _PASSWORD, _STARTTLS if your server needs them) in .env, then restart."
)


class AlertChannelResource(dg.ConfigurableResource):
    """The channels failed runs and failed checks are reported to, and how the UI is reached."""

    webhook_url: str = Field(default="", description="POST target for alerts as JSON (Slack-compatible `text`); empty = off")
    smtp_host: str = Field(default="", description="SMTP server for alert emails; empty = email off")
    smtp_port: str = Field(default="", description="SMTP port; empty = 587 with STARTTLS, else 25")
    smtp_user: str = Field(default="", description="SMTP login user; empty = no login")
    smtp_password: str = Field(default="", description="SMTP login password")
    smtp_starttls: str = Field(default="", description="true/false: upgrade the SMTP connection with STARTTLS; empty = true on port 587")
    email_from: str = Field(default="", description="Sender address of alert emails")
    email_to: str = Field(default="", description="Recipients of alert emails, comma-separated")
    ui_base_url: str = Field(default=DEFAULT_UI_BASE_URL, description="The Dagster UI as people open it; run links point here")
    min_check_severity: str = Field(default="WARN", description="Alert on failed checks of at least this severity: WARN (all) or ERROR")
    timeout_seconds: float = Field(default=10.0, description="Per-request timeout for the webhook and the SMTP server")
    webhook_retries: int = Field(default=2, description="Immediate retries of a webhook POST (429/5xx/timeouts) within one tick")
    webhook_backoff_seconds: float = Field(default=1.0, description="First wait between webhook retries; doubles each time")
    retry_hours: str = Field(
        default="24",
        description="How long an undelivered alert is retried (with a growing delay) before it is given up; empty = 24",
    )
    retry_first_delay_seconds: float = Field(default=60.0, description="Wait before the first retry; doubles each time")
    retry_max_delay_seconds: float = Field(default=3600.0, description="Longest wait between two retries")

    def retry_policy(self) -> RetryPolicy:
        """The retry window and backoff; a malformed FUNNEL_ALERT_RETRY_HOURS is a clear error."""
        text = (self.retry_hours or "").strip() or "24"
        try:
            hours = float(text)
        except ValueError:
            hours = -1.0
        if not 0 < hours <= 24 * 31:
            raise ValueError(f"FUNNEL_ALERT_RETRY_HOURS: {self.retry_hours!r} is not a number of hours between 0 and 744 (e.g. 24)")
        return RetryPolicy(window=hours * 3600, first_delay=self.retry_first_delay_seconds, max_delay=self.retry_max_delay_seconds)

    def channels(self) -> Channels:
        """The validated channel settings; a malformed port or yes/no value is a clear error."""
        port_text = self.smtp_port.strip()
        if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
            raise ValueError(f"FUNNEL_ALERT_SMTP_PORT: {self.smtp_port!r} is not a port number (e.g. 587 or 25)")
        starttls_default = port_text in ("", "587")
        starttls = parse_bool(self.smtp_starttls, default=starttls_default, what="FUNNEL_ALERT_SMTP_STARTTLS")
        port = int(port_text) if port_text else (587 if starttls else 25)
        return Channels(
            webhook_url=self.webhook_url.strip(),
            smtp_host=self.smtp_host.strip(),
            smtp_port=port,
            smtp_user=self.smtp_user.strip(),
            smtp_password=self.smtp_password,
            smtp_starttls=starttls,
            email_from=self.email_from.strip(),
            email_to=split_addresses(self.email_to),
            timeout=self.timeout_seconds,
            webhook_retries=self.webhook_retries,
            webhook_backoff=self.webhook_backoff_seconds,
        )

    def ui_url(self) -> str:
        return (self.ui_base_url.strip() or DEFAULT_UI_BASE_URL).rstrip("/")

    def min_severity(self) -> str:
        value = (self.min_check_severity.strip() or "WARN").upper()
        if value == "WARNING":
            value = "WARN"
        if value not in SEVERITIES:
            raise ValueError(
                f"FUNNEL_ALERT_MIN_CHECK_SEVERITY: {self.min_check_severity!r} is not a severity; use WARN or ERROR"
            )
        return value

    def wants(self, severity: str) -> bool:
        """Whether a failed check of this severity is alerted."""
        return severity_at_least(severity, self.min_severity())


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "alert_channel": AlertChannelResource(
                webhook_url=dg.EnvVar("FUNNEL_ALERT_WEBHOOK_URL"),
                smtp_host=dg.EnvVar("FUNNEL_ALERT_SMTP_HOST"),
                smtp_port=dg.EnvVar("FUNNEL_ALERT_SMTP_PORT"),
                smtp_user=dg.EnvVar("FUNNEL_ALERT_SMTP_USER"),
                smtp_password=dg.EnvVar("FUNNEL_ALERT_SMTP_PASSWORD"),
                smtp_starttls=dg.EnvVar("FUNNEL_ALERT_SMTP_STARTTLS"),
                email_from=dg.EnvVar("FUNNEL_ALERT_EMAIL_FROM"),
                email_to=dg.EnvVar("FUNNEL_ALERT_EMAIL_TO"),
                ui_base_url=dg.EnvVar("FUNNEL_UI_BASE_URL"),
                min_check_severity=dg.EnvVar("FUNNEL_ALERT_MIN_CHECK_SEVERITY"),
                retry_hours=dg.EnvVar("FUNNEL_ALERT_RETRY_HOURS"),
            )
        }
    )
