"""Tests for funnel_assets.lib.leads_sheet (the performance-marketing leads sheet export).

Fixtures live in ``funnel_assets_tests/fixtures/leads_sheet``; each file tells one story:

* ``typical.csv``            Google Sheets export: month-first times, mixed phone formats,
                             messy casing, one repeat submission, one placeholder phone.
* ``ugly_excel.csv``         re-saved in Excel: cp1252, CRLF, float/scientific phones, a
                             trailing empty column, day-first dates.
* ``utf8_bom_reordered.csv`` UTF-8 with BOM, re-ordered and re-labelled headers, an extra
                             ``Ad Set`` column, a NUL in a name, Devanagari digits, multi-line
                             quoted answers.
* ``broken_rows.csv``        every kind of reject and every duplicate rule.
* ``missing_columns.csv``, ``empty.csv``, ``header_only.csv``: whole-file problems.
* ``funnel_mapping.csv``     the small source -> funnel mapping used throughout.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from funnel_assets.lib.config import OTHER_SOURCES_FUNNEL, FunnelMapping, load_funnel_mapping
from funnel_assets.lib.fetch import decode_csv_bytes
from funnel_assets.lib.leads_sheet import (
    LEADS_SCHEMA,
    MAX_DUPLICATE_SHARE,
    MAX_UNMAPPED_SHARE,
    MIN_VALID_PHONE_SHARE,
    REJECTS_SCHEMA,
    CleanedLeads,
    LeadsSheetError,
    clean_leads,
    leads_quality,
    read_leads_sheet,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "leads_sheet"
TZ = "Asia/Kolkata"
START = date(2025, 1, 1)
OTHER = OTHER_SOURCES_FUNNEL
CANONICAL = ["name", "email", "phone", "city", "question_1", "utm_source", "utm_medium", "utm_campaign", "created"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sheet_records(content: bytes) -> int:
    """Data records of an export, counted independently of polars (csv module)."""
    rows = list(csv.reader(io.StringIO(decode_csv_bytes(content), newline="")))
    return max(len(rows) - 1, 0)


@pytest.fixture(scope="module")
def mapping() -> FunnelMapping:
    return load_funnel_mapping(FIXTURES / "funnel_mapping.csv")


_LOADED: dict[tuple, CleanedLeads] = {}


def load(content: bytes, mapping: FunnelMapping, *, location: str = "test.csv", **kwargs) -> CleanedLeads:
    """read + clean, memoised (cleaning costs ~60 ms; several tests look at the same sheet)."""
    kwargs.setdefault("timezone", TZ)
    kwargs.setdefault("first_date", START)
    key = (content, location, id(mapping), tuple(sorted(kwargs.items())))
    if key not in _LOADED:
        raw, _ = read_leads_sheet(content, location=location)
        _LOADED[key] = clean_leads(raw, mapping, location=location, **kwargs)
    return _LOADED[key]


@pytest.fixture(scope="module")
def typical(mapping) -> CleanedLeads:
    return load(fixture_bytes("typical.csv"), mapping, location="typical.csv")


@pytest.fixture(scope="module")
def ugly(mapping) -> CleanedLeads:
    return load(fixture_bytes("ugly_excel.csv"), mapping, location="ugly_excel.csv")


@pytest.fixture(scope="module")
def reordered(mapping) -> CleanedLeads:
    return load(fixture_bytes("utf8_bom_reordered.csv"), mapping, location="utf8_bom_reordered.csv")


@pytest.fixture(scope="module")
def broken(mapping) -> CleanedLeads:
    return load(fixture_bytes("broken_rows.csv"), mapping, location="broken_rows.csv")


def by_row(frame: pl.DataFrame, *columns: str) -> dict[int, tuple]:
    """sheet_row -> the given columns' values."""
    return {r[0]: r[1:] for r in frame.select("sheet_row", *columns).rows()}


def id_of(leads: pl.DataFrame, sheet_row: int) -> str:
    return leads.filter(pl.col("sheet_row") == sheet_row)["lead_id"].item()


# ------------------------------------------------------------------------- every row lands once


@pytest.mark.parametrize(
    ("name", "n_leads", "n_rejects"),
    [
        ("typical.csv", 10, 0),
        ("ugly_excel.csv", 5, 1),
        ("utf8_bom_reordered.csv", 4, 0),
        ("broken_rows.csv", 14, 7),
        ("header_only.csv", 0, 0),
    ],
)
def test_every_sheet_row_lands_in_exactly_one_place(mapping, name, n_leads, n_rejects):
    content = fixture_bytes(name)
    cleaned = load(content, mapping, location=name)
    rows = sheet_records(content)
    assert (cleaned.leads.height, cleaned.rejects.height) == (n_leads, n_rejects)
    assert cleaned.leads.height + cleaned.rejects.height == rows
    # header is row 1, so the data rows are 2..rows+1, each exactly once
    assert sorted(cleaned.leads["sheet_row"].to_list() + cleaned.rejects["sheet_row"].to_list()) == list(range(2, rows + 2))
    assert cleaned.leads["lead_id"].n_unique() == cleaned.leads.height


@pytest.mark.parametrize("name", ["typical.csv", "ugly_excel.csv", "utf8_bom_reordered.csv", "broken_rows.csv", "header_only.csv"])
def test_output_schemas_are_exactly_the_published_ones(mapping, name):
    cleaned = load(fixture_bytes(name), mapping, location=name)
    assert list(cleaned.leads.schema.items()) == list(LEADS_SCHEMA.items())
    assert list(cleaned.rejects.schema.items()) == list(REJECTS_SCHEMA.items())


def test_read_leads_sheet_returns_canonical_string_columns():
    raw, missing = read_leads_sheet(fixture_bytes("typical.csv"), location="typical.csv")
    assert raw.columns == [*CANONICAL, "sheet_row", "extra_fields"]
    assert all(raw.schema[c] == pl.String for c in CANONICAL)
    assert raw["sheet_row"].to_list() == list(range(2, 12))
    assert missing == ()
    # raw values are untouched (cleaning is clean_leads' job)
    assert raw.row(1, named=True)["email"] == " Rahul.Verma@Example.co.in "
    assert raw.row(1, named=True)["phone"] == "09812345671"


# ------------------------------------------------------------------------------- typical export


TYPICAL_EXPECTED = {
    # sheet_row: (name, email, email_valid, phone_key, phone_status, city,
    #             utm_source, utm_medium, utm_campaign, source, funnel, funnel_mapped)
    2: ("Priya Sharma", "priya.sharma@example.com", True, "919812345670", "valid", "Mumbai",
        "facebook", "paid_social", "acca_webinar_meta", "acca_webinar_meta", "ACCA Webinar", True),
    3: ("Rahul Verma", "rahul.verma@example.co.in", True, "919812345671", "valid", "New Delhi",
        "facebook", "paid_social", "acca_webinar_meta", "acca_webinar_meta", "ACCA Webinar", True),
    4: ("Ananya Iyer", "ananya.iyer@example.com", True, "919812345672", "valid", "Bengaluru",
        "instagram", "paid_social", "cma_bootcamp_meta", "cma_bootcamp_meta", "CMA Bootcamp", True),
    5: ("Mohammed Irfan", "irfan.m@example.com", True, "919812345673", "valid", "Hyderabad",
        "google", "cpc", None, "google", OTHER, False),
    6: ("Sneha D'Souza", "sneha.dsouza@example.com", True, "919812345674", "valid", "Pune",
        "linkedin", "paid", "cfa_webinar_linkedin", "cfa_webinar_linkedin", "CFA Webinar", True),
    7: ("Arjun Nair", "arjun.nair@example", False, "919812345675", "valid", "Kochi",
        "instagram", None, None, "instagram", "Organic Social", True),
    8: ("Kavya Reddy", "kavya.reddy@example.com", True, None, "placeholder", "Chennai",
        "facebook", "paid_social", "acca_webinar_meta", "acca_webinar_meta", "ACCA Webinar", True),
    9: ("Vikram Singh", "vikram.singh@example.com", True, "919812345676", "valid", "Jaipur",
        "youtube", "video", "diwali_offer_2025", "diwali_offer_2025", OTHER, False),
    10: ("Priya Sharma", "priya.sharma@example.com", True, "919812345670", "valid", "Mumbai",
         "facebook", "paid_social", "acca_webinar_meta", "acca_webinar_meta", "ACCA Webinar", True),
    11: ("Rohan Gupta", "rohan.gupta@example.com", True, "919812345677", "valid", "Lucknow",
         "google", "cpc", "acca_webinar_google", "acca_webinar_google", "ACCA Webinar", True),
}
CLEAN_COLUMNS = ("name", "email", "email_valid", "phone_key", "phone_status", "city", "utm_source",
                 "utm_medium", "utm_campaign", "source", "funnel", "funnel_mapped")


def test_typical_cleaned_values(typical):
    assert by_row(typical.leads, *CLEAN_COLUMNS) == TYPICAL_EXPECTED


def test_typical_keeps_raw_phone_and_trims_question(typical):
    rows = by_row(typical.leads, "phone_raw", "question_1")
    assert rows[2] == ("+91 98123 45670", "Can I get ACCA exemptions after B.Com?")
    assert rows[3] == ("09812345671", None)  # empty answer -> null
    assert rows[4] == ("98123-45672", "What are the CMA fees?")
    assert rows[6][0] == "+91-98123-45674"
    assert rows[9][0] == "(+91) 98123 45676"


def test_typical_times_are_ist_converted_to_utc(typical):
    assert typical.day_first is False  # 8/14/2025: 14 cannot be a month
    rows = by_row(typical.leads, "created_at", "created_date")
    assert rows[2] == (utc(2025, 8, 14, 4, 45, 32), date(2025, 8, 14))
    assert rows[3] == (utc(2025, 8, 14, 5, 32, 7), date(2025, 8, 14))
    # 23:59:59 IST is still the 14th locally
    assert rows[4] == (utc(2025, 8, 14, 18, 29, 59), date(2025, 8, 14))
    # 00:30 IST on the 15th is 19:00 UTC on the 14th; it belongs to the local day, the 15th
    assert rows[5] == (utc(2025, 8, 14, 19, 0), date(2025, 8, 15))
    assert rows[11] == (utc(2025, 8, 16, 14, 11, 3), date(2025, 8, 16))


def test_timezone_setting_is_respected(mapping):
    cleaned = load(fixture_bytes("typical.csv"), mapping, timezone="UTC")
    assert by_row(cleaned.leads, "created_at", "created_date")[5] == (utc(2025, 8, 15, 0, 30), date(2025, 8, 15))


def test_typical_leads_sorted_by_time(typical):
    assert typical.leads["created_at"].is_sorted()
    assert typical.leads["sheet_row"].to_list() == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]


def test_typical_repeat_submission_points_to_first_touch(typical):
    leads = typical.leads
    dupes = by_row(leads, "is_duplicate", "duplicate_of")
    assert dupes[10] == (True, id_of(leads, 2))  # same phone written 9812345670 vs +91 98123 45670
    assert [r for r, (is_dup, _) in dupes.items() if is_dup] == [10]
    assert all(dup_of is None for r, (_, dup_of) in dupes.items() if r != 10)
    # the placeholder phone never joins people; Kavya is deduplicated by email only
    assert dupes[8] == (False, None)


def test_typical_missing_optional_columns_and_extra_fields(typical):
    assert typical.missing_optional_columns == ()
    assert typical.rejects.height == 0
    assert typical.leads["extra_fields"].null_count() == typical.leads.height


# -------------------------------------------------------------------------------- Excel re-save


def test_ugly_excel_is_cp1252_crlf_and_day_first(ugly):
    assert ugly.day_first is True  # 15/08/2025
    expected = {
        # sheet_row: (name, email, phone_raw, phone_key, phone_status, city, question_1, created_at, created_date)
        2: ("José Fernandes", "jose.fernandes@example.com", "9812345680.0", "919812345680", "valid", "Panaji",
            None, utc(2025, 8, 15, 5, 15), date(2025, 8, 15)),
        3: ("Rekha Nair", "rekha.nair@example.com", "919812345681.0", "919812345681", "valid", "Thiruvananthapuram",
            None, utc(2025, 8, 15, 5, 50), date(2025, 8, 15)),
        4: ("Suresh Patil", "suresh.patil@example.com", "9.87654321E9", None, "corrupt", "Nagpur",
            "Fees, duration and placement?", utc(2025, 8, 16, 3, 35), date(2025, 8, 16)),
        5: ("Zoë Thomas", "zoe.thomas@example.com", "9812345682.0", "919812345682", "valid", "Kochi",
            None, utc(2025, 8, 16, 12, 0), date(2025, 8, 16)),
        # 05/09/2025 read day-first: 5 September, not 9 May
        7: ("Deepa Menon", "deepa.menon@example.com", "09812345683", "919812345683", "valid", "Kozhikode",
            None, utc(2025, 9, 5, 13, 30), date(2025, 9, 5)),
    }
    assert by_row(ugly.leads, "name", "email", "phone_raw", "phone_key", "phone_status", "city",
                  "question_1", "created_at", "created_date") == expected
    # no stray "\r" from the CRLF line endings in the last real column
    assert by_row(ugly.leads, "utm_campaign")[5] == ("acca_webinar_meta",)


def test_ugly_excel_trailing_empty_column_is_ignored():
    raw, missing = read_leads_sheet(fixture_bytes("ugly_excel.csv"), location="ugly_excel.csv")
    assert missing == ()
    assert raw.columns == [*CANONICAL, "sheet_row", "extra_fields"]
    assert raw["extra_fields"].null_count() == raw.height
    assert raw["created"].to_list()[0] == "15/08/2025 10:45"


def test_ugly_excel_scientific_phone_without_email_is_rejected(ugly):
    assert ugly.rejects.rows(named=True) == [
        {
            "created_date": date(2025, 8, 17),
            "sheet_row": 6,
            "reason": "no usable phone or email (phone corrupt, email missing); add a phone or an email in the sheet",
            "reason_code": "no_contact",
            "created_at": utc(2025, 8, 17, 2, 45),
            "name": "Amit Kumar",
            "email": None,
            "phone_raw": "9.81234568E9",
            "raw_row": json.dumps(
                {"name": "Amit Kumar", "email": None, "phone": "9.81234568E9", "city": "Patna", "question_1": None,
                 "utm_source": "google", "utm_medium": "cpc", "utm_campaign": None, "created": "17/08/2025 08:15"}
            ),
        }
    ]


# ------------------------------------------------------------------ BOM, re-ordered headers, extras


def test_reordered_relabelled_headers_are_matched_by_name():
    raw, missing = read_leads_sheet(fixture_bytes("utf8_bom_reordered.csv"), location="x")
    assert missing == ()
    assert raw.columns == [*CANONICAL, "sheet_row", "extra_fields"]
    first = raw.row(0, named=True)
    assert first["created"] == "2025-08-20 14:05:00"  # "Created At" (BOM stripped from the first header)
    assert first["phone"] == "+91 98123 45690"  # "Phone Number"
    assert first["email"] == "meera.pillai@example.com"  # "EMAIL"
    assert first["utm_campaign"] == "acca_webinar_meta"  # "utm_campaign"
    assert first["name"] == "Meera Pillai"  # the NUL byte is gone


def test_reordered_values(reordered):
    question = "Hi, I am in B.Com 2nd year.\nCan I do ACCA along with college, and what are the fees?"
    expected = {
        2: ("Meera Pillai", "meera.pillai@example.com", "+91 98123 45690", "919812345690", "Thrissur", question,
            "acca_webinar_meta", "ACCA Webinar", utc(2025, 8, 20, 8, 35), {"Ad Set": "Lookalike 1% - Commerce Students"}),
        3: ("अंकित शर्मा", "ankit.sharma@example.com", "९८१२३ ४५६९१", "919812345691", "Varanasi", None,
            "cma_bootcamp_meta", "CMA Bootcamp", utc(2025, 8, 20, 10, 0), {"Ad Set": "Interest - CMA USA"}),
        4: ("Farhan Akhtar", "farhan.akhtar@example.com", "098123 45692", "919812345692", "Mumbai", "Timings?",
            "instagram", "Organic Social", utc(2025, 8, 21, 3, 30), None),
        5: ("Lakshmi Subramanian", "lakshmi.s@example.com", "98123 45693", "919812345693", "Coimbatore", None,
            "cfa_webinar_linkedin", "CFA Webinar", utc(2025, 8, 21, 12, 50), {"Ad Set": "Retargeting, 30 days"}),
    }
    got = {
        row: (*values[:-1], None if values[-1] is None else json.loads(values[-1]))
        for row, values in by_row(reordered.leads, "name", "email", "phone_raw", "phone_key", "city", "question_1",
                                  "source", "funnel", "created_at", "extra_fields").items()
    }
    assert got == expected
    assert by_row(reordered.leads, "phone_status")[3] == ("valid",)  # Devanagari digits count as digits
    assert by_row(reordered.leads, "utm_medium")[4] == ("story",)


def test_extra_fields_json_keeps_unicode_and_skips_blank_values(mapping):
    content = (
        "Name,Email,Phone,City,Question 1,utmSource,utmMedium,utmCamp,created date,Ad Set,Lead Form\n"
        "Meera,meera@example.com,9812345690,Thrissur,,facebook,paid,acca_webinar_meta,8/20/2025 14:05:00,पुणे - छात्र,Form A\n"
        "Ravi,ravi@example.com,9812345691,Pune,,facebook,paid,acca_webinar_meta,8/20/2025 14:06:00,,Form B\n"
        "Sita,sita@example.com,9812345692,Pune,,facebook,paid,acca_webinar_meta,8/20/2025 14:07:00,,\n"
    ).encode()
    leads = load(content, mapping).leads
    extras = by_row(leads, "extra_fields")
    assert extras[2] == ('{"Ad Set": "पुणे - छात्र", "Lead Form": "Form A"}',)
    assert extras[3] == ('{"Lead Form": "Form B"}',)
    assert extras[4] == (None,)


# ------------------------------------------------------------------------------------- rejects


BROKEN_REJECTS = {
    # sheet_row: (created_date, reason)
    3: (date(2025, 1, 13), "no usable phone or email (phone missing, email missing); add a phone or an email in the sheet"),
    4: (date(2025, 1, 13), "no usable phone or email (phone placeholder, email missing); add a phone or an email in the sheet"),
    5: (None, "created date #VALUE! could not be read; write it as the sheet's other dates are written (month first, like 1/31/2025 10:00:00)"),
    6: (None, "created date is empty; fill in when the lead came in, written like the sheet's other dates"),
    7: (None, "created before the pipeline's first day 2025-01-01; set FUNNEL_START_DATE earlier to load it"),
    13: (date(2025, 1, 15), "no usable phone or email (phone invalid, email invalid); add a phone or an email in the sheet"),
    14: (None, "the row is empty; delete the empty row from the sheet"),
}


def test_broken_rows_rejects_and_reasons(broken):
    assert broken.day_first is False
    assert by_row(broken.rejects, "created_date", "reason") == BROKEN_REJECTS
    assert broken.rejects["sheet_row"].to_list() == sorted(BROKEN_REJECTS)  # sorted by row
    assert by_row(broken.rejects, "reason_code") == {
        3: ("no_contact",), 4: ("no_contact",), 5: ("date_unreadable",), 6: ("date_missing",),
        7: ("before_start",), 13: ("no_contact",), 14: ("empty_row",),
    }


def test_reject_details_help_find_the_row(broken):
    rows = by_row(broken.rejects, "created_at", "name", "email", "phone_raw")
    assert rows[4] == (utc(2025, 1, 13, 4, 36), "Test User", None, "9999999999")
    assert rows[5] == (None, "Pooja Bhatt", "pooja.bhatt@example.com", "98123 45701")
    # the pre-start row keeps its instant but has no partition date
    assert rows[7] == (utc(2024, 12, 28, 11, 10), "Old Lead", "old.lead@example.com", "98123 45703")
    assert rows[13] == (utc(2025, 1, 15, 8, 30), "Not Given", "not given", "12345")
    raw_row = json.loads(by_row(broken.rejects, "raw_row")[5][0])
    assert raw_row == {
        "name": "Pooja Bhatt", "email": "pooja.bhatt@example.com", "phone": "98123 45701", "city": "Ahmedabad",
        "question_1": None, "utm_source": "instagram", "utm_medium": "paid_social", "utm_campaign": "cma_bootcamp_meta",
        "created": "#VALUE!",
    }


def test_reject_reasons_are_plain_language(broken, ugly):
    reasons = broken.rejects["reason"].to_list() + ugly.rejects["reason"].to_list()
    for reason in reasons:
        problem, _, action = reason.partition("; ")
        assert problem and action, reason  # what is wrong; what to do
        assert action.split()[0] in {"add", "write", "fill", "set", "delete"}, reason
        for jargon in ("None", "null", "NaN", "phone_key", "created_at", "Polars", "Error"):
            assert jargon not in reason, reason


def test_without_first_date_old_rows_are_leads(mapping):
    cleaned = load(fixture_bytes("broken_rows.csv"), mapping, first_date=None)
    assert 7 not in cleaned.rejects["sheet_row"].to_list()
    assert by_row(cleaned.leads, "created_date", "created_at")[7] == (date(2024, 12, 28), utc(2024, 12, 28, 11, 10))
    assert cleaned.leads.height + cleaned.rejects.height == 21


def test_only_email_and_international_rows_are_leads(broken):
    rows = by_row(broken.leads, "phone_key", "phone_status", "email", "email_valid", "city")
    assert rows[9] == (None, "missing", "fatima.sheikh@example.com", True, "Bhopal")
    assert rows[10] == ("+14155550134", "international", "emily.carter@example.com", True, "San Francisco")
    assert rows[22] == (None, "missing", "sana.q@example.com", True, "Srinagar")


def test_whitespace_only_created_date_counts_as_empty(mapping):
    content = b"Name,Email,Phone,City,Question 1,utmSource,utmMedium,utmCamp,created date\nA,a@example.com,9812345601,,,,,,   \n"
    cleaned = load(content, mapping)
    assert cleaned.rejects["reason"].to_list() == [
        "created date is empty; fill in when the lead came in, written like the sheet's other dates"
    ]


# ------------------------------------------------------------------------------------ duplicates


def test_duplicates_phone_first_then_email(broken):
    leads = broken.leads
    ids = {row: id_of(leads, row) for row in leads["sheet_row"].to_list()}
    expected = {
        2: None,
        8: 2,  # same phone as +91 98123 45700 written 919812345700, a day later
        9: None,  # email only: first submission
        10: None,
        11: 2,  # email only, same email as row 2 (who gave a phone): same person
        12: 9,  # gives a phone now; same email as the earlier email-only row 9
        15: 16,  # later in the sheet but earlier in time: row 16 is the first touch
        16: None,
        17: None,
        18: 17,  # identical double submission
        19: None,
        20: None,  # shares a family email with row 19 but has its own phone: another person
        21: None,
        22: 21,  # email only, same email in other case / trailing space
    }
    got = by_row(leads, "is_duplicate", "duplicate_of")
    assert got == {row: (orig is not None, None if orig is None else ids[orig]) for row, orig in expected.items()}


def test_duplicates_never_point_to_a_duplicate_or_a_later_lead(broken):
    leads = broken.leads
    originals = leads.filter(~pl.col("is_duplicate"))
    dupes = leads.filter(pl.col("is_duplicate")).join(
        leads.select(duplicate_of="lead_id", original_at="created_at"), on="duplicate_of", how="left"
    )
    assert dupes["duplicate_of"].is_in(originals["lead_id"].implode()).all()
    assert (dupes["original_at"] <= dupes["created_at"]).all()


def test_rejected_rows_take_no_part_in_deduplication(mapping):
    content = (
        "Name,Email,Phone,City,Question 1,utmSource,utmMedium,utmCamp,created date\n"
        "Pooja,pooja@example.com,98123 45701,,,,,,#VALUE!\n"
        "Pooja,pooja@example.com,98123 45701,,,,,,1/14/2025 10:00:00\n"
    ).encode()
    cleaned = load(content, mapping)
    assert by_row(cleaned.leads, "is_duplicate", "duplicate_of") == {3: (False, None)}
    assert cleaned.rejects["sheet_row"].to_list() == [2]


def test_placeholder_and_invalid_email_rows_are_never_merged(mapping):
    content = (
        "Name,Email,Phone,City,Question 1,utmSource,utmMedium,utmCamp,created date\n"
        "A,a@example.com,9999999999,,,,,,1/14/2025 10:00:00\n"
        "B,b@example.com,9999999999,,,,,,1/14/2025 10:01:00\n"
        "C,not-an-email,9812345601,,,,,,1/14/2025 10:02:00\n"
        "D,not-an-email,9812345602,,,,,,1/14/2025 10:03:00\n"
    ).encode()
    leads = load(content, mapping).leads
    assert leads["is_duplicate"].to_list() == [False] * 4


# ------------------------------------------------------------------------------------- lead ids


def _ids_by_content(content: bytes, mapping) -> dict[tuple, str]:
    raw, _ = read_leads_sheet(content, location="x")
    leads = load(content, mapping).leads
    keys = raw.select("sheet_row", *CANONICAL).rows()
    by_sheet_row = {r[0]: r[1:] for r in keys}
    return {by_sheet_row[row]: lead_id for row, lead_id in leads.select("sheet_row", "lead_id").rows()}


def test_lead_id_is_stable_when_rows_move_or_new_rows_are_added_above(mapping):
    lines = fixture_bytes("typical.csv").decode().splitlines()
    header, data = lines[0], lines[1:]
    new_row = "New Person,new.person@example.com,98123 45699,Agra,,facebook,paid_social,acca_webinar_meta,8/17/2025 9:00:00"
    shuffled = "\n".join([header, new_row, *reversed(data)]) + "\n"
    before = _ids_by_content(fixture_bytes("typical.csv"), mapping)
    after = _ids_by_content(shuffled.encode(), mapping)
    assert len(before) == 10 and len(after) == 11
    assert {k: after[k] for k in before} == before
    new_ids = set(after.values()) - set(before.values())
    assert len(new_ids) == 1
    # the repeat submission still points to the same first touch
    first = _first_touch_of_repeat(fixture_bytes("typical.csv"), mapping)
    assert first == _first_touch_of_repeat(shuffled.encode(), mapping)


def _first_touch_of_repeat(content: bytes, mapping) -> str:
    leads = load(content, mapping).leads
    return leads.filter(pl.col("is_duplicate"))["duplicate_of"].item()


def test_lead_id_does_not_depend_on_header_order_or_labels(mapping):
    raw, _ = read_leads_sheet(fixture_bytes("typical.csv"), location="x")
    headers = {"created": "Created At", "phone": "Phone Number", "name": "Name", "email": "EMAIL", "city": "City",
               "utm_campaign": "utm_campaign", "utm_source": "utmSource", "utm_medium": "utmMedium",
               "question_1": "Question 1"}
    relabelled = raw.select([pl.col(c).alias(h) for c, h in headers.items()]).write_csv()
    ids = load(fixture_bytes("typical.csv"), mapping).leads.sort("sheet_row")["lead_id"].to_list()
    assert load(relabelled.encode(), mapping).leads.sort("sheet_row")["lead_id"].to_list() == ids


def test_identical_rows_get_distinct_stable_ids(broken, mapping):
    first, second = id_of(broken.leads, 17), id_of(broken.leads, 18)
    assert len(first) == 16 and second == f"{first}-2"
    # move the pair to the top of the sheet: the same two ids come back
    lines = fixture_bytes("broken_rows.csv").decode().splitlines()
    moved = [lines[0], lines[16], lines[17], *lines[1:16], *lines[18:]]
    leads = load(("\n".join(moved) + "\n").encode(), mapping).leads
    assert set(leads.filter(pl.col("name") == "Ishaan Kapoor")["lead_id"]) == {first, second}


def test_lead_id_ignores_surrounding_whitespace_but_not_content(mapping):
    header = "Name,Email,Phone,City,Question 1,utmSource,utmMedium,utmCamp,created date\n"
    a = load((header + "Priya,p@example.com,9812345670,Pune,,fb,,,8/14/2025 10:00:00\n").encode(), mapping).leads
    b = load((header + " Priya ,p@example.com ,9812345670,Pune,,fb,,,8/14/2025 10:00:00\n").encode(), mapping).leads
    c = load((header + "Priya,p@example.com,9812345671,Pune,,fb,,,8/14/2025 10:00:00\n").encode(), mapping).leads
    assert a["lead_id"].item() == b["lead_id"].item() != c["lead_id"].item()


# ----------------------------------------------------------------------------- date order


def test_ambiguous_dates_follow_the_configured_default(mapping):
    content = (
        "Name,Email,Phone,City,Question 1,utmSource,utmMedium,utmCamp,created date\n"
        "A,a@example.com,9812345601,,,,,,05/08/2025 10:00\n"
        "B,b@example.com,9812345602,,,,,,06/08/2025 00:30\n"
    ).encode()
    month_first = load(content, mapping, day_first_default=False)
    day_first = load(content, mapping, day_first_default=True)
    assert (month_first.day_first, day_first.day_first) == (False, True)
    assert month_first.leads["created_date"].to_list() == [date(2025, 5, 8), date(2025, 6, 8)]
    assert day_first.leads["created_date"].to_list() == [date(2025, 8, 5), date(2025, 8, 6)]
    assert day_first.leads["created_at"].to_list() == [utc(2025, 8, 5, 4, 30), utc(2025, 8, 5, 19, 0)]


def test_a_day_above_12_overrides_the_default(mapping):
    typical = load(fixture_bytes("typical.csv"), mapping, day_first_default=True)
    ugly = load(fixture_bytes("ugly_excel.csv"), mapping, day_first_default=False)
    assert (typical.day_first, ugly.day_first) == (False, True)
    assert typical.rejects.height == 0 and ugly.rejects.height == 1


def test_a_day_first_sheet_reads_01_12_as_1_december(mapping):
    cleaned = load(fixture_bytes("day_first_december.csv"), mapping, day_first_default=False)
    assert cleaned.date_order.decided_by == "file" and cleaned.day_first is True
    assert cleaned.date_order.describe() == "day-first, shown by the file (row 2: 28/11/2026 19:42:10)"
    assert by_row(cleaned.leads, "created_date")[4] == (date(2026, 12, 1),)  # 01/12/2026, not 12 January
    assert cleaned.leads["created_date"].to_list() == [
        date(2026, 11, 28), date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)
    ]
    assert cleaned.rejects.height == 0


def test_when_no_date_decides_the_default_applies_and_says_so(mapping):
    content = (
        "Name,Email,Phone,City,Question 1,utmSource,utmMedium,utmCamp,created date\n"
        "A,a@example.com,9812345601,,,,,,01/12/2026 10:00\n"
        "B,b@example.com,9812345602,,,,,,02/12/2026 11:00\n"
    ).encode()
    cleaned = load(content, mapping, day_first_default=True)
    assert cleaned.date_order.decided_by == "default"
    assert cleaned.date_order.describe() == "day-first, the configured default: no date in the file shows the order"
    assert cleaned.leads["created_date"].to_list() == [date(2026, 12, 1), date(2026, 12, 2)]


def test_a_sheet_with_both_date_orders_rejects_the_dates_that_could_be_either(mapping):
    """Rows 2-5 were typed day first, rows 6-8 came from a form tool that writes month first. No
    majority vote: 01/12/2026 (row 4) could be 1 December or 12 January and is not guessed."""
    cleaned = load(fixture_bytes("mixed_date_orders.csv"), mapping, location="mixed.csv")
    assert by_row(cleaned.leads, "created_date") == {
        2: (date(2026, 11, 25),), 3: (date(2026, 11, 30),),
        6: (date(2026, 11, 28),),  # 11/28/2026: only month-first is a date
        8: (date(2026, 12, 12),),  # 12/12/2026 is the same either way
    }
    why = (
        "the file has dates that can only be day-first (row 2: 25/11/2026 19:42:10) and dates that can only be "
        "month-first (row 6: 11/28/2026 10:02:00 AM); write it with the month's name (1 Dec 2026) or as 2026-12-01"
    )
    assert by_row(cleaned.rejects, "reason_code", "reason") == {
        4: ("date_ambiguous", f"created date 01/12/2026 09:15:00 could be 01 Dec 2026 or 12 Jan 2026: {why}"),
        5: ("date_ambiguous", f"created date 05/12/2026 21:30:05 could be 05 Dec 2026 or 12 May 2026: {why}"),
        7: ("date_ambiguous", f"created date 12/02/2026 04:41:00 PM could be 12 Feb 2026 or 02 Dec 2026: {why}"),
    }
    assert cleaned.date_order.decided_by == "mixed"


def test_an_unreadable_date_in_a_mixed_sheet_asks_for_an_unambiguous_form(mapping):
    content = (
        "Name,Email,Phone,City,Question 1,utmSource,utmMedium,utmCamp,created date\n"
        "A,a@example.com,9812345601,,,,,,15/08/2025 10:00\n"
        "B,b@example.com,9812345602,,,,,,8/14/2025 10:00:00\n"
        "C,c@example.com,9812345603,,,,,,yesterday\n"
    ).encode()
    cleaned = load(content, mapping, location="mixed.csv")
    assert sorted(cleaned.leads["sheet_row"].to_list()) == [2, 3]  # each read the only way it can be
    assert by_row(cleaned.rejects, "reason") == {
        4: ("created date yesterday could not be read; write it as the sheet's other dates are written (with the "
            "month's name, like 31 Jan 2025 10:00:00, or as 2025-01-31 10:00:00)",)
    }


# --------------------------------------------------------------------------- whole-file problems


def test_missing_required_columns_are_named_with_the_columns_found():
    with pytest.raises(LeadsSheetError) as info:
        read_leads_sheet(fixture_bytes("missing_columns.csv"), location="sheets/leads.csv")
    assert str(info.value) == (
        "sheets/leads.csv: the sheet has no Phone, created date column(s); found columns: Name, Email, Contact, "
        "City, Question 1, utmSource, utmMedium, utmCamp, Submitted On. Restore the column headers (Name, Email, "
        "Phone, City, Question 1, utmSource, utmMedium, utmCamp, created date) and run again"
    )


def test_missing_optional_columns_are_reported_not_fatal(mapping):
    content = b"Email,Phone,created date,utmCamp\na@example.com,9812345601,8/14/2025 10:00:00,acca_webinar_meta\n"
    raw, missing = read_leads_sheet(content, location="x")
    assert missing == ("name", "city", "question_1", "utm_source", "utm_medium")
    cleaned = clean_leads(raw, mapping, timezone=TZ)
    assert cleaned.missing_optional_columns == ("name", "city", "question_1", "utm_source", "utm_medium")
    assert by_row(cleaned.leads, "name", "city", "source", "funnel") == {2: (None, None, "acca_webinar_meta", "ACCA Webinar")}


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b"   \n"])
def test_empty_export_is_refused(content):
    with pytest.raises(LeadsSheetError, match=r"^leads\.csv: the export is empty; check the sheet still has its header row$"):
        read_leads_sheet(content, location="leads.csv")


def test_empty_fixture_is_refused():
    assert fixture_bytes("empty.csv") == b""
    with pytest.raises(LeadsSheetError, match="the export is empty"):
        read_leads_sheet(fixture_bytes("empty.csv"), location="empty.csv")


def test_header_only_gives_no_leads_no_rejects(mapping):
    raw, missing = read_leads_sheet(fixture_bytes("header_only.csv"), location="header_only.csv")
    assert (raw.height, missing) == (0, ())
    cleaned = clean_leads(raw, mapping, timezone=TZ, first_date=START, day_first_default=True)
    assert (cleaned.leads.height, cleaned.rejects.height) == (0, 0)
    assert cleaned.day_first is True  # nothing to decide from: the default
    assert cleaned.missing_optional_columns == ()
    assert leads_quality(cleaned.leads).rows == 0


def test_surplus_cells_and_blank_header_columns_are_kept_not_fatal(mapping):
    content = (
        "Name,Email,Phone,created date,\n"
        "A,a@example.com,9812345601,8/14/2025 10:00:00,note under a blank header\n"
        "B,b@example.com,9812345602,8/14/2025 11:00:00,,surplus,cells\n"
        "C,c@example.com,9812345603,8/14/2025 12:00:00\n"
    ).encode()
    raw, _ = read_leads_sheet(content, location="x.csv")
    assert raw["sheet_row"].to_list() == [2, 3, 4]
    assert [json.loads(v) if v else None for v in raw["extra_fields"].to_list()] == [
        {"column 5": "note under a blank header"},
        {"column 6": "surplus", "column 7": "cells"},
        None,
    ]
    assert load(content, mapping).leads.height == 3


def test_unreadable_csv_is_refused():
    content = b'Name,Email,Phone,created date\nA,"a@example.com,9812345601,8/14/2025 10:00:00\n'
    with pytest.raises(LeadsSheetError, match=r"^x\.csv: is not a readable CSV export \("):
        read_leads_sheet(content, location="x.csv")


# ------------------------------------------------------------------------------------- quality


def test_leads_quality_on_a_known_frame():
    leads = pl.DataFrame(
        {
            "phone_status": ["valid"] * 6 + ["international", "placeholder", "corrupt", "missing"],
            "is_duplicate": [False] * 8 + [True, True],
            "funnel_mapped": [True] * 7 + [False] * 3,
            "source": ["acca_webinar_meta"] * 7 + ["google", None, "diwali_offer_2025"],
        }
    )
    q = leads_quality(leads)
    assert q.rows == 10
    assert q.valid_phone_share == pytest.approx(0.7)
    assert q.duplicate_share == pytest.approx(0.2)
    assert q.unmapped_share == pytest.approx(0.3)
    assert q.unmapped_sources == ("(blank)", "diwali_offer_2025", "google")


def test_leads_quality_on_the_typical_sheet(typical):
    q = leads_quality(typical.leads)
    assert (q.rows, q.unmapped_sources) == (10, ("diwali_offer_2025", "google"))
    assert (q.valid_phone_share, q.duplicate_share, q.unmapped_share) == pytest.approx((0.9, 0.1, 0.2))
    # the checks in the asset: phones and duplicates pass at the boundary, unmapped fails
    assert q.valid_phone_share >= MIN_VALID_PHONE_SHARE
    assert q.duplicate_share <= MAX_DUPLICATE_SHARE
    assert q.unmapped_share > MAX_UNMAPPED_SHARE


def test_leads_quality_of_nothing():
    q = leads_quality(pl.DataFrame(schema=LEADS_SCHEMA))
    assert (q.rows, q.valid_phone_share, q.duplicate_share, q.unmapped_share, q.unmapped_sources) == (0, 0.0, 0.0, 0.0, ())
