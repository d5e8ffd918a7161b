from datetime import date, datetime, timezone

import pytest

from funnel_assets.lib.settings import DEFAULT_START_DATE, SettingsError, load_settings


def test_defaults():
    s = load_settings({})
    assert (s.timezone, s.start_date) == ("Asia/Kolkata", DEFAULT_START_DATE)


def test_configured_zone_and_start():
    s = load_settings({"FUNNEL_TIMEZONE": "Europe/London", "FUNNEL_START_DATE": "2024-06-01"})
    assert (s.timezone, s.start_date) == ("Europe/London", date(2024, 6, 1))
    # 23:30 UTC on 1 Jul is already 2 Jul in London (BST): yesterday is 1 Jul
    assert s.yesterday(datetime(2025, 7, 1, 23, 30, tzinfo=timezone.utc)) == date(2025, 7, 1)


@pytest.mark.parametrize("env, message", [
    ({"FUNNEL_TIMEZONE": "India/Mumbai"}, "not a time zone name"),
    ({"FUNNEL_START_DATE": "01/01/2025"}, "YYYY-MM-DD"),
])
def test_bad_settings_say_what_to_do(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env)
