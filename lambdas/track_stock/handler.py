"""track_stock: DynamoDB stream -> the per-store summary and each item's history."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from inventory import settings
from inventory.adapters.clients import client
from inventory.adapters.tracker import Tracker
from inventory.tracking import Change, change_from_record

logger = Logger(service="inventory")
metrics = Metrics(namespace="Inventory", service="inventory")
# X-Ray: the handler, and every AWS call the adapters make, as Tracer patches botocore. Not
# the handler's answer (capture_response=False): it is the data, and can outgrow a segment.
tracer = Tracer(service="inventory")

# Leave this much of the invocation to log and answer after the last call.
_FINISH_MARGIN_SECONDS = 2.0


class BatchFailed(Exception):
    """The batch's first record is unreadable: Lambda delivers the batch again."""


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
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Apply the records to the summary and the history, a store at a time (adapters.tracker).

    Applying is idempotent per record, so a batch delivered again, whole or from any record,
    changes nothing twice; a failed write fails the invocation and the batch comes again.
    Records are read in order and an unreadable one ends the batch: the records before it are
    applied and it is reported (ReportBatchItemFailures), so Lambda retries from it; when it
    is the first there is nothing to keep, and the invocation fails.
    """
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    deadline -= _FINISH_MARGIN_SECONDS
    changes: list[Change] = []
    unreadable: str | None = None
    for position, record in enumerate(event["Records"]):
        sequence_number = record["dynamodb"]["SequenceNumber"]
        try:
            changes.append(change_from_record(record))
        except (KeyError, TypeError, ValueError):
            logger.exception("unreadable stream record", extra={"sequence": sequence_number})
            if position == 0:
                raise BatchFailed(f"the first record, {sequence_number}, is unreadable") from None
            unreadable = sequence_number
            break
    applied = tracker().apply_batch(changes, deadline)
    metrics.add_metric(name="RecordsTracked", unit=MetricUnit.Count, value=applied)
    logger.info("records tracked", extra={"records": len(changes), "applied": applied})
    if unreadable is not None:
        return {"batchItemFailures": [{"itemIdentifier": unreadable}]}
    return {"batchItemFailures": []}
