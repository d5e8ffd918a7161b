"""What the sheet and CRM assets share to never lose data silently (see lib/shrink_guard.py and
lib/sheet_sync.py): the shrink guard's blocking check, and each sheet day's fingerprint in the
warehouse and in the export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Sequence

import dagster as dg
import polars as pl

from funnel_assets.lib import sheet_sync as sync
from funnel_assets.lib.shrink_guard import ACCEPT_SHRINK_TAG, ShrinkRule, ShrinkVerdict, judge
from funnel_assets.lib.warehouse import Warehouse

SHRINK_CHECK = "no_sharp_shrink"
WHOLE_EXPORT = "the whole export"


def shrink_check_spec(asset: str, what: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        SHRINK_CHECK,
        asset=asset,
        blocking=True,
        description=(
            f"{what} does not shrink sharply (limits in data/config/shrink_guard.csv). A sharp shrink is refused: "
            f"nothing is written, the previous rows stay, this check fails and blocks downstream assets. Accept a "
            f"real shrink with the run tag `{ACCEPT_SHRINK_TAG}=<source>` (README, 'Partial or empty exports')."
        ),
    )


def shrink_check_result(asset: str, verdict: ShrinkVerdict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=SHRINK_CHECK,
        asset_key=asset,
        passed=not verdict.refused,
        severity=dg.AssetCheckSeverity.ERROR,
        description=verdict.message,
        metadata=verdict.metadata(),
    )


def judge_run(context: dg.AssetExecutionContext, source: str, rule: ShrinkRule, previous: dict[str, int], new: dict[str, int]) -> ShrinkVerdict:
    """The shrink verdict for this run, with the run's ``funnel/accept_shrink`` tag applied."""
    try:
        verdict = judge(source, rule, previous, new, accept_tag=context.run.tags.get(ACCEPT_SHRINK_TAG))
    except ValueError as exc:
        raise dg.Failure(description=f"{exc}. Nothing was written.", allow_retries=False) from None
    if verdict.refused:
        context.log.error(verdict.message)
    elif verdict.shrinks:
        context.log.warning(verdict.message)
    return verdict


@dataclass(frozen=True)
class SheetTable:
    """One warehouse table a sheet's rows go to (the table or its rejects)."""

    table: str
    day_column: str
    marker: str
    also: Sequence[str] = ()


def warehouse_state(db: Warehouse, tables: Sequence[SheetTable]) -> dict[date, tuple[int, str]]:
    """Each day's rows and fingerprint in the warehouse (both tables).

    Tables written before ``row_hash`` existed read it as null: their days then differ from the
    export and are rewritten once, with the hash."""
    keys = []
    for t in tables:
        if not db.has_table(t.table):
            continue
        columns = db.table_columns(t.table)
        wanted = [c for c in (t.day_column, sync.ROW_HASH, *t.also) if c in columns]
        frame = db.read_table(t.table, columns=wanted)
        for c in (sync.ROW_HASH, *t.also):
            if c not in frame.columns:
                frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c))
        keys.append(sync.row_keys(frame, day_column=t.day_column, table=t.marker, also=t.also))
    return sync.day_fingerprints(keys)


def export_state(frames: Sequence[tuple[SheetTable, pl.DataFrame]]) -> dict[date, tuple[int, str]]:
    """Each day's rows and fingerprint in the export, as they are about to be written."""
    return sync.day_fingerprints(sync.row_keys(f, day_column=t.day_column, table=t.marker, also=t.also) for t, f in frames)


def shrink_scopes(
    before: dict[date, tuple[int, str]], export: dict[date, tuple[int, str]], days: Sequence[date]
) -> tuple[dict[str, int], dict[str, int]]:
    """(rows there now, rows about to be written) per day of the run and for the whole export.

    The whole export is compared from its first day on: a sheet whose oldest rows were moved to
    an archive is not a shrink (the warehouse keeps those days); an empty or cut export is."""
    covered_from = min(export) if export else None
    previous = {d.isoformat(): before.get(d, (0, ""))[0] for d in days}
    new = {d.isoformat(): export.get(d, (0, ""))[0] for d in days}
    previous[WHOLE_EXPORT] = sum(n for d, (n, _) in before.items() if covered_from is None or d >= covered_from)
    new[WHOLE_EXPORT] = sum(n for n, _ in export.values())
    return previous, new


def changed_day_groups(
    export: dict[date, tuple[int, str]], before: dict[date, tuple[int, str]], *, start: date, end: date
) -> list[sync.ChangedDays]:
    """The days other than this run's whose rows in the export differ from the warehouse's: from
    the first day both hold rows for (older days are a backfill's business, or archived) to the
    last day loaded (later days are loaded by their own nightly run)."""
    if not before or not export:
        return []
    last = max(max(before), end - timedelta(days=1))
    days = sync.changed_days(export, before, first=max(min(before), min(export)), last=last, skip=(start, end))
    return sync.group_days(days, export)


def changed_days_metadata(groups: Sequence[sync.ChangedDays]) -> dict:
    return {
        "changed_days": sync.describe(groups),
        "changed_days_json": dg.MetadataValue.json([g.to_json() for g in groups]),
    }


@dataclass(frozen=True)
class SheetComparison:
    """What a sheet's export would do to the warehouse: the shrink verdict for the run's days and
    the whole export, and the other days whose rows changed (empty when the write is refused)."""

    verdict: ShrinkVerdict
    changed: list[sync.ChangedDays]


def compare_with_warehouse(
    context: dg.AssetExecutionContext,
    db: Warehouse,
    source: str,
    rule: ShrinkRule,
    tables: Sequence[SheetTable],
    frames: Sequence[pl.DataFrame],
    *,
    start: date,
    end: date,
) -> SheetComparison:
    """Compare each of ``tables``' rows about to be written (``frames``, every day of the export) with
    the warehouse's: is the run's write a sharp shrink, and which other days changed?"""
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    before = warehouse_state(db, tables)
    export = export_state(list(zip(tables, frames)))
    verdict = judge_run(context, source, rule, *shrink_scopes(before, export, days))
    changed = [] if verdict.refused else changed_day_groups(export, before, start=start, end=end)
    return SheetComparison(verdict, changed)
