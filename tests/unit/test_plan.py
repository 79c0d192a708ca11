"""The planner against recorded read-backs (no AWS at all), and `python -m provision plan` on
moto: it says what `up` would do and changes nothing; against an up-to-date stack it says so."""

from __future__ import annotations

from typing import Any

import pytest

from provision import __main__ as cli
from provision import alarms, deploy, planner, readers
from provision.description import describe
from provision.model import Resource, Target
from provision.readers import Resolver
from provision.stack import Settings, Stack
from tests.unit.fakes import moto_account

STACK = Stack("plan", "123456789012", "eu-west-1")
SETTINGS = Settings(dashboard=False)
DESCRIPTION = describe(STACK, SETTINGS, Target())


class Recorded:
    """A target read back as recorded: each resource's settings as the description has
    them, but those `absent` and those `drifted` (resource key -> fields to replace)."""

    def __init__(
        self, absent: set[str] | None = None, drifted: dict[str, dict[str, Any]] | None = None
    ) -> None:
        self.absent, self.drifted = absent or set(), drifted or {}

    def read(self, aws: Any, resolve: Resolver, resource: Resource) -> dict[str, Any] | None:
        if resource.key in self.absent:
            return None
        current: dict[str, Any] = resolve(resource.properties)
        return {**current, **self.drifted.get(resource.key, {})}


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch):
    def use(target: Recorded) -> list[planner.Change]:
        monkeypatch.setattr(planner, "read", target.read)
        return planner.plan(None, STACK, DESCRIPTION)  # type: ignore[arg-type]

    monkeypatch.setattr(readers, "queue_url", lambda aws, name: f"https://sqs/{name}")
    monkeypatch.setattr(readers, "_describe_table", lambda aws, name: {"LatestStreamArn": "s"})
    monkeypatch.setattr(alarms, "stack_alarms", lambda aws, names: [])
    return use


def test_a_target_as_described_plans_nothing_and_says_it_is_up_to_date(recorded):
    plan = recorded(Recorded())
    assert {change.action for change in plan} == {"nothing"}
    assert planner.summary(plan).startswith("up to date: nothing to change")


def test_a_setting_that_differs_is_an_update_naming_the_field_and_an_absent_one_a_create(recorded):
    load = f"function {STACK.load_function}"
    plan = recorded(
        Recorded(absent={f"queue {STACK.uploads_queue}"}, drifted={load: {"Timeout": 3}})
    )
    changed = {change.resource.key: change for change in plan if change.action != "nothing"}
    assert set(changed) == {load, f"queue {STACK.uploads_queue}"}
    assert changed[load].line == f"update   function {STACK.load_function} (Timeout)"
    assert changed[f"queue {STACK.uploads_queue}"].action == "create"
    assert planner.summary(plan) == "plan: 1 to create, 1 to update"


def test_an_alarm_the_stack_no_longer_has_is_planned_for_deletion(recorded, monkeypatch):
    gone = f"{STACK.name}-inventory_api-errors"  # the dashboard's, and there is none now
    monkeypatch.setattr(
        alarms, "stack_alarms", lambda aws, names: [{"AlarmName": n} for n in names if n == gone]
    )
    plan = recorded(Recorded())
    assert [change.line for change in plan if change.action != "nothing"] == []  # not managed
    with_dashboard_alarm = [
        *DESCRIPTION,
        Resource("dashboard", "plan-dashboard", {}),
    ]
    stale = planner._stale_alarms(None, STACK, tuple(with_dashboard_alarm))  # type: ignore[arg-type]
    assert [change.line for change in stale] == [f"delete   alarm {gone}"]


def test_plan_on_an_account_changes_nothing_and_up_then_leaves_nothing_to_plan(monkeypatch, capsys):
    # given an empty account (what `make plan-aws` reads: no endpoint)
    with moto_account(monkeypatch) as aws:
        monkeypatch.setattr(cli.deploy, "connect", lambda *_: aws)
        flags = ["--stack", "acct", "--no-dashboard"]

        # when it is planned
        assert cli.main(["plan", *flags]) == 0

        # then the plan lists what up would make, and nothing is made
        printed = capsys.readouterr().out.splitlines()
        assert "create   table acct-inventory" in printed
        assert printed[-1].startswith("plan: ")
        assert " to create" in printed[-1]
        assert aws.dynamodb.list_tables()["TableNames"] == []

        # when it is made, up says the same lines as it goes
        assert cli.main(["up", *flags]) == 0
        assert "create   table acct-inventory" in capsys.readouterr().err.splitlines()

        # then a plan has nothing to do; a changed setting is an update, still not applied
        assert cli.main(["plan", *flags]) == 0
        assert capsys.readouterr().out.splitlines()[-1].startswith("up to date")
        assert cli.main(["plan", *flags, "--low-stock-threshold", "2"]) == 0
        printed = capsys.readouterr().out.splitlines()
        assert "update   function acct-load_inventory (Environment)" in printed
        located = deploy.locate(aws, "acct")
        function = aws.lambda_.get_function(FunctionName=located.load_function)
        assert function["Configuration"]["Environment"]["Variables"]["LOW_STOCK_THRESHOLD"] == "5"

        # and the plan of destroy names what would go and what would stay, removing nothing
        assert cli.main(["plan", "--destroy", *flags]) == 0
        printed = capsys.readouterr().out.splitlines()
        assert f"delete   function {located.load_function}" in printed
        assert f"keep     table {located.table} (holds data; destroy --delete-data removes it)" in (
            printed
        )
        assert cli.main(["plan", "--destroy", "--delete-data", *flags]) == 0
        assert f"delete   table {located.table}" in capsys.readouterr().out.splitlines()
        assert located.table in aws.dynamodb.list_tables()["TableNames"]
        assert aws.lambda_.get_function(FunctionName=located.load_function)
