"""S3 buckets and their notifications, DynamoDB tables, their indexes and time to live:
make each exist with the given settings, or remove it (idempotent, see `provision.aws`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from provision.aws import Aws, Changes, ignore_missing, wait_until

# ---------------------------------------------------------------- S3


BLOCK_ALL_PUBLIC_ACCESS = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def bucket_settings(aws: Aws, name: str) -> dict[str, Any] | None:
    """What of the bucket ensure_bucket keeps in line (its public access block, default
    encryption, versioning and policy), or None if there is no such bucket."""
    s3 = aws.s3
    if ignore_missing(lambda: s3.head_bucket(Bucket=name), "404", "NoSuchBucket") is None:
        return None
    block = ignore_missing(
        lambda: s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"],
        "NoSuchPublicAccessBlockConfiguration",
    )
    rules = ignore_missing(
        lambda: s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"],
        "ServerSideEncryptionConfigurationNotFoundError",
    )
    algorithms = [
        rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
        for rule in (rules or {}).get("Rules", [])
    ]
    policy = ignore_missing(
        lambda: s3.get_bucket_policy(Bucket=name)["Policy"], "NoSuchBucketPolicy"
    )
    return {
        "PublicAccessBlock": block,
        "Encryption": algorithms[0] if algorithms == ["AES256"] else algorithms,
        "Versioning": s3.get_bucket_versioning(Bucket=name).get("Status"),
        "Policy": json.loads(policy) if policy else None,
    }


def ensure_bucket(
    aws: Aws,
    name: str,
    region: str,
    policy: dict[str, Any] | None,
    changes: Changes,
    public_access: dict[str, bool] = BLOCK_ALL_PUBLIC_ACCESS,
    versioned: bool = True,
) -> None:
    """An encrypted bucket, private unless `public_access` lets its policy grant public reads,
    versioned if `versioned`, with this bucket policy if one is given."""
    current = bucket_settings(aws, name)
    if current is None:
        options: dict[str, Any] = {}
        if region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": region}
        aws.s3.create_bucket(Bucket=name, **options)
        changes.record("created", "bucket", name)
        current = bucket_settings(aws, name) or {}
    if current["PublicAccessBlock"] != public_access:
        aws.s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=public_access)
        changes.record("updated", "bucket public access block", name)
    if current["Encryption"] != "AES256":
        encryption = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
        aws.s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=encryption)
        changes.record("updated", "bucket encryption", name)
    if versioned and current["Versioning"] != "Enabled":
        aws.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        changes.record("updated", "bucket versioning", name)
    if policy is not None and current["Policy"] != policy:
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
