"""Writing stock rows to the DynamoDB table with BatchWriteItem."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from inventory import settings
from inventory.snapshots import order_token
from inventory.stock import stock_level
from inventory.validation import StockRow

BATCH_SIZE = 25  # BatchWriteItem's limit
BATCH_GET_SIZE = 100  # BatchGetItem's limit
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


def batch_write(
    dynamodb: Any, table_name: str, items: list[dict[str, Any]], backoff: Backoff
) -> None:
    """Put up to 25 items with BatchWriteItem, retrying unprocessed items and throttling until
    the backoff's deadline."""
    request = {table_name: [{"PutRequest": {"Item": item}} for item in items]}
    while request:
        try:
            response = dynamodb.batch_write_item(RequestItems=request)
        except ClientError as error:
            if error.response["Error"]["Code"] not in RETRYABLE_ERRORS:
                raise
            backoff.wait(f"BatchWriteItem kept failing ({error.response['Error']['Code']})")
            continue
        request = response.get("UnprocessedItems") or {}
        if request:
            backoff.wait("DynamoDB left items unprocessed")


def batch_get(
    dynamodb: Any, table_name: str, keys: list[dict[str, Any]], backoff: Backoff
) -> list[dict[str, Any]]:
    """Read up to 100 items by key with BatchGetItem (strongly consistent), retrying unprocessed
    keys until the backoff's deadline. Keys with no item are left out."""
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {table_name: {"Keys": keys, "ConsistentRead": True}}
    while request:
        response = dynamodb.batch_get_item(RequestItems=request)
        found.extend(response.get("Responses", {}).get(table_name, []))
        request = response.get("UnprocessedKeys") or {}
        if request:
            backoff.wait("DynamoDB left keys unprocessed")
    return found


class Written(Enum):
    """What a conditional write of a late file's row did."""

    REFUSED = "the table holds the row from a newer snapshot"
    YES = "written"
    # The row already carried this very snapshot: an earlier attempt at this file wrote it,
    # perhaps with an unconditional batch that overtook a newer file (see BatchWriter.close).
    OVER_ITSELF = "written over this snapshot's own earlier write"


@dataclass(frozen=True)
class Snapshot:
    """One uploaded file as the tables know it: which object version, taken when."""

    bucket: str
    key: str
    version_id: str | None
    taken_at: str  # ISO 8601 UTC with milliseconds: text order is time order
    sequencer: str | None = None  # S3's order of the events of one key

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def order(self) -> str:
        """Where this snapshot stands among its store's: text order is snapshot order."""
        return order_token(self.taken_at, self.key, self.sequencer, self.version_id)


# A row or claim written before order tokens existed has only its time: it stands before any
# snapshot of a later time, and ties with one of the same time (the rule of that time).
_NOT_NEWER = (
    "attribute_not_exists(updated_at) OR (attribute_not_exists(#order) AND updated_at <= :at)"
    " OR #order <= :order"
)


class StockTable:
    """The inventory table (store HASH, item RANGE; count, updated_at, source) and the
    snapshots table that orders the files of each store.

    A file is a snapshot taken at `snapshot_at` (when S3 received it). Before the first row of
    a store is written, the file claims the store: a conditional update that succeeds only if
    no newer snapshot of that store has been loaded. A file holding the newest snapshot writes
    with BatchWriteItem; an older one, arriving late, writes each row only if the row is not
    newer in the table (a conditional PutItem, slower, but late files are rare).
    """

    def __init__(
        self, dynamodb: Any, table_name: str, snapshots_table: str, lanes: int = 8
    ) -> None:
        self._dynamodb = dynamodb
        self._table_name = table_name
        self._snapshots_table = snapshots_table
        self._lanes = lanes

    def batch_writer(self, snapshot: Snapshot, deadline: float) -> BatchWriter:
        return BatchWriter(self, snapshot, deadline, self._lanes)

    def claim_store(self, store: str, snapshot: Snapshot, backoff: Backoff) -> bool:
        """Record `snapshot` as the store's newest; False if a newer one is recorded.

        An equal order is a redelivery of the same upload, which may write again.
        """
        version = {"S": snapshot.version_id} if snapshot.version_id else {"NULL": True}
        sequencer = {"S": snapshot.sequencer} if snapshot.sequencer else {"NULL": True}
        while True:
            try:
                self._dynamodb.update_item(
                    TableName=self._snapshots_table,
                    Key={"store": {"S": store}},
                    UpdateExpression=(
                        "SET snapshot_at = :at, #order = :order, #bucket = :bucket, #key = :key,"
                        " version_id = :v, sequencer = :seq"
                    ),
                    ConditionExpression=(
                        "attribute_not_exists(snapshot_at)"
                        " OR (attribute_not_exists(#order) AND snapshot_at <= :at)"
                        " OR #order <= :order"
                    ),
                    ExpressionAttributeNames={
                        "#bucket": "bucket",
                        "#key": "key",
                        "#order": "order",
                    },
                    ExpressionAttributeValues={
                        ":at": {"S": snapshot.taken_at},
                        ":order": {"S": snapshot.order},
                        ":bucket": {"S": snapshot.bucket},
                        ":key": {"S": snapshot.key},
                        ":v": version,
                        ":seq": sequencer,
                    },
                )
                return True
            except ClientError as error:
                code = error.response["Error"]["Code"]
                if code == "ConditionalCheckFailedException":
                    return False
                if code not in RETRYABLE_ERRORS:
                    raise
                backoff.wait(f"UpdateItem kept failing ({code})")

    def newer_snapshots(
        self, stores: list[str], snapshot: Snapshot, backoff: Backoff
    ) -> set[Snapshot]:
        """The snapshots recorded for `stores` that are newer than `snapshot`."""
        newer: set[Snapshot] = set()
        for start in range(0, len(stores), BATCH_GET_SIZE):
            keys = [{"store": {"S": store}} for store in stores[start : start + BATCH_GET_SIZE]]
            for item in batch_get(self._dynamodb, self._snapshots_table, keys, backoff):
                recorded = Snapshot(
                    bucket=item["bucket"]["S"],
                    key=item["key"]["S"],
                    version_id=item.get("version_id", {}).get("S"),
                    taken_at=item["snapshot_at"]["S"],
                    sequencer=item.get("sequencer", {}).get("S"),
                )
                if "order" in item:
                    is_newer = item["order"]["S"] > snapshot.order
                else:
                    is_newer = recorded.taken_at > snapshot.taken_at
                if is_newer:
                    newer.add(recorded)
        return newer

    def write_batch(self, items: list[dict[str, Any]], backoff: Backoff) -> None:
        """Write up to 25 items, retrying unprocessed items and throttling until the deadline."""
        batch_write(self._dynamodb, self._table_name, items, backoff)

    def write_if_not_newer(self, item: dict[str, Any], backoff: Backoff) -> Written:
        """Write `item` unless the table holds the row from a newer snapshot."""
        while True:
            try:
                response = self._dynamodb.put_item(
                    TableName=self._table_name,
                    Item=item,
                    ConditionExpression=_NOT_NEWER,
                    ExpressionAttributeNames={"#order": "order"},
                    ExpressionAttributeValues={":at": item["updated_at"], ":order": item["order"]},
                    ReturnValues="ALL_OLD",
                )
            except ClientError as error:
                code = error.response["Error"]["Code"]
                if code == "ConditionalCheckFailedException":
                    return Written.REFUSED
                if code not in RETRYABLE_ERRORS:
                    raise
                backoff.wait(f"PutItem kept failing ({code})")
                continue
            previous = response.get("Attributes", {}).get("order")
            return Written.OVER_ITSELF if previous == item["order"] else Written.YES


# A file naming more stores than this still claims the others (so later files know of it), but
# writes their rows one by one with a condition rather than remember every claim: memory stays
# bounded.
MAX_CLAIMED_STORES = 10_000


@dataclass
class _Job:
    """What a lane writes next: a batch of the newest snapshot, or one row of an older one."""

    items: list[dict[str, Any]]
    conditional: bool


class BatchWriter:
    """Writes rows 25 a request on parallel lanes.

    Each key comes once (the loader passes only a key's last row), and a row's lane is chosen
    by its key. Each lane's queue is short, so a fast reader waits for the writers instead of
    filling memory.
    """

    def __init__(self, table: StockTable, snapshot: Snapshot, deadline: float, lanes: int) -> None:
        self._table = table
        self._snapshot = snapshot
        self._attributes = {
            "source": {"S": snapshot.uri},
            "updated_at": {"S": snapshot.taken_at},
            "order": {"S": snapshot.order},
        }
        self._threshold = settings.low_stock_threshold()
        self._deadline = deadline
        self._claims: dict[str, bool] = {}
        self._pending: list[dict[tuple[str, str], dict[str, Any]]] = [{} for _ in range(lanes)]
        self._queues: list[queue.Queue[_Job | None]] = [
            queue.Queue(maxsize=4) for _ in range(lanes)
        ]
        # Rows a newer snapshot kept, counted per lane (each lane's count has a single writer).
        self._superseded = [0] * lanes
        self._rewritten_stores: set[str] = set()
        self._errors: list[BaseException] = []
        self.overtaken: set[Snapshot] = set()
        self._threads = [
            threading.Thread(target=self._drain, args=(lane,), daemon=True) for lane in range(lanes)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def superseded(self) -> int:
        """How many keys were not written because the table holds them from a newer file."""
        return sum(self._superseded)

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
        item = {
            "store": {"S": row.store},
            "item": {"S": row.item},
            "count": {"N": str(row.count)},
            **self._attributes,
            **level_attributes(row, self._threshold),
        }
        if not self._newest_snapshot_of(row.store):
            self._queues[lane].put(_Job([item], conditional=True))
            return
        pending = self._pending[lane]
        pending[key] = item
        if len(pending) == BATCH_SIZE:
            self._queues[lane].put(_Job(list(pending.values()), conditional=False))
            pending.clear()

    def _newest_snapshot_of(self, store: str) -> bool:
        claimed = self._claims.get(store)
        if claimed is None:
            claimed = self._table.claim_store(store, self._snapshot, Backoff(self._deadline))
            if len(self._claims) >= MAX_CLAIMED_STORES:
                return False  # recorded, but not remembered: write conditionally
            self._claims[store] = claimed
        return claimed

    def close(self) -> None:
        """Write what is pending, wait for every lane, and raise the first error if any."""
        for pending, lane_queue in zip(self._pending, self._queues, strict=True):
            if pending and not self._errors:
                lane_queue.put(_Job(list(pending.values()), conditional=False))
            pending.clear()
            lane_queue.put(None)
        for thread in self._threads:
            thread.join()
        if self._errors:
            raise self._errors[0]
        # A newer file may have claimed a store while this one was still writing it with
        # unconditional batches, and some of ours may have landed after its rows. Rare (two
        # snapshots of one store loading at the same moment), and cheap to detect: the newer
        # snapshots are handed back, to be loaded again, which restores their rows. The same
        # holds for a store this file lost the claim to but found its own rows in: an earlier,
        # failed attempt at this file wrote them, and they may cover the newer file's.
        suspects = {store for store, claimed in self._claims.items() if claimed}
        suspects |= self._rewritten_stores
        self.overtaken = self._table.newer_snapshots(
            sorted(suspects), self._snapshot, Backoff(self._deadline)
        )

    def _drain(self, lane: int) -> None:
        lane_queue = self._queues[lane]
        while (job := lane_queue.get()) is not None:
            if self._errors:
                continue  # another lane failed: drain without writing so put() cannot block
            try:
                if not job.conditional:
                    self._table.write_batch(job.items, Backoff(self._deadline))
                else:
                    item = job.items[0]
                    written = self._table.write_if_not_newer(item, Backoff(self._deadline))
                    if written is Written.REFUSED:
                        self._superseded[lane] += 1
                    elif written is Written.OVER_ITSELF:
                        self._rewritten_stores.add(item["store"]["S"])
            except BaseException as error:  # handed to the reading thread by put() or close()
                self._errors.append(error)


def level_attributes(row: StockRow, stack_threshold: int) -> dict[str, Any]:
    """`low_stock_threshold` when the row gave one, and `level` ("out", "low") when the item is
    out or low by it (else by the stack's threshold): the by_level index holds just those."""
    attributes: dict[str, Any] = {}
    if row.threshold is not None:
        attributes["low_stock_threshold"] = {"N": str(row.threshold)}
    level = stock_level(row.count, stack_threshold if row.threshold is None else row.threshold)
    if level is not None:
        attributes["level"] = {"S": level}
    return attributes
