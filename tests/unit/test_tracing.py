"""X-Ray tracing as provisioning sets it: Active on every function, Tracer switched off where the
target is an emulator (no X-Ray there), and every role allowed to send its segments."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator

import pytest

from provision import dashboard, deploy, packaging, policies, tracing
from provision.aws import Aws, Changes
from provision.description import describe
from provision.functions import ensure_function
from provision.model import Target
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


@pytest.mark.parametrize(
    ("endpoint_url", "variables"),
    [(EMULATOR, {"POWERTOOLS_TRACE_DISABLED": "true"}), (None, {})],
    ids=["emulator", "aws"],
)
def test_every_function_is_described_traced_with_tracer_switched_for_the_target(
    endpoint_url, variables
):
    # when the stack is described for the target, its dashboard too
    target = Target(endpoint_url, dashboard_supported=True)
    resources = describe(STACK, Settings(), target)
    functions = [r.properties for r in resources if r.kind == "function"]
    functions += [r.properties["Function"] for r in resources if r.kind == "dashboard"]

    # then all four trace actively, and Tracer is off exactly where there is no X-Ray
    assert len(functions) == 4
    for function in functions:
        assert function["Tracing"] == "Active"
        switch = {k: v for k, v in function["Environment"].items() if k.startswith("POWERTOOLS_T")}
        assert switch == variables


def test_the_dashboard_function_made_on_its_own_has_the_same_environment():
    # the dashboard is applied by provision.dashboard, which builds its function itself
    for endpoint_url in (EMULATOR, None):
        spec = dashboard.inventory_api_function(
            STACK, Settings(), "role", b"zip", "py", endpoint_url
        )
        described = describe(STACK, Settings(), Target(endpoint_url, dashboard_supported=True))
        [board] = [r for r in described if r.kind == "dashboard"]
        assert spec.environment == board.properties["Function"]["Environment"]


def test_lambda_is_asked_for_active_tracing_and_a_function_without_it_is_updated(monkeypatch):
    # given a function provisioned before tracing (moto, as AWS: Lambda reports PassThrough)
    with moto_account(monkeypatch) as aws:
        spec = packaging.function_spec(
            FUNCTION, _build_zip("check_stock"), _role(aws), "python3.11", 60, 256, {}
        )
        configuration = {**spec.configuration(), "TracingConfig": {"Mode": "PassThrough"}}
        aws.lambda_.create_function(
            FunctionName=FUNCTION, Code={"ZipFile": spec.package}, **configuration
        )
        changes, asked = Changes(), []
        aws.lambda_.meta.events.register(
            "provide-client-params.lambda.UpdateFunctionConfiguration",
            lambda params, **_: asked.append(params.get("TracingConfig")),
        )

        # when it is provisioned again
        ensure_function(aws, spec, changes)

        # then Lambda was asked to trace it actively (moto keeps no update of the mode)
        assert changes.made == [f"updated  function configuration {FUNCTION}"]
        assert asked == [ACTIVE]


def _role(aws: Aws) -> str:
    created = aws.iam.create_role(
        RoleName=FUNCTION, AssumeRolePolicyDocument=json.dumps(policies.LAMBDA_TRUST)
    )
    return str(created["Role"]["Arn"])


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
