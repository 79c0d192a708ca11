"""Reading a target: each kind of resource as it is now, in the description's own terms (so
the planner compares two dicts), and the description's references resolved to the target's
values."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from provision import (
    alarms,
    dashboard,
    dashboard_api,
    dashboard_cognito,
    dashboard_site,
    functions,
    packaging,
    safety,
    storage,
)
from provision.aws import Aws, ignore_missing
from provision.model import Ref, Resource
from provision.stack import Stack
from provision.topics_and_queues import find_topic, queue_url


@dataclass(frozen=True)
class Unknown:
    """A value that exists once the resource it comes from is made."""

    what: str

    def __str__(self) -> str:
        return f"({self.what}, known once it is made)"


class Resolver:
    """Turns the description's Refs into the target's values (ARNs follow from names; URLs,
    stream ARNs and API ids are looked up), caching each."""

    def __init__(self, aws: Aws, stack: Stack) -> None:
        self.aws, self.stack = aws, stack
        self._known: dict[Ref, Any] = {}
        self._code: dict[str, str] = {}

    def code_sha256(self, source: str) -> str:
        """The hash of the zip `source` builds to (built once a run)."""
        if source not in self._code:
            self._code[source] = packaging.code_sha256(packaging.build_zip(source))
        return self._code[source]

    def __call__(self, value: Any) -> Any:
        if isinstance(value, Ref):
            if value not in self._known:
                self._known[value] = self._look_up(value)
            return self._known[value]
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        return value

    def forget(self) -> None:
        """After a change: values looked up as unknown may exist now."""
        self._known = {
            ref: value for ref, value in self._known.items() if not isinstance(value, Unknown)
        }

    def _look_up(self, ref: Ref) -> Any:
        stack, found = self.stack, None
        if (ref.kind, ref.attribute) == ("queue", "Arn"):
            return stack.queue_arn(ref.name)
        if (ref.kind, ref.attribute) == ("topic", "Arn"):
            return f"{stack.arn('sns')}:{ref.name}"
        if (ref.kind, ref.attribute) == ("role", "Arn"):
            return stack.role_arn(ref.name)
        if (ref.kind, ref.attribute) == ("queue", "Url"):
            found = queue_url(self.aws, ref.name)
        elif (ref.kind, ref.attribute) == ("table", "StreamArn"):
            table = _describe_table(self.aws, ref.name)
            found = (table or {}).get("LatestStreamArn")
        elif (ref.kind, ref.attribute) == ("http_api", "Id"):
            found = (dashboard_api.find_http_api(self.aws, ref.name) or {}).get("ApiId")
        else:
            raise ValueError(f"no way to look up {ref}")
        return found if found is not None else Unknown(f"{ref.kind} {ref.name}'s {ref.attribute}")


def read(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    """The resource's current settings in the description's terms, or None if it is absent."""
    return READERS[resource.kind](aws, resolve, resource)


def _read_bucket(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    return storage.bucket_settings(aws, resource.name)


def _read_notification(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    current = ignore_missing(
        lambda: aws.s3.get_bucket_notification_configuration(Bucket=resource.name),
        "NoSuchBucket",
    )
    if current is None:
        return None
    queues = current.get("QueueConfigurations", [])
    others = current.get("LambdaFunctionConfigurations") or current.get("TopicConfigurations")
    if not queues:
        return None if not others else {"Queue": None, "Events": None}
    return {"Queue": queues[0].get("QueueArn"), "Events": queues[0].get("Events")}


def _describe_table(aws: Aws, name: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = ignore_missing(
        lambda: aws.dynamodb.describe_table(TableName=name)["Table"], "ResourceNotFoundException"
    )
    return found


def _read_table(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    table = _describe_table(aws, resource.name)
    if table is None:
        return None
    ttl = aws.dynamodb.describe_time_to_live(TableName=resource.name)["TimeToLiveDescription"]
    backups = aws.dynamodb.describe_continuous_backups(TableName=resource.name)
    recovery = backups["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
    stream = table.get("StreamSpecification") or {}
    return {
        "Keys": [[key["AttributeName"], key["KeyType"]] for key in table["KeySchema"]],
        "Indexes": [
            {
                "IndexName": index["IndexName"],
                "Keys": [[key["AttributeName"], key["KeyType"]] for key in index["KeySchema"]],
            }
            for index in table.get("GlobalSecondaryIndexes", [])
        ],
        "Stream": stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
        "TimeToLive": ttl.get("AttributeName")
        if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        else None,
        "PointInTimeRecovery": recovery.get("PointInTimeRecoveryStatus") == "ENABLED",
    }


def _read_topic(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    arn = find_topic(aws, resource.name)
    if arn is None:
        return None
    current = aws.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    return {"Attributes": {key: current.get(key) for key in resource.properties["Attributes"]}}


def _read_queue(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    url = queue_url(aws, resource.name)
    if url is None:
        return None
    current = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(current["RedrivePolicy"]) if current.get("RedrivePolicy") else None
    if redrive:  # the count comes back as a string from some targets
        redrive["maxReceiveCount"] = int(redrive["maxReceiveCount"])
    return {
        "Attributes": {key: current.get(key) for key in resource.properties["Attributes"]},
        "Policy": json.loads(current["Policy"]) if current.get("Policy") else None,
        "RedrivePolicy": redrive,
    }


def _read_subscription(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    wanted = resolve(resource.properties)
    if (
        isinstance(wanted["Topic"], Unknown)
        or find_topic(aws, resource.properties["Topic"].name) is None
    ):
        return None
    pages = aws.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=wanted["Topic"])
    for subscription in (entry for page in pages for entry in page.get("Subscriptions", [])):
        if (subscription["Protocol"], subscription["Endpoint"]) != (
            wanted["Protocol"],
            wanted["Endpoint"],
        ):
            continue
        arn = subscription["SubscriptionArn"]
        if not arn.startswith("arn:"):  # pending confirmation: nothing to set yet
            return dict(wanted)
        current = aws.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        attributes = {key: current.get(key) for key in wanted["Attributes"]}
        if current.get("FilterPolicy") not in (None, "", "{}"):
            attributes["FilterPolicy"] = current["FilterPolicy"]
        return {**wanted, "Attributes": attributes}
    return None


def _read_role(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    role = ignore_missing(lambda: aws.iam.get_role(RoleName=resource.name)["Role"], "NoSuchEntity")
    if role is None:
        return None
    trust = role.get("AssumeRolePolicyDocument")
    return {
        # Some emulators return the document still as JSON text.
        "Trust": json.loads(trust) if isinstance(trust, str) else trust,
        "Policy": functions.inline_policy(aws, resource.name),
    }


def _read_function(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    lambda_, name, wanted = aws.lambda_, resource.name, resource.properties
    found = ignore_missing(
        lambda: lambda_.get_function(FunctionName=name)["Configuration"],
        "ResourceNotFoundException",
    )
    if found is None:
        return None
    code = resolve.code_sha256(wanted["Source"])
    retries = ignore_missing(
        lambda: lambda_.get_function_event_invoke_config(FunctionName=name),
        "ResourceNotFoundException",
    )
    concurrency = lambda_.get_function_concurrency(FunctionName=name)
    return {
        "Source": wanted["Source"] if found.get("CodeSha256") == code else "(other code)",
        "Role": found.get("Role"),
        "Handler": found.get("Handler"),
        "Runtime": found.get("Runtime"),
        "Timeout": found.get("Timeout"),
        "MemorySize": found.get("MemorySize"),
        "Environment": found.get("Environment", {}).get("Variables", {}),
        "Tracing": found.get("TracingConfig", {}).get("Mode"),
        "ReservedConcurrency": concurrency.get("ReservedConcurrentExecutions"),
        "Retries": {
            "MaximumRetryAttempts": retries.get("MaximumRetryAttempts"),
            "OnFailure": retries.get("DestinationConfig", {})
            .get("OnFailure", {})
            .get("Destination"),
        }
        if retries
        else None,
    }


def _read_mapping(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    wanted = resolve(resource.properties)
    if isinstance(wanted["Source"], Unknown):
        return None
    found = ignore_missing(
        lambda: aws.lambda_.list_event_source_mappings(
            FunctionName=wanted["Function"], EventSourceArn=wanted["Source"]
        )["EventSourceMappings"],
        "ResourceNotFoundException",
    )
    if not found:
        return None
    settings = {key: found[0].get(key) for key in wanted["Settings"]}
    return {**wanted, "Settings": settings}


def _read_log_group(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    group = safety.find_log_group(aws, resource.name)
    return None if group is None else {"RetentionInDays": group.get("retentionInDays")}


def _read_alarm(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    found = alarms.stack_alarms(aws, [resource.name])
    if not found:
        return None
    present = {key: found[0].get(key) for key in resource.properties}
    present["Dimensions"] = sorted(present.get("Dimensions") or [], key=lambda d: d["Name"])
    return present


def _read_user_pool(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    pool_id = dashboard_cognito.find_user_pool(aws, resource.name)
    return dashboard_cognito.user_pool_as_set(aws, pool_id) if pool_id else None


def _read_dashboard(aws: Aws, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
    wanted = resource.properties
    pool = dashboard_cognito.find_user_pool(aws, dashboard.Names(resolve.stack).user_pool)
    name = wanted["AppClient"]["Name"]
    client = dashboard_cognito.find_app_client(aws, pool, name) if pool else None
    api = dashboard_api.find_http_api(aws, wanted["Api"])
    names = dashboard.Names(resolve.stack)
    role = _read_role(aws, resolve, Resource("role", names.role, wanted["Role"]))
    function = _read_function(
        aws, resolve, Resource("function", names.function, wanted["Function"])
    )
    site = _read_bucket(aws, resolve, Resource("bucket", wanted["SiteBucket"], {}))
    if not any((api, role, function, site)):
        return None
    return {
        "AppClient": {"Name": name, **dashboard_cognito.app_client_as_set(aws, pool, client)}
        if pool and client
        else None,
        "Api": wanted["Api"] if api else None,
        "Routes": dashboard_api.route_keys(aws, api["ApiId"]) if api else [],
        "Cors": dashboard_api.cors_as_set(api) if api else None,
        "Stage": dashboard_api.stage_as_set(aws, api["ApiId"]) if api else None,
        "SiteBucket": wanted["SiteBucket"] if site else None,
        "SiteFiles": dashboard_site.uploaded_digests(aws, wanted["SiteBucket"]) if site else {},
        "Role": role,
        "Function": function,
    }


READERS: dict[str, Callable[[Aws, Resolver, Resource], dict[str, Any] | None]] = {
    "bucket": _read_bucket,
    "bucket_notification": _read_notification,
    "table": _read_table,
    "topic": _read_topic,
    "queue": _read_queue,
    "subscription": _read_subscription,
    "role": _read_role,
    "function": _read_function,
    "mapping": _read_mapping,
    "log_group": _read_log_group,
    "alarm": _read_alarm,
    "user_pool": _read_user_pool,
    "dashboard": _read_dashboard,
}
