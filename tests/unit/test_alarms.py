"""The stack's CloudWatch alarms: described as data, then created, kept in line and removed
by provisioning (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from types import SimpleNamespace

import pytest

from provision import alarms, deploy
from provision.aws import Changes
from provision.stack import Settings, Stack
from tests.unit.fakes import REGION, moto_account

SETTINGS = Settings(dashboard=False)  # moto's API Gateway needs a package we do not install


def test_the_alarms_cover_errors_parked_events_falling_behind_and_the_apis_5xx():
    # given
    stack = Stack("shop", "123456789012", REGION)

    # when
    specs = {spec.name: spec for spec in alarms.alarm_specs(stack, ["shop-a"], "shop-a", "api1")}

    # then
    assert set(specs) == {
        "shop-a-errors",
        f"{stack.load_failures_queue}-waiting",
        f"{stack.alert_failures_queue}-waiting",
        f"{stack.track_failures_queue}-waiting",
        "shop-a-falling-behind",
        "shop-dashboard-5xx",
    }
    assert specs["shop-a-errors"].request([])["Threshold"] == 0
    assert specs["shop-a-falling-behind"].metric == "IteratorAge"
    assert specs["shop-dashboard-5xx"].dimensions == (("ApiId", "api1"), ("Stage", "$default"))
    assert "shop-dashboard-5xx" not in {
        spec.name for spec in alarms.alarm_specs(stack, ["shop-a"], "shop-a", None)
    }


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    with moto_account(monkeypatch) as clients:
        yield SimpleNamespace(clients=clients, stack=deploy.locate(clients, "shop"))


def alarm_names(aws: SimpleNamespace) -> set[str]:
    found = aws.clients.client("cloudwatch").describe_alarms()["MetricAlarms"]
    return {alarm["AlarmName"] for alarm in found}


def test_up_creates_the_alarms_once_and_notifies_the_operator_when_asked(aws):
    # when provisioned with an operator's address, then again
    deploy.up(aws.clients, aws.stack, SETTINGS, alarm_email="ops@example.com")
    again = Changes()
    deploy.up(aws.clients, aws.stack, SETTINGS, changes=again, alarm_email="ops@example.com")

    # then each function's errors and the rest are alarmed, and the second run changed none
    stack = aws.stack
    assert {f"{f}-errors" for f in (stack.load_function, stack.check_function)} <= alarm_names(aws)
    assert f"{stack.check_function}-falling-behind" in alarm_names(aws)
    assert not [line for line in again.made if "alarm" in line]
    # and every alarm tells the operators' topic, which mails the operator
    topic = next(
        t["TopicArn"]
        for t in aws.clients.sns.list_topics()["Topics"]
        if t["TopicArn"].endswith(":shop-alarms")
    )
    found = aws.clients.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert all(alarm["AlarmActions"] == [topic] for alarm in found)
    subscriptions = aws.clients.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.com")]


def test_a_function_no_longer_deployed_loses_its_alarm(aws):
    # given a stack with track_stock
    deploy.up(aws.clients, aws.stack, SETTINGS)
    assert f"{aws.stack.track_function}-errors" in alarm_names(aws)

    # when it is provisioned without
    deploy.up(aws.clients, aws.stack, replace(SETTINGS, stock_tracking=False))

    # then
    assert f"{aws.stack.track_function}-errors" not in alarm_names(aws)


def test_destroy_removes_the_stacks_alarms_and_not_another_stacks(aws):
    # given this stack, and another whose name begins with this one's
    deploy.up(aws.clients, aws.stack, SETTINGS, alarm_email="ops@example.com")
    other = deploy.locate(aws.clients, "shop-two")
    deploy.up(aws.clients, other, SETTINGS)
    theirs = alarm_names(aws) - set(alarms.possible_alarm_names(aws.stack, _all(aws.stack)))

    # when
    deploy.destroy(aws.clients, aws.stack)

    # then only the other stack's alarms are left, and no operators' topic
    assert alarm_names(aws) == theirs != set()
    assert not [
        t for t in aws.clients.sns.list_topics()["Topics"] if t["TopicArn"].endswith(":shop-alarms")
    ]


def _all(stack: Stack) -> list[str]:
    return list(deploy.function_names(stack).values())
