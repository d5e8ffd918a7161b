"""Amounts and counts written by people and spreadsheets: decimal point or decimal comma, per file.

``1,234.50`` (English/Indian, also ``1,23,456.50``) and ``1.234,50`` / ``1 234,50`` (European)
are both common in sheet exports: the sheet's locale decides how Google Sheets writes them. Read
with the wrong convention, ``1.234,50`` becomes 1.2345 (1000× too small). So the convention is
decided per file, from the file's own numbers, the way dates are (see :mod:`.dates`):

* a cell that is a number only with a decimal point (``1,234.50``, ``12.5``, ``1,23,456``,
  ``0.123``) shows the file uses a decimal point; one that is a number only with a decimal
  comma (``1.234,50``, ``1 234,50``, ``1234,5``, ``0,5``, ``1.234.567``) shows a decimal comma;
* a cell that reads the same either way (``1234``, ``1 234``, ``500``) is just read;
* a cell that reads as two different numbers (``1,234`` and ``1.234``: a thousands separator
  or three decimals) takes the file's convention. When nothing in the file shows it, ``1,234``
  is read as 1234 (a thousands comma, how this team writes rupees) but ``1.234`` is refused:
  1.234 and 1234 are both plausible and 1000× apart. When the file shows both conventions,
  such a cell is refused too, naming a cell of each kind.

Currency marks (``₹``, ``Rs.``, ``INR``), spaces, non-breaking spaces and apostrophes used as
thousands separators, a sign and accounting brackets (``(1,200)`` = -1200) are allowed.
Pure polars; no Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

__all__ = ["DecimalMark", "ReadNumbers", "read_numbers"]

_CURRENCY: Final = r"(?i)₹|\brs\.?|\binr\b"
_GROUPING_SPACES: Final = r"[\s\u00a0\u202f\u2009']"
# Valid with a decimal point: plain, English thousands (1,234,567.5), Indian lakhs (12,34,567.5),
# a leading-point fraction (.5), scientific notation (1.5e3).
_POINT: Final = (
    r"^(?:\d+(?:\.\d+)?|\.\d+|[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?|[1-9]\d?(?:,\d{2})+,\d{3}(?:\.\d+)?"
    r"|\d+(?:\.\d+)?[eE][+-]?\d+)$"
)
# Valid with a decimal comma: plain, a comma fraction (1234,5), dot thousands (1.234.567,5).
_COMMA: Final = r"^(?:\d+(?:,\d+)?|,\d+|[1-9]\d{0,2}(?:\.\d{3})+(?:,\d+)?)$"


@dataclass(frozen=True)
class DecimalMark:
    """How a file writes its numbers and what decided it."""

    mark: str
    """``point``, ``comma``, ``mixed`` (the file shows both) or ``undecided`` (it shows neither)."""
    point_example: str | None = None
    """e.g. ``row 2 cost 21,931.09``: the first cell that is a number only with a decimal point."""
    comma_example: str | None = None

    def describe(self) -> str:
        """Plain words for metadata and logs."""
        if self.mark == "point":
            return f"decimal point, shown by the file ({self.point_example})"
        if self.mark == "comma":
            return f"decimal comma, shown by the file ({self.comma_example})"
        if self.mark == "mixed":
            return (
                f"mixed: {self.point_example} has a decimal point but {self.comma_example} a decimal comma; "
                "numbers that could be either (1,234 / 1.234) are not read"
            )
        return "not shown by the file: 1,234 is read as 1234, 1.234 is not read (1.234 or 1234?)"

    def why_ambiguous(self) -> str:
        if self.mark == "mixed":
            return (
                f"the file writes numbers both ways ({self.point_example} has a decimal point, "
                f"{self.comma_example} a decimal comma)"
            )
        return "nothing else in the file shows whether '.' separates thousands or decimals"


@dataclass(frozen=True)
class ReadNumbers:
    """The columns read, cell by cell."""

    values: dict[str, pl.Series]
    """Float64 per column; null where the cell is blank, unreadable or ambiguous."""
    unreadable: dict[str, pl.Series]
    """Boolean per column: the cell is not blank but is no number in either convention."""
    ambiguous: dict[str, pl.Series]
    """String per column: ``"1.234 or 1234"`` where the cell could be either and was not read."""
    decimal_mark: DecimalMark


def _parts(text: pl.Series) -> pl.DataFrame:
    """Sign and the digits-and-separators core of each cell (null where blank)."""
    frame = pl.DataFrame({"s": text.str.replace_all(_CURRENCY, "").str.replace_all(_GROUPING_SPACES, "")})
    bracketed = pl.col("s").str.contains(r"^\(.*\)$")
    frame = frame.with_columns(
        s=pl.when(bracketed).then(pl.lit("-") + pl.col("s").str.strip_chars("()")).otherwise(pl.col("s"))
    ).with_columns(
        negative=pl.col("s").str.starts_with("-"),
        core=pl.col("s").str.replace(r"^[+-]", ""),
    )
    return frame.with_columns(core=pl.when(pl.col("core") == "").then(None).otherwise(pl.col("core")))


def read_numbers(
    frame: pl.DataFrame,
    columns: Sequence[str],
    *,
    row_column: str,
    row_label: str = "row",
    labels: Mapping[str, str] | None = None,
) -> ReadNumbers:
    """Read ``columns`` (String; null = blank) of one file with one decimal convention.

    ``row_column`` numbers the rows in the examples (``row 4 cost 1.234,50``); ``labels`` gives
    each column's name as the file writes it (default: the column name).
    """
    labels = labels or {}
    parsed: dict[str, pl.DataFrame] = {}
    point_example = comma_example = None
    for c in columns:
        p = _parts(frame[c])
        sign = pl.when(pl.col("negative")).then(-1.0).otherwise(1.0)
        p = p.with_columns(
            p_ok=pl.col("core").str.contains(_POINT).fill_null(False),
            c_ok=pl.col("core").str.contains(_COMMA).fill_null(False),
        ).with_columns(
            p_text=pl.col("core").str.replace_all(",", ""),
            c_text=pl.col("core").str.replace_all(r"\.", "").str.replace(",", "."),
        ).with_columns(
            p_val=pl.when(pl.col("p_ok")).then(pl.col("p_text").cast(pl.Float64, strict=False) * sign),
            c_val=pl.when(pl.col("c_ok")).then(pl.col("c_text").cast(pl.Float64, strict=False) * sign),
        )
        p = p.with_columns(row=frame[row_column], text=frame[c].str.strip_chars())
        parsed[c] = p
        only_point = p.filter(pl.col("p_ok") & ~pl.col("c_ok"))
        only_comma = p.filter(pl.col("c_ok") & ~pl.col("p_ok"))
        if point_example is None and only_point.height:
            point_example = f"{row_label} {only_point.item(0, 'row')} {labels.get(c, c)} {only_point.item(0, 'text')}"
        if comma_example is None and only_comma.height:
            comma_example = f"{row_label} {only_comma.item(0, 'row')} {labels.get(c, c)} {only_comma.item(0, 'text')}"
    if point_example and comma_example:
        mark = DecimalMark("mixed", point_example, comma_example)
    elif point_example or comma_example:
        mark = DecimalMark("point" if point_example else "comma", point_example, comma_example)
    else:
        mark = DecimalMark("undecided")

    values: dict[str, pl.Series] = {}
    unreadable: dict[str, pl.Series] = {}
    ambiguous: dict[str, pl.Series] = {}
    for c, p in parsed.items():
        both = pl.col("p_val").is_not_null() & pl.col("c_val").is_not_null()
        differ = both & (pl.col("p_val") != pl.col("c_val"))
        if mark.mark == "point":
            take = pl.when(differ).then(pl.col("p_val"))
        elif mark.mark == "comma":
            take = pl.when(differ).then(pl.col("c_val"))
        elif mark.mark == "undecided":
            # 1,234: a thousands comma (both the default convention and the whole-number reading)
            take = pl.when(differ & pl.col("core").str.contains(",")).then(pl.col("p_val"))
        else:
            take = pl.when(pl.lit(False)).then(pl.col("p_val"))
        value = take.when(differ).then(None).otherwise(pl.coalesce("p_val", "c_val"))
        minus = pl.when(pl.col("negative")).then(pl.lit("-")).otherwise(pl.lit(""))
        out = p.select(
            value=value,
            unreadable=pl.col("core").is_not_null() & pl.col("p_val").is_null() & pl.col("c_val").is_null(),
            either=pl.when(differ & value.is_null()).then(
                pl.format("{}{} or {}{}", minus, pl.col("p_text"), minus, pl.col("c_text"))
            ),
        )
        values[c] = out["value"].alias(c)
        unreadable[c] = out["unreadable"].alias(c)
        ambiguous[c] = out["either"].alias(c)
    return ReadNumbers(values, unreadable, ambiguous, mark)
