"""The CRM's nightly full dumps: assigned leads (seed 002 Phase 1.1) and sales (Phase 2.1).

Both are snapshots: every run downloads the whole dump, checks it, and replaces the table in one
transaction. A dump that is not usable (HTTP error after the retries, an HTML page, a truncated
body, missing columns, a header without rows) fails the asset before anything is written, so the
previous snapshot stays in the warehouse. So does a dump with sharply fewer rows than the snapshot
(data/config/shrink_guard.csv): the blocking check no_sharp_shrink fails and says how to accept it.
"""

import re

import dagster as dg
import polars as pl

from funnel_assets.defs.common import SETTINGS, WAREHOUSE_POOL, retried_only_when_it_may_help, safe_metadata, table_metadata
from funnel_assets.defs.crm.resources import CrmResource
from funnel_assets.defs.guards import judge_run, shrink_check_result, shrink_check_spec
from funnel_assets.defs.resources import ProjectConfigResource, WarehouseResource
from funnel_assets.lib import crm as lib
from funnel_assets.lib.fetch import FetchedCSV, FetchError, is_transient
from funnel_assets.lib.phones import mask_phone
from funnel_assets.lib.redact import safe_text
from funnel_assets.lib.warehouse import Warehouse

GROUP = "crm"
KINDS = {"http", "csv", "polars", "sql"}
NETWORK_RETRY = dg.RetryPolicy(max_retries=3, delay=120, backoff=dg.Backoff.EXPONENTIAL)
"""The CRM is a network source: a failed pull is retried by Dagster 2, 4 and 8 minutes later (on top
of the quick retries inside one attempt). Unfixable failures (401, HTML page, missing columns)
are not retried."""

ASSIGNED_COLUMNS = {
    "assignment_id": "Stable id of the dump row (hash of its content + occurrence number)",
    "dump_row": "Row number in the dump (1 = first data row)",
    "source": "sources, trimmed, as written in the CRM",
    "assigned_at": "assignOn (team's local time) as UTC",
    "assigned_date": "Day of the assignment in the team's time zone",
    "phone_raw": "leadMobile as written",
    "phone_key": "91 + 10-digit mobile (or +<digits> abroad): the join key with leads and Zoom",
    "phone_status": "valid, international, placeholder, corrupt, invalid or missing",
    "employee": "Sales rep the lead was assigned to (trimmed)",
    "problem": "Why the row is not usable (null when it is): unreadable assignOn, no usable phone, ...",
    "extra_fields": "Columns the dump has beyond the expected ones, as JSON",
}
SALES_COLUMNS = {
    **{f.column: f"{f.description} (dump: {f.dump})" for f in lib.SALES_FIELDS},
    "dump_row": "Row number in the dump (1 = first data row)",
    "created_date": "Day of the sale (createdOn) in the team's time zone",
    "phone_key": "StudentContact normalized: 91 + 10 digits (or +<digits>): the join key",
    "phone_status": "valid, international, placeholder, corrupt, invalid or missing",
    "email": "StudentEmail normalized (trimmed, lower case)",
    "problem": "Fields that could not be read (named with the value), duplicate _id, no usable phone; null when fine",
    "extra_fields": "Columns the dump has beyond the 44 expected ones, as JSON",
}


def _checks(asset: str, *, sales: bool) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec("has_usable_rows", asset=asset, blocking=True,
                          description="The dump has at least one row without a problem (blocks downstream assets)."),
        dg.AssetCheckSpec("problem_share", asset=asset,
                          description=f"At most {lib.MAX_PROBLEM_SHARE:.0%} of the rows have a problem (warning)."),
        shrink_check_spec(asset, "The dump, compared with the previous snapshot,"),
    ]
    if sales:
        specs += [
            dg.AssetCheckSpec("unknown_phone_share", asset=asset,
                              description=f"At most {lib.MAX_UNKNOWN_PHONE_SHARE:.0%} of sales have no usable StudentContact (they cannot be attributed; warning)."),
            dg.AssetCheckSpec("unique_sale_ids", asset=asset,
                              description="No _id occurs twice in the dump (both rows are kept and flagged; warning)."),
        ]
    return specs


def build_crm_assets(retry_policy: dg.RetryPolicy = NETWORK_RETRY) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
    """The two snapshot assets (tests build them with a retry policy that does not wait)."""

    @dg.asset(
        name="crm_assigned_leads",
        group_name=GROUP,
        kinds=KINDS,
        retry_policy=retry_policy,
        pool=WAREHOUSE_POOL,
        output_required=False,  # a refused shrink writes nothing and materializes nothing
        check_specs=_checks("crm_assigned_leads", sales=False),
        tags={"layer": "raw", "source": "crm"},
        description=(
            "Leads the CRM assigned to sales reps (seed 002 Phase 1.1: sources, assignOn, leadMobile, "
            "employee), one row per dump row, normalized: phone key, assignment time in UTC and local day. "
            "Rows that cannot be used are kept with a `problem`. Snapshot of the CRM's full dump, refreshed nightly."
        ),
    )
    def crm_assigned_leads(
        context: dg.AssetExecutionContext, crm: CrmResource, warehouse: WarehouseResource, project_config: ProjectConfigResource
    ):
        """Download the assigned-leads dump, normalize it, replace the snapshot unless it shrinks sharply, report."""
        fetched = fetch_dump(crm, "assigned_leads", context.log)
        parsed = parse_dump(lib.parse_assigned_leads, fetched)
        yield from write_snapshot(
            context, warehouse.get(), "crm_assigned_leads", parsed, fetched, ASSIGNED_COLUMNS, id_column=None, project_config=project_config
        )

    @dg.asset(
        name="crm_sales",
        group_name=GROUP,
        kinds=KINDS,
        retry_policy=retry_policy,
        pool=WAREHOUSE_POOL,
        output_required=False,  # a refused shrink writes nothing and materializes nothing
        check_specs=_checks("crm_sales", sales=True),
        tags={"layer": "raw", "source": "crm"},
        description=(
            "Sales from the CRM (the 44 columns of seed 002 Phase 2.1) in snake_case, typed: amounts as "
            "numbers, counts as integers, dates and UTC times; plus phone key, normalized email and the local "
            "sale day. Unreadable values are null and named in `problem`; no row is dropped. Snapshot of the "
            "CRM's full dump, refreshed nightly."
        ),
    )
    def crm_sales(
        context: dg.AssetExecutionContext, crm: CrmResource, warehouse: WarehouseResource, project_config: ProjectConfigResource
    ):
        """Download the sales dump, type it, replace the snapshot unless it shrinks sharply, report."""
        fetched = fetch_dump(crm, "sales", context.log)
        parsed = parse_dump(lib.parse_sales, fetched)
        yield from write_snapshot(
            context, warehouse.get(), "crm_sales", parsed, fetched, SALES_COLUMNS, id_column="sale_id", project_config=project_config
        )

    return crm_assigned_leads, crm_sales


# -------------------------------------------------------------------------------------- steps


def fetch_dump(crm: CrmResource, dump: str, log: dg.DagsterLogManager | None = None) -> FetchedCSV:
    """The dump's bytes, or a Failure that says what went wrong (retried only when it may help);
    quick retries are reported in the step's log."""
    try:
        return crm.fetch(dump, warn=log.warning if log is not None else None)
    except FetchError as exc:
        raise dg.Failure(
            description=safe_text(f"{exc} The previous snapshot is kept.", crm.secrets()),
            metadata=safe_metadata({"location": exc.location, "http_status": exc.status or "none", "attempts": exc.attempts}, crm.secrets()),
            allow_retries=is_transient(exc),
        ) from None


def parse_dump(parse, fetched: FetchedCSV) -> lib.ParsedDump:
    """Parse the dump; refuse one that cannot be read or has no rows (the snapshot stays)."""
    try:
        parsed = parse(fetched.content, location=fetched.location, timezone=SETTINGS.timezone)
    except lib.CrmDumpError as exc:
        raise dg.Failure(description=safe_text(f"{exc}."), allow_retries=False) from None
    if parsed.dump_rows == 0:
        raise dg.Failure(
            description=(
                f"{fetched.location}: the dump has a header but no rows. A full dump is never empty, so this "
                "is taken as a CRM export problem and the previous snapshot is kept; check the CRM's export."
            ),
            allow_retries=False,
        )
    return parsed


def write_snapshot(
    context: dg.AssetExecutionContext,
    db: Warehouse,
    table: str,
    parsed: lib.ParsedDump,
    fetched: FetchedCSV,
    descriptions: dict[str, str],
    *,
    id_column: str | None,
    project_config: ProjectConfigResource,
):
    """Replace the snapshot and report it; or, when the dump has sharply fewer rows than the
    snapshot, write nothing and fail the blocking ``no_sharp_shrink`` check."""
    frame = parsed.frame
    with retried_only_when_it_may_help(keeps="The previous snapshot is kept."):
        rule = project_config.shrink_rules()[table]
    previous_rows = db.row_count(table) if db.has_table(table) else None
    verdict = judge_run(
        context, table, rule, {"the snapshot": previous_rows or 0}, {"the snapshot": frame.height}
    )
    if verdict.refused:
        yield shrink_check_result(table, verdict)
        return
    report = db.replace_table(table, frame)
    quality = lib.crm_quality(frame, id_column=id_column)
    context.log.info(
        f"{fetched.location}: {parsed.dump_rows} dump rows in {fetched.attempts} request(s); "
        f"{quality.problem_rows} with a problem; {table} replaced (was {previous_rows if previous_rows is not None else 'absent'})"
    )
    yield dg.MaterializeResult(
        metadata=table_metadata(
            frame,
            report,
            descriptions=descriptions,
            source=fetched.location,
            source_sha256=fetched.sha256,
            fetched_at=fetched.fetched_at.isoformat(),
            requests=dg.MetadataValue.int(fetched.attempts),
            previous_rows=dg.MetadataValue.int(previous_rows) if previous_rows is not None else "no previous snapshot",
            problem_rows=dg.MetadataValue.int(quality.problem_rows),
            problems_by_field=dg.MetadataValue.md(
                "\n".join(f"- {f}: {n}" for f, n in quality.problems_by_field.items()) or "none"
            ),
            problem_examples=dg.MetadataValue.md(_problem_examples(frame)),
            date_order=parsed.date_order.label,
            date_order_decided_by=parsed.date_order.describe(),
            **({"decimal_mark": parsed.decimal_mark.describe()} if parsed.decimal_mark else {}),
            missing_optional_columns=", ".join(parsed.missing_optional) or "none",
            extra_columns=(
                ", ".join(parsed.extra_columns) + " (kept per row in extra_fields as JSON)" if parsed.extra_columns else "none"
            ),
        ),
        check_results=[shrink_check_result(table, verdict), *_check_results(table, quality, sales=id_column is not None)],
    )


_LONG_DIGITS = re.compile(r"[+\d][\d\s\-]{6,}\d")


def _problem_examples(frame: pl.DataFrame, limit: int = 5) -> str:
    """A few problem rows for the UI; any long digit run (a phone in the wrong column) is masked."""
    rows = frame.filter(pl.col("problem").is_not_null()).select("dump_row", "phone_raw" if "phone_raw" in frame.columns else "student_contact", "problem").head(limit)
    lines = []
    for dump_row, phone, problem in rows.rows():
        text = _LONG_DIGITS.sub(lambda m: mask_phone(m.group(0)) or "***", problem)
        lines.append(f"- row {dump_row} (phone {mask_phone(phone) or 'blank'}): {text}")
    return "\n".join(lines) or "none"


def _check_results(table: str, q: lib.CrmQuality, *, sales: bool) -> list[dg.AssetCheckResult]:
    results = [
        dg.AssetCheckResult(
            check_name="has_usable_rows", asset_key=table, passed=q.usable_rows > 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"rows": q.rows, "usable_rows": q.usable_rows},
        ),
        dg.AssetCheckResult(
            check_name="problem_share", asset_key=table, passed=q.problem_share <= lib.MAX_PROBLEM_SHARE,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"share": round(q.problem_share, 4), "maximum": lib.MAX_PROBLEM_SHARE, "problem_rows": q.problem_rows,
                      "what_to_do": f"query {table} where problem is not null, and fix those records in the CRM"},
        ),
    ]
    if sales:
        results += [
            dg.AssetCheckResult(
                check_name="unknown_phone_share", asset_key=table,
                passed=q.unknown_phone_share <= lib.MAX_UNKNOWN_PHONE_SHARE,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"share": round(q.unknown_phone_share, 4), "maximum": lib.MAX_UNKNOWN_PHONE_SHARE,
                          "sales_without_phone": q.unknown_phone_rows},
            ),
            dg.AssetCheckResult(
                check_name="unique_sale_ids", asset_key=table, passed=q.duplicate_id_rows == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"rows_with_duplicate_id": q.duplicate_id_rows},
            ),
        ]
    return results


crm_assigned_leads, crm_sales = build_crm_assets()
