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


@cache
def alert_topic() -> AlertTopic:
    return AlertTopic(client("sns"), settings.topic_arn())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Publish an alert for each item that ran out; report the records to retry.

    The response follows ReportBatchItemFailures: Lambda checkpoints before the first failed
    record and retries from there, so records are processed in order and processing stops at
    the first failure; everything before it is done exactly once.
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
        return _retry_from(sequence_number, alerts_published=failure.first_failed)
    for _, alert in alerts:
        logger.info("out of stock", extra={"store": alert.store, "item": alert.item})
    if unreadable is not None:
        return _retry_from(unreadable, alerts_published=len(alerts))
    metrics.add_metric(name="AlertsPublished", unit=MetricUnit.Count, value=len(alerts))
    return {"batchItemFailures": []}


def _retry_from(sequence_number: str, alerts_published: int) -> dict[str, Any]:
    metrics.add_metric(name="AlertsPublished", unit=MetricUnit.Count, value=alerts_published)
    return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
