"""Partial or empty exports never replace good data.

Before a source's rows replace what the warehouse holds (a day of the leads or spend sheet, a
CRM snapshot), the row counts about to be written are compared with the counts there now. A
sharp shrink is refused: nothing is written, the previous rows stay, and the asset's blocking
check fails with a message naming the source, the day, the counts and how to accept a real
shrink (the run tag ``funnel/accept_shrink``).

What "sharp" means, per source, is in ``data/config/shrink_guard.csv``::

    source,max_drop_share,min_previous_rows,notes
    leads_sheet,0.2,10,...

- any scope (a day, the whole export, a snapshot) that had rows and would get none is refused;
- a scope that had at least ``min_previous_rows`` rows and would lose more than
  ``max_drop_share`` of them (0 to 1) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from funnel_assets.lib.config import ConfigSpec, not_blank, number, one_of, read_config_csv

SHRINK_GUARD_FILE = "shrink_guard.csv"
ACCEPT_SHRINK_TAG = "funnel/accept_shrink"
"""Run tag that accepts a real shrink: a comma-separated list of sources, or ``all``."""
SOURCES = ("leads_sheet", "spend_sheet", "crm_assigned_leads", "crm_sales")
README_SECTION = "README, 'Partial or empty exports'"
MAX_LISTED = 10

SPEC = ConfigSpec(
    required=("source", "max_drop_share", "min_previous_rows"),
    optional=("notes",),
    validators={
        "source": (not_blank, one_of(*SOURCES)),
        "max_drop_share": (number(0, 1),),
        "min_previous_rows": (number(1, integer=True),),
    },
    unique=("source",),
)


@dataclass(frozen=True)
class ShrinkRule:
    source: str
    max_drop_share: float
    min_previous_rows: int

    def describe(self) -> str:
        return (
            f"a scope that had rows and would get none, or that had at least {self.min_previous_rows} rows and would "
            f"lose more than {self.max_drop_share:.0%} of them"
        )


DEFAULT_RULES = {
    "leads_sheet": ShrinkRule("leads_sheet", 0.2, 10),
    "spend_sheet": ShrinkRule("spend_sheet", 0.2, 10),
    "crm_assigned_leads": ShrinkRule("crm_assigned_leads", 0.2, 10),
    "crm_sales": ShrinkRule("crm_sales", 0.2, 10),
}
"""What a missing file, or a source without a line, gets (the values the shipped file has)."""


def load_shrink_rules(path: Path | str) -> dict[str, ShrinkRule]:
    """``shrink_guard.csv``, one line per source; a missing file or line means the defaults."""
    if not Path(path).exists():
        return dict(DEFAULT_RULES)
    frame = read_config_csv(path, SPEC)
    rules = dict(DEFAULT_RULES)
    for row in frame.iter_rows(named=True):
        rules[row["source"]] = ShrinkRule(row["source"], float(row["max_drop_share"]), int(row["min_previous_rows"]))
    return rules


def accepted_sources(tag_value: str | None) -> frozenset[str]:
    """The sources a ``funnel/accept_shrink`` tag names (``all``: every source).

    Raises ``ValueError`` for a name that is no source, so a typo never silently accepts
    nothing while the person thinks it accepted the shrink.
    """
    names = {n.strip().lower() for n in (tag_value or "").replace(";", ",").split(",") if n.strip()}
    if "all" in names:
        return frozenset(SOURCES)
    unknown = sorted(names - set(SOURCES))
    if unknown:
        raise ValueError(
            f"run tag {ACCEPT_SHRINK_TAG}={tag_value!r} names {', '.join(unknown)}, which is no source; "
            f"use a comma-separated list of {', '.join(SOURCES)}, or all"
        )
    return frozenset(names)


@dataclass(frozen=True)
class Shrink:
    scope: str
    """What shrank: a day (``2025-03-05``), ``the whole export`` or ``the snapshot``."""
    previous: int
    new: int

    @property
    def drop_share(self) -> float:
        return (self.previous - self.new) / self.previous if self.previous else 0.0

    def describe(self) -> str:
        return f"{self.scope}: {self.new} rows now, {self.previous} in the warehouse (-{self.drop_share:.0%})"


def find_shrinks(previous: Mapping[str, int], new: Mapping[str, int], rule: ShrinkRule) -> tuple[Shrink, ...]:
    """The scopes of ``previous`` whose row count in ``new`` drops sharply (see the module doc)."""
    out = []
    for scope in sorted(previous):
        before, after = previous[scope], new.get(scope, 0)
        if before <= 0 or after >= before:
            continue
        if after == 0 or (before >= rule.min_previous_rows and (before - after) / before > rule.max_drop_share):
            out.append(Shrink(scope, before, after))
    return tuple(out)


@dataclass(frozen=True)
class ShrinkVerdict:
    source: str
    rule: ShrinkRule
    shrinks: tuple[Shrink, ...]
    accepted: bool
    compared: int
    """How many scopes were compared."""

    @property
    def refused(self) -> bool:
        return bool(self.shrinks) and not self.accepted

    def _listed(self) -> str:
        shown = "; ".join(s.describe() for s in self.shrinks[:MAX_LISTED])
        more = len(self.shrinks) - MAX_LISTED
        return shown + (f"; and {more} more" if more > 0 else "")

    @property
    def message(self) -> str:
        if not self.shrinks:
            return f"{self.source}: no sharp shrink ({self.compared} compared with the warehouse)."
        if self.accepted:
            return (
                f"{self.source}: shrink accepted by the run tag {ACCEPT_SHRINK_TAG}, the rows were replaced: "
                f"{self._listed()}."
            )
        return (
            f"{self.source}: refused to replace the warehouse's rows with far fewer: {self._listed()}. "
            f"Refused is {self.rule.describe()} (data/config/{SHRINK_GUARD_FILE}). Nothing was written; the previous "
            f"rows stay. If the export is incomplete, fix it and run again. If the rows were really removed, run again "
            f"with the run tag {ACCEPT_SHRINK_TAG}={self.source} (see {README_SECTION})."
        )

    def metadata(self) -> dict[str, str | int | float]:
        return {
            "source": self.source,
            "sharp_shrinks": len(self.shrinks),
            "shrinks": self._listed() or "none",
            "accepted_by_tag": self.accepted,
            "max_drop_share": self.rule.max_drop_share,
            "min_previous_rows": self.rule.min_previous_rows,
            "how_to_accept": f"run tag {ACCEPT_SHRINK_TAG}={self.source} (see {README_SECTION})",
        }


def judge(
    source: str,
    rule: ShrinkRule,
    previous: Mapping[str, int],
    new: Mapping[str, int],
    *,
    accept_tag: str | None = None,
) -> ShrinkVerdict:
    """Compare what is about to be written (``new``, rows per scope) with what is there (``previous``)."""
    shrinks = find_shrinks(previous, new, rule)
    return ShrinkVerdict(source, rule, shrinks, accepted=source in accepted_sources(accept_tag), compared=len(previous))
