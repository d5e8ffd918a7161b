"""Tests for funnel_assets.lib.zoom_inbox: the Zoom drop folder's file handling (no parsing)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from funnel_assets.lib import zoom_inbox
from funnel_assets.lib.zoom_inbox import (
    HEAD_BYTES,
    HISTORY_COLUMNS,
    LOG_COLUMNS,
    Rejection,
    ZoomFolders,
    append_log,
    archived_files,
    content_hash,
    original_name,
    read_head,
    read_history,
    read_log,
    refile,
    reject,
    scan_inbox,
    settled,
    supersede,
    triage,
)

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2025, 1, 10, 12, 0, 0, tzinfo=timezone.utc)
START = date(2025, 1, 1)
YESTERDAY = date(2025, 1, 9)
STAMP = "20250110T120000Z"
OLD = NOW.timestamp() - 3600  # an mtime well past any settle time


def session_date_of(head: bytes, name: str) -> date:
    """A stand-in for the parser: ``session: YYYY-MM-DD`` on the first line, else a rejection."""
    first = head.split(b"\n", 1)[0]
    if first == b"boom":
        raise RuntimeError("parser bug")
    if not first.startswith(b"session: "):
        raise Rejection("not_zoom", f"{name} is not a Zoom report: it has no session line.")
    return date.fromisoformat(first.removeprefix(b"session: ").decode())


def in_window(d: date) -> bool:
    return START <= d <= YESTERDAY


@pytest.fixture
def folders(tmp_path: Path) -> ZoomFolders:
    f = ZoomFolders(tmp_path / "inbox" / "zoom")
    f.ensure()
    return f


def drop(folders: ZoomFolders, name: str, content: bytes | str, *, mtime: float = OLD) -> Path:
    path = folders.inbox / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    os.utime(path, (mtime, mtime))
    return path


def report(day: str, body: str = "rows") -> str:
    return f"session: {day}\nTopic,Webinar ID\n{body}\n"


def run(folders: ZoomFolders, **kwargs):
    kwargs.setdefault("session_date_of", session_date_of)
    kwargs.setdefault("accepts_date", in_window)
    kwargs.setdefault("now", NOW)
    return triage(folders, scan_inbox(folders), **kwargs)


def inbox_names(folders: ZoomFolders) -> list[str]:
    return [f.name for f in scan_inbox(folders)]


def sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def stored_files(folders: ZoomFolders) -> list[Path]:
    """Every file under the inbox tree except our own notes (the logs, their lock and reason files)."""
    return [
        p for p in folders.inbox.rglob("*")
        if p.is_file() and p not in (folders.log_path, folders.history_path, folders.inbox / ".zoom_file_log.lock")
        and not p.name.endswith(".reason.txt")
    ]


# --------------------------------------------------------------------------- scanning and settling


def test_scan_ignores_hidden_lock_partial_and_system_files(folders: ZoomFolders) -> None:
    for name in [
        ".DS_Store", ".hidden.csv", "~$report.xlsx", ".~lock.report.csv#", "a.csv.crdownload", "b.csv.part",
        "c.partial", "d.csv.download", "e.tmp", "Thumbs.db", "desktop.ini", "DESKTOP.INI", "zoom_file_log.csv",
    ]:
        drop(folders, name, "x")
    drop(folders, "newer.csv", "x", mtime=OLD + 10)
    drop(folders, "older report.txt", "x", mtime=OLD)
    (folders.inbox / "some folder").mkdir()
    drop(folders, "some folder/inside.csv", "x")  # only top-level files count
    (folders.inbox / "link.csv").symlink_to(folders.inbox / "newer.csv")
    files = scan_inbox(folders)
    assert [f.name for f in files] == ["older report.txt", "newer.csv"]  # oldest first; non-CSV files are candidates
    assert files[1].size == 1 and files[1].path == folders.inbox / "newer.csv"
    assert files[1].mtime_ns == (folders.inbox / "newer.csv").stat().st_mtime_ns


def test_scan_of_a_missing_inbox_is_empty(tmp_path: Path) -> None:
    assert scan_inbox(ZoomFolders(tmp_path / "nowhere")) == []


def test_settled_waits_for_a_file_that_is_still_growing(folders: ZoomFolders) -> None:
    now = NOW.timestamp()
    path = drop(folders, "growing.csv", "half", mtime=now - 1)
    ready, writing, state = settled(scan_inbox(folders), {}, now=now, settle_seconds=60)
    assert (ready, [f.name for f in writing]) == ([], ["growing.csv"])  # young and never seen before
    with path.open("ab") as fh:
        fh.write(b" and more")
    os.utime(path, (now, now))
    ready, writing, state = settled(scan_inbox(folders), state, now=now + 5, settle_seconds=60)
    assert ready == [] and [f.name for f in writing] == ["growing.csv"]  # size changed since last tick
    previous = json.loads(json.dumps(state))  # the state survives a JSON sensor cursor
    ready, writing, state = settled(scan_inbox(folders), previous, now=now + 10, settle_seconds=60)
    assert [f.name for f in ready] == ["growing.csv"] and writing == []  # unchanged since last tick
    assert state == {"growing.csv": (path.stat().st_size, path.stat().st_mtime_ns)}


def test_settled_by_age_and_empty_files(folders: ZoomFolders) -> None:
    now = NOW.timestamp()
    drop(folders, "old.csv", "data", mtime=now - 120)
    drop(folders, "empty-young.csv", b"", mtime=now - 1)
    drop(folders, "empty-old.csv", b"", mtime=now - 120)
    files = scan_inbox(folders)
    same = {f.name: (f.size, f.mtime_ns) for f in files}
    ready, writing, state = settled(files, same, now=now, settle_seconds=60)
    assert sorted(f.name for f in ready) == ["empty-old.csv", "old.csv"]  # an empty file is ready only by age
    assert [f.name for f in writing] == ["empty-young.csv"]
    assert set(state) == {"old.csv", "empty-young.csv", "empty-old.csv"}
    gone = settled([f for f in files if f.name == "old.csv"], state, now=now, settle_seconds=60)[2]
    assert set(gone) == {"old.csv"}  # the state only keeps files that are still there


def test_read_head_and_content_hash(folders: ZoomFolders) -> None:
    data = bytes(range(256)) * 2000  # 512,000 bytes
    path = drop(folders, "big.csv", data)
    assert read_head(path) == data[:HEAD_BYTES]
    assert read_head(path, 10) == data[:10]
    assert content_hash(path) == sha(data)


# --------------------------------------------------------------------------- triage


def test_accepts_a_file_into_its_session_date_folder(folders: ZoomFolders) -> None:
    content = report("2025-01-05")
    drop(folders, "Webinar - Attendee Report.csv", content)
    result = run(folders)
    stored = folders.processed / "2025-01-05" / f"{sha(content)[:16]}__Webinar - Attendee Report.csv"
    assert result.archived == {date(2025, 1, 5): [stored]}
    assert (result.duplicates, result.waiting, result.rejected, result.errors) == ([], [], [], [])
    assert stored.read_text() == content and inbox_names(folders) == []
    assert archived_files(folders, date(2025, 1, 5)) == [stored] and archived_files(folders, date(2025, 1, 6)) == []
    row = read_log(folders).row(0, named=True)
    assert row["file"] == "Webinar - Attendee Report.csv" and row["outcome"] == "accepted"
    assert row["session_date"] == "2025-01-05" and row["code"] is None
    assert row["stored_as"] == f"processed/2025-01-05/{stored.name}"
    assert row["logged_at"] == "2025-01-10T12:00:00+00:00"


def test_identical_redrop_is_kept_aside_and_the_first_stays(folders: ZoomFolders) -> None:
    content = report("2025-01-05")
    drop(folders, "report.csv", content)
    first = run(folders).archived[date(2025, 1, 5)][0]
    drop(folders, "report (1).csv", content)
    drop(folders, "report (2).csv", content, mtime=OLD + 1)  # two more copies in one tick
    result = run(folders)
    h16 = sha(content)[:16]
    dup_folder = folders.processed / "2025-01-05" / "duplicates"
    assert result.archived == {}
    assert result.duplicates == [dup_folder / f"{h16}__{STAMP}__report (1).csv", dup_folder / f"{h16}__{STAMP}__report (2).csv"]
    assert first.read_text() == content and archived_files(folders, date(2025, 1, 5)) == [first]
    assert all(p.read_text() == content for p in result.duplicates)
    log = read_log(folders)
    assert log["outcome"].to_list() == ["accepted", "duplicate", "duplicate"]
    assert f"already loaded as processed/2025-01-05/{first.name}" in log["detail"][1]
    assert [original_name(p) for p in result.duplicates] == ["report (1).csv", "report (2).csv"]


def test_identical_copies_in_one_tick_archive_the_oldest(folders: ZoomFolders) -> None:
    content = report("2025-01-05")
    drop(folders, "b.csv", content, mtime=OLD)
    drop(folders, "a.csv", content, mtime=OLD + 5)
    result = run(folders)
    assert [p.name for p in result.archived[date(2025, 1, 5)]] == [f"{sha(content)[:16]}__b.csv"]
    assert [original_name(p) for p in result.duplicates] == ["a.csv"]


def test_same_name_with_changed_content_is_a_second_archived_file(folders: ZoomFolders) -> None:
    drop(folders, "report.csv", report("2025-01-05", "one row"))
    run(folders)
    drop(folders, "report.csv", report("2025-01-05", "one row\nand a late registrant"))
    result = run(folders)
    assert result.duplicates == [] and len(result.archived[date(2025, 1, 5)]) == 1
    files = archived_files(folders, date(2025, 1, 5))
    assert len(files) == 2 and {original_name(p) for p in files} == {"report.csv"}
    assert {p.read_text() for p in files} == {report("2025-01-05", "one row"), report("2025-01-05", "one row\nand a late registrant")}


def test_rejection_moves_the_file_and_explains_why(folders: ZoomFolders) -> None:
    drop(folders, "budget.xlsx", "this is a spreadsheet")
    drop(folders, "good.csv", report("2025-01-05"), mtime=OLD + 1)
    result = run(folders)
    stored = folders.rejected / f"{STAMP}__budget.xlsx"
    assert result.rejected == [stored] and len(result.archived[date(2025, 1, 5)]) == 1  # the bad file blocked nothing
    assert stored.read_text() == "this is a spreadsheet"
    note = Path(f"{stored}.reason.txt").read_text()
    assert "budget.xlsx is not a Zoom report: it has no session line." in note
    assert "File: budget.xlsx" in note and "Size: 21 bytes" in note and "Dropped (last changed): 2025-01-10 11:00 UTC" in note
    assert f"drop the new file into {folders.inbox}" in note and "move it back into" in note
    assert "Problem code: not_zoom" in note and "Nothing was deleted." in note
    row = read_log(folders).filter(pl.col("outcome") == "rejected").row(0, named=True)
    assert row["file"] == "budget.xlsx" and row["code"] == "not_zoom"
    assert row["stored_as"] == f"rejected/{STAMP}__budget.xlsx"
    assert row["detail"] == "budget.xlsx is not a Zoom report: it has no session line."


def test_any_exception_with_code_and_reason_is_a_rejection(folders: ZoomFolders) -> None:
    class ZoomReportError(ValueError):  # what the parser raises: duck-typed, not a Rejection subclass
        def __init__(self) -> None:
            super().__init__("truncated")
            self.code, self.reason = "truncated", "The file ends in the middle of a row; download it again."

    def reader(head: bytes, name: str) -> date:
        raise ZoomReportError()

    drop(folders, "cut.csv", "session: 2025-01-05\nTopic,")
    result = run(folders, session_date_of=reader)
    assert [original_name(p) for p in result.rejected] == ["cut.csv"]
    assert read_log(folders)["code"].to_list() == ["truncated"]


def test_a_future_session_waits_and_is_loaded_once_its_day_is_due(folders: ZoomFolders) -> None:
    content = report("2025-01-10")  # today: its partition does not exist yet
    drop(folders, "today.csv", content)
    first = run(folders)
    assert [f.name for f in first.waiting] == ["today.csv"] and first.archived == {} and inbox_names(folders) == ["today.csv"]
    second = run(folders, already_waiting=json.loads(json.dumps(first.waiting_state)))
    assert [f.name for f in second.waiting] == ["today.csv"]
    log = read_log(folders)
    assert log["outcome"].to_list() == ["waiting"]  # logged once, not on every tick
    assert log["session_date"][0] == "2025-01-10" and "stays in the inbox" in log["detail"][0]
    tomorrow = datetime(2025, 1, 11, 1, 0, tzinfo=timezone.utc)
    third = run(folders, accepts_date=lambda d: START <= d <= date(2025, 1, 10), now=tomorrow, already_waiting=second.waiting_state)
    assert list(third.archived) == [date(2025, 1, 10)] and third.waiting == [] and inbox_names(folders) == []
    assert read_log(folders)["outcome"].to_list() == ["accepted"]  # the file once, in its state now
    assert read_history(folders)["outcome"].to_list() == ["waiting", "accepted"]


def test_a_session_before_the_start_date_is_rejected_with_what_to_change(folders: ZoomFolders) -> None:
    drop(folders, "old webinar.csv", report("2019-12-30"))
    result = run(folders, start_date=START)
    assert [original_name(p) for p in result.rejected] == ["old webinar.csv"] and result.waiting == []
    expected = (
        "This report is for a session on 2019-12-30, before the pipeline's start date (2025-01-01, setting "
        "FUNNEL_START_DATE). Change FUNNEL_START_DATE if you want older sessions, then move this file back into the inbox."
    )
    assert read_log(folders)["detail"].to_list() == [expected]
    assert expected in Path(f"{result.rejected[0]}.reason.txt").read_text()

    drop(folders, "older.csv", report("2018-05-01"))  # a too_early callable works without start_date too
    result = run(folders, too_early=lambda d: d < START)
    assert read_log(folders)["code"].to_list() == ["before_start_date", "before_start_date"]
    assert "2018-05-01, before the pipeline's start date (setting FUNNEL_START_DATE)" in read_log(folders)["detail"][1]


def test_one_failing_file_never_blocks_the_others(folders: ZoomFolders) -> None:
    drop(folders, "a.csv", report("2025-01-05"), mtime=OLD)
    drop(folders, "bug.csv", "boom\n", mtime=OLD + 1)  # the reader crashes (not a rejection)
    drop(folders, "c.csv", report("2025-01-07"), mtime=OLD + 2)
    (folders.processed / "2025-01-07").write_text("a file where a folder should be")  # moving c.csv fails (OSError)
    drop(folders, "d.csv", report("2025-01-08"), mtime=OLD + 3)
    result = run(folders)
    assert sorted(result.archived) == [date(2025, 1, 5), date(2025, 1, 8)]
    assert [f.name for f in result.errors] == ["bug.csv", "c.csv"]
    assert inbox_names(folders) == ["bug.csv", "c.csv"]  # left in place, tried again next tick
    log = read_log(folders)
    assert log["outcome"].to_list() == ["accepted", "error", "error", "accepted"]
    assert log["code"][1] == "unexpected_error" and "RuntimeError: parser bug" in log["detail"][1]
    assert "will be tried again" in log["detail"][2]
    (folders.processed / "2025-01-07").rename(folders.inbox / "moved aside.txt")
    assert list(run(folders, session_date_of=lambda h, n: date(2025, 1, 7) if n == "c.csv" else session_date_of(h, n)).archived) == [date(2025, 1, 7)]


def test_a_file_that_changed_since_the_scan_is_left_for_the_next_tick(folders: ZoomFolders) -> None:
    path = drop(folders, "late.csv", report("2025-01-05"))
    files = scan_inbox(folders)
    with path.open("a") as fh:
        fh.write("one more row\n")
    result = triage(folders, files, session_date_of=session_date_of, accepts_date=in_window, now=NOW)
    assert result.archived == {} and result.errors == [] and inbox_names(folders) == ["late.csv"]
    assert read_log(folders).height == 0


def test_name_collisions_never_overwrite(folders: ZoomFolders, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = []
    for text in ["first", "second"]:  # the same name rejected twice in the same second
        kept.append(reject(folders, drop(folders, "x.csv", text), code="c", reason="r", now=NOW))
    assert [p.name for p in kept] == [f"{STAMP}__x.csv", f"{STAMP}-2__x.csv"]
    assert [p.read_text() for p in kept] == ["first", "second"] and all(Path(f"{p}.reason.txt").exists() for p in kept)
    monkeypatch.setattr(zoom_inbox.os, "link", lambda src, dst: (_ for _ in ()).throw(PermissionError("no hard links")))
    kept.append(reject(folders, drop(folders, "x.csv", "third"), code="c", reason="r", now=NOW))  # the rename fallback
    assert kept[2].name == f"{STAMP}-3__x.csv" and [p.read_text() for p in kept] == ["first", "second", "third"]
    assert {original_name(p) for p in kept} == {"x.csv"}


def test_the_asset_can_reject_an_archived_file(folders: ZoomFolders) -> None:
    drop(folders, "report.csv", report("2025-01-05"))
    stored = run(folders).archived[date(2025, 1, 5)][0]
    later = datetime(2025, 1, 10, 13, 30, tzinfo=timezone.utc)
    moved = reject(folders, stored, code="truncated", reason="The file is cut off; download it again.", now=later)
    assert moved == folders.rejected / "20250110T133000Z__report.csv" and archived_files(folders, date(2025, 1, 5)) == []
    assert "File: report.csv" in Path(f"{moved}.reason.txt").read_text()
    # the user moves it back; it comes back as a clean name (no stacked prefixes)
    moved.rename(folders.inbox / moved.name)
    again = run(folders, now=later).archived[date(2025, 1, 5)][0]
    assert again.name == stored.name


def test_refile_moves_an_archived_file_to_the_date_the_full_read_found(folders: ZoomFolders) -> None:
    drop(folders, "a.csv", report("2025-01-05", "a"))
    drop(folders, "b.csv", report("2025-01-06", "b"), mtime=OLD + 1)
    archived = run(folders).archived
    a, b = archived[date(2025, 1, 5)][0], archived[date(2025, 1, 6)][0]
    assert refile(folders, a, date(2025, 1, 5), now=NOW) == a  # already in the right place: left alone
    moved = refile(folders, a, date(2025, 1, 7), now=NOW)
    assert moved == folders.processed / "2025-01-07" / a.name and archived_files(folders, date(2025, 1, 7)) == [moved]
    assert a not in archived_files(folders, date(2025, 1, 5))
    twin = folders.processed / "2025-01-05" / f"{b.name[:16]}__b twin.csv"  # same content as b, filed under the 5th
    twin.write_bytes(b.read_bytes())
    dup = refile(folders, twin, date(2025, 1, 6), now=NOW)
    assert dup == folders.processed / "2025-01-06" / "duplicates" / f"{b.name[:16]}__{STAMP}__b twin.csv"
    assert archived_files(folders, date(2025, 1, 6)) == [b] and dup.read_bytes() == b.read_bytes()
    log = read_log(folders).tail(2)
    assert log["outcome"].to_list() == ["accepted", "duplicate"]
    assert log["detail"][0] == (
        f"Report for the session on 2025-01-07; moved here from processed/2025-01-05/{a.name} after a full read."
    )
    assert log["stored_as"][1] == f"processed/2025-01-06/duplicates/{dup.name}"


def test_nothing_is_ever_deleted(folders: ZoomFolders) -> None:
    contents = {
        "a.csv": report("2025-01-05"), "a (1).csv": report("2025-01-05"), "b.csv": report("2025-01-06"),
        "b again.csv": report("2025-01-06", "changed"), "junk.pdf": "%PDF-1.4", "old.csv": report("2019-01-01"),
        "future.csv": report("2025-02-01"), "bug.csv": "boom\n", "empty.csv": "",
    }
    for i, (name, text) in enumerate(contents.items()):
        drop(folders, name, text, mtime=OLD + i)
    first = run(folders, start_date=START)
    drop(folders, "a (2).csv", contents["a.csv"])
    run(folders, start_date=START, already_waiting=first.waiting_state)
    dropped = [*contents.values(), contents["a.csv"]]
    kept = [p.read_bytes() for p in stored_files(folders)]
    assert Counter(map(sha, kept)) == Counter(map(sha, dropped))
    assert sum(map(len, kept)) == sum(len(t.encode()) for t in dropped)
    outcomes = Counter(read_log(folders)["outcome"].to_list())
    assert outcomes == {"accepted": 3, "duplicate": 2, "rejected": 3, "waiting": 1, "error": 1}  # each file once
    assert Counter(read_history(folders)["outcome"].to_list())["error"] == 2  # bug.csv failed on both ticks


def test_long_names_are_shortened_to_fit_keeping_the_extension(folders: ZoomFolders) -> None:
    name = "Webinar " + "very long title " * 14 + ".csv"  # 236 characters: the prefix would not fit
    drop(folders, name, report("2025-01-05"))
    stored = run(folders).archived[date(2025, 1, 5)][0]
    assert stored.name.endswith(".csv") and len(os.fsencode(stored.name)) <= 255 - 19
    assert name.startswith(original_name(stored)[:-4]) and read_log(folders)["file"][0] == name


def test_only_the_head_is_given_to_the_reader_and_a_datetime_counts_as_its_date(folders: ZoomFolders) -> None:
    content = report("2025-01-05", "x" * 200_000)
    seen = []

    def reader(head: bytes, name: str) -> datetime:
        seen.append(len(head))
        return datetime(2025, 1, 5, 10, 30)

    drop(folders, "big.csv", content)
    stored = run(folders, session_date_of=reader).archived[date(2025, 1, 5)][0]
    assert seen == [HEAD_BYTES] and stored.name.startswith(sha(content)[:16] + "__")  # hashed over all the bytes


def test_original_name() -> None:
    assert original_name("0123456789abcdef__report.csv") == "report.csv"
    assert original_name(Path("/x/0123456789abcdef__20250110T120000Z__report.csv")) == "report.csv"
    assert original_name("20250110T120000Z-3__0123456789abcdef-2__r.csv") == "r.csv"
    assert original_name("report__final.csv") == "report__final.csv"
    assert original_name("2025-01-10 report.csv") == "2025-01-10 report.csv"


def test_log_round_trips_awkward_text_and_has_one_header(folders: ZoomFolders) -> None:
    assert read_log(folders).columns == list(LOG_COLUMNS) and read_log(folders).height == 0
    at = datetime(2025, 1, 10, 17, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))  # logged in the folders' zone (UTC)
    (folders.rejected / "x.csv").write_text("x")
    append_log(folders, at=at, file='Rāhul, "ACCA" report.csv', outcome="rejected", session_date=None,
               stored_as=folders.rejected / "x.csv", code="not_zoom", detail="line one\nline two")
    append_log(folders, at=NOW, file="b.csv", outcome="accepted", session_date=date(2025, 1, 5), stored_as=None,
               code=None, detail="ok")
    log = read_history(folders)
    assert log.schema == pl.Schema(dict.fromkeys(HISTORY_COLUMNS, pl.String))
    assert log.row(0) == ("2025-01-10T12:00:00+00:00", 'Rāhul, "ACCA" report.csv', "rejected", None, "rejected/x.csv", "not_zoom", "line one line two", None)
    assert log.row(1)[2:4] == ("accepted", "2025-01-05")
    # the per-file log: b.csv is nowhere (no stored_as), x.csv is where the log says
    assert read_log(folders).schema == pl.Schema(dict.fromkeys(LOG_COLUMNS, pl.String))
    assert read_log(folders).rows() == [log.row(0)[:-1]]
    for path in (folders.log_path, folders.history_path):
        assert path.read_text(encoding="utf-8-sig").count("logged_at") == 1
    with pytest.raises(ValueError, match="unknown outcome"):
        append_log(folders, at=NOW, file="c", outcome="deleted", session_date=None, stored_as=None, code=None, detail="")


def test_a_thousand_files_in_one_tick(folders: ZoomFolders) -> None:
    for i in range(1000):
        drop(folders, f"report {i:04}.csv", report(f"2025-01-0{1 + i % 9}", f"row {i}"), mtime=OLD + i)
    drop(folders, "report 0000 (1).csv", report("2025-01-01", "row 0"))
    ready, writing, _ = settled(scan_inbox(folders), {}, now=NOW.timestamp(), settle_seconds=30)
    assert len(ready) == 1001 and writing == []
    result = triage(folders, ready, session_date_of=session_date_of, accepts_date=in_window, now=NOW)
    assert sum(map(len, result.archived.values())) == 1000 and len(result.duplicates) == 1
    assert inbox_names(folders) == [] and read_log(folders).height == 1001
    assert sum(len(archived_files(folders, date(2025, 1, d))) for d in range(1, 10)) == 1000


# --------------------------------------------------------------------------- files as real users have them (issue 12, item 5)


def test_reason_files_and_the_log_use_the_teams_time_zone(tmp_path: Path) -> None:
    folders = ZoomFolders(tmp_path / "inbox", timezone="Asia/Kolkata")
    folders.ensure()
    drop(folders, "junk.csv", "Date,Narration\n", mtime=datetime(2025, 1, 10, 13, 0, tzinfo=timezone.utc).timestamp())
    [stored] = run(folders).rejected
    reason = Path(f"{stored}.reason.txt").read_text()
    assert "Dropped (last changed): 2025-01-10 18:30 IST (Asia/Kolkata)" in reason
    assert "Set aside: 2025-01-10 17:30 IST (Asia/Kolkata)" in reason and "UTC" not in reason
    assert read_log(folders)["logged_at"].to_list() == ["2025-01-10T17:30:00+05:30"]


class WaitForMe(Exception):
    def __init__(self) -> None:
        super().__init__("ambiguous")
        self.code, self.reason = "ambiguous_dates", "Every date in this file can be read two ways: rename it."


def test_a_file_waiting_for_the_user_gets_a_note_beside_it_that_goes_once_it_is_loaded(folders: ZoomFolders) -> None:
    def reader(head: bytes, name: str) -> date:
        if "day-first" not in name:
            raise WaitForMe()
        return date(2025, 1, 5)

    drop(folders, "report.csv", report("2025-01-05"))
    first = run(folders, session_date_of=reader, waiting_codes={"ambiguous_dates"})
    assert [f.name for f in first.waiting] == ["report.csv"] and first.rejected == []
    note = (folders.inbox / "report.csv.reason.txt").read_text()
    assert note.startswith("This file is waiting in the Zoom folder") and "rename it" in note
    assert inbox_names(folders) == ["report.csv"]  # the note is not read as a drop
    run(folders, session_date_of=reader, waiting_codes={"ambiguous_dates"}, already_waiting=first.waiting_state)
    assert read_history(folders)["outcome"].to_list() == ["waiting"]  # once
    (folders.inbox / "report.csv").rename(folders.inbox / "report day-first.csv")
    second = run(folders, session_date_of=reader, waiting_codes={"ambiguous_dates"})
    assert list(second.archived) == [date(2025, 1, 5)]
    assert sorted(p.name for p in folders.inbox.iterdir() if p.is_file() and not p.name.startswith(".")) == [
        "zoom_file_history.csv", "zoom_file_log.csv"]  # our stale note is gone with the file it was about
    assert read_log(folders).select("file", "outcome").rows() == [("report day-first.csv", "accepted")]
    # without waiting codes the same error is a rejection, as before
    drop(folders, "other.csv", report("2025-01-06"))
    assert len(run(folders, session_date_of=reader).rejected) == 1


def test_a_superseded_report_is_set_aside_and_logged_once(folders: ZoomFolders) -> None:
    drop(folders, "first.csv", report("2025-01-05", "Rohit 9820012345"), mtime=OLD)
    drop(folders, "corrected.csv", report("2025-01-05", "Rohit 9820012354"), mtime=OLD + 1)
    first, corrected = sorted(run(folders).archived[date(2025, 1, 5)], key=lambda p: original_name(p))[::-1]
    moved = supersede(folders, first, by=corrected, session_date=date(2025, 1, 5), now=NOW)
    assert moved == folders.processed / "2025-01-05" / "superseded" / f"{first.name[:16]}__{STAMP}__first.csv"
    assert archived_files(folders, date(2025, 1, 5)) == [corrected] and moved.read_bytes().endswith(b"9820012345\n")
    log = read_log(folders)
    assert dict(log.select("file", "outcome").iter_rows()) == {"first.csv": "superseded", "corrected.csv": "accepted"}
    assert read_history(folders)["outcome"].to_list() == ["accepted", "accepted", "superseded"]


def zip_bytes(members: dict[str, bytes | str], *, password_flag: bool = False) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2025, 1, 9, 10, 0, 0)), data)
    data = bytearray(buffer.getvalue())
    if password_flag:  # the "encrypted" bit in the local and the central header, as a password-protected zip has
        data[6] |= 0x1
        data[data.index(b"PK\x01\x02") + 8] |= 0x1
    return bytes(data)


def test_zips_are_unpacked_into_the_inbox_and_archived_or_rejected_saying_to_unzip(folders: ZoomFolders) -> None:
    drop(folders, "reports.zip", zip_bytes({"a.csv": report("2025-01-05"), "x/b.CSV": report("2025-01-06"),
                                            "__MACOSX/x/._b.CSV": "junk", "notes.docx": "not a report"}))
    drop(folders, "a.csv", "an unrelated file that is already there\n", mtime=OLD + 1)
    drop(folders, "photos.zip", zip_bytes({"IMG_001.jpg": "jpeg"}), mtime=OLD + 2)
    drop(folders, "locked.zip", zip_bytes({"a.csv": report("2025-01-05")}, password_flag=True), mtime=OLD + 3)
    result = run(folders)
    assert [p.name for p in result.unpacked] == [f"{sha(zip_bytes({'a.csv': report('2025-01-05'), 'x/b.CSV': report('2025-01-06'), '__MACOSX/x/._b.CSV': 'junk', 'notes.docx': 'not a report'}))[:16]}__reports.zip"]
    assert result.unpacked[0].parent == folders.zips
    assert sorted(inbox_names(folders)) == ["reports - a.csv", "reports - b.CSV"]  # never over an existing file
    reasons = {original_name(p): Path(f"{p}.reason.txt").read_text() for p in result.rejected}
    assert sorted(reasons) == ["a.csv", "locked.zip", "photos.zip"]  # a.csv: the unrelated file is no report
    assert "holds no CSV report (it holds: IMG_001.jpg)" in reasons["photos.zip"] and "Unzip it yourself" in reasons["photos.zip"]
    assert "protected by a password" in reasons["locked.zip"]
    # the unpacked reports carry the zip's drop time: read on the next tick like any drop
    again = run(folders)
    assert sorted(again.archived) == [date(2025, 1, 5), date(2025, 1, 6)] and inbox_names(folders) == []
    log = read_log(folders)
    assert dict(log.select("file", "outcome").iter_rows())["reports.zip"] == "unpacked"
    assert "reports - a.csv, reports - b.CSV" in log.filter(pl.col("outcome") == "unpacked")["detail"][0]


def test_a_log_from_before_the_history_becomes_the_history(folders: ZoomFolders) -> None:
    old = ("\ufefflogged_at,file,outcome,session_date,stored_as,code,detail\n"
           "2025-01-09T10:00:00+00:00,a.csv,waiting,2025-01-09,,,This report is for a session on 2025-01-09.\n"
           "2025-01-10T01:00:00+00:00,a.csv,accepted,2025-01-09,processed/2025-01-09/x__a.csv,,Report for the session.\n")
    folders.log_path.write_text(old, encoding="utf-8")
    (folders.processed / "2025-01-09").mkdir()
    (folders.processed / "2025-01-09" / "x__a.csv").write_text("session: 2025-01-09\n")
    drop(folders, "b.csv", report("2025-01-05"))
    run(folders)
    history = read_history(folders)
    assert history["file"].to_list() == ["a.csv", "a.csv", "b.csv"] and history["moved_from"].to_list() == [None, None, "b.csv"]
    assert dict(read_log(folders).select("file", "outcome").iter_rows()) == {"a.csv": "accepted", "b.csv": "accepted"}
