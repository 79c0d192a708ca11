"""The sent-alerts table adapter against moto: what was noted is left out, at any size."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from inventory.adapters.sent_alerts import EXPIRY_ATTRIBUTE, KEEP_SECONDS, Notes, SentAlerts
from inventory.stock import Alert
from tests.unit.fakes import (
    REGION,
    SENT_ALERTS_TABLE,
    create_sent_alerts_table,
    use_fake_credentials,
)

TABLE = SENT_ALERTS_TABLE
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z


def alert(n: int) -> Alert:
    return Alert(f"store-{n % 7}", f"item-{n}", 0, 1, None, None, alert_id=f"event-{n:04}")


def deadline() -> float:
    return time.monotonic() + 30


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    use_fake_credentials(monkeypatch)
    with mock_aws():
        yield create_sent_alerts_table()


def test_nothing_is_sent_in_a_new_table(dynamodb):
    # given
    ledger = SentAlerts(dynamodb, TABLE)
    alerts = [alert(n) for n in range(3)]

    # when / then
    assert ledger.unsent(alerts, deadline()) == alerts


def test_noted_alerts_are_left_out_in_order_beyond_one_request_of_each_kind(dynamodb):
    # given 60 of 250 alerts noted: more than a BatchWriteItem (25) and a BatchGetItem (100)
    ledger = SentAlerts(dynamodb, TABLE)
    alerts = [alert(n) for n in range(250)]
    noted = alerts[::4][:60]
    ledger.record(noted, deadline())

    # when
    unsent = ledger.unsent(alerts, deadline())

    # then
    assert unsent == [a for a in alerts if a not in noted]
    assert dynamodb.scan(TableName=TABLE, Select="COUNT")["Count"] == 60


def test_a_noted_alert_expires_after_the_keeping_time(dynamodb):
    # given
    ledger = SentAlerts(dynamodb, TABLE, clock=lambda: NOW + 0.7)

    # when
    ledger.record([alert(1)], deadline())

    # then
    item = dynamodb.get_item(TableName=TABLE, Key={"alert_id": {"S": "event-0001"}})["Item"]
    assert item == {
        "alert_id": {"S": "event-0001"},
        EXPIRY_ATTRIBUTE: {"N": str(NOW + KEEP_SECONDS)},
    }
    assert KEEP_SECONDS == 2 * 24 * 3600


def test_an_alert_repeated_in_one_call_is_noted_and_looked_up_once(dynamodb):
    # given: BatchWriteItem and BatchGetItem refuse a key twice in one request
    ledger = SentAlerts(dynamodb, TABLE)
    twice = [alert(1), alert(1)]

    # when
    ledger.record(twice, deadline())

    # then
    assert ledger.unsent([*twice, alert(2)], deadline()) == [alert(2)]


def test_keys_left_unprocessed_are_asked_for_again():
    # given a DynamoDB that answers the first lookup for one key only
    client = boto3.client(
        "dynamodb", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    keys = [{"alert_id": {"S": "event-0001"}}, {"alert_id": {"S": "event-0002"}}]
    with Stubber(client) as stubber:
        stubber.add_response(
            "batch_get_item",
            {
                "Responses": {TABLE: [keys[0]]},
                "UnprocessedKeys": {TABLE: {"Keys": [keys[1]], "ConsistentRead": True}},
            },
            {"RequestItems": {TABLE: {"Keys": keys, "ConsistentRead": True}}},
        )
        stubber.add_response(
            "batch_get_item",
            {"Responses": {TABLE: [keys[1]]}, "UnprocessedKeys": {}},
            {"RequestItems": {TABLE: {"Keys": [keys[1]], "ConsistentRead": True}}},
        )

        # when
        unsent = SentAlerts(client, TABLE).unsent([alert(1), alert(2)], deadline())

        # then
        assert unsent == []
        stubber.assert_no_pending_responses()


# --- Notes: written on a thread of their own, 25 a request -----------------------------------


class FakeSentAlerts:
    """Stands in for SentAlerts; records each request's alerts, or fails from request
    `fail_at`. With `hold`, the first request waits until the test sets it."""

    def __init__(self, fail_at: int | None = None, hold: threading.Event | None = None) -> None:
        self.requests: list[list[str]] = []
        self._fail_at = fail_at
        self._hold = hold

    def record(self, alerts: list[Alert], deadline: float) -> None:
        if self._fail_at is not None and len(self.requests) >= self._fail_at:
            raise RuntimeError("the table is unavailable")
        if self._hold is not None and not self.requests:
            assert self._hold.wait(30)
        self.requests.append([a.alert_id for a in alerts])


def test_every_accepted_alert_is_noted_in_order_at_most_25_a_request():
    # given
    ledger = FakeSentAlerts()
    alerts = [alert(n) for n in range(63)]

    # when accepted alerts come ten at a time, as PublishBatch accepts them
    with Notes(ledger, deadline()) as notes:  # type: ignore[arg-type]
        for start in range(0, len(alerts), 10):
            notes.add(alerts[start : start + 10])

    # then
    assert sum(ledger.requests, []) == [a.alert_id for a in alerts]
    assert all(1 <= len(request) <= 25 for request in ledger.requests)


def test_notes_that_wait_for_a_busy_writer_go_together():
    # given a writer busy with its first request while four more PublishBatch answers come
    hold = threading.Event()
    ledger = FakeSentAlerts(hold=hold)
    alerts = [alert(n) for n in range(50)]

    # when
    with Notes(ledger, deadline()) as notes:  # type: ignore[arg-type]
        for start in range(0, len(alerts), 10):
            notes.add(alerts[start : start + 10])
        hold.set()

    # then the alerts that waited took at most two requests, not one per answer
    assert sum(ledger.requests, []) == [a.alert_id for a in alerts]
    assert len(ledger.requests) <= 3
    assert all(len(request) <= 25 for request in ledger.requests)


def accept_three_then_fail(notes: Notes) -> None:
    notes.add([alert(1), alert(2), alert(3)])
    raise ValueError("publish failed")


def accept_until_refused(notes: Notes, refused: list[BaseException]) -> None:
    """Add alerts ten at a time, far more than the queue holds, until add() raises."""
    for n in range(0, 1000, 10):
        try:
            notes.add([alert(m) for m in range(n, n + 10)])
        except RuntimeError as error:
            refused.append(error)
            raise


def test_notes_taken_before_an_exception_are_still_written():
    # given
    ledger = FakeSentAlerts()

    # when publishing fails after three alerts were accepted
    with (
        pytest.raises(ValueError, match="publish failed"),
        Notes(ledger, deadline()) as notes,  # type: ignore[arg-type]
    ):
        accept_three_then_fail(notes)

    # then
    assert ledger.requests == [["event-0001", "event-0002", "event-0003"]]


def test_a_note_that_fails_is_raised_on_leaving():
    # given a table that refuses every note
    ledger = FakeSentAlerts(fail_at=0)

    # when / then
    with (
        pytest.raises(RuntimeError, match="unavailable"),
        Notes(ledger, deadline()) as notes,  # type: ignore[arg-type]
    ):
        notes.add([alert(n) for n in range(5)])


def test_after_a_failed_note_adding_raises_instead_of_waiting_on_a_stopped_writer():
    # given a table that refuses the second note
    ledger = FakeSentAlerts(fail_at=1)
    refused: list[BaseException] = []

    # when
    with pytest.raises(RuntimeError), Notes(ledger, deadline()) as notes:  # type: ignore[arg-type]
        accept_until_refused(notes, refused)

    # then the first note went in, and the error reached the publisher
    assert len(ledger.requests) == 1
    assert len(refused) == 1
