"""Pipedrive exports of the synthetic SaaS world: leads, activities and deals, day by day.

Inputs are the journey simulation's frames (``saas_schema.FORM_FILLS`` / ``OUTCOMES``); form
types, activity templates, bought lists and volumes come from ``data/config/synthetic``.

Daily export rule (like Pipedrive's ``recents`` API): the export for day D holds the objects
**created or updated on D, in their state at the end of D**. A FORM_FILLS row carries the
person's future (trial outcome, conversion, plan); it is used to keep objects consistent across
days, never to show on D a state that only happens later.

* Leads: one per form fill (secondary fills too) plus bought leads, on the day they are created.
* Activities: created with their lead (``done`` false), due ``day_offset`` days later per
  template; optionally (``earlier_leads``) each reappears once, ``done``, on its due day (an
  activity due on the lead's own day is marked done the next day).
* Deals (linked to the SKU of the subscription, same amount as in Stripe):

  - sales-assisted trial: created at the trial start in ``qualification``, then
    ``needs_analysis`` (day 5), ``proposal`` (9), ``negotiation`` (12) while the trial runs, and
    ``closed_won`` / ``closed_lost`` on its ``outcome_on`` day (a stage change planned on or after
    the outcome is skipped). A lost deal keeps the plan the trial was started on.
  - self-service trial that converts: created on the conversion day, already won.
  - demo request that converts: created after the demo (day 3 or 4, never after the
    conversion) in ``needs_analysis``, ``proposal`` on day 8, won on the conversion day.
  - other forms that convert (pricing inquiry, contact us, ...): created won on the conversion day.
  - no deal for forms that do not convert, self-service trials that expire, direct purchases
    (anonymous, no CRM person) or bought leads.

Identities are stable hashes of the form fill (person, form type, submission time) and the seed:
lead ids are UUID-like strings, deal and activity ids positive integers, the owner (a sales rep
from ``SALES_REP_IDS``) is fixed per person. Same inputs + seed + day give identical frames
whatever else was generated before.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import polars as pl
from faker.providers.company.en_US import Provider as _CompanyProvider
from faker.providers.person.en_US import Provider as _PersonProvider

from funnel_assets.lib.synthetic.saas_billing import (
    FormFillsWindow,
    _conform,
    _conversion_moment,
    _day_start,
    _digest,
    _fill_key_expr,
    _int_id,
    _form_day_expr,
    _prepare,
    _time_on,
    _trial_end,
    _unit,
    required_lookback_days,
    stripe_subscription_id,
)
from funnel_assets.lib.synthetic.rng import rng_for
from funnel_assets.lib.synthetic.saas_config import SaasConfig
from funnel_assets.lib.synthetic.saas_schema import FORM_FILLS, UTC

__all__ = [
    "ACTIVITY_COLUMNS",
    "DEAL_COLUMNS",
    "LEAD_COLUMNS",
    "SALES_ASSISTED_STAGES",
    "SALES_REP_IDS",
    "STAGES",
    "crm_activities_for_day",
    "crm_deals_for_day",
    "crm_leads_for_day",
    "deal_id_for_lead",
    "lead_id_for_form_fill",
    "required_lookback_days",
]

SALES_REP_IDS: tuple[int, ...] = (13001, 13002, 13003, 13004, 13005, 13006, 13007, 13008)
"""Pipedrive user ids of the sales team (owners of leads, deals and activities)."""

STAGES: dict[str, int] = {
    "qualification": 1, "needs_analysis": 2, "proposal": 3, "negotiation": 4, "closed_won": 5, "closed_lost": 6,
}
"""The sales pipeline's stages (pipeline 1) and their ids."""

PIPELINE_ID = 1
SALES_ASSISTED_STAGES: tuple[tuple[int, str], ...] = ((0, "qualification"), (5, "needs_analysis"), (9, "proposal"), (12, "negotiation"))
"""(days after the trial start, stage) of a sales-assisted trial's deal until its outcome (seed 000, Phase 6)."""
DEMO_DEAL_DAYS: tuple[int, ...] = (3, 4)
"""A converting demo request's deal is opened this many days after the form (after the demo)."""
DEMO_STAGES: tuple[tuple[int, str], ...] = ((8, "proposal"),)
"""Later stage changes of a demo deal (days after the form), while it is open."""

_PRIORITY_LABEL = {"high": "Hot", "medium": "Warm", "low": "Cold"}
PURCHASED_ORIGIN, FORM_ORIGIN = "purchased_list", "form_fill"

LEAD_COLUMNS = {
    "id": pl.String,
    "title": pl.String,  # "Name - Company"
    "person_name": pl.String,
    "organization_name": pl.String,
    "email": pl.String,
    "add_time": UTC,
    "update_time": UTC,
    "source_name": pl.String,  # form type's lead_source / bought list's name
    "origin": pl.String,  # form_fill / purchased_list
    "label": pl.String,  # Hot / Warm / Cold (from sales_priority)
    "lifecycle_stage": pl.String,
    "sales_priority": pl.String,
    "form_type": pl.String,  # null for bought leads
    "is_secondary": pl.Boolean,
    "trial_path": pl.String,
    "trial_start_date": pl.Date,
    "expected_activities": pl.Int32,  # the activities created with the lead (see crm_activities_for_day)
    "owner_id": pl.Int64,
    "value": pl.Float64,  # always null: leads carry no value
    "utm_source": pl.String,
    "utm_medium": pl.String,
    "campaign_name": pl.String,
    "is_archived": pl.Boolean,
}

ACTIVITY_COLUMNS = {
    "id": pl.Int64,
    "type": pl.String,  # call / email / meeting / task
    "subject": pl.String,
    "due_date": pl.Date,
    "done": pl.Boolean,
    "marked_as_done_time": UTC,
    "add_time": UTC,
    "update_time": UTC,
    "lead_id": pl.String,
    "deal_id": pl.Int64,  # sales-assisted trials (their deal exists from day 0); null otherwise
    "user_id": pl.Int64,  # the owner
    "person_name": pl.String,
    "org_name": pl.String,
    "template": pl.String,
    "step": pl.Int64,
}

DEAL_COLUMNS = {
    "id": pl.Int64,
    "title": pl.String,  # "Company - Product Plan"
    "value": pl.Float64,  # the subscription amount in dollars (amount_cents / 100)
    "currency": pl.String,
    "status": pl.String,  # open / won / lost
    "stage_id": pl.Int64,
    "stage_name": pl.String,
    "pipeline_id": pl.Int64,
    "product_sku": pl.String,
    "product_name": pl.String,
    "billing_interval": pl.String,
    "trial_path": pl.String,
    "source_form_type": pl.String,
    "lead_id": pl.String,
    "person_name": pl.String,
    "org_name": pl.String,
    "person_email": pl.String,
    "owner_id": pl.Int64,
    "add_time": UTC,
    "update_time": UTC,
    "stage_change_time": UTC,
    "won_time": UTC,
    "lost_time": UTC,
    "close_time": UTC,
    "lost_reason": pl.String,
    "expected_close_date": pl.Date,  # sales-assisted trials: the trial's end
    "stripe_subscription_id": pl.String,  # once won
}


# --------------------------------------------------------------------------- identities


def lead_id_for_form_fill(seed: int, key: str) -> str:
    """The lead id (UUID-like) of the form fill with identity ``key`` (``saas_billing.fill_key``)."""
    return str(uuid.UUID(bytes=_digest(seed, "lead", key), version=4))


def deal_id_for_lead(seed: int, lead_id: str) -> int:
    """The id of the deal a lead turns into (if it does)."""
    return _int_id(seed, "deal", lead_id)


def _owner(seed: int, person: str) -> int:
    return SALES_REP_IDS[int(_unit(seed, "owner", person) * len(SALES_REP_IDS))]


# --------------------------------------------------------------------------- fake people for bought leads

_FIRST_NAMES = np.array(list(_PersonProvider.first_names))
_FIRST_P = np.array(list(_PersonProvider.first_names.values()), dtype=float) / sum(_PersonProvider.first_names.values())
_LAST_NAMES = np.array(list(_PersonProvider.last_names))
_LAST_P = np.array(list(_PersonProvider.last_names.values()), dtype=float) / sum(_PersonProvider.last_names.values())
_COMPANY_SUFFIXES = np.array(_CompanyProvider.company_suffixes)
_TLDS = np.array(["com", "com", "com", "io", "co", "net"])


def _fake_people(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """``n`` Faker-like (en_US) people at companies, vectorised: first/last name, company, business email."""
    first = rng.choice(_FIRST_NAMES, n, p=_FIRST_P)
    last = rng.choice(_LAST_NAMES, n, p=_LAST_P)
    company_last = rng.choice(_LAST_NAMES, n, p=_LAST_P)
    company_other = rng.choice(_LAST_NAMES, n, p=_LAST_P)
    suffix = rng.choice(_COMPANY_SUFFIXES, n)
    style = rng.integers(0, 3, n)  # a third "Last-Other", the rest "Last Suffix" (Faker's company formats)
    tld = rng.choice(_TLDS, n)
    frame = pl.DataFrame({"first": first, "last": last, "c1": company_last, "c2": company_other, "suffix": suffix, "style": style, "tld": tld},
                         schema={"first": pl.String, "last": pl.String, "c1": pl.String, "c2": pl.String, "suffix": pl.String,
                                 "style": pl.Int64, "tld": pl.String})
    return frame.select(
        pl.col("first").alias("first_name"),
        pl.col("last").alias("last_name"),
        pl.when(pl.col("style") == 0).then(pl.format("{}-{}", "c1", "c2"))
        .otherwise(pl.format("{} {}", "c1", "suffix")).alias("company"),
        pl.format("{}.{}@{}.{}", pl.col("first").str.to_lowercase(), pl.col("last").str.to_lowercase(),
                  pl.when(pl.col("style") == 0).then(pl.format("{}{}", "c1", "c2")).otherwise(pl.col("c1")).str.to_lowercase(),
                  "tld").alias("email"),
    )


# --------------------------------------------------------------------------- leads


def _template_expr() -> pl.Expr:
    return (
        pl.when(pl.col("origin") == PURCHASED_ORIGIN).then(pl.lit("purchased_lead"))
        .when(pl.col("form_type") == "trial_signup").then(pl.concat_str([pl.lit("trial_"), pl.col("trial_path")]))
        .otherwise(pl.col("form_type"))
    )


def _planned_activities(config: SaasConfig, leads: pl.DataFrame, *, seed: int) -> pl.DataFrame:
    """Every activity of each lead (``id``, ``add_time``, ``origin``, ``form_type``, ``trial_path``).

    A template step is kept with its probability, decided by a hash of (seed, lead, step) so
    the leads' ``expected_activities`` and the activities agree whenever either is computed.
    """
    keyed = leads.select("id", "add_time", "origin", "form_type", "trial_path").with_columns(template=_template_expr())
    unknown = set(keyed["template"].drop_nulls().unique()) - set(config.activity_templates["template"])
    if keyed["template"].null_count() or unknown:
        raise ValueError(f"no activity template for {sorted(unknown) or 'a trial without trial_path'}; see saas_activity_templates.csv")
    steps = keyed.join(
        config.activity_templates.select("template", "step", "activity_type", "subject", "day_offset", "probability"),
        on="template", how="inner",
    )
    draws = [_unit(seed, "activity", lead, step) for lead, step in steps.select("id", "step").iter_rows()]
    return steps.filter(pl.Series(draws, dtype=pl.Float64) < pl.col("probability")).sort("id", "step")


def crm_leads_for_day(config: SaasConfig, form_fills: pl.DataFrame, *, seed: int, day: date, scale: float) -> pl.DataFrame:
    """The Pipedrive leads created on ``day``: one per form fill, plus bought leads.

    Args:
        form_fills: the FORM_FILLS frame of ``day``: every row's session (``session_id``) began on
            ``day`` (UTC); a form sent just after midnight keeps its real ``add_time``.
        scale: the world's scale; bought leads are Poisson(``purchased_leads_per_day`` x scale).

    Columns: ``LEAD_COLUMNS``, sorted by ``add_time``, ``id``. Form leads carry the form type's
    ``lead_source`` (``saas_form_types.csv``), bought ones their list's name (``saas_purchased_lists.csv``).
    """
    fills = _conform(form_fills, FORM_FILLS, "form_fills")
    off_day = fills.filter(_form_day_expr() != day)
    if off_day.height:
        raise ValueError(f"form_fills for {day} holds {off_day.height} form fill(s) of sessions begun on other days (e.g. {off_day['submitted_at'][0]})")
    forms = config.form_types.select("form_type", "lead_source", "lifecycle_stage", "sales_priority")
    unknown = set(fills["form_type"].unique()) - set(forms["form_type"])
    if unknown:
        raise ValueError(f"form type(s) {sorted(unknown)} are not in saas_form_types.csv")
    fills = fills.with_columns(fill_key=_fill_key_expr()).join(forms, on="form_type", how="left")
    form_leads = fills.select(
        pl.Series("id", [lead_id_for_form_fill(seed, k) for k in fills["fill_key"]], dtype=pl.String),
        pl.format("{} {}", "first_name", "last_name").alias("person_name"),
        pl.col("company").alias("organization_name"),
        "email",
        pl.col("submitted_at").alias("add_time"),
        pl.col("lead_source").alias("source_name"),
        pl.lit(FORM_ORIGIN).alias("origin"),
        "lifecycle_stage", "sales_priority", "form_type", "is_secondary",
        pl.when(pl.col("form_type") == "trial_signup").then(pl.col("trial_path")).alias("trial_path"),
        pl.when(pl.col("form_type") == "trial_signup").then(pl.col("submitted_at").dt.date()).alias("trial_start_date"),
        pl.Series("owner_id", [_owner(seed, p) for p in fills["person_id"]], dtype=pl.Int64),
        "utm_source", "utm_medium", "campaign_name",
    )

    rng = rng_for(seed, "saas_crm.purchased_leads", day)
    count = int(rng.poisson(config.setting("purchased_leads_per_day") * scale))
    lists = config.purchased_lists
    people = _fake_people(rng, count)
    sources = rng.choice(lists["lead_source"].to_numpy(), count, p=lists["weight"].to_numpy() / lists["weight"].sum())
    seconds = np.sort(rng.integers(8 * 3600, 18 * 3600, count))
    bought_ids = [str(uuid.UUID(bytes=_digest(seed, "purchased-lead", day, i), version=4)) for i in range(count)]
    bought = people.select(
        pl.Series("id", bought_ids, dtype=pl.String),
        pl.format("{} {}", "first_name", "last_name").alias("person_name"),
        pl.col("company").alias("organization_name"),
        "email",
        (pl.lit(_day_start(day), dtype=UTC) + pl.duration(seconds=pl.Series(seconds, dtype=pl.Int64))).alias("add_time"),
        pl.Series("source_name", sources, dtype=pl.String),
        pl.lit(PURCHASED_ORIGIN).alias("origin"),
        pl.lit("lead").alias("lifecycle_stage"),
        pl.lit("low").alias("sales_priority"),
        pl.lit(None, dtype=pl.String).alias("form_type"),
        pl.lit(False).alias("is_secondary"),
        pl.lit(None, dtype=pl.String).alias("trial_path"),
        pl.lit(None, dtype=pl.Date).alias("trial_start_date"),
        pl.Series("owner_id", [_owner(seed, i) for i in bought_ids], dtype=pl.Int64),
        pl.lit(None, dtype=pl.String).alias("utm_source"),
        pl.lit(None, dtype=pl.String).alias("utm_medium"),
        pl.lit(None, dtype=pl.String).alias("campaign_name"),
    )
    bought = bought.with_columns(
        pl.col(c).cast(form_leads.schema[c]) for c in bought.columns
    )
    leads = pl.concat([form_leads, bought], how="vertical")
    counts = _planned_activities(config, leads, seed=seed).group_by("id").agg(expected_activities=pl.len().cast(pl.Int32))
    leads = leads.join(counts, on="id", how="left").with_columns(
        pl.col("expected_activities").fill_null(0),
        pl.format("{} - {}", "person_name", pl.col("organization_name").fill_null(pl.col("person_name"))).alias("title"),
        pl.col("add_time").alias("update_time"),
        pl.col("sales_priority").replace_strict(_PRIORITY_LABEL, default="Cold", return_dtype=pl.String).alias("label"),
        pl.lit(None, dtype=pl.Float64).alias("value"),
        pl.lit(False).alias("is_archived"),
    )
    return leads.select([pl.col(c).cast(t) for c, t in LEAD_COLUMNS.items()]).sort("add_time", "id")


# --------------------------------------------------------------------------- activities


def _activity_rows(config: SaasConfig, leads: pl.DataFrame, *, seed: int) -> pl.DataFrame:
    planned = _planned_activities(config, leads, seed=seed)
    info = leads.select("id", "owner_id", "person_name", "organization_name")
    planned = planned.join(info, on="id", how="left")
    return planned.select(
        pl.Series("activity_id", [_int_id(seed, "activity", lead, step) for lead, step in planned.select("id", "step").iter_rows()], dtype=pl.Int64),
        pl.col("activity_type").alias("type"),
        "subject",
        (pl.col("add_time").dt.date() + pl.duration(days=pl.col("day_offset"))).alias("due_date"),
        pl.col("day_offset"),
        pl.col("add_time").alias("lead_add_time"),
        pl.col("id").alias("lead_id"),
        pl.when(pl.col("template") == "trial_sales_assisted")
        .then(pl.Series("deal", [deal_id_for_lead(seed, lead) for lead in planned["id"]], dtype=pl.Int64))
        .alias("deal_id"),
        pl.col("owner_id").alias("user_id"),
        "person_name",
        pl.col("organization_name").alias("org_name"),
        "template", "step",
    )


def _as_frame(frames: pl.DataFrame | Sequence[pl.DataFrame], schema: dict, what: str) -> pl.DataFrame:
    frames = [frames] if isinstance(frames, pl.DataFrame) else list(frames)
    frames = [_conform(f, schema, what) for f in frames]
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=schema)


def crm_activities_for_day(
    config: SaasConfig,
    leads_created_on_day: pl.DataFrame,
    *,
    seed: int,
    day: date,
    earlier_leads: pl.DataFrame | Sequence[pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """The Pipedrive activities created or updated on ``day``.

    Args:
        leads_created_on_day: ``crm_leads_for_day``'s output for ``day`` (every lead added on
            ``day``); their activities are created now, ``done`` false, due ``day_offset`` days later.
        earlier_leads: optional, the leads of earlier days (one frame or a list, e.g. the last
            ``max(day_offset) + 1`` days); their activities due today (or, if due on the lead's own
            day, on the day after) reappear ``done`` with ``marked_as_done_time``. Without it only
            creations are exported.

    Columns: ``ACTIVITY_COLUMNS``, sorted by ``update_time``, ``id``.
    """
    leads = _conform(leads_created_on_day, LEAD_COLUMNS, "leads_created_on_day")
    # a form submitted just after midnight in a session begun on ``day`` belongs to ``day``
    off_day = leads.filter(~pl.col("add_time").dt.date().is_between(day, day + timedelta(days=1)))
    if off_day.height:
        raise ValueError(f"leads_created_on_day for {day} holds {off_day.height} lead(s) added on other days; pass those as earlier_leads")
    created = _activity_rows(config, leads, seed=seed).with_columns(
        done=pl.lit(False), marked_as_done_time=pl.lit(None, dtype=UTC),
        add_time=pl.col("lead_add_time"), update_time=pl.col("lead_add_time"),
    )
    parts = [created]
    if earlier_leads is not None:
        earlier = _as_frame(earlier_leads, LEAD_COLUMNS, "earlier_leads").filter(pl.col("add_time").dt.date() < day)
        earlier = earlier.unique(subset="id", keep="first", maintain_order=True)
        rows = _activity_rows(config, earlier, seed=seed)
        done_on = pl.when(pl.col("day_offset") > 0).then(pl.col("due_date")).otherwise(pl.col("due_date") + pl.duration(days=1))
        rows = rows.filter(done_on == day)
        done_at = pl.Series("done_at", [_time_on(day, seed, "activity-done", a) for a in rows["activity_id"]], dtype=UTC)
        parts.append(rows.with_columns(
            done=pl.lit(True), marked_as_done_time=done_at, add_time=pl.col("lead_add_time"), update_time=done_at,
        ))
    out = pl.concat(parts, how="vertical").rename({"activity_id": "id"})
    return out.select([pl.col(c).cast(t) for c, t in ACTIVITY_COLUMNS.items()]).sort("update_time", "id")


# --------------------------------------------------------------------------- deals


def _deal_schedule(row: dict, seed: int) -> tuple[str, list[tuple[date, str]], date] | None:
    """(kind, [(day, stage)] from creation on, closing day) of the form fill's deal, or None."""
    form_type, path, form_day = row["form_type"], row["trial_path"], row["form_day"]
    converts = bool(row["converts"])
    if form_type == "trial_signup":
        if path == "sales_assisted":
            close = row["outcome_on"] or row["trial_ends_on"]
            return "sales_assisted", [(form_day + timedelta(days=o), s) for o, s in SALES_ASSISTED_STAGES], close
        close = row["outcome_on"] or row["converts_on"]
        if converts and close is not None:
            return "self_service", [(close, "closed_won")], close
        return None
    if not converts or row["converts_on"] is None:
        return None
    close = row["converts_on"]
    if form_type == "demo_request":
        offset = DEMO_DEAL_DAYS[int(_unit(seed, "demo-deal-day", row["fill_key"]) * len(DEMO_DEAL_DAYS))]
        opened = min(form_day + timedelta(days=offset), close)
        later = [(form_day + timedelta(days=o), s) for o, s in DEMO_STAGES if form_day + timedelta(days=o) > opened]
        return "demo", [(opened, "needs_analysis"), *later], close
    return "form", [(close, "closed_won")], close


def crm_deals_for_day(
    config: SaasConfig,
    form_fills_window: FormFillsWindow,
    outcomes_today: pl.DataFrame,
    *,
    seed: int,
    day: date,
) -> pl.DataFrame:
    """The Pipedrive deals created or updated on ``day``, in their state at the end of ``day``.

    Args:
        form_fills_window: the FORM_FILLS frames of days ``day - required_lookback_days(config)``
            .. ``day`` (a list of daily frames, or one frame; rows after ``day`` are ignored). A
            longer window is fine; a converting form whose conversion lies further back than the
            window needs a longer one (its outcome then raises ``ValueError`` saying how far).
        outcomes_today: the OUTCOMES frame of ``day``; gives the moments of today's wins and losses
            and is checked against the plans.

    Columns: ``DEAL_COLUMNS``, one row per deal touched today, sorted by ``update_time``, ``id``.
    Each deal's value is its subscription's amount (``amount_cents`` / 100; for a lost
    sales-assisted trial the plan it was started on), the same as ``saas_billing`` exports.
    """
    trial_days = int(config.setting("trial_days"))
    fills = _prepare(config, form_fills_window, outcomes_today, seed=seed, day=day)
    candidates = fills.filter(
        pl.col("converts").fill_null(False) | ((pl.col("form_type") == "trial_signup") & (pl.col("trial_path") == "sales_assisted"))
    )
    rows = []
    for row in candidates.iter_rows(named=True):
        plan = _deal_schedule(row, seed)
        if plan is None:
            continue
        kind, schedule, close = plan
        opened = schedule[0][0]
        if not (opened <= day <= close):
            continue
        lead_id = lead_id_for_form_fill(seed, row["fill_key"])
        deal_id = deal_id_for_lead(seed, lead_id)
        if kind == "sales_assisted":
            add_time = row["submitted_at"]
        elif kind == "demo":
            add_time = _time_on(opened, seed, "deal-opened", deal_id)
            if opened == close:
                add_time = min(add_time, _conversion_moment(row, seed))
        else:
            add_time = _conversion_moment(row, seed)
        status, stage, won_time, lost_time, lost_reason, sub_id = "open", None, None, None, None, None
        if day == close:
            if row["converts"]:
                status, stage, won_time = "won", "closed_won", _conversion_moment(row, seed)
                sub_id = stripe_subscription_id(seed, row["fill_key"])
            else:
                status, stage, lost_reason = "lost", "closed_lost", "Trial expired without purchase"
                lost_time = row["outcome_at"] or _trial_end(row, trial_days)
            change_time = won_time or lost_time
        else:
            reached = [(d, s) for d, s in schedule if d <= day]
            stage_day, stage = reached[-1]
            if stage_day != day:
                continue  # nothing changed today
            change_time = add_time if stage_day == opened else _time_on(day, seed, "deal-stage", deal_id, stage)
        change_time = max(change_time, add_time)
        rows.append({
            "id": deal_id,
            "title": f"{row['company'] or row['first_name'] + ' ' + row['last_name']} - {row['plan_product_name']} Plan",
            "value": row["plan_amount_cents"] / 100,
            "currency": "USD",
            "status": status,
            "stage_id": STAGES[stage],
            "stage_name": stage,
            "pipeline_id": PIPELINE_ID,
            "product_sku": row["plan_sku"],
            "product_name": row["plan_product_name"],
            "billing_interval": row["plan_interval"],
            "trial_path": row["trial_path"] if row["form_type"] == "trial_signup" else None,
            "source_form_type": row["form_type"],
            "lead_id": lead_id,
            "person_name": f"{row['first_name']} {row['last_name']}",
            "org_name": row["company"],
            "person_email": row["email"],
            "owner_id": _owner(seed, row["person_id"]),
            "add_time": add_time,
            "update_time": change_time,
            "stage_change_time": change_time,
            "won_time": won_time,
            "lost_time": lost_time,
            "close_time": won_time or lost_time,
            "lost_reason": lost_reason,
            "expected_close_date": row["trial_ends_on"] if kind == "sales_assisted" else None,
            "stripe_subscription_id": sub_id,
        })
    if not rows:
        return pl.DataFrame(schema=DEAL_COLUMNS)
    return pl.DataFrame(rows, schema=DEAL_COLUMNS, orient="row").sort("update_time", "id")
