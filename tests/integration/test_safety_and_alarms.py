"""On a real emulator: `python -m provision destroy` keeps what holds data (the tables and
the dashboard's user pool) unless `--delete-data` is given (`make destroy` gives it); the
stack's alarms are made by `up` and removed by `destroy`."""

from __future__ import annotations

import uuid

from provision import alarms, dashboard, dashboard_cognito, deploy
from provision.__main__ import main as provision_main
from provision.aws import Aws
from tests.unit.fakes import data_tables


def test_destroy_keeps_the_data_and_the_users_until_told_to_and_removes_the_alarms(
    endpoint, aws: Aws
):
    # given a stack of its own, with its dashboard
    name = f"keep-{uuid.uuid4().hex[:6]}"
    target = ["--stack", name, "--quiet", *(["--endpoint-url", endpoint] if endpoint else [])]
    located = deploy.locate(aws, name)
    pool = dashboard.Names(located).user_pool
    try:
        assert provision_main(["up", *target, "--alarm-email", "ops@example.com"]) == 0
        had_pool = dashboard_cognito.find_user_pool(aws, pool) is not None
        possible = alarms.possible_alarm_names(
            located, list(deploy.function_names(located).values())
        )
        cloudwatch = aws.client("cloudwatch")
        made = {
            a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNames=possible)["MetricAlarms"]
        }
        assert f"{located.load_function}-errors" in made
        assert f"{located.check_function}-falling-behind" in made
        assert (f"{name}-dashboard-5xx" in made) == had_pool

        # when it is destroyed as a user would on AWS
        assert provision_main(["destroy", *target]) == 0

        # then its tables and user pool are still there, and its functions are not
        tables = set(aws.dynamodb.list_tables()["TableNames"])
        assert set(data_tables(located)) <= tables
        assert (dashboard.find_user_pool(aws, pool) is not None) == had_pool
        functions = {f["FunctionName"] for f in aws.lambda_.list_functions()["Functions"]}
        assert located.load_function not in functions
        assert cloudwatch.describe_alarms(AlarmNames=possible)["MetricAlarms"] == []

        # when it is destroyed with its data
        assert provision_main(["destroy", "--delete-data", *target]) == 0

        # then nothing of it is left
        tables = set(aws.dynamodb.list_tables()["TableNames"])
        assert not set(data_tables(located)) & tables
        assert dashboard.find_user_pool(aws, pool) is None
    finally:
        deploy.destroy(aws, located)
