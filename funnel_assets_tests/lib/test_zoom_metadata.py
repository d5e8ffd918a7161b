"""Zoom session metadata from the editable CSVs in data/config (program, kind, bootcamp day, conductor)."""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from funnel_assets.lib.config import ConfigError
from funnel_assets.lib.synthetic.edtech import DEFAULT_CONFIG_DIR, load_edtech_config, simulate_edtech_day
from funnel_assets.lib.synthetic.edtech_world import staff_member
from funnel_assets.lib.zoom_metadata import (
    CONFIG_FILES,
    OTHER_PROGRAM,
    SessionMetadata,
    ZoomSettings,
    bootcamp_day,
    bootcamp_days_label,
    conductor_key,
    load_zoom_config,
)
from funnel_assets_tests.synthetic.test_edtech import decode, sections

CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "config"
SATURDAY, SUNDAY, TUESDAY = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 4)


@pytest.fixture(scope="module")
def zoom():
    return load_zoom_config(CONFIG_DIR)


def config_copy(tmp_path: Path, **files: str) -> Path:
    """The shipped Zoom config in ``tmp_path`` with some files replaced (``zoom_programs="..."``)."""
    for name in CONFIG_FILES:
        shutil.copy(CONFIG_DIR / name, tmp_path / name)
    for stem, text in files.items():
        (tmp_path / f"{stem}.csv").write_text(text, encoding="utf-8")
    return tmp_path


def problems_of(folder: Path) -> tuple[ConfigError, str]:
    with pytest.raises(ConfigError) as err:
        load_zoom_config(folder)
    return err.value, str(err.value)


# ----------------------------------------------------------------------------- loading and validation


def test_shipped_config_loads_with_its_settings(zoom):
    s = zoom.settings
    assert s == ZoomSettings(staff_email_domains=("finedgeacademy.in",), bootcamp_tokens=("bootcamp", "boot camp", "boot-camp"),
                             default_day_first=None, max_bad_time_share=0.05, max_bad_phone_share=0.5, settle_seconds=10.0,
                             min_valid_phone_share=0.8)
    required = {"acca": "ACCA", "cma": "CMA", "cfa": "CFA", "cpa": "CPA", "frm": "FRM", "ea": "EA", "enrolled agent": "EA",
                "cia": "CIA", "dipifr": "DipIFR"}
    assert required.items() <= {(r.token, r.program) for r in zoom.programs}
    assert {c.name for c in zoom.conductors} >= {"Neha Kapoor", "Rohit Mehta", "Sana Qureshi", "Karthik Raman", "Vikram Joshi"}
    assert zoom.config_dir == CONFIG_DIR


def test_missing_settings_take_defaults_and_names_ignore_case(tmp_path):
    folder = config_copy(tmp_path, zoom_settings="setting,value\nSettle_Seconds,2.5\n")
    assert load_zoom_config(folder).settings == ZoomSettings(settle_seconds=2.5)


@pytest.mark.parametrize(
    "stem, text, expected",
    [
        ("zoom_programs", "token,notes\nacca,x\n", ["line 1: missing column(s) program"]),
        ("zoom_programs", "token,program\nacca,ACCA\ncma,CMA\nACCA,ACCA Advanced\n", ["line 4, column 'token': repeats line 2"]),
        ("zoom_programs", "token,program\n--,ACCA\n,CMA\nfrm,\n", ["line 2, column 'token': '--' has no letters or digits",
                                                                  "line 3, column 'token': is empty", "line 4, column 'program': is empty"]),
        ("zoom_settings", "setting,value\nsettle_secs,5\nmax_bad_time_share,1.5\nsettle_seconds,ten\n",
         ["line 2, column 'setting': unknown setting 'settle_secs'", "line 3, column 'value': max_bad_time_share: 1.5 is above 1",
          "line 4, column 'value': settle_seconds: 'ten' is not a number"]),
        ("zoom_settings", "setting,value\ndefault_day_first,maybe\nstaff_email_domains,finedge academy.in\nbootcamp_tokens, ; \n",
         ["line 2, column 'value': default_day_first: 'maybe' is not one of ask, yes, no",
          "line 3, column 'value': staff_email_domains: 'finedge academy.in' is not an email domain",
          "line 4, column 'value': bootcamp_tokens: is empty"]),
        ("zoom_settings", "setting,value\nsettle_seconds,5\nSETTLE_SECONDS,6\n", ["line 3, column 'setting': repeats line 2"]),
        ("zoom_conductors", "conductor,aliases,emails\nNeha Kapoor,Neha K,neha@x\nNeha  Kapoor.,,\nRohit Mehta,neha k,rohit@finedge.in;NEHA@X\n",
         ["line 2, column 'emails': 'neha@x' is not a valid email",
          "line 3, column 'conductor': 'Neha Kapoor.' also belongs to Neha Kapoor (line 2)",
          "line 4, column 'aliases': 'neha k' also belongs to Neha Kapoor (line 2)",
          "line 4, column 'emails': 'neha@x' is not a valid email",
          "line 4, column 'emails': 'neha@x' also belongs to Neha Kapoor (line 2)"]),
        ("zoom_session_conductors", "webinar_id,topic,conductor\n847-5984-1045,ACCA Career Webinar,Neha Kapoor\n,,Neha Kapoor\n",
         ["line 2, column 'webinar_id': fill in either webinar_id or topic, not both",
          "line 3, column 'webinar_id': fill in webinar_id (e.g. 847-5984-1045) or, for sessions whose ID changes, a topic"]),
        ("zoom_session_conductors", "webinar_id,topic,conductor\n84759841045,,Ankit Verma\n,CMA Weekend Bootcamp,\n",
         ["line 2, column 'conductor': 'Ankit Verma' is not an approved conductor; add them to zoom_conductors.csv",
          "line 3, column 'conductor': is empty"]),
        ("zoom_session_conductors", "webinar_id,topic,conductor\n8.4759841045E10,,Neha Kapoor\n847 5984 1045,,Neha K\n847-5984-1045,,Neha Kapoor\n"
                                    ",cma bootcamp,Sana Qureshi\n,CMA  Bootcamp,Sana Qureshi\n",
         ["line 2, column 'webinar_id': '8.4759841045E10' is not a Zoom webinar ID", "Excel turned it into a number",
          "line 4, column 'webinar_id': '847-5984-1045' repeats line 3", "line 6, column 'topic': 'CMA  Bootcamp' repeats line 5"]),
    ],
)
def test_every_problem_of_a_file_is_reported_with_file_line_and_column(tmp_path, stem, text, expected):
    err, message = problems_of(config_copy(tmp_path, **{stem: text}))
    assert err.path.name == f"{stem}.csv" and f"{stem}.csv" in message
    for piece in expected:
        assert piece in message
    assert len(err.problems) == len([p for p in expected if "line" in p])


def test_a_missing_file_is_named(tmp_path):
    folder = config_copy(tmp_path)
    (folder / "zoom_conductors.csv").unlink()
    err, message = problems_of(folder)
    assert err.path.name == "zoom_conductors.csv" and "does not exist" in message


def test_an_override_may_name_a_conductor_by_alias_and_stores_the_canonical_name(tmp_path):
    folder = config_copy(tmp_path, zoom_session_conductors="webinar_id,topic,conductor,notes\n847 5984 1045,,neha k.,alias\n")
    zoom = load_zoom_config(folder)
    assert [(r.webinar_id, r.topic, r.conductor, r.line) for r in zoom.session_conductors] == [("84759841045", None, "Neha Kapoor", 2)]


# ----------------------------------------------------------------------------- program and kind


@pytest.mark.parametrize(
    "topic, program",
    [
        ("US CMA Masterclass - Fees & Careers", "CMA"),
        ("ACCA2-Day Bootcamp", "ACCA"),
        ("acca_bootcamp_day1", "ACCA"),
        ("CMA's career paths", "CMA"),
        ("Why CFA? (Live Q&A)", "CFA"),
        ("US CPA vs EA: which one?", "CPA"),  # file order: the first matching line wins
        ("Become an Enrolled-Agent", "EA"),
        ("enrolled   agent exam", "EA"),
        ("ACCA DipIFR crash course", "DipIFR"),
        ("Dip IFR in 6 weeks", "DipIFR"),
        ("FRM Part I", "FRM"),
        ("CIA Part 1 overview", "CIA"),
        ("Teach yourself finance", OTHER_PROGRAM),  # "ea" inside a word
        ("Financial modelling special", OTHER_PROGRAM),  # "cia" inside words
        ("ACCAS webinar", OTHER_PROGRAM),
        ("", OTHER_PROGRAM),
        (None, OTHER_PROGRAM),
    ],
)
def test_program_is_the_first_whole_token_found_in_the_topic(zoom, topic, program):
    assert zoom.program_for(topic) == program


@pytest.mark.parametrize(
    "topic, kind",
    [("CMA Weekend Bootcamp", "bootcamp"), ("ACCA 2-Day BOOT CAMP", "bootcamp"), ("acca boot-camp day_1", "bootcamp"),
     ("ACCA Bootcamp2025", "bootcamp"), ("US CMA Masterclass", "webinar"), ("Bootcamps: what to expect", "webinar"), (None, "webinar")],
)
def test_event_kind_comes_from_the_bootcamp_tokens(zoom, topic, kind):
    assert zoom.event_kind(topic) == kind


# ----------------------------------------------------------------------------- bootcamp day


@pytest.mark.parametrize(
    "topic, day, expected",
    [
        ("ACCA 2-Day Bootcamp - Day 1", SUNDAY, "Day 1"),  # the topic beats the weekday
        ("ACCA Bootcamp Day-2", SATURDAY, "Day 2"),
        ("acca_bootcamp_day_1", SUNDAY, "Day 1"),
        ("CMA BOOTCAMP DAY 2", TUESDAY, "Day 2"),
        ("Bootcamp day2", None, "Day 2"),
        ("ACCA 2-Day Bootcamp", SATURDAY, "Day 1"),  # "2-Day" is no day number
        ("ACCA 2-Day Bootcamp", SUNDAY, "Day 2"),
        ("CMA Weekend Bootcamp", SUNDAY, "Day 2"),
        ("CMA Weekend Bootcamp", TUESDAY, "Day 1"),
        ("Bootcamp: Today 2 sessions", SUNDAY, "Day 2"),  # "Today 2" is not "Day 2"; Sunday decides
        ("Bootcamp Day 12", SATURDAY, "Day 1"),
        (None, None, "Day 1"),
    ],
)
def test_bootcamp_day_from_topic_then_weekday_then_day_1(topic, day, expected):
    assert bootcamp_day(topic, day) == expected


def test_bootcamp_days_label():
    assert bootcamp_days_label({"Day 1"}) == "Day 1"
    assert bootcamp_days_label({"Day 2"}) == "Day 2"
    assert bootcamp_days_label({"Day 1", "Day 2"}) == "Both"
    assert bootcamp_days_label(["Day 2", "Day 2"]) == "Day 2"
    for bad in (set(), {"Day 3"}, {"Day 1", "Both"}):
        with pytest.raises(ValueError):
            bootcamp_days_label(bad)


# ----------------------------------------------------------------------------- conductors and staff


@pytest.mark.parametrize(
    "written, canonical",
    [
        ("Neha Kapoor", "Neha Kapoor"), ("  NEHA   kapoor ", "Neha Kapoor"), ("Neha K.", "Neha Kapoor"),
        ("neha kapoor (she/her)", "Neha Kapoor"), ("Neha Kapoor CA", "Neha Kapoor"), ("iPhone (Neha Kapoor)", "Neha Kapoor"),
        ("Rohit M (Rohit Mehta)", "Rohit Mehta"), ("SANA.QURESHI@FinEdgeAcademy.in ", "Sana Qureshi"),
        ("Ne\x00ha Kapoor", "Neha Kapoor"), ("Neha", None), ("Ankit Verma", None), ("neha.kapoor@gmail.com", None), ("", None), (None, None),
    ],
)
def test_canonical_conductor(zoom, written, canonical):
    assert zoom.canonical_conductor(written) == canonical


def test_conductor_key():
    assert conductor_key(" Dr.  Neha K. (she/her) ") == "dr neha k"
    assert conductor_key(None) == ""


def test_is_staff_by_domain_conductor_email_or_name_without_email(tmp_path, zoom):
    assert zoom.is_staff("Ankit.Verma@finedgeacademy.in")
    assert zoom.is_staff("someone@mail.finedgeacademy.in")  # a subdomain
    assert not zoom.is_staff("priya.sharma@gmail.com", "Neha Kapoor")  # the email decides: an attendee with a common name
    assert zoom.is_staff("", "iPad (Neha Kapoor)")  # a guest in a meeting report: no email
    assert not zoom.is_staff(None, "Priya Sharma") and not zoom.is_staff(None)
    folder = config_copy(tmp_path, zoom_settings="setting,value\n", zoom_conductors="conductor,aliases,emails\nNeha Kapoor,,neha.k@gmail.com\n",
                         zoom_session_conductors="webinar_id,topic,conductor\n")
    other = load_zoom_config(folder)
    assert other.settings.staff_email_domains == ()
    assert other.is_staff("NEHA.K@gmail.com") and not other.is_staff("ankit.verma@finedgeacademy.in")


HOST = "ankit.verma@finedgeacademy.in"


@pytest.mark.parametrize(
    "topic, webinar_id, panelists, host, expected",
    [
        # an ID override beats the panelists (digits only are compared)
        ("ACCA 2-Day Bootcamp - Day 1", "86543219870", ["Neha Kapoor", "Rohit Mehta"], "Ankit Verma", ("Rohit Mehta", "session_lookup", True)),
        ("Renamed topic", "865 4321 9871", [], None, ("Rohit Mehta", "session_lookup", True)),
        # a topic override: a meeting with a fresh ID and only the host's email
        ("cma weekend  BOOTCAMP", "912-345-6789", [], HOST, ("Sana Qureshi", "session_lookup", True)),
        # no override: the first panelist who is an approved conductor
        ("US CMA Masterclass (extra)", "1", ["Priya Guest", "sana q (she/her)", "Neha Kapoor"], "Ankit Verma", ("Sana Qureshi", "panelist", True)),
        ("Extra session", None, ["karthik.raman@finedgeacademy.in"], None, ("Karthik Raman", "panelist", True)),
        # then the host, if approved
        ("Extra session", None, ["Priya Guest"], "Vikram Joshi", ("Vikram Joshi", "host", True)),
        # then the first panelist as written (proper-cased), not approved
        ("Extra session", None, ["", "PRIYA guest (she/her)", "Amit"], "Ankit Verma", ("Priya Guest", "panelist", False)),
        # then the host as written
        ("Extra session", None, [], "ankit  VERMA", ("Ankit Verma", "host", False)),
        ("Extra session", None, [], " Ankit.Verma@FinEdgeAcademy.in", ("ankit.verma@finedgeacademy.in", "host", False)),
        ("Extra session", None, [], None, (None, "none", False)),
    ],
)
def test_conductor_hierarchy(zoom, topic, webinar_id, panelists, host, expected):
    meta = zoom.session_metadata(topic=topic, webinar_id=webinar_id, session_date=TUESDAY, panelists=panelists, host=host)
    assert (meta.conductor, meta.conductor_source, meta.conductor_approved) == expected


def test_session_metadata_of_a_webinar_and_a_bootcamp(zoom):
    assert zoom.session_metadata(topic="US CMA Masterclass - Fees & Careers", webinar_id="812 3456 7890", session_date=TUESDAY) == SessionMetadata(
        "CMA", "webinar", None, "Sana Qureshi", "session_lookup", True)
    assert zoom.session_metadata(topic="CMA Weekend Bootcamp", webinar_id="87770012345", session_date=SUNDAY, host=HOST) == SessionMetadata(
        "CMA", "bootcamp", "Day 2", "Sana Qureshi", "session_lookup", True)


# ----------------------------------------------------------------------------- against the synthetic world's truth

SEEDS = (3, 7)
START = date(2025, 3, 1)
DAYS = 60
SCALE = 0.001  # the sessions and their staff do not depend on the scale
REPORTS = ("attendee", "meeting_participants", "meeting_unique_users")
IST = ZoneInfo("Asia/Kolkata")


@pytest.fixture(scope="module")
def world():
    """Every session of 60 days (two seeds) with the host and panelists as its Zoom file shows them."""
    config = load_edtech_config(DEFAULT_CONFIG_DIR)
    rows = []
    for seed in SEEDS:
        days = [simulate_edtech_day(config, seed=seed, day=START + timedelta(days=i), scale=SCALE) for i in range(DAYS)]
        files: dict[str, bytes] = {}  # session key -> its Attendee Report or (first) meeting report
        for day in days:
            # a second download may lack an audience row or two; the host and panelist sections are whole
            meta = day.truth["zoom_files"].filter(pl.col("report").is_in(REPORTS) & pl.col("junk").is_null())
            wanted = dict(zip(meta["file_name"], meta["session_key"]))
            for name, content in day.zoom_files:
                if name in wanted:
                    files.setdefault(wanted[name], content)
        for day in days:
            for s in day.truth["zoom_sessions"].iter_rows(named=True):
                s["seed"], s["file"] = seed, files[s["session_key"]]
                rows.append(s)
    return config, rows


def people_in_file(content: bytes) -> tuple[list[str], str]:
    """(panelists, host) as a session's Attendee Report or meeting report shows them: names, or for a
    meeting (no host/panelist sections) the summary's host email."""
    text = decode(content)
    if text.lstrip().startswith(("Meeting ID", '"Meeting ID"')):
        summary = list(csv.reader(io.StringIO(text, newline="")))[1]
        return [], summary[4]
    parts = sections(content)
    assert "Host Details" in parts, "an Attendee Report"

    def names(title: str) -> list[str]:
        return list(dict.fromkeys(row[1] for row in parts.get(title, [[]])[1:]))

    return names("Panelist Details"), names("Host Details")[0]


def test_metadata_matches_the_synthetic_truth_for_every_session(zoom, world):
    config, rows = world
    seen = set()
    for s in rows:
        panelists, host = people_in_file(s["file"])
        if s["run_as"] == "meeting":
            assert not panelists and host == staff_member(config, s["seed"], s["host"]).email
        local_day = s["actual_start"].astimezone(IST).date()
        assert s["session_key"].endswith(local_day.isoformat())
        meta = zoom.session_metadata(topic=s["topic"], webinar_id=s["webinar_id"], session_date=local_day, panelists=panelists, host=host)
        expected_day = f"Day {s['bootcamp_day']}" if s["kind"] == "bootcamp" else None
        assert (meta.program, meta.kind, meta.bootcamp_day, meta.conductor, meta.conductor_approved) == (
            s["program"], s["kind"], expected_day, s["conductor"], True), s["session_key"]
        seen.add((s["event"], s["run_as"], meta.bootcamp_day))
    # every event, both bootcamp days, and bootcamps run as webinars and as meetings were checked
    assert {e for e, _, _ in seen} == {e.name for e in config.events}
    assert {(e, r, d) for e, r, d in seen if e.endswith("bootcamp")} >= {
        (e, r, d) for e in ("acca_bootcamp", "cma_bootcamp") for r in ("webinar", "meeting") for d in ("Day 1", "Day 2")}


def test_without_overrides_the_panelists_decide_and_acca_bootcamp_needs_its_override(zoom, world):
    """The hierarchy on real files: with no override lines, a webinar's conductor is its first approved
    panelist; that is the truth when the conductor is listed first, but not for acca_bootcamp (Rohit Mehta
    conducts, Neha Kapoor is listed first) and not for meetings (no panelist sections)."""
    config, rows = world
    bare = replace(zoom, session_conductors=())
    outcomes = set()
    for s in rows:
        panelists, host = people_in_file(s["file"])
        meta = bare.session_metadata(topic=s["topic"], webinar_id=s["webinar_id"], session_date=START, panelists=panelists, host=host)
        if s["run_as"] == "meeting":
            assert (meta.conductor, meta.conductor_source, meta.conductor_approved) == (host, "host", False)
        elif panelists and panelists[0] == s["conductor"]:
            assert (meta.conductor, meta.conductor_source) == (s["conductor"], "panelist")
        elif s["event"] == "acca_bootcamp" and panelists[0] == "Neha Kapoor":
            assert meta.conductor == "Neha Kapoor" != s["conductor"]
        outcomes.add((s["run_as"], meta.conductor == s["conductor"]))
    assert outcomes == {("webinar", True), ("webinar", False), ("meeting", False)}
