"""touchpoints and people (lib/identity): every rule on hand-built frames, then the synthetic truth."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from funnel_assets.lib.config import OTHER_SOURCES_FUNNEL, FunnelMapping
from funnel_assets.lib.identity import (
    PEOPLE_SCHEMA,
    TOUCHPOINT_SCHEMA,
    IdentityError,
    build_touchpoints,
    contact_quality,
    identity_stats,
    resolve_people,
    unknown_attendees,
)
from funnel_assets.lib.leads_sheet import LEADS_SCHEMA
from funnel_assets.lib.zoom_sessions import ROW_SCHEMA

UTC = timezone.utc
CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "config"
D = date(2025, 3, 10)
MAPPING = FunnelMapping.from_frame(
    pl.DataFrame({"source": ["acca_webinar_meta", "CMA_Bootcamp_Meta", "Referral"], "funnel": ["ACCA Webinar", "CMA Bootcamp", "Referrals"]})
)
CRM_SCHEMA = {
    "assignment_id": pl.String, "dump_row": pl.Int64, "source": pl.String, "assigned_at": pl.Datetime("us", "UTC"),
    "assigned_date": pl.Date, "phone_raw": pl.String, "phone_key": pl.String, "phone_status": pl.String,
    "employee": pl.String, "problem": pl.String,
}


def at(hour: int, minute: int = 0, day: date = D) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def leads(*rows: dict) -> pl.DataFrame:
    base = {c: None for c in LEADS_SCHEMA}
    out = []
    for i, r in enumerate(rows):
        row = {**base, "lead_id": f"lead{i}", "created_date": D, "email_valid": r.get("email") is not None,
               "is_duplicate": False, "sheet_row": i + 2, **r}
        row["source"] = row["source"] or row["utm_campaign"] or row["utm_source"]
        out.append(row)
    return pl.DataFrame(out, schema=LEADS_SCHEMA, orient="row") if out else pl.DataFrame(schema=LEADS_SCHEMA)


def zoom(*rows: dict) -> pl.DataFrame:
    base = {c: None for c in ROW_SCHEMA}
    out = []
    for i, r in enumerate(rows):
        out.append({**base, "session_date": D, "session_key": "111@2025-03-10", "kind": "webinar", "program": "ACCA",
                    "session_start": at(13), "person_key": r.get("phone_key") or r.get("email") or f"row:f:{i}",
                    "registered": False, "attended": False, **r})
    return pl.DataFrame(out, schema=ROW_SCHEMA, orient="row") if out else pl.DataFrame(schema=ROW_SCHEMA)


def crm(*rows: dict) -> pl.DataFrame:
    base = {c: None for c in CRM_SCHEMA}
    out = [{**base, "assignment_id": f"a{i}", "dump_row": i + 1, "assigned_date": D, **r} for i, r in enumerate(rows)]
    return pl.DataFrame(out, schema=CRM_SCHEMA, orient="row") if out else pl.DataFrame(schema=CRM_SCHEMA)


def touches(l=None, z=None, c=None) -> pl.DataFrame:
    return build_touchpoints(l if l is not None else leads(), z if z is not None else zoom(), c if c is not None else crm(), MAPPING)


def person(people: pl.DataFrame, key: str) -> dict:
    rows = people.filter(pl.col("person_key") == key).to_dicts()
    assert len(rows) == 1, f"{key}: {len(rows)} people"
    return rows[0]


P1, P2, P3 = "919876500001", "919876500002", "919876500003"


# ------------------------------------------------------------------------------ touchpoints


def test_every_event_becomes_one_touch_with_its_columns():
    tp = touches(
        leads(
            {"created_at": at(4), "phone_key": P1, "email": "a@x.in", "name": "Asha", "utm_source": "facebook",
             "utm_medium": "cpc", "utm_campaign": "acca_webinar_meta"},
            {"created_at": at(9), "phone_key": P1, "email": "a@x.in", "utm_campaign": "acca_webinar_meta", "is_duplicate": True},
        ),
        zoom(
            {"phone_key": P1, "email": "a@x.in", "registered": True, "registered_at": at(5), "source_name": "Referral",
             "approval_status": "approved", "attended": True, "first_join": at(13, 5)},
            {"phone_key": P2, "kind": "bootcamp", "program": "CMA", "registered": True, "registered_at": None, "attended": None},
            {"email": "walkin@x.in", "attended": True, "first_join": None},
        ),
        crm(
            {"source": " CMA_bootcamp_meta ", "assigned_at": at(15), "phone_key": P1, "employee": "Ravi"},
            {"source": "x", "assigned_at": None, "assigned_date": None, "phone_key": None, "problem": "no usable phone"},
        ),
    )
    assert tp.schema == pl.Schema(TOUCHPOINT_SCHEMA)
    kinds = tp.group_by("kind", "source_system").len().sort("kind")
    assert dict(zip(kinds["kind"], kinds["len"])) == {
        "lead_captured": 2, "webinar_registered": 1, "webinar_attended": 2, "bootcamp_registered": 1, "sales_assigned": 1,
    }
    lead = tp.filter(pl.col("kind") == "lead_captured").row(0, named=True)
    assert (lead["occurred_at"], lead["utm_source"], lead["utm_medium"], lead["campaign"], lead["funnel"], lead["source_row_id"]) == (
        at(4), "facebook", "cpc", "acca_webinar_meta", "ACCA Webinar", "lead0")
    reg = tp.filter(pl.col("kind") == "webinar_registered").row(0, named=True)
    assert (reg["occurred_at"], reg["source"], reg["funnel"], reg["program"], reg["approval_status"]) == (at(5), "Referral", "Referrals", "ACCA", "approved")
    # registration without a time: the session start
    boot = tp.filter(pl.col("kind") == "bootcamp_registered").row(0, named=True)
    assert (boot["occurred_at"], boot["source"], boot["funnel"], boot["program"]) == (at(13), None, None, "CMA")
    attended = tp.filter(pl.col("kind") == "webinar_attended").sort("occurred_at")
    assert attended["occurred_at"].to_list() == [at(13), at(13, 5)]  # no first join: the session start
    sale = tp.filter(pl.col("kind") == "sales_assigned").row(0, named=True)
    assert (sale["source"], sale["funnel"], sale["employee"], sale["source_row_id"], sale["day"]) == ("CMA_bootcamp_meta", "CMA Bootcamp", "Ravi", "a0", D)
    assert tp["touchpoint_id"].n_unique() == tp.height


def test_unknown_source_is_miscellaneous_and_invalid_email_is_dropped():
    tp = touches(leads({"created_at": at(4), "phone_key": P1, "email": "not-an-email", "email_valid": False, "utm_source": "google"}))
    row = tp.row(0, named=True)
    assert (row["funnel"], row["email"], row["source"]) == (OTHER_SOURCES_FUNNEL, None, "google")


def test_touchpoint_ids_are_stable_and_distinct_per_kind():
    z = zoom({"phone_key": P1, "registered": True, "registered_at": at(5), "attended": True, "first_join": at(13)})
    a, b = touches(z=z), touches(z=z)
    assert a["touchpoint_id"].to_list() == b["touchpoint_id"].to_list()
    assert a["touchpoint_id"].n_unique() == 2
    # another lead row (different lead_id) gets another id
    two = touches(leads({"created_at": at(1), "phone_key": P1}, {"created_at": at(1), "phone_key": P1}))
    assert two["touchpoint_id"].n_unique() == 2


def test_missing_input_column_is_a_clear_error():
    with pytest.raises(IdentityError, match=r"crm_assigned_leads: missing column\(s\) problem"):
        build_touchpoints(leads(), zoom(), crm().drop("problem"), MAPPING)


# ------------------------------------------------------------------------------ people


def test_phone_is_the_person_and_repeat_leads_count():
    tp = touches(
        leads({"created_at": at(4), "phone_key": P1, "email": "a@x.in", "name": "Asha", "utm_campaign": "acca_webinar_meta"},
              {"created_at": at(2, day=D + timedelta(days=1)), "phone_key": P1, "email": "a2@x.in", "utm_source": "google"}),
        c=crm({"source": "Referral", "assigned_at": at(20), "phone_key": P1, "employee": "Ravi"},
              {"source": "Referral", "assigned_at": at(21), "phone_key": P1, "employee": "Ravi"}),
    )
    people = resolve_people(tp)
    assert people.schema == pl.Schema(PEOPLE_SCHEMA)
    p = person(people, P1)
    assert (p["identity"], p["phone_key"], p["email"], p["name"]) == ("phone", P1, "a@x.in", "Asha")
    assert (p["leads"], p["assignments"], p["touches"]) == (2, 2, 4)
    assert (p["first_touch_at"], p["first_touch_kind"], p["first_touch_source"], p["first_touch_funnel"]) == (
        at(4), "lead_captured", "acca_webinar_meta", "ACCA Webinar")
    assert p["first_assigned_at"] == at(20)
    assert p["last_touch_at"] == at(2, day=D + timedelta(days=1))
    assert (p["registered_any"], p["attended_any"]) == (False, False)


def test_touch_without_phone_adopts_the_phone_of_its_email():
    tp = touches(
        leads({"created_at": at(4), "email": "a@x.in", "utm_source": "instagram"}),  # email only, earliest
        zoom({"phone_key": P1, "email": "a@x.in", "registered": True, "registered_at": at(6)}),
    )
    people = resolve_people(tp)
    assert people.height == 1
    p = person(people, P1)
    assert (p["identity"], p["first_touch_kind"], p["first_touch_source"], p["leads"], p["registrations"]) == (
        "phone", "lead_captured", "instagram", 1, 1)
    stats = identity_stats(tp, people)
    assert stats.touches_adopting_phone == 1
    assert stats.by_identity == {"phone": 1, "email": 0, "row": 0}


def test_email_with_several_phones_adopts_its_earliest_touchs_phone():
    tp = touches(
        leads({"created_at": at(8), "phone_key": P2, "email": "shared@x.in"},
              {"created_at": at(3), "phone_key": P1, "email": "shared@x.in"},
              {"created_at": at(9), "email": "shared@x.in"}),
        zoom({"email": "shared@x.in", "attended": True, "first_join": at(13)}),
    )
    people = resolve_people(tp)
    assert sorted(people["person_key"]) == [P1, P2]  # phones stay different people
    assert person(people, P1)["touches"] == 3
    assert person(people, P2)["touches"] == 1
    assert identity_stats(tp, people).emails_with_several_phones == 1


def test_email_only_and_neither():
    tp = touches(
        leads({"created_at": at(4), "email": "solo@x.in", "utm_source": "google"},
              {"created_at": at(5), "email": "solo@x.in"}),
        zoom({"name": "Guest", "registered": True, "registered_at": at(10), "attended": True, "first_join": at(13, 2)},
             {"name": "Other Guest", "attended": True, "first_join": at(13, 3)}),
    )
    people = resolve_people(tp)
    solo = person(people, "email:solo@x.in")
    assert (solo["identity"], solo["phone_key"], solo["email"], solo["leads"]) == ("email", None, "solo@x.in", 2)
    rows = people.filter(pl.col("identity") == "row").sort("first_touch_at")
    assert rows.height == 2
    # one Zoom row's registration and attendance are one person
    guest = rows.row(0, named=True)
    assert (guest["registrations"], guest["attendances"], guest["name"], guest["first_touch_kind"]) == (1, 1, "Guest", "webinar_registered")
    assert guest["person_key"] == "row:" + guest["first_touch_id"]
    assert identity_stats(tp, people).by_identity == {"phone": 0, "email": 1, "row": 2}


def test_ties_lead_before_registration_before_attendance_before_assignment_then_id():
    t = at(12)
    tp = touches(
        leads({"created_at": t, "phone_key": P1, "utm_source": "google"}),
        zoom({"phone_key": P1, "registered": True, "registered_at": t, "attended": True, "first_join": t, "source_name": "Referral"}),
        crm({"source": "Referral", "assigned_at": t, "phone_key": P1}),
    )
    assert person(resolve_people(tp), P1)["first_touch_kind"] == "lead_captured"
    no_lead = tp.filter(pl.col("kind") != "lead_captured")
    assert person(resolve_people(no_lead), P1)["first_touch_kind"] == "webinar_registered"
    only = no_lead.filter(pl.col("kind").is_in(["webinar_attended", "sales_assigned"]))
    assert person(resolve_people(only), P1)["first_touch_kind"] == "webinar_attended"
    # same time, same kind: the smaller touchpoint id wins
    two = touches(leads({"created_at": t, "phone_key": P1, "utm_source": "a"}, {"created_at": t, "phone_key": P1, "utm_source": "b"}))
    first = two.sort("touchpoint_id").row(0, named=True)
    assert person(resolve_people(two), P1)["first_touch_source"] == first["source"]


def test_earliest_wins_across_systems_and_input_order_does_not_matter():
    tp = touches(
        leads({"created_at": at(10), "phone_key": P3, "utm_campaign": "acca_webinar_meta"}),
        c=crm({"source": "Referral", "assigned_at": at(2), "phone_key": P3, "employee": "Meera"}),
    )
    p = person(resolve_people(tp.reverse()), P3)
    assert (p["first_touch_kind"], p["first_touch_source"], p["first_touch_funnel"], p["first_touch_system"]) == (
        "sales_assigned", "Referral", "Referrals", "crm")
    assert resolve_people(tp).equals(resolve_people(tp.sample(fraction=1.0, shuffle=True, seed=3)))


def test_empty_inputs():
    tp = touches()
    assert tp.height == 0 and tp.schema == pl.Schema(TOUCHPOINT_SCHEMA)
    people = resolve_people(tp)
    assert people.height == 0 and people.schema == pl.Schema(PEOPLE_SCHEMA)


def test_unknown_attendees():
    tp = touches(z=zoom(
        {"phone_key": P1, "attended": True, "registered": True, "registered_at": at(5)},
        {"email": "known@x.in", "attended": True},
        {"phone_key": P3, "attended": True},
        {"name": "anonymous", "attended": True},
    ))
    assert unknown_attendees(tp, pl.Series([P1, None]), pl.Series(["known@x.in"])) == (3, 1)
    assert unknown_attendees(tp, pl.Series([], dtype=pl.String), pl.Series([], dtype=pl.String)) == (3, 3)


def test_resolve_people_scales_without_row_loops():
    n = 60_000
    phones = [f"9198{i:08d}" for i in range(n)]
    big = pl.DataFrame({
        "touchpoint_id": [f"t{i:07d}" for i in range(3 * n)],
        "day": [D] * (3 * n),
        "occurred_at": [at(0) + timedelta(seconds=i) for i in range(3 * n)],
        "kind": ["lead_captured"] * n + ["webinar_registered"] * n + ["sales_assigned"] * n,
        "source_system": ["leads_sheet"] * n + ["zoom"] * n + ["crm"] * n,
        "phone_key": phones + [None] * n + phones,
        "email": [f"p{i}@x.in" for i in range(n)] * 2 + [None] * n,
        "source": ["s"] * (3 * n),
        "source_row_id": [f"r{i}" for i in range(3 * n)],
    }).with_columns([pl.lit(None, dtype=t).alias(c) for c, t in TOUCHPOINT_SCHEMA.items() if c not in (
        "touchpoint_id", "day", "occurred_at", "kind", "source_system", "phone_key", "email", "source", "source_row_id")]
    ).select(list(TOUCHPOINT_SCHEMA))
    people = resolve_people(big)
    assert people.height == n
    assert people["touches"].to_list() == [3] * n
    assert (people["first_touch_kind"] == "lead_captured").all()


def test_contact_quality_sets_meeting_walk_ins_apart():
    z = zoom(
        {"phone_key": P1, "attended": True, "registered": True, "registered_at": at(5)},
        {"name": "walk-in", "attended": True},
        {"name": "meeting guest", "attended": True, "session_key": "222@2025-03-10"},
        {"name": "meeting guest 2", "attended": True, "session_key": "222@2025-03-10"},
    )
    q = contact_quality(touches(z=z), pl.Series(["222@2025-03-10"]))
    assert (q.touches, q.contactless, q.meeting_contactless) == (3, 1, 2)
    assert q.share == pytest.approx(1 / 3)
    assert contact_quality(touches(), pl.Series([], dtype=pl.String)).share == 0.0


# ------------------------------------------------------------------------------ synthetic truth

TRUTH_START, TRUTH_DAYS, TRUTH_SCALE, TZ = date(2025, 3, 3), 14, 0.3, "Asia/Kolkata"


def synthetic_inputs():
    """The sources' rows for a fortnight of the synthetic world, cleaned by the real code: the
    sheet export through lib/leads_sheet, the accepted Zoom files through the Zoom parser and
    lib/zoom_sessions, and the true assignments in crm_assigned_leads' shape."""
    from funnel_assets.lib.config import load_funnel_mapping
    from funnel_assets.lib.leads_sheet import clean_leads, read_leads_sheet
    from funnel_assets.lib.synthetic.edtech import DEFAULT_CONFIG_DIR, leads_sheet_csv, load_edtech_config, simulate_edtech_days
    from funnel_assets.lib.zoom_metadata import load_zoom_config
    from funnel_assets.lib.zoom_reports import parse_report
    from funnel_assets.lib.zoom_sessions import build_zoom_sessions

    config = load_edtech_config(DEFAULT_CONFIG_DIR)
    end = TRUTH_START + timedelta(days=TRUTH_DAYS)
    days = simulate_edtech_days(config, seed=7, start=TRUTH_START, end=end, scale=TRUTH_SCALE, timezone=TZ)
    mapping = load_funnel_mapping(CONFIG_DIR / "funnel_mapping.csv")
    sheet = leads_sheet_csv(config, seed=7, start=TRUTH_START, end=end, scale=TRUTH_SCALE, timezone=TZ)
    raw, _ = read_leads_sheet(sheet.encode(), location="synthetic sheet")
    lead_rows = clean_leads(raw, mapping, timezone=TZ).leads
    zoom_config = load_zoom_config(CONFIG_DIR)
    reports = []
    for d in days:
        outcome = dict(d.truth["zoom_files"].select("file_name", "expected_outcome").iter_rows())
        reports += [
            parse_report(content, source=name, timezone=TZ, default_day_first=zoom_config.settings.default_day_first)
            for name, content in d.zoom_files
            if outcome[name] == "accept"
        ]
    zoom_rows = build_zoom_sessions(reports, zoom_config).rows
    truth = {k: pl.concat([d.truth[k] for d in days]) for k in ("people", "leads", "assignments")}
    assignments = truth["assignments"].with_columns(
        assignment_id=pl.format("a{}", pl.int_range(pl.len())),
        dump_row=pl.int_range(pl.len(), dtype=pl.Int64) + 1,
        assigned_date=pl.col("assigned_at").dt.convert_time_zone(TZ).dt.date(),
        phone_raw=pl.col("phone_key"),
        phone_status=pl.lit("valid"),
        problem=pl.lit(None, dtype=pl.String),
    ).select(list(CRM_SCHEMA))
    return lead_rows, zoom_rows, assignments, mapping, truth


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_inputs()


def test_first_touch_matches_the_synthetic_truth(synthetic):
    from funnel_assets.lib.phones import normalize_phones

    lead_rows, zoom_rows, assignments, mapping, truth = synthetic
    people = resolve_people(build_touchpoints(lead_rows, zoom_rows, assignments, mapping))
    assert people["person_key"].n_unique() == people.height

    # Sheet leads whose first sheet row is usable (a readable date and a phone that normalizes to
    # their key), and CRM-only people: first touch time and source are known exactly.
    first_rows = truth["leads"].filter(~pl.col("is_repeat")).unique("person_id", keep="first")
    first_rows = first_rows.with_columns(key=normalize_phones(first_rows["phone"])["phone_key"])
    sheet = truth["people"].filter(pl.col("kind") == "sheet_lead").join(first_rows, on="person_id", suffix="_row")
    usable = sheet.filter(~pl.col("bad_date") & (pl.col("key") == pl.col("phone_key")))
    expected = pl.concat([
        usable.select("phone_key", "first_touch_at", "first_touch_source", "first_touch_funnel", kind=pl.lit("lead_captured")),
        truth["people"].filter(pl.col("kind") == "crm_only").select(
            "phone_key", "first_touch_at", "first_touch_source", "first_touch_funnel", kind=pl.lit("sales_assigned")),
    ])
    assert expected.height > 900 and (expected["kind"] == "sales_assigned").sum() > 20
    got = expected.join(people, left_on="phone_key", right_on="person_key", how="left", suffix="_got")
    wrong = got.filter(
        pl.col("first_touch_at_got").is_null()
        | (pl.col("first_touch_at") != pl.col("first_touch_at_got"))
        | pl.col("first_touch_source").str.to_lowercase().ne_missing(pl.col("first_touch_source_got").str.to_lowercase())
        | (pl.col("kind") != pl.col("first_touch_kind"))
    )
    assert wrong.height == 0, wrong.head(5)
    # First rows without a usable phone but with an email: the person is found through the email,
    # under the phone another touch gives that email (adopted), else as an email person.
    from funnel_assets.lib.text import email_is_valid_expr, normalize_email_expr

    email_first = sheet.filter(~pl.col("bad_date") & pl.col("key").is_null()).with_columns(
        row_email=normalize_email_expr(pl.col("email_row"))
    ).filter(email_is_valid_expr(pl.col("row_email")))
    assert email_first.height >= 10
    # (an email person when the email is never given together with a phone; the person may then
    # also exist under their phone, from later touches that carry it)
    by_email = email_first.with_columns(key=pl.lit("email:") + pl.col("row_email")).join(
        people, left_on="key", right_on="person_key", how="inner")
    by_phone = email_first.join(by_email, on="person_id", how="anti").join(
        people, left_on="phone_key", right_on="person_key", how="inner")
    assert by_phone.height >= 3 and by_email.height >= 3
    assert by_phone.height + by_email.height == email_first.height
    for found in (by_phone, by_email):
        assert (found["first_touch_at"] == found["first_touch_at_right"]).all()
        assert (found["first_touch_kind"] == "lead_captured").all()

    # the lead's funnel is the truth's funnel whenever the source is mapped
    mapped = got.filter(pl.col("first_touch_source").is_not_null() & (pl.col("first_touch_funnel_got") != OTHER_SOURCES_FUNNEL))
    assert mapped.height > 500
    assert (mapped["first_touch_funnel"] == mapped["first_touch_funnel_got"]).all()


def test_synthetic_contact_quality_and_attendees(synthetic):
    lead_rows, zoom_rows, assignments, mapping, _ = synthetic
    tp = build_touchpoints(lead_rows, zoom_rows, assignments, mapping)
    meetings = zoom_rows.filter(pl.col("run_as") == "meeting")["session_key"]
    quality = contact_quality(tp, meetings)
    assert quality.share <= 0.02
    attendees, unknown = unknown_attendees(tp, pl.concat([lead_rows["phone_key"], assignments["phone_key"]]), lead_rows["email"])
    assert attendees > 100
    # attendees who arrived before the fortnight have no lead in it; everyone else is known
    assert unknown / attendees < 0.5
