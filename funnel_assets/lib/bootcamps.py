"""Bootcamp attendance per person: Day 1, Day 2 or Both (seed 002, "Boot Camps").

A bootcamp is a two-day event: its Day 1 and Day 2 sessions are separate Zoom sessions (two
webinars with "Day 1"/"Day 2" in the topic, or one recurring webinar on consecutive days), each a
set of ``zoom_sessions`` rows. One bootcamp is the program's Day 1 date: a Day 2 session belongs
to the bootcamp that started the day before. A person is the same across the two days by phone
key, else email, else the session's person key (pass rows whose phone was adopted through their
email, ``attribution.zoom_with_phones``, so that someone who joined Day 2's meeting with only an
email is the same person as on Day 1). A person's ``attended_days`` is ``Both`` when they attended
both days, else the day they attended (null when they registered but attended neither);
``registered_days`` likewise for registrations.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from funnel_assets.lib.zoom_metadata import BOTH, DAY_1, DAY_2

__all__ = ["BOOTCAMP_ATTENDANCE_SCHEMA", "bootcamp_attendance"]

BOOTCAMP_ATTENDANCE_SCHEMA: dict[str, pl.DataType] = {
    "bootcamp_start": pl.Date(),
    "program": pl.String(),
    "person": pl.String(),
    "phone_key": pl.String(),
    "email": pl.String(),
    "name": pl.String(),
    "registered_days": pl.String(),
    "attended_days": pl.String(),
    "minutes": pl.Float64(),
    "sessions": pl.String(),
}


def _days_label(day1: pl.Expr, day2: pl.Expr) -> pl.Expr:
    return pl.when(day1 & day2).then(pl.lit(BOTH)).when(day1).then(pl.lit(DAY_1)).when(day2).then(pl.lit(DAY_2))


def bootcamp_attendance(zoom: pl.DataFrame) -> pl.DataFrame:
    """One row per person per bootcamp, from ``zoom_sessions`` rows (any sessions; only bootcamp
    rows are used). Needs ``session_date``, ``session_key``, ``kind``, ``bootcamp_day``,
    ``program``, ``person_key``, ``phone_key``, ``email``, ``name``, ``registered``, ``attended``,
    ``minutes``."""
    rows = zoom.filter((pl.col("kind") == "bootcamp") & pl.col("bootcamp_day").is_in([DAY_1, DAY_2]))
    if rows.is_empty():
        return pl.DataFrame(schema=BOOTCAMP_ATTENDANCE_SCHEMA)
    is_day2 = pl.col("bootcamp_day") == DAY_2
    registered = pl.col("registered").fill_null(False)
    attended = pl.col("attended").fill_null(False)
    out = (
        rows.with_columns(
            bootcamp_start=pl.when(is_day2).then(pl.col("session_date") - timedelta(days=1)).otherwise(pl.col("session_date")),
            person=pl.coalesce("phone_key", "email", "person_key"),
        )
        .sort("session_date", "session_key")
        .group_by("bootcamp_start", "program", "person", maintain_order=True)
        .agg(
            phone_key=pl.col("phone_key").drop_nulls().first(),
            email=pl.col("email").drop_nulls().first(),
            name=pl.col("name").drop_nulls().first(),
            __reg1=(registered & ~is_day2).any(),
            __reg2=(registered & is_day2).any(),
            __att1=(attended & ~is_day2).any(),
            __att2=(attended & is_day2).any(),
            minutes=pl.col("minutes").fill_null(0.0).sum(),
            sessions=pl.col("session_key").unique(maintain_order=True).str.join(", "),
        )
        .with_columns(
            registered_days=_days_label(pl.col("__reg1"), pl.col("__reg2")),
            attended_days=_days_label(pl.col("__att1"), pl.col("__att2")),
        )
    )
    return out.select([pl.col(c).cast(t) for c, t in BOOTCAMP_ATTENDANCE_SCHEMA.items()]).sort("bootcamp_start", "program", "person")
