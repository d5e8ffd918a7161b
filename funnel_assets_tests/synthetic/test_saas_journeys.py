"""The SaaS journey simulation: deterministic, incremental, and true to the seeds' validation checks."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from funnel_assets.lib.synthetic import saas_journeys as sj
from funnel_assets.lib.synthetic.rng import hash_uniform, rng_for, stable_key, uuid_strings
from funnel_assets.lib.synthetic.saas_amplitude import EVENT_TYPES, EVENTS, amplitude_events_ndjson
from funnel_assets.lib.synthetic.saas_config import load_saas_config
from funnel_assets.lib.synthetic.saas_schema import FORM_FILLS, OUTCOMES, SESSIONS

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "config" / "synthetic"
WORLD = date(2025, 1, 1)
DAY = WORLD + timedelta(days=40)
SEED = 11
SCALE = 0.05


@pytest.fixture(scope="module")
def config():
    return load_saas_config(SHIPPED)


@pytest.fixture(scope="module")
def day(config):
    return sj.simulate_saas_day(config, seed=SEED, day=DAY, scale=SCALE, world_start=WORLD)


@pytest.fixture(scope="module")
def cohorts(config):
    """Planned journeys of 6 full-scale cohorts (~48K people): enough for tight binomial checks."""
    parts = [sj.cohort_truth(config, seed=SEED, cohort=WORLD + timedelta(days=d), scale=1.0) for d in range(6)]
    return {name: pl.concat([p[name] for p in parts]) for name in parts[0]}


def within(observed: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    se = max((p * (1 - p) / n) ** 0.5, 1e-9)
    return abs(observed / n - p) <= sigmas * se + 1e-12


# ---- rng helpers -----------------------------------------------------------------------------
def test_rng_helpers_are_stable():
    assert stable_key("abc") == stable_key("abc") == 891568578
    assert rng_for(1, "x", date(2025, 1, 1)).random() == rng_for(1, "x", date(2025, 1, 1)).random()
    assert rng_for(1, "x").random() != rng_for(1, "y").random()
    u = hash_uniform(3, "k", np.arange(5, dtype=np.int64))
    assert np.array_equal(u, hash_uniform(3, "k", np.arange(5, dtype=np.int64))) and ((u >= 0) & (u < 1)).all()
    ids = uuid_strings(np.array([1, 2], dtype=np.uint64), np.array([3, 4], dtype=np.uint64))
    assert ids.str.contains(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$").all()


# ---- determinism and incremental state ---------------------------------------------------------
def _assert_days_equal(a: sj.SaasDay, b: sj.SaasDay) -> None:
    for name in ("sessions", "events", "form_fills", "outcomes", "ad_rows_google", "ad_rows_facebook"):
        assert_frame_equal(getattr(a, name), getattr(b, name))


def test_same_inputs_same_day_cold_or_warm(config, day):
    sj.clear_caches()
    cold = sj.simulate_saas_day(config, seed=SEED, day=DAY, scale=SCALE, world_start=WORLD)
    _assert_days_equal(day, cold)
    sj.simulate_saas_day(config, seed=SEED, day=DAY - timedelta(days=1), scale=SCALE, world_start=WORLD)
    warm = sj.simulate_saas_day(config, seed=SEED, day=DAY, scale=SCALE, world_start=WORLD)
    _assert_days_equal(day, warm)
    other = sj.simulate_saas_day(config, seed=SEED + 1, day=DAY, scale=SCALE, world_start=WORLD)
    assert not other.sessions["device_id"].equals(day.sessions["device_id"])


def test_frames_follow_the_contract(day):
    assert day.sessions.schema == pl.Schema(SESSIONS)
    assert day.form_fills.schema == pl.Schema(FORM_FILLS)
    assert day.outcomes.schema == pl.Schema(OUTCOMES)
    assert day.events.schema == pl.Schema(EVENTS)
    assert day.sessions["session_id"].n_unique() > 0.95 * day.sessions.height
    assert (day.sessions["started_at"].dt.date() == DAY).all()
    assert day.events["insert_id"].n_unique() == day.events.height
    first = day.sessions.filter(pl.col("session_number") == 1)
    assert not first["is_returning"].any() and first["user_id"].null_count() < first.height


def test_trials_started_on_a_day_end_on_their_planned_day(config, day):
    trials = day.form_fills.filter(pl.col("form_type") == "trial_signup")
    assert trials.height > 0
    started = trials["submitted_at"].dt.date()
    assert (trials["trial_ends_on"] == started + timedelta(days=14)).all()
    conv = trials.filter("converts")
    gap = (conv["converts_on"] - conv["submitted_at"].dt.date()).dt.total_days()
    assert gap.is_between(10, 16).all()
    assert (trials.filter(~pl.col("converts"))["outcome_on"] == trials.filter(~pl.col("converts"))["trial_ends_on"]).all()
    assert conv["sku"].null_count() == 0 and conv["amount_cents"].null_count() == 0
    # the outcome shows up on its day, generated in a fresh cache (as if in another process)
    for row in trials.sort("outcome_on").head(3).iter_rows(named=True):
        sj.clear_caches()
        later = sj.simulate_saas_day(config, seed=SEED, day=row["outcome_on"], scale=SCALE, world_start=WORLD)
        kind = "trial_converted" if row["converts"] else "trial_expired"
        hit = later.outcomes.filter(pl.col("person_id") == row["person_id"], pl.col("kind") == kind)
        assert hit.height == 1, row
        assert hit["started_on"].item() == row["submitted_at"].date()
        assert hit["sku"].item() == row["sku"] and hit["trial_path"].item() == row["trial_path"]
        event = later.events.filter(pl.col("user_id") == row["email"], pl.col("event_type") == kind)
        assert event.height == 1 and event["time"].item() == hit["happened_at"].dt.epoch("ms").item()


def test_returning_sessions_are_the_planned_ones(config):
    start = WORLD + timedelta(days=10)
    plan = sj.cohort_truth(config, seed=SEED, cohort=start, scale=SCALE)["cohort_sessions"]
    got = []
    for d in range(6):
        out = sj.simulate_saas_day(config, seed=SEED, day=start + timedelta(days=d), scale=SCALE, world_start=WORLD)
        got.append(out.sessions.filter(pl.col("person_id").str.starts_with(f"p{start:%Y%m%d}-")).select("person_id", "session_number"))
    expected = plan.filter(pl.col("day") < start + timedelta(days=6)).select("person_id", "session_number")
    assert_frame_equal(pl.concat(got).sort(pl.all()), expected.sort(pl.all()), check_dtypes=False)


# ---- the seeds' validation checks ----------------------------------------------------------------
def test_return_probability_by_engagement_tier(config, cohorts):
    s = cohorts["cohort_sessions"].filter(pl.col("population") == "prospect")
    for tier, p in config.engagement_tiers.select("tier", "return_probability").rows():
        part = s.filter(pl.col("engagement_tier") == tier)
        assert within(part["returns"].sum(), part.height, p), (tier, part["returns"].mean(), p)


def test_form_fill_probability_by_tier_and_secondary(config, cohorts):
    s = cohorts["cohort_sessions"].filter(pl.col("population") == "prospect")
    anonymous = s.filter(~pl.col("identified_before"))
    for tier, p in config.engagement_tiers.select("tier", "form_probability").rows():
        part = anonymous.filter(pl.col("engagement_tier") == tier)
        filled = part["form_type"].is_not_null().sum()
        assert (filled == 0) if p == 0 else within(filled, part.height, p), (tier, filled / part.height, p)
    zero_tiers = config.engagement_tiers.filter(pl.col("form_probability") == 0)["tier"].implode()
    identified = s.filter(pl.col("identified_before"), ~pl.col("engagement_tier").is_in(zero_tiers))
    assert within(identified["form_type"].is_not_null().sum(), identified.height, config.setting("secondary_form_probability"))


def test_form_types_trial_paths_conversions_and_tiers(config, cohorts):
    f = cohorts["cohort_forms"]
    first = f.filter(~pl.col("is_secondary"))
    for form, w in config.form_types.select("form_type", "weight").rows():
        assert within((first["form_type"] == form).sum(), first.height, w), form
    trials = f.filter(pl.col("form_type") == "trial_signup")
    assert trials.group_by("person_id").len()["len"].max() == 1  # one trial per person
    paths = {r["trial_path"]: r for r in config.trial_paths.iter_rows(named=True)}
    for path, row in paths.items():
        part = trials.filter(pl.col("trial_path") == path)
        assert within(part.height, trials.height, row["weight"]), path
        conv = part.filter("converts")
        assert within(conv.height, part.height, row["conversion_rate"]), path
        days = (conv["converts_on"] - conv["day"]).dt.total_days()
        assert days.is_between(10, 16).all() and abs(days.mean() - row["avg_conversion_day"]) < 0.5, path
        for sku, share in config.trial_tiers.filter(pl.col("trial_path") == path).select("sku", "share").rows():
            assert within((conv["sku"] == sku).sum(), conv.height, share), (path, sku)
    converted = f.filter("converts")
    assert converted["sku"].null_count() == 0 and converted["amount_cents"].null_count() == 0
    assert within((converted["billing_interval"] == "year").sum(), converted.height, config.setting("annual_billing_share"))
    for form, rate in config.form_types.filter(pl.col("form_type") != "trial_signup").select("form_type", "paid_conversion_rate").rows():
        part = f.filter(pl.col("form_type") == form)
        assert (part["converts"].sum() == 0) if rate == 0 else within(part["converts"].sum(), part.height, rate), form


def test_reengagement_campaigns_never_reach_new_users(config, cohorts, day):
    s = cohorts["cohort_sessions"]
    assert s.filter(pl.col("session_number") == 1, pl.col("campaign_targeting") == "returning_users").height == 0
    assert s.filter(pl.col("session_number") > 1, pl.col("campaign_targeting") == "returning_users").height > 0
    reeng = config.campaigns.filter(pl.col("targeting") == "returning_users")["campaign_name"].implode()
    assert day.sessions.filter(pl.col("session_number") == 1, pl.col("campaign_name").is_in(reeng)).height == 0
    assert day.sessions.filter(~pl.col("is_returning"), pl.col("campaign_name").is_in(reeng)).height == 0


def test_direct_purchases_are_anonymous_and_carry_a_sku(config, cohorts):
    s = cohorts["cohort_sessions"]
    direct = s.filter("direct_purchase")
    assert direct.height > 0 and not direct["identified_before"].any() and direct["form_type"].null_count() == direct.height
    eligible = s.filter(pl.col("population") == "prospect", ~pl.col("identified_before"), pl.col("form_type").is_null(),
                        pl.col("engagement_tier").str.ends_with("high_engagement"))
    assert within(direct.height, eligible.height, config.setting("direct_purchase_probability"))


def test_volumes_at_steady_state(config, day):
    expected = sj.expected_daily_volumes(config, SCALE)
    assert abs(day.sessions.height - expected["sessions"]) < 0.1 * expected["sessions"]
    new = (~day.sessions["is_returning"]).sum()
    assert abs(new - config.setting("new_users_per_day") * SCALE) < 5 * (config.setting("new_users_per_day") * SCALE) ** 0.5


# ---- Amplitude ---------------------------------------------------------------------------------------
def test_every_event_type_appears_and_purchases_carry_products(config):
    seen: set[str] = set()
    purchases = []
    for d in range(3):
        out = sj.simulate_saas_day(config, seed=SEED, day=DAY + timedelta(days=d), scale=0.1, world_start=WORLD)
        seen |= set(out.events["event_type"].unique())
        purchases.append(out.events.filter(pl.col("event_type") == "purchase"))
        direct = out.outcomes.filter(pl.col("kind") == "direct_purchase")
        assert direct["user_id"].null_count() == direct.height and direct["sku"].null_count() == 0
    assert set(EVENT_TYPES) <= seen, set(EVENT_TYPES) - seen
    p = pl.concat(purchases)
    props = p["event_properties"].str.json_decode(pl.Struct({"product_sku": pl.String, "product_name": pl.String, "amount": pl.Float64}))
    assert props.struct.field("product_sku").null_count() == 0 and props.struct.field("product_name").null_count() == 0
    assert (props.struct.field("amount") > 0).all() and (p["revenue"] == props.struct.field("amount")).all()


def test_user_id_only_after_identification(day):
    sessions = day.sessions.select("session_id", "device_id", "user_id")
    ev = day.events.filter(pl.col("session_id") >= 0).join(sessions, on=["session_id", "device_id"], how="left", suffix="_session")
    assert ev.filter(pl.col("user_id").is_not_null(), pl.col("user_id") != pl.col("user_id_session")).height == 0
    anonymous = ev.filter(pl.col("user_id_session").is_null())
    assert anonymous["user_id"].null_count() == anonymous.height
    forms = day.events.filter(pl.col("event_type").is_in(["trial_started", "demo_requested", "contact_form_submit"]))
    assert forms["user_id"].null_count() == 0
    assert day.form_fills["session_id"].is_in(day.sessions["session_id"].implode()).all()


def test_events_are_in_time_order_within_sessions(day):
    ev = day.events.filter(pl.col("session_id") >= 0)
    assert (ev["time"] >= ev["session_id"]).all()
    assert ev["time"].is_sorted()


def test_ndjson_round_trips(day):
    sample = day.events.head(2000).vstack(day.events.filter(pl.col("event_type") == "purchase"))
    lines = amplitude_events_ndjson(sample).decode().splitlines()
    assert len(lines) == sample.height
    for line, row in zip(lines, sample.iter_rows(named=True)):
        obj = json.loads(line)
        assert obj["event_type"] == row["event_type"] and obj["insert_id"] == row["insert_id"] and obj["time"] == row["time"]
        assert {k: v for k, v in obj["event_properties"].items() if v is not None} == json.loads(row["event_properties"])
        assert {k: v for k, v in obj["user_properties"].items() if v is not None} == json.loads(row["user_properties"])


# ---- ads ---------------------------------------------------------------------------------------------
def test_ad_clicks_equal_paid_sessions(config, day):
    paid = day.sessions.filter(pl.col("campaign_id").is_not_null()).group_by("campaign_id").len("sessions")
    google = day.ad_rows_google.select(campaign_id="campaign.id", clicks="metrics.clicks")
    facebook = day.ad_rows_facebook.select(pl.col("campaign_id").cast(pl.Int64), pl.col("clicks").cast(pl.Int64))
    ads = pl.concat([google, facebook]).join(paid, on="campaign_id", how="full", coalesce=True)
    assert (ads["clicks"] == ads["sessions"]).all() and ads["clicks"].null_count() == 0
    g = day.ad_rows_google
    assert (g["metrics.impressions"] >= g["metrics.clicks"]).all() and (g["segments.date"] == DAY.isoformat()).all()
    cpc = dict(config.campaigns.select("campaign_id", "cpc_usd").rows())
    for cid, clicks, micros in g.select("campaign.id", "metrics.clicks", "metrics.cost_micros").rows():
        assert 0.6 < micros / 1e6 / clicks / cpc[cid] < 1.6
    assert day.ad_rows_facebook.schema == pl.Schema({c: pl.String for c in day.ad_rows_facebook.columns})
