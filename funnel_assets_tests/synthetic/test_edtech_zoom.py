"""Meeting participant reports and junk drops in the ed-tech world's Zoom folder (zoom-formats.md).

Sixty days of three seeds (scale 0.1: the Zoom decisions do not depend on the scale) are checked
against their ground truth: bootcamps run as meetings get a meeting participant report (with join/
leave rows and/or "show unique users") whose rows are the true people and minutes; junk files (not
Zoom, empty, truncated, no Attendee Details) are exactly what truth ``zoom_files`` says they are.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, timedelta

import polars as pl
import pytest

from funnel_assets.lib.config import ConfigError
from funnel_assets.lib.synthetic.edtech import DEFAULT_CONFIG_DIR, clear_caches, load_edtech_config, simulate_edtech_day
from funnel_assets.lib.synthetic.edtech_zoom import DEVICE_PREFIXES, JUNK_OUTCOMES, MEETING_REPORTS
from funnel_assets_tests.synthetic.test_edtech import decode, digest, parse_time, sections

SEEDS = (3, 7, 11)
START = date(2025, 3, 1)
DAYS = 60
SCALE = 0.1
SUMMARY = ["Meeting ID", "Topic", "Start Time", "End Time", "User Email", "Duration (Minutes)", "Participants"]
JOIN_LEAVE = ["Name (Original Name)", "User Email", "Join Time", "Leave Time", "Duration (Minutes)", "Guest"]
UNIQUE = ["Name (Original Name)", "User Email", "Total Duration (Minutes)", "Guest"]
OPTIONAL = ["Recording Consent", "In Waiting Room"]


@pytest.fixture(scope="module")
def config():
    return load_edtech_config(DEFAULT_CONFIG_DIR)


@pytest.fixture(scope="module")
def runs(config):
    return {seed: [simulate_edtech_day(config, seed=seed, day=START + timedelta(days=i), scale=SCALE) for i in range(DAYS)] for seed in SEEDS}


def files_of(days):
    """(day, name, content, truth row) of every file dropped in ``days``."""
    out = []
    for day in days:
        meta = {r["file_name"]: r for r in day.truth["zoom_files"].iter_rows(named=True)}
        assert len(meta) == len(day.zoom_files)
        out.extend((day, name, content, meta[name]) for name, content in day.zoom_files)
    return out


def all_files(runs):
    return [f for days in runs.values() for f in files_of(days)]


def meeting_table(content: bytes) -> tuple[list[str], list[str], list[str], list[dict[str, str]]]:
    """A meeting participant report read with the csv module: summary header, summary row, detail header, rows."""
    rows = list(csv.reader(io.StringIO(decode(content), newline="")))

    def strip(row: list[str]) -> list[str]:
        row = list(row)
        while row and row[-1] == "":
            row.pop()
        return row

    summary_header, summary, blank, header = strip(rows[0]), rows[1][:7], rows[2], strip(rows[3])
    assert not any(blank), "a blank line between the summary and the participants"
    return summary_header, summary, header, [dict(zip(header, r[: len(header)] + [""] * (len(header) - len(r)))) for r in rows[4:]]


def union_seconds(intervals) -> int:
    total, end = 0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


# ----------------------------------------------------------------------------- coverage


def test_meeting_reports_and_every_junk_kind_appear_within_60_days(runs):
    for seed, days in runs.items():
        files = pl.concat([d.truth["zoom_files"] for d in days])
        accepted = files.filter(pl.col("junk").is_null())
        assert set(MEETING_REPORTS) <= set(accepted["report"]), seed
        assert set(files["junk"].drop_nulls()) == set(JUNK_OUTCOMES), seed
        assert (accepted["expected_outcome"] == "accept").all()
        sessions = pl.concat([d.truth["zoom_sessions"] for d in days])
        meeting = sessions.filter(pl.col("run_as") == "meeting")
        assert meeting.height and (meeting["kind"] == "bootcamp").all() and meeting["attendee_vintage"].is_null().all()
        # a meeting session has meeting reports only; a webinar session has webinar reports only
        kinds = accepted.group_by("session_key").agg(pl.col("report").unique())
        run_as = dict(zip(sessions["session_key"], sessions["run_as"]))
        for key, reports in kinds.iter_rows():
            assert set(reports) <= (set(MEETING_REPORTS) if run_as[key] == "meeting" else {"attendee", "registration"}), key
    junk = pl.concat([d.truth["zoom_files"] for days in runs.values() for d in days]).filter(pl.col("junk").is_not_null())
    assert {q for q in junk.filter(pl.col("junk") == "not_zoom")["quirks"]} == {
        "not_zoom_google_sheet", "not_zoom_bank_statement", "not_zoom_payments_export"}


def test_meeting_attendance_truth_has_no_registration(runs):
    for days in runs.values():
        sessions = pl.concat([d.truth["zoom_sessions"] for d in days]).filter(pl.col("run_as") == "meeting")
        att = pl.concat([d.truth["zoom_attendance"] for d in days]).filter(pl.col("session_key").is_in(sessions["session_key"].implode()))
        assert att.height and att["attended"].all() and not att["registered"].any()
        assert att["registered_at"].is_null().all() and att["approval_status"].is_null().all() and att["source_name"].is_null().all()
        assert set(att["role"]) == {"host", "panelist", "attendee", "walk_in"}
        # the meeting ID the files show is the session's Zoom ID; both days of a recurring bootcamp share it
        assert not set(sessions["webinar_id"]) & {"86543219870", "86543219871", "87770012345"}


# ----------------------------------------------------------------------------- meeting reports


def test_meeting_reports_parse_into_the_documented_headers(runs):
    seen = Counter()
    for day, name, content, m in all_files(runs):
        if m["report"] not in MEETING_REPORTS or m["junk"]:
            continue
        summary_header, summary, header, rows = meeting_table(content)
        assert summary_header == SUMMARY
        base = UNIQUE if m["report"] == "meeting_unique_users" else JOIN_LEAVE
        assert header[: len(base)] == base and header[len(base):] in ([], OPTIONAL[:1], OPTIONAL[1:], OPTIONAL), header
        assert "Phone" not in header and rows
        seen[(m["report"], tuple(header[len(base):]))] += 1
        session = day.truth["zoom_sessions"].filter(pl.col("session_key") == m["session_key"]).row(0, named=True)
        segs = day.truth["zoom_segments"].filter(pl.col("session_key") == m["session_key"])
        att = day.truth["zoom_attendance"].filter(pl.col("session_key") == m["session_key"])
        fmt = m["date_format"]
        assert re.sub(r"\D", "", summary[0]) == session["webinar_id"] and summary[1] == session["topic"]
        assert parse_time(summary[2], fmt) == int(segs["join_at"].min().timestamp())
        assert parse_time(summary[3], fmt) == int(segs["leave_at"].max().timestamp())
        assert summary[4] == f"{session['host'].lower().replace(' ', '.')}@finedgeacademy.in"
        assert int(summary[5]) == math.ceil((parse_time(summary[3], fmt) - parse_time(summary[2], fmt)) / 60)
        assert int(summary[6]) == att.height
        assert {r["Guest"] for r in rows} <= {"Yes", "No"}
    # both variants, with and without the optional columns
    assert {r for r, _ in seen} == set(MEETING_REPORTS)
    assert {extra for _, extra in seen} >= {(), ("Recording Consent",), ("In Waiting Room",)}


def test_meeting_rows_are_the_true_people_and_minutes(runs):
    checked = emails = waiting = 0
    names: list[str] = []
    for day, name, content, m in all_files(runs):
        if m["report"] not in MEETING_REPORTS or m["junk"]:
            continue
        _, _, _, rows = meeting_table(content)
        names += [r["Name (Original Name)"] for r in rows]
        att = day.truth["zoom_attendance"].filter(pl.col("session_key") == m["session_key"])
        segs = day.truth["zoom_segments"].filter(pl.col("session_key") == m["session_key"])
        by_email = {r["email"]: r for r in att.filter(pl.col("email").is_not_null()).iter_rows(named=True)}
        staff = {r["email"] for r in att.filter(pl.col("role").is_in(["host", "panelist"])).iter_rows(named=True)}
        for r in rows:
            email = r["User Email"].strip().lower()
            assert not email or email in by_email, (name, r)
            if email in staff:
                assert r["Guest"] == "No"
        assert any(not r["User Email"] for r in rows if r["Guest"] == "Yes") or len(rows) < 5
        if not m["complete"]:
            continue
        fmt = m["date_format"]
        if m["report"] == "meeting_participants":
            in_meeting = [r for r in rows if r.get("In Waiting Room", "No") != "Yes"]
            found = Counter((parse_time(r["Join Time"], fmt), parse_time(r["Leave Time"], fmt)) for r in in_meeting)
            expected = Counter((int(s["join_at"].timestamp()), int(s["leave_at"].timestamp())) for s in segs.iter_rows(named=True))
            assert found == expected, name
            for r in in_meeting:
                a, b = parse_time(r["Join Time"], fmt), parse_time(r["Leave Time"], fmt)
                assert int(r["Duration (Minutes)"]) == max(1, math.ceil((b - a) / 60))
            # minutes = the union of a person's segments (overlapping second-device rows not double counted)
            person_rows = defaultdict(list)
            for r in in_meeting:
                if r["User Email"].strip():
                    person_rows[r["User Email"].strip().lower()].append((parse_time(r["Join Time"], fmt), parse_time(r["Leave Time"], fmt)))
            for email, ivs in person_rows.items():
                assert union_seconds(ivs) == by_email[email]["attended_seconds"], (name, email)
                emails += 1
            # waiting-room rows end when the person is let in: their first join
            for r in rows:
                if r.get("In Waiting Room") == "Yes":
                    waiting += 1
                    first = min(parse_time(x["Join Time"], fmt) for x in in_meeting if x["Name (Original Name)"] == r["Name (Original Name)"])
                    assert parse_time(r["Leave Time"], fmt) == first
        else:
            totals = Counter(int(r["Total Duration (Minutes)"]) for r in rows)
            assert totals == Counter(max(1, math.ceil(s / 60)) for s in att["attended_seconds"]), name
            for r in rows:
                if r["User Email"].strip():
                    person = by_email[r["User Email"].strip().lower()]
                    assert int(r["Total Duration (Minutes)"]) == math.ceil(person["minutes"])
                    emails += 1
        checked += 1
    assert checked >= 6 and emails > 50 and waiting > 0
    devices = "|".join(re.escape(d) for d in DEVICE_PREFIXES)
    assert any(re.fullmatch(rf"({devices}) \([A-Z][a-z]+ [A-Z][a-z]+\)", n) for n in names)  # iPhone (Vikram Singh)
    assert any(re.fullmatch(r"[a-z]+ \((she/her|he/him|they/them)\)", n) for n in names)  # priya (she/her)


# ----------------------------------------------------------------------------- junk


def test_junk_files_are_what_the_truth_says(runs):
    kinds = Counter()
    for day, name, content, m in all_files(runs):
        if m["junk"] is None:
            continue
        kinds[m["junk"]] += 1
        assert m["expected_outcome"] == JUNK_OUTCOMES[m["junk"]] and m["expected_outcome"].startswith("reject: ")
        assert m["copy"] is None and not m["complete"]
        # the complete reports of the day: a truncated or cut file comes from one of them
        sources = [c for n, c in day.zoom_files if n != name and c.startswith(content)]
        if m["junk"] == "empty":
            assert content == b"" and m["session_key"] is None
        elif m["junk"] == "not_zoom":
            assert m["session_key"] is None and m["report"] is None
            rows = [r for r in csv.reader(io.StringIO(decode(content), newline="")) if any(r)]
            assert len(rows) >= 3
            cells = {c for r in rows for c in r}
            assert not cells & {"Webinar ID", "Meeting ID", "Attendee Details", "Attendee Report", "Registration Report", "Topic"}
        elif m["junk"] == "truncated":
            assert m["session_key"] and m["report"]
            assert content and not content.endswith((b"\n", b"\r")), name  # cut mid-row
            assert sources and all(len(s) > len(content) for s in sources)
            rows = list(csv.reader(io.StringIO(decode(content), newline="")))
            last = rows[-1]
            while last and last[-1] == "":
                last = last[:-1]
            assert 0 < len(last) < max(len(r) for r in rows), name
        else:  # no_attendee_details
            assert m["report"] == "attendee" and m["session_key"]
            assert content.endswith(b"\n") and sources  # a clean cut, before the section
            secs = sections(content)
            assert "Attendee Report" in secs and "Host Details" in secs and "Attendee Details" not in secs
    assert set(kinds) == set(JUNK_OUTCOMES)


# ----------------------------------------------------------------------------- determinism and configuration


def test_a_meeting_and_junk_day_alone_is_byte_identical(config, runs):
    days = runs[SEEDS[0]]
    day = next(d for d in days if d.truth["zoom_files"]["junk"].is_not_null().any()
               and (d.truth["zoom_sessions"]["run_as"] == "meeting").any())
    clear_caches()
    alone = simulate_edtech_day(config, seed=SEEDS[0], day=day.day, scale=SCALE)
    assert digest(alone) == digest(day)
    assert alone.zoom_files == day.zoom_files


def test_meeting_and_junk_rates_are_configurable(config, tmp_path):
    saturday = date(2025, 3, 8)
    off = replace(config, settings=replace(config.settings, bootcamp_meeting_rate=0.0, junk_not_zoom_rate=0.0, junk_empty_rate=0.0,
                                           junk_truncated_rate=0.0, junk_no_attendee_details_rate=0.0),
                  events=tuple(replace(e, meeting_rate=None) for e in config.events))
    quiet = simulate_edtech_day(off, seed=3, day=saturday, scale=SCALE)
    files = quiet.truth["zoom_files"]
    assert files.height and files["junk"].is_null().all() and set(files["report"]) == {"attendee", "registration"}
    # an event's meeting_rate overrides the setting, for a webinar too
    always = replace(off, events=tuple(replace(e, meeting_rate=1.0) if e.name == "cfa_webinar" else e for e in off.events))
    day = simulate_edtech_day(always, seed=3, day=saturday, scale=SCALE)
    run_as = dict(zip(day.truth["zoom_sessions"]["event"], day.truth["zoom_sessions"]["run_as"]))
    assert run_as["cfa_webinar"] == "meeting" and set(run_as.values()) == {"webinar", "meeting"}
    # the column is validated like every other one
    for f in DEFAULT_CONFIG_DIR.glob("edtech_*.csv"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    events = tmp_path / "edtech_events.csv"
    lines = events.read_text().splitlines()
    lines[6] = lines[6].replace(",0.5,", ",1.5,")
    events.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=r"(?s)edtech_events.csv.*line 7.*meeting_rate"):
        load_edtech_config(tmp_path)
