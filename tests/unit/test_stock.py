"""The out-of-stock rule, applied to recorded DynamoDB stream events, and the alert it makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inventory.stock import OUT_OF_STOCK_EVENT, Alert, alert_for_stream_record, went_out_of_stock

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
