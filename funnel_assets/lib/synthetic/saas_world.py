"""One day of the SaaS world as the raw datasets of the design card.

``SaasWorld.datasets(day)`` runs the journey simulation and every system exporter for a day and
returns ``web_events`` (Amplitude), ``ad_campaigns`` (Google Ads + Facebook Ads),
``crm_leads``, ``crm_activities``, ``crm_deals`` (Pipedrive) and ``subscriptions`` (Stripe),
each with a ``day`` column. Deals and subscriptions of day D depend on form fills of the
previous weeks, so the world keeps a rolling window of simulated days: generating consecutive
days (a backfill range) simulates each day once; a lone day simulates its look-back window.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from .saas_billing import required_lookback_days, stripe_plans, stripe_products, stripe_subscriptions_for_day
from .saas_config import SaasConfig
from .saas_crm import crm_activities_for_day, crm_deals_for_day, crm_leads_for_day
from .saas_journeys import SaasDay, simulate_saas_day

ACTIVITY_LOOKBACK_DAYS = 14
"""Earlier days' leads whose activities may be marked done today."""


@dataclass(frozen=True)
class SaasDatasets:
    day: date
    web_events: pl.DataFrame
    ad_campaigns: pl.DataFrame
    crm_leads: pl.DataFrame
    crm_activities: pl.DataFrame
    crm_deals: pl.DataFrame
    subscriptions: pl.DataFrame
    simulated: SaasDay  # sessions, form fills, outcomes and the plan: for checks and ground truth

    def tables(self) -> dict[str, pl.DataFrame]:
        return {
            "web_events": self.web_events,
            "ad_campaigns": self.ad_campaigns,
            "crm_leads": self.crm_leads,
            "crm_activities": self.crm_activities,
            "crm_deals": self.crm_deals,
            "subscriptions": self.subscriptions,
        }


def ad_campaigns_table(google: pl.DataFrame, facebook: pl.DataFrame, day: date) -> pl.DataFrame:
    """Both platforms' daily campaign rows in one typed table (cost in USD)."""
    g = google.select(
        platform=pl.lit("google"),
        campaign_id=pl.col("campaign.id").cast(pl.Int64),
        campaign_name=pl.col("campaign.name"),
        campaign_status=pl.col("campaign.status"),
        impressions=pl.col("metrics.impressions").cast(pl.Int64),
        clicks=pl.col("metrics.clicks").cast(pl.Int64),
        cost_usd=pl.col("metrics.cost_micros").cast(pl.Float64) / 1_000_000,
    )
    f = facebook.select(
        platform=pl.lit("facebook"),
        campaign_id=pl.col("campaign_id").cast(pl.Int64),
        campaign_name=pl.col("campaign_name"),
        campaign_status=pl.lit(None, pl.String),
        impressions=pl.col("impressions").cast(pl.Int64),
        clicks=pl.col("clicks").cast(pl.Int64),
        cost_usd=pl.col("spend").cast(pl.Float64),
    )
    return pl.concat([g, f]).with_columns(day=pl.lit(day)).select("day", pl.exclude("day"))


def _with_day(frame: pl.DataFrame, day: date) -> pl.DataFrame:
    return frame.with_columns(day=pl.lit(day, pl.Date)).select("day", pl.exclude("day"))


class SaasWorld:
    """The SaaS half of the synthetic world for one (config, seed, scale)."""

    def __init__(self, config: SaasConfig, *, seed: int, scale: float = 1.0, world_start: date = date(2025, 1, 1)):
        self.config, self.seed, self.scale, self.world_start = config, int(seed), float(scale), world_start
        self.lookback = required_lookback_days(config)
        self._days: OrderedDict[date, SaasDay] = OrderedDict()
        self._leads: OrderedDict[date, pl.DataFrame] = OrderedDict()

    def _remember(self, cache: OrderedDict, key: date, value):
        cache[key] = value
        while len(cache) > self.lookback + 2:
            cache.popitem(last=False)
        return value

    def simulate(self, day: date) -> SaasDay:
        if day not in self._days:
            self._remember(self._days, day, simulate_saas_day(self.config, seed=self.seed, day=day, scale=self.scale, world_start=self.world_start))
        return self._days[day]

    def leads(self, day: date) -> pl.DataFrame:
        if day not in self._leads:
            self._remember(self._leads, day, crm_leads_for_day(self.config, self.simulate(day).form_fills, seed=self.seed, day=day, scale=self.scale))
        return self._leads[day]

    def _window(self, day: date, days: int) -> list[date]:
        first = max(self.world_start, day - timedelta(days=days))
        return [first + timedelta(days=i) for i in range((day - first).days + 1)]

    def datasets(self, day: date) -> SaasDatasets:
        sim = self.simulate(day)
        window = [self.simulate(d).form_fills for d in self._window(day, self.lookback)]
        leads = self.leads(day)
        earlier = [self.leads(d) for d in self._window(day, ACTIVITY_LOOKBACK_DAYS)[:-1]]
        activities = crm_activities_for_day(self.config, leads, seed=self.seed, day=day, earlier_leads=earlier or None)
        deals = crm_deals_for_day(self.config, window, sim.outcomes, seed=self.seed, day=day)
        subscriptions = stripe_subscriptions_for_day(self.config, window, sim.outcomes, seed=self.seed, day=day)
        return SaasDatasets(
            day=day,
            web_events=_with_day(sim.events, day),
            ad_campaigns=ad_campaigns_table(sim.ad_rows_google, sim.ad_rows_facebook, day),
            crm_leads=_with_day(leads, day),
            crm_activities=_with_day(activities, day),
            crm_deals=_with_day(deals, day),
            subscriptions=_with_day(subscriptions, day),
            simulated=sim,
        )

    def catalog(self) -> dict[str, pl.DataFrame]:
        """The Stripe catalog (unpartitioned): products and their monthly/annual plans."""
        return {"stripe_products": stripe_products(self.config), "stripe_plans": stripe_plans(self.config)}
