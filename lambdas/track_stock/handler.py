"""track_stock: DynamoDB stream -> the per-store summary and each item's history."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from inventory import settings
from inventory.adapters.clients import client
from inventory.adapters.tracker import Tracker
from inventory.tracking import change_from_record

logger = Logger(service="inventory")
metrics = Metrics(namespace="Inventory", service="inventory")


@cache
def tracker() -> Tracker:
    return Tracker(
        client("dynamodb"),
        settings.summary_table(),
        settings.history_table(),
        settings.history_retention_days(),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Apply each record to the summary and the history, in order.

    Applying is idempotent per record (adapters.tracker), so a batch delivered again, whole
    or from any record, changes nothing twice. A record that fails is reported
    (ReportBatchItemFailures) with the records after it; where the runtime ignores the report
    the invocation fails and the whole batch comes again, which is as exact.
    """
    applied = 0
    for position, record in enumerate(event["Records"]):
        sequence_number = record["dynamodb"]["SequenceNumber"]
        try:
            applied += tracker().apply(change_from_record(record))
        except Exception:
            logger.exception("tracking a stream record failed", extra={"sequence": sequence_number})
            if position == 0:
                raise  # nothing before it to keep: Lambda delivers the batch again
            return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
    metrics.add_metric(name="RecordsTracked", unit=MetricUnit.Count, value=applied)
    logger.info("records tracked", extra={"records": len(event["Records"]), "applied": applied})
    return {"batchItemFailures": []}
