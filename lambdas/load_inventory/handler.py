"""load_inventory: S3 ObjectCreated -> validate every row -> DynamoDB, and a report per file."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from inventory import settings
from inventory.adapters.clients import client
from inventory.adapters.files import FileStore
from inventory.adapters.table import StockTable
from inventory.loading import LoadOutcome, build_report, load_records
from inventory.parsing import FileRejected, read_records

logger = Logger(service="inventory")
metrics = Metrics(namespace="Inventory", service="inventory")

# Leave this much of the invocation for the report and the log line after the last write.
_FINISH_MARGIN_SECONDS = 10.0


@cache
def file_store() -> FileStore:
    return FileStore(client("s3"), settings.reports_bucket())


@cache
def stock_table() -> StockTable:
    return StockTable(client("dynamodb"), settings.table_name(), lanes=settings.write_lanes())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Load every object the event names. A write failure raises, so Lambda retries the event."""
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    deadline -= _FINISH_MARGIN_SECONDS
    reports = [
        load_file(
            record["s3"]["bucket"]["name"],
            unquote_plus(record["s3"]["object"]["key"]),
            deadline,
        )
        for record in event.get("Records", [])
    ]
    return {"reports": reports}


def load_file(bucket: str, key: str, deadline: float) -> dict[str, Any]:
    """Load one uploaded file and write its report; return the report's summary."""
    started = time.monotonic()
    stored = file_store().open(bucket, key)
    source: dict[str, Any] = {"uri": f"s3://{bucket}/{key}"}
    if stored is None:
        outcome = LoadOutcome(file_error=FileRejected("the file was deleted before it was read"))
    else:
        source = stored.describe()
        outcome = _load(stored.body, key, stored.size, stored.uri, deadline)
    report = build_report(outcome, source)
    report_uri = file_store().write_report(key, report)
    summary = {
        "file": source["uri"],
        "report": report_uri,
        "status": outcome.status,
        "rows_loaded": outcome.rows_loaded,
        "rows_rejected": outcome.rows_rejected,
        "rows_duplicate": outcome.rows_duplicate,
        "file_error": report["file_error"],
        "duration_ms": round((time.monotonic() - started) * 1000),
    }
    logger.info("inventory file processed", extra=summary)
    metrics.add_metric(name="RowsLoaded", unit=MetricUnit.Count, value=outcome.rows_loaded)
    metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count, value=outcome.rows_rejected)
    metrics.add_metric(name="FilesProcessed", unit=MetricUnit.Count, value=1)
    return summary


def _load(body: Any, key: str, size: int, uri: str, deadline: float) -> LoadOutcome:
    limit = settings.max_file_bytes()
    if size > limit:
        body.close()
        return LoadOutcome(
            file_error=FileRejected(
                f"the file is {size:,} bytes; the limit is {limit:,} bytes: split it"
            )
        )
    updated_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    with stock_table().batch_writer(uri, updated_at, deadline) as writer:
        return load_records(read_records(body, key), writer.put)
