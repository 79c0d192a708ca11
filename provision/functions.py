"""IAM roles and Lambda functions, with what drives them: async invoke configuration, reserved
concurrency, invoke permissions, event source mappings; make each exist with the given
settings, or remove it (idempotent, see `provision.aws`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from provision import tracing
from provision.aws import (
    Aws,
    Changes,
    Patience,
    error_code,
    ignore_missing,
    retry_while,
    wait_until,
    while_role_propagates,
)

# ---------------------------------------------------------------- IAM


def ensure_role(
    aws: Aws, name: str, trust: dict[str, Any], policy: dict[str, Any], changes: Changes
) -> str:
    """A role `trust` may assume, with `policy` inline as its only permissions; returns its ARN."""
    role = ignore_missing(lambda: aws.iam.get_role(RoleName=name)["Role"], "NoSuchEntity")
    if role is None:
        role = aws.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))[
            "Role"
        ]
        changes.record("created", "role", name)
    if inline_policy(aws, name) != policy:
        aws.iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
        changes.record("updated", "role policy", name)
    return str(role["Arn"])


def inline_policy(aws: Aws, role: str) -> dict[str, Any] | None:
    """The role's inline policy named as the role (the only one provisioning gives it)."""
    document = ignore_missing(
        lambda: aws.iam.get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"],
        "NoSuchEntity",
    )
    if isinstance(document, str):  # some emulators return the document still URL-encoded JSON
        document = json.loads(document)
    return document


def session_as_new_role(
    aws: Aws, name: str, policy: dict[str, Any], changes: Changes, timeout: float = 60
) -> boto3.Session:
    """A role this account may assume, with `policy` as its only permissions, and a session
    acting as it: requests then pass the target's IAM checks as a function's would."""
    identity = aws.sts.get_caller_identity()
    account, partition = str(identity["Account"]), str(identity["Arn"]).split(":")[1]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = ensure_role(aws, name, trust, policy, changes)
    # On AWS a new role can take seconds before it may be assumed.
    credentials = retry_while(
        lambda: aws.sts.assume_role(RoleArn=role_arn, RoleSessionName=name[:64]),
        lambda error: error_code(error) == "AccessDenied",
        Patience(timeout),
        f"IAM to let this account assume {role_arn}",
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=aws.session.region_name,
    )


def delete_role(aws: Aws, name: str, changes: Changes) -> None:
    names = ignore_missing(
        lambda: aws.iam.list_role_policies(RoleName=name)["PolicyNames"], "NoSuchEntity"
    )
    if names is None:
        return
    for policy in names:
        aws.iam.delete_role_policy(RoleName=name, PolicyName=policy)
    aws.iam.delete_role(RoleName=name)
    changes.record("deleted", "role", name)


# ---------------------------------------------------------------- Lambda


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    role_arn: str
    package: bytes
    code_sha256: str
    handler: str
    runtime: str
    timeout: int
    memory_mb: int
    environment: dict[str, str]

    def configuration(self) -> dict[str, Any]:
        return {
            "Role": self.role_arn,
            "Handler": self.handler,
            "Runtime": self.runtime,
            "Timeout": self.timeout,
            "MemorySize": self.memory_mb,
            "Environment": {"Variables": self.environment},
            "TracingConfig": tracing.TRACING_CONFIG,
        }


def ensure_function(aws: Aws, spec: FunctionSpec, changes: Changes) -> str:
    """The function with this code and configuration, active; returns its ARN."""
    current = ignore_missing(
        lambda: aws.lambda_.get_function(FunctionName=spec.name)["Configuration"],
        "ResourceNotFoundException",
    )
    if current is None:
        while_role_propagates(
            lambda: aws.lambda_.create_function(
                FunctionName=spec.name, Code={"ZipFile": spec.package}, **spec.configuration()
            ),
            f"function {spec.name}",
        )
        changes.record("created", "function", spec.name)
    else:
        if current["CodeSha256"] != spec.code_sha256:
            _wait_updated(aws, spec.name)
            aws.lambda_.update_function_code(FunctionName=spec.name, ZipFile=spec.package)
            changes.record("updated", "function code", spec.name)
        wanted = spec.configuration()
        have = {
            "Role": current.get("Role"),
            "Handler": current.get("Handler"),
            "Runtime": current.get("Runtime"),
            "Timeout": current.get("Timeout"),
            "MemorySize": current.get("MemorySize"),
            "Environment": {"Variables": current.get("Environment", {}).get("Variables", {})},
            "TracingConfig": {"Mode": current.get("TracingConfig", {}).get("Mode")},
        }
        if have != wanted:
            _wait_updated(aws, spec.name)
            while_role_propagates(
                lambda: aws.lambda_.update_function_configuration(FunctionName=spec.name, **wanted),
                f"function {spec.name}",
            )
            changes.record("updated", "function configuration", spec.name)
    aws.lambda_.get_waiter("function_active_v2").wait(
        FunctionName=spec.name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )
    _wait_updated(aws, spec.name)
    return str(aws.lambda_.get_function(FunctionName=spec.name)["Configuration"]["FunctionArn"])


def _wait_updated(aws: Aws, name: str) -> None:
    aws.lambda_.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )


def ensure_async_invoke_config(
    aws: Aws, function: str, max_retries: int, on_failure_arn: str, changes: Changes
) -> None:
    """Lambda's retries for asynchronous events, then the event goes to `on_failure_arn`."""
    wanted = {
        "MaximumRetryAttempts": max_retries,
        "DestinationConfig": {"OnFailure": {"Destination": on_failure_arn}},
    }
    current = ignore_missing(
        lambda: aws.lambda_.get_function_event_invoke_config(FunctionName=function),
        "ResourceNotFoundException",
    )
    have = None
    if current is not None:
        have = {
            "MaximumRetryAttempts": current.get("MaximumRetryAttempts"),
            "DestinationConfig": {
                "OnFailure": current.get("DestinationConfig", {}).get("OnFailure", {})
            },
        }
    if have != wanted:
        # Lambda checks that the role may send to the destination.
        while_role_propagates(
            lambda: aws.lambda_.put_function_event_invoke_config(FunctionName=function, **wanted),
            f"function {function}",
        )
        changes.record("updated", "async invoke config", function)


def ensure_reserved_concurrency(aws: Aws, function: str, limit: int, changes: Changes) -> None:
    """At most `limit` invocations of the function at once, reserved from the account's pool."""
    current = aws.lambda_.get_function_concurrency(FunctionName=function).get(
        "ReservedConcurrentExecutions"
    )
    if current != limit:
        aws.lambda_.put_function_concurrency(
            FunctionName=function, ReservedConcurrentExecutions=limit
        )
        changes.record("updated", "reserved concurrency", f"{function} = {limit}")


def ensure_invoke_permission(
    aws: Aws, function: str, principal: str, source_arn: str, account: str, changes: Changes
) -> None:
    """Allow `principal` (a service) to invoke the function for `source_arn` only."""
    statement_id = f"{principal.split('.')[0]}-invoke"
    # Read first rather than rely on add_permission refusing a duplicate: not every target
    # refuses one (moto adds it again), and the run would then report a change each time.
    document = ignore_missing(
        lambda: aws.lambda_.get_policy(FunctionName=function)["Policy"],
        "ResourceNotFoundException",
    )
    statements = json.loads(document)["Statement"] if document else []
    if any(statement.get("Sid") == statement_id for statement in statements):
        return
    try:
        aws.lambda_.add_permission(
            FunctionName=function,
            StatementId=statement_id,
            Action="lambda:InvokeFunction",
            Principal=principal,
            SourceArn=source_arn,
            SourceAccount=account,
        )
    except ClientError as error:
        if error_code(error) != "ResourceConflictException":
            raise
        return
    changes.record("created", "invoke permission", f"{function} for {principal}")


@dataclass(frozen=True)
class StreamMappingSpec:
    function: str
    stream_arn: str
    batch_size: int
    max_retries: int
    max_record_age_seconds: int
    on_failure_arn: str
    # Lambda event filter patterns (JSON): records matching none are dropped before the
    # function is invoked. None given: every record is delivered.
    filter_patterns: tuple[str, ...] = ()

    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": 0,
            "MaximumRetryAttempts": self.max_retries,
            "MaximumRecordAgeInSeconds": self.max_record_age_seconds,
            "BisectBatchOnFunctionError": True,
            "DestinationConfig": {"OnFailure": {"Destination": self.on_failure_arn}},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        }
        if self.filter_patterns:
            filters = [{"Pattern": pattern} for pattern in self.filter_patterns]
            settings["FilterCriteria"] = {"Filters": filters}
        return settings


def ensure_stream_mapping(aws: Aws, spec: StreamMappingSpec, changes: Changes) -> str:
    """The stream drives the function with these settings; returns the mapping's UUID."""
    return ensure_event_source_mapping(
        aws,
        spec.function,
        spec.stream_arn,
        spec.settings(),
        "stream mapping",
        changes,
        # From the start of the stream: nothing written before the mapping is missed.
        StartingPosition="TRIM_HORIZON",
    )


def ensure_event_source_mapping(
    aws: Aws,
    function: str,
    source_arn: str,
    wanted: dict[str, Any],
    kind: str,
    changes: Changes,
    **on_create: Any,
) -> str:
    """`source_arn` (a stream, a queue) drives the function with the `wanted` settings;
    `on_create` are given only when the mapping is made. Returns the mapping's UUID."""
    mappings = aws.lambda_.list_event_source_mappings(
        FunctionName=function, EventSourceArn=source_arn
    )["EventSourceMappings"]
    if not mappings:
        # Lambda checks that the role may read the source and send to the destination.
        created = while_role_propagates(
            lambda: aws.lambda_.create_event_source_mapping(
                FunctionName=function,
                EventSourceArn=source_arn,
                Enabled=True,
                **on_create,
                **wanted,
            ),
            f"function {function}",
        )
        uuid = str(created["UUID"])
        changes.record("created", kind, function)
    else:
        mapping = mappings[0]
        uuid = str(mapping["UUID"])
        have = {key: mapping.get(key) for key in wanted}
        if have != wanted:
            _wait_mapping_settled(aws, uuid)
            while_role_propagates(
                lambda: aws.lambda_.update_event_source_mapping(UUID=uuid, **wanted),
                f"function {function}",
            )
            changes.record("updated", kind, function)
    _wait_mapping_settled(aws, uuid)
    return uuid


def _wait_mapping_settled(aws: Aws, uuid: str) -> None:
    wait_until(
        lambda: aws.lambda_.get_event_source_mapping(UUID=uuid)["State"] in ("Enabled", "Disabled"),
        120,
        f"event source mapping {uuid} to settle",
    )


def delete_function(aws: Aws, name: str, changes: Changes) -> None:
    """The function and its event source mappings (its log group: `delete_log_group`)."""
    mappings = ignore_missing(
        lambda: aws.lambda_.list_event_source_mappings(FunctionName=name)["EventSourceMappings"],
        "ResourceNotFoundException",
    )
    for mapping in mappings or []:
        aws.lambda_.delete_event_source_mapping(UUID=mapping["UUID"])
        changes.record("deleted", "stream mapping", name)
    deleted = ignore_missing(
        lambda: aws.lambda_.delete_function(FunctionName=name), "ResourceNotFoundException"
    )
    if deleted is not None:
        changes.record("deleted", "function", name)


def delete_log_group(aws: Aws, name: str, changes: Changes) -> None:
    deleted = ignore_missing(
        lambda: aws.logs.delete_log_group(logGroupName=name), "ResourceNotFoundException"
    )
    if deleted is not None:
        changes.record("deleted", "log group", name)
