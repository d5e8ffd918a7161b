"""The contract between the SaaS journey simulation and the system exporters.

``saas_journeys.simulate_saas_day`` produces these frames for one day; ``saas_crm``
(Pipedrive) and ``saas_billing`` (Stripe) turn them into each system's export. The
journeys are planned when a person first appears, so a frame row carries the plan's future
(e.g. a trial's outcome): exporters use it to stay consistent across days, and must only emit
what a system would show on the day itself (see each exporter's docstring).

All timestamps are UTC ``Datetime("us", "UTC")``; money is in minor units (cents).
"""

import polars as pl

UTC = pl.Datetime("us", "UTC")

SESSIONS = {
    "session_id": pl.Int64,  # ms epoch of the session start, as Amplitude does
    "person_id": pl.String,  # the simulation's identity (never exported to a system)
    "device_id": pl.String,
    "user_id": pl.String,  # null until the person fills a form (Amplitude user_id = email)
    "session_number": pl.Int32,  # 1 = first visit
    "is_returning": pl.Boolean,
    "started_at": UTC,
    "utm_source": pl.String,
    "utm_medium": pl.String,
    "campaign_id": pl.Int64,  # null for organic/direct traffic
    "campaign_name": pl.String,
    "platform": pl.String,  # google / facebook / null
    "engagement_score": pl.Float64,
    "engagement_tier": pl.String,
    "page_views": pl.Int32,
}

FORM_FILLS = {
    "person_id": pl.String,
    "device_id": pl.String,
    "user_id": pl.String,  # the email
    "email": pl.String,
    "first_name": pl.String,
    "last_name": pl.String,
    "company": pl.String,
    "form_type": pl.String,
    "submitted_at": UTC,
    "session_id": pl.Int64,
    "utm_source": pl.String,
    "utm_medium": pl.String,
    "campaign_name": pl.String,
    "is_secondary": pl.Boolean,  # an identified person filling another form
    # the plan (known now, happens later); null when not applicable
    "trial_path": pl.String,  # trial_signup only
    "trial_ends_on": pl.Date,  # trial start + trial_days
    "converts": pl.Boolean,  # trial or other form that becomes a paying customer
    "converts_on": pl.Date,  # conversion day (trials: between day 10 and 16)
    "outcome_on": pl.Date,  # trials: conversion day or the day the trial expires
    "sku": pl.String,  # the plan bought, when converts
    "billing_interval": pl.String,  # month / year, when converts
    "amount_cents": pl.Int64,  # the subscription amount, when converts
}

OUTCOMES = {  # things that happen on the day to people planned earlier
    "person_id": pl.String,
    "user_id": pl.String,
    "email": pl.String,
    "kind": pl.String,  # trial_converted / trial_expired / form_converted / direct_purchase
    "form_type": pl.String,  # the form that started it (null for direct purchases)
    "trial_path": pl.String,
    "started_on": pl.Date,  # trial start / form day (direct purchase: the day itself)
    "happened_at": UTC,
    "sku": pl.String,
    "billing_interval": pl.String,
    "amount_cents": pl.Int64,
}


def empty(schema: dict) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
