"""The SaaS world's raw datasets per day, and the seed checks that judge them."""

import dataclasses
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from funnel_assets.lib.synthetic.saas_checks import CHECKS, saas_checks
from funnel_assets.lib.synthetic.saas_config import load_saas_config
from funnel_assets.lib.synthetic.saas_world import SaasWorld

CONFIG = load_saas_config(Path(__file__).resolve().parents[2] / "data" / "config" / "synthetic")
FIRST = date(2025, 3, 1)


SCALE = 0.1
"""~8 trials a day: a week holds enough (~55) for the rate checks to tell a skewed generator."""


@pytest.fixture(scope="module")
def week():
    world = SaasWorld(CONFIG, seed=5, scale=SCALE)
    return [world.datasets(FIRST + timedelta(days=i)) for i in range(7)]


def test_tables_per_day(week):
    tables = week[3].tables()
    assert set(tables) == {"web_events", "ad_campaigns", "crm_leads", "crm_activities", "crm_deals", "subscriptions"}
    for name, frame in tables.items():
        assert frame.height > 0, name
        assert frame["day"].unique().to_list() == [week[3].day], name
    ads = tables["ad_campaigns"]
    assert set(ads["platform"]) == {"google", "facebook"} and (ads["cost_usd"] > 0).all()


def test_a_lone_day_equals_the_same_day_in_a_range(week):
    alone = SaasWorld(CONFIG, seed=5, scale=SCALE).datasets(week[4].day)
    for name, frame in alone.tables().items():
        assert frame.equals(week[4].tables()[name]), name


def test_every_check_passes_on_the_generated_world(week):
    outcomes = saas_checks(CONFIG, week)
    assert {(o.asset, o.name) for o in outcomes} == {(a, n) for a, names in CHECKS.items() for n in names}
    assert [o.name for o in outcomes if not o.passed] == []


def _corrupt(day, **tables):
    return dataclasses.replace(day, **tables)


def _failed(days) -> set[str]:
    return {o.name for o in saas_checks(CONFIG, days) if not o.passed}


def test_checks_catch_broken_data(week):
    d = week[2]
    sessions = d.simulated.sessions.with_columns(
        pl.when(~pl.col("is_returning")).then(pl.lit("reeng-lapsed-users")).otherwise(pl.col("campaign_name")).alias("campaign_name")
    )
    broken_sim = dataclasses.replace(d.simulated, sessions=sessions)
    assert "reengagement_only_for_returning_users" in _failed([_corrupt(d, simulated=broken_sim)])

    assert "every_form_fill_creates_a_lead" in _failed([_corrupt(d, crm_leads=d.crm_leads.head(d.crm_leads.height // 2))])

    deals = d.crm_deals.with_columns(pl.when(pl.col("stripe_subscription_id").is_not_null()).then(pl.col("value") + 1).otherwise(pl.col("value")).alias("value"))
    if d.crm_deals["stripe_subscription_id"].drop_nulls().len():
        assert "deal_values_match_subscriptions" in _failed([_corrupt(d, crm_deals=deals)])

    no_sku = d.web_events.with_columns(
        pl.when(pl.col("event_type") == "purchase").then(pl.lit("{}")).otherwise(pl.col("event_properties")).alias("event_properties")
    )
    assert "purchases_carry_skus" in _failed([_corrupt(d, web_events=no_sku)])


def test_rate_checks_catch_a_skewed_generator(week):
    # every trial self-service: 100% instead of 65%
    skewed = []
    for d in week:
        forms = d.simulated.form_fills.with_columns(
            pl.when(pl.col("form_type") == "trial_signup").then(pl.lit("self_service")).otherwise(pl.col("trial_path")).alias("trial_path")
        )
        skewed.append(dataclasses.replace(d, simulated=dataclasses.replace(d.simulated, form_fills=forms)))
    assert "self_service_share_of_trials" in _failed(skewed)
