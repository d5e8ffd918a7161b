"""Late and corrected sheet rows are never lost.

The leads and spend sheets are full exports: every night's export holds every day, and a row
can be fixed, added, back-dated or deleted on a day that already ran. A nightly run writes only
its own day, so every run also compares, day by day, what the export holds now with what the
warehouse holds (the table and its rejects table), and names the days that differ; a sensor then
gets those days materialized again by Dagster (see ``defs/sheet_changes.py``).

A day is compared through a fingerprint of its rows: each row's ``row_hash`` (a hash of the
sheet row's cells, stored with the row in both tables), which table it is in, and for the leads
the lead it repeats (a back-dated first submission changes later days' duplicate flags). Row
numbers are left out on purpose: deleting a row renumbers every row below it, which is no
reason to rewrite every later day.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Sequence

import polars as pl

ROW_HASH = "row_hash"
ROW_HASH_DESCRIPTION = "Hash of the sheet row's cells: finds rows that were fixed, added or deleted in the sheet later"
MAX_DAYS_PER_RUN = 31
"""Contiguous changed days are re-materialized together, up to this many per run (the backfill policy's range)."""


def row_hashes(raw: pl.DataFrame, columns: Sequence[str], *, row_column: str = "sheet_row") -> pl.DataFrame:
    """``row_column`` and ``row_hash``: a hash of each row's cells (trimmed; blank = empty)."""
    digests = [
        hashlib.sha1("\x1f".join("" if v is None else str(v).strip() for v in row).encode()).hexdigest()[:20]
        for row in raw.select(list(columns)).rows()
    ]
    return pl.DataFrame({row_column: raw[row_column], ROW_HASH: pl.Series(digests, dtype=pl.String)})


def with_row_hash(frame: pl.DataFrame, hashes: pl.DataFrame, *, row_column: str = "sheet_row") -> pl.DataFrame:
    """``frame`` with its rows' ``row_hash`` (matched on the sheet row number)."""
    return frame.drop(ROW_HASH, strict=False).join(hashes, on=row_column, how="left", maintain_order="left")


def row_keys(frame: pl.DataFrame, *, day_column: str, table: str, also: Sequence[str] = ()) -> pl.DataFrame:
    """``day`` and ``key`` per dated row: the table's name, the row hash and the ``also`` columns."""
    parts = [pl.lit(table), pl.col(ROW_HASH).fill_null("")]
    parts += [pl.col(c).cast(pl.String).fill_null("") for c in also]
    return frame.filter(pl.col(day_column).is_not_null()).select(
        day=pl.col(day_column).cast(pl.Date), key=pl.concat_str(parts, separator="|")
    )


def day_fingerprints(keys: Iterable[pl.DataFrame]) -> dict[date, tuple[int, str]]:
    """Per day: (rows, fingerprint of the day's multiset of row keys)."""
    frames = [k for k in keys if k.height]
    if not frames:
        return {}
    grouped = pl.concat(frames).group_by("day").agg(pl.col("key").sort())
    out = {}
    for day, keys_of_day in grouped.rows():
        digest = hashlib.sha1("\n".join(keys_of_day).encode()).hexdigest()[:16]
        out[day] = (len(keys_of_day), digest)
    return out


@dataclass(frozen=True)
class ChangedDays:
    start: date
    end: date
    """Last day, included."""
    fingerprint: str
    """Of the export's rows for these days: a new change gives a new fingerprint."""

    def to_json(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "fingerprint": self.fingerprint}

    @classmethod
    def from_json(cls, item: dict) -> "ChangedDays":
        return cls(date.fromisoformat(item["start"]), date.fromisoformat(item["end"]), str(item["fingerprint"]))


def changed_days(
    export: dict[date, tuple[int, str]],
    warehouse: dict[date, tuple[int, str]],
    *,
    first: date,
    last: date,
    skip: tuple[date, date] | None = None,
) -> list[date]:
    """Days in ``[first, last]`` whose rows differ between the export and the warehouse.

    ``first`` is the first day the warehouse holds (days before it were never loaded: a backfill
    loads them, not this), ``last`` the last partition; ``skip`` (a half-open range) are the days
    the run itself writes.
    """
    days = {d for d in (*export, *warehouse) if first <= d <= last}
    if skip is not None:
        days = {d for d in days if not skip[0] <= d < skip[1]}
    return sorted(d for d in days if export.get(d, (0, "")) != warehouse.get(d, (0, "")))


def group_days(days: Sequence[date], export: dict[date, tuple[int, str]], *, max_days: int = MAX_DAYS_PER_RUN) -> list[ChangedDays]:
    """Contiguous runs of ``days`` (at most ``max_days`` each), with the export's fingerprint of each run."""
    groups: list[list[date]] = []
    for day in sorted(days):
        if groups and day - groups[-1][-1] == timedelta(days=1) and len(groups[-1]) < max_days:
            groups[-1].append(day)
        else:
            groups.append([day])
    out = []
    for group in groups:
        text = ";".join(f"{d}:{export.get(d, (0, 'none'))[1]}" for d in group)
        out.append(ChangedDays(group[0], group[-1], hashlib.sha1(text.encode()).hexdigest()[:16]))
    return out


def describe(groups: Sequence[ChangedDays]) -> str:
    if not groups:
        return "none"
    return ", ".join(str(g.start) if g.start == g.end else f"{g.start} .. {g.end}" for g in groups)
