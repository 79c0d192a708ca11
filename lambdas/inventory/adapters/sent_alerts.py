"""The sent-alerts table: which alerts are already out, so a batch delivered again sends none
twice.

Lambda delivers a stream batch again whenever an invocation fails, including one that timed
out or lost its runtime after some of its alerts were published. check_stock records every alert
it publishes here, by its `alert_id` (the stream record's id), and publishes only the ones not
recorded. Powertools' idempotency utility does the same per call, with two writes an alert; one
BatchGetItem a hundred alerts and one BatchWriteItem a PublishBatch request keep a bulk load's
ten thousand alerts at the pace of its rows (see the benchmark).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from inventory.adapters.table import BATCH_GET_SIZE, BATCH_SIZE, Backoff, batch_get, batch_write
from inventory.stock import Alert

# A stream record is delivered for at most a day (the stream's retention; the mapping's
# maximum record age is shorter still), so a record of its alert need not outlive two.
KEEP_SECONDS = 2 * 24 * 60 * 60
EXPIRY_ATTRIBUTE = "expires_at"  # the table's time-to-live attribute


class SentAlerts:
    """The alerts published so far, keyed by alert id, each kept for KEEP_SECONDS."""

    def __init__(
        self, dynamodb: Any, table_name: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._dynamodb = dynamodb
        self._table_name = table_name
        self._clock = clock

    def unsent(self, alerts: Sequence[Alert], deadline: float) -> list[Alert]:
        """`alerts` without the ones already sent, in their order. Keys DynamoDB leaves
        unprocessed are retried until `deadline` (time.monotonic)."""
        sent: set[str] = set()
        ids = list(dict.fromkeys(alert.alert_id for alert in alerts))
        for start in range(0, len(ids), BATCH_GET_SIZE):
            chunk = ids[start : start + BATCH_GET_SIZE]
            keys = [{"alert_id": {"S": alert_id}} for alert_id in chunk]
            sent.update(
                item["alert_id"]["S"]
                for item in batch_get(self._dynamodb, self._table_name, keys, Backoff(deadline))
            )
        return [alert for alert in alerts if alert.alert_id not in sent]

    def record(self, alerts: Sequence[Alert], deadline: float) -> None:
        """Remember `alerts` as sent; throttled writes are retried until `deadline`."""
        expires_at = {"N": str(int(self._clock()) + KEEP_SECONDS)}
        items = {
            alert.alert_id: {"alert_id": {"S": alert.alert_id}, EXPIRY_ATTRIBUTE: expires_at}
            for alert in alerts
        }
        rows = list(items.values())
        for start in range(0, len(rows), BATCH_SIZE):
            batch = rows[start : start + BATCH_SIZE]
            batch_write(self._dynamodb, self._table_name, batch, Backoff(deadline))
