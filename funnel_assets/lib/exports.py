"""CSV copies of the marts for spreadsheet users (``data/exports/``).

Each export is the whole table, written to a temporary file next to the target and renamed over
it, so a spreadsheet that opens the file mid-run sees the previous complete version, never half
of a new one. UTF-8 with a BOM, so Excel reads names with accents correctly; dates as
YYYY-MM-DD, times as ISO 8601 in UTC.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl

__all__ = ["write_csv_export"]


def write_csv_export(frame: pl.DataFrame, folder: Path | str, name: str) -> Path:
    """Write ``frame`` to ``folder/name.csv`` atomically and return the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.csv"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".csv.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(b"\xef\xbb\xbf")
            frame.write_csv(out, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ", date_format="%Y-%m-%d")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
