"""`python -m provision destroy` on a real emulator keeps what holds data (the tables and the
dashboard's user pool) unless `--delete-data` is given; `make destroy` gives it."""

from __future__ import annotations

import uuid

from provision import dashboard, deploy, safety
from provision.__main__ import main as provision_main
from provision.resources import Aws


def test_destroy_keeps_the_data_and_the_users_until_told_to_delete_them(endpoint, aws: Aws):
    # given a stack of its own, with its dashboard
    name = f"keep-{uuid.uuid4().hex[:6]}"
    target = ["--stack", name, "--quiet", *(["--endpoint-url", endpoint] if endpoint else [])]
    located = deploy.locate(aws, name)
    pool = dashboard.Names(located).user_pool
    try:
        assert provision_main(["up", *target]) == 0
        had_pool = dashboard.find_user_pool(aws, pool) is not None

        # when it is destroyed as a user would on AWS
        assert provision_main(["destroy", *target]) == 0

        # then its tables and user pool are still there, and its functions are not
        tables = set(aws.dynamodb.list_tables()["TableNames"])
        assert set(safety.data_tables(located)) <= tables
        assert (dashboard.find_user_pool(aws, pool) is not None) == had_pool
        functions = {f["FunctionName"] for f in aws.lambda_.list_functions()["Functions"]}
        assert located.load_function not in functions

        # when it is destroyed with its data
        assert provision_main(["destroy", "--delete-data", *target]) == 0

        # then nothing of it is left
        tables = set(aws.dynamodb.list_tables()["TableNames"])
        assert not set(safety.data_tables(located)) & tables
        assert dashboard.find_user_pool(aws, pool) is None
    finally:
        deploy.destroy(aws, located)
