"""lib/shrink_guard.py: what counts as a sharp shrink, the message, the override, the config file."""

from pathlib import Path

import pytest

from funnel_assets.lib.config import ConfigError
from funnel_assets.lib.shrink_guard import (
    DEFAULT_RULES,
    ShrinkRule,
    accepted_sources,
    find_shrinks,
    judge,
    load_shrink_rules,
)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "config"
RULE = ShrinkRule("leads_sheet", 0.2, 10)


def test_a_day_that_had_rows_never_drops_to_none_and_big_days_never_lose_a_sharp_share():
    previous = {"2025-03-01": 3, "2025-03-02": 100, "2025-03-03": 100, "2025-03-04": 5, "2025-03-05": 0}
    new = {"2025-03-01": 0, "2025-03-02": 80, "2025-03-03": 79, "2025-03-04": 1, "2025-03-05": 0}
    shrinks = find_shrinks(previous, new, RULE)
    # 3 -> 0: to none; 100 -> 79: 21% > 20%; 100 -> 80 is 20%: allowed; 5 -> 1 is below min_previous_rows
    assert [(s.scope, s.previous, s.new) for s in shrinks] == [("2025-03-01", 3, 0), ("2025-03-03", 100, 79)]
    assert find_shrinks({"2025-03-02": 100}, {"2025-03-02": 130}, RULE) == ()
    assert find_shrinks({"2025-03-02": 100}, {}, RULE)[0].new == 0  # absent = no rows


def test_the_message_names_source_day_counts_and_the_override():
    verdict = judge("leads_sheet", RULE, {"2025-03-05": 58, "the whole export": 400}, {"2025-03-05": 0, "the whole export": 12})
    assert verdict.refused
    message = verdict.message
    assert message.startswith("leads_sheet: refused")
    assert "2025-03-05: 0 rows now, 58 in the warehouse (-100%)" in message
    assert "the whole export: 12 rows now, 400 in the warehouse (-97%)" in message
    assert "Nothing was written; the previous rows stay" in message
    assert "funnel/accept_shrink=leads_sheet" in message and "shrink_guard.csv" in message
    assert verdict.metadata()["sharp_shrinks"] == 2


@pytest.mark.parametrize("tag, accepted", [("leads_sheet", True), ("spend_sheet, leads_sheet", True), ("ALL", True), ("spend_sheet", False), (None, False)])
def test_the_run_tag_accepts_named_sources_only(tag, accepted):
    verdict = judge("leads_sheet", RULE, {"2025-03-05": 58}, {"2025-03-05": 0}, accept_tag=tag)
    assert verdict.refused is not accepted
    if accepted:
        assert "accepted by the run tag" in verdict.message


def test_a_misspelt_source_in_the_tag_is_an_error():
    with pytest.raises(ValueError, match="leads_shet.*no source"):
        accepted_sources("leads_shet")


def test_the_shipped_file_loads_and_matches_the_defaults():
    assert load_shrink_rules(CONFIG_DIR / "shrink_guard.csv") == DEFAULT_RULES


def test_a_broken_file_names_line_and_column(tmp_path):
    path = tmp_path / "shrink_guard.csv"
    path.write_text("source,max_drop_share,min_previous_rows\nleads_sheet,1.5,10\nspend,0.2,ten\n")
    with pytest.raises(ConfigError) as info:
        load_shrink_rules(path)
    text = str(info.value)
    assert "shrink_guard.csv" in text
    assert "line 2, column 'max_drop_share': 1.5 is above 1" in text
    assert "line 3, column 'source'" in text and "line 3, column 'min_previous_rows'" in text


def test_a_missing_file_or_line_means_the_defaults(tmp_path):
    assert load_shrink_rules(tmp_path / "absent.csv") == DEFAULT_RULES
    path = tmp_path / "shrink_guard.csv"
    path.write_text("source,max_drop_share,min_previous_rows\ncrm_sales,0.05,100\n")
    rules = load_shrink_rules(path)
    assert rules["crm_sales"] == ShrinkRule("crm_sales", 0.05, 100) and rules["leads_sheet"] == DEFAULT_RULES["leads_sheet"]
