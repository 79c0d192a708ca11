"""The CloudFormation template and the reconciler read one description, and stay in step: every
kind of resource the reconciler makes is rendered, every setting it applies is in the
template, what holds data is retained, and the dashboard is there on its parameter."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provision import __main__ as cli
from provision import template, template_dashboard, template_resources
from provision.description import everything
from provision.model import Ref, Resource, Target
from provision.stack import Settings

NAME = "tpl"
STACK = template.symbolic_stack(NAME)
# What the template renders: the stack on AWS (TLS-only bucket policies) with its dashboard,
# nobody subscribed (people subscribe to its topic themselves).
RENDERED = template.described(NAME)
DASHBOARD = [r for r in RENDERED if r.kind in template_dashboard.KINDS]
# Settings the template carries other than as the value itself: a function's code is the zip
# its parameter names (tested below; `_settings` leaves it out), a mapping's function is a
# reference, and the site's files are uploaded by `provision up`, not by CloudFormation.
ELSEWHERE = {("mapping", "Function"), ("dashboard", "SiteFiles")}
TYPES = template_resources.TYPES


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    return template.render(NAME, Settings(), Target())


def test_every_kind_the_reconciler_makes_is_rendered() -> None:
    kinds = {resource.kind for resource in everything(STACK, Target(endpoint_url="http://e"))}
    accounted = set(TYPES) | set(template.PART_OF_ANOTHER) | set(template_dashboard.KINDS)
    assert kinds <= accounted
    assert set(template_resources.RENDERERS) == set(TYPES)


@pytest.mark.parametrize("resource", RENDERED, ids=lambda r: r.key)
def test_every_resource_and_every_setting_it_has_is_in_the_template(
    rendered: dict[str, Any], resource: Resource
) -> None:
    resources = rendered["Resources"]
    if resource.kind in template_dashboard.KINDS:
        # The dashboard's parts, its function and role among them.
        mine = {key: body for key, body in resources.items() if body.get("Condition")}
    else:
        kind = template.PART_OF_ANOTHER.get(resource.kind, resource.kind)
        own_id = template.logical_id(STACK, kind, resource.name)
        assert resources[own_id]["Type"] == TYPES[kind]
        # The resource with its companions (a queue's policy, a function's retries).
        mine = {key: body for key, body in resources.items() if key.startswith(own_id)}
    text = json.dumps(mine)
    for field, value in _settings(resource):
        if (resource.kind, field) in ELSEWHERE:
            continue
        assert any(json.dumps(form) in text for form in _forms(value)), (field, value)


def test_what_holds_data_is_retained_when_the_stack_goes_or_the_resource_is_replaced(
    rendered: dict[str, Any],
) -> None:
    for resource in RENDERED:
        body = rendered["Resources"].get(template.logical_id(STACK, resource.kind, resource.name))
        retained = {body.get("DeletionPolicy"), body.get("UpdateReplacePolicy")} if body else set()
        if resource.kind != "dashboard":  # not one resource there: its parts hold no data
            assert (retained == {"Retain"}) == resource.keeps_data, resource.key
    pool = rendered["Resources"]["DashboardUserPool"]
    assert pool["Type"] == "AWS::Cognito::UserPool"
    assert (pool["DeletionPolicy"], pool["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_dashboard_and_what_watches_it_are_there_on_the_dashboard_parameter(
    rendered: dict[str, Any],
) -> None:
    conditional = {key for key, body in rendered["Resources"].items() if body.get("Condition")}
    expected = {
        template.logical_id(STACK, r.kind, r.name) for r in RENDERED if r.part == "dashboard"
    } - {template.logical_id(STACK, "dashboard", "tpl-dashboard")}
    assert expected <= conditional
    assert {"InventoryApiFunction", "DashboardHttpApi", "Dashboard5xxAlarm"} <= conditional
    assert "LoadInventoryFunction" not in conditional
    assert rendered["Parameters"]["Dashboard"]["Default"] == "true"


def test_each_function_s_code_is_a_parameter_defaulting_to_the_zip_it_writes(tmp_path) -> None:
    path = template.write(NAME, Settings(), tmp_path)
    written = json.loads(path.read_text())
    assert path.name == f"{NAME}.template.json"
    for function in [r for r in RENDERED if r.kind == "function"]:  # the dashboard's too
        body = written["Resources"][template.logical_id(STACK, "function", function.name)]
        parameter = body["Properties"]["Code"]["S3Key"]["Ref"]
        assert (tmp_path / written["Parameters"][parameter]["Default"]).is_file()


def test_the_account_and_region_are_cloudformation_s_own(rendered: dict[str, Any]) -> None:
    uploads = rendered["Resources"][template.logical_id(STACK, "bucket", STACK.uploads_bucket)]
    assert uploads["Properties"]["BucketName"] == {
        "Fn::Sub": "tpl-uploads-${AWS::AccountId}-${AWS::Region}"
    }


def test_the_command_writes_the_template_without_any_target(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(template, "OUTPUT", tmp_path)
    monkeypatch.setattr(cli.deploy, "connect", lambda *_: pytest.fail("no target needed"))
    assert cli.main(["template", "--stack", NAME, "--quiet"]) == 0
    assert (tmp_path / f"{NAME}.template.json").is_file()


def _settings(resource: Resource) -> list[tuple[str, Any]]:
    """Each scalar setting of the resource, by its top-level field (Refs as they render)."""
    found: list[tuple[str, Any]] = []

    def walk(field: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key != "Source" or not isinstance(item, str):  # a function's: its zip
                    walk(field, item)
        elif isinstance(value, list):
            for item in value:
                walk(field, item)
        elif value is not None and value is not False:  # off: CloudFormation's default
            found.append((field, value))

    for field, value in resource.properties.items():
        if field != "Source" or not isinstance(value, str):
            walk(field, template._cloudformation_values(STACK, value))
    return found


def _forms(value: Any) -> list[Any]:
    """A setting as the template may spell it: as it is, SQS's "true" and "300" as a boolean
    and a number, a filter pattern as its JSON."""
    forms = [value]
    if value in ("true", "false"):
        forms.append(value == "true")
    if isinstance(value, str) and value.isdigit():
        forms.append(int(value))
    if isinstance(value, Ref):
        forms.append(template._ref(STACK, value))
    return forms
