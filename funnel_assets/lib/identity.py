"""Identity and the canonical model: ``touchpoints`` (who did what, when) and ``people``.

Every source that knows something about a person feeds ``touchpoints``, one row per event:

=====================  ===========  ==============================================================
kind                   system       from
=====================  ===========  ==============================================================
lead_captured          leads_sheet  every ``marketing_leads`` row, repeat submissions included
webinar_registered     zoom         a registered ``zoom_sessions`` row of a webinar (occurred_at:
bootcamp_registered                 the registration time, else the session start)
webinar_attended       zoom         an attended ``zoom_sessions`` row (occurred_at: first join,
bootcamp_attended                   else the session start)
sales_assigned         crm          a usable ``crm_assigned_leads`` row (one with a ``problem``
                                    is not a touch; it stays, with its reason, in that table)
=====================  ===========  ==============================================================

``day`` is the day the source records the event under (the lead's created date, the session's
date, the assignment's date): the partition of the row it comes from. A registration made days
before its session is therefore in the session's day, with its own ``occurred_at``.

``people`` resolves identity over all touches, without any Python loop over rows:

1. a touch's own phone key (seed 002: the phone joins marketing, engagement and sales);
2. a touch without a phone takes the phone of another touch with the same email (when an
   email was seen with several phones, the phone of its earliest touch);
3. else ``email:<email>``;
4. else ``row:<touchpoint id>``: the touch is its own person (the registration and the
   attendance of one Zoom row share the id of the row's first touch).

A person's first touch is the earliest ``occurred_at``; ties go lead_captured, then
registration, then attendance, then assignment, then ``touchpoint_id``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

import polars as pl

from .config import FunnelMapping

__all__ = [
    "KINDS",
    "KIND_ORDER",
    "email_phones",
    "PEOPLE_INPUT_COLUMNS",
    "PEOPLE_SCHEMA",
    "TOUCHPOINT_SCHEMA",
    "IdentityError",
    "IdentityStats",
    "ContactQuality",
    "build_touchpoints",
    "contact_quality",
    "identity_stats",
    "resolve_people",
    "unknown_attendees",
]

UTC: Final = pl.Datetime("us", "UTC")

LEAD_CAPTURED: Final = "lead_captured"
WEBINAR_REGISTERED: Final = "webinar_registered"
WEBINAR_ATTENDED: Final = "webinar_attended"
BOOTCAMP_REGISTERED: Final = "bootcamp_registered"
BOOTCAMP_ATTENDED: Final = "bootcamp_attended"
SALES_ASSIGNED: Final = "sales_assigned"
KINDS: Final = (LEAD_CAPTURED, WEBINAR_REGISTERED, BOOTCAMP_REGISTERED, WEBINAR_ATTENDED, BOOTCAMP_ATTENDED, SALES_ASSIGNED)
KIND_ORDER: Final[dict[str, int]] = {
    LEAD_CAPTURED: 0,
    WEBINAR_REGISTERED: 1,
    BOOTCAMP_REGISTERED: 1,
    WEBINAR_ATTENDED: 2,
    BOOTCAMP_ATTENDED: 2,
    SALES_ASSIGNED: 3,
}
"""Tie-break when two touches of a person happen at the same instant."""

LEADS_SHEET, ZOOM, CRM = "leads_sheet", "zoom", "crm"

TOUCHPOINT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "touchpoint_id": pl.String(),
    "day": pl.Date(),
    "occurred_at": UTC,
    "kind": pl.String(),
    "source_system": pl.String(),
    "phone_key": pl.String(),
    "email": pl.String(),
    "name": pl.String(),
    "source": pl.String(),
    "utm_source": pl.String(),
    "utm_medium": pl.String(),
    "campaign": pl.String(),
    "funnel": pl.String(),
    "program": pl.String(),
    "session_key": pl.String(),
    "approval_status": pl.String(),
    "employee": pl.String(),
    "source_row_id": pl.String(),
}
"""Columns of ``touchpoints``, in order."""

PEOPLE_SCHEMA: Final[dict[str, pl.DataType]] = {
    "person_key": pl.String(),
    "identity": pl.String(),
    "phone_key": pl.String(),
    "email": pl.String(),
    "name": pl.String(),
    "program": pl.String(),
    "first_touch_at": UTC,
    "first_touch_day": pl.Date(),
    "first_touch_kind": pl.String(),
    "first_touch_system": pl.String(),
    "first_touch_source": pl.String(),
    "first_touch_funnel": pl.String(),
    "first_touch_campaign": pl.String(),
    "first_touch_utm_source": pl.String(),
    "first_touch_utm_medium": pl.String(),
    "first_touch_id": pl.String(),
    "touches": pl.Int64(),
    "leads": pl.Int64(),
    "registrations": pl.Int64(),
    "attendances": pl.Int64(),
    "assignments": pl.Int64(),
    "registered_any": pl.Boolean(),
    "attended_any": pl.Boolean(),
    "first_assigned_at": UTC,
    "last_touch_at": UTC,
}
"""Columns of ``people``, in order."""

PEOPLE_INPUT_COLUMNS: Final = tuple(c for c in TOUCHPOINT_SCHEMA if c not in ("session_key", "approval_status", "employee"))
"""The touchpoints columns :func:`resolve_people` reads."""

REQUIRED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "marketing_leads": (
        "lead_id", "created_date", "created_at", "name", "email", "email_valid", "phone_key",
        "utm_source", "utm_medium", "utm_campaign", "source",
    ),
    "zoom_sessions": (
        "session_date", "session_key", "person_key", "kind", "program", "session_start", "name", "email",
        "phone_key", "registered", "registered_at", "approval_status", "source_name", "attended", "first_join",
    ),
    "crm_assigned_leads": ("assignment_id", "source", "assigned_at", "assigned_date", "phone_key", "employee", "problem"),
}


class IdentityError(Exception):
    """An input table lacks columns the canonical model needs."""


@dataclass(frozen=True)
class IdentityStats:
    """How people were resolved (no phones or emails: safe for metadata and logs)."""

    people: int
    touches: int
    by_identity: dict[str, int]
    """people per identity: phone, email, row"""
    touches_adopting_phone: int
    """touches without a phone that took the phone of another touch with the same email"""
    emails_with_several_phones: int


def _require(frame: pl.DataFrame, table: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in frame.columns]
    if missing:
        raise IdentityError(
            f"{table}: missing column(s) {', '.join(missing)} (has: {', '.join(frame.columns) or 'none'}); "
            f"re-materialize {table} with the current code so its table has the expected columns"
        )


def _null(dtype: pl.DataType = pl.String()) -> pl.Expr:
    return pl.lit(None, dtype=dtype)


def _stable_ids(source_system: pl.Series, source_row_id: pl.Series, kind: pl.Series) -> pl.Series:
    """``touchpoint_id``: the first 20 hex digits of sha1(system, source row id, kind).

    (polars' own ``hash`` is not stable across versions, so Python's hashlib it is: one call per
    touch, about a second per million.)"""
    ids = [
        hashlib.sha1(f"{s}\x1f{r}\x1f{k}".encode()).hexdigest()[:20]
        for s, r, k in zip(source_system.to_list(), source_row_id.to_list(), kind.to_list())
    ]
    return pl.Series("touchpoint_id", ids, dtype=pl.String)


def _lead_touches(leads: pl.DataFrame) -> pl.DataFrame:
    return leads.select(
        day=pl.col("created_date"),
        occurred_at=pl.col("created_at"),
        kind=pl.lit(LEAD_CAPTURED),
        source_system=pl.lit(LEADS_SHEET),
        phone_key=pl.col("phone_key"),
        email=pl.when(pl.col("email_valid").fill_null(False)).then(pl.col("email")),
        name=pl.col("name"),
        source=pl.col("source"),
        utm_source=pl.col("utm_source"),
        utm_medium=pl.col("utm_medium"),
        campaign=pl.col("utm_campaign"),
        program=_null(),
        session_key=_null(),
        approval_status=_null(),
        employee=_null(),
        source_row_id=pl.col("lead_id"),
    )


def _zoom_touches(rows: pl.DataFrame) -> pl.DataFrame:
    bootcamp = pl.col("kind").str.to_lowercase() == "bootcamp"
    common = dict(
        day=pl.col("session_date"),
        source_system=pl.lit(ZOOM),
        phone_key=pl.col("phone_key"),
        email=pl.col("email"),
        name=pl.col("name"),
        source=pl.col("source_name"),
        utm_source=_null(),
        utm_medium=_null(),
        campaign=_null(),
        program=pl.col("program"),
        session_key=pl.col("session_key"),
        employee=_null(),
        source_row_id=pl.format("{}|{}", pl.col("session_key"), pl.col("person_key")),
    )
    registered = rows.filter(pl.col("registered").fill_null(False)).select(
        occurred_at=pl.coalesce("registered_at", "session_start"),
        kind=pl.when(bootcamp).then(pl.lit(BOOTCAMP_REGISTERED)).otherwise(pl.lit(WEBINAR_REGISTERED)),
        approval_status=pl.col("approval_status"),
        **common,
    )
    attended = rows.filter(pl.col("attended").fill_null(False)).select(
        occurred_at=pl.coalesce("first_join", "session_start"),
        kind=pl.when(bootcamp).then(pl.lit(BOOTCAMP_ATTENDED)).otherwise(pl.lit(WEBINAR_ATTENDED)),
        approval_status=_null(),
        **common,
    )
    return pl.concat([registered, attended], how="diagonal")


def _crm_touches(assignments: pl.DataFrame) -> pl.DataFrame:
    return assignments.filter(pl.col("problem").is_null()).select(
        day=pl.col("assigned_date"),
        occurred_at=pl.col("assigned_at"),
        kind=pl.lit(SALES_ASSIGNED),
        source_system=pl.lit(CRM),
        phone_key=pl.col("phone_key"),
        email=_null(),
        name=_null(),
        source=pl.col("source").str.strip_chars().replace("", None),
        utm_source=_null(),
        utm_medium=_null(),
        campaign=_null(),
        program=_null(),
        session_key=_null(),
        approval_status=_null(),
        employee=pl.col("employee"),
        source_row_id=pl.col("assignment_id"),
    )


def build_touchpoints(
    leads: pl.DataFrame,
    zoom_rows: pl.DataFrame,
    assignments: pl.DataFrame,
    mapping: FunnelMapping,
) -> pl.DataFrame:
    """One row per touch (:data:`TOUCHPOINT_SCHEMA`) from the three sources' rows.

    ``leads``: ``marketing_leads`` rows; ``zoom_rows``: ``zoom_sessions`` rows;
    ``assignments``: ``crm_assigned_leads`` rows (rows with a ``problem`` are skipped: they are
    not usable touches and remain listed, with their reason, in that table). ``funnel`` is the
    funnel mapping of the touch's ``source``; null when the touch has no source (a Zoom
    registration without a source name).
    """
    for frame, table in ((leads, "marketing_leads"), (zoom_rows, "zoom_sessions"), (assignments, "crm_assigned_leads")):
        _require(frame, table)
    columns = [c for c in TOUCHPOINT_SCHEMA if c not in ("touchpoint_id", "funnel")]
    parts = [
        part.select([pl.col(c).cast(TOUCHPOINT_SCHEMA[c]) for c in columns])
        for part in (_lead_touches(leads), _zoom_touches(zoom_rows), _crm_touches(assignments))
    ]
    touches = pl.concat(parts, how="vertical")
    touches = mapping.apply(touches, "source", mapped_column=None).with_columns(
        funnel=pl.when(pl.col("source").is_not_null()).then(pl.col("funnel")),
    )
    touches = touches.with_columns(
        _stable_ids(touches["source_system"], touches["source_row_id"], touches["kind"]),
    )
    return touches.select(list(TOUCHPOINT_SCHEMA)).sort("day", "occurred_at", "touchpoint_id", nulls_last=True)


def _touch_order(touches: pl.DataFrame) -> pl.DataFrame:
    """Touches in first-touch order: time, then kind (lead, registration, attendance,
    assignment), then id. A touch without a time comes last."""
    rank = pl.col("kind").replace_strict(KIND_ORDER, default=len(KIND_ORDER), return_dtype=pl.Int8)
    return touches.with_columns(__rank=rank).sort("occurred_at", "__rank", "touchpoint_id", nulls_last=True)


def email_phones(touches: pl.DataFrame) -> pl.DataFrame:
    """Each email's phone: that of its earliest touch that has both (first-touch order), as
    ``__adopted``, and how many phones the email was seen with, as ``__phones``. ``touches`` needs
    ``touchpoint_id``, ``occurred_at``, ``kind``, ``phone_key`` and ``email``."""
    return (
        _touch_order(touches.filter(pl.col("phone_key").is_not_null() & pl.col("email").is_not_null()))
        .group_by("email", maintain_order=True)
        .agg(__adopted=pl.col("phone_key").first(), __phones=pl.col("phone_key").n_unique())
    )


def _with_person_keys(touches: pl.DataFrame) -> pl.DataFrame:
    """Ordered touches with ``person_key``, ``identity`` and ``__adopted`` (a phone taken via email)."""
    ordered = _touch_order(touches)
    adopted = ordered.select("email").join(email_phones(touches), on="email", how="left", maintain_order="left")
    ordered = ordered.with_columns(
        __adopted=pl.when(pl.col("phone_key").is_null()).then(adopted["__adopted"]),
        __phones=adopted["__phones"],
        # the registration and the attendance of one Zoom row are one anonymous person
        __row=pl.col("touchpoint_id").first().over("source_system", "source_row_id"),
    )
    return ordered.with_columns(
        person_key=pl.coalesce(
            pl.col("phone_key"),
            pl.col("__adopted"),
            pl.lit("email:") + pl.col("email"),
            pl.lit("row:") + pl.col("__row"),
        ),
        identity=pl.when(pl.col("phone_key").is_not_null() | pl.col("__adopted").is_not_null()).then(pl.lit("phone"))
        .when(pl.col("email").is_not_null()).then(pl.lit("email"))
        .otherwise(pl.lit("row")),
    )


def resolve_people(touchpoints: pl.DataFrame) -> pl.DataFrame:
    """One row per person (:data:`PEOPLE_SCHEMA`) from all touches (see the module docstring).

    ``phone_key`` is the person's phone (null for email and row people), ``email`` and ``name``
    the earliest ones given, ``program`` the earliest Zoom session's program; ``first_touch_*``
    describe the earliest touch exactly as it was recorded (its ``source`` may be null, e.g. a
    Zoom registration without a source name).
    """
    keyed = _with_person_keys(touchpoints)
    first = lambda c: pl.col(c).first()  # noqa: E731 - rows are in first-touch order within each person
    earliest = lambda c: pl.col(c).drop_nulls().first()  # noqa: E731
    kind = pl.col("kind")
    registration = kind.is_in([WEBINAR_REGISTERED, BOOTCAMP_REGISTERED])
    attendance = kind.is_in([WEBINAR_ATTENDED, BOOTCAMP_ATTENDED])
    people = keyed.group_by("person_key").agg(
        identity=first("identity"),
        email=earliest("email"),
        name=earliest("name"),
        program=earliest("program"),
        first_touch_at=first("occurred_at"),
        first_touch_day=first("day"),
        first_touch_kind=first("kind"),
        first_touch_system=first("source_system"),
        first_touch_source=first("source"),
        first_touch_funnel=first("funnel"),
        first_touch_campaign=first("campaign"),
        first_touch_utm_source=first("utm_source"),
        first_touch_utm_medium=first("utm_medium"),
        first_touch_id=first("touchpoint_id"),
        touches=pl.len(),
        leads=(kind == LEAD_CAPTURED).sum(),
        registrations=registration.sum(),
        attendances=attendance.sum(),
        assignments=(kind == SALES_ASSIGNED).sum(),
        first_assigned_at=pl.col("occurred_at").filter(kind == SALES_ASSIGNED).min(),
        last_touch_at=pl.col("occurred_at").max(),
    )
    people = people.with_columns(
        registered_any=pl.col("registrations") > 0,
        attended_any=pl.col("attendances") > 0,
        # a phone person's key is their phone; an email or row person has none
        phone_key=pl.when(pl.col("identity") == "phone").then(pl.col("person_key")),
    )
    return people.select([pl.col(c).cast(t) for c, t in PEOPLE_SCHEMA.items()]).sort("first_touch_at", "person_key", nulls_last=True)


def identity_stats(touchpoints: pl.DataFrame, people: pl.DataFrame) -> IdentityStats:
    """Counts describing the resolution (for metadata: no personal data)."""
    keyed = touchpoints.select("phone_key", "email")
    with_both = keyed.filter(pl.col("phone_key").is_not_null() & pl.col("email").is_not_null())
    several = with_both.group_by("email").agg(pl.col("phone_key").n_unique().alias("n")).filter(pl.col("n") > 1).height
    known_emails = with_both.select("email").unique()
    adopting = keyed.filter(pl.col("phone_key").is_null()).join(known_emails, on="email", how="semi").height
    counts = people.group_by("identity").len()
    by_identity = {k: 0 for k in ("phone", "email", "row")} | dict(counts.iter_rows())
    return IdentityStats(
        people=people.height,
        touches=touchpoints.height,
        by_identity=by_identity,
        touches_adopting_phone=adopting,
        emails_with_several_phones=several,
    )


@dataclass(frozen=True)
class ContactQuality:
    """Touches that can only ever be their own person (no phone, no email)."""

    touches: int
    """touches considered (all but the attendance of sessions run as Zoom meetings)"""
    contactless: int
    """of those, touches with neither phone nor email"""
    meeting_contactless: int
    """attendances of sessions run as Zoom meetings with neither (a meeting collects no contact
    details: counted apart, they say nothing about data quality)"""

    @property
    def share(self) -> float:
        return self.contactless / self.touches if self.touches else 0.0


def contact_quality(touches: pl.DataFrame, meeting_sessions: pl.Series) -> ContactQuality:
    """How many touches have neither a phone nor an email (see :class:`ContactQuality`)."""
    meeting = pl.col("session_key").is_in(meeting_sessions.drop_nulls().unique().cast(pl.String).implode()).fill_null(False)
    attendance = pl.col("kind").is_in([WEBINAR_ATTENDED, BOOTCAMP_ATTENDED])
    contactless = pl.col("phone_key").is_null() & pl.col("email").is_null()
    counts = touches.select(
        apart=(meeting & attendance).sum(),
        contactless=(contactless & ~(meeting & attendance)).sum(),
        meeting_contactless=(contactless & meeting & attendance).sum(),
    ).row(0)
    return ContactQuality(touches.height - int(counts[0]), int(counts[1]), int(counts[2]))


def unknown_attendees(touches: pl.DataFrame, known_phones: pl.Series, known_emails: pl.Series) -> tuple[int, int]:
    """Zoom attendees among ``touches`` (with a phone or an email) whose phone and email match
    no known lead or assignment: ``(attendees, unknown)``, counting distinct Zoom rows."""
    attendees = touches.filter(
        pl.col("kind").is_in([WEBINAR_ATTENDED, BOOTCAMP_ATTENDED])
        & (pl.col("phone_key").is_not_null() | pl.col("email").is_not_null())
    ).unique("source_row_id")
    phones = known_phones.drop_nulls().unique().cast(pl.String)
    emails = known_emails.drop_nulls().unique().cast(pl.String)
    known = pl.col("phone_key").is_in(phones.implode()).fill_null(False) | pl.col("email").is_in(emails.implode()).fill_null(False)
    unknown = attendees.filter(~known).height
    return attendees.height, unknown
