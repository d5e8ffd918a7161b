"""Late and corrected sheet rows: days whose rows changed in the leads or spend sheet are run again.

Every run of the sheet assets compares each day of the full export with the warehouse and records
the other days whose rows differ (a fixed reject, a row added or back-dated to a day that already
ran, a deleted row) in its materialization's metadata (``changed_days_json``). This sensor reads
those records and requests runs of the sheet's assets and everything downstream for those days,
so Dagster materializes them like any other partition (and its marts follow). The run key holds
the export's fingerprint of the days: the same change is run once; a new change runs again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import dagster as dg

from funnel_assets.defs.common import daily_partitions
from funnel_assets.lib import sheet_sync as sync

MAX_RECORDS_PER_TICK = 1000
TRIGGER_TAG = "funnel/trigger"

leads_sheet_changes_job = dg.define_asset_job(
    "leads_sheet_changes_job",
    selection=dg.AssetSelection.assets("marketing_leads", "marketing_lead_rejects").downstream(),
    description="The leads sheet's assets (and everything downstream) for days whose rows changed in the sheet.",
    executor_def=dg.in_process_executor,
)

spend_sheet_changes_job = dg.define_asset_job(
    "spend_sheet_changes_job",
    selection=dg.AssetSelection.assets("ad_spend", "ad_spend_rejects").downstream(),
    description="The spend sheet's assets (and everything downstream) for days whose rows changed in the sheet.",
    executor_def=dg.in_process_executor,
)


@dataclass(frozen=True)
class SheetSource:
    source: str
    asset: str
    job: dg.UnresolvedAssetJobDefinition


SOURCES = (
    SheetSource("leads_sheet", "marketing_leads", leads_sheet_changes_job),
    SheetSource("spend_sheet", "ad_spend", spend_sheet_changes_job),
)


def run_request(source: SheetSource, group: sync.ChangedDays) -> dg.RunRequest:
    tags = {TRIGGER_TAG: f"{source.source} rows changed", "funnel/changed_days": sync.describe([group])}
    key = f"{source.source}-{group.start}-{group.end}-{group.fingerprint}"
    if group.start == group.end:
        return dg.RunRequest(run_key=key, job_name=source.job.name, partition_key=group.start.isoformat(), tags=tags)
    return dg.RunRequest(
        run_key=key,
        job_name=source.job.name,
        tags={
            **tags,
            "dagster/asset_partition_range_start": group.start.isoformat(),
            "dagster/asset_partition_range_end": group.end.isoformat(),
        },
    )


@dg.sensor(
    jobs=[leads_sheet_changes_job, spend_sheet_changes_job],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "After each run of the leads or spend sheet's assets (the nightly run included), runs again the days whose "
        "rows changed in the sheet since they were loaded (a fixed reject, a row added, back-dated or deleted), "
        "with everything downstream of them."
    ),
)
def sheet_changes_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    state: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    requests: dict[str, dg.RunRequest] = {}
    for source in SOURCES:
        after = state.get(source.asset)
        seen = 0
        while seen < MAX_RECORDS_PER_TICK:
            result = context.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(source.asset), after_storage_id=after),
                limit=200,
                ascending=True,
            )
            for record in result.records:
                seen += 1
                after = record.storage_id
                entry = record.asset_materialization.metadata.get("changed_days_json") if record.asset_materialization else None
                for item in (entry.value if entry is not None else None) or []:
                    group = sync.ChangedDays.from_json(item)
                    if not daily_partitions.has_partition_key(group.end.isoformat()):
                        continue  # pragma: no cover - recorded days are never after the last partition
                    request = run_request(source, group)
                    requests.setdefault(request.run_key, request)
            if not result.has_more:
                break
        if after is not None:
            state[source.asset] = after
    for request in requests.values():
        context.log.info(f"{request.job_name}: rows changed in the sheet for {request.tags['funnel/changed_days']}")
    return dg.SensorResult(run_requests=list(requests.values()), cursor=json.dumps(state))

