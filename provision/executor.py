"""Applying a plan: each change is made by the idempotent `ensure_*` of its kind, which reads
the resource once more just before writing. So a plan that went stale between `plan` and
`up` (someone changed the resource meanwhile) is still applied right, and a resource the plan
found as described is not touched at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from provision import alarms, dashboard, dashboard_cognito, packaging, safety
from provision.aws import Aws, Changes
from provision.description import RUNTIME
from provision.functions import (
    delete_function,
    delete_log_group,
    delete_role,
    ensure_async_invoke_config,
    ensure_event_source_mapping,
    ensure_function,
    ensure_reserved_concurrency,
    ensure_role,
)
from provision.model import Resource
from provision.planner import Change
from provision.readers import Resolver, Unknown
from provision.stack import Settings, Stack
from provision.storage import (
    IndexSpec,
    delete_bucket,
    delete_table,
    ensure_bucket,
    ensure_bucket_notification,
    ensure_table,
    ensure_time_to_live,
)
from provision.topics_and_queues import (
    delete_queue,
    delete_topic,
    ensure_queue,
    ensure_subscription,
    ensure_topic,
)


@dataclass(frozen=True)
class Step:
    """One change being made: where, to what, with the description's values resolved."""

    aws: Aws
    stack: Stack
    settings: Settings
    resource: Resource
    wanted: dict[str, Any]
    changes: Changes

    @property
    def name(self) -> str:
        return self.resource.name


Apply = Callable[[Step], None]


def apply(aws: Aws, stack: Stack, settings: Settings, plan: list[Change], changes: Changes) -> None:
    """Make each change of `plan`, in order, saying its plan line first."""
    resolve = Resolver(aws, stack)
    for change in plan:
        if change.action == "nothing":
            continue
        changes.note(change.line)
        if change.action == "keep":
            continue
        if change.action == "delete":
            DELETERS[change.resource.kind](aws, stack, change.resource, changes)
            continue
        wanted = resolve(change.resource.properties)
        unknown = _first_unknown(wanted)
        if unknown is not None:
            raise LookupError(f"{change.resource.key} needs {unknown}, which is not there")
        APPLIERS[change.resource.kind](Step(aws, stack, settings, change.resource, wanted, changes))
        resolve.forget()


def _first_unknown(value: Any) -> Unknown | None:
    if isinstance(value, Unknown):
        return value
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    return next((found for child in children if (found := _first_unknown(child))), None)


def _bucket(step: Step) -> None:
    ensure_bucket(step.aws, step.name, step.stack.region, step.wanted["Policy"], step.changes)


def _notification(step: Step) -> None:
    queue = step.wanted["Queue"]
    ensure_bucket_notification(step.aws, step.name, queue, step.changes, via_queue=True)


def _table(step: Step) -> None:
    wanted = step.wanted
    indexes = tuple(
        IndexSpec(index["IndexName"], tuple((key, kind) for key, kind in index["Keys"]))
        for index in wanted["Indexes"]
    )
    keys = [(key, kind) for key, kind in wanted["Keys"]]
    ensure_table(step.aws, step.name, keys, step.changes, bool(wanted["Stream"]), indexes)
    if wanted["TimeToLive"]:
        ensure_time_to_live(step.aws, step.name, wanted["TimeToLive"], step.changes)
    if wanted["PointInTimeRecovery"]:
        safety.ensure_point_in_time_recovery(step.aws, step.name, step.changes)


def _topic(step: Step) -> None:
    ensure_topic(step.aws, step.name, step.wanted["Attributes"], step.changes)


def queue_attributes(wanted: dict[str, Any]) -> dict[str, str]:
    """A described queue's settings as SQS attributes (its documents as JSON text)."""
    attributes = dict(wanted["Attributes"])
    if wanted["Policy"] is not None:
        attributes["Policy"] = json.dumps(wanted["Policy"])
    if wanted["RedrivePolicy"] is not None:
        attributes["RedrivePolicy"] = json.dumps(wanted["RedrivePolicy"], separators=(",", ":"))
    return attributes


def _queue(step: Step) -> None:
    ensure_queue(step.aws, step.name, queue_attributes(step.wanted), step.changes)


def _subscription(step: Step) -> None:
    wanted = step.wanted
    ensure_subscription(
        step.aws,
        wanted["Topic"],
        wanted["Protocol"],
        wanted["Endpoint"],
        wanted["Attributes"],
        step.changes,
    )


def _role(step: Step) -> None:
    ensure_role(step.aws, step.name, step.wanted["Trust"], step.wanted["Policy"], step.changes)


def _function(step: Step) -> None:
    wanted = step.wanted
    spec = packaging.function_spec(
        step.name,
        packaging.build_zip(wanted["Source"]),
        wanted["Role"],
        wanted["Runtime"],
        wanted["Timeout"],
        wanted["MemorySize"],
        wanted["Environment"],
    )
    ensure_function(step.aws, spec, step.changes)
    if wanted["Retries"] is not None:
        retries = wanted["Retries"]
        attempts, on_failure = retries["MaximumRetryAttempts"], retries["OnFailure"]
        ensure_async_invoke_config(step.aws, step.name, attempts, on_failure, step.changes)
    if wanted["ReservedConcurrency"] is not None:
        limit = wanted["ReservedConcurrency"]
        ensure_reserved_concurrency(step.aws, step.name, limit, step.changes)


def _mapping(step: Step) -> None:
    wanted = step.wanted
    from_stream = step.resource.properties["Source"].kind == "table"
    kind = "stream mapping" if from_stream else "uploads queue mapping"
    ensure_event_source_mapping(
        step.aws,
        wanted["Function"],
        wanted["Source"],
        wanted["Settings"],
        kind,
        step.changes,
        **wanted["OnCreate"],
    )


def _log_group(step: Step) -> None:
    safety.ensure_log_group(step.aws, step.name, step.wanted["RetentionInDays"], step.changes)


def _alarm(step: Step) -> None:
    step.aws.client("cloudwatch").put_metric_alarm(**step.wanted)  # an upsert
    step.changes.record("put", "alarm", step.name)


def _user_pool(step: Step) -> None:
    dashboard_cognito.ensure_user_pool(step.aws, step.name, step.changes)


def _dashboard(step: Step) -> None:
    dashboard.ensure(step.aws, step.stack, step.settings, RUNTIME, step.changes)


APPLIERS: dict[str, Apply] = {
    "bucket": _bucket,
    "bucket_notification": _notification,
    "table": _table,
    "topic": _topic,
    "queue": _queue,
    "subscription": _subscription,
    "role": _role,
    "function": _function,
    "mapping": _mapping,
    "log_group": _log_group,
    "alarm": _alarm,
    "user_pool": _user_pool,
    "dashboard": _dashboard,
}

# Subscriptions, mappings and notifications go with their topic, function and bucket.
DELETERS: dict[str, Callable[[Aws, Stack, Resource, Changes], None]] = {
    "bucket": lambda aws, stack, resource, changes: delete_bucket(aws, resource.name, changes),
    "table": lambda aws, stack, resource, changes: delete_table(aws, resource.name, changes),
    "topic": lambda aws, stack, resource, changes: delete_topic(aws, resource.name, changes),
    "queue": lambda aws, stack, resource, changes: delete_queue(aws, resource.name, changes),
    "role": lambda aws, stack, resource, changes: delete_role(aws, resource.name, changes),
    "function": lambda aws, stack, resource, changes: delete_function(aws, resource.name, changes),
    "log_group": lambda aws, stack, r, changes: delete_log_group(aws, r.name, changes),
    "alarm": lambda aws, stack, resource, changes: alarms.delete_alarm(aws, resource.name, changes),
    "user_pool": lambda aws, stack, r, changes: dashboard_cognito.delete_user_pool(
        aws, r.name, changes
    ),
    # Its user pool is a resource of its own, kept or deleted as the plan says.
    "dashboard": lambda aws, stack, r, changes: dashboard.destroy(aws, stack, changes, True),
}
