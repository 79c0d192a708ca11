"""One function per kind of resource: make it exist with the given settings, or remove it.

Each `ensure_*` is idempotent: it reads what is there, changes only what differs, and records
what it did in `Changes`, so a second run of provisioning records nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
from botocore.exceptions import ClientError

from provision import tracing

T = TypeVar("T")


@dataclass
class Changes:
    """What a provisioning run created, updated or deleted, in order."""

    made: list[str] = field(default_factory=list)
    echo: Callable[[str], None] | None = None

    def note(self, line: str) -> None:
        """Say something about the run that is not a change."""
        if self.echo:
            self.echo(line)

    def record(self, action: str, kind: str, name: str) -> None:
        line = f"{action:8} {kind} {name}"
        self.made.append(line)
        if self.echo:
            self.echo(line)


class Aws:
    """The clients of one target: an endpoint (MiniStack, LocalStack) or AWS itself."""

    def __init__(self, session: boto3.Session, endpoint_url: str | None) -> None:
        self.session = session
        self.endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint_url
            )
        return self._clients[service]

    s3 = property(lambda self: self.client("s3"))
    dynamodb = property(lambda self: self.client("dynamodb"))
    sns = property(lambda self: self.client("sns"))
    sqs = property(lambda self: self.client("sqs"))
    iam = property(lambda self: self.client("iam"))
    logs = property(lambda self: self.client("logs"))
    sts = property(lambda self: self.client("sts"))
    lambda_ = property(lambda self: self.client("lambda"))


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def missing(error: ClientError, *codes: str) -> bool:
    """True if `error` says the resource does not exist."""
    return (
        error_code(error) in codes
        or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
    )


def ignore_missing(call: Callable[[], T], *codes: str) -> T | None:
    try:
        return call()
    except ClientError as error:
        if missing(error, *codes):
            return None
        raise


class GaveUp(Exception):
    """A call still failed with a retryable error when its deadline passed."""


@dataclass(frozen=True)
class Patience:
    """How long to keep retrying, and the clock and sleep to do it with (a test's are fake)."""

    timeout: float
    first_delay: float = 0.5
    max_delay: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def retry_while(
    call: Callable[[], T], retryable: Callable[[ClientError], bool], patience: Patience, what: str
) -> T:
    """Call until it stops failing with a retryable error, backing off up to the deadline.

    Raises:
        GaveUp: naming `what` and the last error, if it still failed so at the deadline.
        ClientError: any error that is not retryable, at once.
    """
    deadline = patience.clock() + patience.timeout
    delay = patience.first_delay
    while True:
        try:
            return call()
        except ClientError as error:
            if not retryable(error):
                raise
            remaining = deadline - patience.clock()
            if remaining <= 0:
                raise GaveUp(
                    f"gave up after {patience.timeout:.0f}s waiting for {what}: {error}"
                ) from error
            patience.sleep(min(delay, remaining))  # the last attempt lands on the deadline
            delay = min(delay * 2, patience.max_delay)


# On AWS a new role, or a role's new policy, takes seconds to reach Lambda, which checks it
# whenever a call names the function's role or relies on its permissions. Until then such
# calls fail with InvalidParameterValueException and a message naming the role: "The role
# defined for the function cannot be assumed by Lambda.", "The provided execution role does
# not have permissions to call SendMessage on SQS", "Cannot access stream ... Please ensure
# the role can perform the GetRecords ... Actions on your stream in IAM."
ROLE_PROPAGATION = Patience(timeout=60)


def role_not_ready(error: ClientError) -> bool:
    """True if Lambda refused the call over a role IAM may not have propagated yet."""
    message = str(error.response.get("Error", {}).get("Message", "")).lower()
    return error_code(error) == "InvalidParameterValueException" and "role" in message


def while_role_propagates(call: Callable[[], T], what: str) -> T:
    """`call`, retried while Lambda refuses the role it relies on (see ROLE_PROPAGATION)."""
    return retry_while(
        call, role_not_ready, ROLE_PROPAGATION, f"Lambda to accept the role of {what}"
    )


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    progress: Callable[[], object] | None = None,
) -> None:
    """Poll `predicate` until it is true; raise TimeoutError naming `what` otherwise.

    With `progress`, `timeout` is how long the work may go without advancing: the deadline
    moves on each time `progress()` returns something new (a count of rows, of parts), so a
    slow machine that keeps advancing gets its time and one that stopped fails as soon.
    """
    deadline = time.monotonic() + timeout
    reached = progress() if progress else None
    delay = 0.1
    while not predicate():
        now = progress() if progress else None
        if now != reached:
            reached, deadline = now, time.monotonic() + timeout
        elif time.monotonic() > deadline:
            stalled = f" (stopped at {reached})" if progress else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{stalled}")
        time.sleep(delay)
        delay = min(delay * 2, 2)


# ---------------------------------------------------------------- S3


def ensure_bucket(
    aws: Aws, name: str, region: str, policy: dict[str, Any] | None, changes: Changes
) -> None:
    """A private, encrypted, versioned bucket, with this bucket policy if one is given."""
    if ignore_missing(lambda: aws.s3.head_bucket(Bucket=name), "404", "NoSuchBucket") is None:
        options: dict[str, Any] = {}
        if region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": region}
        aws.s3.create_bucket(Bucket=name, **options)
        changes.record("created", "bucket", name)
    block_all = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    current = ignore_missing(
        lambda: aws.s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"],
        "NoSuchPublicAccessBlockConfiguration",
    )
    if current != block_all:
        aws.s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block_all)
        changes.record("updated", "bucket public access block", name)
    encryption = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    rules = ignore_missing(
        lambda: aws.s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"],
        "ServerSideEncryptionConfigurationNotFoundError",
    )
    current_algorithms = [
        rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
        for rule in (rules or {}).get("Rules", [])
    ]
    if current_algorithms != ["AES256"]:
        aws.s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=encryption)
        changes.record("updated", "bucket encryption", name)
    if aws.s3.get_bucket_versioning(Bucket=name).get("Status") != "Enabled":
        aws.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        changes.record("updated", "bucket versioning", name)
    current_policy = ignore_missing(
        lambda: json.loads(aws.s3.get_bucket_policy(Bucket=name)["Policy"]), "NoSuchBucketPolicy"
    )
    if policy is not None and current_policy != policy:
        aws.s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
        changes.record("updated", "bucket policy", name)


def ensure_bucket_notification(
    aws: Aws, bucket: str, target_arn: str, changes: Changes, via_queue: bool = False
) -> None:
    """Every object created in `bucket` invokes the function `target_arn`, or (`via_queue`)
    is announced in the queue `target_arn`; any other notification is replaced."""
    kind, arn_key = (
        ("QueueConfigurations", "QueueArn")
        if via_queue
        else ("LambdaFunctionConfigurations", "LambdaFunctionArn")
    )
    wanted = {
        kind: [{"Id": "load-inventory", arn_key: target_arn, "Events": ["s3:ObjectCreated:*"]}]
    }
    current = aws.s3.get_bucket_notification_configuration(Bucket=bucket)
    have = {
        name: [
            {key: config.get(key) for key in ("Id", arn_key, "Events")}
            for config in current.get(name, [])
        ]
        for name in ("QueueConfigurations", "LambdaFunctionConfigurations", "TopicConfigurations")
        if current.get(name)
    }
    if have != wanted:
        aws.s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration=wanted
        )
        changes.record("updated", "bucket notification", bucket)


def delete_bucket(aws: Aws, name: str, changes: Changes) -> None:
    """Empty the bucket, every version of every object, then delete it."""
    if ignore_missing(lambda: aws.s3.head_bucket(Bucket=name), "404", "NoSuchBucket") is None:
        return
    paginator = aws.s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=name):
        doomed = [
            {"Key": entry["Key"], "VersionId": entry["VersionId"]}
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(doomed), 1000):
            aws.s3.delete_objects(
                Bucket=name, Delete={"Objects": doomed[start : start + 1000], "Quiet": True}
            )
    aws.s3.delete_bucket(Bucket=name)
    changes.record("deleted", "bucket", name)


# ---------------------------------------------------------------- DynamoDB


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index with string keys ((name, HASH|RANGE), ...), projecting ALL."""

    name: str
    keys: tuple[tuple[str, str], ...]

    def description(self) -> dict[str, Any]:
        return {
            "IndexName": self.name,
            "KeySchema": [{"AttributeName": key, "KeyType": kind} for key, kind in self.keys],
            "Projection": {"ProjectionType": "ALL"},
        }


def ensure_table(
    aws: Aws,
    name: str,
    keys: list[tuple[str, str]],
    changes: Changes,
    stream: bool = False,
    indexes: tuple[IndexSpec, ...] = (),
) -> str | None:
    """An on-demand table with string `keys` ((name, HASH|RANGE), ...), streaming both images
    of every change if `stream`, with these global secondary `indexes` (an existing table
    gains the ones it lacks). Returns the stream ARN, if any."""
    wanted_stream = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    description = ignore_missing(
        lambda: aws.dynamodb.describe_table(TableName=name)["Table"], "ResourceNotFoundException"
    )
    attributes = sorted({key for key, _ in keys} | {k for i in indexes for k, _ in i.keys})
    definitions = [{"AttributeName": key, "AttributeType": "S"} for key in attributes]
    if description is None:
        options: dict[str, Any] = {"StreamSpecification": wanted_stream} if stream else {}
        if indexes:
            options["GlobalSecondaryIndexes"] = [index.description() for index in indexes]
        aws.dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=definitions,
            KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
            BillingMode="PAY_PER_REQUEST",
            **options,
        )
        changes.record("created", "table", name)
    else:
        if stream and description.get("StreamSpecification") != wanted_stream:
            aws.dynamodb.update_table(TableName=name, StreamSpecification=wanted_stream)
            changes.record("updated", "table stream", name)
        present = {index["IndexName"] for index in description.get("GlobalSecondaryIndexes", [])}
        for index in indexes:
            if index.name not in present:
                _wait_table_active(aws, name)
                aws.dynamodb.update_table(
                    TableName=name,
                    AttributeDefinitions=definitions,
                    GlobalSecondaryIndexUpdates=[{"Create": index.description()}],
                )
                changes.record("created", "table index", f"{name}.{index.name}")
    aws.dynamodb.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    _wait_table_active(aws, name)
    arn = aws.dynamodb.describe_table(TableName=name)["Table"].get("LatestStreamArn")
    return str(arn) if stream else None


def _wait_table_active(aws: Aws, name: str) -> None:
    """The table and its indexes are ACTIVE (an index backfills after it is created)."""

    def active() -> bool:
        table = aws.dynamodb.describe_table(TableName=name)["Table"]
        indexes = table.get("GlobalSecondaryIndexes", [])
        return table["TableStatus"] == "ACTIVE" and all(
            index.get("IndexStatus", "ACTIVE") == "ACTIVE" for index in indexes
        )

    wait_until(active, 600, f"table {name} to be active")


def ensure_time_to_live(aws: Aws, table: str, attribute: str, changes: Changes) -> None:
    """Items of `table` expire at the epoch second their `attribute` holds."""
    described = aws.dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    if described.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and (
        described.get("AttributeName") == attribute
    ):
        return
    aws.dynamodb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
    )
    changes.record("updated", "table time to live", f"{table}.{attribute}")


def delete_table(aws: Aws, name: str, changes: Changes) -> None:
    if ignore_missing(
        lambda: aws.dynamodb.delete_table(TableName=name), "ResourceNotFoundException"
    ):
        aws.dynamodb.get_waiter("table_not_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        changes.record("deleted", "table", name)


# ---------------------------------------------------------------- SNS and SQS


def ensure_topic(aws: Aws, name: str, attributes: dict[str, str], changes: Changes) -> str:
    """A topic with these attributes; returns its ARN."""
    arn = find_topic(aws, name)
    if arn is None:
        arn = str(aws.sns.create_topic(Name=name, Attributes=attributes)["TopicArn"])
        changes.record("created", "topic", name)
        return arn
    current = aws.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    for key, value in attributes.items():
        if current.get(key) != value:
            aws.sns.set_topic_attributes(TopicArn=arn, AttributeName=key, AttributeValue=value)
            changes.record("updated", f"topic {key}", name)
    return arn


def find_topic(aws: Aws, name: str) -> str | None:
    for page in aws.sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                return str(topic["TopicArn"])
    return None


def ensure_subscription(
    aws: Aws,
    topic_arn: str,
    protocol: str,
    endpoint: str,
    attributes: dict[str, str],
    changes: Changes,
) -> None:
    """Subscribe `endpoint` once; an existing subscription keeps its ARN."""
    for page in aws.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for subscription in page.get("Subscriptions", []):
            if subscription["Protocol"] == protocol and subscription["Endpoint"] == endpoint:
                _align_subscription(aws, subscription["SubscriptionArn"], attributes, changes)
                return
    aws.sns.subscribe(
        TopicArn=topic_arn,
        Protocol=protocol,
        Endpoint=endpoint,
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    changes.record("created", f"{protocol} subscription", endpoint)


def _align_subscription(aws: Aws, arn: str, attributes: dict[str, str], changes: Changes) -> None:
    """An existing subscription takes the attributes wanted now (a FilterPolicy given or
    dropped). One still pending confirmation has no attributes to set yet."""
    if not arn.startswith("arn:"):
        return
    current = aws.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    for key in ("FilterPolicy",):
        wanted = attributes.get(key)
        if wanted is None and current.get(key) in (None, "", "{}"):
            continue
        if wanted is not None and _same_json(current.get(key), wanted):
            continue
        aws.sns.set_subscription_attributes(
            SubscriptionArn=arn, AttributeName=key, AttributeValue=wanted or "{}"
        )
        changes.record("updated", f"subscription {key}", arn.rsplit(":", 1)[-1])
    for key, value in attributes.items():
        if key != "FilterPolicy" and current.get(key) != value:
            aws.sns.set_subscription_attributes(
                SubscriptionArn=arn, AttributeName=key, AttributeValue=value
            )
            changes.record("updated", f"subscription {key}", arn.rsplit(":", 1)[-1])


def _same_json(current: str | None, wanted: str) -> bool:
    try:
        return current is not None and json.loads(current) == json.loads(wanted)
    except ValueError:
        return False


def delete_topic(aws: Aws, name: str, changes: Changes) -> None:
    arn = find_topic(aws, name)
    if arn is None:
        return
    for page in aws.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
        for subscription in page.get("Subscriptions", []):
            if subscription["SubscriptionArn"].startswith("arn:"):  # not PendingConfirmation
                aws.sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    aws.sns.delete_topic(TopicArn=arn)
    changes.record("deleted", "topic", name)


def ensure_queue(aws: Aws, name: str, attributes: dict[str, str], changes: Changes) -> str:
    """A queue with exactly these attributes; returns its URL."""
    url = queue_url(aws, name)
    if url is None:
        url = str(aws.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
        changes.record("created", "queue", name)
        return url
    current = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(attributes)).get(
        "Attributes", {}
    )
    differing = {
        key: value for key, value in attributes.items() if not _same(current.get(key), value)
    }
    if differing:
        aws.sqs.set_queue_attributes(QueueUrl=url, Attributes=differing)
        changes.record("updated", "queue", name)
    return url


def _same(current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if wanted.startswith("{"):  # JSON policies come back reformatted
        return bool(json.loads(current) == json.loads(wanted))
    return current == wanted


def queue_url(aws: Aws, name: str) -> str | None:
    return ignore_missing(
        lambda: str(aws.sqs.get_queue_url(QueueName=name)["QueueUrl"]),
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    )


def delete_queue(aws: Aws, name: str, changes: Changes) -> None:
    url = queue_url(aws, name)
    if url is not None:
        aws.sqs.delete_queue(QueueUrl=url)
        changes.record("deleted", "queue", name)


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
    current = ignore_missing(
        lambda: aws.iam.get_role_policy(RoleName=name, PolicyName=name)["PolicyDocument"],
        "NoSuchEntity",
    )
    if isinstance(current, str):  # some emulators return the document still URL-encoded JSON
        current = json.loads(current)
    if current != policy:
        aws.iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
        changes.record("updated", "role policy", name)
    return str(role["Arn"])


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

    def configuration(self, endpoint_url: str | None = None) -> dict[str, Any]:
        """The settings Lambda is given, on the target at `endpoint_url` (None: AWS)."""
        return {
            "Role": self.role_arn,
            "Handler": self.handler,
            "Runtime": self.runtime,
            "Timeout": self.timeout,
            "MemorySize": self.memory_mb,
            "Environment": {"Variables": self.environment | tracing.environment(endpoint_url)},
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
                FunctionName=spec.name,
                Code={"ZipFile": spec.package},
                **spec.configuration(aws.endpoint_url),
            ),
            f"function {spec.name}",
        )
        changes.record("created", "function", spec.name)
    else:
        if current["CodeSha256"] != spec.code_sha256:
            _wait_updated(aws, spec.name)
            aws.lambda_.update_function_code(FunctionName=spec.name, ZipFile=spec.package)
            changes.record("updated", "function code", spec.name)
        wanted = spec.configuration(aws.endpoint_url)
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
