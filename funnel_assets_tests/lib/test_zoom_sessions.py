"""Cleaned Zoom sessions against the synthetic world's ground truth, and the merge rules one by one.

The truth test parses every file the world dropped over 45 days (every vintage, encoding, date
format, duplicate download and meeting report it produces) and checks each person of each
session: registration, approval, source, attendance, first join, last leave and minutes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from funnel_assets.lib.synthetic.edtech import DEFAULT_CONFIG_DIR, load_edtech_config, simulate_edtech_day
from funnel_assets.lib.settings import PROJECT_ROOT
from funnel_assets.lib.zoom_metadata import load_zoom_config
from funnel_assets.lib.zoom_reports import ZoomReportError, parse_report
from funnel_assets.lib.zoom_sessions import build_zoom_sessions, clean_display_name_expr, latest_reports, session_key

TZ = "Asia/Kolkata"
START = date(2025, 2, 1)
DAYS = 45
SEED = 7
SCALE = 0.3


@pytest.fixture(scope="module")
def zoom_config():
    return load_zoom_config(PROJECT_ROOT / "data" / "config")


@pytest.fixture(scope="module")
def world():
    config = load_edtech_config(DEFAULT_CONFIG_DIR)
    return [simulate_edtech_day(config, seed=SEED, day=START + timedelta(days=i), scale=SCALE) for i in range(DAYS)]


def parse(name: str, content: bytes, zoom_config):
    return parse_report(content, source=name, timezone=TZ, default_day_first=zoom_config.settings.default_day_first)


@pytest.fixture(scope="module")
def cleaned(world, zoom_config):
    reports = []
    for day in world:
        outcome = dict(day.truth["zoom_files"].select("file_name", "expected_outcome").iter_rows())
        for name, content in day.zoom_files:
            if outcome[name] != "accept":
                continue
            reports.append(parse(name, content, zoom_config))
    return build_zoom_sessions(reports, zoom_config)


@pytest.fixture(scope="module")
def truth(world):
    sessions = pl.concat([d.truth["zoom_sessions"] for d in world])
    attendance = pl.concat([d.truth["zoom_attendance"] for d in world])
    return sessions, attendance


def test_every_session_of_the_world_is_found_once(cleaned, truth):
    sessions, _ = truth
    expected = sorted(session_key(w, d) for w, d in sessions.select("webinar_id", pl.col("actual_start").dt.convert_time_zone(TZ).dt.date()).iter_rows())
    assert sorted(cleaned.sessions["session_key"].to_list()) == expected


def test_session_metadata_matches_truth(cleaned, truth):
    sessions, _ = truth
    want = sessions.select(
        session_key=pl.struct("webinar_id", pl.col("actual_start").dt.convert_time_zone(TZ).dt.date().alias("d")).map_elements(
            lambda s: session_key(s["webinar_id"], s["d"]), return_dtype=pl.String
        ),
        program="program",
        kind="kind",
        bootcamp_day=pl.when(pl.col("kind") == "bootcamp").then(pl.format("Day {}", pl.col("bootcamp_day"))),
        conductor="conductor",
        run_as="run_as",
    )
    got = cleaned.sessions.select("session_key", "program", "kind", "bootcamp_day", "conductor", "run_as")
    assert got.sort("session_key").equals(want.sort("session_key"))


def _audience_truth(attendance: pl.DataFrame) -> pl.DataFrame:
    return attendance.filter(pl.col("role").is_in(["attendee", "walk_in"])).with_columns(
        source_name=pl.col("source_name").replace("", None),
        session_key=pl.struct("webinar_id", "session_date").map_elements(lambda s: session_key(s["webinar_id"], s["session_date"]), return_dtype=pl.String)
    )


def test_one_row_per_person_per_session_and_no_staff(cleaned, truth):
    _, attendance = truth
    want = _audience_truth(attendance).group_by("session_key").len().sort("session_key")
    got = cleaned.rows.group_by("session_key").len().sort("session_key")
    assert got.equals(want)
    staff = attendance.filter(pl.col("role").is_in(["host", "panelist"]))["email"].unique().to_list()
    assert cleaned.rows.filter(pl.col("email").is_in(staff)).height == 0
    assert cleaned.quality.staff_in_audience == 0


def test_registrants_match_truth_person_by_person(cleaned, truth):
    _, attendance = truth
    want = _audience_truth(attendance).filter(pl.col("registered"))
    got = cleaned.rows.filter(pl.col("registered"))
    # every true registrant is found by phone key (or, without a usable phone in any file, by email)
    joined = want.join(got, left_on=["session_key", "email"], right_on=["session_key", "email"], how="left", suffix="_got")
    missing = joined.filter(pl.col("person_key").is_null())
    assert missing.height == 0, missing.select("session_key", "email").head()
    assert joined.height == want.height == got.height
    mismatches = {}
    for column in ("registered_at", "approval_status", "source_name", "attended", "first_join", "last_leave"):
        bad = joined.filter(pl.col(column).ne_missing(pl.col(f"{column}_got")))
        if bad.height:
            mismatches[column] = bad.select("session_key", column, f"{column}_got").head(3).to_dicts()
    assert not mismatches, mismatches
    minutes = joined.filter((pl.col("minutes") - pl.col("minutes_got")).abs() > 1e-6)
    assert minutes.height == 0, minutes.select("session_key", "minutes", "minutes_got").head()
    phones = joined.filter(pl.col("phone_key").is_not_null() & pl.col("phone_key").ne_missing(pl.col("phone_key_got")))
    # a phone key may only be missing when every file of the session damaged it (Excel) or it was a placeholder
    assert phones.filter(pl.col("phone_key_got").is_not_null()).height == 0


def test_unregistered_attendees_match_truth(cleaned, truth):
    _, attendance = truth
    want = _audience_truth(attendance).filter(~pl.col("registered"))
    got = cleaned.rows.filter(~pl.col("registered"))
    assert got.height == want.height
    assert got["attended"].all()
    per_session = lambda f: f.group_by("session_key").agg(pl.col("minutes").sum().round(0)).sort("session_key")  # noqa: E731
    # unique-users meeting reports round each person up to a whole minute
    diff = per_session(got).join(per_session(want), on="session_key").filter((pl.col("minutes") - pl.col("minutes_right")).abs() > 60)
    assert diff.height == 0


def test_quality_figures(cleaned):
    q = cleaned.quality
    assert q.time_parse_ratio == 1.0
    assert q.usable_phone_share > 0.95
    assert q.registrants_below_attendees == ()


# ----------------------------------------------------------------------------- merge rules


def _first_webinar(world, zoom_config):
    for day in world:
        files = day.truth["zoom_files"].filter(pl.col("expected_outcome") == "accept")
        by_session = files.group_by("session_key").agg(pl.col("report").unique())
        for key, kinds in by_session.iter_rows():
            if set(kinds) == {"attendee", "registration"}:
                names = files.filter(pl.col("session_key") == key)["file_name"].to_list()
                contents = dict(day.zoom_files)
                return [(n, contents[n]) for n in names]
    raise AssertionError("the world has no webinar")


def test_same_files_twice_and_in_any_order_give_the_same_rows(world, zoom_config):
    files = _first_webinar(world, zoom_config)
    once = build_zoom_sessions([parse(n, c, zoom_config) for n, c in files], zoom_config).rows
    twice = build_zoom_sessions([parse(n, c, zoom_config) for n, c in [*files, *reversed(files)]], zoom_config).rows
    order = ["session_key", "person_key"]
    assert once.drop("source_files").sort(order).equals(twice.drop("source_files").sort(order))


def test_registration_report_alone_leaves_attendance_unknown(world, zoom_config):
    files = _first_webinar(world, zoom_config)
    reports = [parse(n, c, zoom_config) for n, c in files]
    registration = [r for r in reports if r.kind == "registration"]
    rows = build_zoom_sessions(registration, zoom_config).rows
    assert rows.height > 0
    assert rows["attended"].null_count() == rows.height
    assert rows["minutes"].null_count() == rows.height
    full = build_zoom_sessions(reports, zoom_config).rows
    assert full["attended"].null_count() == 0


def test_attendee_report_rows_take_the_phone_of_the_registration_with_the_same_email(world, zoom_config):
    files = _first_webinar(world, zoom_config)
    reports = [parse(n, c, zoom_config) for n, c in files]
    rows = build_zoom_sessions(reports, zoom_config).rows
    # one row per person although the attendee report (maybe without a Phone column) and the
    # registration report both list them
    assert rows.filter(pl.col("email").is_not_null())["email"].is_duplicated().sum() == 0


ATTENDEE_REPORT = """\ufeffAttendee Report,,,,,,,,,,,,
Report Generated:,"Mar 02, 2025 21:40:00",,,,,,,,,,,
Topic,Webinar ID,Actual Start Time,Actual Duration (minutes),# Registered,# Cancelled,Unique Viewers,Total Users,Max Concurrent Views,Enable Registration,,,
ACCA Career Webinar,847 5984 1045,"Mar 02, 2025 19:00:00",90,3,0,2,2,2,Yes,,,
Host Details,,,,,,,,,,,,
Attended,User Name (Original Name),Email,Join Time,Leave Time,Time in Session (minutes),Is Guest,Country/Region Name,,,,,
Yes,Ankit Verma,ankit.verma@finedgeacademy.in,"Mar 02, 2025 18:50:00","Mar 02, 2025 20:35:00",105,No,India,,,,,
Panelist Details,,,,,,,,,,,,
Attended,User Name (Original Name),Email,Join Time,Leave Time,Time in Session (minutes),Is Guest,Country/Region Name,,,,,
Yes,Neha Kapoor,neha@example.org,"Mar 02, 2025 18:55:00","Mar 02, 2025 20:30:00",95,No,India,,,,,
Attendee Details,,,,,,,,,,,,
Attended,User Name (Original Name),First Name,Last Name,Email,Phone,Registration Time,Approval Status,Join Time,Leave Time,Time in Session (minutes),Is Guest,Country/Region Name
Yes,priya,PRIYA,sharma, Priya.Sharma@Gmail.com ,+91 98765 43211,"Mar 01, 2025 10:00:00",approved,"Mar 02, 2025 19:00:00","Mar 02, 2025 19:40:00",40,Yes,India
Yes,priya,PRIYA,sharma,priya.sharma@gmail.com,+91 98765 43211,,,"Mar 02, 2025 19:30:00","Mar 02, 2025 20:00:00",30,Yes,India
Yes,priya,PRIYA,sharma,priya.sharma@gmail.com,+91 98765 43211,,,"Mar 02, 2025 20:10:00","Mar 02, 2025 20:20:00",10,Yes,India
No,Ravi Kumar,Ravi,Kumar,ravi@example.com,98765 43212,"Feb 28, 2025 09:00:00",denied,--,--,--,Yes,India
Yes,Neha Kapoor,Neha,Kapoor,neha@example.org,,"Feb 27, 2025 09:00:00",upgraded to panelist,"Mar 02, 2025 18:55:00","Mar 02, 2025 20:30:00",95,No,India
"""


def test_union_of_rejoins_denied_kept_and_panelist_excluded(zoom_config):
    report = parse("acca.csv", ATTENDEE_REPORT.encode("utf-8"), zoom_config)
    cleaned = build_zoom_sessions([report], zoom_config)
    rows = cleaned.rows.sort("name")
    assert rows["name"].to_list() == ["Priya Sharma", "Ravi Kumar"]
    priya, ravi = rows.row(0, named=True), rows.row(1, named=True)
    assert priya["person_key"] == "919876543211" and priya["identity"] == "phone"
    assert priya["email"] == "priya.sharma@gmail.com"
    # 19:00-19:40 and 19:30-20:00 overlap: 60 minutes, plus 10 = 70 (the reported minutes sum to 80)
    assert priya["minutes"] == 70.0 and priya["segments"] == 3
    assert priya["first_join"] == datetime(2025, 3, 2, 13, 30, tzinfo=timezone.utc)
    assert priya["last_leave"] == datetime(2025, 3, 2, 14, 50, tzinfo=timezone.utc)
    assert priya["registered_at"] == datetime(2025, 3, 1, 4, 30, tzinfo=timezone.utc)
    assert ravi["approval_status"] == "denied" and ravi["approved"] is False and ravi["attended"] is False
    assert ravi["minutes"] == 0.0
    session = cleaned.sessions.row(0, named=True)
    assert session["session_key"] == "84759841045@2025-03-02"
    assert session["staff_excluded"] == 1
    assert session["registrants"] == 2 and session["attendees"] == 1


def test_display_names():
    names = pl.Series([
        "iPhone (Vikram Singh)", "priya (she/her)", "Priya S (Priya Sharma)", "DESKTOP-7HQ2K1", "Tejas Mangal (he/him)",
        "  RAHUL   verma ", "Kalpit (Galaxy A52)", "Galaxy A52", "Anu (iPhone) (she/her)", None,
    ])
    cleaned = pl.select(clean_display_name_expr(pl.lit(names))).to_series().to_list()
    assert cleaned == [
        "Vikram Singh", "Priya", "Priya Sharma", "Desktop-7hq2k1", "Tejas Mangal", "Rahul Verma", "Kalpit", "Galaxy A52", "Anu", None,
    ]


def test_unusable_file_is_an_error_not_rows(zoom_config):
    with pytest.raises(ZoomReportError):
        parse("empty.csv", b"", zoom_config)


# ----------------------------------------------------------------------------- corrected re-exports (issue 12, item 5)

FIXTURES = PROJECT_ROOT / "funnel_assets_tests" / "fixtures" / "zoom"


def fixture_report(name: str, source: str | None = None):
    return parse_report((FIXTURES / name).read_bytes(), source=source or name, timezone=TZ, default_day_first=None)


def test_a_corrected_re_export_replaces_the_earlier_download_as_a_whole(zoom_config):
    first, corrected = fixture_report("reexport_first_download.csv"), fixture_report("reexport_corrected.csv")
    merged = build_zoom_sessions([first, corrected], zoom_config).rows
    assert merged.filter(pl.col("email") == "rohit.sharma88@gmail.com").height == 2  # merging both counts Rohit twice
    # the later "Report generated time" wins, whatever the order of the files or of their drops
    for reports, dropped in (([first, corrected], [1.0, 2.0]), ([corrected, first], [1.0, 2.0]), ([first, corrected], [2.0, 1.0])):
        kept, replaced = latest_reports(reports, dropped)
        assert [reports[i].source for i in kept] == ["reexport_corrected.csv"]
        assert {reports[i].source: reports[j].source for i, j in replaced.items()} == {"reexport_first_download.csv": "reexport_corrected.csv"}
        rows = build_zoom_sessions([reports[i] for i in kept], zoom_config).rows
        assert rows.filter(pl.col("email") == "rohit.sharma88@gmail.com")["phone_key"].to_list() == ["919820012354"]
        assert rows.height == 3
    # without a generated time (meeting reports), the later drop; other kinds and sessions are left alone
    meeting = fixture_report("meeting_participants_waiting_room.csv")
    again = fixture_report("meeting_participants_waiting_room.csv", "participants (1).csv")
    attendee = fixture_report("attendee_2020_padded.csv")
    kept, replaced = latest_reports([meeting, again, first, attendee], [5.0, 9.0, 1.0, 1.0])
    assert kept == [1, 2, 3] and replaced == {0: 1}
    # dropped at the same moment: the browser's numbering says which download came later
    kept, replaced = latest_reports([again, meeting], [5.0, 5.0])
    assert [[again, meeting][i].source for i in kept] == ["participants (1).csv"]
