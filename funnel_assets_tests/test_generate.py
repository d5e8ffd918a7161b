"""funnel-generate: every system's files, byte-identical for the same arguments."""

import hashlib
import json
from pathlib import Path

import polars as pl

from funnel_assets.generate import main
from funnel_assets.lib.leads_sheet import read_leads_sheet

ARGS = ["--start", "2025-03-01", "--days", "4", "--scale", "0.02", "--edtech-scale", "0.3", "--no-progress"]


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generate_is_complete_and_deterministic(tmp_path, capsys):
    assert main([*ARGS, "--out", str(tmp_path / "a")]) == 0
    assert main([*ARGS, "--out", str(tmp_path / "b")]) == 0
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert a == b
    for expected in ("amplitude/2025-03-04.ndjson", "google_ads/2025-03-01.csv", "facebook_ads/2025-03-02.json",
                     "pipedrive/deals/2025-03-03.json", "stripe/subscriptions/2025-03-04.json", "stripe/plans.json",
                     "leads_sheet.csv", "crm/assigned_leads.csv", "crm/sales.csv", "spend_sheet.csv", "truth/edtech_people.parquet"):
        assert expected in a, expected
    assert any(name.startswith("zoom/") for name in a)
    out = tmp_path / "a"
    first_event = json.loads((out / "amplitude" / "2025-03-02.ndjson").read_text().splitlines()[0])
    assert {"event_type", "device_id", "time", "session_id", "insert_id"} <= set(first_event)
    assert json.loads((out / "pipedrive" / "leads" / "2025-03-01.json").read_text())["success"] is True
    raw, _ = read_leads_sheet((out / "leads_sheet.csv").read_bytes(), location="sheet")
    assert raw.height > 50
    assert pl.read_parquet(out / "truth" / "saas_form_fills.parquet").height > 0
    zoom_truth = pl.read_parquet(out / "truth" / "edtech_zoom_files.parquet")
    assert sorted(zoom_truth["saved_as"]) == sorted(n.removeprefix("zoom/") for n in a if n.startswith("zoom/"))
    assert "wrote" in capsys.readouterr().out
