"""Performance-marketing leads from the Google Sheet export ("Top of Funnel", seed 002).

The sheet's columns: Name, Email, Phone, City, Question 1, utmSource, utmMedium, utmCamp,
created date. Headers are matched by name (case, spaces and underscores don't matter), so a
re-ordered or re-labelled sheet still loads; a sheet without phone, email or created date is
refused with the list of columns it does have.

Every row of the export ends up in exactly one place: ``leads`` (usable), or ``rejects``
(with a plain-language reason). Nothing is silently dropped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date

import polars as pl

from .config import FunnelMapping
from .dates import DateOrder, decide_date_order, local_date, parse_in_order
from .fetch import decode_csv_bytes
from .phones import normalize_phones
from .text import clean_token_expr, email_is_valid_expr, header_key, normalize_email_expr, proper_case_expr

# canonical column -> accepted header spellings, compared after text.header_key()
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "fullname", "leadname"),
    "email": ("email", "emailaddress", "emailid"),
    "phone": ("phone", "phonenumber", "mobile", "mobilenumber", "contactnumber"),
    "city": ("city",),
    "question_1": ("question1",),
    "utm_source": ("utmsource",),
    "utm_medium": ("utmmedium",),
    "utm_campaign": ("utmcamp", "utmcampaign"),
    "created": ("createddate", "createdat", "created", "createdtime", "timestamp"),
}
REQUIRED_COLUMNS = ("email", "phone", "created")
# How the sheet itself labels each canonical column (used in messages people act on).
SHEET_HEADERS: dict[str, str] = {
    "name": "Name",
    "email": "Email",
    "phone": "Phone",
    "city": "City",
    "question_1": "Question 1",
    "utm_source": "utmSource",
    "utm_medium": "utmMedium",
    "utm_campaign": "utmCamp",
    "created": "created date",
}

LEADS_SCHEMA = {
    "lead_id": pl.String,
    "created_date": pl.Date,
    "created_at": pl.Datetime("us", "UTC"),
    "name": pl.String,
    "email": pl.String,
    "email_valid": pl.Boolean,
    "phone_raw": pl.String,
    "phone_key": pl.String,
    "phone_status": pl.String,
    "city": pl.String,
    "question_1": pl.String,
    "utm_source": pl.String,
    "utm_medium": pl.String,
    "utm_campaign": pl.String,
    "source": pl.String,
    "funnel": pl.String,
    "funnel_mapped": pl.Boolean,
    "is_duplicate": pl.Boolean,
    "duplicate_of": pl.String,
    "sheet_row": pl.Int64,
    "extra_fields": pl.String,
}
REJECTS_SCHEMA = {
    "created_date": pl.Date,
    "sheet_row": pl.Int64,
    "reason": pl.String,
    "reason_code": pl.String,
    "created_at": pl.Datetime("us", "UTC"),
    "name": pl.String,
    "email": pl.String,
    "phone_raw": pl.String,
    "raw_row": pl.String,
}


class LeadsSheetError(Exception):
    """The export as a whole cannot be read (not a row-level problem)."""


@dataclass(frozen=True)
class CleanedLeads:
    leads: pl.DataFrame
    rejects: pl.DataFrame
    day_first: bool
    missing_optional_columns: tuple[str, ...]
    date_order: DateOrder
    """How the sheet writes its dates and what decided it (the file, or the configured default)."""


def read_leads_sheet(content: bytes, *, location: str) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Parse the export into canonical string columns plus ``sheet_row`` and ``extra_fields``.

    Returns the frame and the optional columns the sheet lacks.
    """
    text = decode_csv_bytes(content)
    if not text.strip():
        raise LeadsSheetError(f"{location}: the export is empty; check the sheet still has its header row")
    # Python's csv reader, not polars: a row with surplus cells (a stray comma) must become
    # extra_fields on that row, not fail the whole export.
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise LeadsSheetError(f"{location}: is not a readable CSV export ({exc}); download the sheet as CSV again") from exc
    header = [h.strip() for h in records[0]]
    data = [r for r in records[1:] if r]  # [] is a bare line break, not a sheet row
    width = max([len(header), *map(len, data)]) if data else len(header)
    index_by_key: dict[str, int] = {}
    for i, name in enumerate(header):
        if name:
            index_by_key.setdefault(header_key(name), i)
    found: dict[str, int] = {}
    for canonical, aliases in HEADER_ALIASES.items():
        for alias in aliases:
            if alias in index_by_key:
                found[canonical] = index_by_key[alias]
                break
    missing = [c for c in REQUIRED_COLUMNS if c not in found]
    if missing:
        raise LeadsSheetError(
            f"{location}: the sheet has no {', '.join(SHEET_HEADERS[c] for c in missing)} column(s); found columns: "
            f"{', '.join(h for h in header if h) or '(none)'}. Restore the column headers (Name, Email, Phone, "
            f"City, Question 1, utmSource, utmMedium, utmCamp, created date) and run again"
        )
    missing_optional = tuple(c for c in HEADER_ALIASES if c not in found)

    def cell(row: list[str], i: int) -> str | None:
        return row[i] if i < len(row) and row[i] != "" else None

    columns = {c: [cell(r, found[c]) for r in data] if c in found else [None] * len(data) for c in HEADER_ALIASES}
    # everything else is kept: other named columns, and cells under a blank header or past the last one
    extra = [(i, header[i] if i < len(header) and header[i] else f"column {i + 1}") for i in range(width) if i not in found.values()]
    extra_fields = []
    for r in data:
        values = {name: r[i] for i, name in extra if i < len(r) and r[i].strip()}
        extra_fields.append(json.dumps(values, ensure_ascii=False) if values else None)
    out = pl.DataFrame(
        {**columns, "sheet_row": list(range(2, len(data) + 2)), "extra_fields": extra_fields},
        schema={**{c: pl.String for c in HEADER_ALIASES}, "sheet_row": pl.Int64, "extra_fields": pl.String},
    )
    return out, missing_optional


def clean_leads(
    raw: pl.DataFrame,
    mapping: FunnelMapping,
    *,
    timezone: str,
    day_first_default: bool = False,
    first_date: date | None = None,
    location: str = "leads sheet",
) -> CleanedLeads:
    """Normalize every row and split the sheet into usable leads and rejects.

    - phone → ``phone_key`` (``91`` + 10 digits, or ``+<digits>`` for other countries) and
      ``phone_status``; email lower-cased and checked; name and city properly cased; UTM
      values trimmed and lower-cased.
    - ``source`` is the campaign (utmCamp), or utmSource when there is no campaign; it is
      mapped to a funnel through the funnel mapping.
    - ``created date`` is read as local time in ``timezone``; day-first vs month-first is
      decided for the whole file by its own dates (a day above 12 anywhere settles it), else
      ``day_first_default``. A sheet with both kinds of dates is read date by date: each is read
      the only way it can be, and one that could be either (01/12/2026) is a reject saying so.
    - A row without a usable phone or email, or without a readable date, is a reject; so is
      one dated before ``first_date`` (the first partition), which no partition would hold.
    - Duplicates (same phone key, else same email) are kept and flagged; the earliest is the
      original (first touch).
    """
    # Decided by the file's own dates (no majority vote): a day above 12 anywhere settles it.
    order = decide_date_order(raw["created"], default_day_first=day_first_default, rows=raw["sheet_row"])
    day_first = order.day_first
    phones = normalize_phones(raw["phone"])
    created_at, created_either = parse_in_order(raw["created"], order, timezone=timezone)
    df = raw.with_columns(
        created_either=created_either,
        phone_key=phones["phone_key"],
        phone_status=phones["phone_status"],
        created_at=created_at,
        created_date=local_date(created_at, timezone),
        name_clean=proper_case_expr(pl.col("name")),
        email_clean=normalize_email_expr(pl.col("email")),
        city_clean=proper_case_expr(pl.col("city")),
        question_clean=pl.col("question_1").str.strip_chars().replace("", None),
        utm_source_clean=clean_token_expr(pl.col("utm_source")),
        utm_medium_clean=clean_token_expr(pl.col("utm_medium")),
        utm_campaign_clean=clean_token_expr(pl.col("utm_campaign")),
    ).with_columns(
        email_valid=email_is_valid_expr(pl.col("email_clean")).fill_null(False),
    )
    df = df.with_columns(lead_id=pl.Series(_row_ids(raw), dtype=pl.String))

    has_phone = pl.col("phone_key").is_not_null()
    blank = [pl.col(c).str.strip_chars().replace("", None).is_null() for c in HEADER_ALIASES]
    empty_row = pl.all_horizontal(*blank, pl.col("extra_fields").is_null())
    created_text = pl.col("created").str.strip_chars().replace("", None)
    # (code, condition, plain-language reason): the first that applies wins
    rules = [
        ("empty_row", empty_row, pl.lit("the row is empty; delete the empty row from the sheet")),
        (
            "date_missing",
            pl.col("created_at").is_null() & created_text.is_null(),
            pl.lit("created date is empty; fill in when the lead came in, written like the sheet's other dates"),
        ),
        (
            "date_ambiguous",
            pl.col("created_either").is_not_null(),
            pl.format(
                "created date {} could be {}: {}; write it with the month's name (1 Dec 2026) or as 2026-12-01",
                created_text,
                pl.col("created_either"),
                pl.lit(order.why_ambiguous()),
            ),
        ),
        (
            "date_unreadable",
            pl.col("created_at").is_null(),
            pl.format(
                "created date {} could not be read; write it as the sheet's other dates are written ({})",
                created_text,
                pl.lit(
                    "with the month's name, like 31 Jan 2025 10:00:00, or as 2025-01-31 10:00:00"
                    if order.decided_by == "mixed"
                    else "day first, like 31/01/2025 10:00:00" if day_first else "month first, like 1/31/2025 10:00:00"
                ),
            ),
        ),
        (
            "no_contact",
            ~has_phone & ~pl.col("email_valid"),
            pl.format(
                "no usable phone or email (phone {}, email {}); add a phone or an email in the sheet",
                pl.col("phone_status"),
                pl.when(pl.col("email_clean").is_null()).then(pl.lit("missing")).otherwise(pl.lit("invalid")),
            ),
        ),
    ]
    if first_date is not None:
        rules.append(
            (
                "before_start",
                pl.col("created_date") < first_date,
                pl.lit(f"created before the pipeline's first day {first_date}; set FUNNEL_START_DATE earlier to load it"),
            )
        )
    code, reason = pl.when(rules[0][1]).then(pl.lit(rules[0][0])), pl.when(rules[0][1]).then(rules[0][2])
    for name, condition, text in rules[1:]:
        code, reason = code.when(condition).then(pl.lit(name)), reason.when(condition).then(text)
    df = df.with_columns(reason=reason.otherwise(None), reason_code=code.otherwise(None))

    bad = df.filter(pl.col("reason").is_not_null())
    rejects = bad.select(
        created_date=pl.when(pl.col("created_date") >= (first_date or date.min)).then(pl.col("created_date")),
        sheet_row=pl.col("sheet_row"),
        reason=pl.col("reason"),
        reason_code=pl.col("reason_code"),
        created_at=pl.col("created_at"),
        name=pl.col("name_clean"),
        email=pl.col("email_clean"),
        phone_raw=pl.col("phone"),
        raw_row=pl.Series(
            [json.dumps(dict(zip(HEADER_ALIASES, r)), ensure_ascii=False) for r in bad.select(list(HEADER_ALIASES)).rows()],
            dtype=pl.String,
        ),
    ).cast(REJECTS_SCHEMA)

    good = df.filter(pl.col("reason").is_null()).with_columns(
        source=pl.coalesce("utm_campaign_clean", "utm_source_clean"),
    )
    good = mapping.apply(good, "source")
    good = _flag_duplicates(good)
    leads = good.select(
        "lead_id",
        "created_date",
        "created_at",
        name=pl.col("name_clean"),
        email=pl.col("email_clean"),
        email_valid=pl.col("email_valid"),
        phone_raw=pl.col("phone"),
        phone_key=pl.col("phone_key"),
        phone_status=pl.col("phone_status"),
        city=pl.col("city_clean"),
        question_1=pl.col("question_clean"),
        utm_source=pl.col("utm_source_clean"),
        utm_medium=pl.col("utm_medium_clean"),
        utm_campaign=pl.col("utm_campaign_clean"),
        source=pl.col("source"),
        funnel=pl.col("funnel"),
        funnel_mapped=pl.col("funnel_mapped"),
        is_duplicate=pl.col("is_duplicate"),
        duplicate_of=pl.col("duplicate_of"),
        sheet_row=pl.col("sheet_row"),
        extra_fields=pl.col("extra_fields"),
    ).cast(LEADS_SCHEMA).sort("created_at", "sheet_row")
    missing_optional = tuple(c for c in HEADER_ALIASES if raw[c].null_count() == raw.height and raw.height)
    return CleanedLeads(
        leads=leads, rejects=rejects.sort("sheet_row"), day_first=day_first, missing_optional_columns=missing_optional,
        date_order=order,
    )


def _row_ids(raw: pl.DataFrame) -> list[str]:
    """A stable id per sheet row: a hash of its content, so re-exports keep ids when rows move."""
    seen: dict[str, int] = {}
    ids = []
    for row in raw.select(list(HEADER_ALIASES)).rows():
        digest = hashlib.sha1("\x1f".join("" if v is None else v.strip() for v in row).encode()).hexdigest()[:16]
        n = seen.get(digest, 0)
        seen[digest] = n + 1
        ids.append(digest if n == 0 else f"{digest}-{n + 1}")
    return ids


def _flag_duplicates(df: pl.DataFrame) -> pl.DataFrame:
    """The earliest lead per person (phone key, else email) is the original; later ones are duplicates.

    A person is a phone key. A row without a usable phone belongs to the person whose phone
    was given (earliest) with the same email, so an email-only resubmission (or an email-only
    first submission followed by one with a phone) is the same person; rows with different
    phones are different people even when they share an email. Without any phone for that
    email, the email itself is the person.
    """
    ordered = df.sort("created_at", "sheet_row").with_columns(
        __email=pl.when(pl.col("email_valid")).then(pl.col("email_clean"))
    )
    owners = (
        ordered.filter(pl.col("phone_key").is_not_null() & pl.col("__email").is_not_null())
        .group_by("__email", maintain_order=True)
        .agg(__owner=pl.col("phone_key").first())
    )
    ordered = ordered.join(owners, on="__email", how="left", maintain_order="left")
    person = pl.coalesce(
        pl.lit("p:") + pl.col("phone_key"),
        pl.lit("p:") + pl.col("__owner"),
        pl.lit("e:") + pl.col("__email"),
        pl.lit("r:") + pl.col("lead_id"),
    )
    ordered = ordered.with_columns(__person=person).drop("__email", "__owner")
    ordered = ordered.with_columns(
        duplicate_of=pl.col("lead_id").first().over("__person"),
    ).with_columns(
        is_duplicate=pl.col("duplicate_of") != pl.col("lead_id"),
    ).with_columns(duplicate_of=pl.when(pl.col("is_duplicate")).then(pl.col("duplicate_of")))
    return ordered.drop("__person")


# ------------------------------------------------------------------------------ checks

MIN_VALID_PHONE_SHARE = 0.90
MAX_DUPLICATE_SHARE = 0.10
MAX_UNMAPPED_SHARE = 0.05


@dataclass(frozen=True)
class LeadsQuality:
    rows: int
    valid_phone_share: float
    duplicate_share: float
    unmapped_share: float
    unmapped_sources: tuple[str, ...]


def leads_quality(leads: pl.DataFrame) -> LeadsQuality:
    """The figures the marketing_leads checks judge."""
    n = leads.height
    if n == 0:
        return LeadsQuality(0, 0.0, 0.0, 0.0, ())
    valid = leads.filter(pl.col("phone_status").is_in(["valid", "international"])).height
    dupes = leads.filter(pl.col("is_duplicate")).height
    unmapped = leads.filter(~pl.col("funnel_mapped"))
    sources = tuple(sorted({s or "(blank)" for s in unmapped["source"].to_list()}))
    return LeadsQuality(n, valid / n, dupes / n, unmapped.height / n, sources)
