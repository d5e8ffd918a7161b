"""Editable configuration: CSV files under ``data/config/``, validated on load.

The people who edit these files are analysts, not engineers, so every problem is reported
with the file, the line (as a spreadsheet shows it: the header is line 1) and what to do.
All problems of a file are reported at once, not just the first.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import polars as pl

from .text import strip_invisible

OTHER_SOURCES_FUNNEL = "Other Sources (Miscellaneous)"
"""The funnel of any source the mapping does not know (seed 002, Phase 1.2)."""


@dataclass(frozen=True)
class ConfigProblem:
    line: int | None
    column: str | None
    problem: str

    def describe(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column:
            where.append(f"column {self.column!r}")
        return (", ".join(where) + ": " if where else "") + self.problem


class ConfigError(Exception):
    """A configuration file that cannot be used, with every problem found in it."""

    def __init__(self, path: Path | str, problems: Sequence[ConfigProblem]):
        self.path = Path(path)
        self.problems = list(problems)
        listed = "\n".join(f"  - {p.describe()}" for p in self.problems)
        super().__init__(f"{self.path}: {len(self.problems)} problem(s); fix the file and run again:\n{listed}")


Validator = Callable[[str], str | None]
"""Takes a cell's trimmed text, returns a problem description or None."""


def not_blank(value: str) -> str | None:
    return "is empty; fill it in or delete the line" if not value else None


def number(minimum: float | None = None, maximum: float | None = None, *, integer: bool = False, optional: bool = False) -> Validator:
    """A number (a whole number with ``integer``) within the bounds; blank only if ``optional``."""

    def check(value: str) -> str | None:
        if not value:
            return None if optional else "is empty; fill in a number"
        try:
            parsed = int(value) if integer else float(value)
        except ValueError:
            return f"{value!r} is not {'a whole number' if integer else 'a number'}"
        if minimum is not None and parsed < minimum:
            return f"{value} is below {minimum}"
        if maximum is not None and parsed > maximum:
            return f"{value} is above {maximum}"
        return None

    return check


def one_of(*allowed: str, ignore_case: bool = False) -> Validator:
    """One of the allowed words."""

    def check(value: str) -> str | None:
        candidate = value.lower() if ignore_case else value
        return None if candidate in allowed else f"{value!r} is not one of {', '.join(allowed)}"

    return check


@dataclass(frozen=True)
class ConfigSpec:
    """What a configuration CSV must look like."""

    required: Sequence[str]
    optional: Sequence[str] = ()
    validators: Mapping[str, Sequence[Validator]] = field(default_factory=dict)
    unique: Sequence[str] = ()
    """Columns whose combined (case-insensitive) value must not repeat."""


def read_config_csv(path: Path | str, spec: ConfigSpec) -> pl.DataFrame:
    """Read and validate one configuration CSV; all values are trimmed strings.

    Invisible characters pasted in with a value or a header (zero-width space, word joiner, a
    BOM in mid-file, control characters) are removed and non-breaking spaces read as spaces
    (:func:`funnel_assets.lib.text.strip_invisible`), so ``acca_webinar_meta`` followed by a
    zero-width space is ``acca_webinar_meta``.

    The result has the spec's columns (optional ones as null when absent) plus ``line``.
    Blank lines are skipped. Raises ``ConfigError`` listing every problem.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(path, [ConfigProblem(None, None, "the file does not exist; create it (see README, 'Configuration')")])
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [ConfigProblem(None, None, f"is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as 'CSV UTF-8'")]) from exc

    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[ConfigProblem] = []
    try:
        header = next(reader)
    except StopIteration:
        raise ConfigError(path, [ConfigProblem(None, None, f"is empty; it needs a header line: {','.join(spec.required)}")]) from None
    names = [strip_invisible(h) for h in header]
    lookup = {n.lower(): i for i, n in enumerate(names) if n}
    known = {c.lower() for c in (*spec.required, *spec.optional)}
    missing = [c for c in spec.required if c.lower() not in lookup]
    if missing:
        problems.append(ConfigProblem(1, None, f"missing column(s) {', '.join(missing)}; the header must be {','.join(spec.required)}"))
    unknown = [n for n in names if n and n.lower() not in known]
    if unknown:
        problems.append(ConfigProblem(1, None, f"unknown column(s) {', '.join(unknown)}; allowed: {', '.join((*spec.required, *spec.optional))}"))
    if problems:
        raise ConfigError(path, problems)

    columns = [*spec.required, *[c for c in spec.optional if c.lower() in lookup]]
    rows: list[dict] = []
    seen: dict[tuple, int] = {}
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(ConfigProblem(reader.line_num, None, f"is not valid CSV ({exc}); check the quotes"))
            break
        line = reader.line_num
        if not any(strip_invisible(cell) for cell in record):
            continue
        if len(record) > len(names) and any(strip_invisible(c) for c in record[len(names):]):
            problems.append(ConfigProblem(line, None, f"has {len(record)} values but the header has {len(names)} columns; a value probably contains an unquoted comma"))
            continue
        row = {"line": line}
        for col in columns:
            idx = lookup[col.lower()]
            value = strip_invisible(record[idx]) if idx < len(record) else ""
            row[col] = value or None
            for check in spec.validators.get(col, ()):
                issue = check(value)
                if issue:
                    problems.append(ConfigProblem(line, col, issue))
        if spec.unique:
            key = tuple((row.get(c) or "").lower() for c in spec.unique)
            if key in seen:
                problems.append(ConfigProblem(line, spec.unique[0], f"repeats line {seen[key]} ({', '.join(k for k in key)}); keep one of them"))
            else:
                seen[key] = line
        rows.append(row)
    if problems:
        raise ConfigError(path, problems)
    schema = {"line": pl.Int64, **{c: pl.String for c in columns}}
    return pl.DataFrame(rows, schema=schema)


# ----------------------------------------------------------------------- funnel mapping

FUNNEL_MAPPING_SPEC = ConfigSpec(
    required=("source", "funnel"),
    optional=("notes",),
    validators={"source": (not_blank,), "funnel": (not_blank,)},
    unique=("source",),
)


@dataclass(frozen=True)
class FunnelMapping:
    """Source → funnel, case-insensitive; anything unknown goes to the Miscellaneous funnel."""

    table: pl.DataFrame  # columns: source_key (lower-cased source), funnel
    path: Path | None = None

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, path: Path | None = None) -> "FunnelMapping":
        table = frame.select(
            source_key=pl.col("source").str.strip_chars().str.to_lowercase(),
            funnel=pl.col("funnel").str.strip_chars(),
        )
        return cls(table, path)

    def funnel_for(self, source: str | None) -> str:
        if not source or not source.strip():
            return OTHER_SOURCES_FUNNEL
        hit = self.table.filter(pl.col("source_key") == source.strip().lower())
        return hit["funnel"][0] if hit.height else OTHER_SOURCES_FUNNEL

    def apply(self, frame: pl.DataFrame, source_column: str, *, funnel_column: str = "funnel", mapped_column: str | None = "funnel_mapped") -> pl.DataFrame:
        """Add ``funnel_column`` (and whether the source was in the mapping) to ``frame``."""
        keyed = frame.with_columns(__source_key=pl.col(source_column).str.strip_chars().str.to_lowercase())
        joined = keyed.join(self.table.rename({"source_key": "__source_key", "funnel": "__funnel"}), on="__source_key", how="left", maintain_order="left")
        out = joined.with_columns(pl.col("__funnel").fill_null(OTHER_SOURCES_FUNNEL).alias(funnel_column))
        if mapped_column:
            out = out.with_columns(pl.col("__funnel").is_not_null().alias(mapped_column))
        return out.drop("__source_key", "__funnel")


def load_funnel_mapping(path: Path | str) -> FunnelMapping:
    """Load ``funnel_mapping.csv`` (columns ``source,funnel[,notes]``)."""
    frame = read_config_csv(path, FUNNEL_MAPPING_SPEC)
    return FunnelMapping.from_frame(frame, Path(path))
