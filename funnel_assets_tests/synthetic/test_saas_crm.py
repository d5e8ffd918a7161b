"""Pipedrive exporter (saas_crm) on hand-built FORM_FILLS / OUTCOMES frames that follow saas_schema.

The builders below (``fill``, ``frame``, ``random_form_fills``, ``outcomes_for_day``,
``simulate``) stand in for the journey simulation; test_saas_billing reuses them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from funnel_assets.lib.synthetic.saas_billing import fill_key, stripe_subscriptions_for_day
from funnel_assets.lib.synthetic.saas_config import load_saas_config
from funnel_assets.lib.synthetic.saas_crm import (
    ACTIVITY_COLUMNS,
    DEAL_COLUMNS,
    LEAD_COLUMNS,
    SALES_REP_IDS,
    crm_activities_for_day,
    crm_deals_for_day,
    crm_leads_for_day,
    deal_id_for_lead,
    lead_id_for_form_fill,
    required_lookback_days,
)
from funnel_assets.lib.synthetic.saas_schema import FORM_FILLS, OUTCOMES

CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "config" / "synthetic"
D0 = date(2025, 3, 3)
SEED = 7


@pytest.fixture(scope="module")
def config():
    return load_saas_config(CONFIG_DIR)


# --------------------------------------------------------------------------- builders (the simulation's stand-in)


def _at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)


def _price(config, sku: str, interval: str) -> int:
    prices = {(r["sku"], "month"): r["price_monthly_cents"] for r in config.products.iter_rows(named=True)}
    prices |= {(r["sku"], "year"): r["price_annual_cents"] for r in config.products.iter_rows(named=True)}
    return prices[sku, interval]


def fill(config, *, person: str, day: date, form_type: str = "trial_signup", trial_path: str | None = None,
         converts: bool = False, outcome_after: int | None = None, sku: str | None = None, interval: str = "month",
         hour: int = 10, minute: int = 0, secondary: bool = False, company: str = "Acme Inc") -> dict:
    """One FORM_FILLS row with its plan. Trials: ``outcome_after`` days to conversion (default 12)
    or expiry at the trial's end; other forms: ``outcome_after`` days to conversion."""
    trial_days = int(config.setting("trial_days"))
    trial = form_type == "trial_signup"
    ends = day + timedelta(days=trial_days) if trial else None
    converts_on = day + timedelta(days=outcome_after if outcome_after is not None else 12) if converts else None
    first, last = person.split("-")[0].title(), "Tester"
    return {
        "person_id": person, "device_id": f"dev-{person}", "user_id": f"{person}@example.com", "email": f"{person}@example.com",
        "first_name": first, "last_name": last, "company": company, "form_type": form_type,
        "submitted_at": _at(day, hour, minute), "session_id": int(_at(day, hour, minute).timestamp() * 1000),
        "utm_source": "google", "utm_medium": "cpc", "campaign_name": "acq-trial-signup", "is_secondary": secondary,
        "trial_path": trial_path if trial else None, "trial_ends_on": ends, "converts": converts if (trial or converts) else False,
        "converts_on": converts_on, "outcome_on": (converts_on if converts else ends) if trial else None,
        "sku": sku if converts else None, "billing_interval": interval if converts else None,
        "amount_cents": _price(config, sku, interval) if converts else None,
    }


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=FORM_FILLS, orient="row") if rows else pl.DataFrame(schema=FORM_FILLS)


def random_form_fills(config, day: date, n: int, seed: int = 0) -> pl.DataFrame:
    """``n`` form fills on ``day`` with plans drawn from the configuration, like the simulation."""
    rng = np.random.default_rng([seed, day.toordinal()])
    forms, paths = config.form_types, config.trial_paths
    rates = dict(forms.select("form_type", "paid_conversion_rate").iter_rows())
    path_rows = {r["trial_path"]: r for r in paths.iter_rows(named=True)}
    tiers = {p: (t["sku"].to_list(), t["share"].to_numpy()) for (p,), t in config.trial_tiers.partition_by("trial_path", as_dict=True).items()}
    annual = config.setting("annual_billing_share")
    form_types = rng.choice(forms["form_type"].to_list(), n, p=forms["weight"].to_numpy())
    trial_paths = rng.choice(paths["trial_path"].to_list(), n, p=paths["weight"].to_numpy())
    u, z, gap, hours, minutes = rng.random(n), rng.normal(size=n), rng.integers(2, 12, n), rng.integers(0, 24, n), rng.integers(0, 60, n)
    years, secondary = rng.random(n) < annual, rng.random(n) < 0.1
    rows = []
    for i in range(n):
        form_type, path = str(form_types[i]), None
        if form_type == "trial_signup":
            path = str(trial_paths[i])
            spec = path_rows[path]
            converts = u[i] < spec["conversion_rate"]
            after = int(np.clip(round(spec["avg_conversion_day"] + z[i] * spec["conversion_day_sd"]), 10, 16))
        else:
            converts, after = u[i] < rates[form_type], int(gap[i])
        skus, shares = tiers[path or "sales_assisted"]
        sku = skus[int(np.searchsorted(np.cumsum(shares), (u[i] * 7919) % 1.0, side="right"))]
        rows.append(fill(config, person=f"p{day:%m%d}x{i}-{seed}", day=day, form_type=form_type, trial_path=path,
                         converts=bool(converts), outcome_after=after, sku=sku, interval="year" if years[i] else "month",
                         hour=int(hours[i]), minute=int(minutes[i]), secondary=bool(secondary[i]), company=f"Company {i}"))
    return frame(rows)


def outcomes_for_day(config, history: list[pl.DataFrame], day: date, direct: list[dict] = ()) -> pl.DataFrame:
    """The OUTCOMES of ``day`` implied by the plans in ``history``, plus direct purchases."""
    trial_days = int(config.setting("trial_days"))
    rows = []
    for f in history:
        for r in f.iter_rows(named=True):
            trial = r["form_type"] == "trial_signup"
            on = r["outcome_on"] if trial else (r["converts_on"] if r["converts"] else None)
            if on != day:
                continue
            kind = ("trial_converted" if r["converts"] else "trial_expired") if trial else "form_converted"
            happened = min(r["submitted_at"] + timedelta(days=trial_days), _at(day, 23, 59)) if kind == "trial_expired" else _at(day, 15, 30)
            rows.append({"person_id": r["person_id"], "user_id": r["user_id"], "email": r["email"], "kind": kind,
                         "form_type": r["form_type"], "trial_path": r["trial_path"], "started_on": datetime.fromtimestamp(r["session_id"] / 1000, timezone.utc).date(),
                         "happened_at": happened, "sku": r["sku"], "billing_interval": r["billing_interval"],
                         "amount_cents": r["amount_cents"]})
    rows += list(direct)
    return pl.DataFrame(rows, schema=OUTCOMES, orient="row") if rows else pl.DataFrame(schema=OUTCOMES)


def simulate(config, days: int, per_day: int, seed: int = 0):
    """Daily FORM_FILLS for ``days`` days from D0, and a function giving (window, outcomes) for a day."""
    fills = {D0 + timedelta(days=i): random_form_fills(config, D0 + timedelta(days=i), per_day, seed) for i in range(days)}
    everything = [pl.concat(list(fills.values()))]
    planned = everything[0].with_columns(
        on=pl.when(pl.col("form_type") == "trial_signup").then(pl.col("outcome_on")).otherwise(pl.col("converts_on"))
    ).filter(pl.col("on").is_not_null()).partition_by("on", as_dict=True, include_key=False)

    def inputs(day: date):
        window = [f for d, f in fills.items() if day - timedelta(days=required_lookback_days(config)) <= d <= day]
        today = planned.get((day,), pl.DataFrame(schema=FORM_FILLS))
        return window, outcomes_for_day(config, [today], day)

    return fills, inputs


# --------------------------------------------------------------------------- leads


def test_every_form_fill_makes_a_lead_plus_bought_leads(config):
    fills = random_form_fills(config, D0, 300, seed=1)
    leads = crm_leads_for_day(config, fills, seed=SEED, day=D0, scale=1.0)
    assert leads.schema == pl.Schema(LEAD_COLUMNS)
    forms = leads.filter(pl.col("origin") == "form_fill")
    bought = leads.filter(pl.col("origin") == "purchased_list")
    assert forms.height == fills.height  # secondary fills too
    assert forms["is_secondary"].sum() == fills["is_secondary"].sum() > 0
    assert 5 <= bought.height <= 60  # Poisson(27)
    assert leads["id"].n_unique() == leads.height
    assert (leads["add_time"].dt.date() == D0).all()
    sources = dict(config.form_types.select("form_type", "lead_source").iter_rows())
    assert all(sources[f] == s for f, s in forms.select("form_type", "source_name").iter_rows())
    assert set(bought["source_name"]) <= set(config.purchased_lists["lead_source"])
    assert bought["form_type"].null_count() == bought.height and bought["email"].str.contains("@").all()
    assert (leads["title"] == leads["person_name"] + " - " + leads["organization_name"]).all()
    trials = forms.filter(pl.col("form_type") == "trial_signup")
    assert trials["trial_path"].null_count() == 0 and (trials["trial_start_date"] == D0).all()
    assert forms.filter(pl.col("form_type") != "trial_signup")["trial_path"].null_count() == forms.height - trials.height
    assert leads["value"].null_count() == leads.height
    assert set(leads["owner_id"]) <= set(SALES_REP_IDS)
    assert "person_id" not in leads.columns
    labels = forms.select("sales_priority", "label").unique()
    assert dict(labels.iter_rows()) == {"high": "Hot", "medium": "Warm", "low": "Cold"}


def test_bought_leads_scale_and_form_fills_must_be_of_the_day(config):
    few = [crm_leads_for_day(config, frame([]), seed=s, day=D0, scale=0.2).height for s in range(50)]
    assert 3.5 < np.mean(few) < 7.5  # Poisson(27 x 0.2)
    wrong_day = frame([fill(config, person="ann-1", day=D0 - timedelta(days=1), trial_path="self_service")])
    with pytest.raises(ValueError, match="other days"):
        crm_leads_for_day(config, wrong_day, seed=SEED, day=D0, scale=1.0)


# --------------------------------------------------------------------------- activities

EXPECTED_ACTIVITIES = {  # seed 000, Phase 5 (and the templates of the other forms)
    "trial_self_service": (1, 1), "trial_sales_assisted": (10, 12), "demo_request": (8, 8), "purchased_lead": (1, 2),
    "newsletter_signup": (1, 1), "whitepaper_download": (1, 1), "pricing_inquiry": (1, 2), "contact_us": (1, 2),
}


def test_activity_volumes_per_template(config):
    fills = random_form_fills(config, D0, 600, seed=2)
    leads = crm_leads_for_day(config, fills, seed=SEED, day=D0, scale=2.0)
    activities = crm_activities_for_day(config, leads, seed=SEED, day=D0)
    assert activities.schema == pl.Schema(ACTIVITY_COLUMNS)
    per_lead = activities.group_by("lead_id", "template").agg(n=pl.len())
    assert per_lead["lead_id"].n_unique() == leads.height  # every lead gets at least one
    for template, part in per_lead.partition_by("template", as_dict=True).items():
        low, high = EXPECTED_ACTIVITIES[template[0]]
        assert low <= part["n"].min() and part["n"].max() <= high, template
    ranges = per_lead.group_by("template").agg(lo=pl.col("n").min(), hi=pl.col("n").max())
    seen = {t: (lo, hi) for t, lo, hi in ranges.iter_rows()}
    assert seen["trial_sales_assisted"] == (10, 12) and seen["purchased_lead"] == (1, 2)
    # expected_activities on the lead is what gets created
    joined = leads.join(per_lead, left_on="id", right_on="lead_id")
    assert (joined["expected_activities"] == joined["n"]).all()
    # due dates follow the template's offsets; nothing is done on the creation day
    offsets = config.activity_templates.select("template", "step", "day_offset")
    due = activities.join(offsets, on=["template", "step"])
    assert all(d == D0 + timedelta(days=o) for d, o in due.select("due_date", "day_offset").iter_rows())
    assert not activities["done"].any() and activities["marked_as_done_time"].null_count() == activities.height
    assert activities["id"].n_unique() == activities.height
    # only sales-assisted trial activities belong to a deal (which exists from day 0): the deal's id
    with_deal = activities.filter(pl.col("deal_id").is_not_null())
    assert set(with_deal["template"]) == {"trial_sales_assisted"}
    assert (with_deal["deal_id"] == pl.Series([deal_id_for_lead(SEED, x) for x in with_deal["lead_id"]])).all()
    deals = crm_deals_for_day(config, [fills], pl.DataFrame(schema=OUTCOMES), seed=SEED, day=D0)
    assert set(with_deal["deal_id"]) == set(deals["id"])


def test_activities_are_marked_done_once_on_their_due_day(config):
    fills = {D0 + timedelta(days=i): random_form_fills(config, D0 + timedelta(days=i), 40, seed=3) for i in range(16)}
    leads = {d: crm_leads_for_day(config, f, seed=SEED, day=d, scale=1.0) for d, f in fills.items()}
    created = crm_activities_for_day(config, leads[D0], seed=SEED, day=D0)
    done = []
    for d in list(leads)[1:]:
        out = crm_activities_for_day(config, leads[d], seed=SEED, day=d, earlier_leads=[leads[e] for e in leads if e < d])
        assert (out.filter(pl.col("done"))["update_time"].dt.date() == d).all()
        done.append(out.filter(pl.col("done") & pl.col("lead_id").is_in(leads[D0]["id"].implode())))
    done = pl.concat(done)
    assert sorted(done["id"]) == sorted(created["id"])  # each of D0's activities, exactly once
    late = done.filter(pl.col("due_date") == D0)
    assert (late["marked_as_done_time"].dt.date() == D0 + timedelta(days=1)).all()
    on_time = done.filter(pl.col("due_date") > D0)
    assert (on_time["marked_as_done_time"].dt.date() == on_time["due_date"]).all()


# --------------------------------------------------------------------------- deals


def _deal_timeline(config, rows: list[dict], days: int = 17, start: date = D0):
    """Run crm_deals_for_day for each day with the window of the rows' fills; {day: deals}."""
    by_day: dict[date, list[dict]] = {}
    for r in rows:
        by_day.setdefault(r["submitted_at"].date(), []).append(r)
    history = [frame(v) for v in by_day.values()]
    out = {}
    for i in range(days):
        day = start + timedelta(days=i)
        window = [frame(v) for d, v in by_day.items() if d <= day]  # only what exists by then
        out[day] = crm_deals_for_day(config, window, outcomes_for_day(config, history, day), seed=SEED, day=day)
    return out


def test_sales_assisted_deal_moves_through_stages_without_leaking_the_future(config):
    won = fill(config, person="wanda-1", day=D0, trial_path="sales_assisted", converts=True, outcome_after=14, sku="BUSINESS")
    lost = fill(config, person="lou-2", day=D0, trial_path="sales_assisted", converts=False, hour=11)
    early = fill(config, person="eve-3", day=D0, trial_path="sales_assisted", converts=True, outcome_after=10,
                 sku="ENTERPRISE", interval="year", hour=12)
    timeline = _deal_timeline(config, [won, lost, early])
    ids = {r["person_id"]: deal_id_for_lead(SEED, lead_id_for_form_fill(SEED, fill_key(r["person_id"], r["form_type"], r["submitted_at"])))
           for r in (won, lost, early)}
    seen = {}
    for day, deals in timeline.items():
        assert deals.schema == pl.Schema(DEAL_COLUMNS)
        for deal in deals.iter_rows(named=True):
            seen.setdefault(deal["lead_id"], []).append(((day - D0).days, deal["stage_name"], deal["status"]))
            assert deal["update_time"].date() == day and deal["add_time"].date() == D0
            if deal["status"] == "open":  # nothing of the outcome shows before it happens
                assert deal["won_time"] is None and deal["lost_time"] is None and deal["stripe_subscription_id"] is None
            assert deal["product_sku"] is not None and deal["currency"] == "USD"
    by_person = {r["person_id"]: seen[lead_id_for_form_fill(SEED, fill_key(r["person_id"], r["form_type"], r["submitted_at"]))]
                 for r in (won, lost, early)}
    opening = [(0, "qualification", "open"), (5, "needs_analysis", "open"), (9, "proposal", "open")]
    assert by_person["wanda-1"] == opening + [(12, "negotiation", "open"), (14, "closed_won", "won")]
    assert by_person["lou-2"] == opening + [(12, "negotiation", "open"), (14, "closed_lost", "lost")]
    assert by_person["eve-3"] == opening + [(10, "closed_won", "won")]  # negotiation (day 12) never comes
    # value is the plan's amount from day 0 on, the same every day
    values = {d: r for deals in timeline.values() for d, r in deals.select("id", "value").iter_rows()}
    assert values[ids["wanda-1"]] == 149.0 and values[ids["eve-3"]] == 3990.0
    closed = timeline[D0 + timedelta(days=14)].filter(pl.col("status") == "lost").row(0, named=True)
    assert closed["lost_time"] == lost["submitted_at"] + timedelta(days=14) and closed["product_sku"] is not None


def test_an_outcome_on_a_stage_day_closes_the_deal_instead(config):
    trial = fill(config, person="nia-3", day=D0, trial_path="sales_assisted", converts=False)
    trial["outcome_on"] = trial["trial_ends_on"] = D0 + timedelta(days=12)  # a 12-day trial
    events = [((d - D0).days, r["stage_name"]) for d, deals in _deal_timeline(config, [trial]).items() for r in deals.iter_rows(named=True)]
    assert events == [(0, "qualification"), (5, "needs_analysis"), (9, "proposal"), (12, "closed_lost")]


def test_self_service_and_demo_deals_open_at_the_right_time(config):
    ss = fill(config, person="sam-1", day=D0, trial_path="self_service", converts=True, outcome_after=12, sku="STARTER")
    ss_lost = fill(config, person="sid-2", day=D0, trial_path="self_service", converts=False, hour=9)
    demo = fill(config, person="dee-3", day=D0, form_type="demo_request", converts=True, outcome_after=11, sku="PRO", hour=14)
    demo_lost = fill(config, person="don-4", day=D0, form_type="demo_request", converts=False, hour=15)
    pricing = fill(config, person="pia-5", day=D0, form_type="pricing_inquiry", converts=True, outcome_after=6, sku="BUSINESS", hour=16)
    timeline = _deal_timeline(config, [ss, ss_lost, demo, demo_lost, pricing])
    events = [((d - D0).days, r["source_form_type"], r["trial_path"], r["stage_name"], r["status"])
              for d, deals in timeline.items() for r in deals.iter_rows(named=True) if r["trial_path"] != "sales_assisted"]
    demo_day = next(e[0] for e in events if e[1] == "demo_request")
    assert demo_day in (3, 4)
    assert sorted(events) == sorted([
        (12, "trial_signup", "self_service", "closed_won", "won"),
        (demo_day, "demo_request", None, "needs_analysis", "open"),
        (8, "demo_request", None, "proposal", "open"),
        (11, "demo_request", None, "closed_won", "won"),
        (6, "pricing_inquiry", None, "closed_won", "won"),
    ])
    won_ss = timeline[D0 + timedelta(days=12)].filter(pl.col("source_form_type") == "trial_signup").row(0, named=True)
    assert won_ss["add_time"] == won_ss["won_time"] and won_ss["value"] == 29.0 and won_ss["stripe_subscription_id"].startswith("sub_")


def test_deal_values_equal_subscription_amounts_and_carry_skus(config):
    fills, inputs = simulate(config, days=24, per_day=60, seed=4)
    deals, subs = [], []
    for i in range(24):
        day = D0 + timedelta(days=i)
        window, outcomes = inputs(day)
        deals.append(crm_deals_for_day(config, window, outcomes, seed=SEED, day=day))
        subs.append(stripe_subscriptions_for_day(config, window, outcomes, seed=SEED, day=day))
    deals, subs = pl.concat(deals), pl.concat(subs)
    assert deals["product_sku"].null_count() == 0 and deals["product_name"].null_count() == 0
    won = deals.filter(pl.col("status") == "won")
    assert won.height > 20
    joined = won.join(subs.filter(pl.col("status") == "active"), left_on="stripe_subscription_id", right_on="id", how="left")
    assert joined["plan_amount"].null_count() == 0  # every won deal has its active subscription, same day
    assert ((joined["value"] * 100).round().cast(pl.Int64) == joined["plan_amount"]).all()
    assert (joined["product_sku"] == joined["metadata_product_sku"]).all()
    assert (joined["won_time"].dt.epoch("s") == joined["current_period_start"]).all()
    # lost sales-assisted deals show the plan their (canceled) trial subscription was on
    lost = deals.filter(pl.col("status") == "lost").join(
        subs.filter(pl.col("status") == "canceled"), left_on="person_email", right_on="customer_email")
    assert lost.height > 0 and ((lost["value"] * 100).round().cast(pl.Int64) == lost["plan_amount"]).all()


def test_self_service_deals_average_lower_than_sales_assisted(config):
    fills, inputs = simulate(config, days=30, per_day=150, seed=5)
    deals = []
    for i in range(10, 30):
        day = D0 + timedelta(days=i)
        window, outcomes = inputs(day)
        deals.append(crm_deals_for_day(config, window, outcomes, seed=SEED, day=day).filter(pl.col("status") == "won"))
    won = pl.concat(deals).filter(pl.col("billing_interval") == "month")
    means = dict(won.group_by("trial_path").agg(pl.col("value").mean()).drop_nulls().iter_rows())
    assert means["self_service"] < means["sales_assisted"]


def test_deals_are_deterministic_and_order_independent(config):
    fills, inputs = simulate(config, days=20, per_day=50, seed=6)
    day = D0 + timedelta(days=14)
    window, outcomes = inputs(day)
    first = crm_deals_for_day(config, window, outcomes, seed=SEED, day=day)
    crm_deals_for_day(config, *inputs(day - timedelta(days=1)), seed=SEED, day=day - timedelta(days=1))  # other work between
    shuffled = [f.sample(fraction=1.0, shuffle=True, seed=1) for f in reversed(window)]
    again = crm_deals_for_day(config, shuffled, outcomes.reverse(), seed=SEED, day=day)
    assert first.height > 0 and first.equals(again)
    assert not first.equals(crm_deals_for_day(config, window, outcomes, seed=SEED + 1, day=day))
    leads = crm_leads_for_day(config, fills[day], seed=SEED, day=day, scale=1.0)
    assert leads.equals(crm_leads_for_day(config, fills[day].reverse(), seed=SEED, day=day, scale=1.0))
    acts = crm_activities_for_day(config, leads, seed=SEED, day=day)
    assert acts.equals(crm_activities_for_day(config, leads.reverse(), seed=SEED, day=day))


def test_an_outcome_without_its_form_fill_in_the_window_is_an_error(config):
    trial = fill(config, person="tim-1", day=D0, trial_path="sales_assisted", converts=True, outcome_after=14, sku="PRO")
    day = D0 + timedelta(days=14)
    outcomes = outcomes_for_day(config, [frame([trial])], day)
    with pytest.raises(ValueError, match=f"back to {D0}"):
        crm_deals_for_day(config, [frame([])], outcomes, seed=SEED, day=day)
    contradicted = outcomes.with_columns(kind=pl.lit("trial_expired"))
    with pytest.raises(ValueError, match="contradict"):
        crm_deals_for_day(config, [frame([trial])], contradicted, seed=SEED, day=day)
    newsletter = fill(config, person="nat-2", day=D0, form_type="newsletter_signup")
    claimed = outcomes.with_columns(person_id=pl.lit("nat-2"), form_type=pl.lit("newsletter_signup"), kind=pl.lit("form_converted"))
    with pytest.raises(ValueError, match="contradict"):
        crm_deals_for_day(config, [frame([trial, newsletter])], claimed, seed=SEED, day=day)
