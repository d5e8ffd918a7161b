"""Project-wide settings that shape the asset graph itself (time zone, first partition).

They are read once, when Dagster loads the definitions, from environment variables (the
``./run`` script writes defaults to ``.env``, which Dagster's CLI loads). Everything a run
needs at run time (URLs, paths, secrets) is a resource field instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TIMEZONE = "Asia/Kolkata"
DEFAULT_START_DATE = date(2025, 1, 1)


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    timezone: str = DEFAULT_TIMEZONE
    start_date: date = DEFAULT_START_DATE

    def yesterday(self, now: datetime | None = None) -> date:
        """The D-1 date in the team's time zone: the last complete day."""
        now = now or datetime.now(ZoneInfo(self.timezone))
        return now.astimezone(ZoneInfo(self.timezone)).date() - timedelta(days=1)


def validate_timezone(name: str, *, variable: str = "FUNNEL_TIMEZONE") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"{variable}={name!r} is not a time zone name; use an IANA name such as Asia/Kolkata or Europe/London") from exc
    return name


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``FUNNEL_TIMEZONE`` and ``FUNNEL_START_DATE`` (YYYY-MM-DD), with defaults."""
    env = os.environ if env is None else env
    tz = validate_timezone((env.get("FUNNEL_TIMEZONE") or DEFAULT_TIMEZONE).strip())
    raw_start = (env.get("FUNNEL_START_DATE") or "").strip()
    try:
        start = date.fromisoformat(raw_start) if raw_start else DEFAULT_START_DATE
    except ValueError as exc:
        raise SettingsError(f"FUNNEL_START_DATE={raw_start!r} is not a date; write it as YYYY-MM-DD") from exc
    return Settings(timezone=tz, start_date=start)
