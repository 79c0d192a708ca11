"""The stack as data: every resource `up` makes, with its settings, in the order it is made.

One description, three readers: the planner compares it with what a target has
(provision.planner), the executor brings the target in line with it (provision.executor),
and the template renderer writes it out as CloudFormation (provision.template). A resource
added here is therefore planned, applied and rendered alike; one added anywhere else is not.

Values another resource gives only once it exists (a queue's URL, a stream's ARN, an API's
id) are `Ref`s: the executor looks them up on the target, the template renders Ref/GetAtt.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from provision import (
    alarms,
    dashboard,
    dashboard_api,
    dashboard_cognito,
    dashboard_site,
    packaging,
    policies,
    tracing,
)
from provision.model import People, Ref, Resource, Target
from provision.stack import LEVEL_INDEX, Settings, Stack
from provision.storage import BLOCK_ALL_PUBLIC_ACCESS

RUNTIME = "python3.11"
# Failed events wait here for an operator; 14 days is SQS's longest retention.
FAILURE_QUEUE_ATTRIBUTES = {"MessageRetentionPeriod": str(14 * 24 * 3600)}
# Encrypted at rest with the AWS managed key: publishers and SNS itself may use it without
# extra key policy, and the alerts queue's SQS-managed encryption needs no key at all.
TOPIC_ATTRIBUTES = {"KmsMasterKeyId": "alias/aws/sns"}
# The tables' expiry attributes, as check_stock (inventory.adapters.sent_alerts) and
# track_stock (inventory.adapters.tracker) write them.
SENT_ALERT_EXPIRY_ATTRIBUTE = "expires_at"
HISTORY_EXPIRY_ATTRIBUTE = "expires_at"
ALERT_EVENTS = ("out_of_stock", "low_stock")  # the `event` attribute check_stock publishes
# Only a record that sets a count to 0 can be an item running out, and only one whose new
# image is `low` an item becoming low (the loader writes `level`), so Lambda drops every other
# record before invoking check_stock (which still applies the whole rule). On AWS filtered
# records are not billed; on an emulator they are not serialised and run.
OUT_OF_STOCK_RECORDS = json.dumps(
    {"dynamodb": {"NewImage": {"count": {"N": ["0"]}}}}, separators=(",", ":")
)
LOW_STOCK_RECORDS = json.dumps(
    {"dynamodb": {"NewImage": {"level": {"S": ["low"]}}}}, separators=(",", ":")
)


def alert_filter(events: tuple[str, ...]) -> dict[str, str]:
    """A subscription's attributes choosing these alert events; none when all are chosen."""
    unknown = set(events) - set(ALERT_EVENTS)
    if unknown or not events:
        raise ValueError(f"alert events {sorted(unknown)}: choose from {', '.join(ALERT_EVENTS)}")
    if set(events) == set(ALERT_EVENTS):
        return {}
    return {"FilterPolicy": json.dumps({"event": sorted(set(events))})}


def describe(
    stack: Stack, settings: Settings, target: Target | None = None, people: People | None = None
) -> tuple[Resource, ...]:
    """Every resource of the stack, each after the ones it depends on."""
    target, people = target or Target(), people or People()
    with_dashboard = settings.dashboard and target.dashboard_supported
    return (
        *_storage(stack, target),
        *_alerting(stack, settings, target, people),
        *_loading(stack, settings, target),
        *_checking(stack, settings, target),
        *(_tracking(stack, settings, target) if settings.stock_tracking else ()),
        *(_dashboard(stack, settings, target) if with_dashboard else ()),
        *_operations(stack, settings, people, with_dashboard),
    )


def everything(stack: Stack, target: Target) -> tuple[Resource, ...]:
    """All a stack may have, whatever its settings and subscribers: what destroy looks for."""
    anyone = "(anyone)"
    return describe(stack, Settings(), target, People(email=anyone, alarm_email=anyone))


def _storage(stack: Stack, target: Target) -> Iterator[Resource]:
    # Uploads come in; reports go out to a bucket that triggers nothing.
    for bucket in (stack.uploads_bucket, stack.reports_bucket):
        policy = policies.tls_only_bucket_policy(stack, bucket) if target.tls else None
        yield Resource("bucket", bucket, _bucket(policy))
    yield _table(
        stack.table,
        [("store", "HASH"), ("item", "RANGE")],
        stream=True,
        indexes=[{"IndexName": LEVEL_INDEX, "Keys": [["level", "HASH"], ["store", "RANGE"]]}],
        point_in_time_recovery=True,
    )
    # The newest snapshot loaded per store, so a file that arrives late cannot overwrite it.
    yield _table(stack.snapshots_table, [("store", "HASH")])
    # The alerts already published, so a stream batch delivered again sends none twice; each
    # entry expires once its stream record can no longer be delivered.
    yield _table(
        stack.sent_alerts_table, [("alert_id", "HASH")], time_to_live=SENT_ALERT_EXPIRY_ATTRIBUTE
    )
    # Per-store figures for the dashboard, and each item's count over time (newest first by
    # `at`; its `~latest` item holds the forecast), both kept from the stream by track_stock.
    # Both hold data: the history's `~latest` items record what the summary counted, so
    # keeping one without the other would leave the dashboard's figures wrong.
    yield _table(stack.summary_table, [("store", "HASH")])
    yield _table(
        stack.history_table,
        [("store_item", "HASH"), ("at", "RANGE")],
        time_to_live=HISTORY_EXPIRY_ATTRIBUTE,
    )


def _bucket(policy: dict[str, Any] | None) -> dict[str, Any]:
    """A private, encrypted (SSE-S3), versioned bucket (as storage.ensure_bucket makes it)."""
    return {
        "PublicAccessBlock": BLOCK_ALL_PUBLIC_ACCESS,
        "Encryption": "AES256",
        "Versioning": "Enabled",
        "Policy": policy,
    }


def _table(
    name: str,
    keys: list[tuple[str, str]],
    stream: bool = False,
    indexes: list[dict[str, Any]] | None = None,
    time_to_live: str | None = None,
    point_in_time_recovery: bool = False,
) -> Resource:
    """An on-demand table with string keys, streaming both images of a change if `stream`."""
    properties = {
        "Keys": [list(key) for key in keys],
        "Indexes": indexes or [],
        "Stream": "NEW_AND_OLD_IMAGES" if stream else None,
        "TimeToLive": time_to_live,
        "PointInTimeRecovery": point_in_time_recovery,
    }
    return Resource("table", name, properties, keeps_data=True)


def _queue(
    name: str,
    attributes: dict[str, str],
    policy: dict[str, Any] | None = None,
    redrive: dict[str, Any] | None = None,
) -> Resource:
    """A queue encrypted with SQS-managed keys."""
    properties = {
        "Attributes": {"SqsManagedSseEnabled": "true", **attributes},
        "Policy": policy,
        "RedrivePolicy": redrive,
    }
    return Resource("queue", name, properties)


def _subscription(
    stack: Stack, protocol: str, endpoint: Any, attributes: dict[str, str]
) -> Resource:
    label = endpoint.name if isinstance(endpoint, Ref) else endpoint
    properties = {
        "Topic": Ref("topic", stack.topic, "Arn"),
        "Protocol": protocol,
        "Endpoint": endpoint,
        "Attributes": attributes,
    }
    return Resource("subscription", f"{protocol}:{label}", properties)


def _alerting(
    stack: Stack, settings: Settings, target: Target, people: People
) -> Iterator[Resource]:
    # The topic, the queue programs read alerts from, and people's subscriptions.
    yield Resource("topic", stack.topic, {"Attributes": TOPIC_ATTRIBUTES})
    yield _queue(stack.alerts_queue, {}, policies.alerts_queue_policy(stack))
    alerts_arn = Ref("queue", stack.alerts_queue, "Arn")
    yield _subscription(stack, "sqs", alerts_arn, {"RawMessageDelivery": "true"})
    chosen = alert_filter(settings.alert_events)
    if people.email:
        yield _subscription(stack, "email", people.email, chosen)
    if people.sms:
        yield _subscription(stack, "sms", people.sms, chosen)
    if target.emulator and (people.email or people.sms):
        # No emulator keeps what it would have mailed or texted: the inbox queue does
        # (provision.inbox), with the people's filter and the subject (no raw delivery).
        inbox_policy = policies.topic_delivery_policy(stack, stack.inbox_queue)
        yield _queue(stack.inbox_queue, {}, inbox_policy)
        yield _subscription(stack, "sqs", Ref("queue", stack.inbox_queue, "Arn"), chosen)
    # Where events that failed every retry wait for an operator.
    for queue in (
        stack.load_failures_queue,
        stack.alert_failures_queue,
        stack.track_failures_queue,
    ):
        yield _queue(queue, FAILURE_QUEUE_ATTRIBUTES)


def _function(
    name: str,
    source: str,
    role: str,
    timeout: int,
    memory_mb: int,
    environment: dict[str, Any],
    target: Target,
    **extra: Any,
) -> Resource:
    """A function built from lambdas/<source>/ (provision.packaging), running as `role`,
    traced (provision.tracing: Tracer off where the target has no X-Ray)."""
    properties = {
        "Source": source,
        "Role": Ref("role", role, "Arn"),
        "Handler": packaging.HANDLER,
        "Runtime": RUNTIME,
        "Timeout": timeout,
        "MemorySize": memory_mb,
        "Environment": {**environment, **tracing.environment(target.endpoint_url)},
        "Tracing": tracing.TRACING_CONFIG["Mode"],
        "ReservedConcurrency": None,
        "Retries": None,
        **extra,
    }
    return Resource("function", name, properties)


def _role(name: str, policy: dict[str, Any]) -> Resource:
    """A role Lambda assumes, with `policy` inline as its only permissions."""
    return Resource("role", name, {"Trust": policies.LAMBDA_TRUST, "Policy": policy})


def _loading(stack: Stack, settings: Settings, target: Target) -> Iterator[Resource]:
    """Uploads -> the uploads queue -> load_inventory, `loader_batch_size` events an
    invocation, at most `loader_concurrency` invocations at once.

    A burst waits in the queue, where MiniStack (which counts a throttled asynchronous event
    as a failed attempt) and AWS alike keep it until a loader is free. A file that fails is
    handed to Lambda's asynchronous retries, then the load-failures queue; an invocation that
    dies returns its events to the queue, and after `load_max_retries` such returns they go to
    the load-failures queue.
    """
    failures = Ref("queue", stack.load_failures_queue, "Arn")
    redrive = {"deadLetterTargetArn": failures, "maxReceiveCount": settings.load_max_retries + 1}
    yield _queue(
        stack.uploads_queue,
        # AWS's advice for a function's queue: six times the function's timeout.
        {"VisibilityTimeout": str(6 * settings.load_timeout_seconds)},
        policies.uploads_queue_policy(stack),
        redrive,
    )
    yield _role(stack.load_role, policies.load_inventory_policy(stack))
    yield _function(
        stack.load_function,
        "load_inventory",
        stack.load_role,
        settings.load_timeout_seconds,
        settings.load_memory_mb,
        {
            "TABLE_NAME": stack.table,
            "SNAPSHOTS_TABLE": stack.snapshots_table,
            "REPORTS_BUCKET": stack.reports_bucket,
            "MAX_FILE_BYTES": str(settings.max_file_bytes),
            "LOW_STOCK_THRESHOLD": str(settings.low_stock_threshold),
            "UPLOADS_QUEUE_URL": Ref("queue", stack.uploads_queue, "Url"),
            "POWERTOOLS_METRICS_NAMESPACE": "Inventory",
        },
        target,
        # One more than the mapping runs: a failed file's own retries, and a replay, find a
        # free loader even in a burst.
        ReservedConcurrency=settings.loader_concurrency + 1,
        Retries={"MaximumRetryAttempts": settings.load_max_retries, "OnFailure": failures},
    )
    yield _mapping(
        stack.load_function,
        Ref("queue", stack.uploads_queue, "Arn"),
        {
            "BatchSize": settings.loader_batch_size,
            "MaximumBatchingWindowInSeconds": 0,
            # AWS's least for a queue's mapping is 2.
            "ScalingConfig": {"MaximumConcurrency": max(2, settings.loader_concurrency)},
        },
    )
    yield Resource(
        "bucket_notification",
        stack.uploads_bucket,
        {"Queue": Ref("queue", stack.uploads_queue, "Arn"), "Events": ["s3:ObjectCreated:*"]},
    )


def _mapping(function: str, source: Ref, settings: dict[str, Any], **on_create: Any) -> Resource:
    """`source` (a stream, a queue) drives `function`; `on_create` is given only at creation."""
    properties = {
        "Function": function,
        "Source": source,
        "Settings": settings,
        "OnCreate": on_create,
    }
    return Resource("mapping", f"{function} <- {source.kind} {source.name}", properties)


def _stream_mapping(
    stack: Stack, function: str, failures: str, settings: Settings, filters: tuple[str, ...]
) -> Resource:
    """The inventory table's stream -> `function`; records that exhaust their retries go to
    the queue `failures`. From the start of the stream: nothing written before is missed."""
    wanted: dict[str, Any] = {
        "BatchSize": settings.stream_batch_size,
        "MaximumBatchingWindowInSeconds": 0,
        "MaximumRetryAttempts": settings.stream_max_retries,
        "MaximumRecordAgeInSeconds": settings.stream_max_record_age_seconds,
        "BisectBatchOnFunctionError": True,
        "DestinationConfig": {"OnFailure": {"Destination": Ref("queue", failures, "Arn")}},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    if filters:
        wanted["FilterCriteria"] = {"Filters": [{"Pattern": pattern} for pattern in filters]}
    stream = Ref("table", stack.table, "StreamArn")
    return _mapping(function, stream, wanted, StartingPosition="TRIM_HORIZON")


def _checking(stack: Stack, settings: Settings, target: Target) -> Iterator[Resource]:
    """check_stock: the table's stream -> SNS when an item runs out or runs low."""
    yield _role(stack.check_role, policies.check_stock_policy(stack))
    yield _function(
        stack.check_function,
        "check_stock",
        stack.check_role,
        settings.check_timeout_seconds,
        settings.check_memory_mb,
        {
            "TOPIC_ARN": Ref("topic", stack.topic, "Arn"),
            "SENT_ALERTS_TABLE": stack.sent_alerts_table,
            "LOW_STOCK_THRESHOLD": str(settings.low_stock_threshold),
            "POWERTOOLS_METRICS_NAMESPACE": "Inventory",
        },
        target,
    )
    filters = (OUT_OF_STOCK_RECORDS, LOW_STOCK_RECORDS)
    yield _stream_mapping(
        stack, stack.check_function, stack.alert_failures_queue, settings, filters
    )


def _tracking(stack: Stack, settings: Settings, target: Target) -> Iterator[Resource]:
    """track_stock on the same stream, unfiltered (every change moves the figures): the
    dashboard's summary and history. Settings.stock_tracking says whether the stack has it."""
    yield _role(stack.track_role, policies.track_stock_policy(stack))
    yield _function(
        stack.track_function,
        "track_stock",
        stack.track_role,
        settings.check_timeout_seconds,
        settings.check_memory_mb,
        {
            "SUMMARY_TABLE": stack.summary_table,
            "HISTORY_TABLE": stack.history_table,
            "HISTORY_RETENTION_DAYS": str(settings.history_retention_days),
            "POWERTOOLS_METRICS_NAMESPACE": "Inventory",
        },
        target,
    )
    yield _stream_mapping(stack, stack.track_function, stack.track_failures_queue, settings, ())


def _dashboard(stack: Stack, settings: Settings, target: Target) -> Iterator[Resource]:
    """Cognito sign-in, inventory_api behind an HTTP API, the site in its own bucket: one
    resource here, made as a whole by provision.dashboard (each part needs the others' ids).
    Its user pool, which holds the users, is a resource of its own: destroy keeps it unless
    asked."""
    names = dashboard.Names(stack)
    function = _function(
        names.function,
        "inventory_api",
        names.role,
        dashboard.FUNCTION_TIMEOUT,
        dashboard.FUNCTION_MEMORY_MB,
        dashboard.inventory_api_environment(stack, settings, target.endpoint_url),
        target,
    )
    pool = dashboard_cognito.USER_POOL_AS_SET
    yield Resource("user_pool", names.user_pool, pool, keeps_data=True, part="dashboard")
    properties = {
        "AppClient": {"Name": names.app_client, **dashboard_cognito.app_client_settings()},
        "Api": names.api,
        "Routes": sorted(dashboard_api.ROUTES),
        "Cors": dashboard_api.cors(dashboard.addresses(target.endpoint_url, names).site_origin),
        "Stage": dashboard_api.STAGE,
        "SiteBucket": names.site_bucket,
        "SiteFiles": dashboard_site.site_digests(),
        "Role": _role(names.role, dashboard.inventory_api_policy(stack, names)).properties,
        "Function": function.properties,
    }
    yield Resource("dashboard", names.api, properties, part="dashboard")


def _operations(
    stack: Stack, settings: Settings, people: People, with_dashboard: bool
) -> Iterator[Resource]:
    """What operators need: each function's log group, made before the function first logs
    (which would make it with no expiry), and the alarms."""
    functions = [stack.load_function, stack.check_function]
    if settings.stock_tracking:
        functions.append(stack.track_function)
    if with_dashboard:
        functions.append(dashboard.Names(stack).function)
    board = dashboard.Names(stack).function
    retention = {"RetentionInDays": settings.log_retention_days}
    for function in functions:
        part = "dashboard" if function == board else ""
        yield Resource("log_group", f"/aws/lambda/{function}", retention, part=part)
    actions: list[Any] = []
    if people.alarm_email:
        yield Resource("topic", alarms.alarms_topic(stack), {"Attributes": {}})
        yield Resource(
            "subscription",
            f"email:{people.alarm_email}",
            {
                "Topic": Ref("topic", alarms.alarms_topic(stack), "Arn"),
                "Protocol": "email",
                "Endpoint": people.alarm_email,
                "Attributes": {},
            },
        )
        actions = [Ref("topic", alarms.alarms_topic(stack), "Arn")]
    api = Ref("http_api", dashboard.Names(stack).api, "Id") if with_dashboard else None
    for spec in alarms.alarm_specs(stack, functions, stack.check_function, api):
        part = "dashboard" if {board, api} & {value for _, value in spec.dimensions} else ""
        yield Resource("alarm", spec.name, spec.request(actions), part=part)
