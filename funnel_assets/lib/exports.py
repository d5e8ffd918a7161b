"""CSV copies of the marts for spreadsheet users (``data/exports/``).

Each export is the whole table, written to a temporary file next to the target and renamed over
it, so a spreadsheet that opens the file mid-run sees the previous complete version, never half
of a new one. UTF-8 with a BOM, so Excel reads names with accents correctly; dates as
YYYY-MM-DD, times as ISO 8601 in UTC.

Safe to open: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
would be run as a formula by a spreadsheet (CSV injection, as OWASP describes it), so it is written
with a single quote in front (``'=HYPERLINK(...)``). Only text columns are touched: numbers, dates
and booleans are written as they are, so ``-12.5`` in a numeric column stays a number. The file is
created like any file the user makes (``0666`` less the process's umask: ``0644`` under the usual
``022``), so the group and the BI tool's account can read it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import polars as pl

__all__ = ["FORMULA_TRIGGERS", "neutralise_formulas", "write_csv_export"]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)."""

_TRIGGER_PATTERN = r"^[=+\-@\t\r]"


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell that starts with a formula trigger prefixed by ``'``.

    Text columns only (strings, categoricals, enums); every other column is returned unchanged, so
    numbers stay numbers in the file.
    """
    text_columns = [
        name for name, dtype in frame.schema.items() if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)
    ]
    if not text_columns:
        return frame
    return frame.with_columns(
        pl.when(pl.col(name).cast(pl.String).str.contains(_TRIGGER_PATTERN))
        .then(pl.lit("'") + pl.col(name).cast(pl.String))
        .otherwise(pl.col(name).cast(pl.String))
        .alias(name)
        for name in text_columns
    )


def _create_new_file(folder: Path, name: str) -> tuple[int, Path]:
    """A new, empty temporary file in ``folder``, opened for writing, with the umask's usual mode.

    ``tempfile.mkstemp`` would create it ``0600`` (readable by its owner only) and the rename keeps
    that mode; ``os.open`` with ``0666`` lets the kernel apply the umask, like any file the user makes.
    """
    while True:
        tmp = folder / f".{name}.{secrets.token_hex(6)}.csv.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue


def write_csv_export(frame: pl.DataFrame, folder: Path | str, name: str) -> Path:
    """Write ``frame`` to ``folder/name.csv`` atomically, formulas neutralised, and return the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.csv"
    safe = neutralise_formulas(frame)
    fd, tmp = _create_new_file(folder, name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(b"\xef\xbb\xbf")
            safe.write_csv(out, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ", date_format="%Y-%m-%d")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
