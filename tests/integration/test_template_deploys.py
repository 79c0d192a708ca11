"""The CloudFormation template (`python -m provision template`) deployed on the emulator by its
own CloudFormation, under a stack name of its own and never updated (the emulator's
CloudFormation breaks a stream mapping whose BatchSize is updated). Without the dashboard: the
sample file goes in and its alert comes out. With it: `up` finds the stack as its own and
has only the site's files to add."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from provision import dashboard, deploy, packaging, planner, template
from provision.aws import Aws, Changes
from provision.model import People
from provision.stack import Settings, Stack
from provision.storage import delete_bucket
from provision.uploads import upload_and_wait_for_report
from tests.integration.support import PATIENCE, AlertInbox

SAMPLE = Path(__file__).resolve().parents[2] / "sample-data" / "berlin.csv"
# What MiniStack's CloudFormation (1.5.33) leaves out of what the template asks for, so the
# reconciler would still set it: point-in-time recovery, TTL, the topic's KMS key, the
# loader's reserved concurrency and retries (it keeps them under the $LATEST qualifier, where
# Lambda's unqualified read does not find them), and the uploads queue's URL, which it spells
# with `localhost` in the loader's environment.
EMULATOR_CLOUDFORMATION_DROPS = {
    ("table", "PointInTimeRecovery"),
    ("table", "TimeToLive"),
    ("topic", "Attributes"),
    ("function", "ReservedConcurrency"),
    ("function", "Retries"),
    ("function", "Environment"),
}
# And of the dashboard: the HTTP API's CORS and the stage's throttling.
EMULATOR_CLOUDFORMATION_DROPS_OF_THE_DASHBOARD = {("dashboard", "Cors"), ("dashboard", "Stage")}


@pytest.fixture
def from_template(
    aws: Aws, request: pytest.FixtureRequest
) -> Iterator[tuple[Stack, dict[str, str]]]:
    """A stack made by CloudFormation from the rendered template, its dashboard as the
    parameter says (false unless the test says "true"); its located names and the stack's
    outputs. Deleted afterwards, with the tables it retains."""
    with_dashboard = getattr(request, "param", "false")
    located = deploy.locate(aws, f"cfn-{uuid.uuid4().hex[:6]}")
    code_bucket = f"{located.name}-code-{located.account}"
    aws.s3.create_bucket(Bucket=code_bucket)
    for source, key in template.code_keys(template.described(located.name)).items():
        aws.s3.put_object(Bucket=code_bucket, Key=key, Body=packaging.build_zip(source))
    body = template.render(located.name, Settings(), planner.target_of(aws))
    cloudformation = aws.client("cloudformation")
    cloudformation.create_stack(
        StackName=located.name,
        TemplateBody=json.dumps(body),
        Parameters=[
            {"ParameterKey": "CodeBucket", "ParameterValue": code_bucket},
            {"ParameterKey": "Dashboard", "ParameterValue": with_dashboard},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    try:
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=located.name, WaiterConfig={"Delay": 1, "MaxAttempts": int(PATIENCE)}
        )
        found = cloudformation.describe_stacks(StackName=located.name)["Stacks"][0]
        yield located, {out["OutputKey"]: out["OutputValue"] for out in found["Outputs"]}
        site = dashboard.Names(located).site_bucket
        for bucket in (located.uploads_bucket, located.reports_bucket, site):
            delete_bucket(aws, bucket, Changes())  # CloudFormation deletes empty ones
        cloudformation.delete_stack(StackName=located.name)
        cloudformation.get_waiter("stack_delete_complete").wait(
            StackName=located.name, WaiterConfig={"Delay": 1, "MaxAttempts": int(PATIENCE)}
        )
        # then the tables that hold data outlive the stack
        tables = set(aws.dynamodb.list_tables()["TableNames"])
        assert located.table in tables
        assert located.history_table in tables
    finally:
        deploy.destroy(aws, located)  # whatever is left
        delete_bucket(aws, code_bucket, Changes())


def test_the_rendered_template_deploys_and_alerts_and_its_outputs_are_provisions(
    aws: Aws, from_template: tuple[Stack, dict[str, str]]
) -> None:
    located, stack_outputs = from_template

    # then its outputs are `provision outputs`' own, by the same names
    expected = _flat(deploy.core_outputs(aws, located))
    assert {key: _path(stack_outputs.get(key)) for key in expected} == {
        key: _path(value) for key, value in expected.items()
    }

    # then the reconciler finds the stack as it would have made it, but for what the
    # emulator's CloudFormation does not apply
    plan = deploy.plan(aws, located, Settings(dashboard=False), People(), Changes())
    differing = {
        (c.resource.kind, field) for c in plan if c.action != "nothing" for field in c.fields
    }
    assert differing <= EMULATOR_CLOUDFORMATION_DROPS, [c.line for c in plan if c.fields]

    # when the sample file is uploaded, it loads
    provision_outputs = deploy.core_outputs(aws, located)
    report = upload_and_wait_for_report(aws, provision_outputs, "berlin.csv", SAMPLE.read_bytes())
    assert report["status"] == "loaded"

    # then the item it lists at 0 is alerted
    inbox = AlertInbox(aws, provision_outputs["alerts_queue_url"])
    inbox.wait_for(
        lambda _: any(alert["item"] == "Echo Plus" for alert in inbox.for_store("Berlin")),
        PATIENCE,
        "the alert for Berlin's Echo Plus",
    )


def _flat(outputs: dict[str, Any]) -> dict[str, str]:
    """`provision outputs` as the template names them: CamelCase, `functions` one each, no
    endpoint (the emulator's, which a template cannot know)."""
    flat: dict[str, str] = {}
    for key, value in outputs.items():
        if key == "endpoint":
            continue
        if isinstance(value, dict):
            for short, name in value.items():
                flat[_camel(f"{key}_{short}")] = name
        else:
            flat[_camel(key)] = str(value)
    return flat


def _path(value: str | None) -> str | None:
    """A queue URL without its host, which the emulator spells `localhost` through
    CloudFormation and as it was called (127.0.0.1) through SQS; any other value as it is."""
    return value.split("/", 3)[-1] if value and value.startswith("http") else value


def _camel(key: str) -> str:
    return "".join(word.capitalize() for word in key.split("_"))


@pytest.mark.parametrize("from_template", ["true"], indirect=True)
def test_with_its_dashboard_up_finds_the_stack_as_its_own_and_uploads_the_site(
    aws: Aws, from_template: tuple[Stack, dict[str, str]]
) -> None:
    located, stack_outputs = from_template
    assert stack_outputs["DashboardFunction"] == dashboard.Names(located).function

    # then the reconciler's plan has only the site's files to add (CloudFormation cannot
    # upload them), besides what the emulator's CloudFormation drops
    plan = deploy.plan(aws, located, Settings(), People(), Changes())
    changed = [change for change in plan if change.action != "nothing"]
    lines = [change.line for change in changed]
    assert {change.action for change in changed} == {"update"}, lines
    fields = {(change.resource.kind, field) for change in changed for field in change.fields}
    assert ("dashboard", "SiteFiles") in fields
    dropped = EMULATOR_CLOUDFORMATION_DROPS | EMULATOR_CLOUDFORMATION_DROPS_OF_THE_DASHBOARD
    assert fields - {("dashboard", "SiteFiles")} <= dropped, lines

    # when up runs on it, then nothing is left to plan
    deploy.up(aws, located, Settings())
    plan = deploy.plan(aws, located, Settings(), People(), Changes())
    assert [change.line for change in plan if change.action != "nothing"] == []
