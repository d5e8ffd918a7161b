"""The SaaS half's shared configuration (seed 000, section 1), as editable CSVs.

``data/config/synthetic/saas_*.csv`` hold the Stripe catalog, the paid campaigns and their
targeting, traffic sources, form types and their distribution, the two trial paths with their
tier mixes, engagement tiers (the tier mix of new and of established visitors' sessions, form and
return probabilities), CRM activity templates, bought lead lists and a few volume settings. Every
file is validated on load; a problem names the file, the line and what to do (see
``funnel_assets.lib.config``). ``established_share`` is optional: without it established visitors
take the new visitors' ``share``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from funnel_assets.lib.config import ConfigError, ConfigProblem, ConfigSpec, not_blank, number, one_of, read_config_csv

TARGETINGS = ("new_users", "returning_users", "all_users")
TRIAL_PATHS = ("self_service", "sales_assisted")






PROBABILITY = number(0, 1)
SPECS: dict[str, ConfigSpec] = {
    "saas_products.csv": ConfigSpec(
        required=("sku", "product_id", "name", "price_monthly_cents", "price_annual_cents"),
        optional=("notes",),
        validators={"sku": (not_blank,), "product_id": (not_blank,), "name": (not_blank,),
                    "price_monthly_cents": (number(1, integer=True),), "price_annual_cents": (number(1, integer=True),)},
        unique=("sku",),
    ),
    "saas_campaigns.csv": ConfigSpec(
        required=("platform", "campaign_id", "campaign_name", "campaign_type", "targeting", "weight", "cpc_usd", "ctr"),
        optional=("notes",),
        validators={"platform": (one_of("google", "facebook"),), "campaign_id": (number(1, integer=True),),
                    "campaign_name": (not_blank,), "campaign_type": (not_blank,), "targeting": (one_of(*TARGETINGS),),
                    "weight": (number(0),), "cpc_usd": (number(0.01),), "ctr": (number(0.0001, 1),)},
        unique=("campaign_id",),
    ),
    "saas_traffic_sources.csv": ConfigSpec(
        required=("source", "medium", "weight"), optional=("notes",),
        validators={"source": (not_blank,), "medium": (not_blank,), "weight": (number(0),)},
        unique=("source", "medium"),
    ),
    "saas_form_types.csv": ConfigSpec(
        required=("form_type", "event_name", "weight", "lifecycle_stage", "sales_priority", "lead_source", "paid_conversion_rate"),
        optional=("notes",),
        validators={"form_type": (not_blank,), "event_name": (not_blank,), "weight": (number(0),),
                    "lead_source": (not_blank,), "paid_conversion_rate": (number(0, 1, optional=True),)},
        unique=("form_type",),
    ),
    "saas_trial_paths.csv": ConfigSpec(
        required=("trial_path", "weight", "conversion_rate", "avg_conversion_day", "conversion_day_sd"), optional=("notes",),
        validators={"trial_path": (one_of(*TRIAL_PATHS),), "weight": (PROBABILITY,), "conversion_rate": (PROBABILITY,),
                    "avg_conversion_day": (number(0, 60),), "conversion_day_sd": (number(0, 30),)},
        unique=("trial_path",),
    ),
    "saas_trial_tiers.csv": ConfigSpec(
        required=("trial_path", "sku", "share"),
        validators={"trial_path": (one_of(*TRIAL_PATHS),), "sku": (not_blank,), "share": (PROBABILITY,)},
        unique=("trial_path", "sku"),
    ),
    "saas_engagement_tiers.csv": ConfigSpec(
        required=("tier", "min_score", "max_score", "share", "form_probability", "return_probability"), optional=("established_share", "notes"),
        validators={"tier": (not_blank,), "min_score": (number(0),), "max_score": (number(0),), "share": (PROBABILITY,),
                    "established_share": (number(0, 1),),
                    "form_probability": (PROBABILITY,), "return_probability": (PROBABILITY,)},
        unique=("tier",),
    ),
    "saas_activity_templates.csv": ConfigSpec(
        required=("template", "step", "activity_type", "subject", "day_offset", "probability"),
        validators={"template": (not_blank,), "step": (number(1, integer=True),), "activity_type": (not_blank,),
                    "subject": (not_blank,), "day_offset": (number(0, 90, integer=True),), "probability": (PROBABILITY,)},
        unique=("template", "step"),
    ),
    "saas_purchased_lists.csv": ConfigSpec(
        required=("lead_source", "weight"), validators={"lead_source": (not_blank,), "weight": (number(0),)}, unique=("lead_source",),
    ),
    "saas_settings.csv": ConfigSpec(
        required=("setting", "value"), optional=("notes",), validators={"setting": (not_blank,), "value": (number(0),)}, unique=("setting",),
    ),
}
SETTINGS = {
    "sessions_per_day": number(1, integer=True),
    "new_users_per_day": number(1, integer=True),
    "purchased_leads_per_day": number(0, integer=True),
    "trial_days": number(1, 60, integer=True),
    "annual_billing_share": PROBABILITY,
    "secondary_form_probability": PROBABILITY,
    "direct_purchase_probability": PROBABILITY,
    "max_pageviews_per_session": number(1, 200, integer=True),
}
REQUIRED_TEMPLATES = ("trial_self_service", "trial_sales_assisted", "purchased_lead")


@dataclass(frozen=True)
class SaasConfig:
    """Typed, validated tables; numbers are already numbers."""

    products: pl.DataFrame
    campaigns: pl.DataFrame
    traffic_sources: pl.DataFrame
    form_types: pl.DataFrame
    trial_paths: pl.DataFrame
    trial_tiers: pl.DataFrame
    engagement_tiers: pl.DataFrame
    activity_templates: pl.DataFrame
    purchased_lists: pl.DataFrame
    settings: dict[str, float]

    def setting(self, name: str) -> float:
        return self.settings[name]


def _weights_sum_to_one(frame: pl.DataFrame, column: str, group: str | None = None) -> list[ConfigProblem]:
    problems = []
    groups = frame.partition_by(group, as_dict=True) if group else {(None,): frame}
    for key, part in groups.items():
        total = part[column].sum()
        if abs(total - 1.0) > 1e-6:
            where = f" for {group} {key[0]}" if group else ""
            problems.append(ConfigProblem(None, column, f"the {column} values{where} add up to {total:.4f}, not 1; adjust them"))
    return problems


def load_saas_config(config_dir: Path | str) -> SaasConfig:
    """Load and cross-check every ``saas_*.csv`` in ``config_dir``."""
    config_dir = Path(config_dir)
    raw = {name: read_config_csv(config_dir / name, spec) for name, spec in SPECS.items()}

    def typed(name: str, casts: dict) -> pl.DataFrame:
        return raw[name].with_columns([pl.col(c).cast(t) for c, t in casts.items()])

    products = typed("saas_products.csv", {"price_monthly_cents": pl.Int64, "price_annual_cents": pl.Int64})
    campaigns = typed("saas_campaigns.csv", {"campaign_id": pl.Int64, "weight": pl.Float64, "cpc_usd": pl.Float64, "ctr": pl.Float64})
    sources = typed("saas_traffic_sources.csv", {"weight": pl.Float64})
    forms = typed("saas_form_types.csv", {"weight": pl.Float64, "paid_conversion_rate": pl.Float64})
    paths = typed("saas_trial_paths.csv", {"weight": pl.Float64, "conversion_rate": pl.Float64, "avg_conversion_day": pl.Float64, "conversion_day_sd": pl.Float64})
    tiers = typed("saas_trial_tiers.csv", {"share": pl.Float64})
    engagement = typed("saas_engagement_tiers.csv", {"min_score": pl.Float64, "max_score": pl.Float64, "share": pl.Float64,
                                                      "form_probability": pl.Float64, "return_probability": pl.Float64})
    if "established_share" not in engagement.columns:  # optional: established visitors then share the new visitors' mix
        engagement = engagement.with_columns(established_share=pl.col("share"))
    engagement = engagement.with_columns(pl.col("established_share").cast(pl.Float64))
    templates = typed("saas_activity_templates.csv", {"step": pl.Int64, "day_offset": pl.Int64, "probability": pl.Float64})
    lists = typed("saas_purchased_lists.csv", {"weight": pl.Float64})

    checks: list[tuple[str, list[ConfigProblem]]] = [
        ("saas_traffic_sources.csv", _weights_sum_to_one(sources, "weight")),
        ("saas_form_types.csv", _weights_sum_to_one(forms, "weight")),
        ("saas_trial_paths.csv", _weights_sum_to_one(paths, "weight")),
        ("saas_trial_tiers.csv", _weights_sum_to_one(tiers, "share", "trial_path")),
        ("saas_engagement_tiers.csv", _weights_sum_to_one(engagement, "share") + _weights_sum_to_one(engagement, "established_share")),
        ("saas_purchased_lists.csv", _weights_sum_to_one(lists, "weight")),
        ("saas_campaigns.csv", _weights_sum_to_one(campaigns, "weight", "platform")),
    ]
    skus = set(products["sku"])
    checks.append(("saas_trial_tiers.csv", [
        ConfigProblem(line, "sku", f"{sku!r} is not a product in saas_products.csv") for line, sku in tiers.select("line", "sku").rows() if sku not in skus
    ]))
    checks.append(("saas_trial_paths.csv", [
        ConfigProblem(None, "trial_path", f"trial path {p!r} is missing; both {', '.join(TRIAL_PATHS)} are needed")
        for p in TRIAL_PATHS if p not in set(paths["trial_path"])
    ]))
    needed = {*REQUIRED_TEMPLATES, *(f for f in forms["form_type"] if f != "trial_signup")}
    checks.append(("saas_activity_templates.csv", [
        ConfigProblem(None, "template", f"no activities for {t!r}; every form type, both trial paths and purchased_lead need a template")
        for t in sorted(needed - set(templates["template"]))
    ]))
    checks.append(("saas_form_types.csv", [
        ConfigProblem(line, "paid_conversion_rate", "is empty; only trial_signup (which converts through its trial path) may leave it blank")
        for line, form, rate in forms.select("line", "form_type", "paid_conversion_rate").rows() if rate is None and form != "trial_signup"
    ] + ([] if "trial_signup" in set(forms["form_type"]) else [ConfigProblem(None, "form_type", "trial_signup is missing")])))
    for platform in ("google", "facebook"):
        targeted = set(campaigns.filter(pl.col("platform") == platform)["targeting"])
        if not targeted & {"new_users", "all_users"}:
            checks.append(("saas_campaigns.csv", [ConfigProblem(None, "targeting", f"{platform} has no campaign new users may see (new_users or all_users)")]))
    settings_frame = raw["saas_settings.csv"]
    settings: dict[str, float] = {}
    setting_problems = []
    for line, name, value in settings_frame.select("line", "setting", "value").rows():
        if name not in SETTINGS:
            setting_problems.append(ConfigProblem(line, "setting", f"unknown setting {name!r}; known: {', '.join(SETTINGS)}"))
            continue
        issue = SETTINGS[name](value)
        if issue:
            setting_problems.append(ConfigProblem(line, "value", issue))
        else:
            settings[name] = float(value)
    setting_problems += [ConfigProblem(None, "setting", f"{name} is missing; add a line for it") for name in SETTINGS if name not in settings and not any(p.line for p in setting_problems if name in p.problem)]
    checks.append(("saas_settings.csv", setting_problems))
    for name, problems in checks:
        if problems:
            raise ConfigError(config_dir / name, problems)
    return SaasConfig(products, campaigns, sources, forms, paths, tiers, engagement, templates, lists, settings)
