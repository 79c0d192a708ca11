"""The sent-alerts table adapter against moto: what was noted is left out, at any size."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from inventory.adapters.sent_alerts import EXPIRY_ATTRIBUTE, KEEP_SECONDS, SentAlerts
from inventory.stock import Alert
from tests.unit.fakes import REGION

TABLE = "inventory-sent-alerts"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z


def alert(n: int) -> Alert:
    return Alert(f"store-{n % 7}", f"item-{n}", 0, 1, None, None, alert_id=f"event-{n:04}")


def deadline() -> float:
    return time.monotonic() + 30


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "alert_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "alert_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


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
