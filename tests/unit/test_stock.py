"""The out-of-stock and low-stock rules, applied to recorded DynamoDB stream events, and the
alert it makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.stock import (
    LOW_STOCK_EVENT,
    OUT_OF_STOCK_EVENT,
    Alert,
    alert_for_stream_record,
    stock_level,
    went_low,
    went_out_of_stock,
)

EVENTS = Path(__file__).resolve().parent.parent / "events"
SOURCE = "s3://inventory-uploads-000000000000-us-east-1/stores/berlin.csv"


def stream_records(name: str) -> list[dict[str, Any]]:
    """The Records of a recorded stream event in tests/events."""
    records: list[dict[str, Any]] = json.loads((EVENTS / name).read_text())["Records"]
    return records


def alerts_for(name: str) -> list[Alert | None]:
    return [alert_for_stream_record(record) for record in stream_records(name)]


def echo_plus(count: int = 0, previous_count: int | None = None, **changes: Any) -> Alert:
    fields: dict[str, Any] = {
        "store": "Berlin",
        "item": "Echo Plus",
        "count": count,
        "previous_count": previous_count,
        "updated_at": "2024-05-01T09:30:00.000+00:00",
        "source": SOURCE,
        "alert_id": "00000000000000000000000000000001",
    }
    return Alert(**(fields | changes))


@pytest.mark.parametrize(
    ("old_count", "new_count", "alert"),
    [
        (None, 0, True),
        (5, 0, True),
        (1, 0, True),
        (0, 0, False),
        (0, 5, False),
        (5, 4, False),
        (None, 5, False),
        (5, None, False),
        (0, None, False),
        (None, None, False),
    ],
)
def test_an_item_goes_out_of_stock_only_when_it_drops_to_zero_from_absent_or_positive(
    old_count: int | None, new_count: int | None, alert: bool
) -> None:
    # given a count before and after a change
    # when
    result = went_out_of_stock(old_count, new_count)
    # then
    assert result is alert


@pytest.mark.parametrize(
    ("event_file", "previous_count"),
    [("stream_insert_zero.json", None), ("stream_modify_5_to_0.json", 5)],
)
def test_a_recorded_drop_to_zero_gives_one_alert(
    event_file: str, previous_count: int | None
) -> None:
    # given
    [record] = stream_records(event_file)
    # when
    alert = alert_for_stream_record(record)
    # then
    new_image = record["dynamodb"]["NewImage"]
    assert alert == echo_plus(
        previous_count=previous_count,
        updated_at=new_image["updated_at"]["S"],
        alert_id=record["eventID"],
    )


def test_an_alert_is_named_by_its_stream_record_so_every_delivery_of_it_has_the_same_id() -> None:
    # given one record, delivered twice, and another record of the same change
    [record] = stream_records("stream_modify_5_to_0.json")
    other = json.loads(json.dumps(record)) | {"eventID": "ffffffffffffffffffffffffffffffff"}
    # when
    first, again, different = (alert_for_stream_record(r) for r in (record, record, other))
    # then
    assert first is not None
    assert again is not None
    assert different is not None
    assert first.alert_id == again.alert_id == record["eventID"]
    assert different.alert_id != first.alert_id


@pytest.mark.parametrize(
    "event_file",
    ["stream_modify_0_to_0.json", "stream_modify_0_to_5.json", "stream_remove.json"],
)
def test_a_recorded_change_that_is_not_a_drop_to_zero_gives_no_alert(event_file: str) -> None:
    # given a recorded stream event
    # when
    alerts = alerts_for(event_file)
    # then
    assert alerts == [None]


def test_a_mixed_batch_alerts_only_for_the_items_that_ran_out_in_order() -> None:
    # given a batch of inserts, modifies and a remove
    records = stream_records("stream_mixed_batch.json")
    # when
    alerts = [alert for alert in alerts_for("stream_mixed_batch.json") if alert is not None]
    # then
    assert len(records) > len(alerts)
    assert [(a.item, a.count, a.previous_count) for a in alerts] == [
        ("Echo Plus", 0, None),
        ("Echo Dot", 0, 12),
    ]


def test_the_recorded_events_have_the_stream_record_shape() -> None:
    # given every recorded stream event
    files = sorted(EVENTS.glob("stream_*.json"))
    # when
    records = [record for path in files for record in stream_records(path.name)]
    # then
    assert len(files) >= 6
    for record in records:
        change = record["dynamodb"]
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventName"] in ("INSERT", "MODIFY", "REMOVE")
        assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert ("NewImage" in change) == (record["eventName"] != "REMOVE")
        assert ("OldImage" in change) == (record["eventName"] != "INSERT")
        assert set(change["Keys"]) == {"store", "item"}
    sequence_numbers = [int(record["dynamodb"]["SequenceNumber"]) for record in records]
    assert len(set(sequence_numbers)) == len(sequence_numbers)


@pytest.mark.parametrize(
    "record",
    [
        pytest.param({"eventName": "REMOVE", "dynamodb": {}}, id="remove-without-images"),
        pytest.param({"dynamodb": {"NewImage": {"count": {"N": "0"}}}}, id="no-event-name"),
        pytest.param({"eventName": "MODIFY", "dynamodb": {"Keys": {}}}, id="keys-only-view"),
        pytest.param(
            {"eventName": "MODIFY", "dynamodb": {"NewImage": {"count": {"S": "0"}}}},
            id="count-not-a-number",
        ),
    ],
)
def test_a_record_without_a_new_zero_count_gives_no_alert(record: dict[str, Any]) -> None:
    # given
    # when
    alert = alert_for_stream_record(record)
    # then
    assert alert is None


def test_an_alert_reads_as_one_sentence() -> None:
    # given
    alert = echo_plus(previous_count=5)
    # when
    sentence = alert.sentence()
    # then
    assert sentence == "Berlin is out of stock of Echo Plus"


def test_an_alert_document_is_json_with_the_event_and_every_field() -> None:
    # given
    alert = echo_plus(previous_count=5)
    # when
    document = json.loads(alert.document())
    # then
    assert document == {
        "event": OUT_OF_STOCK_EVENT,
        "store": "Berlin",
        "item": "Echo Plus",
        "count": 0,
        "previous_count": 5,
        "updated_at": "2024-05-01T09:30:00.000+00:00",
        "source": SOURCE,
        "alert_id": "00000000000000000000000000000001",
    }
    assert OUT_OF_STOCK_EVENT == "out_of_stock"


def test_an_alert_document_keeps_non_ascii_names_readable() -> None:
    # given
    alert = echo_plus(store="München", item='Echo "Plus" 🔊', previous_count=None)
    # when
    document = alert.document()
    # then
    assert "München" in document
    assert json.loads(document)["item"] == 'Echo "Plus" 🔊'
    assert json.loads(document)["previous_count"] is None


def test_an_alert_has_message_attributes_to_filter_on() -> None:
    # given
    alert = echo_plus()
    # when
    attributes = alert.attributes()
    # then
    assert attributes == {"store": "Berlin", "item": "Echo Plus", "event": "out_of_stock"}


@pytest.mark.parametrize(
    ("count", "threshold", "level"),
    [(0, 5, "out"), (0, 0, "out"), (1, 5, "low"), (5, 5, "low"), (6, 5, None), (1, 0, None)],
)
def test_an_item_s_level_is_out_at_zero_low_up_to_the_threshold_and_absent_above(
    count: int, threshold: int, level: str | None
) -> None:
    assert stock_level(count, threshold) == level


@pytest.mark.parametrize(
    ("old_count", "new_count", "low"),
    [
        (None, 5, True),
        (6, 5, True),
        (100, 1, True),
        (5, 4, False),  # already low
        (0, 3, False),  # a restock from nothing to a low count
        (6, 0, False),  # the out-of-stock alert, not this one
        (6, 6, False),
        (None, 6, False),
        (6, None, False),
    ],
)
def test_an_item_goes_low_when_it_crosses_the_threshold_from_above_or_absent(
    old_count: int | None, new_count: int | None, low: bool
) -> None:
    assert went_low(old_count, new_count, 5) is low


def count_record(sequence: int, old: int | None, new: int | None, **extra: Any) -> dict[str, Any]:
    """A stream record of one item's count changing from `old` to `new` (None: absent)."""

    def image(count: int) -> dict[str, Any]:
        return {
            "store": {"S": "Berlin"},
            "item": {"S": "Echo Plus"},
            "count": {"N": str(count)},
            **extra,
        }

    change: dict[str, Any] = {"SequenceNumber": str(sequence)}
    if new is not None:
        change["NewImage"] = image(new)
    if old is not None:
        change["OldImage"] = image(old)
    name = "REMOVE" if new is None else "INSERT" if old is None else "MODIFY"
    return {"eventID": f"event-{sequence}", "eventName": name, "dynamodb": change}


def zone(count: int | None, threshold: int) -> str:
    if count is None:
        return "absent"
    return "out" if count == 0 else "low" if count <= threshold else "ok"


@given(
    counts=st.lists(st.one_of(st.none(), st.integers(0, 12)), max_size=40),
    threshold=st.integers(0, 8),
)
def test_alerts_fire_exactly_where_the_count_enters_the_out_or_low_zone(
    counts: list[int | None], threshold: int
) -> None:
    # given any sequence of states of one item (None: deleted), as stream records
    previous: list[int | None] = [None, *counts][: len(counts)]
    records = [
        count_record(n, old, new)
        for n, (old, new) in enumerate(zip(previous, counts, strict=True))
        if not (old is None and new is None)
    ]
    # when
    alerts = [alert_for_stream_record(record, threshold) for record in records]
    fired = {int(alert.alert_id.split("-")[1]): alert.event for alert in alerts if alert}
    # then: out of stock on entering "out" from anywhere else, low on entering "low" from
    # above the threshold or from nothing; nothing else
    crossings = {}
    for n, (old, new) in enumerate(zip(previous, counts, strict=True)):
        before, after = zone(old, threshold), zone(new, threshold)
        if after == "out" and before != "out":
            crossings[n] = OUT_OF_STOCK_EVENT
        elif after == "low" and before in ("ok", "absent"):
            crossings[n] = LOW_STOCK_EVENT
    assert fired == crossings


def test_an_item_s_own_threshold_overrides_the_stack_s() -> None:
    # given an item stored with its own threshold of 20, dropping from 30 to 15
    record = count_record(1, 30, 15, low_stock_threshold={"N": "20"})
    # when the stack's threshold is 5
    alert = alert_for_stream_record(record, 5)
    # then it is low by its own measure
    assert alert is not None
    assert (alert.event, alert.threshold, alert.count, alert.previous_count) == (
        LOW_STOCK_EVENT,
        20,
        15,
        30,
    )
    assert alert_for_stream_record(count_record(2, 30, 15), 5) is None


def test_a_low_stock_alert_reads_and_filters_as_low_stock() -> None:
    # given
    alert = echo_plus(count=3, previous_count=9, event=LOW_STOCK_EVENT, threshold=5)
    # when
    document = json.loads(alert.document())
    # then
    assert alert.sentence() == "Berlin is low on Echo Plus: 3 left"
    assert alert.attributes()["event"] == "low_stock"
    assert (document["event"], document["threshold"], document["count"]) == ("low_stock", 5, 3)
