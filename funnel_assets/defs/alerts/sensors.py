"""Two sensors tell people when something failed: a failed run, or a failed data-quality check.

* ``run_failure_alerts`` reads the instance's RUN_FAILURE events after its cursor (every run of
  every job on this Dagster instance) and sends one alert per failed run: job, partition(s),
  failed steps with the first lines of their errors, and a link to the run.
* ``check_failure_alerts`` reads the executions of this code location's asset checks and sends
  one alert per failed evaluation (``passed=False``) of at least FUNNEL_ALERT_MIN_CHECK_SEVERITY:
  asset, check, severity, partition, the check's metadata (masked), and links to the run and
  the asset's checks. Non-blocking checks leave their run green, so only this sensor sees them.

Both sensors keep their own JSON cursor: where they are in the history, plus the alerts that
could not be delivered yet (webhook answering 500, SMTP server down). Dagster stores the cursor in
the instance, so they survive a daemon restart. They are retried only on the channel that failed,
with a growing delay (1, 2, 4 ... minutes, at most an hour apart) for FUNNEL_ALERT_RETRY_HOURS
(24 h by default) after the first failure, then given up with an ERROR in the sensor's log and
"GIVEN UP" in the tick's message (the UI's sensor page). Each alert carries an idempotency key
(payload and ``Idempotency-Key`` header); a webhook that takes the POST but answers too slowly
gets it once more at most. A tick never raises for a delivery problem (that would lose the cursor
and re-send what did go out); its log and its tick message say what failed.
On their very first tick, and while no channel is configured, they start from "now": failures
from before are not sent (the run history in the UI has them), so nothing floods in later.

Why not ``@dg.run_failure_sensor``: it advances its own cursor even when the function raises, so
an alert whose webhook was down would be lost; a plain sensor over ``fetch_run_status_changes``
keeps undelivered alerts in its cursor. Runs that Dagster will re-execute (``dagster/will_retry``)
are alerted on their last attempt only.
"""

import json
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import dagster as dg
from dagster import DagsterEventType

from funnel_assets.defs.alerts.resources import HOW_TO_CONFIGURE, AlertChannelResource
from funnel_assets.lib.alerts import Alert, Delivery, check_failed_alert, deliver, run_failed_alert

TICK_INTERVAL_SECONDS = 60
SEND_BUDGET_SECONDS = 40.0  # the sensor evaluation budget is 60 s: stop starting sends after this
RUN_FAILURES_PER_TICK = 100
CHECK_PAGE = 100
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
WILL_RETRY_TAG = "dagster/will_retry"  # set on failed runs when run retries are enabled


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).replace(microsecond=0).isoformat()


def _partition_of(tags: Mapping[str, str]) -> str | None:
    if tags.get("dagster/partition"):
        return tags["dagster/partition"]
    if tags.get(RANGE_START) and tags.get(RANGE_END):
        return f"{tags[RANGE_START]}…{tags[RANGE_END]}"
    return None


def wall_clock() -> float:
    """Now, in seconds since the epoch (the retry schedule in the cursor; tests replace it)."""
    return time.time()


def _deliver(alerts: list[Alert], state: Mapping[str, Any], channels, alert_channel: AlertChannelResource) -> Delivery:
    return deliver(
        alerts,
        state.get("pending", []),
        channels,
        policy=alert_channel.retry_policy(),
        now=wall_clock,
        deadline=time.monotonic() + SEND_BUDGET_SECONDS,
    )


def _finish(context: dg.SensorEvaluationContext, delivery: Delivery, cursor: dict[str, Any], found: str) -> dg.SensorResult:
    """Log what happened (errors as errors: nothing fails silently) and keep the cursor."""
    for key, channel, error in delivery.failed:
        context.log.warning(f"alert {key} by {channel} not delivered, will be retried: {error}")
    for key, channel, error in delivery.unconfirmed:
        context.log.warning(f"alert {key} by {channel} got no answer, taken as delivered: {error}")
    for key, channel, error in delivery.gave_up:
        context.log.error(f"alert {key} by {channel} GIVEN UP, not delivered: {error}")
    summary = f"{found}; {delivery.summary()}"
    context.log.info(summary)
    return dg.SensorResult(skip_reason=summary, cursor=json.dumps(cursor, sort_keys=True))


def _channels_or_skip(context: dg.SensorEvaluationContext, alert_channel: AlertChannelResource):
    """The channels, and a skip reason when none is usable (configuration mistakes are logged as errors)."""
    channels = alert_channel.channels()
    problems = channels.problems()
    for problem in problems:
        context.log.error(f"alert configuration: {problem}")
    if not channels.names():
        return channels, " ".join([HOW_TO_CONFIGURE, *problems])
    return channels, None


# --------------------------------------------------------------------------- failed runs
def _latest_run_failure_cursor(instance: dg.DagsterInstance) -> str | None:
    result = instance.fetch_run_status_changes(DagsterEventType.RUN_FAILURE, limit=1)
    return result.cursor if result.records else None


def _root_message(error) -> str:
    """The message of the error that started it all (Dagster wraps user errors in its own)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message


def _run_alert(instance: dg.DagsterInstance, record, ui_base_url: str) -> Alert:
    entry = record.event_log_entry
    run_id = entry.run_id
    run = instance.get_run_by_id(run_id)
    job_name = run.job_name if run else (entry.job_name or "unknown job")
    step_errors = []
    for failure in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        event = failure.dagster_event
        error = getattr(event.event_specific_data, "error", None) if event else None
        step_errors.append((event.step_key or "?", _root_message(error) if error else failure.user_message))
    run_error = None
    data = entry.dagster_event.event_specific_data if entry.dagster_event else None
    if data is not None and getattr(data, "error", None) is not None:
        run_error = _root_message(data.error)
    elif entry.dagster_event is not None:
        run_error = entry.dagster_event.message
    return run_failed_alert(
        run_id=run_id,
        job_name=job_name,
        ui_base_url=ui_base_url,
        step_errors=step_errors,
        run_error=run_error,
        partition=_partition_of(run.tags) if run else None,
        occurred_at=_iso(entry.timestamp),
    )


@dg.sensor(
    name="run_failure_alerts",
    minimum_interval_seconds=TICK_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Sends one alert per failed run (any job on this instance) to the configured webhook and/or email: "
        "job, partition, failed steps and errors, and a link to the run. Undelivered alerts are retried on "
        "the next ticks for FUNNEL_ALERT_RETRY_HOURS (24 h), with a growing delay. Configure with FUNNEL_ALERT_* (see README, Alerts)."
    ),
)
def run_failure_alerts(context: dg.SensorEvaluationContext, alert_channel: AlertChannelResource):
    instance = context.instance
    state = json.loads(context.cursor) if context.cursor else None
    channels, skip = _channels_or_skip(context, alert_channel)
    if state is None or skip:
        # Start (or, while nothing can be sent, keep) watching from now: no flood of old failures later.
        cursor = {"after": _latest_run_failure_cursor(instance), "pending": []}
        reason = skip or "Started watching for failed runs (failures before now are not alerted)"
        return dg.SensorResult(skip_reason=reason, cursor=json.dumps(cursor, sort_keys=True))

    result = instance.fetch_run_status_changes(
        DagsterEventType.RUN_FAILURE, limit=RUN_FAILURES_PER_TICK, cursor=state.get("after"), ascending=True
    )
    ui = alert_channel.ui_url()
    alerts, retried = [], 0
    for record in result.records:
        run = instance.get_run_by_id(record.event_log_entry.run_id)
        if run is not None and run.tags.get(WILL_RETRY_TAG) == "true":
            retried += 1  # Dagster re-executes it (run_retries): its last attempt is the one to alert
            continue
        alerts.append(_run_alert(instance, record, ui))
    delivery = _deliver(alerts, state, channels, alert_channel)
    cursor = {"after": result.cursor if result.records else state.get("after"), "pending": delivery.pending}
    found = f"{len(alerts)} new failed run(s)"
    if retried:
        found += f" ({retried} more that Dagster will retry not alerted)"
    return _finish(context, delivery, cursor, found)


# --------------------------------------------------------------------------- failed checks
def _check_keys(context: dg.SensorEvaluationContext) -> list[dg.AssetCheckKey]:
    if context.repository_def is None:
        return []
    return sorted(context.repository_def.asset_graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name))


def _latest_check_execution_id(instance: dg.DagsterInstance, keys: list[dg.AssetCheckKey]) -> int:
    if not keys:
        return 0
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    return max((record.id for record in latest.values()), default=0)


def _starting_point(instance: dg.DagsterInstance, keys: list[dg.AssetCheckKey]) -> int:
    """"Now" for a first tick: the latest execution, but before any check still running."""
    if not keys:
        return 0
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys).values()
    running = [
        record.id
        for record in latest
        if record.status.value == "PLANNED" and (run := instance.get_run_by_id(record.run_id)) is not None and not run.is_finished
    ]
    return min(running) - 1 if running else max((record.id for record in latest), default=0)


def _plain(value: Any) -> Any:
    """A metadata value as plain data (tables as their first rows)."""
    if isinstance(value, dg.TableMetadataValue):
        rows = [dict(record.data) for record in value.records[:3]]
        return {"rows": len(value.records), "first rows": rows}
    return getattr(value, "value", value)


def _check_alert(instance: dg.DagsterInstance, record, ui_base_url: str, job_names: dict[str, str | None]) -> Alert | None:
    entry = record.event
    evaluation = entry.dagster_event.event_specific_data if entry is not None and entry.dagster_event else None
    if evaluation is None or getattr(evaluation, "passed", True):
        return None
    if record.run_id not in job_names:
        run = instance.get_run_by_id(record.run_id)
        job_names[record.run_id] = run.job_name if run else None
    return check_failed_alert(
        execution_id=record.id,
        asset_path=evaluation.asset_key.path,
        check_name=evaluation.check_name,
        severity=evaluation.severity.value,
        ui_base_url=ui_base_url,
        run_id=record.run_id,
        partition=evaluation.partition or record.partition,
        description=evaluation.description,
        metadata={label: _plain(value) for label, value in (evaluation.metadata or {}).items()},
        job_name=job_names[record.run_id],
        blocking=evaluation.blocking,
        occurred_at=_iso(entry.timestamp),
    )


@dg.sensor(
    name="check_failure_alerts",
    minimum_interval_seconds=TICK_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Sends one alert per failed asset-check evaluation (severity at least FUNNEL_ALERT_MIN_CHECK_SEVERITY) "
        "to the configured webhook and/or email: asset, check, severity, partition, the check's metadata and a "
        "link to the run. Catches non-blocking checks, whose runs stay green. Configure with FUNNEL_ALERT_*."
    ),
)
def check_failure_alerts(context: dg.SensorEvaluationContext, alert_channel: AlertChannelResource):
    instance = context.instance
    storage = instance.event_log_storage
    state = json.loads(context.cursor) if context.cursor else None
    channels, skip = _channels_or_skip(context, alert_channel)
    keys = _check_keys(context)
    if state is None or skip:
        cursor = {"low": _starting_point(instance, keys), "done": [], "pending": []}
        reason = skip or "Started watching for failed checks (failures before now are not alerted)"
        return dg.SensorResult(skip_reason=reason, cursor=json.dumps(cursor, sort_keys=True))

    min_severity_wanted = alert_channel.wants
    low = int(state.get("low", 0))
    done = set(state.get("done", []))
    # Everything up to `upper` existed when the tick started; newer rows are for the next tick.
    upper = max(low, _latest_check_execution_id(instance, keys))
    ui = alert_channel.ui_url()
    alerts: list[Alert] = []
    unsettled: list[int] = []  # planned executions whose run is still going
    run_finished: dict[str, bool] = {}
    job_names: dict[str, str | None] = {}
    below_severity = 0
    for key in keys:
        page_cursor = None
        while True:
            records = storage.get_asset_check_execution_history(key, limit=CHECK_PAGE, cursor=page_cursor)
            for record in records:
                if record.id <= low or record.id > upper:
                    continue
                if record.status.value == "PLANNED":
                    if record.run_id not in run_finished:
                        run = instance.get_run_by_id(record.run_id)
                        run_finished[record.run_id] = run is None or run.is_finished
                    if not run_finished[record.run_id]:
                        unsettled.append(record.id)
                elif record.status.value == "FAILED" and record.id not in done:
                    done.add(record.id)
                    alert = _check_alert(instance, record, ui, job_names)
                    if alert is None:
                        continue
                    if min_severity_wanted(alert.severity or "ERROR"):
                        alerts.append(alert)
                    else:
                        below_severity += 1
            if len(records) < CHECK_PAGE or records[-1].id <= low:
                break
            page_cursor = records[-1].id

    new_low = min(unsettled) - 1 if unsettled else upper
    delivery = _deliver(sorted(alerts, key=lambda a: int(a.key.split(":")[1])), state, channels, alert_channel)
    cursor = {"low": new_low, "done": sorted(i for i in done if i > new_low), "pending": delivery.pending}
    found = f"{len(alerts)} new failed check evaluation(s)"
    if below_severity:
        found += f" ({below_severity} more below {alert_channel.min_severity()} not alerted)"
    return _finish(context, delivery, cursor, found)
