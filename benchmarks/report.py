"""Printing benchmark figures, ratios and goals the same way for every benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Figure:
    name: str
    seconds: float
    items: int | None = None
    unit: str = "rows"
    note: str = ""

    @property
    def rate(self) -> float | None:
        return self.items / self.seconds if self.items and self.seconds > 0 else None


@dataclass
class Goal:
    description: str
    value: float
    target: float
    higher_is_better: bool = True

    @property
    def met(self) -> bool:
        return self.value >= self.target if self.higher_is_better else self.value <= self.target


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def print_results(results: Results) -> bool:
    width = max((len(f.name) for f in results.figures), default=10)
    for f in results.figures:
        rate = f"{f.rate:,.0f} {f.unit}/s" if f.rate else ""
        print(f"  {f.name:<{width}}  {f.seconds:9.3f} s  {rate:>20}  {f.note}")
    for g in results.goals:
        sign = ">=" if g.higher_is_better else "<="
        print(f"  {'MET ' if g.met else 'MISS'}  {g.description}: {g.value:,.2f} (goal {sign} {g.target:,.2f})")
    for n in results.notes:
        print(f"  note: {n}")
    return all(g.met for g in results.goals)
