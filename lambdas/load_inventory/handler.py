"""load_inventory: S3 ObjectCreated -> validate every row -> DynamoDB, and a report per file."""

from __future__ import annotations

import time
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from inventory import settings
from inventory.adapters.clients import client
from inventory.adapters.files import FileStore, StoredFile
from inventory.adapters.redrive import Loader
from inventory.adapters.table import Snapshot, StockTable
from inventory.loading import LoadOutcome, build_report, load_records, snapshot_time
from inventory.parsing import FileRejected, read_records

logger = Logger(service="inventory")
metrics = Metrics(namespace="Inventory", service="inventory")

# Leave this much of the invocation for the report and the log line after the last write.
_FINISH_MARGIN_SECONDS = 10.0


@cache
def file_store() -> FileStore:
    return FileStore(client("s3"), settings.reports_bucket())


@cache
def loader() -> Loader:
    return Loader(client("lambda"), settings.function_name())


@cache
def stock_table() -> StockTable:
    return StockTable(
        client("dynamodb"),
        settings.table_name(),
        settings.snapshots_table(),
        lanes=settings.write_lanes(),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Load every object the event names. A write failure raises, so Lambda retries the event."""
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    deadline -= _FINISH_MARGIN_SECONDS
    reports = [load_file(record, deadline) for record in event.get("Records", [])]
    return {"reports": reports}


def load_file(record: dict[str, Any], deadline: float) -> dict[str, Any]:
    """Load the upload one S3 event record names, write its report; return a summary."""
    started = time.monotonic()
    bucket = record["s3"]["bucket"]["name"]
    key = unquote_plus(record["s3"]["object"]["key"])
    # With versioning, the event names the exact version: a late event reads its own file.
    stored = file_store().open(bucket, key, record["s3"]["object"].get("versionId"))
    source: dict[str, Any] = {"uri": f"s3://{bucket}/{key}"}
    if stored is None:
        outcome = LoadOutcome(file_error=FileRejected("the file was deleted before it was read"))
    else:
        source = stored.describe()
        snapshot = Snapshot(
            bucket=bucket,
            key=key,
            version_id=stored.version_id,
            taken_at=snapshot_time(record.get("eventTime"), stored.last_modified),
        )
        source["snapshot_at"] = snapshot.taken_at
        outcome = _load(stored, snapshot, deadline)
    report = build_report(outcome, source)
    report_uri = file_store().write_report(key, report)
    summary = {
        "file": source["uri"],
        "report": report_uri,
        "status": outcome.status,
        "rows_loaded": outcome.rows_loaded,
        "rows_rejected": outcome.rows_rejected,
        "rows_duplicate": outcome.rows_duplicate,
        "rows_superseded": outcome.rows_superseded,
        "file_error": report["file_error"],
        "duration_ms": round((time.monotonic() - started) * 1000),
    }
    logger.info("inventory file processed", extra=summary)
    metrics.add_metric(name="RowsLoaded", unit=MetricUnit.Count, value=outcome.rows_loaded)
    metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count, value=outcome.rows_rejected)
    metrics.add_metric(name="RowsSuperseded", unit=MetricUnit.Count, value=outcome.rows_superseded)
    metrics.add_metric(name="FilesProcessed", unit=MetricUnit.Count, value=1)
    return summary


def _load(stored: StoredFile, snapshot: Snapshot, deadline: float) -> LoadOutcome:
    limit = settings.max_file_bytes()
    if stored.size > limit:
        stored.body.close()
        return LoadOutcome(
            file_error=FileRejected(
                f"the file is {stored.size:,} bytes; the limit is {limit:,} bytes: split it"
            )
        )
    with stock_table().batch_writer(snapshot, deadline) as writer:
        outcome = load_records(read_records(stored.body, stored.key), writer.put, stored.size)
    outcome.supersede(writer.superseded)
    for newer in writer.overtaken:
        # It claimed a store while this file was still writing it: load it again so its rows
        # are the ones that stay.
        logger.warning("a newer snapshot overtook this load", extra={"newer": newer.uri})
        loader().load_again(newer)
    return outcome
