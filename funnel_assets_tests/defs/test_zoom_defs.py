"""The Zoom drop-folder sensor through evaluate_tick, and zoom_sessions through dg.materialize."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
import pytest

from funnel_assets.defs.resources import ProjectConfigResource, WarehouseResource, ZoomInboxResource
from funnel_assets.defs.zoom.assets import zoom_assets
from funnel_assets.defs.zoom.sensors import date_ranges, zoom_drop_folder_sensor
from funnel_assets.definitions import defs
from funnel_assets.lib.settings import PROJECT_ROOT
from funnel_assets.lib.warehouse import Warehouse
from funnel_assets.lib.zoom_inbox import ZoomFolders, read_history, read_log

CONFIG_DIR = PROJECT_ROOT / "data" / "config"
TZ = ZoneInfo("Asia/Kolkata")
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def attendee_report(day: date, *, webinar_id: str = "847 5984 1045", people: int = 3, extra: str = "") -> bytes:
    """A small, realistic Attendee Report of a session on ``day`` (newer vintage, blank lines)."""
    t = lambda h, m: datetime(day.year, day.month, day.day, h, m, tzinfo=TZ).strftime("%b %d, %Y %H:%M:%S")  # noqa: E731
    reg = (datetime(day.year, day.month, day.day, 10, 0, tzinfo=TZ) - timedelta(days=1)).strftime("%b %d, %Y %H:%M:%S")
    lines = [
        "Attendee Report",
        f'Report generated time,"{t(21, 5)}"',
        "",
        "Topic,Webinar ID,Actual Start Time,Actual Duration (minutes),# Registrants,# Cancelled registrants,Unique Viewers,Total Users,Max Concurrent Views,Enable Registration",
        f'ACCA Career Webinar: Become a Global Accountant,{webinar_id},"{t(19, 0)}",90,{people},0,{people},{people},,Yes',
        "",
        "Host Details",
        "Attended,User Name (Original Name),Email,Join Time,Leave Time,Time in Session (minutes),Is Guest,Country/Region Name",
        f'Yes,Ankit Verma,ankit.verma@finedgeacademy.in,"{t(18, 50)}","{t(20, 35)}",105,No,India',
        "",
        "Attendee Details",
        "Attended,User Name (Original Name),First Name,Last Name,Email,Phone,Registration Time,Approval Status,Join Time,Leave Time,Time in Session (minutes),Is Guest,Country/Region Name,Source Name",
    ]
    for i in range(people):
        lines.append(
            f'Yes,Person {i}{extra},Person,{i}{extra},person{i}{extra}@example.com,98765 {43000 + i},"{reg}",approved,"{t(19, 1)}","{t(20, 0)}",59,Yes,India,Instagram'
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture
def inbox(tmp_path) -> Path:
    path = tmp_path / "inbox" / "zoom"
    path.mkdir(parents=True)
    return path


def drop(inbox: Path, name: str, content: bytes, *, age_seconds: float = 3600) -> Path:
    path = inbox / name
    path.write_bytes(content)
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


class Ticker:
    """Evaluates the sensor tick after tick with its cursor, like the daemon does."""

    def __init__(self, inbox: Path):
        self.inbox = inbox
        self.cursor: str | None = None
        self.resources = {
            "zoom_inbox": ZoomInboxResource(inbox=str(inbox)),
            "project_config": ProjectConfigResource(config_dir=str(CONFIG_DIR)),
        }

    def tick(self, instance) -> dg.SensorResult:
        with dg.build_sensor_context(instance=instance, definitions=defs(), cursor=self.cursor, resources=self.resources) as context:
            result = zoom_drop_folder_sensor.evaluate_tick(context)
        self.cursor = result.cursor
        return result


def requested_days(result) -> list[str]:
    days = []
    for request in result.run_requests:
        if request.partition_key:
            days.append(request.partition_key)
        else:
            first, last = date.fromisoformat(request.tags[RANGE_START]), date.fromisoformat(request.tags[RANGE_END])
            days.extend((first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1))
    return sorted(days)


def tree(inbox: Path) -> list[str]:
    """The files under the inbox (not our hidden lock file)."""
    return sorted(str(p.relative_to(inbox)) for p in inbox.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_new_file_then_the_same_file_again_then_a_changed_file(inbox):
    ticker = Ticker(inbox)
    day = date(2025, 3, 4)
    with dg.instance_for_test() as instance:
        drop(inbox, "Attendee Report.csv", attendee_report(day))
        first = ticker.tick(instance)
        assert requested_days(first) == ["2025-03-04"]
        assert [p for p in tree(inbox) if p.startswith("processed/")][0].startswith("processed/2025-03-04/")
        assert not (inbox / "Attendee Report.csv").exists()

        drop(inbox, "Attendee Report (1).csv", attendee_report(day))  # the very same download again
        again = ticker.tick(instance)
        assert again.run_requests == []
        assert any(p.startswith("processed/2025-03-04/duplicates/") for p in tree(inbox))

        drop(inbox, "Attendee Report (2).csv", attendee_report(day, people=4))  # a corrected export
        changed = ticker.tick(instance)
        assert requested_days(changed) == ["2025-03-04"]
        assert changed.run_requests[0].run_key != first.run_requests[0].run_key
        outcomes = read_log(ZoomFolders(inbox))["outcome"].to_list()
        assert outcomes.count("accepted") == 2 and outcomes.count("duplicate") == 1


def test_todays_file_waits_and_is_not_forgotten(inbox):
    ticker = Ticker(inbox)
    today = datetime.now(TZ).date()
    with dg.instance_for_test() as instance:
        drop(inbox, "today.csv", attendee_report(today))
        for _ in range(2):
            result = ticker.tick(instance)
            assert result.run_requests == []
            assert (inbox / "today.csv").exists()
        assert "waiting" in read_log(ZoomFolders(inbox))["outcome"].to_list()


def test_a_bad_file_never_blocks_good_ones(inbox):
    ticker = Ticker(inbox)
    with dg.instance_for_test() as instance:
        drop(inbox, "AccountStatement.csv", b"Date,Narration,Debit,Credit,Balance\n01/03/2025,UPI,100,,900\n")
        drop(inbox, "empty.csv", b"")
        drop(inbox, "good.csv", attendee_report(date(2025, 3, 5)))
        result = ticker.tick(instance)
        assert requested_days(result) == ["2025-03-05"]
        rejected = [p for p in tree(inbox) if p.startswith("rejected/")]
        assert len([p for p in rejected if p.endswith(".reason.txt")]) == 2
        assert len(rejected) == 4
        reason = next(inbox.glob("rejected/*AccountStatement.csv.reason.txt")).read_text()
        assert "AccountStatement.csv" in reason and "Zoom" in reason


def test_fifty_files_over_twenty_days_in_one_tick(inbox):
    ticker = Ticker(inbox)
    days = [date(2025, 4, 1) + timedelta(days=2 * i) for i in range(20)]  # every other day: 20 separate ranges
    for i in range(50):
        drop(inbox, f"report {i}.csv", attendee_report(days[i % 20], webinar_id=str(81234567890 + i), extra=str(i)))
    with dg.instance_for_test() as instance:
        result = ticker.tick(instance)
    assert requested_days(result) == sorted(d.isoformat() for d in days)
    assert len(tree(inbox)) == 50 + 2  # every file archived, plus the log and its history
    assert all(p.startswith("processed/") for p in tree(inbox) if p not in ("zoom_file_log.csv", "zoom_file_history.csv"))
    assert read_log(ZoomFolders(inbox)).height == 50


def test_consecutive_days_share_one_run():
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(40)] + [date(2025, 3, 1)]
    assert date_ranges(days) == [(date(2025, 1, 1), date(2025, 1, 31)), (date(2025, 2, 1), date(2025, 2, 9)), (date(2025, 3, 1), date(2025, 3, 1))]


def test_half_written_file_waits_until_it_stops_changing(inbox):
    ticker = Ticker(inbox)
    content = attendee_report(date(2025, 3, 6))
    with dg.instance_for_test() as instance:
        path = drop(inbox, "downloading.csv", content[: len(content) // 2], age_seconds=0)
        assert ticker.tick(instance).run_requests == []
        assert path.exists()
        path.write_bytes(content)  # the download finishes: size and mtime change
        assert ticker.tick(instance).run_requests == []
        assert path.exists()
        assert requested_days(ticker.tick(instance)) == ["2025-03-06"]  # unchanged since the last tick
        assert not path.exists()
        assert json.loads(ticker.cursor)["seen"] == {}


def test_zoom_sessions_materializes_the_archived_reports_of_its_day(inbox, warehouse_url):
    ticker = Ticker(inbox)
    day = date(2025, 3, 4)
    drop(inbox, "a.csv", attendee_report(day))
    drop(inbox, "b.csv", attendee_report(day, people=4))  # corrected export of the same session
    drop(inbox, "cut.csv", attendee_report(day, webinar_id="81234567890")[:-40])  # truncated download
    with dg.instance_for_test() as instance:
        assert requested_days(ticker.tick(instance)) == ["2025-03-04"]
        resources = {**ticker.resources, "warehouse": WarehouseResource(url=warehouse_url)}
        result = dg.materialize([zoom_assets], partition_key="2025-03-04", resources=resources, instance=instance)
    assert result.success
    rows = Warehouse(warehouse_url).read_table("zoom_sessions")
    assert rows.height == 4  # the later download replaces the earlier one: nobody twice, the host left out
    assert rows["session_key"].unique().to_list() == ["84759841045@2025-03-04"]
    assert rows["attended"].all() and rows["program"].unique().to_list() == ["ACCA"]
    assert rows["source_files"].unique().to_list() == ["b.csv"]
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert [name for name, e in checks.items() if not e.passed] == ["all_files_loaded"]  # cut.csv was rejected
    assert "cut.csv (truncated)" in checks["all_files_loaded"].metadata["rejected"].value
    assert "note" not in checks["sessions_have_audience"].metadata
    assert any(p.startswith("rejected/") and p.endswith("cut.csv") for p in tree(inbox))
    assert any(p.startswith("processed/2025-03-04/superseded/") and p.endswith("a.csv") for p in tree(inbox))
    log = read_log(ZoomFolders(inbox))
    assert log.filter(pl.col("outcome") == "rejected")["code"].to_list() == ["truncated"]
    assert sorted(log["file"].to_list()) == ["a.csv", "b.csv", "cut.csv"]  # each file once, in its final state
    assert dict(log.select("file", "outcome").iter_rows()) == {"a.csv": "superseded", "b.csv": "accepted", "cut.csv": "rejected"}


# --------------------------------------------------------------------------- files as real users have them (issue 12, item 5)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zoom"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_a_file_whose_dates_read_two_ways_waits_with_a_reason_until_its_name_says_which(inbox):
    """No guessed day: the file stays in the folder with <name>.reason.txt, logged once; renamed
    with "day-first" it is filed under 11 March, the note goes, the log holds the file once."""
    ticker = Ticker(inbox)
    drop(inbox, "Attendee Report.csv", fixture("us_resave_all_dates_ambiguous.csv"))
    with dg.instance_for_test() as instance:
        for _ in range(3):
            result = ticker.tick(instance)
            assert result.run_requests == [] and (inbox / "Attendee Report.csv").exists()
            assert not any(p.startswith(("processed/", "rejected/")) for p in tree(inbox))
        note = (inbox / "Attendee Report.csv.reason.txt").read_text()
        assert "11 March 2025 or 3 November 2025" in note and "day-first" in note and "month-first" in note
        assert "IST (Asia/Kolkata)" in note  # the team's time zone
        folders = ZoomFolders(inbox)
        assert read_log(folders).select("file", "outcome", "code").rows() == [("Attendee Report.csv", "waiting", "ambiguous_dates")]
        assert read_history(folders)["outcome"].to_list() == ["waiting"]  # once, not on every tick

        (inbox / "Attendee Report.csv").rename(inbox / "Attendee Report day-first.csv")
        assert requested_days(ticker.tick(instance)) == ["2025-03-11"]
        assert [p for p in tree(inbox) if not p.startswith("zoom_file")] == [
            next(p for p in tree(inbox) if p.startswith("processed/2025-03-11/") and p.endswith("Attendee Report day-first.csv"))]
        log = read_log(folders)
        assert log.select("file", "outcome").rows() == [("Attendee Report day-first.csv", "accepted")]


def test_a_corrected_re_export_replaces_the_earlier_download_so_a_corrected_phone_counts_once(inbox, warehouse_url):
    ticker = Ticker(inbox)
    # the corrected export lands first (older mtime): the report's generated time decides, not the drop order
    drop(inbox, "CFA orientation registrants (1).csv", fixture("reexport_corrected.csv"), age_seconds=7200)
    drop(inbox, "CFA orientation registrants.csv", fixture("reexport_first_download.csv"), age_seconds=3600)
    with dg.instance_for_test() as instance:
        assert requested_days(ticker.tick(instance)) == ["2026-01-24"]
        resources = {**ticker.resources, "warehouse": WarehouseResource(url=warehouse_url)}
        result = dg.materialize([zoom_assets], partition_key="2026-01-24", resources=resources, instance=instance)
    assert result.success
    rows = Warehouse(warehouse_url).read_table("zoom_sessions")
    rohit = rows.filter(pl.col("email") == "rohit.sharma88@gmail.com")
    assert rohit.height == 1 and rohit["phone_key"].to_list() == ["919820012354"]
    assert rows.height == 3 and rows["source_files"].unique().to_list() == ["CFA orientation registrants (1).csv"]
    assert rows.filter(pl.col("email") == "farhanq@yahoo.co.in")["approval_status"].to_list() == ["approved"]
    superseded = [p for p in tree(inbox) if "/superseded/" in p]
    assert len(superseded) == 1 and superseded[0].startswith("processed/2026-01-24/superseded/")
    assert superseded[0].endswith("__CFA orientation registrants.csv")
    log = read_log(ZoomFolders(inbox))
    assert dict(log.select("file", "outcome").iter_rows()) == {
        "CFA orientation registrants.csv": "superseded", "CFA orientation registrants (1).csv": "accepted"}
    assert "replaces this one as a whole" in log.filter(pl.col("outcome") == "superseded")["detail"][0]
    meta = result.asset_materializations_for_node("zoom_assets")[0].metadata
    assert "CFA orientation registrants.csv (by CFA orientation registrants (1).csv)" in meta["files_superseded"].value


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_is_unpacked_its_reports_read_and_the_zip_archived(inbox):
    ticker = Ticker(inbox)
    drop(inbox, "zoom_reports_march.zip", zip_of({
        "Attendee Report.csv": attendee_report(date(2025, 3, 4)),
        "reports/Registration Report.csv": fixture("registration_indian_layout.csv"),
        "__MACOSX/reports/._Registration Report.csv": b"\x00\x05\x16\x07",
    }))
    drop(inbox, "not really.zip", b"PK\x03\x04" + b"\x00" * 60)  # a damaged zip
    with dg.instance_for_test() as instance:
        first = ticker.tick(instance)
        assert first.run_requests == []
        assert sorted(p for p in tree(inbox) if not p.startswith(("zoom_file", "rejected/"))) == [
            "processed/zips/" + next(p.name for p in (inbox / "processed" / "zips").iterdir()),
            "zoom_reports_march - Attendee Report.csv", "zoom_reports_march - Registration Report.csv"]
        reason = next(inbox.glob("rejected/*not really.zip.reason.txt")).read_text()
        assert "could not be opened" in reason and "Unzip it yourself" in reason
        second = ticker.tick(instance)
        assert requested_days(second) == ["2025-01-14", "2025-03-04"]
    log = read_log(ZoomFolders(inbox))
    assert dict(log.select("file", "outcome").iter_rows()) == {
        "zoom_reports_march.zip": "unpacked", "not really.zip": "rejected",
        "zoom_reports_march - Attendee Report.csv": "accepted", "zoom_reports_march - Registration Report.csv": "accepted"}


def test_a_file_the_run_rejects_fails_a_check_and_is_alerted(inbox, warehouse_url):
    """The only file of the day turns out truncated when the run reads it in full: not a green run
    whose checks say "no Zoom files", but a failed all_files_loaded check, which the
    check_failure_alerts sensor sends."""
    from funnel_assets.defs.alerts.sensors import check_failure_alerts
    from funnel_assets_tests.defs.test_alerts_defs import HOOK, Ticker as AlertTicker, channel, posts
    from funnel_assets_tests.http_server import LocalHTTPServer, ScriptedResponse

    ticker = Ticker(inbox)
    drop(inbox, "Attendee Report.csv", attendee_report(date(2025, 3, 7), people=40)[:-40])  # cut off mid-row
    resources = {**ticker.resources, "warehouse": WarehouseResource(url=warehouse_url)}
    definitions = dg.Definitions(assets=[zoom_assets], sensors=[check_failure_alerts], resources=resources)
    with dg.instance_for_test() as instance, LocalHTTPServer() as webhook:
        webhook.set_default(HOOK, ScriptedResponse(status=200, body="ok", content_type="text/plain"))
        alerts = AlertTicker(instance, channel(webhook), definitions=definitions)
        alerts.tick(check_failure_alerts)
        assert requested_days(ticker.tick(instance)) == ["2025-03-07"]  # its head looks fine
        result = dg.materialize([zoom_assets], partition_key="2025-03-07", resources=resources, instance=instance)
        checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert not checks["all_files_loaded"].passed
        assert checks["all_files_loaded"].severity == dg.AssetCheckSeverity.ERROR
        assert "Attendee Report.csv (truncated)" in checks["all_files_loaded"].metadata["rejected"].value
        assert "note" not in checks["sessions_have_audience"].metadata  # not "no Zoom files for these days"
        alerts.tick(check_failure_alerts)
        sent = [p for p in posts(webhook) if p["kind"] == "check_failed"]
        assert [(p["asset"], p["check"], p["severity"]) for p in sent] == [("zoom_sessions", "all_files_loaded", "ERROR")]
    reason = next(inbox.glob("rejected/*Attendee Report.csv.reason.txt")).read_text()
    assert "IST (Asia/Kolkata)" in reason and " UTC" not in reason
    log = read_log(ZoomFolders(inbox))
    assert log.select("file", "outcome", "code").rows() == [("Attendee Report.csv", "rejected", "truncated")]
