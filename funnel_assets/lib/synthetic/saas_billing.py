"""Stripe exports of the synthetic SaaS world: products, plans and daily subscriptions.

Inputs are the journey simulation's frames (``saas_schema.FORM_FILLS`` / ``OUTCOMES``); the
catalog comes from ``saas_products.csv`` and the settings (``trial_days``,
``annual_billing_share``) from ``saas_settings.csv``.

Daily export rule (like Stripe's ``customer.subscription.*`` events): the export for day D holds
the subscriptions **created or updated on D, in their state at the end of D**:

* every trial (``trial_signup`` form fill, both paths) is created ``trialing`` at its form fill;
  ``trial_end`` = ``trial_start`` + ``trial_days``;
* on the trial's ``outcome_on`` day it appears again, ``active`` (converted: the paid period
  starts at the conversion) or ``canceled`` (``canceled_at`` = ``ended_at`` = ``trial_end``);
* non-trial form conversions (``converts_on``) and direct purchases (``OUTCOMES`` rows of kind
  ``direct_purchase``) are created ``active`` on their day, without a trial.

A trial that does not convert still has a plan in Stripe (the price the trial was started on):
it is drawn deterministically from the trial path's tier mix (``saas_trial_tiers.csv``) and the
annual share, so the Pipedrive deal of the same trial shows the same amount.

Because an update on D can concern a trial started up to ``trial_days`` + a few days earlier,
the caller passes the FORM_FILLS frames of a look-back window (see ``required_lookback_days``).
An outcome of D whose form fill is not in the window raises ``ValueError`` naming the day to
reach back to, rather than silently dropping an update.

Timestamps are Unix seconds (``Int64``), as Stripe's API returns them; amounts are in minor
units. Deterministic: the same inputs, seed and day give identical frames whatever else was
generated before (every draw is keyed by a stable hash of the object's identity).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone

import numpy as np
import polars as pl

from funnel_assets.lib.synthetic.saas_config import SaasConfig
from funnel_assets.lib.synthetic.saas_schema import FORM_FILLS, OUTCOMES

__all__ = [
    "PLAN_COLUMNS",
    "PRODUCT_COLUMNS",
    "SUBSCRIPTION_COLUMNS",
    "plan_id",
    "required_lookback_days",
    "stripe_customer_id",
    "stripe_plans",
    "stripe_products",
    "stripe_subscription_id",
    "stripe_subscriptions_for_day",
]

FormFillsWindow = pl.DataFrame | Sequence[pl.DataFrame]
"""FORM_FILLS rows of the look-back window: one frame, or one frame per day (any order)."""

PRODUCT_COLUMNS = {
    "id": pl.String,
    "object": pl.String,
    "active": pl.Boolean,
    "name": pl.String,
    "description": pl.String,
    "type": pl.String,
    "unit_label": pl.String,
    "livemode": pl.Boolean,
    "created": pl.Int64,
    "metadata_sku": pl.String,
    "metadata": pl.String,  # JSON
}

PLAN_COLUMNS = {
    "id": pl.String,
    "object": pl.String,
    "active": pl.Boolean,
    "product": pl.String,
    "amount": pl.Int64,
    "amount_decimal": pl.String,
    "currency": pl.String,
    "interval": pl.String,
    "interval_count": pl.Int64,
    "nickname": pl.String,
    "billing_scheme": pl.String,
    "usage_type": pl.String,
    "trial_period_days": pl.Int64,
    "livemode": pl.Boolean,
    "created": pl.Int64,
    "metadata_sku": pl.String,
}

SUBSCRIPTION_COLUMNS = {
    "id": pl.String,
    "object": pl.String,
    "customer": pl.String,
    "customer_email": pl.String,  # from the expanded customer object
    "status": pl.String,  # trialing / active / canceled
    "created": pl.Int64,
    "start_date": pl.Int64,
    "trial_start": pl.Int64,
    "trial_end": pl.Int64,
    "current_period_start": pl.Int64,
    "current_period_end": pl.Int64,
    "cancel_at_period_end": pl.Boolean,
    "canceled_at": pl.Int64,
    "ended_at": pl.Int64,
    "collection_method": pl.String,
    "currency": pl.String,
    "quantity": pl.Int64,
    "livemode": pl.Boolean,
    # items.data[0] flattened
    "item_id": pl.String,
    "plan_id": pl.String,
    "plan_product": pl.String,
    "plan_amount": pl.Int64,
    "plan_currency": pl.String,
    "plan_interval": pl.String,
    "plan_interval_count": pl.Int64,
    "plan_nickname": pl.String,
    # metadata flattened (and as JSON below)
    "metadata_product_sku": pl.String,
    "metadata_trial_path": pl.String,
    "metadata_source_form_type": pl.String,  # null for direct purchases
    "metadata": pl.String,  # JSON
    "items": pl.String,  # JSON: {"object": "list", "data": [subscription_item with nested plan]}
    # the change that put the subscription in this export
    "event_type": pl.String,  # customer.subscription.created / .updated / .deleted
    "event_created": pl.Int64,
}

_DAY = 86_400
_BUSINESS_START_S = 8 * 3600
_BUSINESS_SPAN_S = 10 * 3600
_INTERVAL_SUFFIX = {"month": "monthly", "year": "yearly"}


# --------------------------------------------------------------------------- stable randomness
# (shared with saas_crm)


def _key_part(part) -> str:
    if isinstance(part, datetime):
        return str(int(part.timestamp() * 1_000_000))
    if isinstance(part, date):
        return part.isoformat()
    return str(part)


def _digest(*parts) -> bytes:
    return hashlib.blake2b("\x1f".join(_key_part(p) for p in parts).encode(), digest_size=16).digest()


def _unit(*parts) -> float:
    """A uniform [0, 1) number determined by ``parts`` alone."""
    return int.from_bytes(_digest(*parts)[:8], "big") / 2.0**64


def _int_id(*parts) -> int:
    """A positive integer id (< 2**53, safe in JSON and JavaScript) determined by ``parts``."""
    return (int.from_bytes(_digest(*parts)[:8], "big") & ((1 << 53) - 1)) or 1


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(*parts, length: int = 24) -> str:
    number = int.from_bytes(_digest(*parts) + _digest("more", *parts), "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return "".join(chars)


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _time_on(day: date, *parts) -> datetime:
    """A deterministic business-hours moment (08:00-18:00 UTC) on ``day``."""
    return _day_start(day) + timedelta(seconds=_BUSINESS_START_S + int(_unit(*parts) * _BUSINESS_SPAN_S))


def _add_interval(moment: datetime, interval: str) -> datetime:
    """One billing interval later (the day clamped to the month's end, as Stripe does)."""
    months = 1 if interval == "month" else 12
    year, month = divmod(moment.month - 1 + months, 12)
    year, month = moment.year + year, month + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last))


def _epoch(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


# --------------------------------------------------------------------------- identities


def fill_key(person_id: str, form_type: str, submitted_at: datetime) -> str:
    """The identity of one form fill (and of the lead, deal and subscription it starts)."""
    return f"{person_id}|{form_type}|{_key_part(submitted_at)}"


def _fill_key_expr() -> pl.Expr:
    return pl.concat_str(
        [pl.col("person_id"), pl.col("form_type"), pl.col("submitted_at").dt.epoch("us").cast(pl.String)], separator="|"
    )


def stripe_subscription_id(seed: int, key: str) -> str:
    """``sub_...`` of the subscription started by form fill ``key`` (see ``fill_key``) or a direct purchase."""
    return "sub_" + _base62(seed, "subscription", key)


def stripe_customer_id(seed: int, person_id: str) -> str:
    """``cus_...``, one per person, stable across days and subscriptions."""
    return "cus_" + _base62(seed, "customer", person_id, length=14)


def plan_id(sku: str, interval: str) -> str:
    """``plan_{sku}_{monthly|yearly}`` for billing interval ``month`` / ``year``."""
    return f"plan_{sku.lower()}_{_INTERVAL_SUFFIX[interval]}"


def required_lookback_days(config: SaasConfig) -> int:
    """How many days before D the form fills passed for day D must reach back.

    The longer of the trial and the longest activity template (a form converts after its
    follow-up), plus a week of slack: 21 with the shipped configuration. The simulation's
    outcomes come at most 16 (trials) and 19 (other forms) days after the form fill.
    """
    longest_template = int(config.activity_templates["day_offset"].max()) + 1
    return max(int(config.setting("trial_days")), longest_template) + 7


# --------------------------------------------------------------------------- catalog


def _catalog(config: SaasConfig) -> dict[str, dict]:
    return {
        row["sku"]: row
        for row in config.products.select("sku", "product_id", "name", "price_monthly_cents", "price_annual_cents").iter_rows(named=True)
    }


def _catalog_amount(product: dict, interval: str) -> int:
    return product["price_monthly_cents"] if interval == "month" else product["price_annual_cents"]


def stripe_products(config: SaasConfig, *, created: datetime | None = None) -> pl.DataFrame:
    """One Stripe product per SKU of ``saas_products.csv`` (``created`` optional: the catalog has no date)."""
    rows = [
        {
            "id": p["product_id"], "object": "product", "active": True, "name": p["name"],
            "description": f"{p['name']} plan", "type": "service", "unit_label": "seat", "livemode": False,
            "created": _epoch(created), "metadata_sku": sku, "metadata": json.dumps({"sku": sku}),
        }
        for sku, p in _catalog(config).items()
    ]
    return pl.DataFrame(rows, schema=PRODUCT_COLUMNS, orient="row") if rows else pl.DataFrame(schema=PRODUCT_COLUMNS)


def _plan_object(product: dict, interval: str, created: int | None = None) -> dict:
    amount = _catalog_amount(product, interval)
    return {
        "id": plan_id(product["sku"], interval), "object": "plan", "active": True, "product": product["product_id"],
        "amount": amount, "amount_decimal": str(amount), "currency": "usd", "interval": interval, "interval_count": 1,
        "nickname": f"{product['name']} {_INTERVAL_SUFFIX[interval].capitalize()}", "billing_scheme": "per_unit",
        "usage_type": "licensed", "livemode": False, "created": created,
    }


def stripe_plans(config: SaasConfig, *, created: datetime | None = None) -> pl.DataFrame:
    """A monthly and a yearly plan per product; amounts from ``saas_products.csv`` (cents)."""
    trial_days = int(config.setting("trial_days"))
    rows = []
    for sku, product in _catalog(config).items():
        for interval in ("month", "year"):
            plan = _plan_object(product, interval, _epoch(created))
            rows.append({**plan, "trial_period_days": trial_days, "metadata_sku": sku})
    return pl.DataFrame(rows, schema=PLAN_COLUMNS, orient="row") if rows else pl.DataFrame(schema=PLAN_COLUMNS)


# --------------------------------------------------------------------------- shared input handling (used by saas_crm)


def _conform(frame: pl.DataFrame, schema: dict, what: str) -> pl.DataFrame:
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(missing)}; it must follow saas_schema")
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


def _form_day_expr() -> pl.Expr:
    """The day a form fill belongs to: its session's start (``session_id`` is the start in ms).

    The simulation files a form submitted just after midnight, in a session begun the day
    before, under the session's day; its plan (``trial_ends_on``, ``started_on``) counts from there.
    """
    session_day = pl.from_epoch(pl.col("session_id"), time_unit="ms").dt.replace_time_zone("UTC").dt.date()
    return pl.coalesce(session_day, pl.col("submitted_at").dt.date())


def _window_frame(window: FormFillsWindow, day: date) -> pl.DataFrame:
    """The window's FORM_FILLS rows of ``day`` and before, with ``form_day`` and ``fill_key``."""
    frames = [window] if isinstance(window, pl.DataFrame) else list(window)
    frames = [_conform(f, FORM_FILLS, "a form_fills_window frame") for f in frames]
    fills = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=FORM_FILLS)
    return (
        fills.with_columns(form_day=_form_day_expr(), fill_key=_fill_key_expr())
        .filter(pl.col("form_day") <= day)
        .unique(subset="fill_key", keep="first", maintain_order=True)
        .sort("fill_key")
    )


def _with_plans(config: SaasConfig, fills: pl.DataFrame, *, seed: int) -> pl.DataFrame:
    """Add the plan each form fill is billed on: ``plan_sku``, ``plan_interval``, ``plan_amount_cents``.

    Converting rows use their own plan (checked against the catalog); trials that do not convert
    get the plan they were started on, drawn from their path's tier mix; other rows: null.
    """
    catalog = _catalog(config)
    annual_share = config.setting("annual_billing_share")
    tiers = {
        path: (part["sku"].to_list(), np.cumsum(part["share"].to_numpy()))
        for (path,), part in config.trial_tiers.partition_by("trial_path", as_dict=True).items()
    }
    skus, intervals, amounts = [], [], []
    for key, form_type, path, converts, sku, interval, amount in fills.select(
        "fill_key", "form_type", "trial_path", "converts", "sku", "billing_interval", "amount_cents"
    ).iter_rows():
        if converts and sku is not None:
            if sku not in catalog:
                raise ValueError(f"form fill {key}: sku {sku!r} is not in saas_products.csv")
            interval = interval or "month"
            if interval not in _INTERVAL_SUFFIX:
                raise ValueError(f"form fill {key}: billing_interval {interval!r} is not month or year")
            expected = _catalog_amount(catalog[sku], interval)
            if amount is not None and amount != expected:
                raise ValueError(
                    f"form fill {key}: amount_cents {amount} differs from the catalog's {expected} for {sku} billed per {interval}"
                )
            skus.append(sku), intervals.append(interval), amounts.append(expected)
        elif form_type == "trial_signup" and path in tiers:
            names, cumulative = tiers[path]
            index = min(int(np.searchsorted(cumulative, _unit(seed, "trial-plan", key) * cumulative[-1], side="right")), len(names) - 1)
            drawn_interval = "year" if _unit(seed, "trial-interval", key) < annual_share else "month"
            skus.append(names[index]), intervals.append(drawn_interval), amounts.append(_catalog_amount(catalog[names[index]], drawn_interval))
        else:
            skus.append(None), intervals.append(None), amounts.append(None)
    names = {sku: p["name"] for sku, p in catalog.items()}
    products = {sku: p["product_id"] for sku, p in catalog.items()}
    return fills.with_columns(
        plan_sku=pl.Series(skus, dtype=pl.String),
        plan_interval=pl.Series(intervals, dtype=pl.String),
        plan_amount_cents=pl.Series(amounts, dtype=pl.Int64),
    ).with_columns(
        plan_product_name=pl.col("plan_sku").replace_strict(names, default=None, return_dtype=pl.String),
        plan_product_id=pl.col("plan_sku").replace_strict(products, default=None, return_dtype=pl.String),
    )


_FORM_OUTCOMES = ("trial_converted", "trial_expired", "form_converted")


def _with_outcomes(fills: pl.DataFrame, outcomes_today: pl.DataFrame, day: date, lookback_hint: int) -> pl.DataFrame:
    """Attach today's ``OUTCOMES`` (``outcome_kind``, ``outcome_at``) to the form fills they belong to.

    An outcome belongs to the form fill with the same person, form type and day
    (``started_on``). Raises ``ValueError`` when an outcome has no form fill in the window or
    contradicts the form fill's plan.
    """
    outcomes = _conform(outcomes_today, OUTCOMES, "outcomes_today").filter(pl.col("kind").is_in(_FORM_OUTCOMES))
    outcomes = outcomes.sort("happened_at", "person_id").unique(
        subset=["person_id", "form_type", "started_on"], keep="first", maintain_order=True
    )
    joined = fills.join(
        outcomes.select(
            "person_id", "form_type", pl.col("started_on").alias("form_day"),
            pl.col("kind").alias("outcome_kind"), pl.col("happened_at").alias("outcome_at"),
        ),
        on=["person_id", "form_type", "form_day"], how="left",
    )
    orphans = outcomes.join(
        fills.select("person_id", "form_type", pl.col("form_day").alias("started_on")),
        on=["person_id", "form_type", "started_on"], how="anti",
    )
    if orphans.height:
        earliest = orphans["started_on"].min()
        raise ValueError(
            f"{orphans.height} outcome(s) of {day} have no form fill in form_fills_window "
            f"(e.g. person {orphans['person_id'][0]!r}, {orphans['form_type'][0]} on {orphans['started_on'][0]}); "
            f"pass the FORM_FILLS frames back to {earliest} (normally {lookback_hint} days)"
        )
    planned_day = pl.when(pl.col("form_type") == "trial_signup").then(pl.col("outcome_on")).otherwise(pl.col("converts_on"))
    wrong = joined.filter(
        pl.col("outcome_kind").is_not_null()
        & ~(
            (planned_day == day)
            & pl.col("converts").fill_null(False).eq(pl.col("outcome_kind") != "trial_expired")
            & ((pl.col("form_type") == "trial_signup") == (pl.col("outcome_kind") != "form_converted"))
        ).fill_null(False)
    )
    if wrong.height:
        row = wrong.row(0, named=True)
        raise ValueError(
            f"{wrong.height} outcome(s) of {day} contradict their form fill's plan (e.g. person {row['person_id']!r}: "
            f"{row['outcome_kind']} today, but the plan says converts={row['converts']}, "
            f"outcome_on={row['outcome_on']}, converts_on={row['converts_on']})"
        )
    return joined


def _trial_end(row: dict, trial_days: int) -> datetime:
    """Trial start + ``trial_days``; never after the end of the plan's ``trial_ends_on`` day (a
    trial started just after midnight in a session of the day before ends with its cohort)."""
    end = row["submitted_at"] + timedelta(days=trial_days)
    if row.get("trial_ends_on") is not None:
        end = min(end, _day_start(row["trial_ends_on"] + timedelta(days=1)) - timedelta(seconds=1))
    return end


def _conversion_moment(row: dict, seed: int) -> datetime:
    """When a planned conversion happens: today's outcome if given, else a business-hours moment after the form fill."""
    if row.get("outcome_at") is not None:
        return row["outcome_at"]
    moment = _time_on(row["converts_on"], seed, "conversion", row["fill_key"])
    return max(moment, row["submitted_at"] + timedelta(minutes=5))


def _prepare(config: SaasConfig, window: FormFillsWindow, outcomes_today: pl.DataFrame, *, seed: int, day: date) -> pl.DataFrame:
    fills = _with_outcomes(_window_frame(window, day), outcomes_today, day, required_lookback_days(config))
    fills = fills.filter(  # only these ever become deals or subscriptions
        (pl.col("form_type") == "trial_signup") | pl.col("converts").fill_null(False)
    )
    return _with_plans(config, fills, seed=seed)


# --------------------------------------------------------------------------- subscriptions


def _subscription_row(
    *, config: SaasConfig, catalog: dict, seed: int, sub_id: str, person_id: str, email: str | None, status: str,
    created: datetime, trial_end: datetime | None, paid_from: datetime | None, sku: str, interval: str,
    trial_path: str | None, form_type: str | None, event_type: str, event_at: datetime,
) -> dict:
    product = catalog[sku]
    trial_start = created if trial_end else None
    if status == "trialing" or status == "canceled":
        period_start, period_end = trial_start, trial_end
    else:
        period_start = paid_from
        period_end = _add_interval(paid_from, interval)
    canceled = trial_end if status == "canceled" else None
    plan = _plan_object(product, interval)
    plan.pop("created")
    item_id = "si_" + _base62(seed, "item", sub_id, length=14)
    items = {"object": "list", "data": [{
        "id": item_id, "object": "subscription_item", "created": _epoch(created), "quantity": 1,
        "subscription": sub_id, "plan": plan,
    }]}
    metadata = {"product_sku": sku, "trial_path": trial_path, "source_form_type": form_type}
    return {
        "id": sub_id, "object": "subscription", "customer": stripe_customer_id(seed, person_id), "customer_email": email,
        "status": status, "created": _epoch(created), "start_date": _epoch(created),
        "trial_start": _epoch(trial_start), "trial_end": _epoch(trial_end),
        "current_period_start": _epoch(period_start), "current_period_end": _epoch(period_end),
        "cancel_at_period_end": False, "canceled_at": _epoch(canceled), "ended_at": _epoch(canceled),
        "collection_method": "charge_automatically", "currency": "usd", "quantity": 1, "livemode": False,
        "item_id": item_id, "plan_id": plan["id"], "plan_product": plan["product"], "plan_amount": plan["amount"],
        "plan_currency": "usd", "plan_interval": interval, "plan_interval_count": 1, "plan_nickname": plan["nickname"],
        "metadata_product_sku": sku, "metadata_trial_path": trial_path, "metadata_source_form_type": form_type,
        "metadata": json.dumps(metadata), "items": json.dumps(items),
        "event_type": event_type, "event_created": _epoch(event_at),
    }


def stripe_subscriptions_for_day(
    config: SaasConfig,
    form_fills_window: FormFillsWindow,
    outcomes_today: pl.DataFrame,
    *,
    seed: int,
    day: date,
) -> pl.DataFrame:
    """The subscriptions created or updated on ``day``, in their state at the end of ``day``.

    Args:
        form_fills_window: the FORM_FILLS frames of days ``day - required_lookback_days(config)``
            .. ``day`` (a list of daily frames or one frame; rows after ``day`` are ignored). Longer
            windows are fine; non-trial form conversions planned later than the window need it longer.
        outcomes_today: the OUTCOMES frame of ``day`` (direct purchases come only from here;
            other outcomes give the exact moment of the change and are checked against the plans).

    Columns: ``SUBSCRIPTION_COLUMNS``; one row per subscription, sorted by ``created``, ``id``.
    """
    catalog = _catalog(config)
    trial_days = int(config.setting("trial_days"))
    fills = _prepare(config, form_fills_window, outcomes_today, seed=seed, day=day)
    rows = []
    is_trial = pl.col("form_type") == "trial_signup"
    touched = fills.filter(
        (is_trial & ((pl.col("form_day") == day) | (pl.col("outcome_on") == day)))
        | (~is_trial & pl.col("converts").fill_null(False) & (pl.col("converts_on") == day))
    )
    for row in touched.iter_rows(named=True):
        common = dict(
            config=config, catalog=catalog, seed=seed, sub_id=stripe_subscription_id(seed, row["fill_key"]),
            person_id=row["person_id"], email=row["email"], sku=row["plan_sku"], interval=row["plan_interval"],
            trial_path=row["trial_path"], form_type=row["form_type"],
        )
        if row["plan_sku"] is None:
            raise ValueError(f"form fill {row['fill_key']} converts but has no sku")
        if row["form_type"] != "trial_signup":
            moment = _conversion_moment(row, seed)
            rows.append(_subscription_row(**common, status="active", created=moment, trial_end=None, paid_from=moment,
                                          event_type="customer.subscription.created", event_at=moment))
            continue
        started, end = row["submitted_at"], _trial_end(row, trial_days)
        if row["outcome_on"] == day and row["form_day"] < day:
            if row["converts"]:
                moment = _conversion_moment(row, seed)
                rows.append(_subscription_row(**common, status="active", created=started, trial_end=end, paid_from=moment,
                                              event_type="customer.subscription.updated", event_at=moment))
            else:
                rows.append(_subscription_row(**common, status="canceled", created=started, trial_end=end, paid_from=None,
                                              event_type="customer.subscription.deleted", event_at=end))
        else:
            rows.append(_subscription_row(**common, status="trialing", created=started, trial_end=end, paid_from=None,
                                          event_type="customer.subscription.created", event_at=started))

    direct = _conform(outcomes_today, OUTCOMES, "outcomes_today").filter(pl.col("kind") == "direct_purchase")
    for row in direct.sort("happened_at", "person_id").iter_rows(named=True):
        sku, interval = row["sku"], row["billing_interval"] or "month"
        if sku not in catalog:
            raise ValueError(f"direct purchase by {row['person_id']!r}: sku {sku!r} is not in saas_products.csv")
        expected = _catalog_amount(catalog[sku], interval)
        if row["amount_cents"] is not None and row["amount_cents"] != expected:
            raise ValueError(f"direct purchase by {row['person_id']!r}: amount_cents {row['amount_cents']} differs from the catalog's {expected}")
        key = f"{row['person_id']}|direct_purchase|{_key_part(row['happened_at'])}"
        moment = row["happened_at"]
        rows.append(_subscription_row(
            config=config, catalog=catalog, seed=seed, sub_id=stripe_subscription_id(seed, key), person_id=row["person_id"],
            email=row["email"], status="active", created=moment, trial_end=None, paid_from=moment, sku=sku, interval=interval,
            trial_path=None, form_type=None, event_type="customer.subscription.created", event_at=moment,
        ))
    if not rows:
        return pl.DataFrame(schema=SUBSCRIPTION_COLUMNS)
    return pl.DataFrame(rows, schema=SUBSCRIPTION_COLUMNS, orient="row").sort("created", "id")
