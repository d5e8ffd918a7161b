import numpy as np
import pytest

from funnel_assets.lib.synthetic.validation import distribution_checks, share_check, wilson_interval


def test_wilson_interval_contains_the_estimate_and_narrows_with_data():
    lo, hi = wilson_interval(28, 100)
    assert lo < 0.28 < hi
    lo2, hi2 = wilson_interval(2800, 10000)
    assert lo < lo2 < 0.28 < hi2 < hi
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo0, hi0 = wilson_interval(0, 50)
    assert lo0 == 0.0 and 0 < hi0 < 0.5


def test_correct_rates_pass_and_wrong_ones_fail_at_scale():
    rng = np.random.default_rng(1)
    draws = rng.random(20000) < 0.28
    assert share_check("conv", int(draws.sum()), 20000, 0.28).passed
    assert not share_check("conv", int(draws.sum()), 20000, 0.32).passed
    assert share_check("nothing", 0, 0, 0.5).passed


def test_a_correct_generator_rarely_fails():
    rng = np.random.default_rng(2)
    n, p = 3000, 0.35
    failures = sum(not share_check("x", int(rng.binomial(n, p)), n, p).passed for _ in range(2000))
    assert failures <= 2  # z = 4: about 1 in 16,000


def test_distribution_checks_flag_the_wrong_category():
    checks = distribution_checks("tiers", {"STARTER": 500, "PRO": 350, "BUSINESS": 150}, {"STARTER": 0.5, "PRO": 0.35, "BUSINESS": 0.12, "ENTERPRISE": 0.03})
    by = {c.name: c for c in checks}
    assert by["tiers[STARTER]"].passed and by["tiers[PRO]"].passed
    assert not by["tiers[ENTERPRISE]"].passed  # expected 3%, saw none in 1000
    assert "0/1000" in by["tiers[ENTERPRISE]"].describe()
