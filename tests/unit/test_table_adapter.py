"""StockTable.write_batch (retries, backoff, deadline) and BatchWriter (lanes, batching, order).

write_batch is driven through botocore's Stubber, so every request is checked and no network
or emulator is involved; Backoff gets a fake sleep, clock and jitter, so nothing really sleeps.
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

from inventory.adapters.table import (
    BATCH_SIZE,
    Backoff,
    BatchWriter,
    StockTable,
    WriteDeadlineExceeded,
)
from inventory.validation import StockRow

TABLE = "inventory-inventory"
SOURCE = "s3://inventory-uploads-000000000000-us-east-1/stores/berlin.csv"
UPDATED_AT = "2025-01-01T00:00:00.000+00:00"
FAR_AWAY = 1e9  # a deadline no test reaches


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)


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
    StockTable(client, TABLE).write_batch([a, b, c], fake_backoff(fake_time))

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
    StockTable(client, TABLE).write_batch([a], fake_backoff(fake_time))

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
    StockTable(client, TABLE).write_batch([item("berlin", "apples", 1)], fake_backoff(fake_time))

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
        StockTable(client, TABLE).write_batch(
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
        StockTable(client, TABLE).write_batch([a], backoff)

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
        StockTable(client, TABLE).write_batch([item("berlin", "apples", 1)], backoff)

    # then
    # 0.3 s waited; the next wait (0.4 s) would end past the deadline
    assert fake_time.sleeps == pytest.approx([0.1, 0.2])
    assert fake_time.now < 0.5
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
    """Stands in for StockTable: records every batch, applying them in the order written."""

    def __init__(
        self, fail_with: BaseException | None = None, max_delay_seconds: float = 0.0
    ) -> None:
        self.max_delay_seconds = max_delay_seconds  # slow lanes unevenly to shake out races
        self.batches: list[list[dict[str, Any]]] = []
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}
        self.fail_with = fail_with
        self.called = threading.Event()
        self._lock = threading.Lock()

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


def writer_for(table: RecordingTable, lanes: int) -> BatchWriter:
    return BatchWriter(table, SOURCE, UPDATED_AT, FAR_AWAY, lanes)  # type: ignore[arg-type]


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
                "updated_at": {"S": UPDATED_AT},
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
