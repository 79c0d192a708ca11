"""The stack as a CloudFormation template, rendered from the same description `up` applies.

`python -m provision template` writes build/<stack>.template.json (for the default stack
build/inventory.template.json) and the function zips it names (build/functions/), for users
who deploy with `aws cloudformation deploy` instead of `python -m provision up`. Account,
region and partition are CloudFormation's own pseudo-parameters, so one template serves any
account; the stack name is fixed when it is rendered, since every resource name derives
from it. The dashboard is in it, conditional on the `Dashboard` parameter
(provision.template_dashboard); its site's files are uploaded by `provision up`.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from provision import packaging, template_dashboard
from provision.description import describe
from provision.model import Ref, Resource, Target
from provision.stack import Settings, Stack
from provision.template_resources import RENDERERS, code_parameter, logical_id, notification

OUTPUT = Path(__file__).resolve().parent.parent / "build"

PART_OF_ANOTHER = {"bucket_notification": "bucket"}

# What Ref returns for each type; any other attribute is a GetAtt.
REF_GIVES = {("queue", "Url"), ("topic", "Arn"), ("http_api", "Id")}


def symbolic_stack(name: str) -> Stack:
    """The stack with CloudFormation's pseudo-parameters for account, region and partition."""
    return Stack(name, "${AWS::AccountId}", "${AWS::Region}", "${AWS::Partition}")


def described(
    name: str, settings: Settings | None = None, target: Target | None = None
) -> tuple[Resource, ...]:
    """The description the template renders: the dashboard always (the parameter decides)."""
    settings = replace(settings or Settings(), dashboard=True)
    target = replace(target or Target(), dashboard_supported=True)
    return describe(symbolic_stack(name), settings, target)


def render(
    name: str, settings: Settings | None = None, target: Target | None = None
) -> dict[str, Any]:
    """The template of stack `name` on `target` (AWS unless told)."""
    stack = symbolic_stack(name)
    description = described(name, settings, target)
    resources: dict[str, Any] = {}
    for resource in description:
        if resource.kind in PART_OF_ANOTHER:
            owner = logical_id(stack, PART_OF_ANOTHER[resource.kind], resource.name)
            resources[owner]["Properties"]["NotificationConfiguration"] = notification(resource)
            # S3 checks that it may send to the queue when the notification is made.
            queue = resource.properties["Queue"].name
            resources[owner]["DependsOn"] = [logical_id(stack, "queue", queue) + "Policy"]
        elif resource.kind in template_dashboard.KINDS:
            resources.update(template_dashboard.render(stack, resource))
        else:
            rendered = RENDERERS[resource.kind](stack, resource)
            if resource.part == "dashboard":
                rendered = {
                    key: {**body, "Condition": template_dashboard.CONDITION}
                    for key, body in rendered.items()
                }
            resources.update(rendered)
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Serverless inventory, stack {name!r} (rendered by python -m provision "
        "template from provision/description.py; do not edit by hand)",
        "Parameters": _parameters(description),
        "Conditions": {
            template_dashboard.CONDITION: {"Fn::Equals": [{"Ref": "Dashboard"}, "true"]}
        },
        "Resources": resources,
        "Outputs": _outputs(stack) | template_dashboard.outputs(stack),
    }
    cloudformation: dict[str, Any] = _cloudformation_values(stack, template)
    return cloudformation


def write(name: str, settings: Settings | None = None, output: Path | None = None) -> Path:
    """Write the template and the zips its code parameters default to (under build/ unless
    `output` says where); returns its path."""
    output = output or OUTPUT
    template = render(name, settings)
    functions = output / "functions"
    functions.mkdir(parents=True, exist_ok=True)
    for source, key in code_keys(described(name, settings)).items():
        (output / key).write_bytes(packaging.build_zip(source))
    path = output / f"{name}.template.json"
    path.write_text(json.dumps(template, indent=2) + "\n")
    return path


def code_keys(description: tuple[Resource, ...]) -> dict[str, str]:
    """Each function source -> the S3 key its zip is uploaded under: named by its content,
    so new code is a new key and CloudFormation updates the function."""
    functions = [r.properties for r in description if r.kind == "function"]
    functions += [r.properties["Function"] for r in description if r.kind == "dashboard"]
    sources = sorted({function["Source"] for function in functions})
    keys = {}
    for source in sources:
        digest = packaging.code_sha256(packaging.build_zip(source))
        short = re.sub(r"[^A-Za-z0-9]", "", digest)[:12]
        keys[source] = f"functions/{source}-{short}.zip"
    return keys


def _parameters(description: tuple[Resource, ...]) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "CodeBucket": {
            "Type": "String",
            "Description": "The S3 bucket holding the function zips (build/functions/)",
        },
        "Dashboard": {
            "Type": "String",
            "AllowedValues": ["true", "false"],
            "Default": "true",
            "Description": "Whether the stack has the dashboard (Cognito, the HTTP API, the site)",
        },
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
