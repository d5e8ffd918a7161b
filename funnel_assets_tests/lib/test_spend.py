"""lib/spend.py: reading, typing and totalling the spend sheet export."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from funnel_assets.lib import spend as lib
from funnel_assets.lib.config import OTHER_SOURCES_FUNNEL, load_funnel_mapping
from funnel_assets.lib.settings import PROJECT_ROOT
from funnel_assets.lib.synthetic.edtech import load_edtech_config, simulate_edtech_days, spend_csv
from funnel_assets.lib.synthetic.edtech_exports import SPEND_COLUMNS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spend"
KNOWN = load_funnel_mapping(PROJECT_ROOT / "data" / "config" / "funnel_mapping.csv").table["funnel"].unique().to_list()
TZ = "Asia/Kolkata"


def clean(content: bytes, **kw) -> tuple[lib.RawSpend, lib.CleanedSpend]:
    raw = lib.read_spend_sheet(content, location="spend.csv")
    kw.setdefault("known_funnels", KNOWN)
    kw.setdefault("first_date", date(2025, 1, 1))
    return raw, lib.clean_spend(raw.frame, timezone=TZ, **kw)


@pytest.fixture(scope="module")
def ugly() -> tuple[lib.RawSpend, lib.CleanedSpend]:
    return clean((FIXTURES / "ugly_sheet.csv").read_bytes())


def test_the_sheet_columns_are_the_seeds_43():
    assert list(lib.SHEET_COLUMNS) == list(SPEND_COLUMNS)
    assert len(lib.SHEET_COLUMNS) == 43
    assert set(lib.SHEET_COLUMNS.values()) <= set(lib.AD_SPEND_SCHEMA)


def test_read_keeps_sheet_rows_and_reports_blank_and_extra_columns(ugly):
    raw, _ = ugly
    assert raw.frame.height == 12
    assert raw.frame["sheet_row"].to_list() == list(range(2, 14))
    assert raw.blank_rows == 2
    assert raw.extra_columns == ("Notes",)
    assert raw.missing_optional_columns == ()


def test_dates_in_three_shapes_and_sheets_serials(ugly):
    _, cleaned = ugly
    assert cleaned.day_first  # 14/09/2026 settles it for the file
    by_row = dict(zip(cleaned.spend["sheet_row"], cleaned.spend["day"]))
    assert by_row[2] == date(2026, 9, 1)  # 01/09/2026
    assert by_row[3] == date(2026, 9, 1)  # 2026-09-01 00:00:00
    assert by_row[4] == date(2026, 9, 1)  # 2026-09-01
    assert by_row[5] == date(2026, 9, 2)  # 02/09/2026
    assert by_row[10] == date(2026, 9, 3)  # 46268 (a date cell exported as its serial number)
    assert by_row[12] == date(2026, 9, 14)


def test_numbers_with_rupee_signs_and_indian_grouping(ugly):
    _, cleaned = ugly
    rows = {r["sheet_row"]: r for r in cleaned.spend.iter_rows(named=True)}
    assert rows[2]["cost"] == 21931.09 and rows[2]["impressions"] == 121858  # ₹21,931.09 and 1,21,858
    assert rows[4]["cost"] == 10895.39  # Rs. 10,895.39
    assert rows[5]["cost"] == 6924.89
    assert rows[11]["cost"] == 7500.0  # "  7,500 "
    # blank metrics count as 0, as SUMIFS does
    assert rows[6]["cost"] == 0.0 and rows[6]["impressions"] == 0 and rows[6]["clicks"] == 0
    assert rows[6]["problem"] is None
    # unreadable non-key numbers: null, and the row says why
    assert rows[5]["video_views"] is None and "video_views n/a is not a whole number" in rows[5]["problem"]
    assert rows[11]["clicks"] is None and "clicks 12.5" in rows[11]["problem"]
    assert cleaned.spend.schema["cost"] == pl.Float64 and cleaned.spend.schema["clicks"] == pl.Int64


def test_funnels_blank_misspelt_and_unknown(ugly):
    _, cleaned = ugly
    rows = {r["sheet_row"]: r for r in cleaned.spend.iter_rows(named=True)}
    assert rows[4]["funnel"] == OTHER_SOURCES_FUNNEL and rows[4]["funnel_blank"] and rows[4]["funnel_as_written"] is None
    assert rows[3]["funnel"] == "ACCA Webinar" and rows[3]["funnel_as_written"] == "acca  webinar"
    assert not rows[3]["funnel_blank"]
    assert rows[10]["funnel"] == "FRM Webinar"
    q = lib.spend_quality(cleaned.spend, cleaned.rejects, days=[date(2026, 9, 1)], known_funnels=KNOWN)
    assert q.unknown_funnels == ("FRM Webinar",)
    assert q.blank_funnel_rows == 1


def test_rows_without_a_usable_date_or_cost_are_rejects_with_reasons(ugly):
    _, cleaned = ugly
    r = {row["sheet_row"]: row for row in cleaned.rejects.iter_rows(named=True)}
    assert set(r) == {7, 8, 9, 13}
    assert r[7]["reason_code"] == "cost_unreadable" and r[7]["day"] == date(2026, 9, 2)
    assert "cost n/a is not a number" in r[7]["reason"]
    assert r[8]["reason_code"] == "date_missing" and r[8]["day"] is None
    assert r[9]["reason_code"] == "date_unreadable" and "31/31/2026" in r[9]["reason"] and "day first" in r[9]["reason"]
    assert r[13]["reason_code"] == "before_start" and r[13]["day"] is None
    assert '"campaign": "cpa_webinar_meta"' in r[7]["raw_row"]
    # nothing lost: every sheet row is either spend or a reject
    assert cleaned.spend.height + cleaned.rejects.height == 12


def test_spend_by_funnel_is_sumifs_per_day(ugly):
    _, cleaned = ugly
    by = lib.spend_by_funnel(cleaned.spend)
    day1 = {f: c for d, f, c in by.select("day", "funnel", "cost").rows() if d == date(2026, 9, 1)}
    assert day1 == {"ACCA Webinar": 36147.24, OTHER_SOURCES_FUNNEL: 10895.39}
    day2 = by.filter(pl.col("day") == date(2026, 9, 2))
    assert dict(zip(day2["funnel"], day2["rows"])) == {"CFA Webinar": 1, "CMA Webinar": 1}
    assert by.schema == lib.BY_FUNNEL_SCHEMA


def test_funnel_totals_over_all_days(ugly):
    _, cleaned = ugly
    totals = lib.funnel_totals(cleaned.spend)
    acca = totals.filter(pl.col("funnel") == "ACCA Webinar").row(0, named=True)
    assert acca["cost"] == 37147.24 and acca["days"] == 2
    assert acca["first_day"] == date(2026, 9, 1) and acca["last_day"] == date(2026, 9, 14)
    assert totals["share_of_cost"].sum() == pytest.approx(1.0, abs=1e-3)
    assert totals["cost"].to_list() == sorted(totals["cost"].to_list(), reverse=True)
    assert lib.funnel_totals(cleaned.spend.head(0)).is_empty()


def test_negative_costs_and_accounting_brackets():
    _, cleaned = clean((FIXTURES / "negative_cost.csv").read_bytes())
    assert cleaned.spend["cost"].to_list() == [1250.0, -250.0]
    q = lib.spend_quality(cleaned.spend, cleaned.rejects, days=[date(2026, 9, 2), date(2026, 9, 3)], known_funnels=KNOWN)
    assert q.negative_cost_rows == 1 and q.negative_cost_sheet_rows == (3,)
    assert q.days_without_spend == (date(2026, 9, 3),)


def test_month_first_file_and_default_order():
    header = ",".join(SPEND_COLUMNS)
    body = "\n".join(f"{d},camp{i},,1,1,10,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,CMA Webinar" for i, d in enumerate(["09/13/2026", "09/01/2026"]))
    _, cleaned = clean(f"{header}\n{body}\n".encode(), day_first_default=True)
    assert not cleaned.day_first
    assert cleaned.spend["day"].to_list() == [date(2026, 9, 1), date(2026, 9, 13)]
    # only ambiguous dates: the configured default decides
    body = "01/09/2026,c,,1,1,10" + "," * 36 + ",CMA Webinar"
    for default, want in ((True, date(2026, 9, 1)), (False, date(2026, 1, 9))):
        _, cleaned = clean(f"{header}\n{body}\n".encode(), day_first_default=default)
        assert cleaned.spend["day"].to_list() == [want]


def test_missing_required_columns_name_them():
    with pytest.raises(lib.SpendSheetError, match=r"spend.csv: the spend sheet has no cost, Funnel column"):
        lib.read_spend_sheet(b"date_time,campaign,clicks\n2026-09-01,a,3\n", location="spend.csv")
    with pytest.raises(lib.SpendSheetError, match="empty"):
        lib.read_spend_sheet(b"  \n", location="spend.csv")


def test_headers_match_ignoring_case_spacing_and_order():
    text = "FUNNEL,Cost,Date Time,Campaign\nCMA Webinar,\"1,000\",2026-09-01,x\n"
    raw, cleaned = clean(text.encode())
    assert "Impressions" not in raw.missing_optional_columns  # headers are named as the sheet spells them
    assert "impressions" in raw.missing_optional_columns
    row = cleaned.spend.row(0, named=True)
    assert (row["day"], row["cost"], row["funnel"], row["impressions"]) == (date(2026, 9, 1), 1000.0, "CMA Webinar", 0)


def test_row_ids_are_stable_when_a_cost_is_corrected(ugly):
    raw, cleaned = ugly
    fixed = raw.frame.with_columns(cost=pl.when(pl.col("sheet_row") == 2).then(pl.lit("22000")).otherwise(pl.col("cost")))
    again = lib.clean_spend(fixed, timezone=TZ, known_funnels=KNOWN, first_date=date(2025, 1, 1))
    assert again.spend["spend_row_id"].to_list() == cleaned.spend["spend_row_id"].to_list()
    assert cleaned.spend["spend_row_id"].n_unique() == cleaned.spend.height


@pytest.mark.parametrize("seed, scale", [(7, 1.0), (23, 0.4)])
def test_matches_the_synthetic_worlds_truth_to_the_paisa(seed, scale):
    config = load_edtech_config(PROJECT_ROOT / "data" / "config" / "synthetic")
    start, end = date(2025, 3, 1), date(2025, 3, 11)
    text = spend_csv(config, seed=seed, start=start, end=end, scale=scale)
    _, cleaned = clean(text.encode())
    assert cleaned.rejects.is_empty()
    days = simulate_edtech_days(config, seed=seed, start=start, end=end, scale=scale)
    truth = pl.concat([d.truth["spend"] for d in days])
    got = lib.spend_by_funnel(cleaned.spend)
    joined = truth.join(got, on=["day", "funnel"], how="full", coalesce=True, suffix="_got")
    assert joined.height == truth.height == got.height > 20
    assert (joined["cost"].round(2) == joined["cost_got"]).all()
    assert (joined["impressions"] == joined["impressions_got"]).all()
    assert (joined["clicks"] == joined["clicks_got"]).all()
    by_campaign = pl.concat([d.truth["spend_by_campaign"] for d in days])
    assert cleaned.spend.height == by_campaign.height
    totals = lib.funnel_totals(cleaned.spend)
    want = truth.group_by("funnel").agg(pl.col("cost").sum().round(2))
    assert dict(want.rows()) == dict(totals.select("funnel", "cost").rows())


# ------------------------------------------------------------------------------ per-file conventions


def test_european_numbers_are_read_right_not_1000_times_off():
    _, cleaned = clean((FIXTURES / "european_numbers.csv").read_bytes(), day_first_default=False)
    assert cleaned.rejects.height == 0
    rows = {r["sheet_row"]: r for r in cleaned.spend.iter_rows(named=True)}
    assert {n: rows[n]["cost"] for n in rows} == {
        2: 21931.09,  # 21.931,09
        3: 1234.5,  # 1 234,50
        4: 1234.5,  # 1234,5
        5: 999.0,  # 999,00
        6: 2500.0,  # 2.500: the file writes thousands with a dot
        7: 1200.0,  # 1.200,00
    }
    assert (rows[2]["impressions"], rows[2]["clicks"], rows[6]["impressions"]) == (121858, 1278, 12345)
    assert rows[2]["revenue"] == 1250.0 and all(r["problem"] is None for r in rows.values())
    # the dates: 25/11/2026 shows the sheet is day first, so 01/12/2026 is 1 December
    assert cleaned.date_order.describe() == "day-first, shown by the file (row 2: 25/11/2026)"
    assert rows[4]["day"] == date(2026, 12, 1) and rows[2]["day"] == date(2026, 11, 25)
    assert cleaned.decimal_mark.describe() == "decimal comma, shown by the file (row 2 cost 21.931,09)"


def test_when_no_number_shows_the_decimal_mark_1_dot_234_is_refused_not_guessed():
    _, cleaned = clean((FIXTURES / "whole_rupees_undecided.csv").read_bytes())
    assert dict(zip(cleaned.spend["sheet_row"], cleaned.spend["cost"])) == {2: 1234.0, 4: 800.0}
    (reject,) = cleaned.rejects.iter_rows(named=True)
    assert (reject["sheet_row"], reject["reason_code"], reject["day"]) == (3, "cost_ambiguous", date(2026, 12, 1))
    assert reject["reason"] == (
        "cost 1.234 could be 1.234 or 1234: nothing else in the file shows whether '.' separates thousands or "
        "decimals; write it without a thousands separator, like the sheet's other amounts"
    )
    assert cleaned.decimal_mark.mark == "undecided"


def test_a_sheet_mixing_locales_reads_what_is_certain_and_refuses_what_could_be_either():
    _, cleaned = clean((FIXTURES / "mixed_locales.csv").read_bytes(), day_first_default=False)
    rows = {r["sheet_row"]: r for r in cleaned.spend.iter_rows(named=True)}
    assert {n: (r["day"], r["cost"]) for n, r in rows.items()} == {
        2: (date(2026, 11, 25), 21931.09),
        4: (date(2026, 11, 28), 1234.5),  # 11/28/2026 and 1.234,50: each can be read only one way
        5: (date(2026, 12, 12), 850.75),
        6: (date(2026, 11, 30), 640.0),
    }
    assert rows[2]["impressions"] == 121858  # 1,21,858
    assert rows[6]["impressions"] is None and rows[6]["problem"] == (
        "impressions 12,345 could be 12345 or 12.345: the file writes numbers both ways (row 2 cost 21,931.09 has "
        "a decimal point, row 4 cost 1.234,50 a decimal comma); write it without a thousands separator"
    )
    reasons = {r["sheet_row"]: (r["reason_code"], r["reason"]) for r in cleaned.rejects.iter_rows(named=True)}
    assert reasons == {
        3: ("cost_ambiguous", "cost 2,500 could be 2500 or 2.500: the file writes numbers both ways (row 2 cost "
            "21,931.09 has a decimal point, row 4 cost 1.234,50 a decimal comma); write it without a thousands "
            "separator, like the sheet's other amounts"),
        7: ("date_ambiguous", "date_time 01/12/2026 could be 01 Dec 2026 or 12 Jan 2026: the file has dates that "
            "can only be day-first (row 2: 25/11/2026) and dates that can only be month-first (row 4: 11/28/2026); "
            "write it with the month's name (1 Sep 2026) or as 2026-09-01"),
    }
    assert cleaned.spend.height + cleaned.rejects.height == 6  # nothing lost
    assert cleaned.decimal_mark.mark == "mixed" and cleaned.date_order.decided_by == "mixed"


def test_dates_no_file_decides_use_the_default_and_say_so():
    header = ",".join(SPEND_COLUMNS)
    body = "01/12/2026,c,,1,1,10" + "," * 36 + ",CMA Webinar"
    _, cleaned = clean(f"{header}\n{body}\n".encode(), day_first_default=True)
    assert cleaned.date_order.describe() == "day-first, the configured default: no date in the file shows the order"
    assert cleaned.spend["day"].to_list() == [date(2026, 12, 1)]
