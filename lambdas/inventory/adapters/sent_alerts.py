"""The sent-alerts table: which alerts are already out, so a batch delivered again sends none
twice.

Lambda delivers a stream batch again whenever an invocation fails, including one that timed
out or lost its runtime after some of its alerts were published. check_stock notes every alert
it publishes here, by its `alert_id` (the stream record's id), and publishes only the ones not
noted. Powertools' idempotency utility does the same per call, with two writes an alert; one
BatchGetItem a hundred alerts, and notes of up to 25 a request written while publishing goes
on (Notes), keep a bulk load's ten thousand alerts at the pace of its rows (see the benchmark).
"""

from __future__ import annotations

import queue
import threading
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


class Notes:
    """Notes alerts as sent on a thread of its own while publishing goes on: whatever has been
    accepted, up to 25 a request, as soon as the thread is free.

    Measured on a bulk load (100,000 rows, 10,000 alerts, MiniStack): noting each PublishBatch
    request's alerts before the next request put the last alert 1.7 times after the last row;
    on this thread, 1.4 times, because notes overlap the publishing and group themselves when
    they fall behind. When an invocation is cut short, what SNS accepted but the thread had not
    written yet is sent again by the retry: the alerts of the last request or two of each
    publishing lane.

    Used as a context manager: leaving it, by an exception too, notes the rest and waits.
    """

    QUEUED_REQUESTS = 4

    def __init__(self, sent_alerts: SentAlerts, deadline: float) -> None:
        self._sent_alerts = sent_alerts
        self._deadline = deadline
        self._queue: queue.Queue[list[Alert] | None] = queue.Queue(self.QUEUED_REQUESTS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write_as_they_come, daemon=True)
        self._thread.start()

    def __enter__(self) -> Notes:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc_type is None:
            raise self._error

    def add(self, alerts: Sequence[Alert]) -> None:
        """Note `alerts` (from any publishing lane's thread); raises the error an earlier
        note met, if any."""
        if self._error is not None:
            raise self._error
        self._queue.put(list(alerts))

    def _write_as_they_come(self) -> None:
        waiting: list[Alert] = []
        finished = False
        while not finished:
            arrived = [self._queue.get()]
            while not self._queue.empty():
                arrived.append(self._queue.get())
            finished = None in arrived
            waiting.extend(alert for alerts in arrived if alerts for alert in alerts)
            while waiting:  # up to 25 a request, as soon as there are any
                batch, waiting = waiting[:BATCH_SIZE], waiting[BATCH_SIZE:]
                try:
                    self._sent_alerts.record(batch, self._deadline)
                except BaseException as error:  # handed to the publishing thread
                    self._error = error
                    # Take what comes until the end, so add() never blocks on a full queue.
                    while not finished:
                        finished = self._queue.get() is None
                    return
