"""The whole pipeline against the synthetic world's ground truth (issue 5, item 9).

Forty-five days of the ed-tech world (spanning the March/April month boundary) are written where
production reads them: the leads sheet, the CRM's two full dumps, the spend sheet and the Zoom
downloads (filed by two ticks of the drop-folder sensor, as the daemon would). Then
``nightly_funnel_job`` runs over the window in ranges of at most 31 days through a real Dagster
instance (the project's dagster.yaml), with every setting read from the environment as in
production. The marts are then compared with the world's truth EXACTLY (no tolerance beyond the
paisa): attribution, attended flags, FINAL FUNNEL, spend sums and the funnel's daily counts; on a
SQLite warehouse and on PostgreSQL.

The truth side is computed from the world's truth frames and configuration only (never from the
pipeline's code): the rules it applies are the seed's, as the docstrings of
``funnel_assets.lib.attribution`` and ``funnel_assets.lib.funnel_daily`` state them.

Both the CRM dumps and the world start at the window's first day, so the attribution lookback
(3 months) is bounded by the window start on both sides.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
import pytest

from funnel_assets.definitions import defs
from funnel_assets.defs.zoom.sensors import tick_like_the_daemon
from funnel_assets.lib.config import OTHER_SOURCES_FUNNEL
from funnel_assets.lib.settings import PROJECT_ROOT
from funnel_assets.lib.synthetic import edtech
from funnel_assets.lib.synthetic.edtech import DEFAULT_CONFIG_DIR, load_edtech_config, simulate_edtech_days
from funnel_assets.lib.synthetic.edtech_exports import sale_id as world_sale_id
from funnel_assets.lib.synthetic.edtech_world import sessions_held_on
from funnel_assets.lib.synthetic.edtech_zoom import session_presence
from funnel_assets.lib.synthetic.files import save_zoom_files, write_edtech_exports
from funnel_assets.lib.warehouse import Warehouse

SEED, SCALE, TZ_NAME = 11, 0.3, "Asia/Kolkata"
TZ = ZoneInfo(TZ_NAME)
START, END = date(2025, 3, 8), date(2025, 4, 22)  # [START, END): 45 days, two months
AS_OF = END - timedelta(days=1)
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
MAX_DAYS_PER_RUN = 31
CONFIG_DIR = PROJECT_ROOT / "data" / "config"
AUDIENCE = ("attendee", "walk_in")  # hosts and panelists are staff, not leads
PLACEHOLDER_PHONES = {"9999999999", "1234567890"}


def nightly_funnel_job() -> dg.JobDefinition:
    """The production job, resolved from the code location (module level, so runs can reconstruct it)."""
    return defs().resolve_job_def("nightly_funnel_job")


# ============================================================================= the world


@pytest.fixture(scope="module")
def world():
    config = load_edtech_config(DEFAULT_CONFIG_DIR)
    days = simulate_edtech_days(config, seed=SEED, start=START, end=END, scale=SCALE, timezone=TZ_NAME)
    # people who arrived just before the window: a repeat submission in the window may be theirs
    before = simulate_edtech_days(config, seed=SEED, start=START - timedelta(days=7), end=START, scale=SCALE, timezone=TZ_NAME)
    people = pl.concat([d.truth["people"] for d in [*before, *days]], how="diagonal_relaxed")
    return config, days, people, meeting_emails_shown(config, days)


def meeting_emails_shown(config, days) -> pl.DataFrame:
    """(session_key, person_id) of the meeting participants whose report row shows an email: a session
    run as a Zoom meeting has no registration, and its participant report shows a display name and,
    for signed-in users (and a quarter of guests), an email; never a phone."""
    rows = []
    for day in days:
        for session in sessions_held_on(config, SEED, day.day, TZ):
            if session.run_as == "meeting":
                presence = session_presence(config, SEED, session, SCALE, TZ_NAME)
                rows += [(session.key, p.person_id) for p in [*presence.registrants, *presence.walk_ins] if p.meeting_email]
    return pl.DataFrame(rows, schema={"session_key": pl.String, "person_id": pl.String}, orient="row")


def ranges(start: date, end: date) -> list[tuple[date, date]]:
    out, day = [], start
    while day < end:
        last = min(day + timedelta(days=MAX_DAYS_PER_RUN), end) - timedelta(days=1)
        out.append((day, last))
        day = last + timedelta(days=1)
    return out


def setup_environment(monkeypatch, tmp_path: Path, warehouse_url: str) -> dict[str, Path]:
    """Every setting of deploy/defaults.env, with the files of this test's own folder."""
    for line in (PROJECT_ROOT / "deploy" / "defaults.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            monkeypatch.setenv(name.strip(), value.strip())
    paths = {
        "FUNNEL_LEADS_SHEET": tmp_path / "sheets" / "leads_sheet.csv",
        "FUNNEL_CRM_ASSIGNED_LEADS": tmp_path / "crm" / "assigned_leads.csv",
        "FUNNEL_CRM_SALES": tmp_path / "crm" / "sales.csv",
        "FUNNEL_SPEND_SHEET": tmp_path / "sheets" / "spend_sheet.csv",
        "FUNNEL_ZOOM_INBOX": tmp_path / "inbox" / "zoom",
        "FUNNEL_EXPORTS_DIR": tmp_path / "exports",
        "DAGSTER_HOME": tmp_path / "dagster_home",
    }
    for name, path in paths.items():
        monkeypatch.setenv(name, str(path))
    monkeypatch.setenv("FUNNEL_CONFIG_DIR", str(CONFIG_DIR))
    monkeypatch.setenv("FUNNEL_TIMEZONE", TZ_NAME)
    monkeypatch.setenv("FUNNEL_CRM_BASE_URL", "")  # the dumps are files here
    monkeypatch.setenv("FUNNEL_WAREHOUSE_URL", warehouse_url)
    paths["FUNNEL_ZOOM_INBOX"].mkdir(parents=True)
    paths["DAGSTER_HOME"].mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", paths["DAGSTER_HOME"] / "dagster.yaml")
    return paths


def file_zoom_downloads(instance, inbox: Path, days) -> tuple[int, set[str]]:
    """Drop every Zoom download, then two sensor ticks (the cursor carried) file them as in production.
    The number of runs requested, and the names the world's junk files were saved under."""
    junk = set()
    for day in days:
        saved = save_zoom_files(inbox, day.zoom_files)
        outcomes = day.truth["zoom_files"]["expected_outcome"].to_list()
        junk.update(path.name for (_, path, _), outcome in zip(saved, outcomes) if outcome != "accept")
    stamp = time.time() - 3600  # fully written an hour ago
    for path in inbox.iterdir():
        os.utime(path, (stamp, stamp))
    return len(tick_like_the_daemon(instance)), junk


def junk_only(evaluation, junk: set[str]) -> bool:
    """A failed zoom_sessions.all_files_loaded whose rejected files are all the world's junk (a file cut
    off mid-row looks fine from its first bytes: only the run's full read rejects it, and says so)."""
    if evaluation.check_name != "all_files_loaded":
        return False
    listed = re.findall(r"^- (.+?) \(\w+\): ", evaluation.metadata["rejected"].value, flags=re.M)
    return bool(listed) and set(listed) <= junk


# ============================================================================= truth


def local_date(column: str) -> pl.Expr:
    return pl.col(column).dt.convert_time_zone(TZ_NAME).dt.date()


def naive_utc(column: str) -> pl.Expr:
    """SQLite gives timestamps back without a time zone, PostgreSQL with one: compare naive UTC."""
    return pl.col(column).cast(pl.Datetime("us", "UTC")).dt.replace_time_zone(None)


def add_months(month: date, n: int) -> date:
    y, m = divmod(month.month - 1 + n, 12)
    return date(month.year + y, m + 1, 1)


def read_manual_mapping() -> list[dict]:
    with open(CONFIG_DIR / "manual_mapping.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def manual_funnel(rows: list[dict], source: str | None, month: date) -> str | None:
    """manual_mapping.csv's funnel for a source in a month: the month's own rows first, then the rows
    without a month; source compared trimmed and case-insensitively (like the seed's VLOOKUP)."""
    key = (source or "").strip().lower()
    for wanted in (month.strftime("%Y-%m"), ""):
        for row in rows:
            if (row["month"] or "").strip() == wanted and row["source"].strip().lower() == key:
                return row["funnel"].strip()
    return None


def lookback_months() -> int:
    with open(CONFIG_DIR / "attribution_settings.csv", newline="", encoding="utf-8") as handle:
        return int(next(r["value"] for r in csv.DictReader(handle) if r["setting"] == "lookback_months"))


def usable_sheet_phone() -> pl.Expr:
    """A sheet phone the leads cleaner can read: not blank, not a placeholder, not in Excel's scientific
    notation (lib/phones flags ``9.87654321E9`` corrupt: digits may be lost, never guessed)."""
    phone = pl.col("phone").str.strip_chars()
    return (phone != "") & ~phone.is_in(list(PLACEHOLDER_PHONES)) & ~phone.str.contains("(?i)e")


def attended_rows(truth: dict[str, pl.DataFrame], shown: pl.DataFrame) -> pl.DataFrame:
    """The truth's attended audience rows that the Zoom downloads tie to the person's phone.

    The seed looks attendance up by phone. A webinar's registration report shows each registrant's
    phone; a row without one (a walk-in, a session run as a meeting, whose report has names and
    emails only) is tied to a phone through its email, which works when the person gave that email
    with a readable phone somewhere (a leads-sheet row, a webinar registration): the identity rule
    of ``people``. A meeting guest who showed no email, or whose email never came with a phone, has
    attended in the world but no export says who they are: not in the truth a pipeline can match
    (the test asserts these are few, below)."""
    att = truth["zoom_attendance"].filter(pl.col("role").is_in(AUDIENCE) & pl.col("phone_key").is_not_null())
    meetings = truth["zoom_sessions"].filter(pl.col("run_as") == "meeting")["session_key"]
    registered_phone = att.filter(pl.col("registered") & ~pl.col("session_key").is_in(meetings.implode()))
    sheet_pairs = truth["leads"].filter(usable_sheet_phone() & (pl.col("email").str.strip_chars() != ""))
    linked = pl.concat([registered_phone["person_id"], sheet_pairs["person_id"]]).unique()
    in_meeting = pl.col("session_key").is_in(meetings.implode())
    email_shown = ~in_meeting | pl.struct("session_key", "person_id").is_in(shown.to_struct().implode())
    visible = (pl.col("registered") & ~in_meeting) | (email_shown & pl.col("person_id").is_in(linked.implode()))
    return att.filter(pl.col("attended")).with_columns(visible=visible)


def truth_attributed(truth: dict[str, pl.DataFrame], shown: pl.DataFrame) -> pl.DataFrame:
    """Seed 002's M0 tab from the truth: per month, every phone assigned in it once, its earliest
    assignment over [max(month - lookback, window start), month end], the rep of its first assignment in
    the month, and whether it attended a Zoom session (audience rows) in that same span."""
    assignments = truth["assignments"].with_row_index("order").with_columns(day=local_date("assigned_at"))
    attendance = attended_rows(truth, shown).filter("visible")
    manual, back = read_manual_mapping(), lookback_months()
    frames = []
    for month in sorted(set(assignments["day"].dt.truncate("1mo").to_list())):
        window_start, next_month = max(add_months(month, -back), START), add_months(month, 1)
        window = assignments.filter((pl.col("day") >= window_start) & (pl.col("day") < next_month)).sort("assigned_at", "order")
        in_month = window.filter(pl.col("day") >= month)
        first = window.group_by("phone_key", maintain_order=True).first()
        first_in_month = in_month.group_by("phone_key", maintain_order=True).agg(
            first_assigned_in_month_date=pl.col("day").first(), employee=pl.col("employee").first(), assignments_in_month=pl.len()
        )
        attended = set(attendance.filter(
            (pl.col("session_date") >= window_start) & (pl.col("session_date") < next_month)
        )["phone_key"].to_list())
        rows = first_in_month.join(first.select("phone_key", "assigned_at", "day", "source", "funnel"), on="phone_key", how="left")
        rows = rows.with_columns(
            month=pl.lit(month, pl.Date),
            final_funnel=pl.Series([
                (manual_funnel(manual, s, month) or f) if f == OTHER_SOURCES_FUNNEL else f
                for s, f in zip(rows["source"].to_list(), rows["funnel"].to_list())
            ], dtype=pl.String),
            attended=pl.col("phone_key").is_in(list(attended)),
        )
        frames.append(rows)
    return pl.concat(frames).select(
        "month", "phone_key",
        first_assigned_at=pl.col("assigned_at").dt.replace_time_zone(None), first_assigned_date="day",
        first_source="source", funnel="funnel", final_funnel="final_funnel",
        first_assigned_in_month_date="first_assigned_in_month_date", employee="employee",
        assignments_in_month="assignments_in_month", attended="attended",
    ).sort("month", "phone_key")


def refunded_sales(config) -> set[str]:
    """Sales the CRM dump shows as refunded as of the window's last day (a refund shows 7 days on)."""
    out = set()
    for _, sale in edtech._sales(config, SEED, START, AS_OF, SCALE, TZ_NAME):
        sold_on = datetime.fromtimestamp(sale.created_at, TZ).date()
        if sale.refunded and AS_OF >= sold_on + timedelta(days=7):
            out.add(world_sale_id(sale))
    return out


def truth_leads(truth: dict[str, pl.DataFrame], people: pl.DataFrame, config) -> pl.DataFrame:
    """The sheet's rows with the cleaner's verdict and the lead's funnel, from the truth.

    The leads cleaner rejects a row with an unreadable date (truth ``bad_date``) or with neither a
    usable phone nor an email (the world writes a blank or a placeholder phone, and a blank email).
    ``counted``: the person's earliest usable row in the sheet, which is what the pipeline counts as a
    lead. The world's ``is_repeat`` says whether the person had submitted before, anywhere; the two
    differ, legitimately, when that earlier submission is not a usable row of this sheet: it was
    made before the window (the sheet export starts at the window) or it was rejected (an unreadable
    date, no contact). The test asserts that these are the only differences.
    """
    leads = truth["leads"].with_row_index("order").with_columns(day=local_date("created_at"))
    no_contact = ~usable_sheet_phone() & (pl.col("email").str.strip_chars() == "")
    leads = leads.with_columns(usable=~pl.col("bad_date") & ~no_contact)
    first_usable = leads.filter("usable").sort("created_at", "order").group_by("person_id", maintain_order=True).agg(
        __first=pl.col("order").first()
    )
    organic = dict(zip(people["person_id"].to_list(), people["first_touch_source"].to_list()))
    leads = leads.join(first_usable, on="person_id", how="left").with_columns(
        counted=pl.col("usable") & (pl.col("order") == pl.col("__first")),
        source=pl.when(pl.col("utm_camp").is_not_null()).then(pl.col("utm_camp").str.strip_chars().str.to_lowercase()).otherwise(
            pl.col("person_id").replace_strict(organic, default=None, return_dtype=pl.String)
        ),
    )
    assert leads.filter(pl.col("utm_camp").is_null())["person_id"].is_in(list(organic)).all()
    return leads.with_columns(
        funnel=pl.col("source").map_elements(config.funnel_for, return_dtype=pl.String, skip_nulls=False),
    ).drop("__first")


# ============================================================================= the test


def test_pipeline_matches_the_worlds_truth(tmp_path, warehouse_url, world, monkeypatch):
    config, days, people, shown = world
    paths = setup_environment(monkeypatch, tmp_path, warehouse_url)
    _, truth = write_edtech_exports(
        config, seed=SEED, start=START, end=END, scale=SCALE, timezone=TZ_NAME,
        leads_sheet=paths["FUNNEL_LEADS_SHEET"], crm_assigned_leads=paths["FUNNEL_CRM_ASSIGNED_LEADS"],
        crm_sales=paths["FUNNEL_CRM_SALES"], spend_sheet=paths["FUNNEL_SPEND_SHEET"],
    )
    assert truth["assignments"].height > 1000 and truth["sales"].height > 50 and truth["leads"].height > 3000

    with dg.DagsterInstance.from_config(str(paths["DAGSTER_HOME"])) as instance:
        requested, junk = file_zoom_downloads(instance, paths["FUNNEL_ZOOM_INBOX"], days)
        assert requested > 0
        for first, last in ranges(START, END):
            tags = {RANGE_START: first.isoformat(), RANGE_END: last.isoformat()}
            quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
            with dg.execute_job(dg.reconstructable(nightly_funnel_job), instance=instance, tags=tags, run_config=quiet,
                                raise_on_error=False) as result:
                assert result.success, f"nightly_funnel_job {first}..{last} failed (run {result.run_id})"
                failed = [
                    f"{e.asset_key.to_user_string()}.{e.check_name}: {e.metadata}"
                    for e in result.get_asset_check_evaluations()
                    if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR and not junk_only(e, junk)
                ]
                assert not failed, failed
        assert len(instance.get_runs()) == len(ranges(START, END))

    db = Warehouse(warehouse_url, root=PROJECT_ROOT)
    check_attributed_leads(db, truth, shown)
    check_sales_enriched(db, truth, shown)
    check_spend(db, truth)
    check_funnel_daily(db, truth, people, config, shown)
    check_bootcamp_attendance(db, truth, shown)


class Mismatch(list):
    """The differences between the pipeline's table and the truth, as readable lines (empty: equal)."""

    def is_empty(self) -> bool:
        return not self

    def head(self, n: int) -> str:
        return f"{len(self)} difference(s) (pipeline vs truth), e.g.\n" + "\n".join(self[:n])


def mismatch(got: pl.DataFrame, want: pl.DataFrame, key: list[str]) -> Mismatch:
    """Keys present on one side only, and every column that differs for a key."""
    assert sorted(got.columns) == sorted(want.columns), (got.columns, want.columns)
    got, want = got.with_columns(__got=pl.lit(True)), want.with_columns(__want=pl.lit(True))
    joined = got.join(want, on=key, how="full", suffix="_truth", coalesce=True, nulls_equal=True)
    out = Mismatch()
    for row in joined.iter_rows(named=True):
        where = ", ".join(f"{k}={row[k]}" for k in key)
        if not row["__got"] or not row["__want"]:
            side = "truth" if row["__want"] else "pipeline"
            values = {c: row[c if side == "pipeline" else f"{c}_truth"] for c in got.columns if c not in key and not c.startswith("__")}
            out.append(f"  {where}: only in the {side} {values}")
            continue
        diffs = [f"{c}: {row[c]!r} vs {row[f'{c}_truth']!r}" for c in got.columns
                 if c not in key and not c.startswith("__") and row[c] != row[f"{c}_truth"]]
        if diffs:
            out.append(f"  {where}: " + "; ".join(diffs))
    return out


def check_attributed_leads(db: Warehouse, truth, shown) -> None:
    rows = attended_rows(truth, shown)
    hidden = rows.filter(~pl.col("visible"))
    assert 0 < hidden.height < 0.1 * rows.height, (hidden.height, rows.height)  # the exception stays an exception
    want = truth_attributed(truth, shown)
    assert set(want["month"].to_list()) == {date(2025, 3, 1), date(2025, 4, 1)}
    got = db.read_table("attributed_leads").with_columns(first_assigned_at=naive_utc("first_assigned_at")).select(want.columns).sort(want.columns[:2])
    bad = mismatch(got, want, ["month", "phone_key"])
    assert bad.is_empty(), bad.head(15)
    # the comparison can fail: April has phones first assigned in March, some phones attended and some not
    april = want.filter(pl.col("month") == date(2025, 4, 1))
    assert (april["first_assigned_date"] < date(2025, 4, 1)).any(), "no April phone was first assigned in March"
    assert want["attended"].any() and not want["attended"].all()


def check_sales_enriched(db: Warehouse, truth, shown) -> None:
    sales = truth["sales"].with_columns(day=local_date("created_at"))
    attended = attended_rows(truth, shown).filter("visible")
    first_attended = attended.group_by("phone_key").agg(first=pl.col("session_date").min())
    want = sales.join(first_attended, on="phone_key", how="left").select(
        sale_id="_id",
        final_funnel="final_funnel",
        attended=pl.col("first").is_not_null() & (pl.col("first") <= pl.col("day")),
    ).sort("sale_id")
    got = db.read_table("sales_enriched").select(want.columns).sort("sale_id")
    assert got.height == want.height == got["sale_id"].n_unique()
    bad = mismatch(got, want, ["sale_id"])
    assert bad.is_empty(), bad.head(15)
    assert want["attended"].any() and not want["attended"].all()
    assert want["final_funnel"].n_unique() > 3


def paisa(column: str) -> pl.Expr:
    return (pl.col(column) * 100).round(0).cast(pl.Int64)


def check_spend(db: Warehouse, truth) -> None:
    want = truth["spend"].select("day", "funnel", cost=paisa("cost"), impressions="impressions", clicks="clicks").sort("day", "funnel")
    got = db.read_table("spend_by_funnel").select("day", "funnel", cost=paisa("cost"), impressions="impressions", clicks="clicks").sort("day", "funnel")
    assert got["day"].min() == START and got["day"].max() == AS_OF
    bad = mismatch(got, want, ["day", "funnel"])
    assert bad.is_empty(), bad.head(15)
    totals = db.read_table("spend_funnel_totals")
    want_totals = truth["spend"].group_by("funnel").agg(cost=paisa("cost").sum())
    got_totals = totals.select("funnel", cost=paisa("cost"))
    bad = mismatch(got_totals.sort("funnel"), want_totals.sort("funnel"), ["funnel"])
    assert bad.is_empty(), bad.head(15)


def check_funnel_daily(db: Warehouse, truth, people: pl.DataFrame, config, shown) -> None:
    daily = db.read_table("funnel_daily")
    assert daily["day"].min() == START and daily["day"].max() == AS_OF

    # ---- leads: first submissions per (day, the lead's own funnel)
    leads = truth_leads(truth, people, config)
    explained = leads.filter(pl.col("usable") & (pl.col("counted") == pl.col("is_repeat")))
    # every difference from the world's is_repeat: a repeat counted because the person's earlier submission
    # is not a usable row of this sheet (before the window, or rejected by the cleaner)
    earlier_usable = leads.filter("usable").group_by("person_id").agg(first_at=pl.col("created_at").min())
    assert explained.filter(~pl.col("is_repeat")).is_empty(), explained.filter(~pl.col("is_repeat"))
    check = explained.join(earlier_usable, on="person_id").filter(pl.col("first_at") < pl.col("created_at"))
    assert check.is_empty(), check
    want = leads.filter("counted").group_by("day", "funnel").agg(leads=pl.len(), is_repeat=pl.col("is_repeat").sum())
    assert want["is_repeat"].sum() > 0  # the window really has such repeats: the explanation is exercised
    got = daily.group_by("day", "funnel").agg(leads=pl.col("leads").sum()).filter(pl.col("leads") > 0)
    bad = mismatch(got.sort("day", "funnel"), want.drop("is_repeat").sort("day", "funnel"), ["day", "funnel"])
    assert bad.is_empty(), bad.head(15)
    repeats = leads.filter(pl.col("usable") & ~pl.col("counted")).height
    assert int(daily["repeat_leads"].sum()) == repeats

    # ---- Zoom: audience rows of the sessions held on the day, webinar and bootcamp apart
    kinds = truth["zoom_sessions"].select("session_key", "kind")
    audience = truth["zoom_attendance"].filter(pl.col("role").is_in(AUDIENCE)).join(kinds, on="session_key", how="left")
    assert audience["kind"].null_count() == 0
    want = audience.group_by("session_date", "kind").agg(
        registrations=pl.col("registered").sum().cast(pl.Int64), attendees=pl.col("attended").sum().cast(pl.Int64)
    ).rename({"session_date": "day"})
    got = pl.concat([
        daily.group_by("day").agg(kind=pl.lit(kind), registrations=pl.col(f"{kind}_registrations").sum(), attendees=pl.col(f"{kind}_attendees").sum())
        for kind in ("webinar", "bootcamp")
    ]).filter((pl.col("registrations") > 0) | (pl.col("attendees") > 0))
    bad = mismatch(got.sort("day", "kind"), want.sort("day", "kind"), ["day", "kind"])
    assert bad.is_empty(), bad.head(15)

    # ---- sales: conversions, refunds and net revenue per (day, FINAL FUNNEL)
    refunded = refunded_sales(config)
    sales = truth["sales"].with_columns(day=local_date("created_at"), refunded=pl.col("_id").is_in(list(refunded)))
    assert 0 < sales["refunded"].sum() < sales.height
    want = sales.group_by("day", funnel="final_funnel").agg(
        conversions=(~pl.col("refunded")).sum().cast(pl.Int64), refunds=pl.col("refunded").sum().cast(pl.Int64),
        net_revenue=pl.col("net_amount").filter(~pl.col("refunded")).sum(),
    ).with_columns(paisa("net_revenue"))
    got = daily.group_by("day", "funnel").agg(
        pl.col("conversions").sum(), pl.col("refunds").sum(), pl.col("net_revenue").sum()
    ).filter((pl.col("conversions") + pl.col("refunds")) > 0).with_columns(paisa("net_revenue"))
    bad = mismatch(got.sort("day", "funnel"), want.sort("day", "funnel"), ["day", "funnel"])
    assert bad.is_empty(), bad.head(15)

    # ---- spend per (day, the sheet's Funnel)
    want = truth["spend"].select("day", "funnel", spend=paisa("cost"))
    got = daily.group_by("day", "funnel").agg(pl.col("spend").sum()).filter(pl.col("spend") > 0).with_columns(paisa("spend"))
    bad = mismatch(got.sort("day", "funnel"), want.sort("day", "funnel"), ["day", "funnel"])
    assert bad.is_empty(), bad.head(15)

    # ---- sales handover and Assigned MTD per (day, the phone's attributed FINAL funnel of the month)
    attributed = truth_attributed(truth, shown).select("month", "phone_key", "final_funnel", "first_assigned_in_month_date")
    handed = (
        truth["assignments"].select("phone_key", day=local_date("assigned_at")).unique()
        .with_columns(month=pl.col("day").dt.truncate("1mo"))
        .join(attributed, on=["month", "phone_key"], how="left")
    )
    assert handed["final_funnel"].null_count() == 0
    want = handed.group_by("day", funnel="final_funnel").agg(sales_handover=pl.len())
    got = daily.group_by("day", "funnel").agg(pl.col("sales_handover").sum()).filter(pl.col("sales_handover") > 0)
    bad = mismatch(got.sort("day", "funnel"), want.sort("day", "funnel"), ["day", "funnel"])
    assert bad.is_empty(), bad.head(15)
    mtd = Counter()
    for month, _, funnel, first_day in attributed.iter_rows():
        day = first_day
        while day < END and day.month == month.month:
            mtd[(day, funnel)] += 1
            day += timedelta(days=1)
    want = pl.DataFrame([(d, f, n) for (d, f), n in mtd.items()], schema={"day": pl.Date, "funnel": pl.String, "assigned_mtd": pl.Int64}, orient="row")
    got = daily.group_by("day", "funnel").agg(pl.col("assigned_mtd").sum()).filter(pl.col("assigned_mtd") > 0)
    bad = mismatch(got.sort("day", "funnel"), want.sort("day", "funnel"), ["day", "funnel"])
    assert bad.is_empty(), bad.head(15)


def check_bootcamp_attendance(db: Warehouse, truth: dict[str, pl.DataFrame], shown: pl.DataFrame) -> None:
    """Day 1, Day 2 or Both per person per bootcamp, for everyone the downloads tie to a phone."""
    sessions = truth["zoom_sessions"].filter(pl.col("kind") == "bootcamp").select("session_key", "program", day_number="bootcamp_day")
    rows = attended_rows(truth, shown).filter("visible").join(sessions, on="session_key", how="inner")
    assert rows.height > 0 and rows["day_number"].n_unique() == 2
    want = (
        rows.with_columns(bootcamp_start=pl.col("session_date") - pl.duration(days=pl.col("day_number") - 1))
        .group_by("bootcamp_start", "program", "phone_key")
        .agg(day1=(pl.col("day_number") == 1).any(), day2=(pl.col("day_number") == 2).any())
        .select("bootcamp_start", "program", "phone_key", attended_days=pl.when(pl.col("day1") & pl.col("day2")).then(pl.lit("Both"))
                .when(pl.col("day1")).then(pl.lit("Day 1")).otherwise(pl.lit("Day 2")))
    )
    assert set(want["attended_days"]) == {"Both", "Day 1", "Day 2"}  # every case occurs in the window
    got = (
        db.read_table("bootcamp_attendance", columns=["bootcamp_start", "program", "phone_key", "attended_days"])
        .filter(pl.col("phone_key").is_not_null() & pl.col("attended_days").is_not_null())
    )
    bad = mismatch(got.sort("bootcamp_start", "phone_key"), want.sort("bootcamp_start", "phone_key"), ["bootcamp_start", "program", "phone_key"])
    assert bad.is_empty(), bad.head(15)
