"""What every asset folder shares: the daily partitions, the backfill policy, metadata helpers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from datetime import date, timedelta

import dagster as dg
import polars as pl

from funnel_assets.lib.config import ConfigError
from funnel_assets.lib.fetch import FetchError, is_transient
from funnel_assets.lib.redact import safe_text
from funnel_assets.lib.settings import load_settings
from funnel_assets.lib.text import markdown_literal
from funnel_assets.lib.warehouse import WriteReport

SETTINGS = load_settings()
"""Time zone and first day, read once when Dagster loads the definitions (see README)."""

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=SETTINGS.start_date.isoformat(),
    timezone=SETTINGS.timezone,
    # end_offset=0: the last partition is yesterday in the team's time zone (D-1)
)

daily_backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=31)
"""Backfills run up to a month of days per run; assets read their source once per run."""

WAREHOUSE_POOL = "warehouse"


NETWORK_RETRY = dg.RetryPolicy(max_retries=3, delay=60, backoff=dg.Backoff.EXPONENTIAL)
"""Steps that download (leads sheet, CRM, spend sheet) are retried by Dagster after 1, 2 and 4
minutes when the failure may go away by itself (raise ``dg.Failure(allow_retries=False)`` when
it cannot: a wrong token, an HTML page, missing columns)."""


@contextmanager
def retried_only_when_it_may_help(*never_retried: type[Exception], keeps: str = "The previous data is kept."):
    """Inside a step with ``NETWORK_RETRY``: a download failure is retried only when it may go away
    by itself (``fetch.is_transient``); a mistake in a configuration file, or one of
    ``never_retried`` (a file that can't be read), never is: fix it, then re-execute. Anything
    else (the warehouse briefly unreachable, ...) is retried."""
    try:
        yield
    except FetchError as exc:
        raise dg.Failure(description=safe_text(f"{exc} {keeps}"), allow_retries=is_transient(exc)) from None
    except (ConfigError, *never_retried) as exc:
        raise dg.Failure(description=safe_text(f"{exc}\n{keeps}"), allow_retries=False) from None


def safe_metadata(metadata: Mapping[str, object], secrets: Iterable[str] = ()) -> dict:
    """``metadata`` with every text value (plain strings, text and markdown values) scrubbed of
    ``secrets`` and with phones and emails masked wherever they appear in it (a phone typed into a
    UTM column shows up in a list of unmapped sources). Numbers, paths, schemas are left as they are.

    Every metadata dict built from data goes through it: `table_metadata` does it for the
    materializations, check results call it on their own metadata.
    """
    secrets = [s for s in secrets if s]
    out: dict = {}
    for key, value in metadata.items():
        if isinstance(value, str):
            value = safe_text(value, secrets)
        elif isinstance(value, dg.MarkdownMetadataValue):
            value = dg.MetadataValue.md(safe_text(value.md_str or "", secrets))
        elif isinstance(value, dg.TextMetadataValue):
            value = dg.MetadataValue.text(safe_text(value.text or "", secrets))
        out[key] = value
    return out


def daily_multi_asset(
    *, specs: list[dg.AssetSpec], check_specs: list[dg.AssetCheckSpec] = (), retry_policy: dg.RetryPolicy | None = None, name: str | None = None
):
    """A source's daily-partitioned datasets, computed together: one call handles a range of days
    (the backfill policy batches up to a month per run) and writes through the warehouse pool."""
    return dg.multi_asset(
        specs=specs,
        check_specs=list(check_specs),
        retry_policy=retry_policy,
        name=name,
        partitions_def=daily_partitions,
        backfill_policy=daily_backfill_policy,
        pool=WAREHOUSE_POOL,
        can_subset=False,
    )


def partition_dates(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """The half-open range of local dates ``[start, end)`` this run covers (one day or a range)."""
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date()
    if end <= start:  # pragma: no cover - Dagster guarantees a non-empty window
        end = start + timedelta(days=1)
    return start, end


_POLARS_TO_TYPE = {
    pl.String: "string",
    pl.Boolean: "boolean",
    pl.Date: "date",
    pl.Int64: "integer",
    pl.Int32: "integer",
    pl.Float64: "float",
}


def column_schema(frame: pl.DataFrame, descriptions: dict[str, str] | None = None) -> dg.TableSchema:
    """The frame's columns, typed and described. The UI renders a description as markdown and drops
    what looks like HTML, so ``<`` and ``>`` are escaped: "+<digits>" shows as written."""
    descriptions = descriptions or {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name,
                _POLARS_TO_TYPE.get(dtype, "timestamp" if isinstance(dtype, pl.Datetime) else str(dtype).lower()),
                description=markdown_literal(descriptions.get(name)),
            )
            for name, dtype in frame.schema.items()
        ]
    )


def table_metadata(
    frame: pl.DataFrame,
    report: WriteReport,
    *,
    descriptions: dict[str, str] | None = None,
    partition_column: str | None = None,
    **extra,
) -> dict:
    """The metadata every dataset asset reports: rows, schema, and what the write did, plus
    ``extra``; text values pass through `safe_metadata` (no phone or email in the UI).

    A run over a range of days records the same metadata on every day's materialization, so
    ``dagster/row_count`` (shown per partition in the UI) is only reported for single-day
    runs and snapshots; a range run reports ``rows_in_run`` and a per-day table instead.
    """
    rows: dict = {"dagster/row_count": dg.MetadataValue.int(frame.height)}
    if partition_column is not None:
        per_day = frame.group_by(partition_column).len().sort(partition_column)
        if per_day.height > 1:
            rows = {
                "rows_in_run": dg.MetadataValue.int(frame.height),
                "rows_per_day": dg.MetadataValue.md(
                    "| day | rows |\n|---|---|\n" + "\n".join(f"| {d or 'undated'} | {n} |" for d, n in per_day.rows())
                ),
            }
    return safe_metadata({
        **rows,
        "dagster/column_schema": column_schema(frame, descriptions),
        "dagster/table_name": report.table,
        "rows_replaced": dg.MetadataValue.int(report.rows_deleted),
        "write_method": report.method,
        "write_seconds": dg.MetadataValue.float(round(report.seconds, 3)),
        **({"added_columns": ", ".join(report.added_columns)} if report.added_columns else {}),
        **extra,
    })


def read_source_table(
    context: dg.AssetExecutionContext,
    db,
    table: str,
    *,
    schema: dict[str, pl.DataType],
    notes: list[str] | None = None,
    columns: list[str] | None = None,
    **read: object,
) -> pl.DataFrame:
    """An upstream table, or an empty frame when that source was never set up in this instance.

    A table whose asset was never materialized here (the CRM or the spend sheet not configured
    yet, no Zoom file dropped yet) reads as empty, with a warning in the run's log and a line in
    ``notes`` for the asset's metadata. A table whose asset *was* materialized but is missing from
    the warehouse is an error: the warehouse URL changed or the table was dropped.
    """
    if db.has_table(table):
        return db.read_table(table, columns=columns, **read)
    if context.instance.get_latest_materialization_event(dg.AssetKey(table)) is not None:
        raise dg.Failure(
            f"table {table!r} is missing from the warehouse although {table} was materialized before (was the "
            f"warehouse URL changed or the table dropped?): materialize {table} again, then rerun this step"
        )
    note = f"{table}: never loaded in this instance, read as empty (materialize it, or run nightly_funnel_job)"
    context.log.warning(note)
    if notes is not None:
        notes.append(note)
    chosen = {c: schema[c] for c in columns} if columns is not None else schema
    return pl.DataFrame(schema=chosen)
