"""lib/crm.py: reading, normalizing and typing the CRM's dumps (fixtures + the synthetic world)."""

import json
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import polars as pl
import pytest

from funnel_assets.lib import crm
from funnel_assets.lib.synthetic.edtech import (
    DEFAULT_CONFIG_DIR,
    crm_assigned_leads_csv,
    crm_sales_csv,
    load_edtech_config,
    simulate_edtech_day,
)
from funnel_assets.lib.synthetic.edtech_exports import CRM_SALES_COLUMNS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crm"
UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module")
def assigned() -> pl.DataFrame:
    return crm.parse_assigned_leads((FIXTURES / "assigned_leads_ugly.csv").read_bytes(), timezone="Asia/Kolkata").frame


@pytest.fixture(scope="module")
def sales() -> crm.ParsedDump:
    return crm.parse_sales((FIXTURES / "sales_ugly.csv").read_bytes(), timezone="Asia/Kolkata")


# ------------------------------------------------------------------------------ assigned leads


def test_assigned_leads_every_dump_row_is_one_output_row(assigned):
    assert assigned.columns == list(crm.ASSIGNED_LEADS_SCHEMA)
    assert assigned.schema == pl.Schema(crm.ASSIGNED_LEADS_SCHEMA)
    # 12 data rows; the blank lines (CRLF) are not rows
    assert assigned["dump_row"].to_list() == list(range(1, 13))
    assert assigned["assignment_id"].n_unique() == 12


def test_assigned_leads_normalized_values(assigned):
    row = {r["dump_row"]: r for r in assigned.to_dicts()}
    # ISO local time in IST -> UTC, local date
    assert row[1]["assigned_at"] == utc(2026, 9, 1, 8, 33, 22)
    assert row[1]["assigned_date"] == date(2026, 9, 1)
    assert row[1]["phone_key"] == "919741852036" and row[1]["problem"] is None
    # trimmed source / employee; +91 with spaces
    assert (row[2]["source"], row[2]["employee"], row[2]["phone_key"]) == ("cma_webinar_yt", "Deepak Yadav", "919876543211")
    # dd/mm/yyyy (13/09 settles day-first for the whole column)
    assert row[3]["assigned_at"] == utc(2026, 9, 2, 3, 45) and row[3]["phone_key"] == "919876543212"
    assert row[4]["assigned_date"] == date(2026, 9, 13) and row[4]["phone_key"] == "919876543213"
    # international
    assert (row[9]["phone_key"], row[9]["phone_status"]) == ("+14155550123", "international")
    # quoted comma inside a value
    assert row[12]["source"] == "Referral, Alumni"


def test_assigned_leads_problems_named_and_rows_kept(assigned):
    problem = dict(zip(assigned["dump_row"], assigned["problem"]))
    assert problem[5] == "leadMobile: no usable phone (corrupt)"  # Excel's 9.87654321E9
    assert problem[6] == "assignOn is empty"
    assert problem[7].startswith("assignOn 'yesterday' could not be read")
    assert problem[8] == "leadMobile: no usable phone (missing)"
    assert problem[10] == "the row is empty"
    assert {k for k, v in problem.items() if v is not None} == {5, 6, 7, 8, 10}
    # problems never quote a phone
    assert not any("9.87654321E9" in p for p in assigned["problem"].drop_nulls())


def test_assigned_leads_extra_columns_and_duplicate_rows(assigned):
    first, repeat = assigned.filter(pl.col("dump_row").is_in([1, 11])).sort("dump_row").to_dicts()
    assert json.loads(first["extra_fields"]) == {"lead_stage": "new"}
    # an identical row is kept, with its own stable id (content hash + occurrence number)
    assert repeat["assignment_id"] == first["assignment_id"] + "-2"
    again = crm.parse_assigned_leads((FIXTURES / "assigned_leads_ugly.csv").read_bytes()).frame
    assert again["assignment_id"].to_list() == assigned["assignment_id"].to_list()


def test_assigned_leads_missing_column_is_refused_by_name():
    text = "sources,assignOn,employee\nReferral,2026-09-01 10:00:00,Priya\n"
    with pytest.raises(crm.CrmDumpError, match=r"leadMobile.*found: sources, assignOn, employee"):
        crm.parse_assigned_leads(text.encode(), location="http://crm/x.csv")


def test_ragged_rows_are_flagged():
    text = "sources,assignOn,leadMobile,employee\nReferral,2026-09-01 10:00:00,9741852036\nReferral,2026-09-01 10:00:00,9741852036,Priya,oops\n"
    frame = crm.parse_assigned_leads(text).frame
    assert "1 of the header's 4" not in frame["problem"][0]
    assert "3 of the header's 4 cells" in frame["problem"][0]
    assert "5 cells but the header has 4" in frame["problem"][1]
    assert json.loads(frame["extra_fields"][1]) == {"column 5": "oops"}


def test_month_first_dump_and_timezone_argument():
    text = "sources,assignOn,leadMobile,employee\nA,09/13/2026 10:00,9741852036,P\nB,09/02/2026 10:00,9741852037,P\n"
    frame = crm.parse_assigned_leads(text, timezone="America/New_York").frame
    assert frame["assigned_date"].to_list() == [date(2026, 9, 13), date(2026, 9, 2)]
    assert frame["assigned_at"][0] == utc(2026, 9, 13, 14, 0)


# ------------------------------------------------------------------------------ sales


def test_sales_schema_maps_all_44_columns(sales):
    assert [f.dump for f in crm.SALES_FIELDS] == list(CRM_SALES_COLUMNS)
    assert len(crm.SALES_FIELDS) == 44
    frame = sales.frame
    assert frame.schema == pl.Schema(crm.SALES_SCHEMA)
    for name in ("sale_id", "status", "target", "course_name", "source", "created_at", "created_date", "student_contact",
                 "phone_key", "phone_status", "student_email", "email", "student_name", "total_amount", "net_amount",
                 "net_amount_after_pdd", "paid_amount", "employee_name", "employee_team", "assigned_lead_sources", "funnel", "problem"):
        assert name in frame.columns
    assert frame.schema["total_amount"] == pl.Float64 and frame.schema["total_emi"] == pl.Int64
    assert frame.schema["last_paid_date"] == pl.Date and frame.schema["created_at"] == pl.Datetime("us", "UTC")
    assert sales.extra_columns == ("remarks",) and sales.missing_optional == ()


def test_sales_typed_values(sales):
    row = {r["dump_row"]: r for r in sales.frame.to_dicts()}
    assert row[1]["total_amount"] == 88500.0 and row[1]["net_amount"] == 75000.0  # "88,500", "₹75,000"
    assert row[1]["created_at"] == utc(2025, 3, 2, 18, 2, 26, 605000)  # ISO with Z and millis
    assert row[1]["created_date"] == date(2025, 3, 2)
    assert row[1]["phone_key"] == "919741852036" and row[1]["problem"] is None
    assert row[1]["funnel"] == "CMA Webinar"  # reordered columns are matched by name
    assert row[2]["total_amount"] == 112100.0  # "₹ 1,12,100.00"
    assert row[2]["last_emi_date"] is None and row[2]["phone_status"] == "corrupt"
    assert row[3]["created_at"] == utc(2025, 3, 9, 14, 11, 55)  # naive = local (IST)
    assert row[3]["phone_key"] == "919876501234" and row[3]["total_emi"] == 6  # "09876501234", "6.0"
    assert json.loads(row[3]["extra_fields"]) == {"remarks": "called twice"}
    assert row[7]["last_paid_date"] == date(2025, 3, 7)  # 07/03/2025, day first
    assert row[7]["assigned_lead_sources"] is None  # blank -> null
    assert row[8]["email"] == "priya.sharma@gmail.com" and row[8]["student_email"].startswith("  Priya")
    assert row[8]["net_amount_after_pdd"] is None  # "N/A" in a required amount: a problem (below), not a 0
    assert row[5]["created_date"] == date(2025, 3, 6)  # 22:46 UTC is the next day in India


def test_sales_problems_name_field_and_value(sales):
    problem = dict(zip(sales.frame["dump_row"], sales.frame["problem"]))
    assert problem[2] == "StudentContact: no usable phone (corrupt)"
    assert problem[4] == (
        "createdOn 'not a date' could not be read as a date and time; paidAmount 'abc' is not a number; "
        "Paid_Emi_Count '2.5' is not a whole number"
    )
    assert problem[5] == problem[6] == "_id 67c90891f29280e54f51be45 appears 2 times in the dump (all rows kept)"
    assert problem[7] == "createdOn is empty"
    assert problem[8] == "netAmountAfterPDD is 'N/A', not an amount: every sale needs it, fix it in the CRM"
    assert {k for k, v in problem.items() if v} == {2, 4, 5, 6, 7, 8}
    row4 = sales.frame.filter(pl.col("dump_row") == 4).row(0, named=True)
    assert row4["paid_amount"] is None and row4["paid_emi_count"] is None and row4["created_at"] is None
    assert row4["total_amount"] == 88500.0  # the rest of the row still loads


def test_sales_quality(sales):
    q = crm.crm_quality(sales.frame, id_column="sale_id")
    assert (q.rows, q.problem_rows, q.usable_rows) == (8, 6, 2)
    assert q.duplicate_id_rows == 2 and q.unknown_phone_rows == 1
    assert q.problems_by_field["_id"] == 2 and q.problems_by_field["createdOn"] == 2


def test_sales_missing_required_and_optional_columns():
    header = [c for c in CRM_SALES_COLUMNS if c not in ("netAmount", "Funnel", "eBookRev")]
    with pytest.raises(crm.CrmDumpError, match=r"lacks the column\(s\) netAmount, Funnel"):
        crm.parse_sales(",".join(header) + "\n")
    header = [c for c in CRM_SALES_COLUMNS if c != "eBookRev"]
    parsed = crm.parse_sales(",".join(header) + "\n" + ",".join("x" for _ in header) + "\n")
    assert parsed.missing_optional == ("eBookRev",)
    assert parsed.frame["ebook_rev"].null_count() == 1


REQUIRED_AMOUNTS = ("TotalAmount", "netAmount", "netAmountAfterPDD", "paidAmount")


def one_sale(day_first_default: bool = True, **cells: str) -> pl.DataFrame:
    """A one-row sales dump: the required cells filled, the rest blank, ``cells`` on top."""
    import csv, io

    header = list(CRM_SALES_COLUMNS)
    row = dict.fromkeys(header, "")
    row.update({"_id": "x1", "createdOn": "2025-03-01T10:00:00.000Z", "StudentContact": "9741852036"})
    row.update(dict.fromkeys(REQUIRED_AMOUNTS, "88500"))
    row.update(cells)
    out = io.StringIO()
    csv.writer(out).writerows([header, [row[c] for c in header]])
    return crm.parse_sales(out.getvalue(), day_first_default=day_first_default).frame


@pytest.mark.parametrize(
    ("text", "value", "problem"),
    [
        ("₹1,23,456.50", 123456.5, None), ("Rs. 500", 500.0, None), ("INR 1,000", 1000.0, None), ("-250.5", -250.5, None),
        ("abc", None, "TotalAmount 'abc' is not a number"), ("12-34", None, "TotalAmount '12-34' is not a number"),
        ("inf", None, "TotalAmount 'inf' is not a number"),
    ],
)
def test_amount_formats(text, value, problem):
    frame = one_sale(TotalAmount=text)
    assert frame["total_amount"][0] == value
    assert frame["problem"][0] == problem


@pytest.mark.parametrize("text", ["n/a", "N/A", "-", "null", "NA", "#N/A", "—", "", "  "])
@pytest.mark.parametrize("field", REQUIRED_AMOUNTS)
def test_a_required_amount_without_a_value_is_a_problem_not_a_blank(field, text):
    frame = one_sale(**{field: text})
    column = next(f.column for f in crm.SALES_FIELDS if f.dump == field)
    assert frame[column][0] is None
    if not text.strip():
        assert frame["problem"][0] == f"{field} is empty: every sale needs it, fix it in the CRM"
    elif text in ("#N/A", "—"):  # not a number at all
        assert frame["problem"][0] == f"{field} '{text}' is not a number"
    else:
        assert frame["problem"][0] == f"{field} is '{text}', not an amount: every sale needs it, fix it in the CRM"
    assert crm.crm_quality(frame, id_column="sale_id").problems_by_field == {field: 1}


@pytest.mark.parametrize("text", ["", "N/A", "-", "null"])
def test_an_optional_amount_without_a_value_is_null_without_a_problem(text):
    frame = one_sale(DP=text, eBookRev=text)
    assert (frame["down_payment"][0], frame["ebook_rev"][0], frame["problem"][0]) == (None, None, None)


def test_empty_dump_is_refused():
    with pytest.raises(crm.CrmDumpError, match="empty"):
        crm.parse_sales(b"\xef\xbb\xbf\r\n")


# ------------------------------------------------------------------------------ synthetic world

START, AS_OF = date(2025, 3, 1), date(2025, 3, 20)  # a 20-day window
SEED, SCALE = 11, 0.2


@lru_cache(maxsize=1)
def world():
    config = load_edtech_config(DEFAULT_CONFIG_DIR)
    days = [simulate_edtech_day(config, seed=SEED, day=START + timedelta(days=i), scale=SCALE) for i in range((AS_OF - START).days + 1)]
    assignments = pl.concat([d.truth["assignments"] for d in days])
    sales = pl.concat([d.truth["sales"] for d in days])
    dumps = (
        crm_assigned_leads_csv(config, seed=SEED, as_of=AS_OF, start=START, scale=SCALE),
        crm_sales_csv(config, seed=SEED, as_of=AS_OF, start=START, scale=SCALE),
    )
    return assignments, sales, dumps


def test_assigned_leads_match_the_synthetic_truth():
    truth, _, (dump, _) = world()
    parsed = crm.parse_assigned_leads(dump, timezone="Asia/Kolkata").frame
    assert parsed.height == truth.height > 100
    assert parsed["problem"].null_count() == parsed.height
    key = ["phone_key", "assigned_at", "source", "employee"]
    got = parsed.select(key).sort(key)
    want = truth.select(key).sort(key)
    assert got.equals(want)
    assert parsed["assigned_date"].to_list() == parsed["assigned_at"].dt.convert_time_zone("Asia/Kolkata").dt.date().to_list()


def test_sales_match_the_synthetic_truth():
    _, truth, (_, dump) = world()
    parsed = crm.parse_sales(dump, timezone="Asia/Kolkata").frame
    assert parsed.height == truth.height > 10
    assert parsed["problem"].null_count() == parsed.height
    got = parsed.select("sale_id", "created_at", "total_amount", "net_amount", "phone_key", "target", "employee_name",
                        "funnel", "assigned_lead_sources").sort("sale_id")
    want = truth.select(
        sale_id="_id", created_at="created_at", total_amount=pl.col("total_amount").cast(pl.Float64), net_amount="net_amount",
        phone_key="phone_key", target="program", employee_name="employee", funnel="funnel",
        # the CRM writes it with stray spaces; the table trims it (null when blank)
        assigned_lead_sources=pl.col("assigned_lead_sources").str.strip_chars().replace("", None),
    ).sort("sale_id")
    # createdOn carries milliseconds the truth (whole seconds) does not have
    got = got.with_columns(pl.col("created_at").dt.truncate("1s"))
    assert got.equals(want)


# ------------------------------------------------------------------------------ per-dump conventions


def test_european_amounts_are_read_right_not_1000_times_off():
    parsed = crm.parse_sales((FIXTURES / "sales_european_amounts.csv").read_bytes())
    rows = {r["dump_row"]: r for r in parsed.frame.to_dicts()}
    assert rows[1]["total_amount"] == 88500.0 and rows[1]["net_amount"] == 75000.0  # "88.500,00", "75.000,00"
    assert rows[1]["paid_amount_without_token"] == 110300.0  # "110 300,00"
    assert rows[1]["net_amount_after_pdd"] == 91605.09 and rows[3]["net_amount"] == 127457.63
    assert rows[3]["paid_amount"] == 30100.0  # "30.100"
    assert [rows[n]["problem"] for n in (1, 3)] == [None, None]
    assert parsed.decimal_mark.describe() == "decimal comma, shown by the file (dump row 1 tokenAmount 0,00)"


def test_an_amount_that_could_be_either_is_a_problem_naming_the_evidence():
    import csv, io

    header = list(CRM_SALES_COLUMNS)
    lines = []
    for i, (total, net) in enumerate([("1,18,000.00", "1,00,000.00"), ("88.500,00", "75.000,00"), ("59,000", "50.000")], 1):
        row = dict.fromkeys(header, "")
        row.update({"_id": f"s{i}", "createdOn": "2025-03-01T10:00:00.000Z", "StudentContact": "9741852036",
                    "TotalAmount": total, "netAmount": net, "netAmountAfterPDD": "0", "paidAmount": "0"})
        lines.append([row[c] for c in header])
    out = io.StringIO()
    csv.writer(out).writerows([header, *lines])
    parsed = crm.parse_sales(out.getvalue())
    row3 = parsed.frame.row(2, named=True)
    assert (row3["total_amount"], row3["net_amount"]) == (None, None)
    why = "the file writes numbers both ways (dump row 1 TotalAmount 1,18,000.00 has a decimal point, dump row 2 TotalAmount 88.500,00 a decimal comma)"
    assert row3["problem"] == f"TotalAmount '59,000' could be 59000 or 59.000: {why}; netAmount '50.000' could be 50.000 or 50000: {why}"
    assert parsed.frame["total_amount"].to_list()[:2] == [118000.0, 88500.0]  # each read the only way it can be
    assert parsed.decimal_mark.mark == "mixed"


def test_assigned_leads_day_first_dump_reads_01_12_as_1_december():
    text = (
        "sources,assignOn,leadMobile,employee\n"
        "ACCA Webinar,25/11/2026 10:00,9741852036,Priya Sharma\n"
        "ACCA Webinar,01/12/2026 09:30,9741852037,Priya Sharma\n"
    )
    parsed = crm.parse_assigned_leads(text, day_first_default=False)
    assert parsed.frame["assigned_date"].to_list() == [date(2026, 11, 25), date(2026, 12, 1)]
    assert parsed.date_order.describe() == "day-first, shown by the file (dump row 1: 25/11/2026 10:00)"


def test_assigned_leads_with_both_date_orders_flag_the_dates_that_could_be_either():
    text = (
        "sources,assignOn,leadMobile,employee\n"
        "ACCA Webinar,25/11/2026 10:00,9741852036,Priya Sharma\n"
        "ACCA Webinar,11/28/2026 10:00,9741852037,Priya Sharma\n"
        "ACCA Webinar,01/12/2026 09:30,9741852038,Priya Sharma\n"
    )
    frame = crm.parse_assigned_leads(text).frame
    assert frame["assigned_date"].to_list() == [date(2026, 11, 25), date(2026, 11, 28), None]
    assert frame["problem"].to_list() == [None, None, (
        "assignOn '01/12/2026 09:30' could be 01 Dec 2026 or 12 Jan 2026: the file has dates that can only be "
        "day-first (dump row 1: 25/11/2026 10:00) and dates that can only be month-first (dump row 2: 11/28/2026 10:00)"
    )]


def test_a_sales_date_column_that_shows_nothing_takes_the_order_the_dump_shows():
    """lastEmiDate 05/12/2026 alone could be either; Last_Paid_Date 25/11/2026 in the same dump
    shows the dump is day first, so it is 5 December, not 12 May (the default here)."""
    frame = one_sale(day_first_default=False, lastEmiDate="05/12/2026", Last_Paid_Date="25/11/2026")
    assert (frame["last_emi_date"][0], frame["last_paid_date"][0]) == (date(2026, 12, 5), date(2026, 11, 25))
    assert frame["problem"][0] is None
