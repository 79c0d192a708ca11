"""The stacks one benchmark run measures, side by side on one target.

- the project: `provision.deploy.up` under a stack name of its own;
- the baseline: the lab's two functions (bench/baseline/) wired by the same provisioning
  helpers onto their own bucket, table, topic and queue (the lab's console defaults: 128 MB,
  a stream batch of 100);
- the ceiling: a bare table shaped like the project's (keys, stream on, no consumer), which
  the benchmark process writes to itself, as a role allowed only BatchWriteItem on it.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3

from provision import deploy, description, packaging, policies
from provision.aws import Aws, Changes
from provision.functions import (
    FunctionSpec,
    StreamMappingSpec,
    delete_role,
    ensure_async_invoke_config,
    ensure_function,
    ensure_invoke_permission,
    ensure_role,
    ensure_stream_mapping,
    session_as_new_role,
)
from provision.stack import Settings, Stack
from provision.storage import delete_table, ensure_bucket, ensure_bucket_notification, ensure_table
from provision.topics_and_queues import ensure_queue, ensure_subscription, ensure_topic

BASELINE = Path(__file__).resolve().parent / "baseline"
TABLE_KEYS = [("store", "HASH"), ("item", "RANGE")]
# The lab creates its functions in the console: 128 MB, and a DynamoDB trigger of batch 100.
# Its 3-second timeout would stop the loader on any large file, so the baseline gets Lambda's
# longest: the benchmark measures speed, not that failure.
LAB_MEMORY_MB = 128
LAB_LOAD_TIMEOUT_SECONDS = 900
LAB_CHECK_TIMEOUT_SECONDS = 60
LAB_STREAM_BATCH_SIZE = 100
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Target:
    """One pipeline under test: where files go, where rows land, where alerts arrive."""

    name: str
    prefix: str  # of the store names this pipeline's files use; unique per pipeline
    uploads_bucket: str
    reports_bucket: str  # the project's; the baseline writes no reports
    table: str
    alerts_queue_url: str
    load_function: str
    check_function: str
    load_memory_mb: int
    check_memory_mb: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uploads_bucket": self.uploads_bucket,
            "table": self.table,
            "functions": [self.load_function, self.check_function],
            "memory_mb": {"load": self.load_memory_mb, "check": self.check_memory_mb},
        }


def handler_zip(function: str) -> bytes:
    """A baseline function's package: its handler.py alone, reproducible byte for byte."""
    source = BASELINE / function / "handler.py"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("handler.py", date_time=_FIXED_TIME)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, source.read_bytes())
    return buffer.getvalue()


def deploy_project(
    aws: Aws, name: str, changes: Changes, stream_batch_size: int | None = None
) -> tuple[Stack, Target]:
    """The project's stack as `make up` builds it: its default settings, unless an experiment
    asks for another stream batch size."""
    stack = deploy.locate(aws, name)
    settings = Settings()
    if stream_batch_size:
        settings = replace(settings, stream_batch_size=stream_batch_size)
    outputs = deploy.up(aws, stack, settings, changes=changes)
    return stack, Target(
        name="project",
        prefix="pj",
        uploads_bucket=outputs["uploads_bucket"],
        reports_bucket=outputs["reports_bucket"],
        table=outputs["table"],
        alerts_queue_url=outputs["alerts_queue_url"],
        load_function=stack.load_function,
        check_function=stack.check_function,
        load_memory_mb=settings.load_memory_mb,
        check_memory_mb=settings.check_memory_mb,
    )


def deploy_baseline(aws: Aws, name: str, changes: Changes) -> tuple[Stack, Target]:
    """The lab's pair on resources named like a stack's, so `deploy.destroy` removes them."""
    stack = deploy.locate(aws, name)
    ensure_bucket(aws, stack.uploads_bucket, stack.region, None, changes)
    stream_arn = ensure_table(aws, stack.table, TABLE_KEYS, changes, stream=True)
    assert stream_arn is not None
    topic_arn = ensure_topic(aws, stack.topic, {}, changes)
    queue_policy = {"Policy": json.dumps(policies.alerts_queue_policy(stack))}
    alerts_url = ensure_queue(aws, stack.alerts_queue, queue_policy, changes)
    ensure_subscription(
        aws,
        topic_arn,
        "sqs",
        stack.queue_arn(stack.alerts_queue),
        {"RawMessageDelivery": "true"},
        changes,
    )
    # Not the lab's: somewhere for Lambda to put a failed event instead of retrying it into
    # the next measurement.
    ensure_queue(aws, stack.load_failures_queue, {}, changes)
    ensure_queue(aws, stack.alert_failures_queue, {}, changes)

    load_arn = ensure_function(
        aws,
        _lab_function(
            stack.load_function,
            "load_inventory_lab",
            ensure_role(
                aws, stack.load_role, policies.LAMBDA_TRUST, _lab_load_policy(stack), changes
            ),
            LAB_LOAD_TIMEOUT_SECONDS,
            {"TABLE_NAME": stack.table},
        ),
        changes,
    )
    # No retries: a failed load must not be retried into the next measurement. S3 invokes
    # the lab's loader itself, as the tutorial's does (no queue between).
    ensure_async_invoke_config(
        aws, stack.load_function, 0, stack.queue_arn(stack.load_failures_queue), changes
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

    ensure_function(
        aws,
        _lab_function(
            stack.check_function,
            "check_stock_lab",
            ensure_role(
                aws, stack.check_role, policies.LAMBDA_TRUST, _lab_check_policy(stack), changes
            ),
            LAB_CHECK_TIMEOUT_SECONDS,
            {"TOPIC_NAME": stack.topic},
        ),
        changes,
    )
    # The lab's mapping has no filter: every record invokes its function.
    ensure_stream_mapping(
        aws,
        StreamMappingSpec(
            function=stack.check_function,
            stream_arn=stream_arn,
            batch_size=LAB_STREAM_BATCH_SIZE,
            max_retries=Settings().stream_max_retries,
            max_record_age_seconds=Settings().stream_max_record_age_seconds,
            on_failure_arn=stack.queue_arn(stack.alert_failures_queue),
        ),
        changes,
    )
    return stack, Target(
        name="baseline",
        prefix="bl",
        uploads_bucket=stack.uploads_bucket,
        reports_bucket="",
        table=stack.table,
        alerts_queue_url=alerts_url,
        load_function=stack.load_function,
        check_function=stack.check_function,
        load_memory_mb=LAB_MEMORY_MB,
        check_memory_mb=LAB_MEMORY_MB,
    )


@dataclass(frozen=True)
class Ceiling:
    """The ceiling's table, and the role the benchmark writes to it as."""

    table: str
    role: str
    writer: boto3.Session  # the role's credentials


def deploy_ceiling(aws: Aws, name: str, changes: Changes, timeout: float = 60) -> Ceiling:
    """A table like the project's (same keys, stream on) that nothing consumes, and a role
    that may only BatchWriteItem on it.

    The benchmark writes as that role, not as the account's root: the emulator then checks
    IAM on each request, as it does for the functions' requests, so the ceiling pays what
    the loaders pay.
    """
    ensure_table(aws, name, TABLE_KEYS, changes, stream=True)
    table_arn = str(aws.dynamodb.describe_table(TableName=name)["Table"]["TableArn"])
    writer = session_as_new_role(
        aws, name, _statements((["dynamodb:BatchWriteItem"], table_arn)), changes, timeout
    )
    return Ceiling(table=name, role=name, writer=writer)


def remove(aws: Aws, stacks: list[Stack], ceiling: Ceiling, changes: Changes) -> None:
    """Everything the run made."""
    for stack in stacks:
        deploy.destroy(aws, stack, changes)
    delete_table(aws, ceiling.table, changes)
    delete_role(aws, ceiling.role, changes)


def _lab_function(
    name: str, source: str, role_arn: str, timeout: int, env: dict[str, str]
) -> FunctionSpec:
    return packaging.function_spec(
        name, handler_zip(source), role_arn, description.RUNTIME, timeout, LAB_MEMORY_MB, env
    )


def _lab_load_policy(stack: Stack) -> dict[str, Any]:
    """What the lab's role grants in spirit (S3 read, DynamoDB write), on this stack only."""
    return _statements(
        (["s3:GetObject"], f"{stack.bucket_arn(stack.uploads_bucket)}/*"),
        (["dynamodb:PutItem"], stack.table_arn),
        (["sqs:SendMessage"], stack.queue_arn(stack.load_failures_queue)),
        (["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "*"),
    )


def _lab_check_policy(stack: Stack) -> dict[str, Any]:
    return _statements(
        (["sns:ListTopics"], "*"),
        (["sns:Publish"], stack.topic_arn),
        (
            [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            ],
            f"{stack.table_arn}/stream/*",
        ),
        (["sqs:SendMessage"], stack.queue_arn(stack.alert_failures_queue)),
        (["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "*"),
    )


def _statements(*grants: tuple[list[str], str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": resource}
            for actions, resource in grants
        ],
    }
