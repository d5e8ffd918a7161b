"""Identity and the canonical model (design.md, "Canonical"): touchpoints and people.

``touchpoints`` turns the sources' rows (marketing leads, Zoom sessions, CRM assignments) into
one row per touch for the run's days; ``people`` re-resolves identity over every touch on each
run: the phone key first (it joins marketing, engagement and sales, as seed 002 requires), then
email. The rules live in :mod:`funnel_assets.lib.identity`.

Missing inputs: a source this Dagster instance has never materialized (no Zoom file dropped yet,
the CRM not set up, the sheet never loaded) reads as empty, with a warning in the log and in the
metadata (``defs.common.read_source_table``); if it was materialized before but its table is gone
(another warehouse, a dropped table), the run fails.
"""

from datetime import timedelta

import dagster as dg
import polars as pl
import sqlalchemy as sa

from funnel_assets.defs.common import (
    WAREHOUSE_POOL,
    daily_backfill_policy,
    daily_partitions,
    partition_dates,
    read_source_table,
    table_metadata,
)
from funnel_assets.defs.resources import ProjectConfigResource, WarehouseResource
from funnel_assets.lib import identity as lib
from funnel_assets.lib.crm import ASSIGNED_LEADS_SCHEMA
from funnel_assets.lib.leads_sheet import LEADS_SCHEMA
from funnel_assets.lib.zoom_sessions import ROW_SCHEMA as ZOOM_SCHEMA
from funnel_assets.lib.warehouse import Warehouse, WarehouseError

GROUP = "identity"
MAX_CONTACTLESS_SHARE = 0.02
MAX_UNKNOWN_ATTENDEE_SHARE = 0.10
MIN_PHONE_IDENTITY_SHARE = 0.85

TOUCHPOINT_COLUMNS = {
    "touchpoint_id": "Stable id of the touch: hash of source system, source row id and kind",
    "day": "Day the source records the touch under, in the team's time zone (the partition): the lead's created date, "
    "the Zoom session's date, the assignment's date. A registration made before its session is in the session's day.",
    "occurred_at": "When it happened (UTC): lead created, registered (else the session start), first join (else the "
    "session start), assigned",
    "kind": "lead_captured, webinar_registered, webinar_attended, bootcamp_registered, bootcamp_attended or sales_assigned",
    "source_system": "leads_sheet, zoom or crm",
    "phone_key": "91 + 10-digit mobile (or +<digits> abroad) as the source gives it; null when it has none usable",
    "email": "Lower-cased valid email, when the source has one (the CRM dump has none)",
    "name": "The person's name as the source gives it",
    "source": "Leads: utmCamp (else utmSource); Zoom: the registration's source name; CRM: the assignment's sources",
    "utm_source": "Leads only: utmSource",
    "utm_medium": "Leads only: utmMedium",
    "campaign": "Leads only: utmCamp",
    "funnel": "The source's funnel from data/config/funnel_mapping.csv (unknown: Other Sources (Miscellaneous)); "
    "null when the touch has no source",
    "program": "Zoom: the session's program (ACCA, CMA, ...)",
    "session_key": "Zoom: <webinar id>@<session date>",
    "approval_status": "Zoom registrations: approved, denied or pending",
    "employee": "CRM: the sales rep the lead was assigned to",
    "source_row_id": "The row in the source table: marketing_leads.lead_id, zoom_sessions session_key|person_key, "
    "crm_assigned_leads.assignment_id",
}

PEOPLE_COLUMNS = {
    "person_key": "The person: their phone key; else the phone another touch with the same email gives; "
    "else email:<email>; else row:<touchpoint id>",
    "identity": "How the person was identified: phone, email or row",
    "phone_key": "The person's phone key (null for email and row people)",
    "email": "The earliest email the person gave",
    "name": "The earliest name the person gave",
    "program": "The program of the earliest Zoom session they registered for or attended",
    "first_touch_at": "Earliest touch (UTC); ties: lead, then registration, then attendance, then assignment",
    "first_touch_day": "The first touch's day (see touchpoints.day)",
    "first_touch_kind": "Kind of the first touch",
    "first_touch_system": "Source system of the first touch",
    "first_touch_source": "Source of the first touch (may be null: a Zoom registration without source name)",
    "first_touch_funnel": "Funnel of the first touch's source",
    "first_touch_campaign": "utmCamp of the first touch (leads)",
    "first_touch_utm_source": "utmSource of the first touch (leads)",
    "first_touch_utm_medium": "utmMedium of the first touch (leads)",
    "first_touch_id": "touchpoint_id of the first touch",
    "touches": "Number of touches",
    "leads": "Lead-sheet submissions (repeats included)",
    "registrations": "Zoom registrations (webinars and bootcamp days)",
    "attendances": "Zoom sessions attended",
    "assignments": "CRM assignments to a sales rep",
    "registered_any": "Registered for at least one session",
    "attended_any": "Attended at least one session",
    "first_assigned_at": "First assignment to a sales rep (UTC)",
    "last_touch_at": "Latest touch (UTC)",
}

LEAD_READ = list(lib.REQUIRED_COLUMNS["marketing_leads"])
ZOOM_READ = [*lib.REQUIRED_COLUMNS["zoom_sessions"], "run_as"]
CRM_READ = list(lib.REQUIRED_COLUMNS["crm_assigned_leads"])

TOUCHPOINT_CHECKS = [
    dg.AssetCheckSpec(
        "touchpoint_id_unique",
        asset="touchpoints",
        blocking=True,
        description="No two touches share a touchpoint_id (a repeat would double-count people's touches downstream).",
    ),
    dg.AssetCheckSpec(
        "contactless_share",
        asset="touchpoints",
        description=(
            f"At most {MAX_CONTACTLESS_SHARE:.0%} of touches have neither phone nor email (such a touch can only be its "
            "own person). Attendance at sessions run as Zoom meetings, which collect no contact details, is counted apart."
        ),
    ),
    dg.AssetCheckSpec(
        "attendees_without_lead",
        asset="touchpoints",
        description=(
            f"At most {MAX_UNKNOWN_ATTENDEE_SHARE:.0%} of the day's Zoom attendees (with a phone or an email) match no "
            "marketing lead and no CRM assignment at all: more means people register outside the sheet's campaigns, "
            "or their phones/emails no longer join."
        ),
    ),
]

PEOPLE_CHECKS = [
    dg.AssetCheckSpec(
        "person_key_unique",
        asset="people",
        blocking=True,
        description="One row per person: person_key never repeats.",
    ),
    dg.AssetCheckSpec(
        "phone_identity_share",
        asset="people",
        description=f"At least {MIN_PHONE_IDENTITY_SHARE:.0%} of people are identified by a phone key (the key that joins marketing and sales).",
    ),
]


@dg.asset(
    group_name=GROUP,
    kinds={"polars", "sql"},
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy,
    pool=WAREHOUSE_POOL,
    deps=["marketing_leads", "zoom_sessions", "crm_assigned_leads"],
    check_specs=TOUCHPOINT_CHECKS,
    tags={"layer": "canonical"},
)
def touchpoints(
    context: dg.AssetExecutionContext,
    project_config: ProjectConfigResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Every touch of every person, one row per event: lead captured (each sheet submission, repeats
    included), webinar/bootcamp registered and attended (Zoom), assigned to sales (CRM). Each with
    its time, phone key, email, source, UTM values, funnel, program and sales rep. CRM rows with a
    problem are not touches (they stay in crm_assigned_leads with the reason). Partitioned by the
    day the source records the touch under."""
    start, end = partition_dates(context)
    db = warehouse.get()
    notes: list[str] = []
    days = lambda column: dict(partition_column=column, start=start, end=end)  # noqa: E731
    leads = read_source_table(context, db, "marketing_leads", schema=LEADS_SCHEMA, notes=notes, columns=LEAD_READ, **days("created_date"))
    zoom_rows = read_source_table(context, db, "zoom_sessions", schema=ZOOM_SCHEMA, notes=notes, columns=ZOOM_READ, **days("session_date"))
    assignments, crm_note = _read_assignments(context, db, start, end)

    touches = lib.build_touchpoints(leads, zoom_rows, assignments, project_config.funnel_mapping())
    report = db.replace_partitions("touchpoints", touches, partition_column="day", start=start, end=end)
    context.log.info(f"{touches.height} touches for {start} .. {end - timedelta(days=1)}")

    quality = lib.contact_quality(touches, zoom_rows.filter(pl.col("run_as") == "meeting")["session_key"])
    attendees, unknown = lib.unknown_attendees(touches, *_known_contacts(db))
    by_kind = touches.group_by("kind").len().sort("kind")
    return dg.MaterializeResult(
        metadata=table_metadata(
            touches,
            report,
            descriptions=TOUCHPOINT_COLUMNS,
            partition_column="day",
            touches_by_kind=dg.MetadataValue.md(
                "| kind | touches |\n|---|---|\n" + "\n".join(f"| {k} | {n} |" for k, n in by_kind.rows())
            ),
            input_rows=dg.MetadataValue.json(
                {"marketing_leads": leads.height, "zoom_sessions": zoom_rows.height, "crm_assigned_leads": assignments.height}
            ),
            crm_rows_with_problem=dg.MetadataValue.int(assignments.filter(pl.col("problem").is_not_null()).height),
            crm_assignments=crm_note,
            **({"inputs_not_loaded": dg.MetadataValue.md("\n".join(f"- {n}" for n in notes))} if notes else {}),
            days_in_run=f"{start} .. {end - timedelta(days=1)}",
        ),
        check_results=[
            dg.AssetCheckResult(
                check_name="touchpoint_id_unique",
                passed=touches["touchpoint_id"].n_unique() == touches.height,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"touches": touches.height, "repeated": touches.height - touches["touchpoint_id"].n_unique()},
            ),
            dg.AssetCheckResult(
                check_name="contactless_share",
                passed=quality.share <= MAX_CONTACTLESS_SHARE,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "share": round(quality.share, 4),
                    "maximum": MAX_CONTACTLESS_SHARE,
                    "contactless": quality.contactless,
                    "touches_considered": quality.touches,
                    "meeting_attendances_without_contact": quality.meeting_contactless,
                },
            ),
            dg.AssetCheckResult(
                check_name="attendees_without_lead",
                passed=attendees == 0 or unknown / attendees <= MAX_UNKNOWN_ATTENDEE_SHARE,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "share": round(unknown / attendees, 4) if attendees else 0.0,
                    "maximum": MAX_UNKNOWN_ATTENDEE_SHARE,
                    "attendees": attendees,
                    "without_lead_or_assignment": unknown,
                },
            ),
        ],
    )


@dg.asset(
    group_name=GROUP,
    kinds={"polars", "sql"},
    pool=WAREHOUSE_POOL,
    deps=["touchpoints"],
    check_specs=PEOPLE_CHECKS,
    tags={"layer": "canonical"},
)
def people(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per person across leads, Zoom and the CRM, rebuilt from all touchpoints on every run:
    identified by phone key, else by the phone another touch with the same email gives, else by
    email, else the touch itself. With their first touch (time, kind, source, UTM, funnel), how many
    leads, registrations, attendances and assignments they have, and their first assignment."""
    db = warehouse.get()
    touches = _read_required(db, "touchpoints", None, None, None, list(lib.PEOPLE_INPUT_COLUMNS))
    persons = lib.resolve_people(touches)
    report = db.replace_table("people", persons)
    stats = lib.identity_stats(touches, persons)
    context.log.info(f"{stats.people} people from {stats.touches} touches ({stats.by_identity})")
    repeated = persons.height - persons["person_key"].n_unique()
    phone_share = stats.by_identity["phone"] / stats.people if stats.people else 1.0
    return dg.MaterializeResult(
        metadata=table_metadata(
            persons,
            report,
            descriptions=PEOPLE_COLUMNS,
            touches=dg.MetadataValue.int(stats.touches),
            people_by_identity=dg.MetadataValue.md(
                "| identity | people |\n|---|---|\n" + "\n".join(f"| {k} | {n} |" for k, n in stats.by_identity.items())
            ),
            touches_adopting_phone=dg.MetadataValue.int(stats.touches_adopting_phone),
            emails_with_several_phones=dg.MetadataValue.int(stats.emails_with_several_phones),
        ),
        check_results=[
            dg.AssetCheckResult(
                check_name="person_key_unique",
                passed=repeated == 0,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"people": persons.height, "repeated_keys": repeated},
            ),
            dg.AssetCheckResult(
                check_name="phone_identity_share",
                passed=phone_share >= MIN_PHONE_IDENTITY_SHARE,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"share": round(phone_share, 4), "minimum": MIN_PHONE_IDENTITY_SHARE, **stats.by_identity},
            ),
        ],
    )


# ------------------------------------------------------------------------------ reading inputs


def _read_required(db: Warehouse, table: str, partition_column, start, end, columns: list[str]) -> pl.DataFrame:
    if not db.has_table(table):
        raise WarehouseError(
            f"table {table!r} does not exist in the warehouse ({db.engine.url.render_as_string(hide_password=True)}): "
            f"materialize {table} for these days first"
        )
    return db.read_table(table, partition_column=partition_column, start=start, end=end, columns=columns)


def _read_assignments(context: dg.AssetExecutionContext, db: Warehouse, start, end) -> tuple[pl.DataFrame, str]:
    """crm_assigned_leads rows of the run's days, and a note on where they came from."""
    notes: list[str] = []
    rows = read_source_table(context, db, "crm_assigned_leads", schema=ASSIGNED_LEADS_SCHEMA, notes=notes, columns=CRM_READ,
                             partition_column="assigned_date", start=start, end=end)
    if notes:
        return rows, "not loaded: crm_assigned_leads was never materialized (CRM not set up); no sales_assigned touches"
    return rows, "crm_assigned_leads snapshot"


def _known_contacts(db: Warehouse) -> tuple[pl.Series, pl.Series]:
    """Every phone key and email of any marketing lead or CRM assignment (any day)."""
    phones, emails = [], []
    with db.engine.connect() as conn:
        def distinct(table: str, column: str) -> list:
            if not sa.inspect(conn).has_table(table):
                return []
            q = conn.dialect.identifier_preparer.quote
            return conn.execute(sa.text(f"SELECT DISTINCT {q(column)} FROM {q(table)} WHERE {q(column)} IS NOT NULL")).scalars().all()

        phones += distinct("marketing_leads", "phone_key") + distinct("crm_assigned_leads", "phone_key")
        emails += distinct("marketing_leads", "email")
    return pl.Series("phone_key", phones, dtype=pl.String), pl.Series("email", emails, dtype=pl.String)
