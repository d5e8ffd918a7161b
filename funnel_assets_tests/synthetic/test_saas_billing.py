"""Stripe exporter (saas_billing) on hand-built FORM_FILLS / OUTCOMES frames that follow saas_schema."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from funnel_assets.lib.synthetic.saas_billing import (
    PLAN_COLUMNS,
    PRODUCT_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    plan_id,
    stripe_customer_id,
    stripe_plans,
    stripe_products,
    stripe_subscriptions_for_day,
)
from funnel_assets.lib.synthetic.saas_schema import OUTCOMES
from funnel_assets.lib.synthetic.validation import share_check
from funnel_assets_tests.synthetic.test_saas_crm import D0, _at, config, fill, frame, outcomes_for_day, simulate  # noqa: F401

SEED = 11
DAY_S = 86_400


def _run(config, rows: list[dict], days: int = 18, direct: dict[date, list[dict]] | None = None) -> dict[date, pl.DataFrame]:
    history = [frame(rows)]
    out = {}
    for i in range(days):
        day = D0 + timedelta(days=i)
        window = [frame([r for r in rows if r["submitted_at"].date() <= day])]
        outcomes = outcomes_for_day(config, history, day, (direct or {}).get(day, []))
        out[day] = stripe_subscriptions_for_day(config, window, outcomes, seed=SEED, day=day)
    return out


def test_products_and_plans_follow_the_catalog(config):
    products, plans = stripe_products(config), stripe_plans(config)
    assert products.schema == pl.Schema(PRODUCT_COLUMNS) and plans.schema == pl.Schema(PLAN_COLUMNS)
    assert products["id"].to_list() == config.products["product_id"].to_list()
    assert plans.height == 2 * products.height
    assert set(plans["id"]) == {f"plan_{s.lower()}_{i}" for s in config.products["sku"] for i in ("monthly", "yearly")}
    pro_year = plans.filter(pl.col("id") == "plan_pro_yearly").row(0, named=True)
    assert pro_year == pro_year | {"product": "prod_professional", "amount": 49000, "currency": "usd", "interval": "year",
                                   "interval_count": 1, "active": True, "object": "plan", "trial_period_days": 14}
    assert plans.filter(pl.col("interval") == "month")["amount"].to_list() == config.products["price_monthly_cents"].to_list()
    assert set(plans["product"]) == set(products["id"])
    created = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert (stripe_plans(config, created=created)["created"] == int(created.timestamp())).all()


def test_trials_are_14_days_and_change_only_on_their_outcome_day(config):
    converts = fill(config, person="cara-1", day=D0, trial_path="self_service", converts=True, outcome_after=12, sku="PRO")
    expires = fill(config, person="ed-2", day=D0, trial_path="sales_assisted", converts=False, hour=13)
    late = fill(config, person="lee-3", day=D0, trial_path="sales_assisted", converts=True, outcome_after=16, sku="ENTERPRISE",
                interval="year", hour=14)
    timeline = _run(config, [converts, expires, late])
    seen: dict[str, list] = {}
    for day, subs in timeline.items():
        assert subs.schema == pl.Schema(SUBSCRIPTION_COLUMNS)
        for s in subs.iter_rows(named=True):
            seen.setdefault(s["customer_email"], []).append(((day - D0).days, s["status"], s["event_type"]))
            assert s["trial_end"] - s["trial_start"] == 14 * DAY_S and s["trial_start"] == s["created"] == s["start_date"]
            assert s["metadata_product_sku"] is not None and s["metadata_trial_path"] is not None
            assert s["event_created"] // DAY_S == (day - date(1970, 1, 1)).days  # the change happened that day
            if s["status"] == "trialing":
                assert s["canceled_at"] is None and (s["current_period_start"], s["current_period_end"]) == (s["trial_start"], s["trial_end"])
    created = (0, "trialing", "customer.subscription.created")
    assert seen["cara-1@example.com"] == [created, (12, "active", "customer.subscription.updated")]
    assert seen["ed-2@example.com"] == [created, (14, "canceled", "customer.subscription.deleted")]
    assert seen["lee-3@example.com"] == [created, (16, "active", "customer.subscription.updated")]
    canceled = timeline[D0 + timedelta(days=14)].row(0, named=True)
    assert canceled["canceled_at"] == canceled["ended_at"] == canceled["trial_end"]
    active = timeline[D0 + timedelta(days=16)].row(0, named=True)
    paid_from = datetime.fromtimestamp(active["current_period_start"], timezone.utc)
    assert paid_from.date() == D0 + timedelta(days=16) and active["plan_id"] == "plan_enterprise_yearly"
    assert datetime.fromtimestamp(active["current_period_end"], timezone.utc) == paid_from.replace(year=paid_from.year + 1)
    assert active["plan_amount"] == 399000 and active["canceled_at"] is None
    # the same subscription id and customer throughout
    ids = {s["customer_email"]: set() for subs in timeline.values() for s in subs.iter_rows(named=True)}
    for subs in timeline.values():
        for s in subs.iter_rows(named=True):
            ids[s["customer_email"]].add((s["id"], s["customer"]))
    assert all(len(v) == 1 for v in ids.values())


def test_direct_purchases_and_form_conversions_start_active_without_trial(config):
    pricing = fill(config, person="pat-1", day=D0, form_type="pricing_inquiry", converts=True, outcome_after=5, sku="BUSINESS")
    buy_day = D0 + timedelta(days=2)
    direct = {"person_id": "anon-9", "user_id": None, "email": "buyer@example.org", "kind": "direct_purchase", "form_type": None,
              "trial_path": None, "started_on": buy_day, "happened_at": _at(buy_day, 20, 15), "sku": "STARTER",
              "billing_interval": "month", "amount_cents": 2900}
    timeline = _run(config, [pricing], days=8, direct={buy_day: [direct]})
    rows = [((d - D0).days, s) for d, subs in timeline.items() for s in subs.iter_rows(named=True)]
    assert [(d, s["status"], s["metadata_source_form_type"]) for d, s in rows] == [(2, "active", None), (5, "active", "pricing_inquiry")]
    for _, s in rows:
        assert s["trial_start"] is None and s["trial_end"] is None and s["event_type"] == "customer.subscription.created"
        assert s["current_period_start"] == s["created"] and s["metadata_trial_path"] is None
    assert rows[0][1]["created"] == int(direct["happened_at"].timestamp()) and rows[0][1]["plan_id"] == "plan_starter_monthly"
    assert rows[1][1]["plan_amount"] == 14900 and rows[1][1]["customer"] == stripe_customer_id(SEED, "pat-1")


def test_items_json_matches_the_flattened_columns(config):
    _, inputs = simulate(config, days=16, per_day=40, seed=8)
    day = D0 + timedelta(days=13)
    subs = stripe_subscriptions_for_day(config, *inputs(day), seed=SEED, day=day)
    assert subs.height > 0 and subs["id"].n_unique() == subs.height
    for s in subs.iter_rows(named=True):
        item = json.loads(s["items"])["data"][0]
        assert item["subscription"] == s["id"] and item["id"] == s["item_id"]
        plan = item["plan"]
        assert (plan["id"], plan["amount"], plan["interval"], plan["product"]) == (
            s["plan_id"], s["plan_amount"], s["plan_interval"], s["plan_product"])
        assert plan["id"] == plan_id(s["metadata_product_sku"], s["plan_interval"])
        assert json.loads(s["metadata"])["product_sku"] == s["metadata_product_sku"]
        assert s["id"].startswith("sub_") and s["customer"].startswith("cus_")


def test_trials_that_do_not_convert_get_plans_from_their_tier_mix(config):
    rows = [fill(config, person=f"n{i}-x", day=D0, trial_path="self_service" if i % 2 else "sales_assisted", converts=False,
                 hour=i % 24, minute=i % 60) for i in range(3000)]
    subs = stripe_subscriptions_for_day(config, [frame(rows)], pl.DataFrame(schema=OUTCOMES), seed=SEED, day=D0)
    assert subs.height == 3000 and (subs["status"] == "trialing").all()
    annual = (subs["plan_interval"] == "year").sum()
    check = share_check("annual", annual, subs.height, config.setting("annual_billing_share"))
    assert check.passed, check.describe()
    for (path,), part in subs.partition_by("metadata_trial_path", as_dict=True).items():
        shares = dict(config.trial_tiers.filter(pl.col("trial_path") == path).select("sku", "share").iter_rows())
        for sku, share in shares.items():
            check = share_check(f"{path}/{sku}", (part["metadata_product_sku"] == sku).sum(), part.height, share)
            assert check.passed, check.describe()


def test_subscriptions_are_deterministic_and_ids_stable(config):
    fills, inputs = simulate(config, days=18, per_day=40, seed=9)
    day = D0 + timedelta(days=14)
    window, outcomes = inputs(day)
    first = stripe_subscriptions_for_day(config, window, outcomes, seed=SEED, day=day)
    stripe_subscriptions_for_day(config, *inputs(D0), seed=SEED, day=D0)
    again = stripe_subscriptions_for_day(config, list(reversed(window)), outcomes.reverse(), seed=SEED, day=day)
    assert first.height > 0 and first.equals(again)
    # a trial created on D0 and updated on its outcome day keeps its id
    start = stripe_subscriptions_for_day(config, *inputs(D0), seed=SEED, day=D0)
    assert set(first.filter(pl.col("event_type") != "customer.subscription.created")["id"]) & set(start["id"])


def test_amounts_off_the_catalog_are_rejected(config):
    bad = fill(config, person="odd-1", day=D0, form_type="contact_us", converts=True, outcome_after=0, sku="PRO")
    bad["amount_cents"] = 1234
    with pytest.raises(ValueError, match="differs from the catalog"):
        stripe_subscriptions_for_day(config, [frame([bad])], pl.DataFrame(schema=OUTCOMES), seed=SEED, day=D0)


def test_a_form_sent_after_midnight_belongs_to_its_sessions_day(config):
    # the session began at 23:50 on D0; the trial form was sent at 00:05 on D0 + 1
    late = fill(config, person="owl-1", day=D0, trial_path="sales_assisted", converts=False, hour=23, minute=50)
    late["submitted_at"] = _at(D0 + timedelta(days=1), 0, 5)
    subs = stripe_subscriptions_for_day(config, [frame([late])], pl.DataFrame(schema=OUTCOMES), seed=SEED, day=D0)
    assert subs.height == 1 and subs["created"][0] == int(late["submitted_at"].timestamp())
    end = D0 + timedelta(days=14)
    outcomes = outcomes_for_day(config, [frame([late])], end)
    canceled = stripe_subscriptions_for_day(config, [frame([late])], outcomes, seed=SEED, day=end).row(0, named=True)
    ended = datetime.fromtimestamp(canceled["canceled_at"], timezone.utc)
    assert canceled["status"] == "canceled" and ended.date() == end  # with the plan's trial_ends_on, not a day later
    from funnel_assets.lib.synthetic.saas_crm import crm_activities_for_day, crm_deals_for_day, crm_leads_for_day

    leads = crm_leads_for_day(config, frame([late]), seed=SEED, day=D0, scale=0.0)
    assert leads.height == 1 and crm_activities_for_day(config, leads, seed=SEED, day=D0).height >= 10
    lost = crm_deals_for_day(config, [frame([late])], outcomes, seed=SEED, day=end)
    assert lost["status"].to_list() == ["lost"] and lost["lost_time"][0].date() == end
