"""The summary stays a recount of the table, and history keeps every count change, whatever
order and how many times the stream's records arrive (inventory.adapters.tracker)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from track_stock import handler

from inventory.adapters import tracker as tracker_module
from inventory.adapters.clients import client
from inventory.adapters.tracker import Tracker
from inventory.stock import stock_level
from inventory.tracking import COUNTERS, LATEST, SEPARATOR, change_from_record
from tests.unit.fakes import REGION, FakeContext, use_fake_credentials

SUMMARY, HISTORY = "inventory-summary", "inventory-history"
THRESHOLD = 5


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_credentials(monkeypatch)


def create_tables() -> Any:
    """The summary and history tables as provisioning makes them, in moto."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for name, keys in ((SUMMARY, ["store"]), (HISTORY, ["store_item", "at"])):
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in keys],
            KeySchema=[
                {"AttributeName": key, "KeyType": kind}
                for key, kind in zip(keys, ("HASH", "RANGE"), strict=False)
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    return dynamodb


def image(store: str, item: str, count: int, at: str) -> dict[str, Any]:
    attributes = {
        "store": {"S": store},
        "item": {"S": item},
        "count": {"N": str(count)},
        "updated_at": {"S": at},
        "source": {"S": f"s3://uploads/{at}.csv"},
    }
    level = stock_level(count, THRESHOLD)
    if level is not None:
        attributes["level"] = {"S": level}
    return attributes


def stream(operations: list[tuple[str, str, int | None]]) -> tuple[list[dict[str, Any]], dict]:
    """Stream records for writes (count) and deletes (None) in order, and the final table."""
    table: dict[tuple[str, str], dict[str, Any]] = {}
    records = []
    for number, (store, item, count) in enumerate(operations, start=1):
        old = table.get((store, item))
        at = f"2026-12-{1 + number // 24:02d}T{number % 24:02d}:00:00.000Z"
        new = None if count is None else image(store, item, count, at)
        if old is None and new is None:
            continue
        if new is None:
            del table[(store, item)]
        else:
            table[(store, item)] = new
        body: dict[str, Any] = {
            "Keys": {"store": {"S": store}, "item": {"S": item}},
            "SequenceNumber": str(100 + number),
        }
        if old is not None:
            body["OldImage"] = old
        if new is not None:
            body["NewImage"] = new
        records.append({"eventName": "MODIFY", "dynamodb": body})
    return records, table


def recount(table: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, int]]:
    stores: dict[str, dict[str, int]] = {}
    for (store, _), attributes in table.items():
        counters = stores.setdefault(store, dict.fromkeys(COUNTERS, 0))
        level = attributes.get("level", {}).get("S")
        counters["items"] += 1
        counters["units"] += int(attributes["count"]["N"])
        counters["out_of_stock"] += level == "out"
        counters["low"] += level == "low"
    return stores


def summary(dynamodb: Any) -> Iterator[tuple[str, dict[str, int]]]:
    for item in dynamodb.scan(TableName=SUMMARY)["Items"]:
        counters = {name: int(item.get(name, {"N": "0"})["N"]) for name in COUNTERS}
        if any(counters.values()):
            yield item["store"]["S"], counters


operations = st.lists(
    st.tuples(
        st.sampled_from(["s1", "s2"]),
        st.sampled_from(["a", "b", "c"]),
        st.one_of(st.none(), st.integers(0, 12)),
    ),
    max_size=14,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=operations, data=st.data())
def test_any_delivery_of_the_records_leaves_the_summary_a_recount(
    operations: list[tuple[str, str, int | None]], data: st.DataObject
) -> None:
    records, table = stream(operations)
    # Every record at least once, in any order, some again: redelivery and out of order.
    extra = data.draw(st.lists(st.sampled_from(records), max_size=10) if records else st.just([]))
    deliveries = data.draw(st.permutations(records + extra))
    with mock_aws():
        dynamodb = create_tables()
        tracker = Tracker(dynamodb, SUMMARY, HISTORY, retention_days=90, clock=lambda: 1e9)
        for record in deliveries:
            tracker.apply(change_from_record(record))
        assert dict(summary(dynamodb)) == recount(table)


many_items = st.lists(
    st.tuples(
        st.sampled_from(["s1", "s2", "s3"]),
        st.sampled_from([f"sku-{number}" for number in range(120)]),
        st.one_of(st.none(), st.integers(0, 12)),
    ),
    max_size=300,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=many_items, data=st.data())
def test_any_batching_of_the_records_leaves_the_summary_a_recount_and_history_complete(
    operations: list[tuple[str, str, int | None]], data: st.DataObject
) -> None:
    # given the records cut into batches of any size (past the 99 items of one transaction),
    # some batches delivered again, some records again inside a batch, in stream order
    records, table = stream(operations)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(records) - 1)), max_size=6)))
    batches = [records[start:end] for start, end in pairwise([0, *cuts, len(records)])]
    deliveries = []
    for batch in batches:
        again = data.draw(st.lists(st.sampled_from(batch), max_size=3) if batch else st.just([]))
        deliveries.append(batch + again)
        if data.draw(st.booleans()):
            deliveries.append(batch)  # the whole batch again, as after a failed invocation
    items_a_transaction = data.draw(st.sampled_from([1, 2, 7, tracker_module.ITEMS_A_TRANSACTION]))
    with mock_aws(), patch.object(tracker_module, "ITEMS_A_TRANSACTION", items_a_transaction):
        dynamodb = create_tables()
        tracker = Tracker(dynamodb, SUMMARY, HISTORY, retention_days=90, clock=lambda: 1e9)
        # when
        for batch in deliveries:
            tracker.apply_batch([change_from_record(record) for record in batch])
        # then the summary counts the table, and every count change has its history point
        assert dict(summary(dynamodb)) == recount(table)
        history = dynamodb.scan(TableName=HISTORY)["Items"]
    points = {(i["store_item"]["S"], i["at"]["S"]) for i in history if i["at"]["S"] != LATEST}
    marks = {i["store_item"]["S"]: i["applied_seq"]["S"] for i in history if i["at"]["S"] == LATEST}
    changes = [change_from_record(record) for record in records]
    assert marks == {change.store_item: change.sequence for change in changes}  # the last each
    assert points == {
        (change.store_item, f"{change.new.updated_at}#{change.sequence}")
        for change in changes
        if change.count_changed and change.new is not None
    }


def test_a_transaction_that_meets_another_writer_reads_again_and_counts_once() -> None:
    # given a redelivery that applies the same records between this read and its write
    records, table = stream([("s1", "a", 9), ("s1", "b", 0), ("s1", "a", 4)])
    changes = [change_from_record(record) for record in records]
    with mock_aws():
        dynamodb = create_tables()
        tracker = Tracker(dynamodb, SUMMARY, HISTORY, retention_days=90)
        another_client = boto3.client("dynamodb", region_name=REGION)
        other = Tracker(another_client, SUMMARY, HISTORY, retention_days=90)
        real_transact = dynamodb.transact_write_items
        raced = []

        def transact_after_the_other(**request: Any) -> Any:
            if not raced:
                raced.append(other.apply_batch(changes))
            return real_transact(**request)

        dynamodb.transact_write_items = transact_after_the_other
        # when
        applied = tracker.apply_batch(changes)
        # then the other writer applied all three, this one none, and nothing counts twice
        assert (raced, applied) == ([3], 0)
        assert dict(summary(dynamodb)) == recount(table)


def test_history_keeps_each_count_change_with_its_previous_and_expiry() -> None:
    records, _ = stream([("s1", "a", 9), ("s1", "a", 9), ("s1", "a", 4), ("s1", "a", 2)])
    with mock_aws():
        dynamodb = create_tables()
        tracker = Tracker(dynamodb, SUMMARY, HISTORY, retention_days=90, clock=lambda: 1e9)
        for record in records + records:  # delivered twice
            tracker.apply(change_from_record(record))
        items = dynamodb.query(
            TableName=HISTORY,
            KeyConditionExpression="store_item = :key",
            ExpressionAttributeValues={":key": {"S": f"s1{SEPARATOR}a"}},
        )["Items"]
    points = [item for item in items if item["at"]["S"] != LATEST]
    assert [(p["count"]["N"], p.get("previous", {}).get("N")) for p in points] == [
        ("9", None),
        ("4", "9"),
        ("2", "4"),
    ]
    assert all(p["expires_at"]["N"] == str(10**9 + 90 * 86_400) for p in points)
    assert all(p["source"]["S"].startswith("s3://uploads/") for p in points)
    (latest,) = [item for item in items if item["at"]["S"] == LATEST]
    assert len(latest["points"]["L"]) == 3
    assert float(latest["runs_out_in_days"]["N"]) > 0  # 9, 4, 2 an hour apart: decreasing


def test_a_rising_count_is_not_decreasing() -> None:
    records, _ = stream([("s1", "a", 1), ("s1", "a", 3), ("s1", "a", 8)])
    with mock_aws():
        dynamodb = create_tables()
        tracker = Tracker(dynamodb, SUMMARY, HISTORY, retention_days=90)
        for record in records:
            tracker.apply(change_from_record(record))
        latest = dynamodb.get_item(
            TableName=HISTORY, Key={"store_item": {"S": f"s1{SEPARATOR}a"}, "at": {"S": LATEST}}
        )["Item"]
    assert "runs_out_in_days" not in latest
    assert latest["forecast_at"]["S"]


@pytest.fixture
def tracking_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The handler's environment, with its cached clients made afresh for moto."""
    monkeypatch.setenv("SUMMARY_TABLE", SUMMARY)
    monkeypatch.setenv("HISTORY_TABLE", HISTORY)
    handler.tracker.cache_clear()
    client.cache_clear()
    yield
    handler.tracker.cache_clear()
    client.cache_clear()


@pytest.mark.usefixtures("tracking_handler")
def test_the_handler_applies_a_batch_once_however_often_it_comes() -> None:
    records, table = stream([("s1", "a", 9), ("s1", "b", 0), ("s2", "a", 3), ("s1", "a", 4)])
    with mock_aws():
        dynamodb = create_tables()
        for _ in range(2):
            answer = handler.lambda_handler(
                {"Records": records}, FakeContext("inventory-track_stock")
            )
            assert answer == {"batchItemFailures": []}
        assert dict(summary(dynamodb)) == recount(table)
        assert recount(table)["s1"] == {"items": 2, "units": 4, "out_of_stock": 1, "low": 1}


@pytest.mark.usefixtures("tracking_handler")
def test_the_handler_applies_the_records_before_an_unreadable_one_and_retries_from_it() -> None:
    records, _ = stream([("s1", "a", 9), ("s1", "b", 3), ("s2", "a", 3)])
    unreadable = {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "150"}}  # no Keys
    with mock_aws():
        dynamodb = create_tables()
        context = FakeContext("inventory-track_stock")
        # when the third record cannot be read
        answer = handler.lambda_handler({"Records": [*records[:2], unreadable]}, context)
        # then the two before it count, and Lambda is told to retry from it
        assert answer == {"batchItemFailures": [{"itemIdentifier": "150"}]}
        assert dict(summary(dynamodb)) == {
            "s1": {"items": 2, "units": 12, "out_of_stock": 0, "low": 1}
        }
        # and when it is the first, the invocation fails whole
        with pytest.raises(handler.BatchFailed):
            handler.lambda_handler({"Records": [unreadable, *records]}, context)


def test_an_item_written_without_updated_at_is_tracked_at_the_time_the_stream_recorded_it() -> None:
    # given an item someone wrote straight into the table, with no updated_at
    bare = {"store": {"S": "s1"}, "item": {"S": "a"}, "count": {"N": "3"}}
    record = {
        "eventName": "INSERT",
        "dynamodb": {
            "Keys": {"store": {"S": "s1"}, "item": {"S": "a"}},
            "SequenceNumber": "7",
            "NewImage": bare,
            "ApproximateCreationDateTime": 1764576000.0,  # 2025-12-01T08:00:00Z
        },
    }
    with mock_aws():
        dynamodb = create_tables()
        tracker = Tracker(dynamodb, SUMMARY, HISTORY, retention_days=90, clock=lambda: 1e9)
        # when
        tracker.apply(change_from_record(record))
        # then it counts, and its history point has the stream's time: no record poisons the
        # stream for every later one
        assert dict(summary(dynamodb))["s1"]["items"] == 1
        items = dynamodb.scan(TableName=HISTORY)["Items"]
    assert any(i["at"]["S"].startswith("2025-12-01T08:00:00.000+00:00#") for i in items)
