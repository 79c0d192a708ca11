"""check_stock: DynamoDB stream -> the out-of-stock rule -> one SNS alert per item."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from inventory import settings
from inventory.adapters.clients import client
from inventory.adapters.topic import AlertTopic, PublishFailed
from inventory.stock import Alert, alert_for_stream_record

logger = Logger(service="inventory")
metrics = Metrics(namespace="Inventory", service="inventory")


LOGGED_ALERTS = 100  # items named in a batch's log line; the count covers the rest


@cache
def alert_topic() -> AlertTopic:
    return AlertTopic(client("sns"), settings.topic_arn())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Publish an alert for each item that ran out; report the records to retry.

    Records are handled in order and handling stops at the first failure. If nothing was
    published yet, the invocation fails whole: every Lambda runtime retries that (emulators
    that ignore ReportBatchItemFailures too), and re-reading records that published nothing
    is harmless. Once some alerts are out, the response reports the first record not done
    (ReportBatchItemFailures): Lambda retries from there, so the alerts before it are not
    sent again. (Within one PublishBatch request SNS may accept entries after a refused one;
    those are sent again on the retry: the one duplicate this design allows.)
    """
    alerts: list[tuple[str, Alert]] = []
    unreadable: str | None = None
    for record in event["Records"]:
        sequence_number = record["dynamodb"]["SequenceNumber"]
        try:
            alert = alert_for_stream_record(record)
        except (KeyError, TypeError, ValueError):
            logger.exception("unreadable stream record", extra={"sequence": sequence_number})
            unreadable = sequence_number
            break  # the records before it are still handled, so the checkpoint is honest
        if alert is not None:
            alerts.append((sequence_number, alert))
    try:
        alert_topic().publish([alert for _, alert in alerts])
    except PublishFailed as failure:
        sequence_number = alerts[failure.first_failed][0]
        logger.error(
            "publishing alerts failed",
            extra={"reason": failure.reason, "sequence": sequence_number},
        )
        # Entries after the failed one in the same request may have gone out; counting them
        # keeps the whole-batch retry (which would send them again) for when none did.
        return _retry_from(sequence_number, alerts_published=failure.published)
    if alerts:
        # One line a batch, not one an alert: at a thousand alerts a batch, logging each
        # cost more than publishing them. The list is capped to keep the line well under
        # CloudWatch's 256 KB event limit.
        logger.info(
            "out of stock",
            extra={
                "alerts": len(alerts),
                "items": [
                    {"store": alert.store, "item": alert.item}
                    for _, alert in alerts[:LOGGED_ALERTS]
                ],
            },
        )
    if unreadable is not None:
        return _retry_from(unreadable, alerts_published=len(alerts))
    metrics.add_metric(name="AlertsPublished", unit=MetricUnit.Count, value=len(alerts))
    return {"batchItemFailures": []}


class BatchFailed(Exception):
    """Nothing in the batch was published: Lambda retries the whole batch."""


def _retry_from(sequence_number: str, alerts_published: int) -> dict[str, Any]:
    if not alerts_published:
        raise BatchFailed(f"no alert published; retrying from record {sequence_number}")
    metrics.add_metric(name="AlertsPublished", unit=MetricUnit.Count, value=alerts_published)
    return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
