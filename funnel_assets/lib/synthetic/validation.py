"""Statistical checks for the synthetic world: is an observed share consistent with its rate?

A simulated day draws thousands of coin flips; its observed shares wander around the
configured rates. A check passes when the observed count lies within ``z`` standard errors of
the binomial expectation (Wilson score interval, which behaves at small counts and near 0 or
1). With the default z = 4 a correct generator fails a given check about once in 16,000 days;
a generator that is off by a few points fails at once at full scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_Z = 4.0


@dataclass(frozen=True)
class ShareCheck:
    name: str
    successes: int
    trials: int
    expected: float
    lower: float
    upper: float

    @property
    def observed(self) -> float:
        return self.successes / self.trials if self.trials else float("nan")

    @property
    def passed(self) -> bool:
        """Too few trials to judge passes (there is nothing to contradict the rate)."""
        return self.trials == 0 or self.lower <= self.expected <= self.upper

    def describe(self) -> str:
        if not self.trials:
            return f"{self.name}: no trials to judge"
        return (
            f"{self.name}: {self.successes}/{self.trials} = {self.observed:.4f}; expected {self.expected:.4f}, "
            f"consistent range [{self.lower:.4f}, {self.upper:.4f}]"
        )


def wilson_interval(successes: int, trials: int, z: float = DEFAULT_Z) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def share_check(name: str, successes: int, trials: int, expected: float, z: float = DEFAULT_Z) -> ShareCheck:
    """Is ``successes`` out of ``trials`` consistent with rate ``expected``?"""
    lower, upper = wilson_interval(successes, trials, z)
    return ShareCheck(name, int(successes), int(trials), float(expected), lower, upper)


def distribution_checks(name: str, counts: dict[str, int], expected: dict[str, float], z: float = DEFAULT_Z) -> list[ShareCheck]:
    """One share check per category of a categorical distribution (e.g. tiers on a path).

    Categories with an expected share but no observations count as zero successes.
    """
    total = sum(counts.values())
    return [share_check(f"{name}[{key}]", counts.get(key, 0), total, p, z) for key, p in expected.items()]
