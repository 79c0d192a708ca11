"""Data kept safe (moto): destroy keeps the tables that hold data unless told to delete them,
the inventory table has point-in-time recovery, and the functions' log groups expire."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from types import SimpleNamespace

import pytest

from provision import deploy, safety
from provision.aws import Changes
from provision.stack import Settings
from tests.unit.fakes import data_tables, moto_account

SETTINGS = Settings(dashboard=False)  # moto's API Gateway needs a package we do not install


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    with moto_account(monkeypatch) as clients:
        stack = deploy.locate(clients, "safe")
        deploy.up(clients, stack, SETTINGS)
        yield SimpleNamespace(clients=clients, stack=stack)


def test_destroy_keeps_the_data_tables_unless_asked_and_removes_the_rest(aws):
    # when the stack is destroyed keeping its data
    notes: list[str] = []
    deploy.destroy(aws.clients, aws.stack, Changes(echo=notes.append), keep_data=True)

    # then the five tables that hold data stay, and say so; functions and queues are gone
    tables = set(aws.clients.dynamodb.list_tables()["TableNames"])
    assert tables == set(data_tables(aws.stack))
    assert all(any(table in note and "keep" in note for note in notes) for table in tables)
    assert aws.clients.lambda_.list_functions()["Functions"] == []
    assert aws.clients.sqs.list_queues().get("QueueUrls", []) == []

    # when it is provisioned again, the kept tables are its tables; destroyed with its data
    deploy.up(aws.clients, aws.stack, SETTINGS)
    deploy.destroy(aws.clients, aws.stack)

    # then nothing is left
    assert aws.clients.dynamodb.list_tables()["TableNames"] == []


def test_the_command_line_keeps_data_by_default_and_deletes_it_when_told(aws, monkeypatch):
    from provision import __main__ as cli

    monkeypatch.setattr(cli.deploy, "connect", lambda *_: aws.clients)
    kept: list[bool] = []
    monkeypatch.setattr(
        cli.deploy, "destroy", lambda *_, keep_data: kept.append(keep_data) or Changes()
    )

    # when / then
    assert cli.main(["destroy", "--stack", "safe", "--quiet"]) == 0
    assert cli.main(["destroy", "--stack", "safe", "--quiet", "--delete-data"]) == 0
    assert kept == [True, False]


def test_the_inventory_table_has_point_in_time_recovery(aws):
    # given / when / then
    backups = aws.clients.dynamodb.describe_continuous_backups(TableName=aws.stack.table)
    recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"


def test_each_functions_log_group_expires_after_the_settings_days(aws):
    # given / when: a second run with another period
    changes = Changes()
    deploy.up(aws.clients, aws.stack, replace(SETTINGS, log_retention_days=7), changes=changes)

    # then every function's group has it, and only the periods changed
    groups = aws.clients.logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    functions = {aws.stack.load_function, aws.stack.check_function, aws.stack.track_function}
    assert {group["logGroupName"] for group in groups} == {f"/aws/lambda/{f}" for f in functions}
    assert {group["retentionInDays"] for group in groups} == {7}
    assert [line for line in changes.made if "log group" in line] == [
        f"updated  log group retention /aws/lambda/{f}"
        for f in (aws.stack.load_function, aws.stack.check_function, aws.stack.track_function)
    ]


def test_a_retention_cloudwatch_does_not_offer_is_refused_with_the_ones_it_does(aws):
    # given / when / then
    with pytest.raises(ValueError, match="takes one of 1, 3, 5, 7, 14, 30"):
        safety.ensure_log_group(aws.clients, "/aws/lambda/x", 10, Changes())
