"""The alert sensors against real runs on a Dagster instance, a local webhook and a local SMTP server.

Each test runs real jobs (an asset that raises, checks that fail) on a test instance (SQLite,
and PostgreSQL when it is reachable), then evaluates the sensors tick after tick with their
cursor, as the daemon does, and counts what reached the webhook and the mailbox.
"""

import json
from collections.abc import Iterator

import dagster as dg
import pytest

from funnel_assets.defs.alerts.resources import AlertChannelResource
from funnel_assets.defs.alerts import sensors as sensors_module
from funnel_assets.defs.alerts.sensors import check_failure_alerts, run_failure_alerts
from funnel_assets.definitions import defs as project_defs
from funnel_assets_tests.http_server import LocalHTTPServer, ScriptedResponse
from funnel_assets_tests.lib.test_alerts import LocalSMTPServer

UI = "http://dagster.team.example:3000"
HOOK = "/alerts"
PHONE, EMAIL_ADDR = "98765 43210", "priya.sharma@gmail.com"
days = dg.DailyPartitionsDefinition(start_date="2025-01-01")


# --------------------------------------------------------------------------- a tiny pipeline that fails
@dg.asset(partitions_def=days)
def crm_dump():
    raise ValueError(f"CRM dump row 7 unreadable: leadMobile={PHONE} email={EMAIL_ADDR}")


@dg.asset_check(asset=crm_dump, partitions_def=days)
def crm_dump_not_empty():
    return dg.AssetCheckResult(passed=True)  # never runs: its asset fails first


@dg.asset
def leads():
    return 1


@dg.asset_check(asset=leads)
def leads_phones_usable():
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description="4 of 120 leads have no usable phone",
        metadata={"unusable_rows": 4, "example_phone": PHONE, "example_email": EMAIL_ADDR},
    )


@dg.asset_check(asset=leads)
def leads_ids_unique():
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata={"duplicate_ids": 2})


@dg.asset_check(asset=leads)
def leads_have_sources():
    return dg.AssetCheckResult(passed=True, metadata={"rows_without_source": 0})


@dg.asset
def sales():
    return 1


@dg.asset_check(asset=sales, blocking=True)
def sales_amounts_positive():
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata={"negative_amounts": 1})


@dg.asset(deps=[sales])
def sales_enriched():
    return 1


@dg.asset(partitions_def=days)
def spend_day():
    return 1


@dg.asset_check(asset=spend_day, partitions_def=days)
def spend_day_matches_sheet_total():
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={"difference": 12.5})


DEFS = dg.Definitions(
    assets=[crm_dump, leads, sales, sales_enriched, spend_day],
    asset_checks=[
        crm_dump_not_empty,
        leads_phones_usable,
        leads_ids_unique,
        leads_have_sources,
        sales_amounts_positive,
        spend_day_matches_sheet_total,
    ],
    sensors=[run_failure_alerts, check_failure_alerts],
)


def fail_crm_dump(instance, day: str = "2025-03-01") -> None:
    result = dg.materialize([crm_dump, crm_dump_not_empty], partition_key=day, instance=instance, raise_on_error=False)
    assert not result.success


def run_leads_checks(instance) -> None:
    result = dg.materialize([leads, leads_phones_usable, leads_ids_unique, leads_have_sources], instance=instance)
    assert result.success  # non-blocking checks leave the run green
    assert sorted(e.check_name for e in result.get_asset_check_evaluations() if not e.passed) == [
        "leads_ids_unique",
        "leads_phones_usable",
    ]


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(params=["sqlite", "postgres"])
def instance(request) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance on SQLite (the demo's) and on PostgreSQL (production's)."""
    if request.param == "sqlite":
        with dg.instance_for_test() as inst:
            yield inst
        return
    url = request.getfixturevalue("postgres_database")
    with dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": url}}}) as inst:
        assert type(inst.event_log_storage).__name__ == "PostgresEventLogStorage"
        yield inst


@pytest.fixture
def webhook() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as server:
        server.set_default(HOOK, ScriptedResponse(status=200, body="ok", content_type="text/plain"))
        yield server


@pytest.fixture
def smtp() -> Iterator[LocalSMTPServer]:
    with LocalSMTPServer() as server:
        yield server


def channel(webhook=None, smtp=None, **overrides) -> AlertChannelResource:
    settings = dict(
        webhook_url=webhook.url(HOOK) if webhook else "",
        smtp_host="127.0.0.1" if smtp else "",
        smtp_port=str(smtp.port) if smtp else "",
        smtp_starttls="false",
        email_from="dagster@team.example",
        email_to="ops@team.example, lead@team.example",
        ui_base_url=UI,
        timeout_seconds=5.0,
        webhook_retries=0,
        webhook_backoff_seconds=0.0,
    )
    settings.update(overrides)
    return AlertChannelResource(**settings)


class Ticker:
    """Evaluates both sensors like the daemon: tick after tick, each with its own cursor."""

    def __init__(self, instance: dg.DagsterInstance, alert_channel: AlertChannelResource, definitions=DEFS):
        self.instance = instance
        self.alert_channel = alert_channel
        self.definitions = definitions
        self.cursors: dict[str, str | None] = {}
        self.skips: dict[str, str | None] = {}

    def tick(self, *sensors) -> None:
        for sensor in sensors or (run_failure_alerts, check_failure_alerts):
            with dg.build_sensor_context(
                instance=self.instance,
                definitions=self.definitions,
                cursor=self.cursors.get(sensor.name),
                resources={"alert_channel": self.alert_channel},
            ) as context:
                data = sensor.evaluate_tick(context)
            assert not data.run_requests
            self.cursors[sensor.name] = data.cursor
            self.skips[sensor.name] = data.skip_message

    def with_cursors(self, cursors: dict[str, str | None]) -> "Ticker":
        self.cursors = dict(cursors)
        return self

    def state(self, sensor) -> dict:
        return json.loads(self.cursors[sensor.name])


def posts(webhook: LocalHTTPServer) -> list[dict]:
    return [r.json() for r in webhook.requests_for(HOOK, method="POST")]


# --------------------------------------------------------------------------- tests
def test_project_definitions_run_both_sensors_with_the_alert_channel_resource():
    repo = project_defs()
    for name in ("run_failure_alerts", "check_failure_alerts"):
        sensor = repo.resolve_sensor_def(name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        assert sensor.minimum_interval_seconds == 60
        assert "alert_channel" in sensor.required_resource_keys
    assert isinstance(repo.resources["alert_channel"], AlertChannelResource)
    with dg.instance_for_test() as instance:
        ticker = Ticker(instance, AlertChannelResource(webhook_url="http://127.0.0.1:9/hook"), definitions=repo)
        ticker.tick()
        ticker.tick()  # the project's own checks are read (nothing ran: nothing to send)
        assert ticker.skips["check_failure_alerts"].startswith("0 new failed check evaluation(s)")
        assert ticker.state(check_failure_alerts) == {"done": [], "low": 0, "pending": []}


def test_each_failure_is_alerted_once_by_webhook_and_email(instance, webhook, smtp):
    fail_crm_dump(instance, "2025-02-27")  # before the sensors started: history, not alerted
    ticker = Ticker(instance, channel(webhook, smtp))
    ticker.tick()
    assert "Started watching" in ticker.skips["run_failure_alerts"]
    assert posts(webhook) == [] and smtp.received == []

    fail_crm_dump(instance, "2025-03-01")
    run_leads_checks(instance)
    ticker.tick()

    sent = posts(webhook)
    assert sorted(p["kind"] for p in sent) == ["check_failed", "check_failed", "run_failed"]
    assert len(smtp.received) == 3
    assert all(m.recipients == ["ops@team.example", "lead@team.example"] for m in smtp.received)
    assert sorted(m.message["Subject"] for m in smtp.received) == sorted(f"[funnel-assets] {p['title']}" for p in sent)

    [run_alert] = [p for p in sent if p["kind"] == "run_failed"]
    run = instance.get_run_by_id(run_alert["run_id"])
    assert run.tags["dagster/partition"] == "2025-03-01"
    assert run_alert["failed_steps"] == ["crm_dump"] and run_alert["partition"] == "2025-03-01"
    assert run_alert["run_url"] == f"{UI}/runs/{run.run_id}"
    assert run_alert["error"].startswith("crm_dump: ValueError: CRM dump row 7 unreadable")

    checks = {p["check"]: p for p in sent if p["kind"] == "check_failed"}
    assert set(checks) == {"leads_phones_usable", "leads_ids_unique"}
    warn = checks["leads_phones_usable"]
    assert warn["severity"] == "WARN" and warn["asset"] == "leads"
    assert ["unusable_rows", "4"] in warn["details"]
    assert warn["run_url"] == f"{UI}/runs/{warn['run_id']}" and instance.get_run_by_id(warn["run_id"]).is_success
    assert checks["leads_ids_unique"]["severity"] == "ERROR"
    assert "Severity: ERROR" in checks["leads_ids_unique"]["text"]

    everything = json.dumps(sent) + "".join(m.body for m in smtp.received)
    for secret in ("98765", "43210", EMAIL_ADDR, "priya"):
        assert secret not in everything

    ticker.tick()  # nothing new: nothing sent again
    ticker.tick()
    assert len(posts(webhook)) == 3 and len(smtp.received) == 3
    # the check that never ran (its asset failed) does not hold the check cursor back
    assert ticker.state(check_failure_alerts)["done"] == []


def test_new_failures_after_quiet_ticks_are_alerted(instance, webhook):
    ticker = Ticker(instance, channel(webhook))
    ticker.tick()
    run_leads_checks(instance)
    ticker.tick()
    fail_crm_dump(instance, "2025-03-02")
    run_leads_checks(instance)
    ticker.tick()
    kinds = [p["kind"] for p in posts(webhook)]
    assert sorted(kinds) == ["check_failed"] * 4 + ["run_failed"]


def test_a_run_dagster_will_retry_is_not_alerted_until_its_last_attempt(instance, webhook):
    ticker = Ticker(instance, channel(webhook))
    ticker.tick()
    result = dg.materialize(
        [crm_dump], partition_key="2025-03-01", instance=instance, raise_on_error=False, tags={"dagster/will_retry": "true"}
    )
    assert not result.success
    fail_crm_dump(instance)  # the last attempt (no retry left)
    ticker.tick(run_failure_alerts)
    assert len(posts(webhook)) == 1
    assert "1 more that Dagster will retry not alerted" in ticker.skips["run_failure_alerts"]


def test_min_check_severity_error_leaves_warnings_out(instance, webhook):
    ticker = Ticker(instance, channel(webhook, min_check_severity="ERROR"))
    ticker.tick()
    run_leads_checks(instance)
    ticker.tick(check_failure_alerts)
    assert [p["check"] for p in posts(webhook)] == ["leads_ids_unique"]
    assert "1 more below ERROR not alerted" in ticker.skips["check_failure_alerts"]


def test_a_failed_blocking_check_alerts_the_check_and_the_run(instance, webhook):
    ticker = Ticker(instance, channel(webhook))
    ticker.tick()
    result = dg.materialize([sales, sales_amounts_positive, sales_enriched], instance=instance, raise_on_error=False)
    assert not result.success
    ticker.tick()
    sent = {p["kind"]: p for p in posts(webhook)}
    assert set(sent) == {"run_failed", "check_failed"}
    assert sent["check_failed"]["title"] == (
        "Check failed (ERROR): sales / sales_amounts_positive (blocking: downstream assets did not run)"
    )
    assert sent["run_failed"]["run_id"] == sent["check_failed"]["run_id"]


def test_a_partitioned_check_names_its_partition(instance, webhook):
    ticker = Ticker(instance, channel(webhook))
    ticker.tick()
    dg.materialize([spend_day, spend_day_matches_sheet_total], partition_key="2025-03-05", instance=instance)
    ticker.tick()
    [alert] = posts(webhook)
    assert alert["partition"] == "2025-03-05"
    assert alert["title"] == "Check failed (WARN): spend_day / spend_day_matches_sheet_total [2025-03-05]"
    assert ["difference", "12.5"] in alert["details"]


def test_without_channels_the_sensors_skip_and_say_how_to_configure(instance, webhook):
    ticker = Ticker(instance, channel())
    ticker.tick()
    fail_crm_dump(instance)
    run_leads_checks(instance)
    ticker.tick()
    for name in ("run_failure_alerts", "check_failure_alerts"):
        assert "No alert channel is configured: set FUNNEL_ALERT_WEBHOOK_URL" in ticker.skips[name]
    # configuring a channel later does not flood it with what happened while nothing was configured
    ticker.alert_channel = channel(webhook)
    ticker.tick()
    assert posts(webhook) == []
    fail_crm_dump(instance)
    ticker.tick()
    assert [p["kind"] for p in posts(webhook)] == ["run_failed"]


def test_email_without_recipients_is_a_clear_configuration_problem(instance):
    ticker = Ticker(instance, channel(smtp_host="127.0.0.1", email_to=""))
    ticker.tick()
    assert "FUNNEL_ALERT_EMAIL_TO is empty" in ticker.skips["run_failure_alerts"]


@pytest.fixture
def clock(monkeypatch):
    """The sensors' wall clock, moved by the test (a minute per tick, as the daemon ticks)."""

    class Clock:
        now = 1_767_225_600.0  # 2026-01-01 00:00 UTC

        def __call__(self) -> float:
            return self.now

    fake = Clock()
    monkeypatch.setattr(sensors_module, "wall_clock", fake)
    return fake


def test_an_undelivered_alert_is_retried_after_a_backoff_and_sent_once(instance, webhook, smtp, clock):
    ticker = Ticker(instance, channel(webhook, smtp))
    ticker.tick()
    fail_crm_dump(instance)
    webhook.enqueue(HOOK, ScriptedResponse(status=500, body="internal error"))
    ticker.tick(run_failure_alerts)
    assert len(webhook.requests_for(HOOK)) == 1 and posts(webhook)[0]["kind"] == "run_failed"
    assert len(smtp.received) == 1  # email went through on the first tick
    assert "will be retried" in ticker.skips["run_failure_alerts"]
    [pending] = ticker.state(run_failure_alerts)["pending"]
    assert list(pending["owed"]) == ["webhook"] and pending["owed"]["webhook"]["attempts"] == 1

    clock.now += 30
    ticker.tick(run_failure_alerts)  # not yet: backing off
    assert len(webhook.requests_for(HOOK)) == 1 and "waiting to be retried" in ticker.skips["run_failure_alerts"]
    clock.now += 30
    ticker.tick(run_failure_alerts)  # the webhook is back
    assert len(webhook.requests_for(HOOK)) == 2 and len(smtp.received) == 1
    assert ticker.state(run_failure_alerts)["pending"] == []
    clock.now += 60
    ticker.tick(run_failure_alerts)
    assert len(webhook.requests_for(HOOK)) == 2 and len(smtp.received) == 1


def test_a_channel_down_longer_than_five_attempts_gets_the_alert_once_it_is_back_even_after_a_restart(instance, webhook, clock):
    """Down for 7 attempts (about two hours; the sensors used to give up after 5), then up."""
    ticker = Ticker(instance, channel(webhook))
    ticker.tick(run_failure_alerts)
    fail_crm_dump(instance)
    webhook.enqueue(HOOK, *[ScriptedResponse(status=503, body="maintenance") for _ in range(7)])
    for minute in range(4 * 60):
        if minute == 30:  # the daemon restarts: a new process, only the stored cursor carries over
            ticker = Ticker(instance, channel(webhook)).with_cursors(json.loads(json.dumps(ticker.cursors)))
        ticker.tick(run_failure_alerts)
        assert "GIVEN UP" not in ticker.skips["run_failure_alerts"]
        clock.now += 60
    received = posts(webhook)
    assert len(received) == 8 and ticker.state(run_failure_alerts)["pending"] == []
    assert len({p["idempotency_key"] for p in received}) == 1
    assert len(webhook.requests_for(HOOK)) == 8  # 7 refused + 1 delivered: each attempt after a growing pause


def test_a_slow_webhook_gets_the_alert_once_or_twice_not_on_every_tick(instance, webhook, clock):
    """The receiver takes each POST but answers after our timeout."""
    webhook.set_default(HOOK, ScriptedResponse(status=200, body="ok", content_type="text/plain", delay=0.6))
    ticker = Ticker(instance, channel(webhook, timeout_seconds=0.25, webhook_retries=2))
    ticker.tick(run_failure_alerts)
    fail_crm_dump(instance)
    times = []
    for _ in range(30):
        before = len(webhook.requests_for(HOOK))
        ticker.tick(run_failure_alerts)
        if len(webhook.requests_for(HOOK)) > before:
            times.append(clock.now)
        clock.now += 60
    requests = webhook.requests_for(HOOK)
    assert 1 <= len(requests) <= 2, len(requests)
    assert len({r.header("Idempotency-Key") for r in requests} | {r.json()["idempotency_key"] for r in requests}) == 1
    assert all(b - a >= 60 for a, b in zip(times, times[1:]))  # backoff between attempts
    assert ticker.state(run_failure_alerts)["pending"] == []


def test_a_dead_smtp_server_is_given_up_only_after_the_retry_window_with_an_error(instance, webhook, clock, capsys):
    with LocalSMTPServer() as dead:
        port = dead.port  # stopped on exit: nothing listens there any more
    ticker = Ticker(instance, channel(webhook, smtp_host="127.0.0.1", smtp_port=str(port), retry_hours="0.25"))
    ticker.tick()
    run_leads_checks(instance)
    ticker.tick(check_failure_alerts)
    assert len(posts(webhook)) == 2  # the webhook got both check alerts
    state = ticker.state(check_failure_alerts)
    assert sorted(p["owed"]["email"].get("attempts") for p in state["pending"]) == [0, 1]
    assert f"could not talk to SMTP server 127.0.0.1:{port}" in ticker.skips["check_failure_alerts"]

    given_up_at = []
    started = clock.now
    for _ in range(40):
        clock.now += 60
        ticker.tick(check_failure_alerts)
        if "GIVEN UP" in ticker.skips["check_failure_alerts"]:
            given_up_at.append(clock.now - started)
    # each alert is given up 15 minutes (the window) after its own first failure, not before
    assert len(given_up_at) == 2 and all(15 * 60 <= t <= 17 * 60 for t in given_up_at), given_up_at
    assert ticker.state(check_failure_alerts)["pending"] == []
    assert len(posts(webhook)) == 2  # never re-sent to the channel that worked
    logged = capsys.readouterr().err  # the sensor's log (the daemon keeps it with the tick)
    errors = [line for line in logged.splitlines() if " - ERROR - " in line and "GIVEN UP" in line]
    assert len(errors) == 2 and all("by email" in e for e in errors), logged[-2000:]


def test_retry_hours_setting_is_validated_and_defaults_to_a_day():
    assert channel(retry_hours="").retry_policy().window == 24 * 3600
    assert channel(retry_hours="48").retry_policy().window == 48 * 3600
    for bad in ("a day", "0", "-3"):
        with pytest.raises(ValueError, match="FUNNEL_ALERT_RETRY_HOURS"):
            channel(retry_hours=bad).retry_policy()
    assert project_defs().resources["alert_channel"].retry_hours.env_var_name == "FUNNEL_ALERT_RETRY_HOURS"
