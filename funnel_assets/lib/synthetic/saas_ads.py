"""Daily ad-platform rows for the SaaS simulation: Google Ads and Facebook Ads insights.

Per campaign per day: clicks = that day's paid sessions of the campaign (counted by campaign id) (so the ad platforms
and Amplitude agree), impressions ~ clicks / ctr and cost ~ clicks x cpc, both with
log-normal noise seeded by (seed, platform, day); ctr and cpc from ``saas_campaigns.csv``.
Campaigns without a click that day have no row (as the APIs omit zero-metric rows).

- Google Ads (GAQL ``SELECT segments.date, campaign.id, ... FROM campaign``), flattened to
  the dotted field names; ``metrics.cost_micros`` is an integer (dollars x 1e6).
- Facebook Ads insights (``level=campaign, time_increment=1``): every value a string, as the
  Graph API returns it; ``spend`` in dollars with two decimals.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from funnel_assets.lib.synthetic.rng import rng_for
from funnel_assets.lib.synthetic.saas_config import SaasConfig

GOOGLE_ADS = {
    "segments.date": pl.String,
    "campaign.id": pl.Int64,
    "campaign.name": pl.String,
    "campaign.status": pl.String,
    "metrics.impressions": pl.Int64,
    "metrics.clicks": pl.Int64,
    "metrics.cost_micros": pl.Int64,
}
FACEBOOK_ADS = {
    "date_start": pl.String,
    "date_stop": pl.String,
    "account_id": pl.String,
    "campaign_id": pl.String,
    "campaign_name": pl.String,
    "impressions": pl.String,
    "clicks": pl.String,
    "spend": pl.String,
}
FACEBOOK_ACCOUNT_ID = "1049382716"
IMPRESSION_NOISE_SIGMA = 0.12
COST_NOISE_SIGMA = 0.08


def _metrics(config: SaasConfig, sessions: pl.DataFrame, platform: str, day: date, seed: int) -> pl.DataFrame:
    campaigns = config.campaigns.filter(pl.col("platform") == platform).select("campaign_id", "campaign_name", "cpc_usd", "ctr")
    ids = campaigns["campaign_id"].to_numpy()
    found, counts = np.unique(sessions["campaign_id"].drop_nulls().to_numpy(), return_counts=True)
    at = np.minimum(np.searchsorted(found, ids), max(len(found) - 1, 0))
    clicks = np.where(found[at] == ids, counts[at], 0) if len(found) else np.zeros(len(ids), np.int64)
    frame = campaigns.with_columns(clicks=pl.Series(clicks.astype(np.uint32))).filter(pl.col("clicks") > 0).sort("campaign_id")
    rng = rng_for(seed, "saas-ads", platform, day)
    n = frame.height
    noise = rng.lognormal(0.0, [[IMPRESSION_NOISE_SIGMA], [COST_NOISE_SIGMA]], (2, n))
    c = frame["clicks"].to_numpy().astype(np.float64)
    impressions = np.maximum(c, np.rint(c / frame["ctr"].to_numpy() * noise[0]))
    cost = c * frame["cpc_usd"].to_numpy() * noise[1]
    return frame.with_columns(impressions=pl.Series(impressions.astype(np.int64)), cost=pl.Series(cost))


def ad_rows(config: SaasConfig, sessions: pl.DataFrame, *, day: date, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(Google Ads rows, Facebook Ads insights rows) for the day's sessions."""
    g = _metrics(config, sessions, "google", day, seed)
    google = g.select(
        pl.lit(day.isoformat()).alias("segments.date"), pl.col("campaign_id").alias("campaign.id"),
        pl.col("campaign_name").alias("campaign.name"), pl.lit("ENABLED").alias("campaign.status"),
        pl.col("impressions").alias("metrics.impressions"), pl.col("clicks").cast(pl.Int64).alias("metrics.clicks"),
        (pl.col("cost") * 1_000_000).round().cast(pl.Int64).alias("metrics.cost_micros"),
    ).cast(GOOGLE_ADS)
    f = _metrics(config, sessions, "facebook", day, seed)
    facebook = f.select(
        date_start=pl.lit(day.isoformat()), date_stop=pl.lit(day.isoformat()), account_id=pl.lit(FACEBOOK_ACCOUNT_ID),
        campaign_id=pl.col("campaign_id").cast(pl.String), campaign_name="campaign_name",
        impressions=pl.col("impressions").cast(pl.String), clicks=pl.col("clicks").cast(pl.String),
        spend=pl.col("cost").round(2).map_batches(lambda s: pl.Series([f"{v:.2f}" for v in s.to_list()], dtype=pl.String), return_dtype=pl.String),
    ).cast(FACEBOOK_ADS)
    return google, facebook
