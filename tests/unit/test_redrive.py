"""Loading a snapshot again: the S3 event the loader sends itself, and the invocation that
carries it, checked by botocore's Stubber (no network, no function)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from botocore.stub import Stubber

from inventory.adapters.redrive import Loader, s3_event
from inventory.adapters.table import Snapshot
from inventory.snapshots import snapshot_time
from tests.unit.fakes import use_fake_credentials

REGION = "us-east-1"
FUNCTION = "inventory-load_inventory"
BUCKET = "inventory-uploads-000000000000-us-east-1"
NOON = Snapshot(
    bucket=BUCKET,
    key="stores/berlin day+1.csv",
    version_id="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
    taken_at="2025-01-01T12:00:00.123+00:00",
)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)  # a Last-Modified that an event time overrides


@pytest.fixture
def lambda_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Stubber]]:
    """A Lambda client whose every call is answered by the Stubber."""
    use_fake_credentials(monkeypatch)
    client = boto3.client("lambda", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber


def test_s3_event_is_the_object_created_event_s3_sends_for_the_version():
    # given
    # when
    event = s3_event(NOON)

    # then: eventTime in S3's Z form, the key URL-encoded form-style, the version named
    assert event == {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": "2025-01-01T12:00:00.123Z",
                "s3": {
                    "bucket": {"name": BUCKET},
                    "object": {
                        "key": "stores/berlin+day%2B1.csv",
                        "versionId": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
                    },
                },
            }
        ]
    }


def test_s3_event_of_an_unversioned_snapshot_names_no_version():
    # given
    unversioned = Snapshot(BUCKET, "stores/berlin.csv", None, "2025-01-01T12:00:00.000+00:00")

    # when
    event = s3_event(unversioned)

    # then: the handler reads the key's latest version
    assert event["Records"][0]["s3"]["object"] == {"key": "stores/berlin.csv"}


def test_s3_event_reads_back_as_the_same_snapshot():
    # given
    [record] = s3_event(NOON)["Records"]

    # when: read as the handler reads an event
    read = Snapshot(
        bucket=record["s3"]["bucket"]["name"],
        key=unquote_plus(record["s3"]["object"]["key"]),
        version_id=record["s3"]["object"]["versionId"],
        taken_at=snapshot_time(record["eventTime"], LONG_AGO),
    )

    # then: the same snapshot, to the millisecond: loading it again claims its stores with the
    # very time recorded for them, which the claim's condition lets through
    assert read == NOON


def test_load_again_invokes_the_function_asynchronously_with_the_snapshots_event(
    lambda_client,
):
    # given
    client, stubber = lambda_client
    stubber.add_response(
        "invoke",
        {"StatusCode": 202},
        {
            "FunctionName": FUNCTION,
            "InvocationType": "Event",
            "Payload": json.dumps(s3_event(NOON)).encode(),
        },
    )

    # when
    Loader(client, FUNCTION).load_again(NOON)

    # then
    stubber.assert_no_pending_responses()


def test_load_again_sends_exactly_the_expected_json_payload(lambda_client):
    # given: the payload spelled out, byte for byte as json.dumps writes it
    client, stubber = lambda_client
    payload = (
        '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", '
        '"eventTime": "2025-01-01T12:00:00.123Z", "s3": {"bucket": {"name": "'
        + BUCKET
        + '"}, "object": {"key": "stores/berlin+day%2B1.csv", '
        '"versionId": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"}}}]}'
    ).encode()
    stubber.add_response(
        "invoke",
        {"StatusCode": 202},
        {"FunctionName": FUNCTION, "InvocationType": "Event", "Payload": payload},
    )

    # when
    Loader(client, FUNCTION).load_again(NOON)

    # then
    stubber.assert_no_pending_responses()


def test_load_again_raises_when_the_invocation_fails(lambda_client):
    # given
    client, stubber = lambda_client
    stubber.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)

    # when
    with pytest.raises(client.exceptions.TooManyRequestsException):
        Loader(client, FUNCTION).load_again(NOON)

    # then: the error reaches the caller
    stubber.assert_no_pending_responses()


def test_load_later_invokes_the_function_asynchronously_with_the_records_given(lambda_client):
    # given: a file's next part and the event's record after it
    client, stubber = lambda_client
    records = [
        {**s3_event(NOON)["Records"][0], "inventoryContinuation": {"part": 2, "recordsDone": 9}},
        s3_event(NOON)["Records"][0],
    ]
    stubber.add_response(
        "invoke",
        {"StatusCode": 202},
        {
            "FunctionName": FUNCTION,
            "InvocationType": "Event",
            "Payload": json.dumps({"Records": records}).encode(),
        },
    )

    # when
    Loader(client, FUNCTION).load_later(records)

    # then
    stubber.assert_no_pending_responses()
