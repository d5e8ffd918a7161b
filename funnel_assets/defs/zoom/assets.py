"""Zoom webinars and bootcamps: the reports people download by hand, cleaned into sessions."""

from datetime import date, datetime, timedelta, timezone

import dagster as dg
import polars as pl

from funnel_assets.defs.common import (
    SETTINGS,
    daily_multi_asset,
    partition_dates,
    safe_metadata,
    table_metadata,
)
from funnel_assets.defs.resources import ProjectConfigResource, WarehouseResource, ZoomInboxResource
from funnel_assets.lib import zoom_inbox as inbox_lib
from funnel_assets.lib import zoom_sessions
from funnel_assets.lib.phones import mask_email
from funnel_assets.lib.redact import safe_text
from funnel_assets.lib.zoom_reports import ZoomReportError, assess_usability, parse_report

GROUP = "zoom"
MIN_TIME_PARSE_RATIO = 0.99

SESSION_COLUMNS = {
    "session_date": "Day the session started, in the team's time zone (the partition)",
    "session_key": "<webinar id>@<start date>: occurrences of a recurring webinar are separate sessions",
    "program": "From the topic's tokens (data/config/zoom_programs.csv); Other when none matches",
    "kind": "webinar or bootcamp (bootcamp_tokens in data/config/zoom_settings.csv)",
    "bootcamp_day": "Day 1 / Day 2 for bootcamps (from the topic, else Saturday/Sunday, else Day 1)",
    "conductor": "Approved conductor: session lookup, else a panelist, else the host (data/config/zoom_*conductors.csv)",
    "run_as": "webinar, or meeting when the bootcamp ran as a Zoom meeting (no registration)",
    "person_key": "Phone key (91 + 10 digits or +<digits>), else email, else name: the person within the session",
    "identity": "What person_key is: phone, email, name or row",
    "registered": "In the registration list (Attendee/Registrant Details)",
    "registered_at": "Earliest registration time (UTC): the first touch",
    "approval_status": "approved, denied, pending, upgraded to panelist, or not registered",
    "attended": "Joined at least once; null when the session's attendance report is not in yet",
    "minutes": "Minutes in the session: union of the join/leave intervals (rejoins are not double counted)",
    "segments": "Distinct join/leave intervals",
    "source_name": "Zoom's registration source tracking (Source Name), e.g. Instagram",
    "answers": "Registration form answers beyond the standard fields, as JSON",
    "source_files": "The report files these values come from",
}

CHECKS = [
    dg.AssetCheckSpec(
        "sessions_have_audience",
        asset="zoom_sessions",
        description="Every session found in the day's files has at least one registrant or attendee.",
    ),
    dg.AssetCheckSpec(
        "registrants_cover_attendees",
        asset="zoom_sessions",
        description="In every webinar with a registration list, at least as many people registered as attended.",
    ),
    dg.AssetCheckSpec(
        "date_parse_ratio",
        asset="zoom_sessions",
        description=f"At least {MIN_TIME_PARSE_RATIO:.0%} of the time cells in the day's files were read.",
    ),
    dg.AssetCheckSpec(
        "valid_phone_share",
        asset="zoom_sessions",
        description="Enough registrants who gave a phone number gave a usable one (min_valid_phone_share in zoom_settings.csv).",
    ),
    dg.AssetCheckSpec(
        "all_files_loaded",
        asset="zoom_sessions",
        description="Every report filed under the run's days could be read in full (a file rejected now is listed, with its reason, in rejected/).",
    ),
    dg.AssetCheckSpec(
        "no_staff_in_audience",
        asset="zoom_sessions",
        description="No host, panelist or staff address is counted as audience (blocks downstream assets).",
        blocking=True,
    ),
]


@daily_multi_asset(
    specs=[
        dg.AssetSpec(
            "zoom_sessions",
            group_name=GROUP,
            kinds={"zoom", "polars", "sql"},
            description=(
                "Who registered for and attended each Zoom webinar or bootcamp session: one row per "
                "person per session, from the Attendee, Registration and meeting participant reports "
                "dropped into the Zoom folder. Registration and attendance reports of one session are "
                "merged; re-downloads and corrected exports never double count; hosts and panelists are "
                "left out; denied and pending registrations are kept and flagged. Partitioned by the "
                "session's date."
            ),
            tags={"layer": "raw", "source": "zoom"},
        ),
        dg.AssetSpec(
            "zoom_session_summary",
            group_name=GROUP,
            kinds={"zoom", "polars", "sql"},
            description=(
                "One row per Zoom session: topic, program, webinar or bootcamp (and which day), "
                "conductor, start, how many registered and attended, and which files it was built from."
            ),
            tags={"layer": "raw", "source": "zoom"},
        ),
    ],
    check_specs=CHECKS,
)
def zoom_assets(
    context: dg.AssetExecutionContext,
    zoom_inbox: ZoomInboxResource,
    project_config: ProjectConfigResource,
    warehouse: WarehouseResource,
):
    """Parse the reports archived for the run's days, merge them into sessions, replace those days."""
    start, end = partition_dates(context)
    folders = zoom_inbox.folders()
    config = project_config.zoom_config()
    reports, rejected, misfiled, superseded = _parse_archived(context, folders, config, start, end)
    cleaned = zoom_sessions.build_zoom_sessions(reports, config)
    db = warehouse.get()
    rows_report = db.replace_partitions("zoom_sessions", cleaned.rows, partition_column="session_date", start=start, end=end)
    sessions_report = db.replace_partitions(
        "zoom_session_summary", cleaned.sessions, partition_column="session_date", start=start, end=end
    )
    context.log.info(
        f"{len(reports)} report(s) for {start} .. {end - timedelta(days=1)}: {cleaned.sessions.height} session(s), "
        f"{cleaned.rows.height} people rows; {len(rejected)} file(s) rejected"
    )
    files_meta = {
        "files_read": dg.MetadataValue.int(len(reports)),
        "files_rejected": dg.MetadataValue.md(
            "\n".join(f"- {name}: {reason}" for name, _, reason in rejected) or "none"
        ),
        "days_in_run": f"{start} .. {end - timedelta(days=1)}",
        **({"files_moved_to_other_days": ", ".join(f"{n} -> {d}" for n, d in misfiled)} if misfiled else {}),
        **({"files_superseded": ", ".join(f"{old} (by {new})" for old, new in superseded)} if superseded else {}),
    }
    yield dg.MaterializeResult(
        asset_key="zoom_sessions",
        metadata=table_metadata(
            cleaned.rows,
            rows_report,
            descriptions=SESSION_COLUMNS,
            partition_column="session_date",
            sessions=dg.MetadataValue.int(cleaned.sessions.height),
            attended=dg.MetadataValue.int(cleaned.rows["attended"].fill_null(False).sum()),
            example_emails=", ".join(filter(None, (mask_email(e) for e in cleaned.rows["email"].drop_nulls().head(3).to_list()))) or "none",
            **files_meta,
        ),
        check_results=_check_results(cleaned, config.settings.min_valid_phone_share, files=len(reports), rejected=rejected),
    )
    yield dg.MaterializeResult(
        asset_key="zoom_session_summary",
        metadata=table_metadata(
            cleaned.sessions,
            sessions_report,
            partition_column="session_date",
            sessions=dg.MetadataValue.md(_sessions_markdown(cleaned.sessions)),
            **files_meta,
        ),
    )


def _parse_archived(context, folders, config, start: date, end: date):
    """Every archived report of ``[start, end)``: files that turn out unusable are moved to rejected/,
    files of another day to theirs, and a report replaced by a later download of the same report of
    the same session (a corrected re-export) to superseded/."""
    reports, paths, dropped, rejected, misfiled = [], [], [], [], []
    now = datetime.now(timezone.utc)
    day = start
    while day < end:
        for path in inbox_lib.archived_files(folders, day):
            name = inbox_lib.original_name(path)
            try:
                report = parse_report(
                    path.read_bytes(),
                    source=name,
                    timezone=SETTINGS.timezone,
                    default_day_first=config.settings.default_day_first,  # unless the name says day-first / month-first
                    not_after=now,
                )
                assess_usability(
                    report,
                    max_bad_time_share=config.settings.max_bad_time_share,
                    max_bad_phone_share=config.settings.max_bad_phone_share,
                )
            except ZoomReportError as exc:
                moved = inbox_lib.reject(folders, path, code=exc.code, reason=exc.reason, now=now, original_name=name)
                context.log.warning(safe_text(f"{name}: rejected ({exc.code}): {exc.reason} Moved to {moved}."))
                rejected.append((name, exc.code, exc.reason))
                continue
            if not start <= report.session_date < end:
                moved = inbox_lib.refile(folders, path, report.session_date, now=now)
                context.log.warning(safe_text(
                    f"{name} was filed under {day} but its session is on {report.session_date}: moved to {moved}. "
                    f"Materialize zoom_sessions for {report.session_date} to include it."
                ))
                misfiled.append((name, report.session_date))
                continue
            for note in report.warnings:
                context.log.info(safe_text(f"{name}: {note}"))
            reports.append(report)
            paths.append(path)
            dropped.append(path.stat().st_mtime_ns)
        day += timedelta(days=1)
    kept, replaced = zoom_sessions.latest_reports(reports, dropped)
    superseded = []
    for old, new in replaced.items():
        moved = inbox_lib.supersede(folders, paths[old], by=paths[new], session_date=reports[old].session_date, now=now)
        context.log.info(safe_text(f"{reports[old].source} is replaced by the later download {reports[new].source}: moved to {moved}."))
        superseded.append((reports[old].source, reports[new].source))
    return [reports[i] for i in kept], rejected, misfiled, superseded


def _sessions_markdown(sessions: pl.DataFrame) -> str:
    if sessions.height == 0:
        return "no sessions"
    lines = ["| session | topic | program | kind | conductor | registered | attended |", "|---|---|---|---|---|---|---|"]
    for s in sessions.head(40).iter_rows(named=True):
        kind = s["kind"] + (f" ({s['bootcamp_day']})" if s["bootcamp_day"] else "") + (" as meeting" if s["run_as"] == "meeting" else "")
        lines.append(f"| {s['session_key']} | {s['topic']} | {s['program']} | {kind} | {s['conductor'] or ''} | {s['registrants']} | {s['attendees']} |")
    return "\n".join(lines)


def _check_results(cleaned: zoom_sessions.CleanedZoom, min_phone_share: float, *, files: int,
                   rejected: list[tuple[str, str, str]] = ()) -> list[dg.AssetCheckResult]:
    q = cleaned.quality
    empty = cleaned.sessions.filter((pl.col("registrants") == 0) & (pl.col("attendees") == 0))["session_key"].to_list()
    return [
        dg.AssetCheckResult(
            check_name="sessions_have_audience",
            asset_key="zoom_sessions",
            passed=not empty,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=safe_metadata({
                "sessions": q.sessions,
                "rows": q.rows,
                "files": files,
                "empty_sessions": ", ".join(empty) or "none",
                **({"note": "no Zoom files for these days"} if files == 0 and not rejected else {}),
            }),
        ),
        dg.AssetCheckResult(
            check_name="all_files_loaded",
            asset_key="zoom_sessions",
            passed=not rejected,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=safe_metadata({
                "files_read": files,
                "files_rejected": len(rejected),
                "rejected": dg.MetadataValue.md(
                    "\n".join(f"- {name} ({code}): {reason}" for name, code, reason in rejected)
                    + "\n\nThe files are in the Zoom folder's rejected/, each with a .reason.txt." if rejected else "none"
                ),
            }),
        ),
        dg.AssetCheckResult(
            check_name="registrants_cover_attendees",
            asset_key="zoom_sessions",
            passed=not q.registrants_below_attendees,
            severity=dg.AssetCheckSeverity.WARN,
            metadata=safe_metadata({"sessions_with_more_attendees": ", ".join(q.registrants_below_attendees) or "none"}),
        ),
        dg.AssetCheckResult(
            check_name="date_parse_ratio",
            asset_key="zoom_sessions",
            passed=q.time_parse_ratio >= MIN_TIME_PARSE_RATIO,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "ratio": round(q.time_parse_ratio, 5),
                "minimum": MIN_TIME_PARSE_RATIO,
                "time_cells": q.time_cells,
                "unreadable": q.time_cells - q.time_parsed,
            },
        ),
        dg.AssetCheckResult(
            check_name="valid_phone_share",
            asset_key="zoom_sessions",
            passed=q.usable_phone_share >= min_phone_share,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "share": round(q.usable_phone_share, 4),
                "minimum": min_phone_share,
                "registrants_with_phone": q.phones_present,
            },
        ),
        dg.AssetCheckResult(
            check_name="no_staff_in_audience",
            asset_key="zoom_sessions",
            passed=q.staff_in_audience == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"staff_rows": q.staff_in_audience},
        ),
    ]
