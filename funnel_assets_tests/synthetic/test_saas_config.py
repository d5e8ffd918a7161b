"""The SaaS world's editable configuration loads, and mistakes are named precisely."""

import shutil
from pathlib import Path

import pytest

from funnel_assets.lib.config import ConfigError
from funnel_assets.lib.synthetic.saas_config import load_saas_config

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "config" / "synthetic"


@pytest.fixture
def config_dir(tmp_path) -> Path:
    target = tmp_path / "synthetic"
    shutil.copytree(SHIPPED, target)
    return target


def test_shipped_configuration_matches_seed_000():
    c = load_saas_config(SHIPPED)
    assert set(c.products["sku"]) == {"STARTER", "PRO", "BUSINESS", "ENTERPRISE"}
    paths = {r["trial_path"]: r for r in c.trial_paths.iter_rows(named=True)}
    assert (paths["self_service"]["weight"], paths["self_service"]["conversion_rate"]) == (0.65, 0.28)
    assert (paths["sales_assisted"]["weight"], paths["sales_assisted"]["conversion_rate"]) == (0.35, 0.45)
    forms = dict(c.form_types.select("form_type", "weight").rows())
    assert forms["trial_signup"] == 0.35 and forms["demo_request"] == 0.25
    assert set(c.campaigns["targeting"]) == {"new_users", "returning_users", "all_users"}
    # seed 001's per-tier form and return probabilities; new visitors mostly bounce, established ones are engaged
    tiers = {r["tier"]: r for r in c.engagement_tiers.iter_rows(named=True)}
    assert [tiers[t]["form_probability"] for t in tiers] == [0.0, 0.05, 0.20, 0.45, 0.70]
    assert (tiers["bounce"]["return_probability"], tiers["high_engagement"]["return_probability"]) == (0.08, 0.65)
    assert tiers["bounce"]["share"] > 0.8 and abs(c.engagement_tiers["established_share"].sum() - 1) < 1e-9
    steps = c.activity_templates.group_by("template").len()
    assert dict(steps.rows())["trial_sales_assisted"] == 12 and dict(steps.rows())["demo_request"] == 8
    # the average monthly deal per path lands on seed 000's $59 / $149
    prices = dict(c.products.select("sku", "price_monthly_cents").rows())
    for path, target in (("self_service", 59), ("sales_assisted", 149)):
        mix = c.trial_tiers.filter(trial_path=path)
        avg = sum(share * prices[sku] for sku, share in mix.select("sku", "share").rows()) / 100
        assert abs(avg - target) < 5, (path, avg)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    "file, old, new, message",
    [
        ("saas_trial_tiers.csv", "self_service,STARTER,0.50", "self_service,STARTER,0.60", "add up to 1.1000"),
        ("saas_trial_tiers.csv", "sales_assisted,PRO,0.35", "sales_assisted,PREMIUM,0.35", "'PREMIUM' is not a product"),
        ("saas_campaigns.csv", "new_users,0.30", "everyone,0.30", "'everyone' is not one of"),
        ("saas_settings.csv", "trial_days,14", "trial_days,fourteen", "'fourteen' is not a number"),
        ("saas_activity_templates.csv", "newsletter_signup,1,email,Welcome to the newsletter,0,1.0\n", "", "no activities for 'newsletter_signup'"),
        ("saas_form_types.csv", "Demo Request Form,0.07", "Demo Request Form,", "only trial_signup"),
        ("saas_engagement_tiers.csv", "bounce,0,10,0.860,0.30", "bounce,0,10,0.860,0.40", "established_share values add up to 1.1000"),
    ],
)
def test_mistakes_name_file_and_problem(config_dir, file, old, new, message):
    _edit(config_dir / file, old, new)
    with pytest.raises(ConfigError) as err:
        load_saas_config(config_dir)
    assert file in str(err.value) and message in str(err.value)
