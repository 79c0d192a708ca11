"""Applying a plan: each change is made by the idempotent `ensure_*` of its kind, which reads
the resource once more just before writing. So a plan that went stale between `plan` and
`up` (someone changed the resource meanwhile) is still applied right, and a resource the plan
found as described is not touched at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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

Apply = Callable[[Aws, Stack, Settings, Resource, dict[str, Any], Changes], None]


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
        APPLIERS[change.resource.kind](aws, stack, settings, change.resource, wanted, changes)
        resolve.forget()


def _first_unknown(value: Any) -> Unknown | None:
    if isinstance(value, Unknown):
        return value
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    return next((found for child in children if (found := _first_unknown(child))), None)


def _bucket(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    resource: Resource,
    wanted: dict[str, Any],
    changes: Changes,
) -> None:
    ensure_bucket(aws, resource.name, stack.region, wanted["Policy"], changes)


def _notification(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    resource: Resource,
    wanted: dict[str, Any],
    changes: Changes,
) -> None:
    ensure_bucket_notification(aws, resource.name, wanted["Queue"], changes, via_queue=True)


def _table(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    resource: Resource,
    wanted: dict[str, Any],
    changes: Changes,
) -> None:
    indexes = tuple(
        IndexSpec(index["IndexName"], tuple((key, kind) for key, kind in index["Keys"]))
        for index in wanted["Indexes"]
    )
    keys = [(key, kind) for key, kind in wanted["Keys"]]
    ensure_table(aws, resource.name, keys, changes, bool(wanted["Stream"]), indexes)
    if wanted["TimeToLive"]:
        ensure_time_to_live(aws, resource.name, wanted["TimeToLive"], changes)
    if wanted["PointInTimeRecovery"]:
        safety.ensure_point_in_time_recovery(aws, resource.name, changes)


def _topic(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    resource: Resource,
    wanted: dict[str, Any],
    changes: Changes,
) -> None:
    ensure_topic(aws, resource.name, wanted["Attributes"], changes)


def queue_attributes(wanted: dict[str, Any]) -> dict[str, str]:
    """A described queue's settings as SQS attributes (its documents as JSON text)."""
    attributes = dict(wanted["Attributes"])
    if wanted["Policy"] is not None:
        attributes["Policy"] = json.dumps(wanted["Policy"])
    if wanted["RedrivePolicy"] is not None:
        attributes["RedrivePolicy"] = json.dumps(wanted["RedrivePolicy"], separators=(",", ":"))
    return attributes


def _queue(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    resource: Resource,
    wanted: dict[str, Any],
    changes: Changes,
) -> None:
    ensure_queue(aws, resource.name, queue_attributes(wanted), changes)


def _subscription(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    resource: Resource,
    wanted: dict[str, Any],
    changes: Changes,
) -> None:
    ensure_subscription(
        aws, wanted["Topic"], wanted["Protocol"], wanted["Endpoint"], wanted["Attributes"], changes
    )


def _role(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    resource: Resource,
    wanted: dict[str, Any],
    changes: Changes,
) -> None:
    ensure_role(aws, resource.name, wanted["Trust"], wanted["Policy"], changes)


def _function(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    resource: Resource,
    wanted: dict[str, Any],
    changes: Changes,
) -> None:
    spec = packaging.function_spec(
        resource.name,
        packaging.build_zip(wanted["Source"]),
        wanted["Role"],
        wanted["Runtime"],
        wanted["Timeout"],
        wanted["MemorySize"],
        wanted["Environment"],
    )
    ensure_function(aws, spec, changes)
    if wanted["Retries"] is not None:
        retries = wanted["Retries"]
        ensure_async_invoke_config(
            aws, resource.name, retries["MaximumRetryAttempts"], retries["OnFailure"], changes
        )
    if wanted["ReservedConcurrency"] is not None:
        ensure_reserved_concurrency(aws, resource.name, wanted["ReservedConcurrency"], changes)


def _mapping(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    resource: Resource,
    wanted: dict[str, Any],
    changes: Changes,
) -> None:
    kind = (
        "stream mapping"
        if resource.properties["Source"].kind == "table"
        else "uploads queue mapping"
    )
    ensure_event_source_mapping(
        aws,
        wanted["Function"],
        wanted["Source"],
        wanted["Settings"],
        kind,
        changes,
        **wanted["OnCreate"],
    )


def _log_group(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    resource: Resource,
    wanted: dict[str, Any],
    changes: Changes,
) -> None:
    safety.ensure_log_group(aws, resource.name, wanted["RetentionInDays"], changes)


def _alarm(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    resource: Resource,
    wanted: dict[str, Any],
    changes: Changes,
) -> None:
    aws.client("cloudwatch").put_metric_alarm(**wanted)  # an upsert
    changes.record("put", "alarm", resource.name)


def _user_pool(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    resource: Resource,
    wanted: dict[str, Any],
    changes: Changes,
) -> None:
    dashboard_cognito.ensure_user_pool(aws, resource.name, changes)


def _dashboard(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    resource: Resource,
    wanted: dict[str, Any],
    changes: Changes,
) -> None:
    dashboard.ensure(aws, stack, settings, RUNTIME, changes)


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
