"""Provisioning waits for IAM: each Lambda call that relies on a fresh role is retried while
Lambda refuses the role, up to a deadline. Against botocore's Stubber, with a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from provision.aws import Aws, Changes, GaveUp, Patience, while_role_propagates
from provision.functions import (
    FunctionSpec,
    StreamMappingSpec,
    ensure_async_invoke_config,
    ensure_function,
    ensure_stream_mapping,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION = "inventory-load_inventory"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{FUNCTION}"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:inventory-load-failures"
STREAM_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/inventory-inventory/stream/2025-01-01"

MAPPING_UUID = "1b9c4f8e-0000-4000-8000-000000000001"

# What Lambda says while IAM has not yet propagated a role or its policy.
CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."
NO_SEND_PERMISSION = (
    "The provided execution role does not have permissions to call SendMessage on SQS"
)
CANNOT_READ_STREAM = (
    f"Cannot access stream {STREAM_ARN}. Please ensure the role can perform the GetRecords, "
    "GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM."
)


class FakeClock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock provisioning waits for IAM with, for this test."""
    fake = FakeClock()
    monkeypatch.setattr(
        "provision.aws.ROLE_PROPAGATION",
        Patience(timeout=60, sleep=fake.sleep, clock=fake.monotonic),
    )
    return fake


@pytest.fixture
def lambda_stub() -> Iterator[SimpleNamespace]:
    """An Aws whose Lambda client is answered by a Stubber."""
    session = boto3.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    aws = Aws(session, None)
    with Stubber(aws.lambda_) as stubber:
        yield SimpleNamespace(aws=aws, stubber=stubber)


def refuse(stubber: Stubber, operation: str, message: str, times: int) -> None:
    for _ in range(times):
        stubber.add_client_error(
            operation, "InvalidParameterValueException", message, http_status_code=400
        )


def function_spec() -> FunctionSpec:
    return FunctionSpec(
        name=FUNCTION,
        role_arn=ROLE_ARN,
        package=b"PK zip",
        code_sha256="c2hh",
        handler="handler.lambda_handler",
        runtime="python3.11",
        timeout=300,
        memory_mb=1024,
        environment={"TABLE_NAME": "inventory-inventory"},
    )


def configuration(spec: FunctionSpec, **overrides: Any) -> dict[str, Any]:
    """GetFunction's Configuration for a settled function with `spec`'s settings."""
    return {
        "FunctionName": spec.name,
        "FunctionArn": FUNCTION_ARN,
        "CodeSha256": spec.code_sha256,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        **spec.configuration(),
        **overrides,
    }


def expect_settled(stubber: Stubber, spec: FunctionSpec) -> None:
    """The reads ensure_function ends with: active, updated, then its ARN."""
    for _ in range(3):
        stubber.add_response(
            "get_function", {"Configuration": configuration(spec)}, {"FunctionName": spec.name}
        )


def test_creating_a_function_is_retried_until_lambda_may_assume_its_new_role(lambda_stub, clock):
    # given a function that does not exist yet, and a role Lambda refuses twice
    spec = function_spec()
    stubber = lambda_stub.stubber
    stubber.add_client_error("get_function", "ResourceNotFoundException", http_status_code=404)
    refuse(stubber, "create_function", CANNOT_ASSUME, times=2)
    stubber.add_response(
        "create_function",
        {"FunctionName": FUNCTION},
        {"FunctionName": FUNCTION, "Code": {"ZipFile": spec.package}, **spec.configuration()},
    )
    expect_settled(stubber, spec)
    changes = Changes()

    # when
    arn = ensure_function(lambda_stub.aws, spec, changes)

    # then the third attempt created it, after backing off twice
    assert arn == FUNCTION_ARN
    assert changes.made == [f"created  function {FUNCTION}"]
    assert clock.sleeps == [0.5, 1.0]
    stubber.assert_no_pending_responses()


def test_a_changed_role_is_retried_until_lambda_accepts_it(lambda_stub, clock):
    # given a function whose role was replaced by a new one
    spec = function_spec()
    stubber = lambda_stub.stubber
    old = configuration(spec, Role=f"arn:aws:iam::{ACCOUNT}:role/old")
    stubber.add_response("get_function", {"Configuration": old})
    stubber.add_response("get_function", {"Configuration": old})  # waits for it to settle
    refuse(stubber, "update_function_configuration", CANNOT_ASSUME, times=2)
    stubber.add_response(
        "update_function_configuration", {}, {"FunctionName": FUNCTION, **spec.configuration()}
    )
    expect_settled(stubber, spec)
    changes = Changes()

    # when
    ensure_function(lambda_stub.aws, spec, changes)

    # then
    assert changes.made == [f"updated  function configuration {FUNCTION}"]
    assert clock.sleeps == [0.5, 1.0]
    stubber.assert_no_pending_responses()


def test_the_async_invoke_config_is_retried_until_the_role_may_send_to_its_queue(
    lambda_stub, clock
):
    # given no invoke config yet, and a role whose SendMessage grant has not reached Lambda
    stubber = lambda_stub.stubber
    stubber.add_client_error(
        "get_function_event_invoke_config", "ResourceNotFoundException", http_status_code=404
    )
    refuse(stubber, "put_function_event_invoke_config", NO_SEND_PERMISSION, times=2)
    stubber.add_response(
        "put_function_event_invoke_config",
        {},
        {
            "FunctionName": FUNCTION,
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": QUEUE_ARN}},
        },
    )
    changes = Changes()

    # when
    ensure_async_invoke_config(lambda_stub.aws, FUNCTION, 2, QUEUE_ARN, changes)

    # then
    assert changes.made == [f"updated  async invoke config {FUNCTION}"]
    assert clock.sleeps == [0.5, 1.0]
    stubber.assert_no_pending_responses()


def mapping_spec(batch_size: int = 1000) -> StreamMappingSpec:
    return StreamMappingSpec(
        function=FUNCTION,
        stream_arn=STREAM_ARN,
        batch_size=batch_size,
        max_retries=5,
        max_record_age_seconds=3600,
        on_failure_arn=QUEUE_ARN,
    )


def test_creating_the_stream_mapping_is_retried_until_the_role_may_read_the_stream(
    lambda_stub, clock
):
    # given no mapping yet, and a role whose stream grants have not reached Lambda
    spec = mapping_spec()
    stubber = lambda_stub.stubber
    stubber.add_response("list_event_source_mappings", {"EventSourceMappings": []})
    refuse(stubber, "create_event_source_mapping", CANNOT_READ_STREAM, times=2)
    stubber.add_response(
        "create_event_source_mapping",
        {"UUID": MAPPING_UUID},
        {
            "FunctionName": FUNCTION,
            "EventSourceArn": STREAM_ARN,
            "StartingPosition": "TRIM_HORIZON",
            "Enabled": True,
            **spec.settings(),
        },
    )
    stubber.add_response("get_event_source_mapping", {"State": "Enabled"}, {"UUID": MAPPING_UUID})
    changes = Changes()

    # when
    uuid = ensure_stream_mapping(lambda_stub.aws, spec, changes)

    # then
    assert uuid == MAPPING_UUID
    assert changes.made == [f"created  stream mapping {FUNCTION}"]
    assert clock.sleeps == [0.5, 1.0]
    stubber.assert_no_pending_responses()


def test_updating_the_stream_mapping_is_retried_while_the_role_is_refused(lambda_stub, clock):
    # given a mapping with another batch size
    spec = mapping_spec(batch_size=1000)
    stubber = lambda_stub.stubber
    current = {"UUID": MAPPING_UUID, "State": "Enabled", **mapping_spec(batch_size=100).settings()}
    stubber.add_response("list_event_source_mappings", {"EventSourceMappings": [current]})
    stubber.add_response("get_event_source_mapping", {"State": "Enabled"})
    refuse(stubber, "update_event_source_mapping", NO_SEND_PERMISSION, times=2)
    stubber.add_response(
        "update_event_source_mapping", {}, {"UUID": MAPPING_UUID, **spec.settings()}
    )
    stubber.add_response("get_event_source_mapping", {"State": "Enabled"})
    changes = Changes()

    # when
    ensure_stream_mapping(lambda_stub.aws, spec, changes)

    # then
    assert changes.made == [f"updated  stream mapping {FUNCTION}"]
    assert clock.sleeps == [0.5, 1.0]
    stubber.assert_no_pending_responses()


def test_a_role_still_refused_at_the_deadline_gives_up_with_a_clear_error(lambda_stub, clock):
    # given a role Lambda refuses on every attempt: at 0, 0.5, 1.5, 3.5, 7.5, 12.5, ... 57.5
    # seconds, and a last one at the deadline, 60 s
    stubber = lambda_stub.stubber
    refuse(stubber, "put_function_event_invoke_config", NO_SEND_PERMISSION, times=16)

    # when
    with pytest.raises(GaveUp) as gave_up:
        while_role_propagates(
            lambda: lambda_stub.aws.lambda_.put_function_event_invoke_config(
                FunctionName=FUNCTION, MaximumRetryAttempts=2
            ),
            f"function {FUNCTION}",
        )

    # then it says what it waited for, how long, and Lambda's last word
    message = str(gave_up.value)
    assert message.startswith(
        f"gave up after 60s waiting for Lambda to accept the role of function {FUNCTION}: "
    )
    assert message.endswith(NO_SEND_PERMISSION)
    assert isinstance(gave_up.value.__cause__, ClientError)
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, *[5.0] * 10, 2.5]
    assert sum(clock.sleeps) == 60
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("InvalidParameterValueException", "Unzipped size must be smaller than 262144000 bytes"),
        ("AccessDeniedException", "User is not authorized to perform: lambda:CreateFunction"),
    ],
)
def test_an_error_that_is_not_about_the_role_is_raised_at_once(lambda_stub, clock, code, message):
    # given
    stubber = lambda_stub.stubber
    stubber.add_client_error("create_function", code, message, http_status_code=400)

    # when
    with pytest.raises(ClientError) as raised:
        while_role_propagates(
            lambda: lambda_stub.aws.lambda_.create_function(
                FunctionName=FUNCTION, Role=ROLE_ARN, Code={"ZipFile": b"PK"}
            ),
            f"function {FUNCTION}",
        )

    # then
    assert raised.value.response["Error"]["Code"] == code
    assert clock.sleeps == []
    stubber.assert_no_pending_responses()
