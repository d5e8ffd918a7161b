"""The in-house CRM's full dumps (seed 002, Phase 1.1 and Phase 2.1): read, normalize, type.

Two dumps, both CSV, both served whole every night:

* **assigned leads** (``sources, assignOn, leadMobile, employee``): one row per lead handed to a
  sales rep. ``assignOn`` is local time in the team's time zone, written ``2026-09-01 14:03:22``
  (sometimes ``01/09/2026 14:03``: the dump's own dates decide day-first or month-first, a day
  above 12 settles it; with nothing to decide, day-first; see
  :func:`funnel_assets.lib.dates.decide_date_order`. A dump with both orders reads each date
  the only way it can be, and a date that could be either is null with a ``problem``).
* **sales** (the 44 columns of Phase 2.1): one row per sale. Columns are renamed to snake_case
  (:data:`SALES_FIELDS` is the documented mapping) and typed: amounts ``Float64`` (``"88,500"``,
  ``"₹ 1,23,456.50"`` and ``"75000.5"`` all read; ``"88.500,00"`` too, in a dump that writes a
  decimal comma: one convention per dump, see :mod:`funnel_assets.lib.numbers`), counts ``Int64``,
  dates ``Date``, timestamps UTC (``createdOn`` is ISO with ``Z`` and milliseconds). A date column
  whose dates show no order takes the order the dump's other date columns show.
  The amounts downstream sums rely on (``TotalAmount``, ``netAmount``, ``netAmountAfterPDD``,
  ``paidAmount``) are needed on every sale: empty, ``N/A``, ``-`` or ``null`` there is a
  ``problem`` naming the column and what was written, never a silent 0.

Rules shared by both dumps:

* Header names are matched ignoring case and surrounding whitespace; the order does not matter.
  A dump without a required column is refused (:class:`CrmDumpError`, naming the columns).
  Optional sales columns that are missing become null columns (reported, not fatal).
* Columns the dump has beyond the expected ones are kept, per row, in ``extra_fields`` (JSON of
  the non-blank values), so nothing the CRM sends is lost.
* Every data row becomes exactly one output row (``dump_row``: 1 = first data row; blank lines
  are not rows). A value that cannot be read becomes null and the row's ``problem`` says which
  field and what was written there; rows are never dropped. Phones and emails are never quoted
  in ``problem`` (it ends up in metadata examples and logs).

Pure polars + the standard library; no Dagster.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from .dates import DEFAULT_TIMEZONE, UTC_DTYPE, DateOrder, decide_date_order, local_date, parse_in_order
from .fetch import decode_csv_bytes
from .numbers import DecimalMark, read_numbers
from .phones import INTERNATIONAL, VALID, normalize_phones
from .text import normalize_emails

__all__ = [
    "ASSIGNED_LEADS_COLUMNS",
    "ASSIGNED_LEADS_SCHEMA",
    "CrmDumpError",
    "CrmQuality",
    "ParsedDump",
    "RawDump",
    "SALES_FIELDS",
    "SALES_REQUIRED_COLUMNS",
    "SALES_SCHEMA",
    "SalesField",
    "crm_quality",
    "normalize_assigned_leads",
    "parse_assigned_leads",
    "parse_sales",
    "read_dump",
    "type_sales",
]

# ----------------------------------------------------------------------------------------- spec

ASSIGNED_LEADS_COLUMNS: Final = ("sources", "assignOn", "leadMobile", "employee")
"""Seed 002 Phase 1.1; all four are required."""


@dataclass(frozen=True)
class SalesField:
    """One column of the sales dump: its name in the dump, in the table, its kind and meaning."""

    dump: str
    column: str
    kind: str  # text | amount | count | datetime | date | phone | email
    description: str


SALES_FIELDS: Final[tuple[SalesField, ...]] = (
    SalesField("_id", "sale_id", "text", "The CRM's id of the sale (_id)"),
    SalesField("status", "status", "text", "success, refunded, ... as in the CRM"),
    SalesField("txn_id", "txn_id", "text", "Payment gateway transaction id"),
    SalesField("sid", "sid", "text", "The CRM's student id"),
    SalesField("emiId", "emi_id", "text", "EMI plan id (blank for full payments)"),
    SalesField("pId", "product_id", "text", "Product id (pId)"),
    SalesField("paymentGateway", "payment_gateway", "text", "Razorpay, Cashfree, ..."),
    SalesField("target", "target", "text", "The program: ACCA, CMA, CFA, ..."),
    SalesField("targetSuperGroup", "target_super_group", "text", "The program's group"),
    SalesField("courseName", "course_name", "text", "Course sold"),
    SalesField("source", "source", "text", "Sales channel as the CRM records it"),
    SalesField("tokenAmount", "token_amount", "amount", "Token paid up front (INR)"),
    SalesField("WithOut_Token_paidAmount", "paid_amount_without_token", "amount", "Paid beyond the token (INR)"),
    SalesField("createdOn", "created_at", "datetime", "When the sale was created (UTC)"),
    SalesField("pType", "p_type", "text", "Product type"),
    SalesField("eBookRev", "ebook_rev", "amount", "E-book revenue, gross (INR)"),
    SalesField("bookRev", "book_rev", "amount", "Book revenue, gross (INR)"),
    SalesField("paymentType", "payment_type", "text", "Full Payment, EMI, Token + Full Payment, ..."),
    SalesField("DP", "down_payment", "amount", "EMI down payment (INR)"),
    SalesField("lastEmiDate", "last_emi_date", "date", "Due date of the last EMI"),
    SalesField("paidAmount", "paid_amount", "amount", "Paid so far (INR)"),
    SalesField("corePartner", "core_partner", "text", "Payment / financing partner"),
    SalesField("StudentContact", "student_contact", "phone", "The student's phone, as written in the CRM"),
    SalesField("StudentSignupDate", "student_signup_at", "datetime", "When the student signed up (UTC)"),
    SalesField("StudentName", "student_name", "text", "The student's name, as written"),
    SalesField("TotalAmount", "total_amount", "amount", "Price incl. GST (INR)"),
    SalesField("product", "product", "text", "Product name"),
    SalesField("mandateStatus", "mandate_status", "text", "EMI mandate: active, completed, cancelled"),
    SalesField("StudentEmail", "student_email", "email", "The student's email, as written"),
    SalesField("EBook_Net_Amount", "ebook_net_amount", "amount", "E-book revenue excl. GST (INR)"),
    SalesField("Book_Net_Amount", "book_net_amount", "amount", "Book revenue excl. GST (INR)"),
    SalesField("Product_Net_Amount", "product_net_amount", "amount", "Course revenue excl. GST (INR)"),
    SalesField("netAmount", "net_amount", "amount", "Revenue excl. GST (INR)"),
    SalesField("employeeName", "employee_name", "text", "Sales rep who closed the sale"),
    SalesField("employeeTeam", "employee_team", "text", "The rep's team"),
    SalesField("Total_emi", "total_emi", "count", "Number of EMIs"),
    SalesField("Paid_Emi_Count", "paid_emi_count", "count", "EMIs paid"),
    SalesField("Unpaid_Emi_Count", "unpaid_emi_count", "count", "EMIs not paid yet"),
    SalesField("Paid_Emi_Amount", "paid_emi_amount", "amount", "Paid through EMIs (INR)"),
    SalesField("Unpaid_Amount", "unpaid_amount", "amount", "Still to be paid (INR)"),
    SalesField("Last_Paid_Date", "last_paid_date", "date", "Date of the last payment"),
    SalesField("netAmountAfterPDD", "net_amount_after_pdd", "amount", "Net revenue after payment-gateway deductions (0 when refunded)"),
    SalesField("assignedLeadSources", "assigned_lead_sources", "text", "Funnel of the lead's assignment (null when blank)"),
    SalesField("Funnel", "funnel", "text", "Funnel as the CRM's dump says"),
)
"""Seed 002 Phase 2.1, in dump order: dump name -> table column (the documented mapping)."""

SALES_COLUMNS: Final = tuple(f.dump for f in SALES_FIELDS)
SALES_REQUIRED_COLUMNS: Final = (
    "_id", "status", "target", "courseName", "source", "createdOn", "StudentContact", "StudentName",
    "StudentEmail", "TotalAmount", "netAmount", "netAmountAfterPDD", "paidAmount", "employeeName",
    "employeeTeam", "assignedLeadSources", "Funnel",
)
"""Columns downstream stages rely on; a dump without one of them is refused. The other 27 are
optional: when the CRM stops sending one, it becomes a null column and the run says so."""

_KIND_DTYPE: Final = {
    "text": pl.String, "phone": pl.String, "email": pl.String, "amount": pl.Float64,
    "count": pl.Int64, "datetime": UTC_DTYPE, "date": pl.Date,
}


def _sales_schema() -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {"sale_id": pl.String, "dump_row": pl.Int64}
    for f in SALES_FIELDS[1:]:
        schema[f.column] = _KIND_DTYPE[f.kind]
        if f.column == "created_at":
            schema["created_date"] = pl.Date
        elif f.column == "student_contact":
            schema["phone_key"] = pl.String
            schema["phone_status"] = pl.String
        elif f.column == "student_email":
            schema["email"] = pl.String
    schema["problem"] = pl.String
    schema["extra_fields"] = pl.String
    return schema


SALES_SCHEMA: Final = _sales_schema()

ASSIGNED_LEADS_SCHEMA: Final = {
    "assignment_id": pl.String,
    "dump_row": pl.Int64,
    "source": pl.String,
    "assigned_at": UTC_DTYPE,
    "assigned_date": pl.Date,
    "phone_raw": pl.String,
    "phone_key": pl.String,
    "phone_status": pl.String,
    "employee": pl.String,
    "problem": pl.String,
    "extra_fields": pl.String,
}

# Cells that mean "no value" (compared lower-cased, stripped): null without a problem.
_MISSING_TOKENS: Final = ("", "-", "--", "na", "n/a", "null", "none", "nan", "undefined", "nil")
_USABLE_PHONE: Final = (VALID, INTERNATIONAL)


class CrmDumpError(Exception):
    """The dump as a whole cannot be used (not a row-level problem)."""


# ----------------------------------------------------------------------------------------- read


@dataclass(frozen=True)
class RawDump:
    """A dump as text: one String column per expected column (named as in the spec), plus
    ``dump_row``, ``cells`` (how many cells the row had), ``extra_fields`` (JSON or null)."""

    frame: pl.DataFrame
    header_width: int
    missing_optional: tuple[str, ...]
    extra_columns: tuple[str, ...]


def _key(name: str) -> str:
    return name.strip().casefold()


def read_dump(
    content: bytes | str,
    *,
    columns: Sequence[str],
    required: Sequence[str],
    location: str,
    what: str = "CRM dump",
) -> RawDump:
    """Split a dump into its expected columns (matched ignoring case and surrounding spaces).

    Raises :class:`CrmDumpError` for an empty dump, unreadable CSV or missing required columns.
    """
    text = decode_csv_bytes(content) if isinstance(content, bytes) else content.lstrip("\ufeff")
    try:
        records = [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
    except csv.Error as exc:
        raise CrmDumpError(f"{what} at {location} is not readable CSV ({exc}); check the CRM export") from None
    if not records:
        raise CrmDumpError(f"{what} at {location} is empty (no header row); check the CRM export")
    header = records[0]
    data = records[1:]
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        if name.strip():
            index.setdefault(_key(name), i)
    found = {c: index[_key(c)] for c in columns if _key(c) in index}
    missing_required = [c for c in required if c not in found]
    if missing_required:
        raise CrmDumpError(
            f"{what} at {location} lacks the column(s) {', '.join(missing_required)}; found: "
            f"{', '.join(h.strip() for h in header if h.strip()) or '(none)'}. Ask the CRM team to restore "
            "them (names are matched ignoring case and surrounding spaces); the previous snapshot is kept"
        )
    used = set(found.values())
    extra = [(i, header[i].strip() or f"column {i + 1}") for i in range(len(header)) if i not in used]
    width = len(header)

    cols: dict[str, list[str | None]] = {}
    for c in columns:
        i = found.get(c)
        cols[c] = [None] * len(data) if i is None else [(r[i] if i < len(r) else None) for r in data]
    extra_fields: list[str | None] = []
    for r in data:
        values = {name: r[i] for i, name in extra if i < len(r) and r[i].strip()}
        for j in range(width, len(r)):  # cells past the header's last column
            if r[j].strip():
                values[f"column {j + 1}"] = r[j]
        extra_fields.append(json.dumps(values, ensure_ascii=False) if values else None)
    frame = pl.DataFrame(
        {
            **cols,
            "dump_row": range(1, len(data) + 1),
            "cells": [len(r) for r in data],
            "extra_fields": extra_fields,
        },
        schema={**{c: pl.String for c in columns}, "dump_row": pl.Int64, "cells": pl.Int64, "extra_fields": pl.String},
    )
    return RawDump(
        frame=frame,
        header_width=width,
        missing_optional=tuple(c for c in columns if c not in found),
        extra_columns=tuple(name for _, name in extra),
    )


# ----------------------------------------------------------------------------------------- helpers


def _blank(expr: pl.Expr) -> pl.Expr:
    """True where the cell means "no value" (null, blank, "-", "N/A", ...)."""
    return expr.is_null() | expr.str.strip_chars().str.to_lowercase().is_in(list(_MISSING_TOKENS))


def _present(name: str) -> pl.Expr:
    """The cell stripped, null when it means "no value"."""
    col = pl.col(name)
    return pl.when(_blank(col)).then(None).otherwise(col.str.strip_chars())


def _shape_problems(header_width: int) -> list[pl.Expr]:
    cells = pl.col("cells")
    return [
        pl.when(cells < header_width).then(
            pl.format("the row has {} of the header's {} cells (cut short or mis-quoted)", cells, pl.lit(header_width))
        ),
        pl.when(cells > header_width).then(
            pl.format(
                "the row has {} cells but the header has {} (an unquoted comma?); values may be in the wrong "
                "columns, the surplus is in extra_fields",
                cells,
                pl.lit(header_width),
            )
        ),
    ]


def _join_problems(problems: list[pl.Expr]) -> pl.Expr:
    joined = pl.concat_str(problems, separator="; ", ignore_nulls=True)
    return pl.when(joined.str.len_chars() > 0).then(joined)


def _present_series(series: pl.Series) -> pl.Expr:
    return pl.when(_blank(pl.lit(series))).then(None).otherwise(pl.lit(series).str.strip_chars())


def _row_ids(frame: pl.DataFrame, columns: Sequence[str]) -> list[str]:
    """A stable id per row: a hash of its content plus the occurrence number for repeats."""
    seen: dict[str, int] = {}
    ids = []
    for row in frame.select(columns).rows():
        digest = hashlib.sha1("\x1f".join("" if v is None else v.strip() for v in row).encode()).hexdigest()[:16]
        n = seen.get(digest, 0) + 1
        seen[digest] = n
        ids.append(digest if n == 1 else f"{digest}-{n}")
    return ids


def _phone_problem(field: str) -> pl.Expr:
    """Never quotes the phone itself (problems reach metadata and logs)."""
    return pl.when(~pl.col("phone_status").is_in(list(_USABLE_PHONE))).then(
        pl.format(f"{field}: no usable phone ({{}})", pl.col("phone_status"))
    )


# ----------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ParsedDump:
    """A dump turned into a table, plus what the run should report about it."""

    frame: pl.DataFrame
    dump_rows: int
    missing_optional: tuple[str, ...]
    extra_columns: tuple[str, ...]
    day_first: bool
    date_order: DateOrder
    """How the dump writes its main date (assignOn / createdOn) and what decided it."""
    decimal_mark: DecimalMark | None = None
    """How the sales dump writes its amounts (1,234.50 or 1.234,50) and what decided it."""


# ----------------------------------------------------------------------------------------- assigned leads


def normalize_assigned_leads(raw: RawDump, *, timezone: str = DEFAULT_TIMEZONE, day_first_default: bool = True) -> ParsedDump:
    """The assigned-leads dump as ``ASSIGNED_LEADS_SCHEMA`` rows (one per dump row).

    ``source`` and ``employee`` are trimmed (null when blank), ``assignOn`` is local time in
    ``timezone`` -> ``assigned_at`` (UTC) and ``assigned_date`` (local), ``leadMobile`` ->
    ``phone_key`` / ``phone_status``. ``problem`` names what makes a row unusable: an empty or
    unreadable assignOn, no usable phone, an empty or ragged row.
    """
    df = raw.frame
    cleaned_on = pl.select(_present_series(df["assignOn"])).to_series()
    order = decide_date_order(cleaned_on, default_day_first=day_first_default, rows=df["dump_row"], row_label="dump row")
    day_first = order.day_first
    assigned_at, on_either = parse_in_order(cleaned_on, order, timezone=timezone)
    phones = normalize_phones(df["leadMobile"])
    df = df.with_columns(
        assignment_id=pl.Series(_row_ids(df, ASSIGNED_LEADS_COLUMNS), dtype=pl.String),
        assigned_at=assigned_at,
        assigned_date=local_date(assigned_at, timezone),
        phone_key=phones["phone_key"],
        phone_status=phones["phone_status"],
        on_text=cleaned_on,
        on_either=on_either,
    )
    empty = pl.all_horizontal(*[_blank(pl.col(c)) for c in ASSIGNED_LEADS_COLUMNS]) & pl.col("extra_fields").is_null()
    problems = [
        *_shape_problems(raw.header_width),
        pl.when(pl.col("on_text").is_null()).then(pl.lit("assignOn is empty")),
        pl.when(pl.col("on_either").is_not_null()).then(
            pl.format("assignOn '{}' could be {}: {}", pl.col("on_text"), pl.col("on_either"), pl.lit(order.why_ambiguous()))
        ),
        pl.when(pl.col("on_text").is_not_null() & pl.col("assigned_at").is_null() & pl.col("on_either").is_null()).then(
            pl.format(
                "assignOn '{}' could not be read as a date and time (expected like 2026-09-01 14:03:22{})",
                pl.col("on_text"),
                pl.lit(", numbers day first" if day_first else ", numbers month first") if order.decided_by != "mixed" else pl.lit(""),
            )
        ),
        _phone_problem("leadMobile"),
    ]
    problem = pl.when(empty).then(pl.lit("the row is empty")).otherwise(_join_problems(problems))
    out = df.select(
        "assignment_id",
        "dump_row",
        source=_present("sources"),
        assigned_at=pl.col("assigned_at"),
        assigned_date=pl.col("assigned_date"),
        phone_raw=pl.when(pl.col("leadMobile").str.strip_chars() != "").then(pl.col("leadMobile")),
        phone_key=pl.col("phone_key"),
        phone_status=pl.col("phone_status"),
        employee=_present("employee"),
        problem=problem,
        extra_fields=pl.col("extra_fields"),
    ).cast(ASSIGNED_LEADS_SCHEMA)
    return ParsedDump(out, df.height, raw.missing_optional, raw.extra_columns, day_first, order)


def parse_assigned_leads(
    content: bytes | str,
    *,
    location: str = "CRM assigned-leads dump",
    timezone: str = DEFAULT_TIMEZONE,
    day_first_default: bool = True,
) -> ParsedDump:
    """:func:`read_dump` + :func:`normalize_assigned_leads`."""
    raw = read_dump(
        content, columns=ASSIGNED_LEADS_COLUMNS, required=ASSIGNED_LEADS_COLUMNS, location=location,
        what="CRM assigned-leads dump",
    )
    return normalize_assigned_leads(raw, timezone=timezone, day_first_default=day_first_default)


# ----------------------------------------------------------------------------------------- sales


def type_sales(raw: RawDump, *, timezone: str = DEFAULT_TIMEZONE, day_first_default: bool = True) -> ParsedDump:
    """The sales dump as ``SALES_SCHEMA`` rows (one per dump row, in dump order).

    Text is trimmed (null when blank); ``StudentContact`` and ``StudentEmail`` are kept raw
    and normalized into ``phone_key``/``phone_status`` and ``email``; ``created_date`` is the
    local day of ``createdOn``. A value that cannot be read is null and named in ``problem``,
    as are an empty ``_id`` or ``createdOn``, an ``_id`` that occurs more than once (both rows
    kept), a sale without a usable phone, and ragged rows.
    """
    df = raw.frame
    exprs: dict[str, pl.Expr] = {}
    problems: list[pl.Expr] = [*_shape_problems(raw.header_width)]
    parsed: dict[str, pl.Series] = {}
    # Dates: each column's own dates decide its order; a column whose dates show nothing takes
    # what the dump's other date columns show (one export, one formatter), else the default.
    date_fields = [f for f in SALES_FIELDS if f.kind in ("datetime", "date")]
    texts = {f.dump: pl.select(_present_series(df[f.dump])).to_series() for f in date_fields}
    whole_file = decide_date_order(
        pl.concat([texts[f.dump] for f in date_fields]), default_day_first=day_first_default,
        rows=pl.concat([df["dump_row"]] * len(date_fields)), row_label="dump row",
    )
    orders: dict[str, DateOrder] = {}
    for f in date_fields:
        own = decide_date_order(texts[f.dump], default_day_first=day_first_default, rows=df["dump_row"], row_label="dump row")
        orders[f.dump] = own if own.decided_by != "default" or whole_file.decided_by != "file" else whole_file
        values, either = parse_in_order(texts[f.dump], orders[f.dump], timezone=timezone)
        parsed[f.column] = values if f.kind == "datetime" else local_date(values, timezone)
        parsed[f"__text_{f.column}"] = texts[f.dump]
        parsed[f"__either_{f.column}"] = either
    df = df.with_columns(**{k: v for k, v in parsed.items()})
    phones = normalize_phones(df["StudentContact"])
    df = df.with_columns(phone_key=phones["phone_key"], phone_status=phones["phone_status"])

    # Amounts and counts: one decimal mark for the whole dump (see funnel_assets.lib.numbers).
    number_fields = [f for f in SALES_FIELDS if f.kind in ("amount", "count")]
    numbers = read_numbers(
        df.select("dump_row", *[_present(f.dump).alias(f.dump) for f in number_fields]),
        [f.dump for f in number_fields], row_column="dump_row", row_label="dump row",
    )
    df = df.with_columns(
        **{f"__num_{f.dump}": numbers.values[f.dump] for f in number_fields},
        **{f"__either_{f.dump}": numbers.ambiguous[f.dump] for f in number_fields},
    )

    for f in SALES_FIELDS:
        col = pl.col(f.dump)
        if f.kind == "text":
            exprs[f.column] = _present(f.dump)
        elif f.kind in ("phone", "email"):
            exprs[f.column] = pl.when(col.str.strip_chars() != "").then(col)  # raw, as written
        elif f.kind in ("amount", "count"):
            number = pl.col(f"__num_{f.dump}")
            either = pl.col(f"__either_{f.dump}")
            bad = ~_blank(col) & number.is_null() & either.is_null()
            ambiguous = pl.when(either.is_not_null()).then(
                pl.format(f"{f.dump} '{{}}' could be {{}}: {{}}", col.str.strip_chars(), either,
                          pl.lit(numbers.decimal_mark.why_ambiguous()))
            )
            if f.kind == "amount":
                exprs[f.column] = number
                problems.append(
                    pl.when(bad).then(pl.format(f"{f.dump} '{{}}' is not a number", col.str.strip_chars()))
                    .otherwise(ambiguous)
                )
                if f.dump in SALES_REQUIRED_COLUMNS:
                    # Revenue is summed from these: "N/A" or "-" here is a sale without an amount, not a 0.
                    problems.append(
                        pl.when(col.is_null() | (col.str.strip_chars() == "")).then(
                            pl.lit(f"{f.dump} is empty: every sale needs it, fix it in the CRM")
                        ).when(_blank(col)).then(
                            pl.format(f"{f.dump} is '{{}}', not an amount: every sale needs it, fix it in the CRM",
                                      col.str.strip_chars())
                        )
                    )
            else:
                whole = number.is_not_null() & (number == number.round(0)) & (number.abs() < 2**53)
                exprs[f.column] = pl.when(whole).then(number).cast(pl.Int64)
                problems.append(
                    pl.when(bad | (number.is_not_null() & ~whole)).then(
                        pl.format(f"{f.dump} '{{}}' is not a whole number", col.str.strip_chars())
                    ).otherwise(ambiguous)
                )
        else:  # datetime / date: parsed above
            text = pl.col(f"__text_{f.column}")
            either = pl.col(f"__either_{f.column}")
            exprs[f.column] = pl.col(f.column)
            what = "a date and time" if f.kind == "datetime" else "a date"
            problems.append(
                pl.when(either.is_not_null()).then(
                    pl.format(f"{f.dump} '{{}}' could be {{}}: {{}}", text, either, pl.lit(orders[f.dump].why_ambiguous()))
                ).when(text.is_not_null() & pl.col(f.column).is_null()).then(
                    pl.format(f"{f.dump} '{{}}' could not be read as {what}", text)
                )
            )

    sale_id = _present("_id")
    id_count = pl.len().over(sale_id)
    problems = [
        pl.when(sale_id.is_null()).then(pl.lit("_id is empty")),
        pl.when(sale_id.is_not_null() & (id_count > 1)).then(
            pl.format("_id {} appears {} times in the dump (all rows kept)", sale_id, id_count)
        ),
        pl.when(pl.col("__text_created_at").is_null()).then(pl.lit("createdOn is empty")),
        *problems,
        _phone_problem("StudentContact"),
    ]
    empty = pl.all_horizontal(*[_blank(pl.col(c)) for c in SALES_COLUMNS]) & pl.col("extra_fields").is_null()
    exprs["created_date"] = _local_date_expr("created_at", timezone)
    exprs["phone_key"] = pl.col("phone_key")
    exprs["phone_status"] = pl.col("phone_status")
    exprs["email"] = pl.lit(normalize_emails(df["StudentEmail"]))
    exprs["dump_row"] = pl.col("dump_row")
    exprs["problem"] = pl.when(empty).then(pl.lit("the row is empty")).otherwise(_join_problems(problems))
    exprs["extra_fields"] = pl.col("extra_fields")
    out = df.select(**{name: exprs[name] for name in SALES_SCHEMA}).cast(SALES_SCHEMA)
    created = orders["createdOn"]
    return ParsedDump(out, df.height, raw.missing_optional, raw.extra_columns, created.day_first, created, numbers.decimal_mark)


def _local_date_expr(column: str, timezone: str) -> pl.Expr:
    """Local calendar date of a UTC timestamp column."""
    return pl.col(column).dt.convert_time_zone(timezone).dt.date()


def parse_sales(
    content: bytes | str,
    *,
    location: str = "CRM sales dump",
    timezone: str = DEFAULT_TIMEZONE,
    day_first_default: bool = True,
) -> ParsedDump:
    """:func:`read_dump` + :func:`type_sales`."""
    raw = read_dump(content, columns=SALES_COLUMNS, required=SALES_REQUIRED_COLUMNS, location=location, what="CRM sales dump")
    return type_sales(raw, timezone=timezone, day_first_default=day_first_default)


# ----------------------------------------------------------------------------------------- quality

MAX_PROBLEM_SHARE: Final = 0.05
"""Warn when more than this share of a dump's rows has a problem."""
MAX_UNKNOWN_PHONE_SHARE: Final = 0.10
"""Warn when more than this share of sales has no usable phone (they cannot be attributed)."""


@dataclass(frozen=True)
class CrmQuality:
    rows: int
    usable_rows: int
    problem_rows: int
    problem_share: float
    unknown_phone_rows: int
    unknown_phone_share: float
    duplicate_id_rows: int
    problems_by_field: dict[str, int]


def crm_quality(frame: pl.DataFrame, *, id_column: str | None = None) -> CrmQuality:
    """Counts for the checks: rows, rows with a problem (and by field), rows without a phone key,
    rows whose ``id_column`` occurs more than once."""
    rows = frame.height
    problem_rows = int(frame["problem"].is_not_null().sum())
    unknown = int(frame["phone_key"].is_null().sum())
    dup = 0
    if id_column is not None and rows:
        ids = frame[id_column]
        dup = int((ids.is_not_null() & ids.is_duplicated()).sum())
    by_field: dict[str, int] = {}
    if problem_rows:
        fields = (
            frame.select(pl.col("problem").drop_nulls().str.split("; ").explode())
            .select(field=pl.col("problem").str.extract(r"^(the row|[^\s:']+)"))
            .group_by("field")
            .len()
            .sort("len", descending=True)
        )
        by_field = {f or "other": n for f, n in fields.rows()}
    return CrmQuality(
        rows=rows,
        usable_rows=rows - problem_rows,
        problem_rows=problem_rows,
        problem_share=problem_rows / rows if rows else 0.0,
        unknown_phone_rows=unknown,
        unknown_phone_share=unknown / rows if rows else 0.0,
        duplicate_id_rows=dup,
        problems_by_field=by_field,
    )
