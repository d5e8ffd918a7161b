"""Repeated rows of the spend sheet are counted once.

A spend row whose every cell equals an earlier row's (a paste done twice, an import run twice)
would double that spend in spend_by_funnel. The first occurrence stays in ``ad_spend``; each
repeat goes to ``ad_spend_rejects`` with the reason code ``repeated_row`` and the row it repeats,
so it is seen, kept, and never summed twice.
"""

from __future__ import annotations

import dataclasses

import polars as pl

from funnel_assets.lib.sheet_sync import ROW_HASH
from funnel_assets.lib.spend import REJECTS_SCHEMA, CleanedSpend, raw_rows_json

REASON_CODE = "repeated_row"


def reject_repeated_rows(cleaned: CleanedSpend, raw: pl.DataFrame, hashes: pl.DataFrame) -> CleanedSpend:
    """Move every repeat of an identical earlier spend row from ``spend`` to ``rejects``.

    ``hashes`` has ``sheet_row`` and ``row_hash`` (a hash of all the row's cells) for every row of ``raw``.
    """
    firsts = hashes.sort("sheet_row").with_columns(first_row=pl.col("sheet_row").first().over(ROW_HASH))
    repeats = firsts.filter(pl.col("sheet_row") != pl.col("first_row")).select("sheet_row", "first_row")
    repeated = cleaned.spend.select("sheet_row", "day").join(repeats, on="sheet_row", how="inner")
    if repeated.is_empty():
        return cleaned
    rows = raw.join(repeated, on="sheet_row", how="inner").sort("sheet_row")
    rejects = rows.select(
        day=pl.col("day"),
        sheet_row=pl.col("sheet_row"),
        reason_code=pl.lit(REASON_CODE),
        reason=pl.format(
            "every cell equals sheet row {}, so it is counted once; delete the repeated row in the sheet "
            "(or correct it if it is a different spend)",
            pl.col("first_row"),
        ),
        date_time=pl.col("date_time"),
        campaign=pl.col("campaign"),
        cost=pl.col("cost"),
        funnel=pl.col("funnel"),
        raw_row=raw_rows_json(rows),
    ).cast(REJECTS_SCHEMA)
    return dataclasses.replace(
        cleaned,
        spend=cleaned.spend.join(repeats, on="sheet_row", how="anti"),
        rejects=pl.concat([cleaned.rejects, rejects]).sort("sheet_row"),
    )
