"""lib/sheet_sync.py: which days of a full sheet export differ from the warehouse."""

from datetime import date

import polars as pl

from funnel_assets.lib import sheet_sync as sync


def frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"day": pl.Date, "sheet_row": pl.Int64, "row_hash": pl.String}, orient="row")


def fingerprints(*tables: tuple[str, pl.DataFrame]) -> dict:
    return sync.day_fingerprints(sync.row_keys(f, day_column="day", table=t) for t, f in tables)


D1, D2, D3, D4 = (date(2025, 3, d) for d in (1, 2, 3, 4))


def test_row_hashes_follow_the_cells_not_the_row_number():
    raw = pl.DataFrame({"a": ["x", " x ", "y", None], "b": ["1", "1", "1", ""], "sheet_row": [2, 3, 4, 5]})
    hashes = sync.row_hashes(raw, ["a", "b"])
    assert hashes["row_hash"][0] == hashes["row_hash"][1] != hashes["row_hash"][2]
    moved = sync.row_hashes(raw.with_columns(sheet_row=pl.col("sheet_row") + 10), ["a", "b"])
    assert moved["row_hash"].to_list() == hashes["row_hash"].to_list()


def test_fixed_back_dated_and_deleted_rows_change_their_days_only():
    warehouse = fingerprints(("t", frame([(D1, 2, "a"), (D2, 3, "b"), (D3, 4, "c"), (D3, 5, "d")])), ("r", frame([(D2, 6, "e")])))
    # e was fixed (a reject on D2 is now a row of the table), f was back-dated to D1, d was deleted (rows renumbered)
    export = fingerprints(
        ("t", frame([(D1, 2, "a"), (D2, 3, "b"), (D3, 4, "c"), (D2, 5, "e2"), (D1, 6, "f")])), ("r", frame([]))
    )
    assert sync.changed_days(export, warehouse, first=D1, last=D4) == [D1, D2, D3]
    # the run's own days are left out; days before the first loaded day are a backfill's business
    assert sync.changed_days(export, warehouse, first=D2, last=D4, skip=(D3, D4)) == [D2]
    # same rows, other row numbers: unchanged
    renumbered = fingerprints(("t", frame([(D1, 9, "a"), (D2, 8, "b"), (D3, 7, "c"), (D3, 6, "d")])), ("r", frame([(D2, 5, "e")])))
    assert sync.changed_days(renumbered, warehouse, first=D1, last=D4) == []


def test_a_row_moving_between_table_and_rejects_is_a_change():
    warehouse = fingerprints(("t", frame([(D1, 2, "a")])), ("r", frame([])))
    export = fingerprints(("t", frame([])), ("r", frame([(D1, 2, "a")])))
    assert sync.changed_days(export, warehouse, first=D1, last=D1) == [D1]


def test_contiguous_days_go_together_with_a_fingerprint_of_their_rows():
    export = {D1: (1, "x"), D2: (1, "y"), D4: (1, "z")}
    groups = sync.group_days([D1, D2, D4], export)
    assert [(g.start, g.end) for g in groups] == [(D1, D2), (D4, D4)]
    assert sync.group_days([D1, D2, D4], {**export, D2: (1, "other")})[0].fingerprint != groups[0].fingerprint
    assert [(g.start, g.end) for g in sync.group_days([D1, D2, D3], export, max_days=2)] == [(D1, D2), (D3, D3)]
    assert [sync.ChangedDays.from_json(g.to_json()) for g in groups] == groups
    assert sync.describe(groups) == "2025-03-01 .. 2025-03-02, 2025-03-04"
