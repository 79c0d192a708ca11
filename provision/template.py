"""The stack as a CloudFormation template, rendered from the same description `up` applies.

`python -m provision template` writes build/<stack>.template.json (for the default stack
build/inventory.template.json) and the function zips it names (build/functions/), for users
who deploy with `aws cloudformation deploy` instead of `python -m provision up`. Account,
region and partition are CloudFormation's own pseudo-parameters, so one template serves any
account; the stack name is fixed when it is rendered, since every resource name derives
from it.

The dashboard is not in the template: its site needs files that carry the user pool's and
the API's ids, which CloudFormation can only write through a custom resource (a function of
its own). Deploy it with `python -m provision up` against the same stack name.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from provision import packaging, policies
from provision.description import describe
from provision.model import Ref, Resource, Target
from provision.stack import Settings, Stack

OUTPUT = Path(__file__).resolve().parent.parent / "build"

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
PART_OF_ANOTHER = {"bucket_notification": "bucket"}
NOT_RENDERED = ("user_pool", "dashboard")

# What Ref returns for each type; any other attribute is a GetAtt.
REF_GIVES = {("queue", "Url"), ("topic", "Arn"), ("http_api", "Id")}


def symbolic_stack(name: str) -> Stack:
    """The stack with CloudFormation's pseudo-parameters for account, region and partition."""
    return Stack(name, "${AWS::AccountId}", "${AWS::Region}", "${AWS::Partition}")


def render(
    name: str, settings: Settings | None = None, target: Target | None = None
) -> dict[str, Any]:
    """The template of stack `name`, dashboard left out."""
    stack = symbolic_stack(name)
    settings = replace(settings or Settings(), dashboard=False)
    description = describe(stack, settings, target or Target())
    resources: dict[str, Any] = {}
    for resource in description:
        if resource.kind in NOT_RENDERED:
            continue
        if resource.kind in PART_OF_ANOTHER:
            owner = logical_id(stack, PART_OF_ANOTHER[resource.kind], resource.name)
            resources[owner]["Properties"]["NotificationConfiguration"] = _notification(resource)
            resources[owner]["DependsOn"] = [
                logical_id(stack, "queue", resource.properties["Queue"].name) + "Policy"
            ]
            continue
        resources.update(RENDERERS[resource.kind](stack, resource))
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Serverless inventory, stack {name!r} (rendered by python -m provision "
        "template from provision/description.py; do not edit by hand)",
        "Parameters": _parameters(description),
        "Resources": resources,
        "Outputs": _outputs(stack),
    }
    rendered: dict[str, Any] = _cloudformation_values(stack, template)
    return rendered


def write(name: str, settings: Settings | None = None, output: Path | None = None) -> Path:
    """Write the template and the zips its code parameters default to (under build/ unless
    `output` says where); returns its path."""
    output = output or OUTPUT
    template = render(name, settings)
    functions = output / "functions"
    functions.mkdir(parents=True, exist_ok=True)
    for source, key in code_keys(describe(symbolic_stack(name), settings or Settings())).items():
        (output / key).write_bytes(packaging.build_zip(source))
    path = output / f"{name}.template.json"
    path.write_text(json.dumps(template, indent=2) + "\n")
    return path


def code_keys(description: tuple[Resource, ...]) -> dict[str, str]:
    """Each function source -> the S3 key its zip is uploaded under: named by its content,
    so new code is a new key and CloudFormation updates the function."""
    sources = sorted({r.properties["Source"] for r in description if r.kind == "function"})
    keys = {}
    for source in sources:
        digest = packaging.code_sha256(packaging.build_zip(source))
        short = re.sub(r"[^A-Za-z0-9]", "", digest)[:12]
        keys[source] = f"functions/{source}-{short}.zip"
    return keys


def logical_id(stack: Stack, kind: str, name: str) -> str:
    """A resource's id in the template: its name without the stack's, in CamelCase, then
    its kind (`inventory-uploads-${AWS::AccountId}-...` bucket -> UploadsBucket)."""
    plain = re.sub(r"\$\{[^}]*\}", "", name).replace(stack.name, "", 1)
    words = re.split(r"[^A-Za-z0-9]+", plain)
    kind_words = kind.split("_")
    return "".join(word[:1].upper() + word[1:] for word in [*words, *kind_words] if word)


def code_parameter(source: str) -> str:
    return "".join(word.capitalize() for word in source.split("_")) + "CodeKey"


def _parameters(description: tuple[Resource, ...]) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "CodeBucket": {
            "Type": "String",
            "Description": "The S3 bucket holding the function zips (build/functions/)",
        }
    }
    for source, key in code_keys(description).items():
        parameters[code_parameter(source)] = {
            "Type": "String",
            "Default": key,
            "Description": f"The S3 key of {source}'s zip in CodeBucket",
        }
    return parameters


def _ref(stack: Stack, ref: Ref) -> dict[str, Any]:
    target = logical_id(stack, ref.kind, ref.name)
    if (ref.kind, ref.attribute) in REF_GIVES:
        return {"Ref": target}
    return {"Fn::GetAtt": [target, ref.attribute]}


def _cloudformation_values(stack: Stack, value: Any) -> Any:
    """Refs as Ref/GetAtt; strings naming a pseudo-parameter as Fn::Sub."""
    if isinstance(value, Ref):
        return _ref(stack, value)
    if isinstance(value, dict):
        return {key: _cloudformation_values(stack, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cloudformation_values(stack, item) for item in value]
    if isinstance(value, str) and "${AWS::" in value:
        return {"Fn::Sub": value}
    return value


def _retained(resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
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


def _notification(resource: Resource) -> dict[str, Any]:
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
    return {logical_id(stack, "table", resource.name): _retained(resource, body)}


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


def _outputs(stack: Stack) -> dict[str, Any]:
    """What `python -m provision outputs` reports (but the emulator's endpoint), by the same
    names in CamelCase; `functions` flattened to one output each."""
    values: dict[str, Any] = {
        "Stack": stack.name,
        "Region": {"Ref": "AWS::Region"},
        "Account": {"Ref": "AWS::AccountId"},
        "UploadsBucket": {"Ref": logical_id(stack, "bucket", stack.uploads_bucket)},
        "ReportsBucket": {"Ref": logical_id(stack, "bucket", stack.reports_bucket)},
        "Table": {"Ref": logical_id(stack, "table", stack.table)},
        "TopicArn": {"Ref": logical_id(stack, "topic", stack.topic)},
        "SummaryTable": {"Ref": logical_id(stack, "table", stack.summary_table)},
        "HistoryTable": {"Ref": logical_id(stack, "table", stack.history_table)},
    }
    for key, queue in (
        ("AlertsQueueUrl", stack.alerts_queue),
        ("UploadsQueueUrl", stack.uploads_queue),
        ("LoadFailuresQueueUrl", stack.load_failures_queue),
        ("AlertFailuresQueueUrl", stack.alert_failures_queue),
    ):
        values[key] = {"Ref": logical_id(stack, "queue", queue)}
    for short, function in (
        ("LoadInventory", stack.load_function),
        ("CheckStock", stack.check_function),
        ("TrackStock", stack.track_function),
    ):
        values[f"Functions{short}"] = {"Ref": logical_id(stack, "function", function)}
    return {key: {"Value": value} for key, value in values.items()}
