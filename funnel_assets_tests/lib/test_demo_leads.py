"""Tests for the synthetic leads sheet export (funnel_assets.lib.demo_leads)."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import date, datetime

import polars as pl
import pytest

from funnel_assets.lib.demo_leads import (
    CREATED_DATE_FORMAT,
    DEMO_CAMPAIGN_NAMES,
    DEMO_CAMPAIGNS,
    DEMO_UNKNOWN_CAMPAIGNS,
    LEADS_SHEET_COLUMNS,
    generate_leads_sheet,
)

HEADER = "Name,Email,Phone,City,Question 1,utmSource,utmMedium,utmCamp,created date"
MARCH = (date(2025, 3, 1), date(2025, 4, 1))


@pytest.fixture(scope="module")
def march_text() -> str:
    return generate_leads_sheet(*MARCH)


@pytest.fixture(scope="module")
def march(march_text: str) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(march_text), infer_schema=False)


def _digits(value: str | None) -> str:
    return re.sub(r"\D", "", re.sub(r"\.0$", "", value or ""))


def test_same_arguments_give_identical_text(march_text: str) -> None:
    week = (date(2025, 3, 10), date(2025, 3, 17))
    text = generate_leads_sheet(*week)
    assert generate_leads_sheet(*week) == text
    assert generate_leads_sheet(*week, seed=8) != text
    assert generate_leads_sheet(*week, timezone="UTC") != text
    # the week is exactly the matching slice of the month (a day's rows don't depend on
    # the range asked for: the sheet only grows)
    week_rows = text.split("\r\n")[1:]
    month_rows = march_text.split("\r\n")
    start = month_rows.index(week_rows[0])
    assert month_rows[start : start + len(week_rows)] == week_rows

    def in_week(line: str) -> bool:
        created = next(csv.reader([line]))[-1]
        try:
            return week[0] <= datetime.strptime(created, CREATED_DATE_FORMAT).date() < week[1]
        except ValueError:
            return False

    assert [r for r in month_rows if in_week(r)] == [r for r in week_rows if in_week(r)]


def test_header_is_exact(march_text: str, march: pl.DataFrame) -> None:
    assert march_text.split("\r\n", 1)[0] == HEADER
    assert ",".join(LEADS_SHEET_COLUMNS) == HEADER
    assert march.columns == list(LEADS_SHEET_COLUMNS)


def test_google_sheets_csv_shape(march_text: str) -> None:
    # \r\n between rows, no trailing newline, every record has the 9 fields
    assert "\r\n" in march_text and not march_text.endswith("\n")
    records = list(csv.reader(io.StringIO(march_text, newline="")))
    assert {len(r) for r in records} == {9}
    # quoted only when needed: a quote appears only around fields with , " or newlines
    for line in march_text.split("\r\n"):
        for field in re.findall(r'"((?:[^"]|"")*)"', line):
            assert any(c in field for c in ',"\r\n'), line


def test_all_columns_are_strings_for_polars(march: pl.DataFrame) -> None:
    assert all(dtype == pl.String for dtype in march.schema.values())


def test_row_volume_and_weekday_variation(march: pl.DataFrame) -> None:
    days = (MARCH[1] - MARCH[0]).days
    assert 0.85 * 120 * days <= march.height <= 1.25 * 120 * days
    dates = (
        march.select(
            pl.col("created date").str.strptime(pl.Datetime, CREATED_DATE_FORMAT, strict=False).dt.date()
        )
        .to_series()
        .drop_nulls()
    )
    per_day = Counter(dates.to_list())
    assert set(per_day) == {date(2025, 3, d) for d in range(1, 32)}  # half-open: no April rows
    assert max(per_day.values()) > 1.15 * min(per_day.values())


def test_half_open_range_and_scaling() -> None:
    assert generate_leads_sheet(date(2025, 3, 1), date(2025, 3, 1)) == HEADER
    one_day = pl.read_csv(
        io.StringIO(generate_leads_sheet(date(2025, 3, 3), date(2025, 3, 4), leads_per_day=40)),
        infer_schema=False,
    )
    assert 25 <= one_day.height <= 70
    parsed = one_day["created date"].str.strptime(pl.Datetime, CREATED_DATE_FORMAT, strict=False)
    assert parsed.drop_nulls().dt.date().unique().to_list() == [date(2025, 3, 3)]
    with pytest.raises(ValueError):
        generate_leads_sheet(date(2025, 3, 2), date(2025, 3, 1))


def test_timezone_sets_the_written_local_time() -> None:
    ist = pl.read_csv(io.StringIO(generate_leads_sheet(date(2025, 3, 3), date(2025, 3, 4))), infer_schema=False)
    utc = pl.read_csv(
        io.StringIO(generate_leads_sheet(date(2025, 3, 3), date(2025, 3, 4), timezone="UTC")), infer_schema=False
    )

    def evening_share(frame: pl.DataFrame) -> float:
        hours = frame["created date"].str.strptime(pl.Datetime, CREATED_DATE_FORMAT, strict=False).dt.hour()
        return hours.is_between(17, 22).mean()

    # the audience is in India: its evening peak is 17-22 h IST, i.e. 11:30-17:30 UTC
    assert evening_share(ist) > 0.3
    assert evening_share(utc) < evening_share(ist)


def test_created_date_uses_one_month_first_format(march: pl.DataFrame) -> None:
    values = march["created date"].to_list()
    pattern = re.compile(r"^([1-9]|1[0-2])/([1-9]|[12]\d|3[01])/2025 ([0-9]|1\d|2[0-3]):[0-5]\d:[0-5]\d$")
    good = [v for v in values if v and pattern.match(v)]
    bad = [v for v in values if not (v and pattern.match(v))]
    assert len(good) >= 0.98 * len(values)
    for value in good[:500]:
        datetime.strptime(value, CREATED_DATE_FORMAT)
    # month-first: days above 12 appear in the second position
    assert any(int(v.split("/")[1]) > 12 for v in good)
    # the broken ones are unparseable on purpose
    assert 0.001 * len(values) <= len(bad) <= 0.015 * len(values)
    assert set(bad) <= {"#VALUE!", "31/31/2025"}
    assert {"#VALUE!", "31/31/2025"} & set(bad)


def test_phone_formats_are_messy(march: pl.DataFrame) -> None:
    phones = march["Phone"].drop_nulls().to_list()
    n = march.height
    checks = {
        "+91 space": r"^\+91 \d{5} \d{5}$",
        "91 prefix": r"^91[6-9]\d{9}$",
        "trunk 0": r"^0[6-9]\d{9}$",
        "dash": r"^\d{5}-\d{5}$",
        "(+91)": r"^\(\+91\) \d{5} \d{5}$",
        "plain": r"^[6-9]\d{9}$",
        "excel float": r"^[6-9]\d{9}\.0$",
        "scientific": r"^\d\.\d+E9$",
        "international": r"^\+(1|44|65|971) ",
    }
    counts = {name: sum(bool(re.match(rx, p)) for p in phones) for name, rx in checks.items()}
    for name, count in counts.items():
        assert count >= 1, (name, counts)
    assert counts["plain"] > 0.25 * n
    assert counts["excel float"] >= 0.01 * n
    assert counts["scientific"] <= 0.02 * n
    assert 1 <= phones.count("9999999999") <= 0.02 * n


def test_emails_names_and_utms_are_messy(march: pl.DataFrame) -> None:
    emails = march["Email"].drop_nulls().to_list()
    assert all("@" in e for e in emails)
    domains = Counter(e.strip().lower().split("@")[1] for e in emails)
    assert {"gmail.com", "outlook.com", "rediffmail.com"} <= set(domains)
    assert any(d.startswith("yahoo.") for d in domains)
    assert domains["gmail.com"] > len(emails) / 2
    assert any(e != e.strip() for e in emails)
    assert any(e.strip() != e.strip().lower() for e in emails)

    names = march["Name"].drop_nulls().to_list()
    assert any(n != n.strip() or "  " in n for n in names)
    assert any(n == n.lower() for n in names) and any(n == n.upper() for n in names)

    sources = set(march["utmSource"].drop_nulls().to_list())
    assert {"facebook", "instagram", "google", "youtube", "linkedin"} <= {s.lower() for s in sources}
    assert any(s != s.lower() for s in sources)
    assert {"cpc", "paid_social", "display", "video"} <= {m.lower() for m in march["utmMedium"].drop_nulls()}

    campaigns = march["utmCamp"].to_list()
    known = {c.strip().lower() for c in campaigns if c} & set(DEMO_CAMPAIGN_NAMES)
    assert known == set(DEMO_CAMPAIGN_NAMES)
    assert {c for c in campaigns if c} & set(DEMO_UNKNOWN_CAMPAIGNS)
    assert 0.01 * len(campaigns) <= campaigns.count(None) <= 0.08 * len(campaigns)

    answers = march["Question 1"].to_list()
    assert {"ACCA", "CMA", "CFA", "CPA", "Not sure yet"} <= set(answers)
    assert answers.count(None) > 0.03 * len(answers)


def test_contact_quirks(march: pl.DataFrame) -> None:
    n = march.height
    no_phone = march["Phone"].is_null()
    no_email = march["Email"].is_null()
    both_missing = int((no_phone & no_email).sum())
    assert 1 <= both_missing <= 0.012 * n
    assert 0.005 * n <= int((no_phone & ~no_email).sum()) <= 0.04 * n
    assert 0.005 * n <= int((no_email & ~no_phone).sum()) <= 0.05 * n


def test_repeat_submissions(march: pl.DataFrame) -> None:
    """~3% of rows are the same person again, with their details written differently."""
    first_seen: dict[str, dict] = {}
    repeats: list[tuple[dict, dict]] = []
    for row in march.to_dicts():
        email = (row["Email"] or "").strip().lower()
        if not email:
            continue
        key = email + "|" + " ".join(row["Name"].lower().split())
        if key in first_seen:
            repeats.append((first_seen[key], row))
        else:
            first_seen[key] = row
    assert 0.015 * march.height <= len(repeats) <= 0.05 * march.height
    with_phones = [(a, b) for a, b in repeats if a["Phone"] and b["Phone"]]
    assert len(with_phones) > 0.8 * len(repeats)
    # same number, different spelling (placeholders and foreign numbers stay as typed)
    reformatted = [(a, b) for a, b in with_phones if a["Phone"] != b["Phone"]]
    assert len(reformatted) > 0.9 * len(with_phones)
    # (two different people with the same name can, rarely, pick the same address)
    other_number = [(a, b) for a, b in reformatted if "E9" not in a["Phone"] + b["Phone"]
                    and _digits(a["Phone"])[-9:] != _digits(b["Phone"])[-9:]]
    assert len(other_number) <= 2, other_number
    # and the email is typed differently (case / spaces) now and then
    assert any(a["Email"] != b["Email"] for a, b in repeats)


def test_campaign_list_matches_the_mapping_shape() -> None:
    names = [c.name for c in DEMO_CAMPAIGNS]
    assert len(names) == len(set(names))
    assert {
        "acca_webinar_meta", "acca_webinar_google", "cma_bootcamp_meta", "cma_webinar_yt",
        "cfa_webinar_linkedin", "cpa_webinar_meta", "acca_finproclub", "acca_influencer",
    } == set(names)
    assert not set(DEMO_UNKNOWN_CAMPAIGNS) & set(names)
    for campaign in DEMO_CAMPAIGNS:
        assert campaign.program in {"ACCA", "CMA", "CFA", "CPA"}
        assert campaign.funnel and campaign.notes and campaign.channels
