"""touchpoints and people through dg.materialize, on SQLite and Postgres, with the upstream tables
(marketing_leads, zoom_sessions, crm_assigned_leads) written beforehand through the Warehouse."""

from datetime import date, timedelta

import dagster as dg
import polars as pl
import pytest

from funnel_assets.defs.identity import assets as identity_assets
from funnel_assets.defs.identity.assets import people, touchpoints
from funnel_assets.defs.resources import ProjectConfigResource, WarehouseResource
from funnel_assets.lib import identity as lib
from funnel_assets.lib.warehouse import Warehouse
from funnel_assets_tests.lib.test_identity import CONFIG_DIR, TRUTH_DAYS, TRUTH_START, synthetic_inputs

FIRST, LAST = TRUTH_START, TRUTH_START + timedelta(days=TRUTH_DAYS - 1)
RANGE_TAGS = {"dagster/asset_partition_range_start": FIRST.isoformat(), "dagster/asset_partition_range_end": LAST.isoformat()}


@pytest.fixture(scope="module")
def inputs():
    leads, zoom_rows, assignments, mapping, _ = synthetic_inputs()
    return leads, zoom_rows, assignments, mapping


def resources(url: str) -> dict:
    return {"project_config": ProjectConfigResource(config_dir=str(CONFIG_DIR)), "warehouse": WarehouseResource(url=url)}


def write_upstream(url: str, inputs, *, crm: bool = True, leads: bool = True) -> None:
    lead_rows, zoom_rows, assignments, _ = inputs
    db = Warehouse(url)
    end = LAST + timedelta(days=1)
    if leads:
        db.replace_partitions("marketing_leads", lead_rows, partition_column="created_date", start=FIRST, end=end)
    db.replace_partitions("zoom_sessions", zoom_rows, partition_column="session_date", start=FIRST, end=end)
    if crm:
        # a dump row the CRM could not read: kept in its table, never a touch
        broken = assignments.head(1).with_columns(
            assignment_id=pl.lit("broken"), assigned_at=None, assigned_date=None, phone_key=None, problem=pl.lit("assignOn 'soon' is not a date")
        )
        db.replace_table("crm_assigned_leads", pl.concat([assignments, broken]))
    db.dispose()


def checks_of(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def sorted_touches(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(list(lib.TOUCHPOINT_SCHEMA)).cast(lib.TOUCHPOINT_SCHEMA).sort("touchpoint_id")


def test_touchpoints_range_then_people(inputs, warehouse_url):
    write_upstream(warehouse_url, inputs)
    lead_rows, zoom_rows, assignments, mapping = inputs
    result = dg.materialize([touchpoints], tags=RANGE_TAGS, resources=resources(warehouse_url))
    assert result.success
    db = Warehouse(warehouse_url)
    want = lib.build_touchpoints(lead_rows, zoom_rows, assignments, mapping)
    got = db.read_table("touchpoints")
    assert got.height == want.height > 2000
    assert sorted_touches(got).equals(sorted_touches(want))
    assert "broken" not in got["source_row_id"].to_list()
    assert set(got["kind"]) == set(lib.KINDS)

    (mat,) = result.asset_materializations_for_node("touchpoints")[:1]
    assert mat.metadata["rows_in_run"].value == want.height
    assert mat.metadata["crm_rows_with_problem"].value == 0  # the broken row has no date: in no day
    assert mat.metadata["crm_assignments"].value == "crm_assigned_leads snapshot"
    checks = checks_of(result)
    assert set(checks) == {"touchpoint_id_unique", "contactless_share", "attendees_without_lead"}
    assert checks["touchpoint_id_unique"].passed and checks["contactless_share"].passed
    # the fortnight's attendees who arrived before it have no lead in the warehouse
    assert checks["attendees_without_lead"].metadata["attendees"].value > 100

    result = dg.materialize([people], resources=resources(warehouse_url))
    assert result.success
    got_people = db.read_table("people")
    want_people = lib.resolve_people(want)
    assert got_people.select(list(lib.PEOPLE_SCHEMA)).cast(lib.PEOPLE_SCHEMA).sort("person_key").equals(want_people.sort("person_key"))
    checks = checks_of(result)
    assert checks["person_key_unique"].passed and checks["phone_identity_share"].passed
    meta = result.asset_materializations_for_node("people")[0].metadata
    assert meta["dagster/row_count"].value == want_people.height
    assert meta["touches"].value == want.height
    assert "| phone |" in meta["people_by_identity"].value
    assert {c.name for c in meta["dagster/column_schema"].schema.columns} >= {"person_key", "first_touch_funnel", "last_touch_at"}
    # no phones or emails in any metadata
    contacts = set(want.filter(pl.col("phone_key").is_not_null())["phone_key"].head(200)) | set(want["email"].drop_nulls().head(200))
    for mat in [*result.asset_materializations_for_node("people")]:
        text = " ".join(str(v.value) for v in mat.metadata.values())
        assert not [c for c in contacts if c in text]
    db.dispose()


def test_one_day_is_idempotent_and_leaves_other_days_alone(inputs, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    write_upstream(url, inputs)
    assert dg.materialize([touchpoints], tags=RANGE_TAGS, resources=resources(url)).success
    db = Warehouse(url)
    before = db.read_table("touchpoints")
    day = FIRST + timedelta(days=3)
    for _ in range(2):
        result = dg.materialize([touchpoints], partition_key=day.isoformat(), resources=resources(url))
        assert result.success
    after = db.read_table("touchpoints")
    assert sorted_touches(after).equals(sorted_touches(before))
    meta = result.asset_materializations_for_node("touchpoints")[0].metadata
    assert meta["dagster/row_count"].value == before.filter(pl.col("day") == day).height > 50
    assert meta["rows_replaced"].value == meta["dagster/row_count"].value


def test_without_crm_ever_materialized_touches_are_built_without_assignments(inputs, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    write_upstream(url, inputs, crm=False)
    result = dg.materialize([touchpoints], partition_key=FIRST.isoformat(), resources=resources(url))
    assert result.success
    got = Warehouse(url).read_table("touchpoints")
    assert got.height > 50 and "sales_assigned" not in set(got["kind"])
    meta = result.asset_materializations_for_node("touchpoints")[0].metadata
    assert meta["crm_assignments"].value.startswith("not loaded")


def test_crm_table_missing_after_it_was_materialized_fails(inputs, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    write_upstream(url, inputs, crm=False)

    @dg.asset(name="crm_assigned_leads")
    def stand_in():
        return None

    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([stand_in], instance=instance).success
    result = dg.materialize([touchpoints], partition_key=FIRST.isoformat(), resources=resources(url), instance=instance, raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("touchpoints")
    assert "crm_assigned_leads" in str(failure.error) and "materialize crm_assigned_leads again" in str(failure.error)


def test_leads_never_loaded_read_as_empty_but_a_lost_table_is_a_clear_failure(inputs, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    write_upstream(url, inputs, leads=False)
    with dg.instance_for_test() as instance:
        result = dg.materialize([touchpoints], partition_key=FIRST.isoformat(), resources=resources(url), instance=instance)
        assert result.success  # a Zoom file dropped before the sheet was ever loaded
        note = result.asset_materializations_for_node("touchpoints")[0].metadata["inputs_not_loaded"].value
        assert "marketing_leads: never loaded" in note
        instance.report_runless_asset_event(dg.AssetMaterialization("marketing_leads"))
        result = dg.materialize([touchpoints], partition_key=FIRST.isoformat(), resources=resources(url), instance=instance, raise_on_error=False)
    assert not result.success
    assert "materialize marketing_leads again" in str(result.failure_data_for_node("touchpoints").error)


def test_people_without_touchpoints_fails_clearly(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    result = dg.materialize([people], resources=resources(url), raise_on_error=False)
    assert not result.success
    assert "materialize touchpoints" in str(result.failure_data_for_node("people").error)


def test_repeated_person_key_fails_the_blocking_check(inputs, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    write_upstream(url, inputs)
    assert dg.materialize([touchpoints], partition_key=FIRST.isoformat(), resources=resources(url)).success
    real = lib.resolve_people
    monkeypatch.setattr(identity_assets.lib, "resolve_people", lambda t: pl.concat([real(t), real(t).head(2)]))
    result = dg.materialize([people], resources=resources(url), raise_on_error=False)
    check = checks_of(result)["person_key_unique"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["repeated_keys"].value == 2
    assert not result.success  # blocking: the run fails, downstream does not run


def test_contactless_touches_warn(inputs, tmp_path):
    lead_rows, zoom_rows, assignments, mapping = inputs
    # strip the contacts from a third of the day's Zoom rows (that are not meetings)
    day_rows = zoom_rows.filter(pl.col("session_date") == FIRST + timedelta(days=1))
    assert day_rows.height > 20
    stripped = zoom_rows.with_columns(
        pl.when((pl.col("run_as") != "meeting") & (pl.int_range(pl.len()) % 3 == 0)).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("phone_key", "email")
    )
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    write_upstream(url, (lead_rows, stripped, assignments, mapping))
    result = dg.materialize([touchpoints], partition_key=(FIRST + timedelta(days=1)).isoformat(), resources=resources(url))
    assert result.success  # a warning, not a failure
    check = checks_of(result)["contactless_share"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["share"].value > 0.02
