"""Secrets and personal data stay out of what a run leaves behind (issue 12, item 7).

A CRM pull whose token travels in a query parameter with an ordinary name (``access``) against a
server that fails once (so a retry warning is written), and a leads sheet where someone typed a
phone and an email into the UTM columns. Afterwards the instance's whole event log (every record
of both runs, read back through the instance) and every file the instance wrote (event log
databases, compute logs of the steps' stdout/stderr) are searched: the token, and every phone and
email of the inputs, appear nowhere in full.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import dagster as dg
import pytest

from funnel_assets.defs.crm import assets as crm_assets
from funnel_assets.defs.crm.resources import CrmResource
from funnel_assets.defs.leads_sheet.assets import build_leads_sheet_assets
from funnel_assets.defs.resources import LeadsSheetResource, ProjectConfigResource, WarehouseResource
from funnel_assets.lib.settings import PROJECT_ROOT
from funnel_assets_tests.http_server import LocalHTTPServer, ScriptedResponse

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHEET = FIXTURES / "leads_sheet" / "contacts_in_utm_columns.csv"
SALES = FIXTURES / "crm" / "sales_ugly.csv"
TOKEN = "Zx9-crm/T0ken+value=4d9f"  # has characters a URL encodes
pytestmark = pytest.mark.timeout(120)


def _contacts(path: Path, phone_columns: list[str], email_columns: list[str]) -> tuple[set[str], set[str]]:
    """Every phone (as written, and its bare digits) and every email in a CSV fixture."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]
    phones, emails = set(), set()
    for row in rows:
        for value in (row[c] for c in phone_columns + email_columns):
            for email in re.findall(r"[\w.+'-]+@[\w.-]+\.[A-Za-z]{2,}", value):
                emails |= {email, email.lower()}
            digits = re.sub(r"\D", "", value)
            if 10 <= len(digits) <= 15 and "@" not in value and "E" not in value.upper():
                phones |= {value, digits, digits[-10:]}
    return phones, emails


def _instance_files_text(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_bytes().decode("utf-8", errors="replace") for p in root.rglob("*") if p.is_file()}


def test_token_phones_and_emails_appear_nowhere_in_the_instance(tmp_path):
    sheet_phones, sheet_emails = _contacts(SHEET, ["Phone", "utmCamp", "utmSource"], ["Email", "utmSource"])
    sales_phones, sales_emails = _contacts(SALES, ["StudentContact"], ["StudentEmail"])
    assert {"+91 98471 23456", "9847123456"} <= sheet_phones and "meera.krishnan.work@gmail.com" in sheet_emails
    phones, emails = sheet_phones | sales_phones, sheet_emails | sales_emails

    home = tmp_path / "dagster_home"
    home.mkdir()
    warehouse = WarehouseResource(url=f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    _, crm_sales = crm_assets.build_crm_assets(dg.RetryPolicy(max_retries=1, delay=0))
    leads_sheet_assets = build_leads_sheet_assets(dg.RetryPolicy(max_retries=1, delay=0))
    with LocalHTTPServer() as server, dg.instance_for_test(temp_dir=str(home)) as instance:
        server.enqueue("/api/dumps/sales.csv", ScriptedResponse(status=503, body="busy, try again"),
                       ScriptedResponse.csv(SALES.read_bytes()))
        crm = CrmResource(base_url=server.url("/api/dumps/"), sales="sales.csv", token=TOKEN, token_placement="query",
                          token_name="access", backoff_seconds=0, timeout_seconds=5)
        config = ProjectConfigResource(config_dir=str(PROJECT_ROOT / "data" / "config"))
        crm_run = dg.materialize([crm_sales], instance=instance, resources={"crm": crm, "warehouse": warehouse, "project_config": config})
        sheet_run = dg.materialize(
            [leads_sheet_assets], partition_key="2025-08-14", instance=instance,
            resources={
                "leads_sheet": LeadsSheetResource(location=str(SHEET), backoff_seconds=0.01),
                "project_config": config,
                "warehouse": warehouse,
            },
        )
        assert crm_run.success and sheet_run.success
        (request, retried) = server.requests_for("/api/dumps/sales.csv")
        assert retried.query_value("access") == TOKEN  # the token was sent, in a parameter named "access"
        records = {
            run.run_id: "\n".join(repr(entry) for entry in instance.all_logs(run.run_id)) for run in (crm_run, sheet_run)
        }
    # the runs did report what this test looks for, masked
    checks = {e.check_name: e for e in sheet_run.get_asset_check_evaluations()}
    unmapped = str(checks["unmapped_source_share"].metadata["unmapped_sources"].value)
    assert "91********56" in unmapped and "m***@g***.com" in unmapped

    written = {f"event records of run {run_id}": text for run_id, text in records.items()}
    written.update(_instance_files_text(home))
    assert any("compute_logs" in name for name in written), "no compute log was captured"
    assert "attempt 1 of 4" in records[crm_run.run_id] and "access=***" in records[crm_run.run_id]  # the retry, in the run's log
    forms = [TOKEN, *_url_forms(TOKEN)]
    for name, text in written.items():
        assert not [f for f in forms if f in text], f"the CRM token is in {name}"
        assert not [p for p in phones if p in text], f"a full phone is in {name}: {[p for p in phones if p in text]}"
        assert not [e for e in emails if e in text], f"an email is in {name}: {[e for e in emails if e in text]}"


def _url_forms(secret: str) -> list[str]:
    from urllib.parse import quote, quote_plus

    return [quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret, safe="").lower()]
