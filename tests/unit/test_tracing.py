"""X-Ray tracing as provisioning sets it: Active on every function, Tracer switched off where the
target is an emulator (no X-Ray there), and every role allowed to send its segments."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from provision import dashboard, deploy, packaging, policies, tracing
from provision.resources import Aws, Changes, FunctionSpec, ensure_function
from provision.stack import Settings, Stack
from tests.unit.fakes import REGION, moto_account

EMULATOR = "http://127.0.0.1:4566"
ACTIVE = {"Mode": "Active"}
# What AWSXRayDaemonWriteAccess grants, alone in its statement.
TRACE_WRITE = {
    "Effect": "Allow",
    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
    "Resource": "*",
}
STACK = Stack("inventory", "123456789012", REGION)
FUNCTION = "inventory-check_stock"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}"

_build_zip = functools.cache(packaging.build_zip)


def test_on_an_emulator_the_environment_turns_tracer_off():
    # given
    endpoint_url = EMULATOR

    # when
    environment = tracing.environment(endpoint_url)

    # then
    assert environment == {"POWERTOOLS_TRACE_DISABLED": "true"}


def test_on_aws_the_environment_leaves_tracer_on():
    # given
    endpoint_url = None

    # when
    environment = tracing.environment(endpoint_url)

    # then
    assert environment == {}


def spec() -> FunctionSpec:
    return FunctionSpec(
        name=FUNCTION,
        role_arn=f"arn:aws:iam::123456789012:role/{FUNCTION}",
        package=b"PK zip",
        code_sha256="c2hh",
        handler="handler.lambda_handler",
        runtime="python3.11",
        timeout=60,
        memory_mb=256,
        environment={"TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:inventory-alerts"},
    )


@pytest.fixture
def lambda_on() -> Iterator[Any]:
    """Lambda, answered by a Stubber, on a target: lambda_on(endpoint_url) -> (aws, stubber)."""
    stubbers: list[Stubber] = []

    def make(endpoint_url: str | None) -> tuple[Aws, Stubber]:
        session = boto3.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        aws = Aws(session, endpoint_url)
        stubber = Stubber(aws.lambda_)
        stubber.activate()
        stubbers.append(stubber)
        return aws, stubber

    yield make
    for stubber in stubbers:
        stubber.deactivate()


def settled(stubber: Stubber, configuration: dict[str, Any]) -> None:
    """The reads ensure_function ends with: active, updated, then its ARN."""
    for _ in range(3):
        stubber.add_response("get_function", {"Configuration": configuration})


def lambda_reports(function: FunctionSpec, endpoint_url: str | None) -> dict[str, Any]:
    """GetFunction's Configuration of a settled function set as provisioning sets it."""
    return {
        "FunctionName": function.name,
        "FunctionArn": FUNCTION_ARN,
        "CodeSha256": function.code_sha256,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        **function.configuration(endpoint_url),
    }


@pytest.mark.parametrize(
    ("endpoint_url", "variables"),
    [(EMULATOR, {"POWERTOOLS_TRACE_DISABLED": "true"}), (None, {})],
    ids=["emulator", "aws"],
)
def test_a_new_function_is_created_with_active_tracing_and_tracer_switched_for_the_target(
    lambda_on, endpoint_url, variables
):
    # given a function that does not exist yet
    function = spec()
    aws, stubber = lambda_on(endpoint_url)
    stubber.add_client_error("get_function", "ResourceNotFoundException", http_status_code=404)
    stubber.add_response(
        "create_function",
        {"FunctionName": FUNCTION},
        {
            "FunctionName": FUNCTION,
            "Code": {"ZipFile": function.package},
            "Role": function.role_arn,
            "Handler": function.handler,
            "Runtime": function.runtime,
            "Timeout": function.timeout,
            "MemorySize": function.memory_mb,
            "Environment": {"Variables": {**function.environment, **variables}},
            "TracingConfig": ACTIVE,
        },
    )
    settled(stubber, lambda_reports(function, endpoint_url))

    # when
    ensure_function(aws, function, Changes())

    # then Lambda was asked for exactly that configuration
    stubber.assert_no_pending_responses()


def test_a_function_provisioned_before_tracing_is_updated_to_active_tracing(lambda_on):
    # given a function as provisioning left it before tracing: Lambda reports PassThrough
    function = spec()
    aws, stubber = lambda_on(None)
    before = {**lambda_reports(function, None), "TracingConfig": {"Mode": "PassThrough"}}
    stubber.add_response("get_function", {"Configuration": before})
    stubber.add_response("get_function", {"Configuration": before})  # waits for it to settle
    stubber.add_response(
        "update_function_configuration",
        {},
        {"FunctionName": FUNCTION, **function.configuration(None)},
    )
    settled(stubber, lambda_reports(function, None))
    changes = Changes()

    # when
    ensure_function(aws, function, changes)

    # then
    assert changes.made == [f"updated  function configuration {FUNCTION}"]
    assert function.configuration(None)["TracingConfig"] == ACTIVE
    stubber.assert_no_pending_responses()


@pytest.fixture
def moto_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Aws, Stack]]:
    monkeypatch.setattr(packaging, "build_zip", _build_zip)
    with moto_account(monkeypatch) as aws:
        yield aws, deploy.locate(aws, "unit")


def test_provisioning_on_aws_traces_every_function_with_tracer_on_and_lets_each_role_send(
    moto_stack,
):
    # given an empty account (moto, as AWS) and a stack without the dashboard (moto lacks
    # what it needs; its function goes through the same ensure_function)
    aws, stack = moto_stack

    # when
    deploy.up(aws, stack, Settings(dashboard=False), changes=Changes())

    # then
    roles = {
        stack.load_function: stack.load_role,
        stack.check_function: stack.check_role,
        stack.track_function: stack.track_role,
    }
    for function, role in roles.items():
        configuration = aws.lambda_.get_function_configuration(FunctionName=function)
        assert configuration["TracingConfig"] == ACTIVE, function
        assert "POWERTOOLS_TRACE_DISABLED" not in configuration["Environment"]["Variables"]
        [name] = aws.iam.list_role_policies(RoleName=role)["PolicyNames"]
        document = aws.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        assert TRACE_WRITE in document["Statement"], role


@pytest.mark.parametrize(
    "policy",
    [
        policies.load_inventory_policy(STACK),
        policies.check_stock_policy(STACK),
        policies.track_stock_policy(STACK),
        dashboard.inventory_api_policy(STACK, dashboard.Names(STACK)),
    ],
    ids=["load_inventory", "check_stock", "track_stock", "inventory_api"],
)
def test_every_functions_role_may_send_its_traces_to_xray(policy):
    # given
    statements = policy["Statement"]

    # when
    xray = [s for s in statements if any(a.startswith("xray:") for a in s["Action"])]

    # then the daemon's two actions, on "*" (X-Ray has no resource-level permissions), alone
    assert xray == [TRACE_WRITE]
