"""Zoom report parser (funnel_assets.lib.zoom_reports) against hand-made fixtures, one per quirk of
/work/shared/docs/zoom-formats.md (funnel_assets_tests/fixtures/zoom/), and against every file of a
generated ed-tech world (the synthetic generator, run in-process) checked with its ground truth."""

from __future__ import annotations

import csv
import io
import json
import pickle
import re
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from funnel_assets.lib.zoom_reports import (
    AUDIENCE_SCHEMA,
    ERROR_CODES,
    WAITING_CODES,
    PEEK_BYTES,
    REPORT_KINDS,
    STAFF_SCHEMA,
    ReportHead,
    ZoomReportError,
    assess_usability,
    date_order_in_name,
    parse_report,
    peek_report,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zoom"
TZ = "Asia/Kolkata"
IST = timezone(timedelta(hours=5, minutes=30))


def ist(*args) -> datetime:
    return datetime(*args, tzinfo=IST).astimezone(timezone.utc)


def content(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(name: str, data: bytes | None = None, *, default_day_first: bool = False):
    data = content(name) if data is None else data
    return parse_report(data, source=name, timezone=TZ, default_day_first=default_day_first)


def peek(name: str, head: bytes, *, default_day_first: bool = False) -> ReportHead:
    return peek_report(head, source=name, timezone=TZ, default_day_first=default_day_first)


# file -> (kind, webinar id, start (UTC), day_first, audience rows, staff rows) or the rejection code
EXPECTED = {
    "attendee_2020_padded.csv": ("attendee", "328972509", ist(2020, 3, 28, 8, 7, 27), False, 5, 2),
    "attendee_newer_blank_lines_bom.csv": ("attendee", "84759841045", ist(2026, 8, 9, 10, 45), False, 4, 2),
    "attendee_2021_na_rejoins.csv": ("attendee", "9164023381", ist(2021, 9, 12, 18, 58, 41), False, 7, 1),
    "attendee_2025_quoted_12h.csv": ("attendee", "89011223344", ist(2025, 1, 5, 19, 2), False, 2, 1),
    "excel_resave_european_semicolon.csv": ("attendee", "81234567701", ist(2025, 11, 3, 19, 5), True, 4, 1),
    "excel_unicode_text_utf16_tabs.txt": ("registration", "86543219870", ist(2025, 11, 15, 10, 0), True, 3, 0),
    "excel_resave_cp1252_dayfirst.csv": ("attendee", "86543219870", ist(2022, 8, 15, 10, 0), True, 3, 1),
    "nul_in_name.csv": ("attendee", "81234567890", ist(2025, 3, 14, 19, 0), False, 2, 1),
    "custom_questions_commas_quotes.csv": ("attendee", "84759841045", ist(2025, 2, 20, 19, 0), False, 3, 1),
    "rejoin_segments_unsorted.csv": ("attendee", "86543219870", ist(2025, 1, 18, 10, 0), False, 5, 1),
    "registration_indian_layout.csv": ("registration", "84759841045", ist(2025, 1, 14, 19, 0), False, 3, 0),
    "registrant_details_form_order.csv": ("registration", "89011223344", ist(2025, 2, 2, 18, 30), False, 3, 0),
    "registration_multiline_comment.csv": ("registration", "89011223344", ist(2025, 2, 2, 18, 30), False, 2, 0),
    "cr_line_endings.csv": ("registration", "84759841045", ist(2025, 1, 21, 19, 0), False, 1, 0),
    "duplicate_download.csv": ("registration", "86543219871", ist(2025, 3, 1, 18, 0), False, 2, 0),
    "duplicate_download (1).csv": ("registration", "86543219871", ist(2025, 3, 1, 18, 0), False, 3, 0),
    "dates_all_ambiguous.csv": ("registration", "81234567890", ist(2025, 3, 4, 19, 0), False, 2, 0),
    "us_resave_all_dates_ambiguous.csv": ("attendee", "89011223344", ist(2025, 11, 3, 17, 55), False, 4, 1),
    "us_resave_generated_a_month_later.csv": ("attendee", "84759841045", ist(2025, 3, 11, 19, 2), False, 3, 1),
    "reexport_first_download.csv": ("registration", "83774824839", ist(2026, 1, 24, 19, 0), False, 3, 0),
    "reexport_corrected.csv": ("registration", "83774824839", ist(2026, 1, 24, 19, 0), False, 3, 0),
    "dates_unusable.csv": ("registration", "89011223344", ist(2025, 2, 2, 18, 30), False, 3, 0),
    "excel_scientific_phones.csv": ("registration", "84759841045", ist(2025, 1, 14, 19, 0), True, 4, 0),
    "meeting_participants_waiting_room.csv": ("meeting_participants", "83774824839", ist(2025, 1, 18, 14, 51, 14), False, 5, 0),
    "meeting_unique_users.csv": ("meeting_unique_users", "83774824839", ist(2025, 1, 19, 14, 50), False, 3, 0),
    "empty.csv": "empty",
    "whitespace_only.csv": "empty",
    "attendee_report_saved_as.xlsx": "not_csv",
    "not_zoom_bank_statement.csv": "not_zoom",
    "not_zoom_google_sheet.csv": "not_zoom",
    "truncated_mid_row.csv": "truncated",
    "truncated_unterminated_quote.csv": "truncated",
    "no_attendee_details.csv": "no_attendee_details",
    "no_session_date.csv": "no_session_date",
    "participants_without_meeting_data.csv": "no_session_date",
    "inconsistent_dates.csv": "inconsistent_dates",
}
ACCEPTED = sorted(k for k, v in EXPECTED.items() if isinstance(v, tuple))


def test_every_fixture_has_an_expectation():
    assert sorted(p.name for p in FIXTURES.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_fixture_parses_or_is_rejected_with_a_reason_naming_the_file(name):
    expected = EXPECTED[name]
    if isinstance(expected, str):
        with pytest.raises(ZoomReportError) as info:
            parse(name)
        err = info.value
        assert err.code == expected and err.code in ERROR_CODES and err.source == name
        assert str(err) == f"{name}: {err.reason}"
        assert re.search(r"[Dd]ownload|move it out", err.reason), err.reason  # says what to do
        return
    kind, webinar_id, start, day_first, rows, staff = expected
    r = parse(name)
    assert (r.kind, r.webinar_id, r.start_at, r.day_first) == (kind, webinar_id, start, day_first)
    assert r.session_date == start.astimezone(IST).date()
    assert r.start_is_scheduled == (kind == "registration")
    assert (r.stats.rows, r.audience.height, r.staff.height) == (rows, rows, staff)
    assert dict(r.audience.schema) == AUDIENCE_SCHEMA and dict(r.staff.schema) == STAFF_SCHEMA
    assert r.kind in REPORT_KINDS and r.source == name
    assert r.audience["line"].is_not_null().all() and r.audience["line"].is_unique().all()


# ----------------------------------------------------------------------------- webinar attendee reports


def test_2020_padded_report_with_dash_no_shows_and_other_attended():
    r = parse("attendee_2020_padded.csv")
    assert r.vintage == "2020" and r.topic == "US CMA Masterclass - Fees & Careers"
    assert r.summary["Webinar ID"] == "328-972-509" and r.summary["Max Concurrent Views"] == "4"
    assert r.generated_at == ist(2020, 3, 28, 11, 2, 13)
    assert r.duration_minutes == 92 and r.end_at == r.start_at + timedelta(minutes=92)
    assert r.staff.rows() == [
        (7, "host", "Ankit Verma", "ankit.verma@finedgeacademy.in", ist(2020, 3, 28, 7, 55, 2), ist(2020, 3, 28, 9, 41, 10), 107.0),
        (10, "panelist", "Sana Qureshi", "sana.qureshi@finedgeacademy.in", ist(2020, 3, 28, 8, 1, 44), ist(2020, 3, 28, 9, 39, 5), 98.0),
    ]
    a = r.audience
    assert a["line"].to_list() == [13, 14, 15, 16, 19]
    assert a["section"].to_list() == ["attendee_details"] * 4 + ["other_attended"]
    assert a["attended"].to_list() == [True, False, True, False, True]
    assert a["minutes"].to_list() == [81.0, None, 80.0, None, 31.0]  # "--" = no value
    assert a["join_at"].to_list()[1] is None and a["leave_at"].to_list()[3] is None
    assert a["email"].to_list()[2] == "vikram.singh@outlook.com"  # " vikram.singh@outlook.com " stripped
    assert a["approval_status"].to_list() == ["approved", "approved", "approved", "denied", None]
    assert a["registered_at"].to_list()[0] == ist(2020, 3, 20, 18, 12, 9)
    assert a.row(4, named=True) | {"join_at": None} == {  # walk-in: no registration, no email/phone
        "line": 19, "section": "other_attended", "attended": True, "display_name": "Galaxy A52", "first_name": None,
        "last_name": None, "email": None, "phone": None, "registered_at": None, "approval_status": None, "join_at": None,
        "leave_at": ist(2020, 3, 28, 9, 0, 40), "minutes": 31.0, "is_guest": None, "in_waiting_room": None,
        "country": "India", "city": None, "source_name": None, "attendance_type": None, "answers": None}
    q1, q2 = "Are you a student, working professional or other?", "Current qualification"
    assert r.custom_questions == (q1, q2)
    assert [json.loads(x) if x else None for x in a["answers"]] == [
        {q1: "Student", q2: "B.Com"}, {q1: "Working professional", q2: "CA Inter"}, {q1: "Other"}, {q1: "Student", q2: "12th"}, None]
    assert a["is_guest"].is_null().all() and a["phone"].is_null().all()  # the 2020 header has neither column
    assert r.stats.time_cells == r.stats.time_parsed == 16 and r.warnings == ()


def test_newer_report_with_blank_lines_bom_blank_max_concurrent_and_guests():
    r = parse("attendee_newer_blank_lines_bom.csv")
    assert r.vintage == "newer" and r.summary["Max Concurrent Views"] == ""  # unknown, kept blank (not 0)
    assert r.generated_at == ist(2026, 8, 9, 13, 2, 45)
    a = r.audience
    assert a["line"].to_list() == [19, 20, 21, 22]
    assert a["display_name"].to_list()[0] == "Priya S (Priya Sharma)"
    assert a["phone"].to_list() == ["+91 98123 45670", "9123456780", None, "+91-99887-76655"]
    assert a["is_guest"].to_list() == [True, True, True, False]
    # newer no-shows: blank times and 0 minutes
    assert a["attended"].to_list() == [True, False, False, True]
    assert a["minutes"].to_list() == [93.0, 0.0, 0.0, 100.0] and a["join_at"].null_count() == 2
    assert a["source_name"].to_list() == ["Instagram", "Ads", None, None]
    assert a["approval_status"].to_list()[2:] == ["pending", "upgraded to panelist"]


def test_staff_and_audience_are_keyed_on_the_section_title():
    r = parse("attendee_newer_blank_lines_bom.csv")
    # the panelist who also registered is listed under both titles; each row stays where its title puts it
    assert r.staff.filter(pl.col("role") == "panelist")["email"].to_list() == ["neha.kapoor@finedgeacademy.in"]
    assert "neha.kapoor@finedgeacademy.in" in r.audience["email"].to_list()
    assert "ankit.verma@finedgeacademy.in" not in r.audience["email"].to_list()
    # Attendee Details first and with the very same header as the staff sections: still keyed on titles
    text = content("attendee_2020_padded.csv").decode()
    lines = text.split("\n")
    staff_header = lines[5]
    moved = "\n".join([*lines[:4], lines[10], staff_header, "Yes,Priya Sharma,priya@x.in,\"Mar 28, 2020 08:09:51\",\"Mar 28, 2020 09:30:02\",81,India",
                       *lines[4:10], ""])
    m = parse("moved.csv", moved.encode())
    assert m.staff["role"].to_list() == ["host", "panelist"] and m.audience["email"].to_list() == ["priya@x.in"]
    assert m.audience["line"].to_list() == [7] and m.staff["line"].to_list() == [10, 13]


def test_title_spellings_and_reports_without_a_title_row():
    base = parse("attendee_2020_padded.csv")
    text = content("attendee_2020_padded.csv").decode()
    variants = {
        "quoted and upper-case titles": text.replace("Attendee Details,", '"ATTENDEE DETAILS",').replace("Host Details,", '"Host Details",'),
        "no report title": text.split("\n", 1)[1],  # kind from the summary header (Actual Start Time)
        "trailing padding quoted": text.replace("Panelist Details,,,,,,,,,,,,", 'Panelist Details,"","","",,,,,,,,,'),
    }
    for what, variant in variants.items():
        r = parse("variant.csv", variant.encode())
        assert (r.kind, r.webinar_id, r.start_at) == (base.kind, base.webinar_id, base.start_at), what
        assert r.audience.drop("line").equals(base.audience.drop("line")) and r.staff.drop("line").equals(base.staff.drop("line")), what
    registration = content("registration_indian_layout.csv").decode().split("\r\n", 1)[1]
    r = parse("untitled.csv", registration.encode())
    assert (r.kind, r.start_is_scheduled, r.audience.height) == ("registration", True, 3)


def _rewrite_details(data: bytes, transform) -> bytes:
    """Apply ``transform(header, rows) -> (header, rows)`` to the Attendee Details table."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    i = next(k for k, row in enumerate(rows) if row[:1] == ["Attendee Details"]) + 2
    header, body = transform(rows[i], rows[i + 1:])
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([*rows[:i], header, *body])
    return out.getvalue().encode()


def test_columns_are_found_by_header_name_not_position():
    name = "attendee_newer_blank_lines_bom.csv"
    base = parse(name)
    order = [14, 3, 0, 8, 12, 5, 1, 11, 9, 2, 13, 6, 4, 10, 7]

    def shuffle(header, rows):
        names = [re.sub(r" \(Original Name\)", "", h).upper() if i % 2 else f"  {h.lower()} " for i, h in enumerate(header)]
        return [names[i] for i in order], [[row[i] for i in order] for row in rows]

    shuffled = parse(name, _rewrite_details(content(name), shuffle))
    assert shuffled.audience.drop("answers").equals(base.audience.drop("answers"))
    assert [json.loads(x) if x else None for x in shuffled.audience["answers"]] == [
        {"which course are you interested in?": "ACCA"}, {"which course are you interested in?": "CMA"}, None, None]


def test_custom_question_headers_and_answers_with_commas_and_quotes():
    r = parse("custom_questions_commas_quotes.csv")
    q1, q2 = "Are you a student, working professional or other?", 'Which "track" interests you, if any?'
    assert r.custom_questions == (q1, q2)
    first = {q1: "Working professional, 3 years", q2: 'The "weekend" batch, please'}
    assert r.audience["answers"].to_list() == [json.dumps(first, ensure_ascii=False), json.dumps({q1: "Student"}), None]
    assert r.audience["country"].to_list() == ["India"] * 3  # columns after the questions still line up


def test_rejoins_give_one_row_per_segment_with_blank_registration_on_later_rows():
    r = parse("rejoin_segments_unsorted.csv")
    deepak = r.audience.filter(pl.col("email") == "deepak.rao@gmail.com")
    assert deepak["line"].to_list() == [10, 12, 13]  # file order, not sorted by join time
    assert deepak["registered_at"].to_list() == [None, ist(2025, 1, 15, 19, 12), None]
    assert deepak["approval_status"].to_list() == [None, "approved", None]
    assert deepak["minutes"].sum() == 181  # overlapping segments: summing over-counts (the cleaner takes the union)
    sneha = r.audience.filter(pl.col("email") == "sneha.k@gmail.com").row(0, named=True)
    assert sneha["registered_at"] > sneha["join_at"]  # clock skew is kept, not "fixed"


def test_quoted_sections_and_12_hour_minute_dates():
    r = parse("attendee_2025_quoted_12h.csv")
    assert r.vintage == "2025" and r.generated_at == ist(2025, 1, 5, 21, 14)
    assert r.audience["phone"].to_list() == ["09845012345", "+971 50 123 4567"]  # text, leading 0 and + kept
    assert r.audience["join_at"].to_list() == [ist(2025, 1, 5, 19, 5), None]
    assert r.audience["country"].to_list() == ["India", "United Arab Emirates"]
    # Yes/No in other spellings (an edited file) are read too; anything else is unknown (null)
    edited = content("attendee_2025_quoted_12h.csv").replace(b'"Yes","Arjun', b'"yes","Arjun').replace(b'"Yes","India"', b'"Y","India"')
    edited = parse("edited.csv", edited.replace(b'"No","Fatima', b'"maybe","Fatima'))
    assert edited.audience["attended"].to_list() == [True, None] and edited.audience["is_guest"].to_list() == [True, True]


# ----------------------------------------------------------------------------- encodings and Excel


def test_excel_resave_cp1252_day_first_and_float_phones():
    r = parse("excel_resave_cp1252_dayfirst.csv")
    assert r.day_first and r.session_date == date(2022, 8, 15)
    assert r.audience["display_name"].to_list()[0] == "André Fernandes"
    assert r.audience["phone"].to_list() == ["9812345670.0", "917013456789.0", "+91 90123 45678"]  # as text, never numbers
    assert r.audience["registered_at"].to_list() == [ist(2022, 8, 2, 18, 40), ist(2022, 8, 10, 8, 15), ist(2022, 8, 13, 22, 1)]
    assert any("Windows-1252" in w for w in r.warnings) and any("2 phone numbers were turned into decimals" in w for w in r.warnings)
    assess_usability(r)


def test_nul_and_control_characters_are_removed_from_cells():
    r = parse("nul_in_name.csv")
    assert r.audience["display_name"].to_list() == ["Priya Sharma", "Rohan Das"]
    assert r.warnings == ("1 invisible control character was removed (such as a NUL byte inside a name).",)


def test_utf16_text_is_converted():
    data = content("registration_indian_layout.csv").decode("utf-8").encode("utf-16")
    r = parse("unicode_text.csv", data)
    assert r.audience.height == 3 and any("UTF-16" in w for w in r.warnings)


def test_scientific_phones_make_the_file_unusable_with_a_reason():
    r = parse("excel_scientific_phones.csv")
    assert r.audience["phone"].to_list()[:2] == ["9.17181572E11", "7.73078735E9"]
    assert any(w.startswith("3 phone numbers were in Excel scientific notation") for w in r.warnings)
    with pytest.raises(ZoomReportError) as info:
        assess_usability(r)
    assert info.value.code == "phones_unusable" and info.value.source == "excel_scientific_phones.csv"
    assert "3 of 4 phone numbers" in info.value.reason and "scientific notation" in info.value.reason
    assert "without opening it in Excel" in info.value.reason and "as Text" in info.value.reason
    assess_usability(r, max_bad_phone_share=0.8)


def test_unreadable_dates_make_the_file_unusable_with_examples():
    r = parse("dates_unusable.csv")
    assert (r.stats.time_cells, r.stats.time_parsed) == (5, 2)
    assert r.stats.bad_time_examples == ("last Sunday", "26-Jan", "#VALUE!")
    with pytest.raises(ZoomReportError) as info:
        assess_usability(r)
    assert info.value.code == "dates_unusable" and "3 of 5" in info.value.reason and "'last Sunday'" in info.value.reason
    assess_usability(r, max_bad_time_share=0.7)


def test_zoom_na_filler_on_rejoin_rows_is_empty_not_an_unreadable_date():
    """Older Attendee Reports write NA in Registration Time and Approval Status on a rejoin row:
    Zoom's own filler, so no cell is unreadable, nothing blames Excel and the file is usable."""
    r = parse("attendee_2021_na_rejoins.csv")
    assert (r.stats.time_cells, r.stats.time_parsed, r.stats.bad_time_examples) == (20, 20, ())
    assert r.warnings == ()
    assess_usability(r)  # was rejected: "3 of 23 dates/times ... (e.g. 'NA', ...) ... edited in Excel"
    rejoins = r.audience.filter(pl.col("line").is_in([11, 13, 14]))
    assert rejoins["registered_at"].null_count() == 3 and rejoins["approval_status"].null_count() == 3
    assert "na" not in r.audience["approval_status"].to_list()
    assert r.audience.filter(pl.col("email") == "mohit.chauhan@yahoo.in")["registered_at"].drop_nulls().to_list() == [
        ist(2021, 9, 11, 8, 2, 19)]


def test_excel_resaves_with_semicolons_or_tabs_are_read_by_their_own_delimiter():
    """A European Excel re-save (semicolons, cp1252, 03.11.2025 19:05) and Excel's "Unicode Text"
    (UTF-16, tab-separated) are the same reports: the delimiter is sniffed, not assumed."""
    eu = parse("excel_resave_european_semicolon.csv")
    assert eu.topic == "US CMA Info Session – Fees, Exam & Careers" and eu.generated_at == ist(2025, 11, 3, 21, 14)
    assert (eu.stats.time_cells, eu.stats.time_parsed) == (13, 13)
    assert eu.staff["email"].to_list() == ["ankit.verma@finedgeacademy.in"]
    renee = eu.audience.row(0, named=True)
    assert (renee["first_name"], renee["last_name"], renee["phone"], renee["source_name"]) == ("Renée", "D'Souza", "9819012345", "Instagram")
    assert (renee["registered_at"], renee["join_at"], renee["minutes"]) == (ist(2025, 10, 28, 14, 12), ist(2025, 11, 3, 19, 6), 84.0)
    assess_usability(eu)
    head = peek("excel_resave_european_semicolon.csv", content("excel_resave_european_semicolon.csv"))
    assert (head.kind, head.webinar_id, head.session_date) == ("attendee", "81234567701", date(2025, 11, 3))

    u16 = parse("excel_unicode_text_utf16_tabs.txt")
    assert u16.warnings == ("The file was saved as UTF-16 ('Unicode Text'); it was converted.",)
    assert u16.audience["email"].to_list() == ["shreya.ghosh@gmail.com", "rohan.d@rediffmail.com", "zoe.fernandes@gmail.com"]
    assert u16.audience["approval_status"].to_list() == ["approved", "approved", "pending"]
    assert json.loads(u16.audience["answers"][2]) == {"City": "Mumbai", "Are you a student, working professional or other?": "Other, CA finalist"} or \
        json.loads(u16.audience["answers"][2])["Are you a student, working professional or other?"] == "Other, CA finalist"
    assert u16.custom_questions == ("Are you a student, working professional or other?",)
    head = peek("excel_unicode_text_utf16_tabs.txt", content("excel_unicode_text_utf16_tabs.txt"))
    assert (head.kind, head.session_date) == ("registration", date(2025, 11, 15))


# ----------------------------------------------------------------------------- dates


def test_day_first_is_decided_once_per_file():
    assert parse("excel_resave_cp1252_dayfirst.csv").day_first is True  # 15/08/2022
    assert parse("attendee_newer_blank_lines_bom.csv", default_day_first=True).day_first is False  # 07/28/2026 settles it
    # every date on one ambiguous day, in Zoom's own format (seconds, AM/PM): Zoom writes month-first
    for default in (False, True):
        zoom = parse("dates_all_ambiguous.csv", default_day_first=default)
        assert (zoom.day_first, zoom.session_date) == (False, date(2025, 3, 4))
    # the same file re-saved by a spreadsheet (no seconds): only the configured default can decide
    text = content("dates_all_ambiguous.csv").decode()
    excel = text
    for zoom_time, sheet_time in (("11:00:00 PM", "23:00"), ("07:00:00 PM", "19:00"), ("10:00:00 AM", "10:00"), ("11:30:00 AM", "11:30")):
        excel = excel.replace(zoom_time, sheet_time)
    mf = parse("resaved.csv", excel.encode())
    df = parse("resaved.csv", excel.encode(), default_day_first=True)
    assert (mf.day_first, mf.session_date) == (False, date(2025, 3, 4))
    assert (df.day_first, df.session_date) == (True, date(2025, 4, 3))
    assert df.audience["registered_at"].to_list()[0] == ist(2025, 4, 3, 10, 0)
    # a month-name start date is the hint that settles ambiguous numeric rows ("04/03/2025" = 4 March)
    hinted = text.replace("03/04/2025 07:00:00 PM", '"Mar 04, 2025 07:00:00 PM"').replace("03/04/2025 1", "04/03/2025 1")
    hinted = parse("hinted.csv", hinted.replace("04/03/2025 11:00:00 PM", "03/05/2025 11:00:00 PM").encode())
    assert hinted.day_first is True and hinted.audience["registered_at"].to_list()[0] == ist(2025, 3, 4, 10, 0)
    # every date of the file counts: registrations 02/01..02/10 are ten days month-first, ten months day-first
    spread = text.replace("03/04/2025 10:00", "02/01/2025 10:00").replace("03/04/2025 11:30", "02/10/2025 11:30")
    spread = parse("spread.csv", spread.replace("03/04/2025", "02/11/2025").encode(), default_day_first=True)
    assert spread.day_first is False and spread.session_date == date(2025, 2, 11)


def test_inconsistent_dates_are_rejected_with_both_examples():
    with pytest.raises(ZoomReportError) as info:
        parse("inconsistent_dates.csv")
    assert info.value.code == "inconsistent_dates"
    assert re.search(r"'\d\d/01/2025' can only be day-first but '01/18/2025' can only be month-first", info.value.reason)


# ----------------------------------------------------------------------------- registration reports


def test_registration_report_in_the_teams_fixed_layout():
    r = parse("registration_indian_layout.csv")
    assert r.start_is_scheduled and r.vintage == "2020" and r.end_at is None and r.duration_minutes is None
    assert r.summary["Scheduled Start Time"] == "01/14/2025 07:00:00 PM" and r.generated_at == ist(2025, 1, 14, 22, 32)
    a = r.audience
    assert a["section"].unique().to_list() == ["attendee_details"] and a["attended"].is_null().all()
    assert a["first_name"].to_list() == ["Odika", "Christopher", "Vidhi"]
    assert a["phone"].to_list()[0] == "(+91) 60863 22899" and a["attendance_type"].unique().to_list() == ["Virtual"]
    assert a["approval_status"].to_list() == ["approved", "approved", "denied"]
    assert a["display_name"].is_null().all() and a["answers"].is_null().all()


def test_registrant_details_in_a_form_dependent_order():
    r = parse("registrant_details_form_order.csv")
    assert r.vintage == "newer" and r.summary["Scheduled Time"] == "02/02/2025 06:30:00 PM"
    a = r.audience
    assert a["section"].unique().to_list() == ["registrant_details"] and a["attended"].is_null().all()
    assert a["city"].to_list() == ["Hyderabad", "mumbai", "Pune"] and a["country"].unique().to_list() == ["India"]
    assert a["approval_status"].to_list() == ["approved", "pending", "denied"]
    assert r.custom_questions == ("Which course are you interested in?",)  # Organization, Job Title... are standard fields
    assert json.loads(a["answers"][0]) == {"Organization": "Deloitte", "Job Title": "Audit Associate",
                                           "Which course are you interested in?": "CFA", "Questions & Comments": "What are the fees?"}
    assert json.loads(a["answers"][2]) == {"Organization": "EY", "Which course are you interested in?": "CFA"}
    assert a["source_name"].to_list() == ["Ads", "Instagram", None]


def test_multi_line_cells_and_cr_line_ends_keep_physical_line_numbers():
    r = parse("registration_multiline_comment.csv")
    assert r.audience["line"].to_list() == [7, 9]
    assert json.loads(r.audience["answers"][0]) == {"Questions & Comments": "Is there an EMI option?\nAnd a weekend batch?"}
    cr = parse("cr_line_endings.csv")
    assert cr.audience["line"].to_list() == [7] and cr.audience["attendance_type"].to_list() == ["Virtual"]


def test_a_second_download_of_the_same_report():
    first, second = parse("duplicate_download.csv"), parse("duplicate_download (1).csv")
    assert (first.webinar_id, first.start_at, first.kind) == (second.webinar_id, second.start_at, second.kind)
    assert second.audience.height == first.audience.height + 1
    assert second.audience.head(2).equals(first.audience)


# ----------------------------------------------------------------------------- meetings


def test_meeting_participants_with_waiting_room_and_recording_consent():
    r = parse("meeting_participants_waiting_room.csv")
    assert r.vintage is None and r.topic == "CMA Weekend Bootcamp" and r.summary["Meeting ID"] == "837 7482 4839"
    assert r.host_email == "meera.iyer@finedgeacademy.in" and r.end_at == ist(2025, 1, 18, 17, 42, 44)
    assert r.duration_minutes == 172 and r.staff.height == 0 and r.generated_at is None
    a = r.audience
    assert a["section"].unique().to_list() == ["participants"]
    assert a["in_waiting_room"].to_list() == [True, False, False, False, False]
    assert a["attended"].to_list() == [False, True, True, True, True]  # waiting-room time is not time in the meeting
    assert a["display_name"].to_list()[3:] == ["iPhone (Vikram Singh)", "priya (she/her)"]
    assert a["email"].to_list() == [None, "meera.iyer@finedgeacademy.in", None, "vikram.singh@outlook.com", None]
    assert a["is_guest"].to_list() == [True, False, True, True, True]
    assert [json.loads(x) if x else None for x in a["answers"]] == [None, None, *[{"Recording Consent": "Y"}] * 3]


def test_meeting_unique_users():
    r = parse("meeting_unique_users.csv")
    assert r.audience["minutes"].to_list() == [131.0, 176.0, 29.0] and r.audience["attended"].all()
    assert r.audience["join_at"].is_null().all() and r.audience["email"].to_list()[2] is None
    assert r.stats.time_cells == 2  # start and end of the summary


# ----------------------------------------------------------------------------- ugly files


def test_truncated_files_are_rejected_and_a_complete_last_row_without_newline_is_not():
    data = content("rejoin_segments_unsorted.csv")
    assert parse("ok.csv", data.rstrip(b"\n")).audience.height == 5
    last = data.rstrip(b"\n").rfind(b"\n") + 1
    for cut in (last + 3, last + 40, len(data) - 30):  # inside the last row
        with pytest.raises(ZoomReportError) as info:
            parse("cut.csv", data[:cut])
        assert info.value.code == "truncated" and "line 14" in info.value.reason
    header = data.find(b"Attended,User Name (Original Name),First")
    for cut in (header + 20, data.find(b"\n", header)):  # inside / at the end of the header
        with pytest.raises(ZoomReportError, match="cut off") as info:
            parse("cut.csv", data[:cut])
        assert info.value.code == "truncated"
    summary = data.find(b"ACCA 2-Day")
    with pytest.raises(ZoomReportError) as info:
        parse("cut.csv", data[:summary + 40])
    assert info.value.code == "truncated"
    with pytest.raises(ZoomReportError) as info:  # an interrupted download left zero bytes at the end
        parse("zeros.csv", data[:200] + b"\x00" * 300)
    assert info.value.code == "truncated"


def test_binary_content_is_not_csv():
    with pytest.raises(ZoomReportError, match=r"Excel workbook \(\.xlsx\)") as info:
        parse("attendee_report_saved_as.xlsx")
    assert info.value.code == "not_csv"
    for data, what in ((b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "old-style Excel"), (b"%PDF-1.7\n%\xe2\xe3", "PDF"),
                       (bytes(range(256)) * 20, "binary")):
        with pytest.raises(ZoomReportError, match=what) as info:
            parse("x.csv", data)
        assert info.value.code == "not_csv"


def test_small_and_large_tables_are_read_the_same_way(monkeypatch):
    import funnel_assets.lib.zoom_reports as zr

    for name in ACCEPTED:
        monkeypatch.setattr(zr, "_SMALL_TABLE_BYTES", 1 << 30)
        small = parse(name)
        monkeypatch.setattr(zr, "_SMALL_TABLE_BYTES", 0)
        large = parse(name)
        assert small.audience.equals(large.audience) and small.staff.equals(large.staff), name
        assert small.stats == large.stats and small.custom_questions == large.custom_questions, name


_BIG_HEADER = ["Attended", "User Name (Original Name)", "First Name", "Last Name", "Email", "Phone", "Registration Time",
               "Approval Status", "Join Time", "Leave Time", "Time in Session (minutes)", "Is Guest",
               "Are you a student, working professional or other?", "Current qualification", "Country/Region Name", "Source Name"]


def _big_attendee_report(quirk, *, start: datetime = datetime(2025, 3, 14, 19, 0), rows: int = 400,
                         fmt: str = "%b %d, %Y %H:%M:%S") -> bytes:
    """An Attendee Report large enough for polars' CSV reader; ``quirk(i, cells)`` edits row i."""
    import random

    r = random.Random(7)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerows([["Attendee Report"], ["Report Generated Time", (start + timedelta(hours=3)).strftime(fmt)], [],
                 ["Topic", "Webinar ID", "Actual Start Time", "Actual Duration (minutes)", "# Registrants", "Enable Registration"],
                 ["ACCA Career Webinar", "847 5984 1045", start.strftime(fmt), "90", str(rows), "Yes"], [],
                 ["Host Details"], ["Attended", "User Name (Original Name)", "Email", "Join Time", "Leave Time", "Time in Session (minutes)"],
                 ["Yes", "Ankit Verma", "ankit@finedge.in", (start - timedelta(minutes=10)).strftime(fmt),
                  (start + timedelta(minutes=95)).strftime(fmt), "105"], [], ["Attendee Details"], _BIG_HEADER])
    for i in range(rows):
        first, last = r.choice(("Priya", "Rohan", "Kavya", "Arjun")), r.choice(("Sharma", "Iyer", "Nair", "Rao"))
        joined = r.random() < 0.6
        join = start + timedelta(seconds=r.randint(0, 3600))
        leave = join + timedelta(seconds=r.randint(300, 3000))
        cells = ["Yes" if joined else "No", f"{first} {last}", first, last, f"{first.lower()}.{last.lower()}{i}@gmail.com",
                 r.choice(("+91 98765 43210", "9876543210", "91-98765-43210")),
                 (start - timedelta(minutes=r.randint(30, 20000))).strftime(fmt), "approved",
                 join.strftime(fmt) if joined else "", leave.strftime(fmt) if joined else "",
                 str((leave - join).seconds // 60) if joined else "0", "Yes",
                 r.choice(("Student", "Working professional", "Other")), r.choice(("B.Com", "CA Inter", "12th")), "India",
                 r.choice(("Instagram", "Ads"))]
        w.writerow(quirk(i, cells) if quirk else cells)
    return out.getvalue().encode("utf-8")


def _cell(col: int, edit, every: int = 7):
    """A quirk that edits column ``col`` of every ``every``-th row."""
    return lambda i, cells: [edit(c) if j == col and i % every == 3 else c for j, c in enumerate(cells)]


BIG_VARIANTS = {
    "clean": None,
    "trailing spaces in emails": _cell(4, lambda c: c + "  "),
    "leading spaces and blank cells": lambda i, cells: [" " + c if i % 5 == 0 else c for c in cells[:8]] + (
        ["  ", *cells[9:]] if i % 9 == 0 else cells[8:]),
    "tabs": _cell(2, lambda c: "\t" + c),
    "trailing tabs": _cell(3, lambda c: c + "\t"),
    "trailing spaces in the last column": _cell(15, lambda c: c + " "),
    "trailing spaces in quoted cells": _cell(12, lambda c: c + ", or not "),
    "non-breaking spaces": _cell(14, lambda c: "\u00a0" + c + "\u3000"),
    "quotes, backslashes and line breaks in answers": _cell(12, lambda c: f'{c} "quoted" \\ and\na second line', every=11),
    "some answers missing": _cell(13, lambda c: ""),
    "no answers at all": lambda i, cells: cells[:12] + ["", ""] + cells[14:],
    "blank rows": lambda i, cells: [""] * len(cells) if i % 50 == 0 or i > 390 else cells,
    "ragged rows": lambda i, cells: cells[:9] if i % 13 == 0 else cells + ["extra"] if i % 17 == 0 else cells,
    "unreadable dates and dashes": lambda i, cells: cells[:8] + (["--", "Sometime"] if i % 10 == 0 else cells[8:10]) + cells[10:],
    "Yes/No spelled otherwise": _cell(0, str.lower),
    "Excel phones": _cell(5, lambda c: "9.87654321E9", every=3),
    "non-ASCII names": _cell(1, lambda c: "Ánanya Ñair ’s"),
}


@pytest.mark.parametrize("variant", sorted(BIG_VARIANTS))
def test_large_tables_are_read_as_the_csv_module_reads_them(monkeypatch, variant):
    """polars' reader (with its shortcuts: only the columns that need it are stripped, JSON escaping
    and time zone rules only where needed...) against the csv module, cell by cell."""
    import funnel_assets.lib.zoom_reports as zr

    cases = [(_big_attendee_report(BIG_VARIANTS[variant]), TZ, False)]
    if variant == "trailing spaces in the last column":  # before "\r\n"
        cases.append((cases[0][0].replace(b"\n", b"\r\n"), TZ, False))
    if variant == "clean":  # numeric day-first times (an Excel re-save) and a zone whose offset changes (DST)
        cases += [(_big_attendee_report(None, fmt="%d/%m/%Y %H:%M"), TZ, True),
                  (_big_attendee_report(None, start=datetime(2025, 3, 9, 1, 0)), "America/New_York", False)]
    for data, tz, day_first in cases:
        assert len(data) > 2 * zr._SMALL_TABLE_BYTES
        monkeypatch.setattr(zr, "_SMALL_TABLE_BYTES", 1 << 30)
        small = parse_report(data, source="big.csv", timezone=tz, default_day_first=day_first)
        monkeypatch.setattr(zr, "_SMALL_TABLE_BYTES", 0)
        large = parse_report(data, source="big.csv", timezone=tz, default_day_first=day_first)
        assert small.audience.height >= 380 and dict(large.audience.schema) == AUDIENCE_SCHEMA
        assert_frame_equal(large.audience, small.audience)
        assert_frame_equal(large.staff, small.staff)
        assert (large.stats, large.custom_questions, large.warnings, large.day_first, large.start_at) == (
            small.stats, small.custom_questions, small.warnings, small.day_first, small.start_at)


def test_numeric_dates_among_month_name_dates_decide_day_first():
    # the month-name cells are read before the decision; the few numeric ones still make it
    quirk = _cell(8, lambda c: "15/03/2025 19:10:00" if c else c, every=40)
    for tz in (TZ, "America/New_York"):
        r = parse_report(_big_attendee_report(quirk), source="big.csv", timezone=tz, default_day_first=False)
        join = r.audience.filter(pl.col("line") % 40 == 3 + 13)["join_at"].drop_nulls()  # rows 3, 43... (line = row + 13)
        assert r.day_first and join.len() > 3
        assert set(join.dt.convert_time_zone(tz).dt.strftime("%d/%m/%Y %H:%M:%S")) == {"15/03/2025 19:10:00"}
        # (in New York, registration times in the hour skipped on 9 March 2025 are no times)
        assert all(b.startswith("Mar 09, 2025 02:") for b in r.stats.bad_time_examples) and (tz != TZ or not r.stats.bad_time_examples)


def test_errors_are_picklable_and_print_the_file_name():
    with pytest.raises(ZoomReportError) as info:
        parse("empty.csv")
    err = pickle.loads(pickle.dumps(info.value))
    assert (err.code, err.source, str(err)) == ("empty", "empty.csv", str(info.value))
    assert err.reason.startswith("This file is empty (0 bytes)")


# ----------------------------------------------------------------------------- peek


def _kind_settled_at(data: bytes, kind: str) -> int:
    """Byte offset from which a head holds the summary row (and, for meetings, the participants header)."""
    if data.startswith(b"\xff\xfe"):  # UTF-16: two bytes a character after the BOM
        return 2 + 2 * _kind_settled_at(data[2:].decode("utf-16-le").encode("latin-1", "replace"), kind)
    lines = data.split(b"\n")
    k = next(i for i, line in enumerate(lines) if re.search(rb"Webinar ID|Meeting ID", line)) + 1
    if kind.startswith("meeting"):
        k = next(i for i in range(k + 1, len(lines)) if lines[i].strip(b"\r,")) + 0
    return sum(len(line) + 1 for line in lines[: k + 1])


@pytest.mark.parametrize("name", ACCEPTED)
def test_peek_agrees_with_parse_on_heads_cut_anywhere(name):
    data = content(name)
    full = parse(name)
    want = ReportHead(full.kind, full.topic, full.webinar_id, full.start_at, full.session_date, full.start_is_scheduled)
    assert peek(name, data) == want
    settled = _kind_settled_at(data.replace(b"\r", b"\n") if b"\n" not in data else data, full.kind)
    for cut in range(0, len(data) + 1, 5):
        try:
            head = peek(name, data[:cut], default_day_first=full.day_first)
        except ZoomReportError as err:
            assert cut < settled and err.code in ("empty", "not_zoom", "no_session_date"), (cut, err)
            continue
        if cut >= settled:
            assert head == want, cut


def test_peek_reads_at_most_peek_bytes_and_is_cheap():
    data = content("attendee_newer_blank_lines_bom.csv")
    row = data[data.rfind(b"\n", 0, len(data) - 2) + 1:]
    big = data + row * (2 * PEEK_BYTES // len(row))
    want = peek("big.csv", big[:PEEK_BYTES])
    assert peek("big.csv", big + b"\x00" * 5000) == want == peek("big.csv", big[:PEEK_BYTES] + b"garbage,\x00\x00\x00" * 9000)
    started = time.perf_counter()
    for _ in range(50):
        peek("big.csv", big[:PEEK_BYTES])
    assert (time.perf_counter() - started) / 50 < 0.02  # typically well under 1 ms


def test_a_file_whose_dates_all_read_two_ways_is_never_filed_under_a_guessed_day():
    """A US-locale Excel re-save (11/3/2025 5:55 PM, every day and month <= 12, no seconds) with no
    setting: parse and peek refuse to guess, with a reason that gives both readings and says how
    to name the file; the evidence the file carries decides where it can; the name decides the rest."""
    name = "us_resave_all_dates_ambiguous.csv"
    data = content(name)
    for read in (lambda: parse(name, default_day_first=None), lambda: peek(name, data, default_day_first=None),
                 lambda: parse_report(data, source=name, timezone=TZ, default_day_first=None, not_after=ist(2025, 11, 4, 9, 0))):
        with pytest.raises(ZoomReportError) as info:
            read()
        err = info.value
        assert err.code == "ambiguous_dates" and err.code in WAITING_CODES and err.code in ERROR_CODES
        assert "'11/3/2025 5:55 PM', is either 11 March 2025 or 3 November 2025" in err.reason
        assert "'day-first'" in err.reason and "'month-first'" in err.reason and "rename" in err.reason
    # the name says which: the same bytes under a name with the order
    for marked, day in (("attendees day-first.csv", date(2025, 3, 11)), ("Attendee Report month first.csv", date(2025, 11, 3)),
                        ("US_CMA_MONTH-FIRST.csv", date(2025, 11, 3))):
        assert parse_report(data, source=marked, timezone=TZ, default_day_first=None).session_date == day
        assert peek_report(data, source=marked, timezone=TZ, default_day_first=None).session_date == day
    # a team that set the order for every file (default_day_first yes / no) is answered too
    assert parse(name, default_day_first=True).session_date == date(2025, 3, 11)
    # evidence: a report made on 20 March 2025 cannot hold a session of 3 November 2025
    made_in_march = parse_report(data, source=name, timezone=TZ, default_day_first=None, not_after=ist(2025, 3, 20, 12, 0))
    assert (made_in_march.session_date, made_in_march.day_first) == (date(2025, 3, 11), True)
    # evidence: generated 4/10/2025 with a session on 3/11/2025: day-first, the session (3 Nov) would
    # start after its report was made (4 Oct), so month-first, whatever the team's default
    later = "us_resave_generated_a_month_later.csv"
    for default in (None, True):
        assert parse(later, default_day_first=default).session_date == date(2025, 3, 11)
        assert peek(later, content(later), default_day_first=default).session_date == date(2025, 3, 11)
    # evidence: dates written with dots are day-first (every date of this re-save is 03.11.2025)
    dotted = content("excel_resave_european_semicolon.csv").replace(b"28.10.2025", b"03.11.2025").replace(
        b"01.11.2025", b"03.11.2025").replace(b"02.11.2025", b"03.11.2025")
    assert parse("eu.csv", dotted, default_day_first=None).session_date == date(2025, 11, 3)


def test_a_registration_report_downloaded_before_its_session_is_not_taken_for_an_impossible_one():
    """Generated 11/10/2025, scheduled 12/11/2025: month-first, the session is a month after the
    download, which a registration report allows; with registrations 11/9 and 11/10 both readings
    stay possible, so the file asks rather than picking day-first."""
    text = (
        "Registration Report\r\nReport Generated:,11/10/2025 9:05 AM\r\n"
        "Topic,Webinar ID,Scheduled Time,# Registered\r\nFRM Part 1 Webinar,81234567890,12/11/2025 7:00 PM,2\r\n"
        "Attendee Details\r\nFirst Name,Last Name,Email,Phone,Registration Time,Approval Status\r\n"
        "Kiran,Das,kiran.das@gmail.com,9830098300,11/9/2025 8:12 PM,approved\r\n"
        "Pallavi,Joshi,pallavi.j@gmail.com,9822098220,11/10/2025 7:40 AM,approved\r\n"
    ).encode()
    with pytest.raises(ZoomReportError) as info:
        parse_report(text, source="regs.csv", timezone=TZ, default_day_first=None, not_after=ist(2025, 11, 10, 12, 0))
    assert info.value.code == "ambiguous_dates"
    assert parse_report(text, source="regs month-first.csv", timezone=TZ, default_day_first=None).session_date == date(2025, 12, 11)


def test_date_order_in_a_file_name():
    assert [date_order_in_name(n) for n in ("a day-first.csv", "DAY FIRST.csv", "x_dayfirst.csv", "month.first.txt",
                                            "Month-First report.csv")] == [True, True, True, False, False]
    assert [date_order_in_name(n) for n in ("report.csv", "weekday-first.csv", "day-first month-first.csv", "firstday.csv")] == [
        None, None, None, None]


@pytest.mark.parametrize(("name", "code"), [("empty.csv", "empty"), ("whitespace_only.csv", "empty"),
                                             ("attendee_report_saved_as.xlsx", "not_csv"), ("not_zoom_bank_statement.csv", "not_zoom"),
                                             ("not_zoom_google_sheet.csv", "not_zoom"), ("no_session_date.csv", "no_session_date"),
                                             ("participants_without_meeting_data.csv", "no_session_date")])
def test_peek_rejections(name, code):
    with pytest.raises(ZoomReportError) as info:
        peek(name, content(name)[:PEEK_BYTES])
    assert info.value.code == code and str(info.value).startswith(f"{name}: ")


def test_peek_day_first_from_the_head_and_the_meeting_kind_from_a_cut_header():
    data = content("excel_resave_cp1252_dayfirst.csv")
    assert peek("x.csv", data).session_date == date(2022, 8, 15)  # "15/08/2022 10:00" settles it
    amb = content("dates_all_ambiguous.csv")  # Zoom's own format: month-first whatever the default
    assert peek("x.csv", amb).session_date == date(2025, 3, 4)
    assert peek("x.csv", amb, default_day_first=True).session_date == date(2025, 3, 4)
    resaved = amb
    for zoom_time, sheet_time in ((b"11:00:00 PM", b"23:00"), (b"07:00:00 PM", b"19:00"), (b"10:00:00 AM", b"10:00"), (b"11:30:00 AM", b"11:30")):
        resaved = resaved.replace(zoom_time, sheet_time)
    assert peek("x.csv", resaved).session_date == date(2025, 3, 4)
    assert peek("x.csv", resaved, default_day_first=True).session_date == date(2025, 4, 3)
    unique = content("meeting_unique_users.csv")
    cut = unique.find(b"Total Duration") + 3
    assert peek("x.csv", unique[:cut]).kind == "meeting_unique_users"


# ----------------------------------------------------------------------------- a generated world


CORPUS = ((2, date(2025, 1, 1)), (7, date(2025, 1, 1)), (1, date(2025, 3, 1)))
CORPUS_DAYS = 30
JUNK_CODES = {"reject: not a Zoom report": "not_zoom", "reject: empty file": "empty",
              "reject: truncated file (cut off mid-row)": "truncated", "reject: no Attendee Details section": "no_attendee_details"}
MINUTE_FORMATS = ("mon12", "dmy", "mdy_excel")


@pytest.fixture(scope="module")
def world():
    from funnel_assets.lib.synthetic.edtech import DEFAULT_CONFIG_DIR, load_edtech_config, simulate_edtech_day

    config = load_edtech_config(DEFAULT_CONFIG_DIR)
    return [simulate_edtech_day(config, seed=seed, day=start + timedelta(days=i), scale=0.001)
            for seed, start in CORPUS for i in range(CORPUS_DAYS)]


def _expected_rows(kind: str, att: pl.DataFrame, n_segments: int) -> tuple[int, int, int]:
    """(audience rows, other-attended rows, staff rows) a complete report of ``kind`` holds."""
    if kind == "registration":
        return att.filter(pl.col("registered")).height, 0, 0
    if kind == "meeting_unique_users":
        return att.height, 0, 0
    if kind == "meeting_participants":
        return n_segments, 0, 0
    reg = att.filter(pl.col("registered"))
    details = reg.select(pl.when(pl.col("attended") & (pl.col("role") != "host")).then(pl.col("segments")).otherwise(1).sum()).item()
    staff = att.filter(pl.col("role").is_in(["host", "panelist"]))["segments"].sum()
    return details, att.filter(pl.col("role") == "walk_in")["segments"].sum(), staff


def test_every_generated_file_parses_as_the_truth_says(world):
    seen_kinds, seen_codes, decided, checked_rows = set(), set(), 0, 0
    for day in world:
        truth = day.truth
        sessions = {r["session_key"]: r for r in truth["zoom_sessions"].iter_rows(named=True)}
        files = {r["file_name"]: r for r in truth["zoom_files"].iter_rows(named=True)}
        for name, data in day.zoom_files:
            m = files[name]
            if m["expected_outcome"] != "accept":
                with pytest.raises(ZoomReportError) as info:
                    parse_report(data, source=name, timezone=TZ, default_day_first=False)
                assert info.value.code == JUNK_CODES[m["expected_outcome"]], (name, info.value)
                seen_codes.add(info.value.code)
                continue
            r = parse_report(data, source=name, timezone=TZ, default_day_first=False)
            assess_usability(r)
            s = sessions[m["session_key"]]
            seen_kinds.add(r.kind)
            assert (r.kind, r.webinar_id, r.topic) == (m["report"], s["webinar_id"], s["topic"]), name
            assert r.vintage == (None if r.kind.startswith("meeting") else ("2020" if m["vintage"] == "2025" and r.kind == "registration" else m["vintage"]))
            assert r.stats.time_cells == r.stats.time_parsed, (name, r.warnings)
            # day-first: a date with a field above 12 settles it; without one (dates.detect_day_first's
            # other rules or the default decide) the reading may be wrong only where nothing can tell
            text = data.decode("utf-8", "replace")
            decisive = any(int(a) > 12 or int(b) > 12 for a, b in re.findall(r"(?<![\d/])(\d{1,2})/(\d{1,2})/\d{4}", text))
            right = r.day_first == (m["date_format"] == "dmy")
            assert right or not decisive, name
            if right:
                decided += 1
                seg = truth["zoom_segments"].filter(pl.col("session_key") == s["session_key"])
                start = {"attendee": s["actual_start"], "registration": s["scheduled_start"]}.get(r.kind, seg["join_at"].min())
                if m["date_format"] in MINUTE_FORMATS:
                    start = start.replace(second=0)
                assert r.start_at == start, name
                assert r.session_date == date.fromisoformat(s["session_key"].split(":")[1]), name
            head = peek_report(data[:PEEK_BYTES], source=name, timezone=TZ, default_day_first=False)
            assert (head.kind, head.webinar_id, head.start_at) == (r.kind, r.webinar_id, r.start_at), name
            if m["complete"]:
                att = truth["zoom_attendance"].filter(pl.col("session_key") == s["session_key"])
                n_seg = truth["zoom_segments"].filter(pl.col("session_key") == s["session_key"]).height
                details, other, staff = _expected_rows(r.kind, att, n_seg)
                a = r.audience.filter(pl.col("section") != "other_attended")
                if r.kind == "meeting_participants":
                    a = a.filter(pl.col("attended"))
                assert (a.height, r.audience.height - r.audience.filter(pl.col("section") != "other_attended").height, r.staff.height) == (
                    details, other, staff), name
                checked_rows += 1
    assert seen_kinds == set(REPORT_KINDS) and seen_codes == set(JUNK_CODES.values())
    assert decided > 150 and checked_rows > 120
