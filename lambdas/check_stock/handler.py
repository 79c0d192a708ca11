"""check_stock: DynamoDB stream -> the out-of-stock and low-stock rules -> one SNS alert per
item and crossing."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from inventory import settings
from inventory.adapters.clients import client
from inventory.adapters.sent_alerts import Notes, SentAlerts
from inventory.adapters.topic import AlertTopic, PublishFailed
from inventory.stock import Alert, alert_for_stream_record

logger = Logger(service="inventory")
metrics = Metrics(namespace="Inventory", service="inventory")
# X-Ray: the handler, and every AWS call the adapters make, as Tracer patches botocore. Not
# the handler's answer (capture_response=False): it is the data, and can outgrow a segment.
tracer = Tracer(service="inventory")


LOGGED_ALERTS = 100  # items named in a batch's log line; the count covers the rest
# Leave this much of the invocation to log and answer after the last call.
_FINISH_MARGIN_SECONDS = 2.0


@cache
def alert_topic() -> AlertTopic:
    return AlertTopic(client("sns"), settings.topic_arn())


@cache
def sent_alerts() -> SentAlerts:
    return SentAlerts(client("dynamodb"), settings.sent_alerts_table())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Publish an alert for each item that ran out or ran low, once; report the records to
    retry.

    Lambda delivers a batch again after any failed invocation, and one that timed out may have
    published before it stopped. So only alerts not noted in the sent-alerts table are
    published, and the alerts SNS accepts are noted there while publishing goes on (Notes): a
    batch delivered again, whole or from any record, sends nothing twice. (Left: alerts SNS
    accepted that were not noted yet when the invocation was cut short, or whose note failed;
    their alert_id, the same on every delivery, lets a subscriber drop them.)

    That makes failing whole the simple answer to a failed publish: every runtime retries
    it, emulators that ignore ReportBatchItemFailures included, and the alerts that did go out
    stay out. Records are handled in order; an unreadable one ends the batch. The records
    before it are done, so it is reported (ReportBatchItemFailures) and Lambda retries from
    it; when it is the first record there is nothing to keep, and the invocation fails.
    """
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    deadline -= _FINISH_MARGIN_SECONDS
    alerts: list[Alert] = []
    unreadable: str | None = None
    threshold = settings.low_stock_threshold()
    for position, record in enumerate(event["Records"]):
        sequence_number = record["dynamodb"]["SequenceNumber"]
        try:
            alert = alert_for_stream_record(record, threshold)
        except (KeyError, TypeError, ValueError):
            logger.exception("unreadable stream record", extra={"sequence": sequence_number})
            if position == 0:
                raise BatchFailed(f"the first record, {sequence_number}, is unreadable") from None
            unreadable = sequence_number
            break  # the records before it are still handled, so the checkpoint is honest
        if alert is not None:
            alerts.append(alert)
    unsent = sent_alerts().unsent(alerts, deadline)
    if len(unsent) < len(alerts):
        logger.warning(
            "alerts already sent by an earlier delivery of this batch",
            extra={"alerts": len(alerts) - len(unsent)},
        )
    try:
        with Notes(sent_alerts(), deadline) as notes:
            alert_topic().publish(unsent, on_sent=notes.add)
    except PublishFailed as failure:
        logger.error(
            "publishing alerts failed",
            extra={"reason": failure.reason, "published": failure.published},
        )
        metrics.add_metric(name="AlertsPublished", unit=MetricUnit.Count, value=failure.published)
        raise BatchFailed(f"publishing failed after {failure.published} alerts") from failure
    metrics.add_metric(name="AlertsPublished", unit=MetricUnit.Count, value=len(unsent))
    if unsent:
        # One line a batch, not one an alert: at a thousand alerts a batch, logging each
        # cost more than publishing them. The list is capped to keep the line well under
        # CloudWatch's 256 KB event limit.
        logger.info(
            "alerts published",
            extra={
                "alerts": len(unsent),
                "items": [
                    {"store": alert.store, "item": alert.item, "event": alert.event}
                    for alert in unsent[:LOGGED_ALERTS]
                ],
            },
        )
    if unreadable is not None:
        return {"batchItemFailures": [{"itemIdentifier": unreadable}]}
    return {"batchItemFailures": []}


class BatchFailed(Exception):
    """The invocation fails whole: Lambda delivers the batch again."""
