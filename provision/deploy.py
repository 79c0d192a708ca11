"""The inventory stack, top to bottom: what `up` builds, what `outputs` reports, what
`destroy` removes. Reads like the architecture diagram in the README."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from provision import alarms, dashboard, dashboard_api, inbox, packaging, policies, safety
from provision.aws import Aws, Changes
from provision.functions import (
    FunctionSpec,
    StreamMappingSpec,
    delete_function,
    delete_log_group,
    delete_role,
    ensure_async_invoke_config,
    ensure_event_source_mapping,
    ensure_function,
    ensure_invoke_permission,
    ensure_reserved_concurrency,
    ensure_role,
    ensure_stream_mapping,
)
from provision.stack import LEVEL_INDEX, Settings, Stack
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
    find_topic,
    queue_url,
)

RUNTIME = "python3.11"
# Failed events wait here for an operator; 14 days is SQS's longest retention.
FAILURE_QUEUE_ATTRIBUTES = {
    "MessageRetentionPeriod": str(14 * 24 * 3600),
    "SqsManagedSseEnabled": "true",
}


# Encrypted at rest with the AWS managed key: publishers and SNS itself may use it without
# extra key policy, and the alerts queue's SQS-managed encryption needs no key at all.
TOPIC_ATTRIBUTES = {"KmsMasterKeyId": "alias/aws/sns"}

# The sent-alerts table's expiry attribute, as check_stock writes it
# (inventory.adapters.sent_alerts.EXPIRY_ATTRIBUTE).
SENT_ALERT_EXPIRY_ATTRIBUTE = "expires_at"
# The history table's expiry attribute (inventory.adapters.tracker writes it).
HISTORY_EXPIRY_ATTRIBUTE = "expires_at"
# Items that are out or low, by level then store: the loader writes `level` only on those.
LEVEL_INDEX_SPEC = IndexSpec(LEVEL_INDEX, (("level", "HASH"), ("store", "RANGE")))
ALERT_EVENTS = ("out_of_stock", "low_stock")  # the `event` attribute check_stock publishes


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


def up(
    aws: Aws,
    stack: Stack,
    settings: Settings | None = None,
    email: str | None = None,
    sms: str | None = None,
    changes: Changes | None = None,
    alarm_email: str | None = None,
) -> dict[str, Any]:
    """Build the stack, or bring an existing one in line; returns its outputs. `alarm_email`
    subscribes an operator to the alarms."""
    settings = settings or Settings()
    changes = changes or Changes()

    # Storage: uploads come in, reports go out to a bucket that triggers nothing.
    # Buckets refuse plain HTTP wherever the target speaks TLS; an emulator on http:// would
    # then refuse its own functions, so there the policy is left out.
    tls = not (aws.endpoint_url or "").startswith("http://")
    if not tls:
        changes.note(f"{aws.endpoint_url} is plain HTTP: buckets get no TLS-only policy here")
    for bucket in (stack.uploads_bucket, stack.reports_bucket):
        policy = policies.tls_only_bucket_policy(stack, bucket) if tls else None
        ensure_bucket(aws, bucket, stack.region, policy, changes)
    stream_arn = ensure_table(
        aws,
        stack.table,
        [("store", "HASH"), ("item", "RANGE")],
        changes,
        stream=True,
        indexes=(LEVEL_INDEX_SPEC,),
    )
    assert stream_arn is not None
    # The newest snapshot loaded per store, so a file that arrives late cannot overwrite it.
    ensure_table(aws, stack.snapshots_table, [("store", "HASH")], changes)
    # The alerts already published, so a stream batch delivered again sends none twice; each
    # entry expires once its stream record can no longer be delivered.
    ensure_table(aws, stack.sent_alerts_table, [("alert_id", "HASH")], changes)
    ensure_time_to_live(aws, stack.sent_alerts_table, SENT_ALERT_EXPIRY_ATTRIBUTE, changes)
    # Per-store figures for the dashboard, and each item's count over time (newest first by
    # `at`; its `~latest` item holds the forecast), both kept from the stream by track_stock.
    ensure_table(aws, stack.summary_table, [("store", "HASH")], changes)
    ensure_table(aws, stack.history_table, [("store_item", "HASH"), ("at", "RANGE")], changes)
    ensure_time_to_live(aws, stack.history_table, HISTORY_EXPIRY_ATTRIBUTE, changes)
    safety.ensure_point_in_time_recovery(aws, stack.table, changes)

    # Alerts: the topic, the queue programs read alerts from, and people's subscriptions.
    topic_arn = ensure_topic(aws, stack.topic, TOPIC_ATTRIBUTES, changes)
    alerts_url = ensure_queue(
        aws,
        stack.alerts_queue,
        {
            "SqsManagedSseEnabled": "true",
            "Policy": json.dumps(policies.alerts_queue_policy(stack)),
        },
        changes,
    )
    raw = {"RawMessageDelivery": "true"}
    ensure_subscription(aws, topic_arn, "sqs", stack.queue_arn(stack.alerts_queue), raw, changes)
    people = alert_filter(settings.alert_events)
    if email:
        ensure_subscription(aws, topic_arn, "email", email, people, changes)
    if sms:
        ensure_subscription(aws, topic_arn, "sms", sms, people, changes)
    if aws.endpoint_url and (email or sms):
        # No emulator keeps what it would have mailed or texted: the inbox queue does.
        inbox.ensure_inbox(aws, stack, topic_arn, people, changes)

    # Where events that failed every retry wait for an operator.
    ensure_queue(aws, stack.load_failures_queue, FAILURE_QUEUE_ATTRIBUTES, changes)
    ensure_queue(aws, stack.alert_failures_queue, FAILURE_QUEUE_ATTRIBUTES, changes)
    ensure_queue(aws, stack.track_failures_queue, FAILURE_QUEUE_ATTRIBUTES, changes)
    uploads_url = ensure_uploads_queue(aws, stack, settings, changes)

    # load_inventory: S3 ObjectCreated -> the uploads queue -> DynamoDB, a report per file.
    ensure_function(
        aws,
        _function_spec(
            stack.load_function,
            "load_inventory",
            ensure_role(
                aws,
                stack.load_role,
                policies.LAMBDA_TRUST,
                policies.load_inventory_policy(stack),
                changes,
            ),
            settings.load_timeout_seconds,
            settings.load_memory_mb,
            {
                "TABLE_NAME": stack.table,
                "SNAPSHOTS_TABLE": stack.snapshots_table,
                "REPORTS_BUCKET": stack.reports_bucket,
                "MAX_FILE_BYTES": str(settings.max_file_bytes),
                "LOW_STOCK_THRESHOLD": str(settings.low_stock_threshold),
                "UPLOADS_QUEUE_URL": uploads_url,
                "POWERTOOLS_METRICS_NAMESPACE": "Inventory",
            },
        ),
        changes,
    )
    connect_uploads_queue(aws, stack, settings, changes)

    # check_stock: the table's stream -> SNS when an item runs out.
    ensure_function(
        aws,
        _function_spec(
            stack.check_function,
            "check_stock",
            ensure_role(
                aws,
                stack.check_role,
                policies.LAMBDA_TRUST,
                policies.check_stock_policy(stack),
                changes,
            ),
            settings.check_timeout_seconds,
            settings.check_memory_mb,
            {
                "TOPIC_ARN": topic_arn,
                "SENT_ALERTS_TABLE": stack.sent_alerts_table,
                "LOW_STOCK_THRESHOLD": str(settings.low_stock_threshold),
                "POWERTOOLS_METRICS_NAMESPACE": "Inventory",
            },
        ),
        changes,
    )
    connect_stream(aws, stack, stream_arn, settings, changes)

    if settings.stock_tracking:
        ensure_tracking(aws, stack, stream_arn, settings, changes)

    # The dashboard: Cognito sign-in, an HTTP API over the table, the site in its own bucket.
    dashboard_outputs = dashboard.ensure(aws, stack, settings, RUNTIME, changes)

    # What operators need: log groups that expire, and alarms.
    has_dashboard = bool(dashboard_outputs.get("dashboard_url"))
    ensure_operations(aws, stack, settings, has_dashboard, alarm_email, changes)
    return {**_outputs(aws, stack, topic_arn, alerts_url), **dashboard_outputs}


def ensure_operations(
    aws: Aws,
    stack: Stack,
    settings: Settings,
    has_dashboard: bool,
    alarm_email: str | None,
    changes: Changes,
) -> None:
    """Each deployed function's log group with its retention, and the stack's alarms."""
    made = {"track_stock": settings.stock_tracking, "inventory_api": has_dashboard}
    functions = [name for short, name in function_names(stack).items() if made.get(short, True)]
    # Made here, so that its events expire (the function would make it on first logging
    # without an expiry).
    for function in functions:
        group = f"/aws/lambda/{function}"
        safety.ensure_log_group(aws, group, settings.log_retention_days, changes)
    api = dashboard_api.find_http_api(aws, dashboard.Names(stack).api) if has_dashboard else None
    api_id = str(api["ApiId"]) if api else None
    specs = alarms.alarm_specs(stack, functions, stack.check_function, api_id)
    # A run that skips the dashboard leaves its alarms as they are, like the rest of it.
    managed = [
        name
        for short, name in function_names(stack).items()
        if short != "inventory_api" or has_dashboard
    ]
    possible = alarms.possible_alarm_names(stack, managed, dashboard=has_dashboard)
    alarms.ensure_alarms(aws, stack, specs, possible, alarm_email, changes)


def connect_uploads(
    aws: Aws, stack: Stack, load_arn: str, max_retries: int, changes: Changes
) -> None:
    """Uploads -> the loader: S3 invokes it asynchronously; after `max_retries` failed
    attempts Lambda puts the event in the load-failures queue."""
    ensure_async_invoke_config(
        aws, stack.load_function, max_retries, stack.queue_arn(stack.load_failures_queue), changes
    )
    ensure_invoke_permission(
        aws,
        stack.load_function,
        "s3.amazonaws.com",
        stack.bucket_arn(stack.uploads_bucket),
        stack.account,
        changes,
    )
    ensure_bucket_notification(aws, stack.uploads_bucket, load_arn, changes)


def ensure_uploads_queue(aws: Aws, stack: Stack, settings: Settings, changes: Changes) -> str:
    """The queue S3 announces uploads in; returns its URL. An event whose invocations died
    `load_max_retries` + 1 times moves to the load-failures queue."""
    redrive = {
        "deadLetterTargetArn": stack.queue_arn(stack.load_failures_queue),
        "maxReceiveCount": settings.load_max_retries + 1,
    }
    return ensure_queue(
        aws,
        stack.uploads_queue,
        {
            "SqsManagedSseEnabled": "true",
            # AWS's advice for a function's queue: six times the function's timeout.
            "VisibilityTimeout": str(6 * settings.load_timeout_seconds),
            "RedrivePolicy": json.dumps(redrive, separators=(",", ":")),
            "Policy": json.dumps(policies.uploads_queue_policy(stack)),
        },
        changes,
    )


def connect_uploads_queue(aws: Aws, stack: Stack, settings: Settings, changes: Changes) -> None:
    """Uploads -> the uploads queue -> the loader, `settings.loader_batch_size` events an
    invocation and at most `settings.loader_concurrency` queued invocations at once.

    A burst waits in the queue, where MiniStack (which counts a throttled asynchronous event
    as a failed attempt, and after three parks it in the failure queue) and AWS alike keep it
    until a loader is free. A file that fails in a queued invocation is handed to Lambda's
    asynchronous retries, then the load-failures queue, as a direct S3 event would be; an
    invocation that dies (out of memory, past its timeout) returns its events to the queue,
    and after `load_max_retries` such returns they go to the load-failures queue.
    """
    ensure_async_invoke_config(
        aws,
        stack.load_function,
        settings.load_max_retries,
        stack.queue_arn(stack.load_failures_queue),
        changes,
    )
    # One more than the mapping runs: a failed file's own retries, and a replay, find a free
    # loader even in a burst (MiniStack counts a throttled asynchronous try as a failed one).
    ensure_reserved_concurrency(aws, stack.load_function, settings.loader_concurrency + 1, changes)
    wanted = {
        "BatchSize": settings.loader_batch_size,
        "MaximumBatchingWindowInSeconds": 0,
        "ScalingConfig": {"MaximumConcurrency": max(2, settings.loader_concurrency)},
    }
    ensure_event_source_mapping(
        aws,
        stack.load_function,
        stack.queue_arn(stack.uploads_queue),
        wanted,
        "uploads queue mapping",
        changes,
    )
    ensure_bucket_notification(
        aws, stack.uploads_bucket, stack.queue_arn(stack.uploads_queue), changes, via_queue=True
    )


# Only a record that sets a count to 0 can be an item running out, so Lambda drops every other
# one before invoking check_stock (which still applies the whole rule: 0 over 0 is no alert).
# On AWS filtered records are not billed; on an emulator they are not serialised and run.
OUT_OF_STOCK_RECORDS = json.dumps(
    {"dynamodb": {"NewImage": {"count": {"N": ["0"]}}}}, separators=(",", ":")
)
# A record whose new image is low may be an item becoming low (the loader writes `level`).
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


def connect_stream(
    aws: Aws,
    stack: Stack,
    stream_arn: str,
    settings: Settings,
    changes: Changes,
    filter_patterns: tuple[str, ...] = (OUT_OF_STOCK_RECORDS, LOW_STOCK_RECORDS),
) -> None:
    """The table's stream -> check_stock, records that exhaust their retries to the
    alert-failures queue."""
    ensure_stream_mapping(
        aws,
        StreamMappingSpec(
            function=stack.check_function,
            stream_arn=stream_arn,
            batch_size=settings.stream_batch_size,
            max_retries=settings.stream_max_retries,
            max_record_age_seconds=settings.stream_max_record_age_seconds,
            on_failure_arn=stack.queue_arn(stack.alert_failures_queue),
            filter_patterns=filter_patterns,
        ),
        changes,
    )


def ensure_tracking(
    aws: Aws, stack: Stack, stream_arn: str, settings: Settings, changes: Changes
) -> None:
    """track_stock on the same stream: every record -> the dashboard's summary and history.

    Settings.stock_tracking says whether the stack has it (nothing but the dashboard reads
    those figures).
    """
    ensure_function(
        aws,
        _function_spec(
            stack.track_function,
            "track_stock",
            ensure_role(
                aws,
                stack.track_role,
                policies.LAMBDA_TRUST,
                policies.track_stock_policy(stack),
                changes,
            ),
            settings.check_timeout_seconds,
            settings.check_memory_mb,
            {
                "SUMMARY_TABLE": stack.summary_table,
                "HISTORY_TABLE": stack.history_table,
                "HISTORY_RETENTION_DAYS": str(settings.history_retention_days),
                "POWERTOOLS_METRICS_NAMESPACE": "Inventory",
            },
        ),
        changes,
    )
    connect_tracking(aws, stack, stream_arn, settings, changes)


def connect_tracking(
    aws: Aws, stack: Stack, stream_arn: str, settings: Settings, changes: Changes
) -> None:
    """The table's stream -> track_stock, unfiltered (every change moves the figures);
    records that exhaust their retries go to the track-failures queue."""
    ensure_stream_mapping(
        aws,
        StreamMappingSpec(
            function=stack.track_function,
            stream_arn=stream_arn,
            batch_size=settings.stream_batch_size,
            max_retries=settings.stream_max_retries,
            max_record_age_seconds=settings.stream_max_record_age_seconds,
            on_failure_arn=stack.queue_arn(stack.track_failures_queue),
        ),
        changes,
    )


def _function_spec(
    name: str, source: str, role_arn: str, timeout: int, memory_mb: int, env: dict[str, str]
) -> FunctionSpec:
    return packaging.function_spec(
        name, packaging.build_zip(source), role_arn, RUNTIME, timeout, memory_mb, env
    )


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
    topic_arn = find_topic(aws, stack.topic)
    alerts_url = queue_url(aws, stack.alerts_queue)
    if topic_arn is None or alerts_url is None:
        raise StackNotFound(f"stack {stack.name!r} is not provisioned here")
    return {**_outputs(aws, stack, topic_arn, alerts_url), **dashboard.outputs(aws, stack)}


def _outputs(aws: Aws, stack: Stack, topic_arn: str, alerts_url: str) -> dict[str, Any]:
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


def destroy(
    aws: Aws, stack: Stack, changes: Changes | None = None, *, keep_data: bool = False
) -> Changes:
    """Remove everything `up` made, in reverse order; a missing piece is skipped. With
    `keep_data`, the tables that hold data and the dashboard's user pool stay (the command
    line's default: `destroy --delete-data` removes them too)."""
    changes = changes or Changes()
    possible = alarms.possible_alarm_names(stack, list(function_names(stack).values()))
    alarms.delete_alarms(aws, stack, possible, changes)
    dashboard.destroy(aws, stack, changes, keep_users=keep_data)
    delete_function(aws, stack.track_function, changes)
    delete_function(aws, stack.check_function, changes)
    delete_function(aws, stack.load_function, changes)
    delete_role(aws, stack.track_role, changes)
    delete_role(aws, stack.check_role, changes)
    delete_role(aws, stack.load_role, changes)
    for queue in stack.queues:
        delete_queue(aws, queue, changes)
    inbox.delete_inbox(aws, stack, changes)
    delete_topic(aws, stack.topic, changes)
    for table in safety.data_tables(stack):
        if keep_data:
            changes.note(f"kept     table {table} (destroy --delete-data removes it)")
        else:
            delete_table(aws, table, changes)
    delete_bucket(aws, stack.uploads_bucket, changes)
    delete_bucket(aws, stack.reports_bucket, changes)
    # Last: an invocation still finishing when its function was deleted may write its final
    # log lines, recreating the group.
    for function in (stack.load_function, stack.check_function, stack.track_function):
        delete_log_group(aws, f"/aws/lambda/{function}", changes)
    return changes
