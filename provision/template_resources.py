"""Each kind of resource of the description as CloudFormation: its type, its logical id in
the template, and its properties (provision.template puts them together)."""

from __future__ import annotations

import json
import re
from typing import Any

from provision import policies
from provision.model import Ref, Resource
from provision.stack import Stack

# A resource's kind -> its CloudFormation type. A bucket's notification is part of the
# bucket; the dashboard is made by the reconciler only (see the module's docstring).
TYPES = {
    "bucket": "AWS::S3::Bucket",
    "table": "AWS::DynamoDB::Table",
    "topic": "AWS::SNS::Topic",
    "queue": "AWS::SQS::Queue",
    "subscription": "AWS::SNS::Subscription",
    "role": "AWS::IAM::Role",
    "function": "AWS::Lambda::Function",
    "mapping": "AWS::Lambda::EventSourceMapping",
    "log_group": "AWS::Logs::LogGroup",
    "alarm": "AWS::CloudWatch::Alarm",
}


def logical_id(stack: Stack, kind: str, name: str) -> str:
    """A resource's id in the template: its name without the stack's, in CamelCase, then
    its kind (`inventory-uploads-${AWS::AccountId}-...` bucket -> UploadsBucket)."""
    plain = re.sub(r"\$\{[^}]*\}", "", name).replace(stack.name, "", 1)
    words = re.split(r"[^A-Za-z0-9]+", plain)
    kind_words = kind.split("_")
    return "".join(word[:1].upper() + word[1:] for word in [*words, *kind_words] if word)


def code_parameter(source: str) -> str:
    return "".join(word.capitalize() for word in source.split("_")) + "CodeKey"


def retained(resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
    if resource.keeps_data:  # data outlives the stack and any replacement of the resource
        return {**body, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    return body


def _bucket(stack: Stack, resource: Resource) -> dict[str, Any]:
    wanted, bucket_id = resource.properties, logical_id(stack, "bucket", resource.name)
    encryption = {"ServerSideEncryptionByDefault": {"SSEAlgorithm": wanted["Encryption"]}}
    rendered = {
        bucket_id: {
            "Type": TYPES["bucket"],
            "Properties": {
                "BucketName": resource.name,
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [encryption]},
                "VersioningConfiguration": {"Status": wanted["Versioning"]},
                "PublicAccessBlockConfiguration": wanted["PublicAccessBlock"],
            },
        }
    }
    if wanted["Policy"] is not None:
        rendered[bucket_id + "Policy"] = {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {"Bucket": {"Ref": bucket_id}, "PolicyDocument": wanted["Policy"]},
        }
    return rendered


def notification(resource: Resource) -> dict[str, Any]:
    wanted = resource.properties
    return {
        "QueueConfigurations": [
            {"Event": event, "Queue": wanted["Queue"]} for event in wanted["Events"]
        ]
    }


def _table(stack: Stack, resource: Resource) -> dict[str, Any]:
    wanted = resource.properties
    attributes = sorted(
        {key for key, _ in wanted["Keys"]}
        | {key for index in wanted["Indexes"] for key, _ in index["Keys"]}
    )
    properties: dict[str, Any] = {
        "TableName": resource.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        "KeySchema": _keys(wanted["Keys"]),
    }
    if wanted["Indexes"]:
        properties["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index["IndexName"],
                "KeySchema": _keys(index["Keys"]),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in wanted["Indexes"]
        ]
    if wanted["Stream"]:
        properties["StreamSpecification"] = {"StreamViewType": wanted["Stream"]}
    if wanted["TimeToLive"]:
        properties["TimeToLiveSpecification"] = {
            "AttributeName": wanted["TimeToLive"],
            "Enabled": True,
        }
    if wanted["PointInTimeRecovery"]:
        properties["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
    body = {"Type": TYPES["table"], "Properties": properties}
    return {logical_id(stack, "table", resource.name): retained(resource, body)}


def _keys(keys: list[list[str]]) -> list[dict[str, str]]:
    return [{"AttributeName": key, "KeyType": kind} for key, kind in keys]


def _topic(stack: Stack, resource: Resource) -> dict[str, Any]:
    properties = {"TopicName": resource.name, **resource.properties["Attributes"]}
    return {
        logical_id(stack, "topic", resource.name): {
            "Type": TYPES["topic"],
            "Properties": properties,
        }
    }


def _queue(stack: Stack, resource: Resource) -> dict[str, Any]:
    wanted, queue_id = resource.properties, logical_id(stack, "queue", resource.name)
    properties: dict[str, Any] = {"QueueName": resource.name}
    for key, value in wanted["Attributes"].items():
        properties[key] = value == "true" if value in ("true", "false") else int(value)
    if wanted["RedrivePolicy"] is not None:
        properties["RedrivePolicy"] = wanted["RedrivePolicy"]
    rendered = {queue_id: {"Type": TYPES["queue"], "Properties": properties}}
    if wanted["Policy"] is not None:
        rendered[queue_id + "Policy"] = {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {"Queues": [{"Ref": queue_id}], "PolicyDocument": wanted["Policy"]},
        }
    return rendered


def _subscription(stack: Stack, resource: Resource) -> dict[str, Any]:
    wanted = resource.properties
    properties: dict[str, Any] = {
        "TopicArn": wanted["Topic"],
        "Protocol": wanted["Protocol"],
        "Endpoint": wanted["Endpoint"],
    }
    if "RawMessageDelivery" in wanted["Attributes"]:
        properties["RawMessageDelivery"] = wanted["Attributes"]["RawMessageDelivery"] == "true"
    if "FilterPolicy" in wanted["Attributes"]:
        properties["FilterPolicy"] = json.loads(wanted["Attributes"]["FilterPolicy"])
    body = {"Type": TYPES["subscription"], "Properties": properties}
    if isinstance(wanted["Endpoint"], Ref):  # the queue lets the topic deliver first
        body["DependsOn"] = [logical_id(stack, "queue", wanted["Endpoint"].name) + "Policy"]
    return {logical_id(stack, "subscription", resource.name): body}


def _role(stack: Stack, resource: Resource) -> dict[str, Any]:
    wanted = resource.properties
    properties = {
        "RoleName": resource.name,
        "AssumeRolePolicyDocument": wanted["Trust"],
        "Policies": [{"PolicyName": resource.name, "PolicyDocument": wanted["Policy"]}],
    }
    body: dict[str, Any] = {"Type": TYPES["role"], "Properties": properties}
    if policies.EMULATOR_ONLY_PUBLISH_BATCH in json.dumps(wanted["Policy"]):
        body["Metadata"] = {
            "cfn-lint": {"config": {"ignore_checks": ["W3037"]}},
            "Why": f"{policies.EMULATOR_ONLY_PUBLISH_BATCH} is not in AWS's IAM catalogue: AWS "
            "authorises PublishBatch as sns:Publish, MiniStack (enforcing IAM) by the "
            "operation's own name, so the policy names both (provision/policies.py)",
        }
    return {logical_id(stack, "role", resource.name): body}


def _function(stack: Stack, resource: Resource) -> dict[str, Any]:
    wanted, function_id = resource.properties, logical_id(stack, "function", resource.name)
    properties: dict[str, Any] = {
        "FunctionName": resource.name,
        "Role": wanted["Role"],
        "Handler": wanted["Handler"],
        "Runtime": wanted["Runtime"],
        "Timeout": wanted["Timeout"],
        "MemorySize": wanted["MemorySize"],
        "Environment": {"Variables": wanted["Environment"]},
        "TracingConfig": {"Mode": wanted["Tracing"]},
        "Code": {
            "S3Bucket": {"Ref": "CodeBucket"},
            "S3Key": {"Ref": code_parameter(wanted["Source"])},
        },
    }
    if wanted["ReservedConcurrency"] is not None:
        properties["ReservedConcurrentExecutions"] = wanted["ReservedConcurrency"]
    # Its log group first, so the function never makes one without an expiry.
    log_group = logical_id(stack, "log_group", f"/aws/lambda/{resource.name}")
    rendered = {
        function_id: {"Type": TYPES["function"], "Properties": properties, "DependsOn": [log_group]}
    }
    if wanted["Retries"] is not None:
        rendered[function_id + "Retries"] = {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": {"Ref": function_id},
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": wanted["Retries"]["MaximumRetryAttempts"],
                "DestinationConfig": {"OnFailure": {"Destination": wanted["Retries"]["OnFailure"]}},
            },
        }
    return rendered


def _mapping(stack: Stack, resource: Resource) -> dict[str, Any]:
    wanted = resource.properties
    properties = {
        "FunctionName": {"Ref": logical_id(stack, "function", wanted["Function"])},
        "EventSourceArn": wanted["Source"],
        "Enabled": True,
        **wanted["OnCreate"],
        **wanted["Settings"],
    }
    return {
        logical_id(stack, "mapping", resource.name): {
            "Type": TYPES["mapping"],
            "Properties": properties,
        }
    }


def _log_group(stack: Stack, resource: Resource) -> dict[str, Any]:
    properties = {"LogGroupName": resource.name, **resource.properties}
    return {
        logical_id(stack, "log_group", resource.name): {
            "Type": TYPES["log_group"],
            "Properties": properties,
        }
    }


def _alarm(stack: Stack, resource: Resource) -> dict[str, Any]:
    return {
        logical_id(stack, "alarm", resource.name): {
            "Type": TYPES["alarm"],
            "Properties": resource.properties,
        }
    }


RENDERERS = {
    "bucket": _bucket,
    "table": _table,
    "topic": _topic,
    "queue": _queue,
    "subscription": _subscription,
    "role": _role,
    "function": _function,
    "mapping": _mapping,
    "log_group": _log_group,
    "alarm": _alarm,
}
