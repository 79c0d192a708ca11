"""What a run would change: the description read against the target, resource by resource.

A plan is a list of `Change`s: create, update (naming the fields that differ), delete, keep
(data destroy leaves alone) or nothing. The planner only reads; `python -m provision plan`
prints it and changes nothing, and `up` prints the same lines as it applies them
(provision.executor). Each reader returns a resource's current settings in the description's
own terms, so a change is a comparison of two dicts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from provision import alarms, dashboard
from provision.aws import Aws
from provision.model import Resource, Target
from provision.readers import Resolver, Unknown, read
from provision.stack import Stack


@dataclass(frozen=True)
class Change:
    action: str  # create, update, delete, keep, nothing
    resource: Resource
    fields: tuple[str, ...] = field(default=())

    @property
    def line(self) -> str:
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        if self.action == "keep":
            detail = " (holds data; destroy --delete-data removes it)"
        return (
            f"{self.action:8} {self.resource.kind.replace('_', ' ')} {self.resource.name}{detail}"
        )


def summary(plan: list[Change]) -> str:
    """One line: how many of each action, or that nothing would change."""
    counts = {
        action: sum(c.action == action for c in plan)
        for action in ("create", "update", "delete", "keep")
    }
    if not any(counts.values()):
        return f"up to date: nothing to change ({len(plan)} resources as described)"
    said = [f"{count} to {action}" for action, count in counts.items() if count]
    return "plan: " + ", ".join(said)


def target_of(aws: Aws) -> Target:
    """What of this target shapes the stack (see Target)."""
    return Target(aws.endpoint_url, dashboard.unsupported_reason(aws) is None)


def plan(aws: Aws, stack: Stack, description: tuple[Resource, ...]) -> list[Change]:
    """The changes that would bring the target in line with `description`, in its order,
    then the deletions: alarms of the stack that the description no longer has."""
    resolve = Resolver(aws, stack)
    changes = [
        _compare(resource, read(aws, resolve, resource), resolve) for resource in description
    ]
    return changes + _stale_alarms(aws, stack, description)


def plan_destroy(
    aws: Aws, stack: Stack, everything: tuple[Resource, ...], keep_data: bool
) -> list[Change]:
    """Every resource of `everything` that exists, to delete (or keep, if it holds data and
    `keep_data`), in the order destroy removes them: dependents first."""
    resolve = Resolver(aws, stack)
    found = []
    for resource in reversed(everything):
        if resource.kind in OWNED or read(aws, resolve, resource) is None:
            continue
        found.append(Change("keep" if keep_data and resource.keeps_data else "delete", resource))
    # Last: an invocation still finishing when its function was deleted may write its final
    # log lines, recreating the group.
    return sorted(found, key=lambda change: change.resource.kind == "log_group")


# Removed with the resource they belong to: a topic's subscriptions, a function's mappings,
# a bucket's notification.
OWNED = ("subscription", "mapping", "bucket_notification")


def _compare(resource: Resource, current: dict[str, Any] | None, resolve: Resolver) -> Change:
    if current is None:
        return Change("create", resource)
    wanted = resolve(resource.properties)
    differing = tuple(key for key in wanted if not _same(current.get(key), wanted[key]))
    return Change("update", resource, differing) if differing else Change("nothing", resource)


def _same(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, Unknown):
        return False
    if isinstance(wanted, dict) and isinstance(current, dict):
        return wanted.keys() == current.keys() and all(
            _same(current[key], wanted[key]) for key in wanted
        )
    if isinstance(wanted, str) and isinstance(current, str) and wanted.startswith(("{", "[")):
        try:  # JSON documents come back reformatted
            return bool(json.loads(current) == json.loads(wanted))
        except ValueError:
            return False
    return bool(current == wanted)


def _stale_alarms(aws: Aws, stack: Stack, description: tuple[Resource, ...]) -> list[Change]:
    """The stack's alarms the description no longer has (a function it no longer deploys).
    Looked up by name, never by prefix: another stack's name may begin with this one's. A
    run without the dashboard leaves the dashboard's alarms alone, like the rest of it."""
    has_dashboard = any(r.kind == "dashboard" for r in description)
    functions = [stack.load_function, stack.check_function, stack.track_function]
    if has_dashboard:
        functions.append(dashboard.Names(stack).function)
    possible = alarms.possible_alarm_names(stack, functions, dashboard=has_dashboard)
    described = {r.name for r in description if r.kind == "alarm"}
    stale = [name for name in possible if name not in described]
    return [
        Change("delete", Resource("alarm", alarm["AlarmName"], {}))
        for alarm in alarms.stack_alarms(aws, stale)
    ]
