"""Alerts for failed runs and failed data-quality checks: what failed, for people, by webhook and email.

Plain Python (no Dagster): the sensors in ``defs/alerts`` turn Dagster's records into `Alert`
values with `run_failed_alert` / `check_failed_alert`, and hand them to `deliver`, which sends
each alert once to every configured channel and keeps what could not be sent as *pending*
(a JSON-able list the sensors store in their cursor and retry on their next tick).

* An `Alert` says what failed (job, run id, failed steps; or asset, check, partition, severity
  and the check's metadata), the first lines of the error, and a link to the run in the UI.
* `render_text` is the human message (email body, and the Slack-compatible ``text`` field of
  `render_payload`, the webhook's JSON body, which carries an ``idempotency_key``, also sent as
  the ``Idempotency-Key`` header); `email_subject` is a one-line summary.
* `send_webhook` POSTs JSON with quick retries and exponential backoff when the server certainly
  did not take it (refused connection, 429, 5xx); a POST that got no answer in time is not sent
  again on the spot (it may have arrived); other 4xx are not retried: they will not fix themselves.
* `deliver` keeps what could not be sent as pending and retries it with a growing delay for a
  whole window (`RetryPolicy`: 24 hours by default) before it gives up and says so.
* `send_email` speaks SMTP (optionally STARTTLS and a login) with `smtplib`.
* Personal data never reaches a message: anything looking like an email address or a phone
  number in error texts and metadata values is masked (`scrub_text`), and a webhook URL (whose
  path is often the secret, as with Slack) is shown only as its scheme and host.
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import urllib3.exceptions

from funnel_assets.lib.phones import mask_email
from funnel_assets.lib.redact import mask_personal_data

__all__ = [
    "CHECK_FAILED",
    "RUN_FAILED",
    "SEVERITIES",
    "Alert",
    "Channels",
    "Delivery",
    "RetryPolicy",
    "NotificationError",
    "check_failed_alert",
    "deliver",
    "email_subject",
    "first_lines",
    "parse_bool",
    "render_payload",
    "render_text",
    "run_failed_alert",
    "scrub_text",
    "send_email",
    "send_webhook",
    "severity_at_least",
    "summarize_metadata",
    "webhook_label",
]

log = logging.getLogger(__name__)

RUN_FAILED = "run_failed"
CHECK_FAILED = "check_failed"
KINDS = (RUN_FAILED, CHECK_FAILED)
SEVERITIES = ("WARN", "ERROR")  # in increasing order
SUBJECT_PREFIX = "[funnel-assets]"
USER_AGENT = "funnel-assets-alerts/0.1 (python-requests)"

ERROR_LINES = 6
ERROR_CHARS = 1200
METADATA_ITEMS = 15
METADATA_VALUE_CHARS = 200


class NotificationError(Exception):
    """A notification could not be delivered; the message says where and why (no secrets).

    ``maybe_delivered`` is True when the other side may have received it all the same: the POST
    was sent but no answer came in time (a read timeout, a gateway's 504). Such a failure is sent
    again at most `RetryPolicy.unconfirmed_resends` times (with the same idempotency key), so a
    slow channel gets an alert once or twice, never once per tick.
    """

    def __init__(self, message: str, *, maybe_delivered: bool = False) -> None:
        super().__init__(message)
        self.maybe_delivered = maybe_delivered


# --------------------------------------------------------------------------- masking


def scrub_text(text: str | None) -> str | None:
    """Mask email addresses and phone-number-looking digit runs in free text (see
    `funnel_assets.lib.redact.mask_personal_data`); None stays None."""
    if text is None:
        return None
    return mask_personal_data(text)


def first_lines(text: str | None, lines: int = ERROR_LINES, max_chars: int = ERROR_CHARS) -> str | None:
    """The first ``lines`` non-blank lines of ``text`` (at most ``max_chars``), masked."""
    if not text:
        return None
    kept = [line.rstrip() for line in str(text).strip().splitlines() if line.strip()][:lines]
    short = "\n".join(kept)
    if len(short) > max_chars:
        short = short[: max_chars - 1].rstrip() + "…"
    return scrub_text(short)


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    return str(value)


def summarize_metadata(
    metadata: Mapping[str, Any] | None,
    max_items: int = METADATA_ITEMS,
    max_chars: int = METADATA_VALUE_CHARS,
) -> tuple[tuple[str, str], ...]:
    """A check's metadata as ``(label, value)`` text pairs: values only, shortened and masked.

    Tables and long JSON are cut to ``max_chars``; beyond ``max_items`` entries a last
    ``("…", "N more")`` pair says how many were left out.
    """
    if not metadata:
        return ()
    items: list[tuple[str, str]] = []
    for index, (label, value) in enumerate(metadata.items()):
        if index >= max_items:
            items.append(("…", f"{len(metadata) - max_items} more"))
            break
        text = _value_text(value).replace("\r", " ").replace("\n", " ")
        if len(text) > max_chars:
            text = text[: max_chars - 1].rstrip() + "…"
        items.append((str(label), scrub_text(text) or ""))
    return tuple(items)


def webhook_label(url: str) -> str:
    """How a webhook URL appears in messages: scheme and host only (the path is often the secret)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "the webhook URL (not a valid http(s) URL)"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def parse_bool(value: str | bool | None, *, default: bool, what: str) -> bool:
    """``"true"/"yes"/"1"/"on"`` and ``"false"/"no"/"0"/"off"``; blank means ``default``."""
    if isinstance(value, bool):
        return value
    text = (value or "").strip().lower()
    if not text:
        return default
    if text in {"true", "yes", "1", "on"}:
        return True
    if text in {"false", "no", "0", "off"}:
        return False
    raise ValueError(f"{what}: {value!r} is not a yes/no value; use true or false (or leave it empty for {default}).")


def severity_at_least(severity: str, minimum: str) -> bool:
    """Whether a check severity (``WARN``/``ERROR``) is at or above ``minimum``."""
    return _severity_rank(severity) >= _severity_rank(minimum)


def _severity_rank(severity: str) -> int:
    text = (severity or "").strip().upper()
    if text == "WARNING":
        text = "WARN"
    if text not in SEVERITIES:
        raise ValueError(f"unknown check severity {severity!r}: use one of {', '.join(SEVERITIES)}")
    return SEVERITIES.index(text)


# --------------------------------------------------------------------------- the alert
_IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0e4d1c-52a8-4f0e-9a53-6b1f3f0c2a77")


@dataclass(frozen=True)
class Alert:
    """One failure worth telling people about (JSON round-trips through `to_dict`/`from_dict`)."""

    kind: str  # RUN_FAILED | CHECK_FAILED
    key: str  # identity of the failure: "run:<run id>", "check:<execution id>"
    title: str
    run_id: str | None = None
    run_url: str | None = None
    job_name: str | None = None
    partition: str | None = None  # a key, or "first…last" for a range run
    failed_steps: tuple[str, ...] = ()
    asset: str | None = None
    check: str | None = None
    severity: str | None = None  # WARN | ERROR (checks)
    description: str | None = None
    details: tuple[tuple[str, str], ...] = ()  # the check's metadata, masked
    error: str | None = None  # first lines of the error, masked
    asset_url: str | None = None
    occurred_at: str | None = None  # ISO 8601, UTC

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}: use one of {', '.join(KINDS)}")

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt to send this alert (also after a restart: derived from
        ``key``), so a receiver can drop a copy it has already seen."""
        return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, self.key))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["failed_steps"] = list(self.failed_steps)
        data["details"] = [list(pair) for pair in self.details]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        values = dict(data)
        values["failed_steps"] = tuple(values.get("failed_steps") or ())
        values["details"] = tuple(tuple(pair) for pair in values.get("details") or ())
        return cls(**values)


def run_url(ui_base_url: str, run_id: str) -> str:
    return f"{ui_base_url.rstrip('/')}/runs/{run_id}"


def asset_url(ui_base_url: str, asset_path: Sequence[str]) -> str:
    return f"{ui_base_url.rstrip('/')}/assets/{'/'.join(quote(part, safe='') for part in asset_path)}?view=checks"


def run_failed_alert(
    *,
    run_id: str,
    job_name: str,
    ui_base_url: str,
    step_errors: Sequence[tuple[str, str | None]] = (),
    run_error: str | None = None,
    partition: str | None = None,
    occurred_at: str | None = None,
) -> Alert:
    """The alert for a failed run: its job, partition(s), failed steps and the first error."""
    steps = tuple(dict.fromkeys(step for step, _ in step_errors))
    errors = [f"{step}: {message}" for step, message in step_errors if message]
    error_text = "\n".join(errors) if errors else run_error
    where = f" [{partition}]" if partition else ""
    return Alert(
        kind=RUN_FAILED,
        key=f"run:{run_id}",
        title=f"Run failed: {job_name}{where}",
        run_id=run_id,
        run_url=run_url(ui_base_url, run_id),
        job_name=job_name,
        partition=partition,
        failed_steps=steps,
        error=first_lines(error_text),
        occurred_at=occurred_at,
    )


def check_failed_alert(
    *,
    execution_id: int,
    asset_path: Sequence[str],
    check_name: str,
    severity: str,
    ui_base_url: str,
    run_id: str | None,
    partition: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    job_name: str | None = None,
    blocking: bool | None = None,
    occurred_at: str | None = None,
) -> Alert:
    """The alert for a failed check evaluation (``passed=False``), with its severity and metadata."""
    asset = "/".join(asset_path)
    level = "WARN" if severity.upper().startswith("WARN") else "ERROR"
    where = f" [{partition}]" if partition else ""
    stopped = " (blocking: downstream assets did not run)" if blocking and level == "ERROR" else ""
    return Alert(
        kind=CHECK_FAILED,
        key=f"check:{execution_id}",
        title=f"Check failed ({level}): {asset} / {check_name}{where}{stopped}",
        run_id=run_id,
        run_url=run_url(ui_base_url, run_id) if run_id else None,
        job_name=job_name,
        partition=partition,
        asset=asset,
        check=check_name,
        severity=level,
        description=first_lines(description, lines=3, max_chars=400),
        details=summarize_metadata(metadata),
        asset_url=asset_url(ui_base_url, asset_path),
        occurred_at=occurred_at,
    )


# --------------------------------------------------------------------------- rendering
def email_subject(alert: Alert) -> str:
    return f"{SUBJECT_PREFIX} {alert.title}"


def render_text(alert: Alert) -> str:
    """The message people read (email body; the webhook payload's ``text``)."""
    lines = [f"{SUBJECT_PREFIX} {alert.title}", ""]

    def add(label: str, value: str | None) -> None:
        if value:
            lines.append(f"{label}: {value}")

    if alert.kind == CHECK_FAILED:
        add("Asset", alert.asset)
        add("Check", alert.check)
        add("Severity", alert.severity)
    add("Partition", alert.partition)
    add("Job", alert.job_name)
    add("Run", alert.run_id)
    if alert.failed_steps:
        add("Failed step(s)", ", ".join(alert.failed_steps))
    add("When (UTC)", alert.occurred_at)
    if alert.description:
        lines += ["", alert.description]
    if alert.details:
        lines += ["", "Check metadata:"]
        lines += [f"  {label}: {value}" for label, value in alert.details]
    if alert.error:
        lines += ["", "Error:"]
        lines += [f"  {line}" for line in alert.error.splitlines()]
    lines.append("")
    add("Open the run", alert.run_url)
    add("Asset checks", alert.asset_url)
    return "\n".join(lines).rstrip() + "\n"


def render_payload(alert: Alert) -> dict[str, Any]:
    """The webhook JSON body: Slack-compatible ``text`` plus the structured fields and the
    ``idempotency_key`` (also sent as the ``Idempotency-Key`` header)."""
    return {"text": render_text(alert), **alert.to_dict(), "idempotency_key": alert.idempotency_key}


# --------------------------------------------------------------------------- sending
_RETRY_STATUSES = {408, 425, 429, 500, 502, 503}


def _never_connected(exc: requests.ConnectionError) -> bool:
    """Whether the connection was never made (refused, unknown host): the alert was not sent."""
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.NameResolutionError, ConnectionRefusedError)) or (
        "Failed to establish a new connection" in str(exc)
    )


def send_webhook(
    url: str,
    payload: Mapping[str, Any],
    timeout: float = 10.0,
    retries: int = 2,
    backoff: float = 1.0,
    *,
    sleep: Callable[[float], None] = time.sleep,
    session: requests.Session | None = None,
    idempotency_key: str | None = None,
) -> int:
    """POST ``payload`` as JSON to ``url``; returns the (2xx) status code.

    Failures where the server certainly did not take the alert (connection refused or timed out,
    429/5xx other than 504) are retried ``retries`` times with exponential backoff (``backoff``,
    ``2*backoff``, ...; a ``Retry-After`` of up to 60 s is honoured). A POST that got no answer in
    time (read timeout, 504) is *not* sent again here: the server may have it, so the error says
    ``maybe_delivered`` and the caller decides, later, with the same ``idempotency_key`` (sent
    as the ``Idempotency-Key`` header). Anything else (3xx, 4xx) fails at once. Raises `NotificationError` naming only
    the webhook's scheme and host.
    """
    label = webhook_label(url)
    if not url.lower().startswith(("http://", "https://")):
        raise NotificationError(f"webhook: {label}; set FUNNEL_ALERT_WEBHOOK_URL to an http(s) URL")
    body = json.dumps(payload, default=str, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    http = session or requests.Session()
    last_problem = "no attempt made"
    try:
        for attempt in range(retries + 1):
            wait = backoff * (2**attempt)
            try:
                response = http.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
            except requests.ConnectTimeout:
                last_problem = f"could not connect within {timeout:g} s"
            except requests.ReadTimeout:
                raise NotificationError(
                    f"webhook {label}: no answer within {timeout:g} s (the alert was sent and may have arrived)",
                    maybe_delivered=True,
                ) from None
            except requests.ConnectionError as exc:
                last_problem = f"could not connect ({type(exc).__name__})"
                if not _never_connected(exc):
                    raise NotificationError(
                        f"webhook {label}: the connection broke after the alert was sent ({type(exc).__name__})",
                        maybe_delivered=True,
                    ) from None
            else:
                if 200 <= response.status_code < 300:
                    return response.status_code
                snippet = scrub_text(" ".join(response.text[:200].split())) or ""
                last_problem = f"HTTP {response.status_code}" + (f" ({snippet})" if snippet else "")
                if response.status_code == 504:  # a gateway gave up waiting: the receiver may have it
                    raise NotificationError(f"webhook {label} answered {last_problem}", maybe_delivered=True)
                if response.status_code not in _RETRY_STATUSES:
                    raise NotificationError(
                        f"webhook {label} refused the alert: {last_problem}; check FUNNEL_ALERT_WEBHOOK_URL"
                    )
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    wait = min(float(retry_after), 60.0)
            if attempt < retries:
                log.warning("webhook %s: %s; retrying in %.1f s", label, last_problem, wait)
                sleep(wait)
    finally:
        if session is None:
            http.close()
    raise NotificationError(f"webhook {label} failed after {retries + 1} attempt(s): {last_problem}")


def send_email(
    host: str,
    port: int,
    sender: str,
    recipients: Sequence[str],
    subject: str,
    body: str,
    username: str | None = None,
    password: str | None = None,
    starttls: bool = False,
    timeout: float = 10.0,
    idempotency_key: str | None = None,
) -> None:
    """Send a plain-text email through an SMTP server; raises `NotificationError` (no password in it).

    With an ``idempotency_key`` the Message-ID is derived from it, so a copy sent again is the
    same message to mail clients (and it is in an ``Idempotency-Key`` header)."""
    to = [r.strip() for r in recipients if r and r.strip()]
    if not to:
        raise NotificationError("email: no recipients; set FUNNEL_ALERT_EMAIL_TO (comma-separated addresses)")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rpartition("@")[2] or "funnel-assets.local"
    if idempotency_key:
        message["Message-ID"] = f"<{idempotency_key}@{domain}>"
        message["Idempotency-Key"] = idempotency_key
    else:
        message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(body)
    where = f"SMTP server {host}:{port}"
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            smtp.ehlo()
            if starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if username:
                smtp.login(username, password or "")
            refused = smtp.send_message(message, from_addr=sender, to_addrs=to)
    except smtplib.SMTPAuthenticationError as exc:
        raise NotificationError(
            f"email: {where} rejected the login for user {username!r} ({exc.smtp_code}); "
            "check FUNNEL_ALERT_SMTP_USER / FUNNEL_ALERT_SMTP_PASSWORD"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise NotificationError(f"email: {where} does not support what we asked ({exc}); check FUNNEL_ALERT_SMTP_STARTTLS") from None
    except smtplib.SMTPRecipientsRefused as exc:
        bad = ", ".join(mask_email(r) or "***" for r in exc.recipients)
        raise NotificationError(f"email: {where} refused every recipient ({bad}); check FUNNEL_ALERT_EMAIL_TO") from None
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise NotificationError(f"email: {where} answered {exc.smtp_code} {scrub_text(text)}") from None
    except (smtplib.SMTPException, OSError, socket.timeout) as exc:
        raise NotificationError(f"email: could not talk to {where}: {type(exc).__name__}: {exc}") from None
    if refused:
        bad = ", ".join(mask_email(r) or "***" for r in refused)
        log.warning("email: %s refused some recipients: %s", where, bad)


# --------------------------------------------------------------------------- channels and delivery
WEBHOOK = "webhook"
EMAIL = "email"


@dataclass(frozen=True)
class Channels:
    """Where alerts go. An empty webhook URL, or an empty SMTP host, turns that channel off.

    Email is on only with a host, a sender and at least one recipient; `problems` says what is
    missing when a host is set without them.
    """

    webhook_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False
    email_from: str = ""
    email_to: tuple[str, ...] = ()
    timeout: float = 10.0
    webhook_retries: int = 2
    webhook_backoff: float = 1.0

    def names(self) -> list[str]:
        """The configured channels, in the order they are tried."""
        names = []
        if self.webhook_url.strip():
            names.append(WEBHOOK)
        if self.smtp_host.strip() and self.email_to and self.email_from.strip():
            names.append(EMAIL)
        return names

    def problems(self) -> list[str]:
        """Configuration mistakes that make a configured channel unusable."""
        problems = []
        if self.webhook_url.strip() and not self.webhook_url.strip().lower().startswith(("http://", "https://")):
            problems.append("FUNNEL_ALERT_WEBHOOK_URL must be an http(s) URL")
        if self.smtp_host.strip():
            if not self.email_to:
                problems.append("FUNNEL_ALERT_SMTP_HOST is set but FUNNEL_ALERT_EMAIL_TO is empty (comma-separated addresses)")
            if not self.email_from.strip():
                problems.append("FUNNEL_ALERT_SMTP_HOST is set but FUNNEL_ALERT_EMAIL_FROM is empty")
        return problems

    def send(self, channel: str, alert: Alert, *, sleep: Callable[[float], None] = time.sleep) -> None:
        if channel == WEBHOOK:
            send_webhook(
                self.webhook_url.strip(),
                render_payload(alert),
                timeout=self.timeout,
                retries=self.webhook_retries,
                backoff=self.webhook_backoff,
                sleep=sleep,
                idempotency_key=alert.idempotency_key,
            )
        elif channel == EMAIL:
            problems = [p for p in self.problems() if "SMTP" in p]
            if problems:
                raise NotificationError("email: " + "; ".join(problems))
            send_email(
                self.smtp_host.strip(),
                self.smtp_port,
                self.email_from.strip(),
                self.email_to,
                email_subject(alert),
                render_text(alert),
                username=self.smtp_user.strip() or None,
                password=self.smtp_password or None,
                starttls=self.smtp_starttls,
                timeout=self.timeout,
                idempotency_key=alert.idempotency_key,
            )
        else:  # pragma: no cover - programming error
            raise ValueError(f"unknown channel {channel!r}")


def split_addresses(text: str | None) -> tuple[str, ...]:
    """``"a@x.com, b@y.org;c@z.in"`` -> the addresses (comma or semicolon separated)."""
    return tuple(part.strip() for part in re.split(r"[,;]", text or "") if part.strip())


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often an alert that could not be delivered is tried again.

    After the n-th failed attempt on a channel the next one waits ``first_delay * 2**(n-1)``
    seconds (at most ``max_delay``; the last one exactly ``window`` seconds after the first
    failure); the alert is given up for that channel only when an attempt that late fails too
    (24 hours by default). A POST that may have arrived (no answer in time) is sent again at most
    ``unconfirmed_resends`` times, then taken as delivered without confirmation.
    """

    window: float = 24 * 3600.0
    first_delay: float = 60.0
    max_delay: float = 3600.0
    unconfirmed_resends: int = 1

    def delay(self, failed_attempts: int) -> float:
        return min(self.first_delay * 2 ** max(failed_attempts - 1, 0), self.max_delay)


def _utc(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


@dataclass
class Delivery:
    """What one `deliver` call did (for the sensor's log and its skip/summary text)."""

    sent: list[tuple[str, str]] = field(default_factory=list)  # (alert key, channel)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (key, channel, error): will retry
    gave_up: list[tuple[str, str, str]] = field(default_factory=list)  # (key, channel, error): dropped
    unconfirmed: list[tuple[str, str, str]] = field(default_factory=list)  # (key, channel, error): sent, no answer
    deferred: list[tuple[str, str]] = field(default_factory=list)  # channel down / out of time: not tried
    waiting: list[tuple[str, str, float]] = field(default_factory=list)  # (key, channel, next attempt): backing off
    pending: list[dict[str, Any]] = field(default_factory=list)  # for the cursor

    def summary(self) -> str:
        parts = [f"{len(self.sent)} notification(s) sent"]
        if self.failed:
            parts.append(
                f"{len(self.failed)} failed and will be retried ("
                + "; ".join(f"{channel}: {error}" for _, channel, error in self.failed[:3])
                + ")"
            )
        if self.unconfirmed:
            parts.append(
                f"{len(self.unconfirmed)} sent without an answer, taken as delivered ("
                + "; ".join(f"{key} by {channel}" for key, channel, _ in self.unconfirmed[:3])
                + ")"
            )
        if self.waiting:
            soonest = min(at for _, _, at in self.waiting)
            parts.append(f"{len(self.waiting)} waiting to be retried (next at {_utc(soonest)})")
        if self.deferred:
            parts.append(f"{len(self.deferred)} waiting for the next tick")
        if self.gave_up:
            parts.append(
                f"{len(self.gave_up)} GIVEN UP, not delivered ("
                + "; ".join(f"{key} by {channel}: {error}" for key, channel, error in self.gave_up[:3])
                + ")"
            )
        return ", ".join(parts)


MAX_PENDING = 200


def _owed_channels(entry: Mapping[str, Any], configured: Sequence[str], now: float) -> dict[str, dict[str, Any]]:
    """A pending entry's channels still owed, each with its retry state (older cursors kept a
    plain list of channels and one attempt count: read as due now)."""
    owed = entry.get("owed")
    if isinstance(owed, Mapping):
        states = {c: dict(state) for c, state in owed.items()}
    else:
        states = {
            c: {"attempts": int(entry.get("attempts", 0)), "first_failed_at": now, "next_at": now, "error": entry.get("error")}
            for c in entry.get("channels", [])
        }
    return {c: state for c, state in states.items() if c in configured}


def deliver(
    new_alerts: Iterable[Alert],
    pending: Sequence[Mapping[str, Any]],
    channels: Channels,
    *,
    policy: RetryPolicy = RetryPolicy(),
    now: Callable[[], float] = time.time,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Send each new alert to every configured channel once; retry what is pending from earlier.

    ``pending`` entries (from a previous call's ``Delivery.pending``, kept in the sensor's cursor,
    which the Dagster instance stores: they survive a daemon restart) carry the alert and, per
    channel still owed, the failed attempts, the first failure's time and when to try next
    (``now()``, wall-clock seconds). A failed channel is tried again after an exponential backoff
    (`RetryPolicy`) until its window is over, then the alert is given up for that channel
    (``gave_up``: the sensor logs it as an error). A POST that may have arrived is re-sent at most
    ``policy.unconfirmed_resends`` times (``unconfirmed`` after that). A channel that failed once in
    this call is not tried again for the other alerts of this call (they wait, without using up
    an attempt), and nothing new is started after ``deadline`` (a ``clock()`` value), so a dead
    server cannot stall a sensor. Channels no longer configured are dropped from pending entries.
    """
    configured = channels.names()
    started = now()
    work: list[dict[str, Any]] = []
    for entry in pending:
        owed = _owed_channels(entry, configured, started)
        if owed:
            work.append({"alert": dict(entry["alert"]), "owed": owed})
    known = {entry["alert"]["key"] for entry in work}
    for alert in new_alerts:
        if alert.key not in known:
            known.add(alert.key)
            work.append({"alert": alert.to_dict(), "owed": {c: {"attempts": 0} for c in configured}})

    result = Delivery()
    down: dict[str, str] = {}
    for entry in work:
        alert = Alert.from_dict(entry["alert"])
        still_owed: dict[str, dict[str, Any]] = {}
        for channel, state in entry["owed"].items():
            if state.get("next_at") is not None and float(state["next_at"]) > started:
                still_owed[channel] = state
                result.waiting.append((alert.key, channel, float(state["next_at"])))
                continue
            if channel in down or (deadline is not None and clock() > deadline):
                still_owed[channel] = state
                result.deferred.append((alert.key, channel))
                continue
            try:
                channels.send(channel, alert, sleep=sleep)
            except NotificationError as exc:
                message = str(exc)
                down[channel] = message
                failed_at = now()
                attempts = int(state.get("attempts", 0)) + 1
                first = float(state.get("first_failed_at") or failed_at)
                unanswered = int(state.get("unanswered", 0)) + (1 if exc.maybe_delivered else 0)
                if exc.maybe_delivered and unanswered > policy.unconfirmed_resends:
                    result.unconfirmed.append(
                        (alert.key, channel, f"{message}; sent {unanswered} times with idempotency key {alert.idempotency_key}, not again")
                    )
                    continue
                if failed_at >= first + policy.window:
                    hours = (failed_at - first) / 3600
                    result.gave_up.append(
                        (alert.key, channel, f"{message} (failed {attempts} times over {hours:.1f} h since {_utc(first)})")
                    )
                    continue
                next_at = min(failed_at + policy.delay(attempts), first + policy.window)  # the last try at the window's end
                result.failed.append((alert.key, channel, f"{message} (attempt {attempts}; next at {_utc(next_at)})"))
                still_owed[channel] = {
                    "attempts": attempts,
                    "first_failed_at": first,
                    "next_at": next_at,
                    "unanswered": unanswered,
                    "error": message,
                }
            else:
                result.sent.append((alert.key, channel))
        if still_owed:
            result.pending.append({"alert": entry["alert"], "owed": still_owed})
    if len(result.pending) > MAX_PENDING:
        dropped = result.pending[: len(result.pending) - MAX_PENDING]
        result.pending = result.pending[-MAX_PENDING:]
        for entry in dropped:
            for channel in entry["owed"]:
                result.gave_up.append((entry["alert"]["key"], channel, f"more than {MAX_PENDING} alerts waiting"))
    return result
