"""StockTable (write_batch, claim_store, write_if_not_newer: retries, backoff, deadline;
newer_snapshots) and BatchWriter (lanes, batching, order, the claim of each store, the
conditional path, the newer snapshots that overtook a load).

StockTable's calls are driven through botocore's Stubber, so every request is checked and no
network or emulator is involved; Backoff gets a fake sleep, clock and jitter, so nothing really
sleeps. BatchWriter runs against a recording fake, and against moto's tables end to end.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from inventory.adapters import table as table_module
from inventory.adapters.table import (
    BATCH_SIZE,
    Backoff,
    BatchWriter,
    Snapshot,
    StockTable,
    WriteDeadlineExceeded,
    Written,
    level_attributes,
)
from inventory.validation import StockRow
from tests.unit.fakes import create_inventory_table, create_snapshots_table, use_fake_credentials

TABLE = "inventory-inventory"
SNAPSHOTS = "inventory-snapshots"
BUCKET = "inventory-uploads-000000000000-us-east-1"
KEY = "stores/berlin.csv"
VERSION = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
SOURCE = f"s3://{BUCKET}/{KEY}"
SNAPSHOT_AT = "2025-01-01T00:00:00.000+00:00"
EARLIER = "2024-12-31T23:59:59.999+00:00"
LATER = "2025-01-01T00:00:00.001+00:00"
FAR_AWAY = 1e9  # a deadline no test reaches


def snapshot(
    taken_at: str = SNAPSHOT_AT, key: str = KEY, version_id: str | None = VERSION
) -> Snapshot:
    """A file of the uploads bucket, as the tables know it."""
    return Snapshot(bucket=BUCKET, key=key, version_id=version_id, taken_at=taken_at)


SNAPSHOT = snapshot()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_credentials(monkeypatch)


@pytest.fixture
def dynamodb(aws_env: None) -> Iterator[tuple[Any, Stubber]]:
    """A DynamoDB client whose every call is answered by the Stubber."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber


class FakeTime:
    """A clock that only moves when the backoff sleeps, and a record of the sleeps."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fake_backoff(
    fake_time: FakeTime, deadline: float = FAR_AWAY, jitter: float = 1.0, **kwargs: Any
) -> Backoff:
    return Backoff(
        deadline,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        jitter=lambda: jitter,
        **kwargs,
    )


def item(store: str, name: str, count: int) -> dict[str, Any]:
    return {"store": {"S": store}, "item": {"S": name}, "count": {"N": str(count)}}


def puts(*items: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": one}} for one in items]


def throttled(stubber: Stubber, code: str = "ProvisionedThroughputExceededException") -> None:
    stubber.add_client_error("batch_write_item", service_error_code=code, http_status_code=400)


# --- StockTable.write_batch ------------------------------------------------------------------


def test_write_batch_resends_unprocessed_items_until_none_are_left(dynamodb):
    # given
    client, stubber = dynamodb
    a, b, c = item("berlin", "apples", 1), item("berlin", "pears", 2), item("berlin", "figs", 3)
    stubber.add_response(
        "batch_write_item",
        {"UnprocessedItems": {TABLE: puts(b, c)}},
        {"RequestItems": {TABLE: puts(a, b, c)}},
    )
    stubber.add_response(
        "batch_write_item",
        {"UnprocessedItems": {TABLE: puts(c)}},
        {"RequestItems": {TABLE: puts(b, c)}},
    )
    stubber.add_response(
        "batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {TABLE: puts(c)}}
    )
    fake_time = FakeTime()

    # when
    StockTable(client, TABLE, SNAPSHOTS).write_batch([a, b, c], fake_backoff(fake_time))

    # then
    stubber.assert_no_pending_responses()
    assert fake_time.sleeps == [0.05, 0.1]  # one wait before each resend, growing


def test_write_batch_retries_after_throughput_exceeded(dynamodb):
    # given
    client, stubber = dynamodb
    a = item("berlin", "apples", 1)
    throttled(stubber)
    stubber.add_response("batch_write_item", {}, {"RequestItems": {TABLE: puts(a)}})
    fake_time = FakeTime()

    # when
    StockTable(client, TABLE, SNAPSHOTS).write_batch([a], fake_backoff(fake_time))

    # then
    stubber.assert_no_pending_responses()
    assert len(fake_time.sleeps) == 1


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "RequestLimitExceeded", "InternalServerError"]
)
def test_write_batch_retries_other_transient_errors(dynamodb, code):
    # given
    client, stubber = dynamodb
    throttled(stubber, code)
    stubber.add_response("batch_write_item", {})
    fake_time = FakeTime()

    # when
    StockTable(client, TABLE, SNAPSHOTS).write_batch(
        [item("berlin", "apples", 1)], fake_backoff(fake_time)
    )

    # then
    stubber.assert_no_pending_responses()
    assert len(fake_time.sleeps) == 1


def test_write_batch_raises_a_non_retryable_error_at_once(dynamodb):
    # given
    client, stubber = dynamodb
    throttled(stubber, "ValidationException")
    fake_time = FakeTime()

    # when
    with pytest.raises(ClientError) as raised:
        StockTable(client, TABLE, SNAPSHOTS).write_batch(
            [item("berlin", "apples", 1)], fake_backoff(fake_time)
        )

    # then
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert fake_time.sleeps == []
    stubber.assert_no_pending_responses()


def test_write_batch_gives_up_when_the_deadline_is_too_near_to_wait(dynamodb):
    # given
    client, stubber = dynamodb
    a = item("berlin", "apples", 1)
    stubber.add_response("batch_write_item", {"UnprocessedItems": {TABLE: puts(a)}})
    fake_time = FakeTime(now=99.99)
    backoff = fake_backoff(fake_time, deadline=100.0)

    # when
    with pytest.raises(WriteDeadlineExceeded):
        StockTable(client, TABLE, SNAPSHOTS).write_batch([a], backoff)

    # then
    assert fake_time.sleeps == []
    stubber.assert_no_pending_responses()


def test_write_batch_keeps_retrying_throttling_only_until_the_deadline(dynamodb):
    # given
    client, stubber = dynamodb
    for _ in range(3):
        throttled(stubber)
    fake_time = FakeTime()
    backoff = fake_backoff(fake_time, deadline=0.5, base=0.1, cap=10.0)

    # when
    with pytest.raises(WriteDeadlineExceeded):
        StockTable(client, TABLE, SNAPSHOTS).write_batch([item("berlin", "apples", 1)], backoff)

    # then
    # 0.3 s waited; the next wait (0.4 s) would end past the deadline
    assert fake_time.sleeps == pytest.approx([0.1, 0.2])
    assert fake_time.now < 0.5
    stubber.assert_no_pending_responses()


# --- StockTable.claim_store ------------------------------------------------------------------


def claim_request(store: str, claimed: Snapshot = SNAPSHOT) -> dict[str, Any]:
    """The UpdateItem that claims `store` for the file `claimed`."""
    version = {"S": claimed.version_id} if claimed.version_id else {"NULL": True}
    sequencer = {"S": claimed.sequencer} if claimed.sequencer else {"NULL": True}
    return {
        "TableName": SNAPSHOTS,
        "Key": {"store": {"S": store}},
        "UpdateExpression": (
            "SET snapshot_at = :at, #order = :order, #bucket = :bucket, #key = :key,"
            " version_id = :v, sequencer = :seq"
        ),
        "ConditionExpression": (
            "attribute_not_exists(snapshot_at)"
            " OR (attribute_not_exists(#order) AND snapshot_at <= :at)"
            " OR #order <= :order"
        ),
        "ExpressionAttributeNames": {"#bucket": "bucket", "#key": "key", "#order": "order"},
        "ExpressionAttributeValues": {
            ":at": {"S": claimed.taken_at},
            ":order": {"S": claimed.order},
            ":bucket": {"S": claimed.bucket},
            ":key": {"S": claimed.key},
            ":v": version,
            ":seq": sequencer,
        },
    }


def refused_claim(stubber: Stubber, code: str = "ConditionalCheckFailedException") -> None:
    stubber.add_client_error("update_item", service_error_code=code, http_status_code=400)


def test_claim_store_records_the_snapshot_unless_a_newer_one_is_recorded(dynamodb):
    # given
    client, stubber = dynamodb
    stubber.add_response("update_item", {}, claim_request("berlin"))
    fake_time = FakeTime()

    # when
    claimed = StockTable(client, TABLE, SNAPSHOTS).claim_store(
        "berlin", SNAPSHOT, fake_backoff(fake_time)
    )

    # then: the time, bucket, key and version of the file are recorded
    assert claimed is True
    assert fake_time.sleeps == []
    stubber.assert_no_pending_responses()


def test_claim_store_of_an_unversioned_file_records_a_null_version(dynamodb):
    # given
    client, stubber = dynamodb
    unversioned = snapshot(version_id=None)
    request = claim_request("berlin", unversioned)
    assert request["ExpressionAttributeValues"][":v"] == {"NULL": True}
    stubber.add_response("update_item", {}, request)

    # when
    claimed = StockTable(client, TABLE, SNAPSHOTS).claim_store(
        "berlin", unversioned, fake_backoff(FakeTime())
    )

    # then
    assert claimed is True
    stubber.assert_no_pending_responses()


def test_claim_store_is_refused_when_a_newer_snapshot_of_the_store_is_loaded(dynamodb):
    # given
    client, stubber = dynamodb
    stubber.add_client_error(
        "update_item",
        service_error_code="ConditionalCheckFailedException",
        http_status_code=400,
        expected_params=claim_request("berlin"),
    )
    fake_time = FakeTime()

    # when
    claimed = StockTable(client, TABLE, SNAPSHOTS).claim_store(
        "berlin", SNAPSHOT, fake_backoff(fake_time)
    )

    # then: refused by the condition is an answer, not a failure: no retry
    assert claimed is False
    assert fake_time.sleeps == []
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
    ],
)
def test_claim_store_retries_throttling_with_growing_backoff(dynamodb, code):
    # given: two throttled attempts, then the claim goes through
    client, stubber = dynamodb
    refused_claim(stubber, code)
    refused_claim(stubber, code)
    stubber.add_response("update_item", {}, claim_request("berlin"))
    fake_time = FakeTime()

    # when
    claimed = StockTable(client, TABLE, SNAPSHOTS).claim_store(
        "berlin", SNAPSHOT, fake_backoff(fake_time)
    )

    # then
    assert claimed is True
    assert fake_time.sleeps == [0.05, 0.1]
    stubber.assert_no_pending_responses()


def test_claim_store_retried_after_throttling_can_still_be_refused(dynamodb):
    # given: throttled once, then a newer snapshot is found recorded
    client, stubber = dynamodb
    refused_claim(stubber, "ThrottlingException")
    refused_claim(stubber)
    fake_time = FakeTime()

    # when
    claimed = StockTable(client, TABLE, SNAPSHOTS).claim_store(
        "berlin", SNAPSHOT, fake_backoff(fake_time)
    )

    # then
    assert claimed is False
    assert fake_time.sleeps == [0.05]
    stubber.assert_no_pending_responses()


def test_claim_store_keeps_retrying_throttling_only_until_the_deadline(dynamodb):
    # given
    client, stubber = dynamodb
    for _ in range(3):
        refused_claim(stubber, "ThrottlingException")
    fake_time = FakeTime()
    backoff = fake_backoff(fake_time, deadline=0.5, base=0.1, cap=10.0)

    # when
    with pytest.raises(WriteDeadlineExceeded, match="UpdateItem kept failing"):
        StockTable(client, TABLE, SNAPSHOTS).claim_store("berlin", SNAPSHOT, backoff)

    # then: 0.3 s waited; the next wait (0.4 s) would end past the deadline
    assert fake_time.sleeps == pytest.approx([0.1, 0.2])
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "ValidationException"])
def test_claim_store_raises_any_other_error_at_once(dynamodb, code):
    # given
    client, stubber = dynamodb
    refused_claim(stubber, code)
    fake_time = FakeTime()

    # when
    with pytest.raises(ClientError) as raised:
        StockTable(client, TABLE, SNAPSHOTS).claim_store(
            "berlin", SNAPSHOT, fake_backoff(fake_time)
        )

    # then
    assert raised.value.response["Error"]["Code"] == code
    assert fake_time.sleeps == []
    stubber.assert_no_pending_responses()


# --- StockTable.newer_snapshots (Stubber) ----------------------------------------------------


def recorded(store: str, of: Snapshot) -> dict[str, Any]:
    """The snapshots table's item for `store`, claimed by the file `of`."""
    version = {"S": of.version_id} if of.version_id else {"NULL": True}
    return {
        "store": {"S": store},
        "snapshot_at": {"S": of.taken_at},
        "order": {"S": of.order},
        "bucket": {"S": of.bucket},
        "key": {"S": of.key},
        "version_id": version,
        "sequencer": {"S": of.sequencer} if of.sequencer else {"NULL": True},
    }


def batch_get(stores: list[str]) -> dict[str, Any]:
    """The BatchGetItem request for `stores`' claims."""
    return {
        "RequestItems": {
            SNAPSHOTS: {
                "Keys": [{"store": {"S": store}} for store in stores],
                "ConsistentRead": True,
            }
        }
    }


def test_newer_snapshots_reads_the_claims_consistently_and_resends_unprocessed_keys(dynamodb):
    # given: DynamoDB answers berlin, leaves paris unprocessed, then answers it
    client, stubber = dynamodb
    noon = snapshot(LATER, key="stores/noon.csv")
    stubber.add_response(
        "batch_get_item",
        {
            "Responses": {SNAPSHOTS: [recorded("berlin", noon)]},
            "UnprocessedKeys": batch_get(["paris"])["RequestItems"],
        },
        batch_get(["berlin", "paris"]),
    )
    stubber.add_response(
        "batch_get_item",
        {"Responses": {SNAPSHOTS: [recorded("paris", noon)]}, "UnprocessedKeys": {}},
        batch_get(["paris"]),
    )

    # when
    newer = StockTable(client, TABLE, SNAPSHOTS).newer_snapshots(
        ["berlin", "paris"], SNAPSHOT, fake_backoff(FakeTime())
    )

    # then: one snapshot, however many stores it claimed
    assert newer == {noon}
    stubber.assert_no_pending_responses()


def test_newer_snapshots_of_no_stores_makes_no_request(dynamodb):
    # given
    client, stubber = dynamodb

    # when
    newer = StockTable(client, TABLE, SNAPSHOTS).newer_snapshots(
        [], SNAPSHOT, fake_backoff(FakeTime())
    )

    # then
    assert newer == set()
    stubber.assert_no_pending_responses()


# --- StockTable.write_if_not_newer -----------------------------------------------------------


def stamped(store: str, name: str, count: int, at: str = SNAPSHOT_AT) -> dict[str, Any]:
    """An item as BatchWriter writes it: with the file's source, snapshot time and order."""
    return {
        **item(store, name, count),
        "source": {"S": SOURCE},
        "updated_at": {"S": at},
        "order": {"S": snapshot(at).order},
    }


def conditional_put(one: dict[str, Any]) -> dict[str, Any]:
    """The PutItem that writes `one` unless the table holds the row from a newer snapshot."""
    return {
        "TableName": TABLE,
        "Item": one,
        "ConditionExpression": (
            "attribute_not_exists(updated_at)"
            " OR (attribute_not_exists(#order) AND updated_at <= :at)"
            " OR #order <= :order"
        ),
        "ExpressionAttributeNames": {"#order": "order"},
        "ExpressionAttributeValues": {":at": one["updated_at"], ":order": one["order"]},
        "ReturnValues": "ALL_OLD",
    }


def refused_put(stubber: Stubber, code: str = "ConditionalCheckFailedException") -> None:
    stubber.add_client_error("put_item", service_error_code=code, http_status_code=400)


def test_write_if_not_newer_puts_the_item_on_condition_its_row_is_not_newer(dynamodb):
    # given
    client, stubber = dynamodb
    apples = stamped("berlin", "apples", 7)
    stubber.add_response("put_item", {}, conditional_put(apples))
    fake_time = FakeTime()

    # when
    written = StockTable(client, TABLE, SNAPSHOTS).write_if_not_newer(
        apples, fake_backoff(fake_time)
    )

    # then
    assert written is Written.YES
    assert fake_time.sleeps == []
    stubber.assert_no_pending_responses()


def test_write_if_not_newer_reports_a_row_that_is_newer_in_the_table_as_not_written(dynamodb):
    # given
    client, stubber = dynamodb
    refused_put(stubber)
    fake_time = FakeTime()

    # when
    written = StockTable(client, TABLE, SNAPSHOTS).write_if_not_newer(
        stamped("berlin", "apples", 7), fake_backoff(fake_time)
    )

    # then: refused by the condition is an answer, not a failure: no retry
    assert written is Written.REFUSED
    assert fake_time.sleeps == []
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
    ],
)
def test_write_if_not_newer_retries_throttling_with_growing_backoff(dynamodb, code):
    # given
    client, stubber = dynamodb
    apples = stamped("berlin", "apples", 7)
    refused_put(stubber, code)
    refused_put(stubber, code)
    stubber.add_response("put_item", {}, conditional_put(apples))
    fake_time = FakeTime()

    # when
    written = StockTable(client, TABLE, SNAPSHOTS).write_if_not_newer(
        apples, fake_backoff(fake_time)
    )

    # then
    assert written is Written.YES
    assert fake_time.sleeps == [0.05, 0.1]
    stubber.assert_no_pending_responses()


def test_write_if_not_newer_raises_a_non_retryable_error_at_once(dynamodb):
    # given
    client, stubber = dynamodb
    refused_put(stubber, "ValidationException")
    fake_time = FakeTime()

    # when
    with pytest.raises(ClientError) as raised:
        StockTable(client, TABLE, SNAPSHOTS).write_if_not_newer(
            stamped("berlin", "apples", 7), fake_backoff(fake_time)
        )

    # then
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert fake_time.sleeps == []
    stubber.assert_no_pending_responses()


def test_write_if_not_newer_keeps_retrying_throttling_only_until_the_deadline(dynamodb):
    # given
    client, stubber = dynamodb
    for _ in range(3):
        refused_put(stubber, "ThrottlingException")
    fake_time = FakeTime()
    backoff = fake_backoff(fake_time, deadline=0.5, base=0.1, cap=10.0)

    # when
    with pytest.raises(WriteDeadlineExceeded, match="PutItem kept failing"):
        StockTable(client, TABLE, SNAPSHOTS).write_if_not_newer(
            stamped("berlin", "apples", 7), backoff
        )

    # then: 0.3 s waited; the next wait (0.4 s) would end past the deadline
    assert fake_time.sleeps == pytest.approx([0.1, 0.2])
    stubber.assert_no_pending_responses()


# --- Backoff -------------------------------------------------------------------------------


def test_backoff_delays_double_until_the_cap():
    # given
    fake_time = FakeTime()
    backoff = fake_backoff(fake_time, base=0.1, cap=1.0)

    # when
    for _ in range(6):
        backoff.wait("retrying")

    # then
    assert fake_time.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert backoff.attempts == 6


def test_backoff_uses_full_jitter_of_the_capped_exponential_delay():
    # given
    fake_time = FakeTime()
    draws = iter([0.5, 0.25, 0.0, 1.0, 0.9])
    backoff = Backoff(
        FAR_AWAY,
        base=0.1,
        cap=1.0,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        jitter=lambda: next(draws),
    )

    # when
    for _ in range(5):
        backoff.wait("retrying")

    # then: delay = jitter() * min(cap, base * 2**attempt)
    assert fake_time.sleeps == pytest.approx([0.05, 0.05, 0.0, 0.8, 0.9])


def test_backoff_with_the_default_jitter_spreads_delays_between_zero_and_the_ceiling():
    # given
    random.seed(7)
    fake_time = FakeTime()
    backoffs = [
        Backoff(FAR_AWAY, base=1.0, cap=8.0, sleep=fake_time.sleep, clock=fake_time.clock)
        for _ in range(50)
    ]

    # when
    for backoff in backoffs:
        for _ in range(4):  # ceilings 1, 2, 4, 8
            backoff.wait("retrying")

    # then
    fourth_waits = fake_time.sleeps[3::4]
    assert all(0.0 <= delay <= 8.0 for delay in fourth_waits)
    assert len(set(fourth_waits)) == len(fourth_waits)  # jittered: no two clients in lockstep
    first_waits = fake_time.sleeps[0::4]
    assert all(0.0 <= delay <= 1.0 for delay in first_waits)


def test_backoff_raises_instead_of_sleeping_past_the_deadline():
    # given
    fake_time = FakeTime(now=9.0)
    backoff = fake_backoff(fake_time, deadline=10.0, base=2.0, cap=5.0)

    # when
    with pytest.raises(WriteDeadlineExceeded, match="after 1 attempts"):
        backoff.wait("DynamoDB left items unprocessed")

    # then
    assert fake_time.sleeps == []


# --- BatchWriter ---------------------------------------------------------------------------


class RecordingTable:
    """Stands in for StockTable: records every claim, batch and conditional put, applying the
    writes in the order they are made, and every question about newer snapshots.

    Claims of `refused_stores` fail (a newer snapshot of them is loaded); a conditional put of
    a key in `newer_keys` is refused (the table holds that row from a newer snapshot);
    `recorded` is the snapshot the snapshots table holds for a store, as a newer file left it.
    """

    def __init__(
        self,
        fail_with: BaseException | None = None,
        max_delay_seconds: float = 0.0,
        refused_stores: tuple[str, ...] = (),
        newer_keys: tuple[tuple[str, str], ...] = (),
        recorded: dict[str, Snapshot] | None = None,
    ) -> None:
        self.max_delay_seconds = max_delay_seconds  # slow lanes unevenly to shake out races
        self.batches: list[list[dict[str, Any]]] = []
        self.conditional_puts: list[dict[str, Any]] = []
        self.claims: list[tuple[str, Snapshot]] = []
        self.asked: list[tuple[list[str], Snapshot]] = []
        self.recorded = dict(recorded or {})
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}
        self.fail_with = fail_with
        self.refused_stores = set(refused_stores)
        self.newer_keys = set(newer_keys)
        self.called = threading.Event()
        self._lock = threading.Lock()

    def claim_store(self, store: str, claimed: Snapshot, backoff: Backoff) -> bool:
        self.claims.append((store, claimed))
        return store not in self.refused_stores

    def newer_snapshots(self, stores: list[str], than: Snapshot, backoff: Backoff) -> set[Snapshot]:
        self.asked.append((list(stores), than))
        return {
            self.recorded[store]
            for store in stores
            if store in self.recorded and self.recorded[store].order > than.order
        }

    def write_batch(self, items: list[dict[str, Any]], backoff: Backoff) -> None:
        self.called.set()
        if self.fail_with is not None:
            raise self.fail_with
        keys = [(one["store"]["S"], one["item"]["S"]) for one in items]
        assert len(set(keys)) == len(keys), "BatchWriteItem refuses a repeated key in a request"
        if self.max_delay_seconds:
            time.sleep(random.uniform(0, self.max_delay_seconds))
        with self._lock:
            self.batches.append(items)
            for key, one in zip(keys, items, strict=True):
                self.stored[key] = one

    def write_if_not_newer(self, one: dict[str, Any], backoff: Backoff) -> Written:
        self.called.set()
        if self.fail_with is not None:
            raise self.fail_with
        key = (one["store"]["S"], one["item"]["S"])
        if self.max_delay_seconds:
            time.sleep(random.uniform(0, self.max_delay_seconds))
        with self._lock:
            self.conditional_puts.append(one)
            if key in self.newer_keys:
                return Written.REFUSED
            previous = self.stored.get(key)
            self.stored[key] = one
            if previous is not None and previous["order"] == one["order"]:
                return Written.OVER_ITSELF
            return Written.YES


def writer_for(table: RecordingTable, lanes: int) -> BatchWriter:
    return BatchWriter(table, SNAPSHOT, FAR_AWAY, lanes)  # type: ignore[arg-type]


def row(line: int, store: str, name: str, count: int) -> StockRow:
    return StockRow(line=line, store=store, item=name, count=count)


def written_keys(table: RecordingTable) -> list[tuple[str, str]]:
    return [(one["store"]["S"], one["item"]["S"]) for batch in table.batches for one in batch]


def test_batch_writer_writes_every_row_once_in_batches_of_at_most_25():
    # given
    table = RecordingTable()
    rows = [row(n + 2, f"store-{n % 3}", f"item-{n}", n) for n in range(60)]

    # when
    with writer_for(table, lanes=4) as writer:
        for one in rows:
            writer.put(one)

    # then
    assert sorted(written_keys(table)) == sorted(one.key for one in rows)
    assert all(0 < len(batch) <= BATCH_SIZE for batch in table.batches)
    assert table.conditional_puts == []  # every store was claimed: no row took the slow path


def test_batch_writer_writes_full_batches_of_25_before_close():
    # given
    table = RecordingTable()
    writer = writer_for(table, lanes=1)

    # when
    for n in range(BATCH_SIZE * 2 + 3):
        writer.put(row(n + 2, "berlin", f"item-{n}", n))
    writer.close()

    # then
    assert [len(batch) for batch in table.batches] == [25, 25, 3]


def test_batch_writer_writes_the_count_with_the_source_and_time_of_the_file():
    # given
    table = RecordingTable()

    # when
    with writer_for(table, lanes=2) as writer:
        writer.put(row(2, "berlin", "apples", 7))

    # then
    assert table.batches == [
        [
            {
                "store": {"S": "berlin"},
                "item": {"S": "apples"},
                "count": {"N": "7"},
                "source": {"S": SOURCE},
                "updated_at": {"S": SNAPSHOT_AT},
                "order": {"S": SNAPSHOT.order},
            }
        ]
    ]


def test_batch_writer_keeps_the_last_row_of_a_key_repeated_within_a_batch():
    # given
    table = RecordingTable()

    # when
    with writer_for(table, lanes=1) as writer:
        writer.put(row(2, "berlin", "apples", 1))
        writer.put(row(3, "berlin", "pears", 2))
        writer.put(row(4, "berlin", "apples", 3))

    # then
    assert len(table.batches) == 1
    counts = {one["item"]["S"]: one["count"]["N"] for one in table.batches[0]}
    assert counts == {"apples": "3", "pears": "2"}


def test_batch_writer_writes_the_last_row_of_a_key_last_even_across_batches_and_lanes():
    # given
    chooser = random.Random(20250101)
    keys = [(f"store-{n % 5}", f"item-{n}") for n in range(100)]
    rows = [row(line, *chooser.choice(keys), count=line) for line in range(2, 402)]
    last_count = {one.key: one.count for one in rows}  # a later row overwrites an earlier one
    table = RecordingTable(max_delay_seconds=0.003)

    # when
    with writer_for(table, lanes=2) as writer:
        for one in rows:
            writer.put(one)

    # then
    final = {key: int(one["count"]["N"]) for key, one in table.stored.items()}
    assert final == last_count
    batches_per_key: dict[tuple[str, str], int] = {}
    for key in written_keys(table):
        batches_per_key[key] = batches_per_key.get(key, 0) + 1
    assert max(batches_per_key.values()) > 1, "no key spanned batches: the test proves nothing"


def test_batch_writer_raises_a_lane_error_from_close():
    # given
    failure = RuntimeError("table is gone")
    table = RecordingTable(fail_with=failure)
    writer = writer_for(table, lanes=4)
    writer.put(row(2, "berlin", "apples", 1))

    # when
    with pytest.raises(RuntimeError) as raised:
        writer.close()

    # then
    assert raised.value is failure


def test_batch_writer_raises_a_lane_error_from_put_without_blocking_the_reader():
    # given
    failure = RuntimeError("table is gone")
    table = RecordingTable(fail_with=failure)
    writer = writer_for(table, lanes=1)
    for n in range(BATCH_SIZE):  # a full batch goes to the lane, which fails
        writer.put(row(n + 2, "berlin", f"item-{n}", n))
    assert table.called.wait(timeout=5)

    def keep_reading() -> None:
        """Put rows (well past the lane's queue size) until put() reports the lane's error."""
        give_up, n = time.monotonic() + 5, BATCH_SIZE
        while time.monotonic() < give_up:
            writer.put(row(n + 2, "berlin", f"item-{n}", n))
            n += 1

    # when
    with pytest.raises(RuntimeError) as raised:
        keep_reading()

    # then
    assert raised.value is failure
    with pytest.raises(RuntimeError):
        writer.close()
    assert len(table.batches) == 0


def test_batch_writer_used_as_a_context_manager_raises_the_lane_error_on_exit():
    # given
    failure = RuntimeError("table is gone")
    table = RecordingTable(fail_with=failure)

    def load_ten_rows() -> None:
        with writer_for(table, lanes=2) as writer:
            for n in range(10):
                writer.put(row(n + 2, "berlin", f"item-{n}", n))

    # when
    with pytest.raises(RuntimeError) as raised:
        load_ten_rows()

    # then
    assert raised.value is failure


# --- BatchWriter: claiming each store, and the conditional path of a late file -------------


def test_batch_writer_claims_each_store_once_before_its_first_row():
    # given: 60 rows over three stores, interleaved
    table = RecordingTable()
    rows = [row(n + 2, f"store-{n % 3}", f"item-{n}", n) for n in range(60)]

    # when
    with writer_for(table, lanes=4) as writer:
        for one in rows:
            writer.put(one)

    # then: one claim per store, in the order the stores first appear, with the file's time
    assert table.claims == [("store-0", SNAPSHOT), ("store-1", SNAPSHOT), ("store-2", SNAPSHOT)]


def test_batch_writer_claims_a_store_before_queueing_its_first_row():
    # given
    table = RecordingTable()
    writer = writer_for(table, lanes=1)

    # when
    writer.put(row(2, "berlin", "apples", 1))
    claims_after_first_row = list(table.claims)
    writer.put(row(3, "berlin", "pears", 2))
    writer.close()

    # then
    assert claims_after_first_row == [("berlin", SNAPSHOT)]
    assert len(table.claims) == 1


def test_batch_writer_writes_every_row_of_a_refused_store_with_a_conditional_put():
    # given: a newer snapshot of berlin is loaded; paris is ours
    table = RecordingTable(refused_stores=("berlin",))
    rows = [row(n + 2, "berlin" if n % 2 else "paris", f"item-{n}", n) for n in range(40)]

    # when
    with writer_for(table, lanes=4) as writer:
        for one in rows:
            writer.put(one)

    # then: berlin's rows went one by one, paris's in batches; each store claimed once
    assert sorted(one["item"]["S"] for one in table.conditional_puts) == sorted(
        one.item for one in rows if one.store == "berlin"
    )
    assert {key[0] for key in written_keys(table)} == {"paris"}
    assert sorted(written_keys(table)) == sorted(one.key for one in rows if one.store == "paris")
    assert [claim[0] for claim in table.claims] == ["paris", "berlin"]
    assert writer.superseded == 0


def test_conditional_put_carries_the_count_source_and_snapshot_time_of_the_file():
    # given
    table = RecordingTable(refused_stores=("berlin",))

    # when
    with writer_for(table, lanes=2) as writer:
        writer.put(row(2, "berlin", "apples", 7))

    # then
    assert table.conditional_puts == [
        {
            "store": {"S": "berlin"},
            "item": {"S": "apples"},
            "count": {"N": "7"},
            "source": {"S": SOURCE},
            "updated_at": {"S": SNAPSHOT_AT},
            "order": {"S": SNAPSHOT.order},
        }
    ]
    assert table.batches == []


def test_rows_refused_by_the_condition_are_superseded_and_the_others_written():
    # given: the table holds apples and pears from a newer snapshot of berlin, but no figs
    newer = (("berlin", "apples"), ("berlin", "pears"))
    table = RecordingTable(refused_stores=("berlin",), newer_keys=newer)

    # when
    with writer_for(table, lanes=3) as writer:
        writer.put(row(2, "berlin", "apples", 12))
        writer.put(row(3, "berlin", "figs", 3))
        writer.put(row(4, "berlin", "pears", 7))

    # then
    assert writer.superseded == 2
    assert set(table.stored) == {("berlin", "figs")}
    assert table.stored["berlin", "figs"]["count"] == {"N": "3"}


def test_stores_beyond_max_claimed_stores_are_claimed_on_every_row_and_written_conditionally(
    monkeypatch,
):
    # given: room to remember two claims
    monkeypatch.setattr(table_module, "MAX_CLAIMED_STORES", 2)
    table = RecordingTable()
    rows = [
        row(2, "berlin", "apples", 1),
        row(3, "paris", "apples", 2),
        row(4, "rome", "apples", 3),
        row(5, "berlin", "pears", 4),
        row(6, "rome", "pears", 5),
    ]

    # when
    with writer_for(table, lanes=2) as writer:
        for one in rows:
            writer.put(one)

    # then: rome is claimed (so later, older files know of it) before each of its rows, as
    # the claim is not remembered, and every row of it went through the condition
    assert table.claims == [
        ("berlin", SNAPSHOT),
        ("paris", SNAPSHOT),
        ("rome", SNAPSHOT),
        ("rome", SNAPSHOT),
    ]
    assert sorted(one["item"]["S"] for one in table.conditional_puts) == ["apples", "pears"]
    assert {one["store"]["S"] for one in table.conditional_puts} == {"rome"}
    assert sorted(written_keys(table)) == [
        ("berlin", "apples"),
        ("berlin", "pears"),
        ("paris", "apples"),
    ]
    assert writer.superseded == 0


def test_a_store_beyond_max_claimed_stores_refused_by_a_newer_file_is_superseded(monkeypatch):
    # given: no room for any claim; a newer snapshot of rome holds its apples
    monkeypatch.setattr(table_module, "MAX_CLAIMED_STORES", 0)
    table = RecordingTable(refused_stores=("rome",), newer_keys=(("rome", "apples"),))

    # when
    with writer_for(table, lanes=2) as writer:
        writer.put(row(2, "rome", "apples", 3))
        writer.put(row(3, "rome", "figs", 1))

    # then
    assert [claim[0] for claim in table.claims] == ["rome", "rome"]
    assert table.batches == []
    assert set(table.stored) == {("rome", "figs")}
    assert writer.superseded == 1


def test_superseded_counts_each_refused_row_on_whichever_lane():
    # given: a late file naming twelve keys the table holds from a newer file, and one key it
    # does not hold, over four lanes
    newer = tuple((store, f"item-{n}") for n in range(6) for store in ("berlin", "paris"))
    table = RecordingTable(refused_stores=("berlin", "paris"), newer_keys=newer)
    rows = [row(n + 2, *key, count=n) for n, key in enumerate(newer)]
    rows.append(row(14, "paris", "figs", 1))

    # when
    with writer_for(table, lanes=4) as writer:
        for one in rows:
            writer.put(one)

    # then: 12 refused puts, 12 superseded rows
    assert len(table.conditional_puts) == 13
    assert writer.superseded == 12
    assert set(table.stored) == {("paris", "figs")}


def test_a_conditional_put_error_is_raised_from_close():
    # given
    failure = RuntimeError("table is gone")
    table = RecordingTable(fail_with=failure, refused_stores=("berlin",))
    writer = writer_for(table, lanes=2)
    writer.put(row(2, "berlin", "apples", 1))

    # when
    with pytest.raises(RuntimeError) as raised:
        writer.close()

    # then
    assert raised.value is failure


# --- BatchWriter.overtaken: newer snapshots that claimed a store while this file wrote it ----

NOON = snapshot(LATER, key="stores/berlin-noon.csv", version_id="noon-version")
ROME_NOON = snapshot(LATER, key="stores/rome-noon.csv", version_id=None)


def test_overtaken_is_the_newer_snapshots_recorded_for_the_stores_this_file_claimed():
    # given: since this file claimed berlin and paris, a newer file claimed berlin
    table = RecordingTable(recorded={"berlin": NOON, "paris": SNAPSHOT})

    # when
    with writer_for(table, lanes=2) as writer:
        writer.put(row(2, "berlin", "apples", 1))
        writer.put(row(3, "paris", "apples", 2))
        writer.put(row(4, "berlin", "pears", 3))

    # then: asked once, about each claimed store once, for snapshots newer than this file's
    assert table.asked == [(["berlin", "paris"], SNAPSHOT)]
    assert writer.overtaken == {NOON}


def test_overtaken_is_empty_when_no_newer_file_claimed_a_store_meanwhile():
    # given
    table = RecordingTable(recorded={"berlin": SNAPSHOT})

    # when
    with writer_for(table, lanes=2) as writer:
        writer.put(row(2, "berlin", "apples", 1))

    # then
    assert table.asked == [(["berlin"], SNAPSHOT)]
    assert writer.overtaken == set()


def test_overtaken_asks_only_about_stores_written_with_unconditional_batches(monkeypatch):
    # given: paris was refused (its rows went through the condition) and rome was past the
    # claim bound (conditional too); newer snapshots are recorded for all three stores
    monkeypatch.setattr(table_module, "MAX_CLAIMED_STORES", 2)
    paris_noon = snapshot(LATER, key="stores/paris-noon.csv")
    table = RecordingTable(
        refused_stores=("paris",),
        recorded={"berlin": NOON, "paris": paris_noon, "rome": ROME_NOON},
    )

    # when
    with writer_for(table, lanes=2) as writer:
        writer.put(row(2, "berlin", "apples", 1))
        writer.put(row(3, "paris", "apples", 2))
        writer.put(row(4, "rome", "apples", 3))

    # then: a conditional write cannot overwrite a newer row, so only berlin can be overtaken
    assert table.asked == [(["berlin"], SNAPSHOT)]
    assert writer.overtaken == {NOON}


def test_overtaken_is_not_asked_before_close_nor_when_a_lane_failed():
    # given
    failure = RuntimeError("table is gone")
    table = RecordingTable(fail_with=failure, recorded={"berlin": NOON})
    writer = writer_for(table, lanes=2)
    writer.put(row(2, "berlin", "apples", 1))
    before_close = set(writer.overtaken)

    # when
    with pytest.raises(RuntimeError):
        writer.close()

    # then
    assert before_close == set()
    assert table.asked == []
    assert writer.overtaken == set()


# --- BatchWriter on StockTable, against moto ------------------------------------------------


class CountingDynamoDB:
    """Moto's inventory and snapshots tables, and the number of requests of each operation."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[str] = []
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)  # list.append is atomic: lanes may call at once

    def count(self, operation: str) -> int:
        return self.calls.count(operation)

    def items(self) -> dict[tuple[str, str], dict[str, Any]]:
        found = self.client.scan(TableName=TABLE, ConsistentRead=True)["Items"]
        return {(one["store"]["S"], one["item"]["S"]): one for one in found}

    def claims(self) -> dict[str, dict[str, Any]]:
        """The snapshots table's items, as stored, by store."""
        found = self.client.scan(TableName=SNAPSHOTS, ConsistentRead=True)["Items"]
        return {one["store"]["S"]: one for one in found}

    def snapshots(self) -> dict[str, Snapshot]:
        """The snapshot recorded for each store."""
        return {
            store: Snapshot(
                bucket=one["bucket"]["S"],
                key=one["key"]["S"],
                version_id=one["version_id"].get("S"),
                taken_at=one["snapshot_at"]["S"],
            )
            for store, one in self.claims().items()
        }


@pytest.fixture
def tables(aws_env: None) -> Iterator[CountingDynamoDB]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_inventory_table(client, TABLE)
        create_snapshots_table(client, SNAPSHOTS)
        yield CountingDynamoDB(client)


def load_rows(
    tables: CountingDynamoDB, rows: list[StockRow], of: Snapshot = SNAPSHOT
) -> BatchWriter:
    """Write `rows` as the file `of`; return the closed writer."""
    stock = StockTable(tables.client, TABLE, SNAPSHOTS, lanes=3)
    with stock.batch_writer(of, FAR_AWAY) as writer:
        for one in rows:
            writer.put(one)
    return writer


def test_newest_file_claims_each_store_once_and_writes_with_batch_write_item(tables):
    # given: 60 rows over two stores, nothing loaded before
    rows = [row(n + 2, f"store-{n % 2}", f"item-{n}", n) for n in range(60)]

    # when
    writer = load_rows(tables, rows)

    # then: claimed, batch-written, and the claims read back once at the end
    assert tables.count("UpdateItem") == 2
    assert tables.count("PutItem") == 0
    assert tables.count("BatchWriteItem") >= 60 / BATCH_SIZE
    assert tables.count("BatchGetItem") == 1
    assert tables.claims()["store-0"] == {
        "store": {"S": "store-0"},
        "snapshot_at": {"S": SNAPSHOT_AT},
        "order": {"S": SNAPSHOT.order},
        "bucket": {"S": BUCKET},
        "key": {"S": KEY},
        "version_id": {"S": VERSION},
        "sequencer": {"NULL": True},
    }
    assert tables.snapshots() == {"store-0": SNAPSHOT, "store-1": SNAPSHOT}
    assert {key: int(one["count"]["N"]) for key, one in tables.items().items()} == {
        one.key: one.count for one in rows
    }
    assert {one["updated_at"]["S"] for one in tables.items().values()} == {SNAPSHOT_AT}
    assert {one["source"]["S"] for one in tables.items().values()} == {SOURCE}
    assert writer.superseded == 0
    assert writer.overtaken == set()


def test_a_file_of_an_unversioned_bucket_records_a_null_version(tables):
    # given
    unversioned = snapshot(version_id=None)

    # when
    load_rows(tables, [row(2, "berlin", "apples", 1)], unversioned)

    # then
    assert tables.claims()["berlin"]["version_id"] == {"NULL": True}
    assert tables.snapshots() == {"berlin": unversioned}


def test_late_file_writes_only_the_rows_that_are_not_newer_in_the_table(tables):
    # given: the newer snapshot of berlin (apples, pears) is loaded
    noon = snapshot(LATER, key="stores/berlin-noon.csv", version_id="noon-version")
    load_rows(tables, [row(2, "berlin", "apples", 5), row(3, "berlin", "pears", 0)], noon)
    before = tables.items()
    tables.calls.clear()

    # when: an older snapshot of berlin arrives late, with apples, pears and figs
    morning = snapshot(EARLIER)
    writer = load_rows(
        tables,
        [row(2, "berlin", "apples", 12), row(3, "berlin", "pears", 7), row(4, "berlin", "figs", 3)],
        morning,
    )

    # then: one refused claim, one conditional PutItem a row, no batch; no store was written
    # unconditionally, so there is nothing to read back
    assert tables.count("UpdateItem") == 1
    assert tables.count("PutItem") == 3
    assert tables.count("BatchWriteItem") == 0
    assert tables.count("BatchGetItem") == 0
    after = tables.items()
    assert after["berlin", "apples"] == before["berlin", "apples"]
    assert after["berlin", "pears"] == before["berlin", "pears"]
    assert after["berlin", "figs"] == {
        "store": {"S": "berlin"},
        "item": {"S": "figs"},
        "count": {"N": "3"},
        "source": {"S": SOURCE},
        "updated_at": {"S": EARLIER},
        "order": {"S": morning.order},
        "level": {"S": "low"},  # 3 is at or below the default threshold, 5
    }
    assert writer.superseded == 2
    assert writer.overtaken == set()
    assert tables.snapshots() == {"berlin": noon}


def test_late_file_claims_the_stores_no_newer_file_named(tables):
    # given: a newer snapshot of berlin only
    load_rows(tables, [row(2, "berlin", "apples", 5)], snapshot(LATER))
    tables.calls.clear()

    # when: an older file names berlin and paris
    writer = load_rows(
        tables, [row(2, "berlin", "apples", 12), row(3, "paris", "apples", 4)], snapshot(EARLIER)
    )

    # then: paris is claimed and batch-written; berlin is conditional and superseded
    assert tables.count("UpdateItem") == 2
    assert tables.count("PutItem") == 1
    assert tables.count("BatchWriteItem") == 1
    assert tables.count("BatchGetItem") == 1
    assert tables.snapshots()["paris"].taken_at == EARLIER
    assert tables.snapshots()["berlin"].taken_at == LATER
    assert writer.superseded == 1
    assert writer.overtaken == set()
    assert int(tables.items()["paris", "apples"]["count"]["N"]) == 4


def test_redelivered_file_with_the_same_snapshot_time_claims_again_and_rewrites(tables):
    # given
    rows = [row(2, "berlin", "apples", 5), row(3, "berlin", "pears", 0)]
    load_rows(tables, rows)
    first = tables.items()
    tables.calls.clear()

    # when
    writer = load_rows(tables, rows)

    # then: an equal time is not older: the batch path again, same bytes; nor is it newer
    assert tables.count("UpdateItem") == 1
    assert tables.count("PutItem") == 0
    assert tables.count("BatchWriteItem") >= 1
    assert tables.items() == first
    assert writer.superseded == 0
    assert writer.overtaken == set()


def test_newer_file_claims_over_an_older_one_and_overwrites_its_rows(tables):
    # given
    load_rows(tables, [row(2, "berlin", "apples", 5)], snapshot(EARLIER))
    noon = snapshot(LATER, key="stores/berlin-noon.csv")

    # when
    writer = load_rows(tables, [row(2, "berlin", "apples", 9)], noon)

    # then
    apples = tables.items()["berlin", "apples"]
    assert (apples["count"]["N"], apples["updated_at"]["S"]) == ("9", LATER)
    assert tables.snapshots()["berlin"] == noon
    assert writer.overtaken == set()


def test_a_store_written_past_the_claim_bound_is_still_protected_from_older_files(
    tables, monkeypatch
):
    # given: a newer file whose second store went past the bound
    monkeypatch.setattr(table_module, "MAX_CLAIMED_STORES", 1)
    load_rows(tables, [row(2, "berlin", "apples", 1), row(3, "paris", "figs", 0)], snapshot(LATER))
    monkeypatch.setattr(table_module, "MAX_CLAIMED_STORES", 10_000)
    assert tables.snapshots()["paris"].taken_at == LATER  # claimed, though not remembered

    # when: an older snapshot of paris arrives late
    writer = load_rows(tables, [row(2, "paris", "figs", 99)], snapshot(EARLIER))

    # then: the newer row stays
    figs = tables.items()["paris", "figs"]
    assert (figs["count"]["N"], figs["updated_at"]["S"]) == ("0", LATER)
    assert writer.superseded == 1


MORNING = snapshot(EARLIER, key="stores/berlin-morning.csv", version_id="morning-version")
NOON_ROWS = [row(2, "berlin", "apples", 0), row(3, "berlin", "pears", 4)]


def overlapping_loads(tables: CountingDynamoDB) -> tuple[BatchWriter, BatchWriter]:
    """The morning file claims berlin and queues its rows; the noon file of berlin is loaded
    whole by an overlapping invocation; then the morning file ends, its batch landing last.
    Return the morning and the noon writers, closed."""
    stock = StockTable(tables.client, TABLE, SNAPSHOTS, lanes=2)
    morning = stock.batch_writer(MORNING, FAR_AWAY)
    morning.put(row(2, "berlin", "apples", 99))
    noon = load_rows(tables, NOON_ROWS, NOON)
    morning.close()
    return morning, noon


def test_an_older_file_still_loading_when_a_newer_one_claims_the_store_hands_it_back(tables):
    # given: the noon file claimed berlin while the morning file was still writing it

    # when
    morning, noon = overlapping_loads(tables)

    # then: the morning row landed over the noon one (the race is not prevented), and the
    # morning writer hands back the noon snapshot, to be loaded again
    apples = tables.items()["berlin", "apples"]
    assert (apples["count"]["N"], apples["updated_at"]["S"]) == ("99", EARLIER)
    assert morning.overtaken == {NOON}
    assert morning.superseded == 0
    assert noon.overtaken == set()
    assert tables.snapshots()["berlin"] == NOON


def test_loading_again_the_snapshot_that_overtook_a_load_restores_its_rows(tables):
    # given
    morning, _ = overlapping_loads(tables)
    [overtaken] = morning.overtaken

    # when
    again = load_rows(tables, NOON_ROWS, overtaken)

    # then: the noon rows, byte for byte as the noon file wrote them, and nothing more to heal
    items = tables.items()
    assert {key: int(one["count"]["N"]) for key, one in items.items()} == {
        ("berlin", "apples"): 0,
        ("berlin", "pears"): 4,
    }
    assert {one["updated_at"]["S"] for one in items.values()} == {LATER}
    assert {one["source"]["S"] for one in items.values()} == {NOON.uri}
    assert again.overtaken == set()
    assert again.superseded == 0


# --- StockTable.newer_snapshots, against moto ----------------------------------------------


def test_newer_snapshots_returns_only_strictly_newer_claims_across_requests_of_100(tables):
    # given: 250 stores claimed by files older, as old as, and newer than ours, or not at all;
    # one newer file unversioned, and one newer file that only the last store names
    stock = StockTable(tables.client, TABLE, SNAPSHOTS)
    newer = snapshot(LATER, key="stores/noon.csv", version_id="noon-version")
    newest_unversioned = snapshot("2025-01-02T00:00:00.000+00:00", "stores/x.csv", None)
    last_only = snapshot(LATER, key="stores/store-249.csv", version_id="v249")
    claimed_by = {
        0: newer,
        1: newest_unversioned,
        2: SNAPSHOT,  # as old as ours: a redelivery of ours, or a tie: not newer
        3: snapshot(EARLIER, key="stores/morning.csv"),
    }
    stores = [f"store-{n:03d}" for n in range(250)]
    for n, store in enumerate(stores):
        claimant = last_only if n == 249 else claimed_by.get(n % 5)
        if claimant is not None:
            assert stock.claim_store(store, claimant, Backoff(FAR_AWAY))
    tables.calls.clear()

    # when
    found = stock.newer_snapshots(stores, SNAPSHOT, Backoff(time.monotonic() + 60))

    # then: each newer snapshot once, the unversioned one with no version; 100 keys a request
    assert found == {newer, newest_unversioned, last_only}
    assert tables.count("BatchGetItem") == 3


def test_newer_snapshots_of_stores_never_claimed_is_empty(tables):
    # given
    stock = StockTable(tables.client, TABLE, SNAPSHOTS)

    # when
    found = stock.newer_snapshots(["berlin", "paris"], SNAPSHOT, fake_backoff(FakeTime()))

    # then
    assert found == set()
    assert tables.count("BatchGetItem") == 1


def test_write_if_not_newer_tells_a_write_over_its_own_snapshot_apart(dynamodb):
    # given a row the table already holds from this very snapshot (an earlier attempt)
    client, stubber = dynamodb
    apples = stamped("berlin", "apples", 7)
    stubber.add_response(
        "put_item", {"Attributes": {"order": apples["order"]}}, conditional_put(apples)
    )

    # when
    written = StockTable(client, TABLE, SNAPSHOTS).write_if_not_newer(
        apples, fake_backoff(FakeTime())
    )

    # then
    assert written is Written.OVER_ITSELF
    stubber.assert_no_pending_responses()


def test_a_retried_late_file_that_finds_its_own_rows_hands_back_the_newer_snapshot():
    # given: an earlier attempt at the morning file wrote its rows with batches after the noon
    # file had claimed the store, then failed before it could look; noon is recorded as newer
    table = RecordingTable(refused_stores={"berlin"})
    noon = Snapshot(BUCKET, "stores/berlin-noon.csv", "v2", "2025-01-01T12:00:00.000+00:00")
    table.recorded["berlin"] = noon
    morning = Snapshot(BUCKET, "stores/berlin.csv", "v1", "2025-01-01T09:00:00.000+00:00")
    table.stored[("berlin", "apples")] = {
        "store": {"S": "berlin"},
        "item": {"S": "apples"},
        "count": {"N": "99"},
        "source": {"S": morning.uri},
        "updated_at": {"S": morning.taken_at},
        "order": {"S": morning.order},
    }

    # when the retry loads the morning file again, losing the claim to noon
    writer = BatchWriter(table, morning, time.monotonic() + 60, lanes=2)
    writer.put(StockRow(2, "berlin", "apples", 99))
    writer.close()

    # then it found its own row in the way and hands noon back to be loaded again
    assert writer.overtaken == {noon}
    assert table.asked == [(["berlin"], morning)]


@pytest.mark.parametrize(
    ("count", "threshold", "stack_threshold", "attributes"),
    [
        (0, None, 5, {"level": {"S": "out"}}),
        (5, None, 5, {"level": {"S": "low"}}),
        (6, None, 5, {}),
        (6, 10, 5, {"low_stock_threshold": {"N": "10"}, "level": {"S": "low"}}),
        (3, 0, 5, {"low_stock_threshold": {"N": "0"}}),
        (0, 0, 5, {"low_stock_threshold": {"N": "0"}, "level": {"S": "out"}}),
    ],
)
def test_an_item_carries_its_level_and_its_own_threshold_only_when_it_has_them(
    count, threshold, stack_threshold, attributes
):
    # given a row, with or without its own threshold
    row = StockRow(line=2, store="berlin", item="figs", count=count, threshold=threshold)
    # when
    written = level_attributes(row, stack_threshold)
    # then `level` is absent in stock, so the by_level index holds only out and low items
    assert written == attributes


def test_the_writer_marks_levels_by_the_stack_s_threshold(tables, monkeypatch):
    # given the stack's threshold of 10
    monkeypatch.setenv("LOW_STOCK_THRESHOLD", "10")
    # when
    load_rows(tables, [row(2, "berlin", f"i{n}", n) for n in (0, 10, 11)], SNAPSHOT)
    # then
    levels = {key[1]: item.get("level", {}).get("S") for key, item in tables.items().items()}
    assert levels == {"i0": "out", "i10": "low", "i11": None}
