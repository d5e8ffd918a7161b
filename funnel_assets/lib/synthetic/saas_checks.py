"""Seed 000's "Key Validation Checks" and seed 001's "Testing Checklist", as data checks.

Each check looks at the datasets of a run (one day or a range of days) and returns a
``CheckOutcome``: exact rules (re-engagement never reaches a first visit, every form fill
creates a CRM lead, trials last 14 days, purchases carry SKUs, deal values equal their
subscriptions) must hold row by row; rates (35% trial signups, 65% self-service, 28% / 45%
conversion, tier mixes, 8% / 65% return) must be consistent with the configured probability
within a binomial interval (see ``validation``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import polars as pl

from .saas_config import SaasConfig
from .saas_world import SaasDatasets
from .validation import ShareCheck, distribution_checks, share_check


CHECKS: dict[str, dict[str, str]] = {
    "web_events": {
        "reengagement_only_for_returning_users": "Re-engagement campaigns never reach a first visit (exact).",
        "bounce_sessions_return_rate": "New visitors' bounce sessions come back at the configured rate (~8%), within a binomial bound.",
        "high_engagement_return_rate": "High-engagement sessions come back at the configured rate (~65%), within a binomial bound.",
        "purchases_carry_skus": "Every purchase event carries a product_sku (exact).",
    },
    "crm_leads": {
        "every_form_fill_creates_a_lead": "Every form fill becomes exactly one Pipedrive lead (exact).",
        "trial_signup_share_of_forms": "Trial signups are ~35% of first form fills, within a binomial bound.",
        "self_service_share_of_trials": "~65% of trials take the self-service path, within a binomial bound.",
    },
    "crm_activities": {
        "activities_per_lead_follow_the_template": "Each lead gets its template's number of activities (self-service 1, sales-assisted 10-12, demo 8, ...).",
    },
    "subscriptions": {
        "trials_last_trial_days": "Every trial subscription lasts the configured 14 days (exact).",
        "trial_conversion_rates": "Trials convert at 28% (self-service) and 45% (sales-assisted), within binomial bounds.",
        "tiers_follow_the_trial_path": "Converted trials buy tiers in their path's mix, within binomial bounds.",
    },
    "crm_deals": {
        "deal_values_match_subscriptions": "A won deal's value equals its Stripe subscription's amount (exact).",
    },
}
"""Every check ``saas_checks`` returns, by asset: name → what it verifies."""


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    name: str
    passed: bool
    description: str
    metadata: dict = field(default_factory=dict)


def _from_shares(asset: str, name: str, checks: list[ShareCheck]) -> CheckOutcome:
    failed = [c for c in checks if not c.passed]
    return CheckOutcome(
        asset,
        name,
        not failed,
        "; ".join(c.describe() for c in (failed or checks)),
        {c.name: round(c.observed, 4) if c.trials else None for c in checks} | {"trials": sum(c.trials for c in checks[:1])},
    )


def _exact(asset: str, name: str, bad: int, total: int, what: str) -> CheckOutcome:
    return CheckOutcome(asset, name, bad == 0, f"{bad} of {total} {what}", {"violations": bad, "rows": total})


def saas_checks(config: SaasConfig, days: list[SaasDatasets]) -> list[CheckOutcome]:
    """Every check over the given days."""
    plan = pl.concat([d.simulated.truth["session_plan"] for d in days])
    sessions = pl.concat([d.simulated.sessions for d in days])
    forms = pl.concat([d.simulated.form_fills for d in days])
    outcomes = pl.concat([d.simulated.outcomes for d in days])
    events = pl.concat([d.web_events for d in days])
    leads = pl.concat([d.crm_leads for d in days], how="diagonal_relaxed")
    activities = pl.concat([d.crm_activities for d in days], how="diagonal_relaxed")
    deals = pl.concat([d.crm_deals for d in days], how="diagonal_relaxed")
    subs = pl.concat([d.subscriptions for d in days], how="diagonal_relaxed")
    out: list[CheckOutcome] = []

    # --- web_events
    reeng = set(config.campaigns.filter(pl.col("targeting") == "returning_users")["campaign_name"])
    first_visits = sessions.filter(~pl.col("is_returning"))
    out.append(_exact("web_events", "reengagement_only_for_returning_users",
                      first_visits.filter(pl.col("campaign_name").is_in(list(reeng))).height, first_visits.height,
                      "first visits were shown a re-engagement campaign"))
    returns = {r["tier"]: r["return_probability"] for r in config.engagement_tiers.iter_rows(named=True)}
    new_people = plan.filter(pl.col("population") == "prospect")  # new visitors' journeys (not the pre-existing regulars)
    for tier, check in (("bounce", "bounce_sessions_return_rate"), ("high_engagement", "high_engagement_return_rate")):
        tier_rows = new_people.filter(pl.col("engagement_tier") == tier)
        out.append(_from_shares("web_events", check, [share_check(check, tier_rows["returns"].sum(), tier_rows.height, returns[tier])]))
    purchases = events.filter(pl.col("event_type") == "purchase")
    no_sku = purchases.filter(pl.col("event_properties").str.json_path_match("$.product_sku").is_null()).height
    out.append(_exact("web_events", "purchases_carry_skus", no_sku, purchases.height, "purchase events had no product_sku"))

    # --- crm_leads
    from_forms = leads.filter(pl.col("origin") == "form_fill").height if leads.height else 0
    out.append(_exact("crm_leads", "every_form_fill_creates_a_lead", abs(forms.height - from_forms), forms.height,
                      "form fills without a lead (or leads without a form fill)"))
    primary = forms.filter(~pl.col("is_secondary"))
    weights = dict(config.form_types.select("form_type", "weight").rows())
    out.append(_from_shares("crm_leads", "trial_signup_share_of_forms",
                            [share_check("trial_signup", primary.filter(pl.col("form_type") == "trial_signup").height, primary.height, weights["trial_signup"])]))
    trials = forms.filter(pl.col("form_type") == "trial_signup")
    path_weight = dict(config.trial_paths.select("trial_path", "weight").rows())
    out.append(_from_shares("crm_leads", "self_service_share_of_trials",
                            [share_check("self_service", trials.filter(pl.col("trial_path") == "self_service").height, trials.height, path_weight["self_service"])]))

    # --- crm_activities: per lead, the template's number of activities
    if activities.height:
        per_lead = activities.filter(~pl.col("done")).group_by("lead_id", "template").len()  # creations only
        bounds = {
            t: (int(g.filter(pl.col("probability") >= 1).height), g.height)
            for (t,), g in config.activity_templates.partition_by("template", as_dict=True).items()
        }
        bad = per_lead.filter(
            pl.struct("template", "len").map_elements(lambda r: not (bounds[r["template"]][0] <= r["len"] <= bounds[r["template"]][1]), return_dtype=pl.Boolean)
        ).height if per_lead.height else 0
        created = per_lead.height
    else:
        bad, created = 0, 0
    out.append(_exact("crm_activities", "activities_per_lead_follow_the_template", bad, created, "leads had a number of activities outside their template"))

    # --- subscriptions
    started = subs.filter(pl.col("event_type") == "customer.subscription.created").filter(pl.col("trial_start").is_not_null()) if subs.height else subs
    trial_days = int(config.setting("trial_days"))
    if started.height:
        length = ((pl.col("trial_end") - pl.col("trial_start")) / 86400).round(0)
        wrong = started.filter(length != trial_days).height
    else:
        wrong = 0
    out.append(_exact("subscriptions", "trials_last_trial_days", wrong, started.height, f"trials did not last {trial_days} days"))
    conv = dict(config.trial_paths.select("trial_path", "conversion_rate").rows())
    decided = outcomes.filter(pl.col("kind").is_in(["trial_converted", "trial_expired"]))
    rate_checks = []
    for path, rate in conv.items():
        p = decided.filter(pl.col("trial_path") == path)
        rate_checks.append(share_check(f"{path}_conversion", p.filter(pl.col("kind") == "trial_converted").height, p.height, rate))
    out.append(_from_shares("subscriptions", "trial_conversion_rates", rate_checks))
    tier_checks = []
    converted = outcomes.filter(pl.col("kind") == "trial_converted")
    for (path,), mix in config.trial_tiers.partition_by("trial_path", as_dict=True).items():
        counts = dict(converted.filter(pl.col("trial_path") == path).group_by("sku").len().rows())
        tier_checks += distribution_checks(f"{path}_tier", counts, dict(mix.select("sku", "share").rows()))
    out.append(_from_shares("subscriptions", "tiers_follow_the_trial_path", tier_checks))

    # --- crm_deals: a won deal's value is its subscription's amount
    won = deals.filter(pl.col("stripe_subscription_id").is_not_null()) if deals.height else deals
    if won.height:
        amounts = subs.select(pl.col("id").alias("stripe_subscription_id"), "plan_amount").unique("stripe_subscription_id")
        joined = won.join(amounts, on="stripe_subscription_id", how="left")
        mismatched = joined.filter(pl.col("plan_amount").is_null() | ((pl.col("value") * 100).round(0) != pl.col("plan_amount"))).height
    else:
        mismatched = 0
    out.append(_exact("crm_deals", "deal_values_match_subscriptions", mismatched, won.height, "won deals whose value differs from their subscription"))
    return out


def run_window(days: list[SaasDatasets]) -> str:
    first, last = days[0].day, days[-1].day
    return f"{first}" if first == last else f"{first} .. {last}"


def days_between(first, last) -> list:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
