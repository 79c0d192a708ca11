"""Writing stock rows to the DynamoDB table with BatchWriteItem."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from inventory.validation import StockRow

BATCH_SIZE = 25  # BatchWriteItem's limit
RETRYABLE_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


class WriteDeadlineExceeded(Exception):
    """Rows were still unwritten when the deadline came; the caller fails so Lambda retries."""


class Backoff:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
    Jitter"), bounded by a deadline on the monotonic clock."""

    def __init__(
        self,
        deadline: float,
        base: float = 0.05,
        cap: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._deadline, self._base, self._cap = deadline, base, cap
        self._sleep, self._clock, self._jitter = sleep, clock, jitter
        self.attempts = 0

    def wait(self, what: str) -> None:
        """Sleep before the next attempt, or raise WriteDeadlineExceeded if there is no time."""
        delay = self._jitter() * min(self._cap, self._base * 2**self.attempts)
        self.attempts += 1
        if self._clock() + delay >= self._deadline:
            raise WriteDeadlineExceeded(f"{what} after {self.attempts} attempts")
        self._sleep(delay)


class StockTable:
    """The inventory table: store (HASH), item (RANGE), count, updated_at, source."""

    def __init__(self, dynamodb: Any, table_name: str, lanes: int = 8) -> None:
        self._dynamodb = dynamodb
        self._table_name = table_name
        self._lanes = lanes

    def batch_writer(self, source: str, updated_at: str, deadline: float) -> BatchWriter:
        return BatchWriter(self, source, updated_at, deadline, self._lanes)

    def write_batch(self, items: list[dict[str, Any]], backoff: Backoff) -> None:
        """Write up to 25 items, retrying unprocessed items and throttling until the deadline."""
        request = {self._table_name: [{"PutRequest": {"Item": item}} for item in items]}
        while request:
            try:
                response = self._dynamodb.batch_write_item(RequestItems=request)
            except ClientError as error:
                if error.response["Error"]["Code"] not in RETRYABLE_ERRORS:
                    raise
                backoff.wait(f"BatchWriteItem kept failing ({error.response['Error']['Code']})")
                continue
            request = response.get("UnprocessedItems") or {}
            if request:
                backoff.wait("DynamoDB left items unprocessed")


class BatchWriter:
    """Writes rows 25 a request on parallel lanes, keeping the last row for a key the last
    written.

    A row's lane is chosen by its key, and each lane writes its batches in order, so when a
    file repeats a (store, item) the row that lands last is the one that came last. Each lane's
    queue is short, so a fast reader waits for the writers instead of filling memory.
    """

    def __init__(
        self, table: StockTable, source: str, updated_at: str, deadline: float, lanes: int
    ) -> None:
        self._table = table
        self._attributes = {"source": {"S": source}, "updated_at": {"S": updated_at}}
        self._deadline = deadline
        self._pending: list[dict[tuple[str, str], dict[str, Any]]] = [{} for _ in range(lanes)]
        self._queues: list[queue.Queue[list[dict[str, Any]] | None]] = [
            queue.Queue(maxsize=4) for _ in range(lanes)
        ]
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._drain, args=(q,), daemon=True) for q in self._queues
        ]
        for thread in self._threads:
            thread.start()

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def put(self, row: StockRow) -> None:
        """Queue `row` for writing; raises the first write error any lane has hit."""
        if self._errors:
            raise self._errors[0]
        key = (row.store, row.item)
        lane = hash(key) % len(self._pending)
        pending = self._pending[lane]
        # A key already in this batch is replaced: BatchWriteItem refuses duplicate keys.
        pending[key] = {
            "store": {"S": row.store},
            "item": {"S": row.item},
            "count": {"N": str(row.count)},
            **self._attributes,
        }
        if len(pending) == BATCH_SIZE:
            self._queues[lane].put(list(pending.values()))
            pending.clear()

    def close(self) -> None:
        """Write what is pending, wait for every lane, and raise the first error if any."""
        for pending, lane_queue in zip(self._pending, self._queues, strict=True):
            if pending and not self._errors:
                lane_queue.put(list(pending.values()))
            pending.clear()
            lane_queue.put(None)
        for thread in self._threads:
            thread.join()
        if self._errors:
            raise self._errors[0]

    def _drain(self, lane_queue: queue.Queue[list[dict[str, Any]] | None]) -> None:
        while (items := lane_queue.get()) is not None:
            if self._errors:
                continue  # another lane failed: drain without writing so put() cannot block
            try:
                self._table.write_batch(items, Backoff(self._deadline))
            except BaseException as error:  # handed to the reading thread by put() or close()
                self._errors.append(error)
