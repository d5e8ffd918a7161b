"""lib/alerts: messages, masking, the webhook (a real local HTTP server) and email (a real local SMTP server)."""

from __future__ import annotations

import email
import email.policy
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from funnel_assets.lib.alerts import (
    CHECK_FAILED,
    RUN_FAILED,
    Alert,
    Channels,
    NotificationError,
    RetryPolicy,
    check_failed_alert,
    deliver,
    email_subject,
    first_lines,
    parse_bool,
    render_payload,
    render_text,
    run_failed_alert,
    scrub_text,
    send_email,
    send_webhook,
    severity_at_least,
    split_addresses,
    summarize_metadata,
    webhook_label,
)
from funnel_assets_tests.http_server import LocalHTTPServer, ScriptedResponse, closed_port_url

UI = "http://dagster.internal:3000"
PHONE, EMAIL_ADDR = "98765 43210", "Priya.Sharma@gmail.com"


# --------------------------------------------------------------------------- a local SMTP server
@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: email.message.EmailMessage

    @property
    def body(self) -> str:
        return self.message.get_content()


@dataclass
class LocalSMTPServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives.

    ``reply`` overrides the answer to DATA (e.g. ``"554 mailbox unavailable"``); ``users``
    turns on AUTH (PLAIN/LOGIN without TLS) with these user -> password pairs.
    """

    users: dict[str, str] | None = None
    reply: str | None = None
    received: list[ReceivedMail] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        if self.reply:
            return self.reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and self.users is not None:
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(user) == password:
                self.logins.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def __enter__(self) -> LocalSMTPServer:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        kwargs = {}
        if self.users is not None:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[LocalSMTPServer]:
    with LocalSMTPServer() as server:
        yield server


@pytest.fixture
def webhook() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as server:
        server.set_default("/hooks/T000/B000/s3cr3t", ScriptedResponse(status=204, content_type=None))
        yield server


HOOK = "/hooks/T000/B000/s3cr3t"


def no_sleep(_: float) -> None:
    pass


# --------------------------------------------------------------------------- masking and text
@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        (f"row 17: lead {PHONE} <{EMAIL_ADDR}> has no source", ["98765", "43210", "Priya", "Sharma"]),
        ("phone +91-98765-43210 and 919876543210", ["98765", "9876543210"]),
        ("intl +1 (415) 555-0123", ["555-0123", "4155550123"]),
    ],
)
def test_scrub_text_masks_phones_and_emails(text, leaked):
    scrubbed = scrub_text(text)
    for fragment in leaked:
        assert fragment not in scrubbed, scrubbed
    assert "@" not in scrubbed or "***" in scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-02 10:00:00 partition 2025-01-01…2025-03-31",
        "run 1f3e5a7c-1234-4567-8901-123456789012 had 1234 of 99999 rows (12.5%)",
        "ratio 0.5, 3 bad rows",
    ],
)
def test_scrub_text_leaves_dates_ids_and_counts(text):
    assert scrub_text(text) == text


def test_first_lines_keeps_the_head_of_long_errors_masked():
    error = "\n".join([f"ValueError: lead {PHONE} unusable", "", *[f"  frame {i}" for i in range(50)]])
    head = first_lines(error, lines=3)
    assert head.splitlines() == ["ValueError: lead ********10 unusable", "  frame 0", "  frame 1"]
    assert first_lines(None) is None and first_lines("") is None
    assert len(first_lines("x" * 5000, max_chars=100)) == 100


def test_summarize_metadata_values_only_short_and_masked():
    metadata = {
        "bad_rows": 3,
        "share": 0.0123456,
        "sample": [{"phone": "9876543210", "email": "a.b@example.com"}],
        "note": "y" * 500,
        **{f"extra_{i}": i for i in range(20)},
    }
    summary = dict(summarize_metadata(metadata, max_items=5, max_chars=80))
    assert summary["bad_rows"] == "3"
    assert summary["share"] == "0.0123456"
    assert "9876543210" not in summary["sample"] and "a.b@example.com" not in summary["sample"]
    assert len(summary["note"]) == 80 and summary["note"].endswith("…")
    assert summary["…"] == f"{len(metadata) - 5} more"
    assert summarize_metadata(None) == ()


def test_run_failed_alert_says_what_failed_and_links_the_run():
    alert = run_failed_alert(
        run_id="abc-123",
        job_name="nightly_funnel_job",
        ui_base_url=UI + "/",
        step_errors=[("crm_sales", f"FetchError: CRM answered HTML for {EMAIL_ADDR}"), ("crm_sales", None)],
        partition="2025-03-01",
        occurred_at="2025-03-02T01:00:00+00:00",
    )
    assert alert.kind == RUN_FAILED and alert.key == "run:abc-123"
    assert alert.title == "Run failed: nightly_funnel_job [2025-03-01]"
    assert alert.run_url == f"{UI}/runs/abc-123"
    assert alert.failed_steps == ("crm_sales",)
    text = render_text(alert)
    for expected in ["nightly_funnel_job", "abc-123", "crm_sales", "2025-03-01", "FetchError", f"{UI}/runs/abc-123"]:
        assert expected in text
    assert EMAIL_ADDR not in text and "p***@g***.com" in text
    assert email_subject(alert) == "[funnel-assets] Run failed: nightly_funnel_job [2025-03-01]"


def test_run_failed_alert_without_step_errors_uses_the_run_error():
    alert = run_failed_alert(run_id="r1", job_name="j", ui_base_url=UI, run_error="Run was canceled by the launcher")
    assert alert.failed_steps == () and alert.error == "Run was canceled by the launcher"


def test_check_failed_alert_has_severity_partition_metadata_and_links():
    alert = check_failed_alert(
        execution_id=42,
        asset_path=["crm", "crm_sales"],
        check_name="phones_usable",
        severity="WARN",
        ui_base_url=UI,
        run_id="run-9",
        partition="2025-03-01",
        description=f"3 rows have no usable phone, e.g. {PHONE}",
        metadata={"unusable_rows": 3, "example": PHONE},
        job_name="nightly_funnel_job",
        blocking=False,
    )
    assert alert.kind == CHECK_FAILED and alert.key == "check:42" and alert.severity == "WARN"
    assert alert.title == "Check failed (WARN): crm/crm_sales / phones_usable [2025-03-01]"
    assert alert.asset_url == f"{UI}/assets/crm/crm_sales?view=checks"
    payload = render_payload(alert)
    dumped = json.dumps(payload)
    assert "98765" not in dumped and "43210" not in dumped
    assert payload["text"] == render_text(alert)
    assert payload["kind"] == CHECK_FAILED and payload["run_url"] == f"{UI}/runs/run-9"
    assert ["unusable_rows", "3"] in payload["details"]
    for expected in ["Severity: WARN", "Partition: 2025-03-01", "unusable_rows: 3", "Open the run:", "Asset checks:"]:
        assert expected in payload["text"]


def test_blocking_error_check_says_downstream_stopped():
    alert = check_failed_alert(
        execution_id=1, asset_path=["a"], check_name="c", severity="ERROR", ui_base_url=UI, run_id="r", blocking=True
    )
    assert alert.title.endswith("(blocking: downstream assets did not run)")


def test_alert_round_trips_through_json():
    alert = check_failed_alert(
        execution_id=7, asset_path=["a"], check_name="c", severity="ERROR", ui_base_url=UI, run_id="r",
        metadata={"x": 1},
    )
    assert Alert.from_dict(json.loads(json.dumps(alert.to_dict()))) == alert
    with pytest.raises(ValueError, match="unknown alert kind"):
        Alert(kind="exploded", key="k", title="t")


def test_small_parsers():
    assert parse_bool("", default=True, what="X") is True
    assert parse_bool(" No ", default=True, what="X") is False
    with pytest.raises(ValueError, match="X: 'maybe' is not a yes/no value"):
        parse_bool("maybe", default=False, what="X")
    assert severity_at_least("ERROR", "WARN") and severity_at_least("WARN", "WARN")
    assert not severity_at_least("WARN", "ERROR")
    with pytest.raises(ValueError, match="unknown check severity"):
        severity_at_least("LOUD", "WARN")
    assert split_addresses(" a@x.com, b@y.org;; c@z.in ") == ("a@x.com", "b@y.org", "c@z.in")
    assert webhook_label("https://hooks.slack.com/services/T0/B0/SECRET?token=x") == "https://hooks.slack.com/…"


# --------------------------------------------------------------------------- webhook
def test_send_webhook_posts_the_json_payload_once(webhook):
    alert = run_failed_alert(run_id="r1", job_name="j", ui_base_url=UI)
    status = send_webhook(webhook.url(HOOK), render_payload(alert), timeout=5, retries=2, sleep=no_sleep)
    assert status == 204
    [request] = webhook.requests
    assert request.method == "POST" and request.header("Content-Type").startswith("application/json")
    assert request.json()["text"].startswith("[funnel-assets] Run failed: j")
    assert request.json()["run_url"] == f"{UI}/runs/r1"


def test_send_webhook_retries_5xx_with_backoff_then_succeeds(webhook):
    webhook.enqueue(HOOK, ScriptedResponse(status=500, body="oops"), ScriptedResponse(status=503))
    waits: list[float] = []
    assert send_webhook(webhook.url(HOOK), {"text": "hi"}, timeout=5, retries=2, backoff=0.5, sleep=waits.append) == 204
    assert len(webhook.requests_for(HOOK)) == 3
    assert waits == [0.5, 1.0]


def test_send_webhook_gives_up_without_leaking_the_secret_path(webhook):
    webhook.set_default(HOOK, ScriptedResponse(status=502, body="bad gateway"))
    with pytest.raises(NotificationError) as failure:
        send_webhook(webhook.url(HOOK), {"text": "hi"}, timeout=5, retries=1, sleep=no_sleep)
    assert "after 2 attempt(s): HTTP 502" in str(failure.value)
    assert "s3cr3t" not in str(failure.value) and webhook.base_url in str(failure.value)
    assert len(webhook.requests_for(HOOK)) == 2


def test_send_webhook_does_not_retry_a_4xx(webhook):
    webhook.set_default(HOOK, ScriptedResponse(status=404, body="no_service"))
    with pytest.raises(NotificationError, match="refused the alert: HTTP 404"):
        send_webhook(webhook.url(HOOK), {"text": "hi"}, retries=3, sleep=no_sleep)
    assert len(webhook.requests_for(HOOK)) == 1


def test_send_webhook_connection_refused_and_timeout(webhook):
    with pytest.raises(NotificationError, match="could not connect"):
        send_webhook(closed_port_url("/hook"), {"text": "hi"}, retries=1, sleep=no_sleep)
    webhook.enqueue(HOOK, ScriptedResponse(status=204, delay=1.0))
    with pytest.raises(NotificationError, match="no answer within 0.2 s"):
        send_webhook(webhook.url(HOOK), {"text": "hi"}, timeout=0.2, retries=0, sleep=no_sleep)
    with pytest.raises(NotificationError, match="http"):
        send_webhook("hooks.example.com/x", {"text": "hi"}, sleep=no_sleep)


# --------------------------------------------------------------------------- email
def test_send_email_delivers_a_plain_text_message(smtp_server):
    alert = run_failed_alert(run_id="r1", job_name="nightly_funnel_job", ui_base_url=UI, step_errors=[("s", "boom")])
    send_email(
        "127.0.0.1", smtp_server.port, "dagster@team.example", ["ops@team.example", "lead@team.example"],
        email_subject(alert), render_text(alert), timeout=5,
    )
    [mail] = smtp_server.received
    assert mail.sender == "dagster@team.example"
    assert mail.recipients == ["ops@team.example", "lead@team.example"]
    assert mail.message["Subject"] == "[funnel-assets] Run failed: nightly_funnel_job"
    assert f"{UI}/runs/r1" in mail.body and "s: boom" in mail.body


def test_send_email_logs_in_when_asked():
    with LocalSMTPServer(users={"alerts": "pw-123"}) as server:
        send_email("127.0.0.1", server.port, "a@x.com", ["b@y.com"], "s", "b", username="alerts", password="pw-123")
        assert server.logins == ["alerts"] and len(server.received) == 1
        with pytest.raises(NotificationError) as failure:
            send_email("127.0.0.1", server.port, "a@x.com", ["b@y.com"], "s", "b", username="alerts", password="wrong")
        assert "rejected the login for user 'alerts'" in str(failure.value) and "wrong" not in str(failure.value)
        assert len(server.received) == 1


def test_send_email_failures_are_clear():
    with LocalSMTPServer(reply="554 Transaction failed: mailbox full for ops@team.example") as server:
        with pytest.raises(NotificationError, match="answered 554") as failure:
            send_email("127.0.0.1", server.port, "a@x.com", ["ops@team.example"], "s", "b")
        assert "ops@team.example" not in str(failure.value)
        with pytest.raises(NotificationError, match="STARTTLS"):
            send_email("127.0.0.1", server.port, "a@x.com", ["b@y.com"], "s", "b", starttls=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with pytest.raises(NotificationError, match=f"could not talk to SMTP server 127.0.0.1:{closed}"):
        send_email("127.0.0.1", closed, "a@x.com", ["b@y.com"], "s", "b", timeout=2)
    with pytest.raises(NotificationError, match="no recipients"):
        send_email("127.0.0.1", closed, "a@x.com", [" "], "s", "b")


# --------------------------------------------------------------------------- channels and delivery
def _alerts(n: int) -> list[Alert]:
    return [run_failed_alert(run_id=f"r{i}", job_name="j", ui_base_url=UI) for i in range(n)]


def _channels(webhook: LocalHTTPServer | str | None, smtp: LocalSMTPServer | None) -> Channels:
    url = webhook.url(HOOK) if isinstance(webhook, LocalHTTPServer) else (webhook or "")
    return Channels(
        webhook_url=url,
        smtp_host="127.0.0.1" if smtp else "",
        smtp_port=smtp.port if smtp else 25,
        email_from="dagster@team.example",
        email_to=("ops@team.example",),
        timeout=5,
        webhook_retries=0,
    )


def test_channels_configuration():
    assert Channels().names() == []
    assert Channels(webhook_url="https://h/x").names() == ["webhook"]
    incomplete = Channels(smtp_host="mail", email_from="")
    assert incomplete.names() == []
    assert any("FUNNEL_ALERT_EMAIL_TO" in p for p in incomplete.problems())
    assert any("FUNNEL_ALERT_EMAIL_FROM" in p for p in incomplete.problems())
    assert Channels(webhook_url="ftp://x").problems() == ["FUNNEL_ALERT_WEBHOOK_URL must be an http(s) URL"]
    assert "pw-secret" not in repr(Channels(smtp_password="pw-secret"))


def test_deliver_sends_each_alert_once_per_channel(webhook, smtp_server):
    result = deliver(_alerts(2), [], _channels(webhook, smtp_server), sleep=no_sleep)
    assert len(webhook.requests_for(HOOK)) == 2 and len(smtp_server.received) == 2
    assert sorted(result.sent) == [("run:r0", "email"), ("run:r0", "webhook"), ("run:r1", "email"), ("run:r1", "webhook")]
    assert result.pending == [] and result.failed == [] and result.gave_up == []
    assert result.summary() == "4 notification(s) sent"


class Clock:
    """Wall-clock time the test moves by hand (seconds since the epoch)."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01 00:00 UTC
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_deliver_keeps_failed_channels_pending_and_retries_only_them(webhook, smtp_server):
    webhook.enqueue(HOOK, ScriptedResponse(status=500))
    channels = _channels(webhook, smtp_server)
    clock = Clock()
    first = deliver(_alerts(2), [], channels, now=clock, sleep=no_sleep)
    # the webhook failed on the first alert: it is not tried again for the second in this call
    assert len(webhook.requests_for(HOOK)) == 1 and len(smtp_server.received) == 2
    assert [(k, c) for k, c, _ in first.failed] == [("run:r0", "webhook")]
    assert first.deferred == [("run:r1", "webhook")]
    assert [(p["alert"]["key"], p["owed"]) for p in first.pending] == [
        ("run:r0", {"webhook": {"attempts": 1, "first_failed_at": clock.now, "next_at": clock.now + 60, "unanswered": 0,
                                "error": first.failed[0][2].split(" (attempt")[0]}}),
        ("run:r1", {"webhook": {"attempts": 0}}),
    ]
    assert "will be retried" in first.summary()

    clock.now += 30  # the failed one waits for its backoff; the deferred one goes now
    second = deliver([], json.loads(json.dumps(first.pending)), channels, now=clock, sleep=no_sleep)
    assert second.sent == [("run:r1", "webhook")] and [(k, c) for k, c, _ in second.waiting] == [("run:r0", "webhook")]
    clock.now += 30
    third = deliver([], second.pending, channels, now=clock, sleep=no_sleep)
    assert len(webhook.requests_for(HOOK)) == 3 and len(smtp_server.received) == 2  # email not sent again
    assert third.pending == [] and third.sent == [("run:r0", "webhook")]


def test_retries_back_off_exponentially_and_survive_a_down_channel_longer_than_five_attempts(webhook):
    """Down for 8 attempts (the old limit was 5), then up: delivered, once."""
    clock = Clock()
    sent_at: list[float] = []

    def answer(request):
        sent_at.append(clock.now)
        return ScriptedResponse(status=503 if len(sent_at) <= 8 else 200)

    webhook.set_default(HOOK, answer)
    channels = _channels(webhook, None)
    pending: list = []
    delivered = []
    for tick in range(24 * 60):  # a sensor tick a minute for a day
        result = deliver(_alerts(1) if tick == 0 else [], json.loads(json.dumps(pending)), channels, now=clock, sleep=no_sleep)
        pending = result.pending
        delivered += result.sent
        assert not result.gave_up
        clock.now += 60
    assert delivered == [("run:r0", "webhook")] and pending == []
    gaps = [b - a for a, b in zip(sent_at, sent_at[1:])]
    assert gaps == [60, 120, 240, 480, 960, 1920, 3600, 3600]  # doubling, at most an hour apart


def test_an_alert_is_given_up_only_after_the_retry_window(webhook):
    clock = Clock()
    channels = _channels(closed_port_url("/hook"), None)
    policy = RetryPolicy(window=24 * 3600)
    pending: list = []
    first_failure = clock.now
    gave_up_at = None
    attempts = 0
    for tick in range(26 * 60):
        result = deliver(_alerts(1) if tick == 0 else [], pending, channels, policy=policy, now=clock, sleep=no_sleep)
        attempts += len(result.failed) + len(result.gave_up)
        pending = result.pending
        if result.gave_up:
            gave_up_at = clock.now
            [(key, channel, error)] = result.gave_up
            assert (key, channel) == ("run:r0", "webhook") and "over 24.0 h" in error, error
            assert "GIVEN UP" in result.summary()
            break
        clock.now += 60
    assert gave_up_at is not None and pending == []
    assert gave_up_at - first_failure == 24 * 3600  # tried until the window's very end, not a tick less
    assert 25 <= attempts <= 33  # backing off, not a try every minute (1440)


def test_a_slow_channel_gets_the_alert_at_most_twice_with_one_idempotency_key(webhook):
    """The receiver takes the POST but answers after our timeout: re-sent once, after a backoff,
    with the same key; then taken as delivered."""
    clock = Clock()
    sent_at: list[float] = []

    def slow(request):
        sent_at.append(clock.now)
        return ScriptedResponse(status=200, delay=0.5)

    webhook.set_default(HOOK, slow)
    channels = Channels(webhook_url=webhook.url(HOOK), timeout=0.2, webhook_retries=2)
    pending: list = []
    unconfirmed = []
    for tick in range(120):
        result = deliver(_alerts(1) if tick == 0 else [], pending, channels, now=clock, sleep=no_sleep)
        pending = result.pending
        unconfirmed += result.unconfirmed
        clock.now += 60
    posts = webhook.requests_for(HOOK)
    assert len(posts) == 2 and pending == [] and [(k, c) for k, c, _ in unconfirmed] == [("run:r0", "webhook")]
    keys = {p.json()["idempotency_key"] for p in posts} | {p.header("Idempotency-Key") for p in posts}
    assert keys == {_alerts(1)[0].idempotency_key}
    assert sent_at[1] - sent_at[0] >= 60  # backoff between the attempts, not an immediate retry


def test_old_cursor_entries_are_still_retried(webhook, smtp_server):
    pending = [{"alert": _alerts(1)[0].to_dict(), "channels": ["webhook"], "attempts": 3, "error": "HTTP 500"}]
    result = deliver([], pending, _channels(webhook, smtp_server), sleep=no_sleep)
    assert result.sent == [("run:r0", "webhook")] and result.pending == [] and smtp_server.received == []


def test_deliver_drops_channels_no_longer_configured_and_respects_the_deadline(webhook, smtp_server):
    pending = [{"alert": _alerts(1)[0].to_dict(), "owed": {"email": {"attempts": 1}}}]
    result = deliver([], pending, _channels(webhook, None), sleep=no_sleep)
    assert result.pending == [] and result.sent == [] and smtp_server.received == []

    ticks = iter([0.0, 100.0, 100.0, 100.0])
    result = deliver(_alerts(2), [], _channels(webhook, None), deadline=50.0, clock=lambda: next(ticks), sleep=no_sleep)
    assert result.sent == [("run:r0", "webhook")] and result.deferred == [("run:r1", "webhook")]
    assert result.pending[0]["owed"] == {"webhook": {"attempts": 0}}
