"""Bootcamp attendance per person: Day 1, Day 2 or Both."""

from datetime import date

import polars as pl

from funnel_assets.lib.bootcamps import bootcamp_attendance
from funnel_assets.lib.zoom_metadata import bootcamp_days_label

SAT, SUN, NEXT_SAT = date(2026, 9, 5), date(2026, 9, 6), date(2026, 9, 12)


def rows(data):
    """data: (session_date, kind, bootcamp_day, program, person_key, registered, attended, minutes)."""
    return pl.DataFrame(
        [
            {"session_date": d, "session_key": f"88001122334@{d}", "kind": kind, "bootcamp_day": day, "program": prog,
             "person_key": p, "phone_key": p.removeprefix("p:"), "email": None, "name": p.title(),
             "registered": reg, "attended": att, "minutes": m}
            for d, kind, day, prog, p, reg, att, m in data
        ]
    )


def test_days_attended_per_person_per_bootcamp():
    data = rows([
        (SAT, "bootcamp", "Day 1", "CMA", "p:911", True, True, 300.0),
        (SUN, "bootcamp", "Day 2", "CMA", "p:911", True, True, 280.0),   # both days
        (SAT, "bootcamp", "Day 1", "CMA", "p:912", True, True, 100.0),   # Day 1 only
        (SUN, "bootcamp", "Day 2", "CMA", "p:912", True, False, 0.0),
        (SUN, "bootcamp", "Day 2", "CMA", "p:913", False, True, 50.0),   # a Day 2 walk-in
        (SAT, "bootcamp", "Day 1", "CMA", "p:914", True, False, 0.0),    # registered, never came
        (NEXT_SAT, "bootcamp", "Day 1", "CMA", "p:911", True, True, 10.0),  # the next bootcamp
        (SAT, "webinar", None, "ACCA", "p:915", True, True, 60.0),       # not a bootcamp
    ])
    out = bootcamp_attendance(data)
    got = {(r["bootcamp_start"], r["person"]): (r["registered_days"], r["attended_days"], r["minutes"]) for r in out.iter_rows(named=True)}
    assert got == {
        (SAT, "911"): ("Both", "Both", 580.0),
        (SAT, "912"): ("Both", "Day 1", 100.0),
        (SAT, "913"): (None, "Day 2", 50.0),
        (SAT, "914"): ("Day 1", None, 0.0),
        (NEXT_SAT, "911"): ("Day 1", "Day 1", 10.0),
    }
    # the same rule as the scalar label used elsewhere
    assert bootcamp_days_label(["Day 1", "Day 2"]) == got[(SAT, "911")][1]


def test_a_person_is_the_same_on_both_days_by_phone_even_with_other_session_keys():
    data = rows([
        (SAT, "bootcamp", "Day 1", "CMA", "p:911", True, True, 300.0),
        (SUN, "bootcamp", "Day 2", "CMA", "e:asha@example.com", True, True, 280.0),  # Day 2's meeting: email only ...
    ]).with_columns(phone_key=pl.lit("911"))  # ... whose phone was adopted through the email
    out = bootcamp_attendance(data)
    assert out["attended_days"].to_list() == ["Both"] and out["person"].to_list() == ["911"]


def test_no_bootcamp_rows_give_an_empty_table_with_its_columns():
    out = bootcamp_attendance(rows([(SAT, "webinar", None, "ACCA", "p:915", True, True, 60.0)]))
    assert out.is_empty() and "attended_days" in out.columns
