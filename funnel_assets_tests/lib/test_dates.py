"""Tests for funnel_assets.lib.dates (day-first detection, local-time parsing)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from funnel_assets.lib.dates import decide_date_order, detect_day_first, local_date, parse_in_order, parse_local_datetimes

IST = "Asia/Kolkata"
UTC_DT = pl.Datetime("us", time_zone="UTC")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ist(*args: int) -> datetime:
    """A wall-clock time in India (UTC+05:30, no DST) as a UTC datetime."""
    return datetime(*args, tzinfo=UTC) - timedelta(hours=5, minutes=30)


def parse(values: list[str | None], *, day_first: bool = False, tz: str = IST) -> list:
    return parse_local_datetimes(
        pl.Series(values, dtype=pl.String), timezone=tz, day_first=day_first
    ).to_list()


# --------------------------------------------------------------------------------------------
# parse_local_datetimes
# --------------------------------------------------------------------------------------------

MONTH_FIRST_CASES = [
    ("Mar 28, 2020 08:07:27", ist(2020, 3, 28, 8, 7, 27)),
    ("Mar 28, 2020 8:07 AM", ist(2020, 3, 28, 8, 7)),
    ("Mar 28, 2020 8:07 PM", ist(2020, 3, 28, 20, 7)),
    ("March 28, 2020 08:07:27", ist(2020, 3, 28, 8, 7, 27)),
    ("Mar 8, 2020 12:05:00 AM", ist(2020, 3, 8, 0, 5)),
    ("28 Mar 2020 08:07", ist(2020, 3, 28, 8, 7)),
    ("28-Mar-2020 08:07", ist(2020, 3, 28, 8, 7)),
    ("08/09/2026 10:45:00 AM", ist(2026, 8, 9, 10, 45)),
    ("08/09/2026 10:45 PM", ist(2026, 8, 9, 22, 45)),
    ("08/09/2026 10:45:00 am", ist(2026, 8, 9, 10, 45)),
    ("08/09/2026 10:45 a.m.", ist(2026, 8, 9, 10, 45)),
    ("08/30/2026 20:00:00", ist(2026, 8, 30, 20, 0)),
    ("08/30/2026 20:00", ist(2026, 8, 30, 20, 0)),
    ("3/1/2025 10:20:30", ist(2025, 3, 1, 10, 20, 30)),
    ("3/1/2025 9:05", ist(2025, 3, 1, 9, 5)),
    ("08-30-2026 20:00", ist(2026, 8, 30, 20, 0)),
    ("08/30/26 20:00", ist(2026, 8, 30, 20, 0)),
    ("2025-03-01 10:20:30", ist(2025, 3, 1, 10, 20, 30)),
    ("2025-03-01T10:20:30", ist(2025, 3, 1, 10, 20, 30)),
    ("2025-03-01 10:20", ist(2025, 3, 1, 10, 20)),
    ("2025-03-01 10:20:30.250", ist(2025, 3, 1, 10, 20, 30, 250_000)),
    ("2025/03/01 10:20:30", ist(2025, 3, 1, 10, 20, 30)),
    # explicit offsets win over the configured zone
    ("2025-03-01T10:20:30Z", utc(2025, 3, 1, 10, 20, 30)),
    ("2025-03-01T10:20:30+00:00", utc(2025, 3, 1, 10, 20, 30)),
    ("2025-03-01 10:20:30+05:30", utc(2025, 3, 1, 4, 50, 30)),
    ("2025-03-01T10:20:30.5-04:00", utc(2025, 3, 1, 14, 20, 30, 500_000)),
    # date only: local midnight
    ("2025-03-01", ist(2025, 3, 1)),
    ("01/03/2025", ist(2025, 1, 3)),
    ("Mar 28, 2020", ist(2020, 3, 28)),
    # surrounding whitespace
    ("  Mar 28, 2020 08:07:27  ", ist(2020, 3, 28, 8, 7, 27)),
    ("08/09/2026\u00a010:45 AM", ist(2026, 8, 9, 10, 45)),
    # missing / junk
    ("--", None),
    ("", None),
    ("   ", None),
    (None, None),
    ("N/A", None),
    ("not a date 12", None),
    ("13/30/2026 10:00", None),  # impossible either way
    ("02/30/2026 10:00", None),  # February 30th
    ("10:45:00", None),  # a time without a date
]


def test_parse_month_first_formats() -> None:
    values = [v for v, _ in MONTH_FIRST_CASES]
    expected = [e for _, e in MONTH_FIRST_CASES]
    assert parse(values, day_first=False) == expected


@pytest.mark.parametrize(("value", "expected"), MONTH_FIRST_CASES)
def test_parse_each_value_alone(value: str | None, expected: datetime | None) -> None:
    # Same results when a value is alone (no help from format ranking on neighbours).
    assert parse([value], day_first=False) == [expected]


def test_parse_day_first() -> None:
    values = [
        "15/08/2022 01:27",
        "08/09/2026 10:45:00 AM",
        "01/03/2025",
        "1/3/2025 10:20:30",
        "15-08-2022 01:27",
        "15.08.2022 01:27",
        "15/08/22 01:27",
        "Mar 28, 2020 08:07:27",  # month names are unambiguous either way
        "2025-03-01 10:20:30",  # ISO is always year-month-day
        "08/30/2026 20:00:00",  # month-first only: null in a day-first column
    ]
    assert parse(values, day_first=True) == [
        ist(2022, 8, 15, 1, 27),
        ist(2026, 9, 8, 10, 45),
        ist(2025, 3, 1),
        ist(2025, 3, 1, 10, 20, 30),
        ist(2022, 8, 15, 1, 27),
        ist(2022, 8, 15, 1, 27),
        ist(2022, 8, 15, 1, 27),
        ist(2020, 3, 28, 8, 7, 27),
        ist(2025, 3, 1, 10, 20, 30),
        None,
    ]


def test_parse_returns_utc_series_same_length_and_name() -> None:
    series = pl.Series("Join Time", ["Mar 28, 2020 08:07:27", "--", None])
    out = parse_local_datetimes(series, timezone=IST, day_first=False)
    assert out.dtype == UTC_DT
    assert out.name == "Join Time"
    assert out.len() == 3
    assert out.null_count() == 2


@pytest.mark.parametrize(
    "values", [[], [None, None], ["--", "", " "]], ids=["empty", "all-null", "all-junk"]
)
def test_parse_degenerate_columns(values: list[str | None]) -> None:
    out = parse_local_datetimes(pl.Series(values, dtype=pl.String), timezone=IST, day_first=True)
    assert out.dtype == UTC_DT
    assert out.len() == len(values)
    assert out.null_count() == len(values)


def test_parse_mixed_formats_keep_row_order() -> None:
    values = ["2025-03-01T10:20:30Z", "Mar 28, 2020 08:07:27", "--", "08/30/2026 20:00:00"] * 100
    out = parse(values)
    assert out[:4] == [
        utc(2025, 3, 1, 10, 20, 30),
        ist(2020, 3, 28, 8, 7, 27),
        None,
        ist(2026, 8, 30, 20, 0),
    ]
    assert out == out[:4] * 100


def test_parse_other_timezones_and_dst() -> None:
    ny = "America/New_York"
    assert parse(["2025-07-01 12:00:00"], tz=ny) == [utc(2025, 7, 1, 16, 0)]  # EDT
    assert parse(["2025-01-15 12:00:00"], tz=ny) == [utc(2025, 1, 15, 17, 0)]  # EST
    # 01:30 happens twice on 2025-11-02: take the earliest (EDT) instant.
    assert parse(["2025-11-02 01:30:00"], tz=ny) == [utc(2025, 11, 2, 5, 30)]
    # 02:30 does not exist on 2025-03-09: null rather than a guess.
    assert parse(["2025-03-09 02:30:00"], tz=ny) == [None]
    # An explicit offset ignores the zone entirely.
    assert parse(["2025-03-09T02:30:00Z"], tz=ny) == [utc(2025, 3, 9, 2, 30)]


def test_parse_accepts_non_string_series() -> None:
    out = parse_local_datetimes(pl.Series([None], dtype=pl.Null), timezone=IST, day_first=False)
    assert out.to_list() == [None]


def test_parse_speed_smoke() -> None:
    """Generous bound (the target is >= 500K values/s for a single-format column): guards
    against per-row Python loops or a format list that parses every row many times."""
    n = 100_000
    series = pl.datetime_range(
        datetime(2025, 1, 1), datetime(2025, 1, 1) + timedelta(minutes=7 * (n - 1)), "7m",
        eager=True,
    ).dt.strftime("%m/%d/%Y %I:%M:%S %p")
    assert series.len() == n
    parse_local_datetimes(series.head(1000), timezone=IST, day_first=False)  # warm-up
    start = time.perf_counter()
    out = parse_local_datetimes(series, timezone=IST, day_first=False)
    elapsed = time.perf_counter() - start
    assert out.null_count() == 0
    assert elapsed < 2.0, f"{n} timestamps took {elapsed:.2f}s"


# --------------------------------------------------------------------------------------------
# detect_day_first
# --------------------------------------------------------------------------------------------


def test_detect_day_first_file() -> None:
    values = pl.Series(["01/08/2022 09:00", "15/08/2022 01:27", "--", None, "02/08/2022 10:00"])
    assert detect_day_first(values, default_day_first=False) is True


def test_detect_month_first_file() -> None:
    values = pl.Series(["08/09/2026 10:45:00 AM", "08/30/2026 20:00:00", ""])
    assert detect_day_first(values, default_day_first=True) is False


def test_detect_dash_and_dot_separators() -> None:
    assert detect_day_first(pl.Series(["25-12-2025 10:00"]), default_day_first=False) is True
    assert detect_day_first(pl.Series(["12.25.2025 10:00"]), default_day_first=True) is False


def test_detect_ambiguous_file_uses_hint() -> None:
    values = pl.Series(["08/09/2026 10:45:00 AM", "08/09/2026 11:02:13 AM", "--"])
    # Webinar started on 8 September 2026 -> the file is day-first.
    assert detect_day_first(values, default_day_first=False, hint=date(2026, 9, 8)) is True
    # Webinar started on 9 August 2026 -> month-first.
    assert detect_day_first(values, default_day_first=True, hint=date(2026, 8, 9)) is False
    # Hint matches neither reading -> configured default.
    assert detect_day_first(values, default_day_first=True, hint=date(2026, 1, 1)) is True
    assert detect_day_first(values, default_day_first=False, hint=date(2026, 1, 1)) is False


def test_detect_hint_matching_both_readings_falls_back_to_default() -> None:
    values = pl.Series(["05/05/2026 10:00", "05/05/2026 11:00"])
    # 05/05 matches the hint either way and both readings span the same days.
    assert detect_day_first(values, default_day_first=True, hint=date(2026, 5, 5)) is True
    assert detect_day_first(values, default_day_first=False, hint=date(2026, 5, 5)) is False


def test_detect_ambiguous_dates_take_the_compact_reading() -> None:
    # Registrations in the days before a session: 1-11 Feb month-first, 2 Jan .. 2 Nov day-first.
    month_first = pl.Series([f"02/{d:02d}/2025 07:00:00 PM" for d in range(1, 12)])
    assert detect_day_first(month_first, default_day_first=True) is False
    # 5 and 6 May day-first (one day apart), 5 May and 5 June month-first.
    assert detect_day_first(pl.Series(["05/05/2026 10:00", "06/05/2026 10:00"]), default_day_first=False) is True
    # Both readings span the same days (1 Jan .. 2 Feb either way): the default decides.
    close = pl.Series(["01/01/2026 10:00", "02/02/2026 10:00"])
    assert detect_day_first(close, default_day_first=False) is False
    assert detect_day_first(close, default_day_first=True) is True


def test_detect_ambiguous_without_hint_uses_default() -> None:
    values = pl.Series(["08/09/2026 10:45:00 AM", "01/02/2026 10:00"])
    assert detect_day_first(values, default_day_first=True) is True
    assert detect_day_first(values, default_day_first=False) is False


def test_detect_evidence_beats_hint() -> None:
    values = pl.Series(["08/09/2026 10:45", "13/09/2026 10:45"])
    assert detect_day_first(values, default_day_first=False, hint=date(2026, 8, 9)) is True


def test_detect_inconsistent_file_raises() -> None:
    values = pl.Series(["15/08/2022 01:27", "08/30/2026 20:00:00"])
    with pytest.raises(ValueError, match="Inconsistent"):
        detect_day_first(values, default_day_first=False)


def test_detect_ignores_non_numeric_dates() -> None:
    values = pl.Series(
        ["Mar 28, 2020 08:07:27", "2025-03-13 10:20:30", "--", None, "99/99/2020", "31/31/2020"]
    )
    assert detect_day_first(values, default_day_first=True) is True
    assert detect_day_first(values, default_day_first=False) is False
    assert detect_day_first(pl.Series([], dtype=pl.String), default_day_first=True) is True


def test_detect_then_parse_round_trip() -> None:
    values = pl.Series(["08/09/2026 10:45:00 AM", "15/09/2026 10:45:00 AM"])
    day_first = detect_day_first(values, default_day_first=False)
    assert day_first is True
    assert parse_local_datetimes(values, timezone=IST, day_first=day_first).to_list() == [
        ist(2026, 9, 8, 10, 45),
        ist(2026, 9, 15, 10, 45),
    ]


# --------------------------------------------------------------------------------------------
# local_date
# --------------------------------------------------------------------------------------------


def test_local_date_uses_team_zone() -> None:
    instants = pl.Series(
        [utc(2025, 3, 1, 18, 29), utc(2025, 3, 1, 18, 30), None], dtype=UTC_DT
    )
    assert local_date(instants, IST).to_list() == [date(2025, 3, 1), date(2025, 3, 2), None]
    assert local_date(instants, "America/New_York").to_list() == [
        date(2025, 3, 1),
        date(2025, 3, 1),
        None,
    ]
    assert local_date(instants, IST).dtype == pl.Date


def test_local_date_treats_naive_as_utc() -> None:
    naive = pl.Series([datetime(2025, 3, 1, 20, 0)])
    assert local_date(naive, IST).to_list() == [date(2025, 3, 2)]


@pytest.mark.parametrize(
    ("values", "decided_by", "day_first"),
    [
        (["25/11/2026 10:00", "01/12/2026 09:00"], "file", True),
        (["11/25/2026", "12/01/2026"], "file", False),
        (["01/12/2026", "05/05/2026", "2026-11-25"], "default", False),
        (["25/11/2026", "11/28/2026", "01/12/2026"], "mixed", False),
        ([None, "", "yesterday"], "default", False),
    ],
)
def test_decide_date_order_no_majority_vote(values, decided_by, day_first) -> None:
    order = decide_date_order(pl.Series(values, dtype=pl.String), default_day_first=False)
    assert (order.decided_by, order.day_first) == (decided_by, day_first)


def test_parse_in_order_mixed_file_reads_what_is_certain_and_flags_what_could_be_either() -> None:
    values = pl.Series(["25/11/2026 10:00", "11/28/2026", "01/12/2026 09:00", "12/12/2026", "2026-12-03", None])
    order = decide_date_order(values, default_day_first=True, rows=pl.Series(range(2, 8)))
    assert order.describe() == (
        "mixed: row 2: 25/11/2026 10:00 can only be day-first but row 3: 11/28/2026 can only be month-first; "
        "dates that could be either are not read"
    )
    parsed, either = parse_in_order(values, order, timezone=IST)
    assert local_date(parsed, IST).to_list() == [
        date(2026, 11, 25), date(2026, 11, 28), None, date(2026, 12, 12), date(2026, 12, 3), None
    ]
    assert either.to_list() == [None, None, "01 Dec 2026 or 12 Jan 2026", None, None, None]
