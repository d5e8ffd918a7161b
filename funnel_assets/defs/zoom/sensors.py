"""The Zoom drop folder: files people download by hand become runs of the days they belong to."""

import hashlib
import json
import time
from datetime import date, datetime, timedelta, timezone

import dagster as dg

from funnel_assets.defs.common import SETTINGS, daily_partitions
from funnel_assets.defs.resources import ProjectConfigResource, ZoomInboxResource
from funnel_assets.lib import zoom_inbox as inbox_lib
from funnel_assets.lib.zoom_reports import PEEK_BYTES, WAITING_CODES, ZoomReportError, parse_report, peek_report

MAX_DAYS_PER_RUN = 31

zoom_drop_folder_job = dg.define_asset_job(
    "zoom_drop_folder_job",
    selection=dg.AssetSelection.assets("zoom_sessions", "zoom_session_summary").downstream(),
    description="The Zoom assets (and everything downstream) for the days of newly dropped Zoom reports.",
    executor_def=dg.in_process_executor,
)


def date_ranges(days: list[date], max_days: int = MAX_DAYS_PER_RUN) -> list[tuple[date, date]]:
    """Consecutive days as inclusive ranges of at most ``max_days``: one run per range."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + timedelta(days=1) and (day - ranges[-1][0]).days < max_days:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _run_request(first: date, last: date, files: list[str]) -> dg.RunRequest:
    digest = hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()[:16]
    tags = {"funnel/trigger": "zoom_drop_folder", "funnel/zoom_files": str(len(files))}
    if first == last:
        return dg.RunRequest(run_key=f"zoom-{first}-{digest}", partition_key=first.isoformat(), tags=tags)
    return dg.RunRequest(
        run_key=f"zoom-{first}-{last}-{digest}",
        tags={
            **tags,
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
    )


@dg.sensor(
    job=zoom_drop_folder_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Watches the Zoom drop folder (FUNNEL_ZOOM_INBOX). A file is read once it has stopped changing; "
        "reports are filed under `processed/<session date>/` and their days are run; anything else goes to "
        "`rejected/` with a `.reason.txt` beside it. Today's sessions wait in the folder until tomorrow."
    ),
)
def zoom_drop_folder_sensor(
    context: dg.SensorEvaluationContext,
    zoom_inbox: ZoomInboxResource,
    project_config: ProjectConfigResource,
):
    state = json.loads(context.cursor) if context.cursor else {}
    folders = zoom_inbox.folders()
    folders.ensure()
    settings = project_config.zoom_config().settings
    files = inbox_lib.scan_inbox(folders)
    ready, writing, seen = inbox_lib.settled(
        files, {name: tuple(v) for name, v in state.get("seen", {}).items()}, now=time.time(), settle_seconds=settings.settle_seconds
    )
    now = datetime.now(timezone.utc)
    last_day = daily_partitions.get_last_partition_key()

    def session_date_of(head: bytes, name: str) -> date:
        read = dict(source=name, timezone=SETTINGS.timezone, not_after=now, default_day_first=settings.default_day_first)
        try:  # a name with "day-first" / "month-first" is the user's answer for dates that cannot tell
            return peek_report(head, **read).session_date
        except ZoomReportError as exc:
            if exc.code in WAITING_CODES and len(head) < PEEK_BYTES:
                parse_report(head, **read)  # the whole file: before asking the user, a full read (cut off?)
            raise

    result = inbox_lib.triage(
        folders,
        ready,
        session_date_of=session_date_of,
        accepts_date=lambda d: last_day is not None and SETTINGS.start_date <= d <= date.fromisoformat(last_day),
        too_early=lambda d: d < SETTINGS.start_date,
        start_date=SETTINGS.start_date,
        already_waiting={name: tuple(v) for name, v in state.get("waiting", {}).items()},
        waiting_codes=WAITING_CODES,
        now=now,
    )
    requests = [
        _run_request(first, last, [p.name for d, paths in result.archived.items() if first <= d <= last for p in paths])
        for first, last in date_ranges(list(result.archived))
    ]
    summary = (
        f"{len(files)} file(s) in the folder: {sum(map(len, result.archived.values()))} archived, "
        f"{len(result.duplicates)} duplicate(s), {len(result.rejected)} rejected, "
        f"{len(result.waiting)} waiting (for their day to end, or for you: see their .reason.txt), "
        f"{len(result.unpacked)} zip(s) unpacked, {len(writing)} still being written"
    )
    context.log.info(summary)
    # Remember only the files still in the folder (being written, waiting for their day, or failed).
    still_here = {f.name for f in (*writing, *result.waiting, *result.errors)}
    seen = {name: stat for name, stat in seen.items() if name in still_here}
    cursor = json.dumps({"seen": seen, "waiting": result.waiting_state}, sort_keys=True)
    if requests:
        return dg.SensorResult(run_requests=requests, cursor=cursor)
    return dg.SensorResult(skip_reason=summary, cursor=cursor)


def tick_like_the_daemon(instance: dg.DagsterInstance, ticks: int = 2) -> list[dg.RunRequest]:
    """What the running daemon does with the drop folder, for the demo, benchmarks and tests:
    ``ticks`` ticks with the cursor carried over (a file is read once it has not changed since the
    previous tick), filing every report under its session day. Returns the run requests (not
    launched)."""
    from funnel_assets.definitions import defs

    definitions = defs()
    cursor, requests = None, []
    for _ in range(ticks):
        with dg.build_sensor_context(instance=instance, definitions=definitions, cursor=cursor, resources=definitions.resources) as context:
            result = zoom_drop_folder_sensor.evaluate_tick(context)
        cursor = result.cursor
        requests += result.run_requests
    return requests
