"""The inventory stack's commands: `plan` says what `up` would change, `up` applies that
plan, `outputs` reports the stack's names and addresses, `destroy` removes it. What the stack
is made of is provision.description; how it is compared and applied, provision.planner and
provision.executor."""

from __future__ import annotations

import os
from typing import Any

import boto3

from provision import dashboard, executor, planner
from provision.aws import Aws, Changes
from provision.description import describe, everything
from provision.model import People, Resource
from provision.planner import Change
from provision.stack import Settings, Stack
from provision.topics_and_queues import find_topic, queue_url


class StackNotFound(Exception):
    """`outputs` was asked about a stack that is not there."""


def connect(endpoint_url: str | None = None, region: str | None = None) -> Aws:
    """Clients for the target: `endpoint_url`, else AWS_ENDPOINT_URL, else AWS itself."""
    session = boto3.Session(region_name=region)
    if session.region_name is None:
        session = boto3.Session(region_name="us-east-1")
    return Aws(session, endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None)


def locate(aws: Aws, name: str) -> Stack:
    """The stack called `name` in the caller's account and region."""
    identity = aws.sts.get_caller_identity()
    partition = str(identity["Arn"]).split(":")[1]
    return Stack(name, str(identity["Account"]), aws.session.region_name, partition)


def target_name(aws: Aws, stack: Stack) -> str:
    """Where the stack lives, for the commands to say: the emulator's address, or the account."""
    return aws.endpoint_url or f"AWS account {stack.account}"


def stack_description(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    people: People,
    changes: Changes,
) -> tuple[Resource, ...]:
    """The stack as `settings` and `people` want it on this target, saying what the target
    shapes (no TLS-only policy over plain HTTP, no dashboard where it cannot run)."""
    target = planner.target_of(aws)
    if not target.tls:
        changes.note(f"{aws.endpoint_url} is plain HTTP: buckets get no TLS-only policy here")
    if not settings.dashboard:
        changes.note(dashboard.NOT_WANTED)
    elif not target.dashboard_supported:
        changes.note(dashboard.UNSUPPORTED)
    return describe(stack, settings, target, people)


def plan(
    aws: Aws, stack: Stack, settings: Settings, people: People, changes: Changes
) -> list[Change]:
    """What `up` with these settings would change; changes nothing."""
    return planner.plan(aws, stack, stack_description(aws, stack, settings, people, changes))


def up(
    aws: Aws,
    stack: Stack,
    settings: Settings | None = None,
    email: str | None = None,
    sms: str | None = None,
    changes: Changes | None = None,
    alarm_email: str | None = None,
) -> dict[str, Any]:
    """Build the stack, or bring an existing one in line: plan, then apply the plan, saying
    each change as it is made. Returns the stack's outputs. `alarm_email` subscribes an
    operator to the alarms."""
    settings = settings or Settings()
    changes = changes or Changes()
    the_plan = plan(aws, stack, settings, People(email, sms, alarm_email), changes)
    changes.note(planner.summary(the_plan))
    executor.apply(aws, stack, settings, the_plan, changes)
    has_dashboard = any(change.resource.kind == "dashboard" for change in the_plan)
    return {
        **core_outputs(aws, stack),
        **(dashboard.outputs(aws, stack) if has_dashboard else _no_dashboard(aws, settings)),
    }


def _no_dashboard(aws: Aws, settings: Settings) -> dict[str, Any]:
    reason = dashboard.NOT_WANTED if not settings.dashboard else dashboard.UNSUPPORTED
    return {"dashboard_url": None, "dashboard": {"skipped": reason}}


def function_names(stack: Stack) -> dict[str, str]:
    """Each function's short name (as FN= takes it) -> its name in Lambda."""
    return {
        "load_inventory": stack.load_function,
        "check_stock": stack.check_function,
        "track_stock": stack.track_function,
        "inventory_api": dashboard.Names(stack).function,
    }


def outputs(aws: Aws, stack: Stack) -> dict[str, Any]:
    """The stack's names and addresses, for scripts and tests; StackNotFound if it is absent."""
    return {**core_outputs(aws, stack), **dashboard.outputs(aws, stack)}


def core_outputs(aws: Aws, stack: Stack) -> dict[str, Any]:
    """Everything but the dashboard's outputs (the template's Outputs have the same keys)."""
    topic_arn = find_topic(aws, stack.topic)
    alerts_url = queue_url(aws, stack.alerts_queue)
    if topic_arn is None or alerts_url is None:
        raise StackNotFound(f"stack {stack.name!r} is not provisioned here")
    return {
        "stack": stack.name,
        "endpoint": aws.endpoint_url,
        "region": stack.region,
        "account": stack.account,
        "uploads_bucket": stack.uploads_bucket,
        "reports_bucket": stack.reports_bucket,
        "table": stack.table,
        "topic_arn": topic_arn,
        "alerts_queue_url": alerts_url,
        "uploads_queue_url": queue_url(aws, stack.uploads_queue),
        "load_failures_queue_url": queue_url(aws, stack.load_failures_queue),
        "alert_failures_queue_url": queue_url(aws, stack.alert_failures_queue),
        "functions": {
            "load_inventory": stack.load_function,
            "check_stock": stack.check_function,
            "track_stock": stack.track_function,
        },
        "summary_table": stack.summary_table,
        "history_table": stack.history_table,
    }


def plan_destroy(aws: Aws, stack: Stack, *, keep_data: bool) -> list[Change]:
    """What `destroy` would remove (and keep); changes nothing."""
    return planner.plan_destroy(aws, stack, everything(stack, planner.target_of(aws)), keep_data)


def destroy(
    aws: Aws, stack: Stack, changes: Changes | None = None, *, keep_data: bool = False
) -> Changes:
    """Remove everything `up` made, dependents first; a missing piece is skipped. With
    `keep_data`, the tables that hold data and the dashboard's user pool stay (the command
    line's default: `destroy --delete-data` removes them too)."""
    changes = changes or Changes()
    the_plan = plan_destroy(aws, stack, keep_data=keep_data)
    executor.apply(aws, stack, Settings(), the_plan, changes)
    return changes
