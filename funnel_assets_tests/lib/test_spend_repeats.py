"""lib/spend_repeats.py: a spend row pasted twice is counted once, the repeat kept as a reject."""

from datetime import date
from pathlib import Path

import polars as pl

from funnel_assets.lib import sheet_sync as sync
from funnel_assets.lib import spend as lib
from funnel_assets.lib.spend_repeats import reject_repeated_rows

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spend"


def test_identical_rows_count_once_and_different_ones_all_count():
    header = "date_time,campaign,ad_group,impressions,clicks,cost,account,platform,Funnel"
    row = "2026-09-05,acca_webinar_meta,Lookalike 1%,1000,50,1200.50,act_1,Facebook,ACCA Webinar"
    other = "2026-09-05,acca_webinar_meta,Lookalike 1%,1000,50,1300.00,act_1,Facebook,ACCA Webinar"
    text = "\n".join([header, row, row, other, row]) + "\n"
    raw = lib.read_spend_sheet(text.encode(), location="spend.csv").frame
    cleaned = lib.clean_spend(raw, timezone="Asia/Kolkata", first_date=date(2026, 1, 1))
    assert cleaned.spend.height == 4  # today's parser keeps all four
    out = reject_repeated_rows(cleaned, raw, sync.row_hashes(raw, list(lib.SHEET_COLUMNS.values())))
    assert out.spend["sheet_row"].to_list() == [2, 4]
    assert out.spend["cost"].sum() == 2500.50
    assert out.rejects["sheet_row"].to_list() == [3, 5]
    assert out.rejects["reason_code"].to_list() == ["repeated_row", "repeated_row"]
    assert out.rejects["reason"].str.contains("equals sheet row 2").all()
    assert out.rejects["day"].to_list() == [date(2026, 9, 5)] * 2
    assert out.rejects.schema == pl.Schema(lib.REJECTS_SCHEMA)


def test_a_sheet_without_repeats_is_left_as_it_is():
    raw = lib.read_spend_sheet((FIXTURES / "ugly_sheet.csv").read_bytes(), location="ugly").frame
    cleaned = lib.clean_spend(raw, timezone="Asia/Kolkata", first_date=date(2026, 1, 1))
    hashes = sync.row_hashes(raw, list(lib.SHEET_COLUMNS.values()))
    assert hashes["row_hash"].n_unique() == hashes.height
    assert reject_repeated_rows(cleaned, raw, hashes) is cleaned
