"""`python -m provision up` on moto: subscriptions by flag, settings and code changed in place,
and a second identical run that changes nothing. (The settings as the emulator keeps them are
read back from the session stack in tests/integration/test_pipeline.py.)"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from collections.abc import Iterator
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from inventory.adapters.sent_alerts import EXPIRY_ATTRIBUTE
from provision import __main__ as cli
from provision import deploy, packaging, policies
from provision.resources import Aws, Changes
from provision.stack import Settings, Stack
from tests.unit.fakes import REGION, use_fake_credentials

STACK = "unit"
# The dashboard needs Cognito and API Gateway v2, which it provisions on its own; left out here.
SETTINGS = Settings(dashboard=False)
EMAIL = "stock-team@example.com"
PHONE = "+15555550123"


_build_zip = functools.cache(packaging.build_zip)


@pytest.fixture(autouse=True)
def zips_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same sources give the same zip (tests/unit/test_packaging.py): build each once."""
    monkeypatch.setattr(packaging, "build_zip", _build_zip)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """An empty moto account; the clients provisioning uses, and the stack's names."""
    use_fake_credentials(monkeypatch)
    with mock_aws():
        clients = Aws(boto3.Session(region_name=REGION), None)
        yield SimpleNamespace(clients=clients, stack=deploy.locate(clients, STACK))


def up(aws: SimpleNamespace, settings: Settings = SETTINGS) -> list[str]:
    """Provision the stack; return the changes the run made."""
    changes = Changes()
    deploy.up(aws.clients, aws.stack, settings, changes=changes)
    return changes.made


def subscriptions(aws: SimpleNamespace) -> list[tuple[str, str]]:
    topic_arn = aws.stack.topic_arn
    listed = aws.clients.sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    return sorted((entry["Protocol"], entry["Endpoint"]) for entry in listed)


def test_email_and_sms_flags_subscribe_once_and_a_second_run_changes_nothing(aws, capsys):
    # given
    argv = ["up", "--stack", STACK, "--no-dashboard", "--email", EMAIL, "--sms", PHONE]

    # when provisioning runs with both flags
    first = cli.main(argv)

    # then both are subscribed to the topic, beside the alerts queue
    first_log = capsys.readouterr().err
    assert first == 0, first_log
    assert f"created  email subscription {EMAIL}" in first_log.splitlines()
    assert f"created  sms subscription {PHONE}" in first_log.splitlines()
    stack: Stack = aws.stack
    assert subscriptions(aws) == [
        ("email", EMAIL),
        ("sms", PHONE),
        ("sqs", stack.queue_arn(stack.alerts_queue)),
    ]

    # when it runs again with the same flags
    second = cli.main(argv)

    # then nothing is subscribed twice
    second_log = capsys.readouterr().err
    assert second == 0, second_log
    assert second_log.splitlines()[-1] == "already up to date"
    assert len(subscriptions(aws)) == 3


def test_a_second_identical_run_changes_nothing(aws):
    # given
    assert up(aws) != []

    # when / then
    assert up(aws) == []


def test_the_checker_notes_sent_alerts_in_a_table_whose_entries_expire(aws):
    # given / when
    up(aws)

    # then the table exists, keyed by alert id, expiring on the attribute the function writes
    stack: Stack = aws.stack
    dynamodb = aws.clients.dynamodb
    table = dynamodb.describe_table(TableName=stack.sent_alerts_table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "alert_id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    expiry = dynamodb.describe_time_to_live(TableName=stack.sent_alerts_table)
    assert expiry["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": EXPIRY_ATTRIBUTE,
    }
    environment = aws.clients.lambda_.get_function_configuration(FunctionName=stack.check_function)[
        "Environment"
    ]["Variables"]
    assert environment["SENT_ALERTS_TABLE"] == stack.sent_alerts_table


def test_the_dashboard_reads_a_level_index_a_summary_and_a_history_that_expires(aws):
    # given / when
    made = up(aws)

    # then the shapes of CONTRACTS.md
    stack: Stack = aws.stack
    dynamodb = aws.clients.dynamodb
    [index] = dynamodb.describe_table(TableName=stack.table)["Table"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_level"
    assert index["KeySchema"] == [
        {"AttributeName": "level", "KeyType": "HASH"},
        {"AttributeName": "store", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    summary = dynamodb.describe_table(TableName=stack.summary_table)["Table"]
    assert summary["KeySchema"] == [{"AttributeName": "store", "KeyType": "HASH"}]
    history = dynamodb.describe_table(TableName=stack.history_table)["Table"]
    assert history["KeySchema"] == [
        {"AttributeName": "store_item", "KeyType": "HASH"},
        {"AttributeName": "at", "KeyType": "RANGE"},
    ]
    expiry = dynamodb.describe_time_to_live(TableName=stack.history_table)
    assert expiry["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    # and a second run adds no second index
    assert [change for change in made if "index" in change]
    assert not [change for change in up(aws) if "index" in change]


def test_destroy_removes_the_sent_alerts_table(aws, monkeypatch):
    # given a stack without a dashboard (moto's API Gateway needs a package we do not install)
    up(aws)
    monkeypatch.setattr(deploy.dashboard, "destroy", lambda *_: None)

    # when
    deploy.destroy(aws.clients, aws.stack)

    # then
    tables = aws.clients.dynamodb.list_tables()["TableNames"]
    assert aws.stack.sent_alerts_table not in tables
    assert tables == []


def test_changed_settings_reach_the_function_and_the_stream_mapping_in_place(aws):
    # given a stack provisioned with the defaults
    up(aws)
    stack: Stack = aws.stack
    lambda_ = aws.clients.lambda_
    [mapping] = lambda_.list_event_source_mappings(FunctionName=stack.check_function)[
        "EventSourceMappings"
    ]
    # (Not load_max_retries: moto keeps the first async invoke config it was given.)
    changed = Settings(dashboard=False, max_file_bytes=7 * 1024 * 1024, stream_batch_size=100)

    # when provisioning runs with other settings
    made = up(aws, changed)

    # then exactly those are updated, on the same function and mapping
    assert made == [
        f"updated  function configuration {stack.load_function}",
        f"updated  stream mapping {stack.check_function}",
    ]
    environment = lambda_.get_function_configuration(FunctionName=stack.load_function)[
        "Environment"
    ]["Variables"]
    assert environment["MAX_FILE_BYTES"] == str(7 * 1024 * 1024)
    updated = lambda_.get_event_source_mapping(UUID=mapping["UUID"])
    assert updated["BatchSize"] == 100
    # and running again with them changes nothing
    assert up(aws, changed) == []


def with_extra_file(package: bytes) -> bytes:
    """The same zip with one more entry: new code, as an edited source file would give."""
    buffer = io.BytesIO(package)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("changed.txt", "a new version")
    return buffer.getvalue()


def test_changed_code_is_uploaded_in_place_and_only_for_the_function_that_changed(aws, monkeypatch):
    # given a stack provisioned with today's code
    up(aws)
    stack: Stack = aws.stack
    lambda_ = aws.clients.lambda_
    before = lambda_.get_function_configuration(FunctionName=stack.load_function)["CodeSha256"]
    build_zip = packaging.build_zip
    new_package = with_extra_file(build_zip("load_inventory"))
    monkeypatch.setattr(
        packaging,
        "build_zip",
        lambda source: new_package if source == "load_inventory" else build_zip(source),
    )

    # when provisioning runs with the loader's code changed
    made = up(aws)

    # then its code is replaced, and nothing else changed
    assert made == [f"updated  function code {stack.load_function}"]
    after = lambda_.get_function_configuration(FunctionName=stack.load_function)["CodeSha256"]
    assert after == packaging.code_sha256(new_package)
    assert after != before
    assert up(aws) == []


def test_on_aws_both_buckets_refuse_plain_http_and_stay_private_encrypted_and_versioned(aws):
    # when the stack is provisioned on AWS (no endpoint override: TLS everywhere)
    up(aws)

    # then each bucket carries the TLS-only policy (the emulators on http:// cannot have it)
    s3 = aws.clients.s3
    for bucket in (aws.stack.uploads_bucket, aws.stack.reports_bucket):
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert policy == policies.tls_only_bucket_policy(aws.stack, bucket)
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values())
        [rule] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")


def test_outputs_prints_the_stacks_names_and_addresses_as_json(aws, capsys, monkeypatch):
    # given a provisioned stack (its dashboard's outputs are tested in test_dashboard_provision)
    up(aws)
    monkeypatch.setattr(deploy.dashboard, "outputs", lambda aws, stack: {"dashboard_url": None})
    capsys.readouterr()

    # when
    code = cli.main(["outputs", "--stack", STACK])

    # then: one JSON document naming what scripts and subscribers need
    stack: Stack = aws.stack
    printed = json.loads(capsys.readouterr().out)
    assert code == 0
    assert printed["endpoint"] is None  # AWS itself
    assert (printed["region"], printed["uploads_bucket"], printed["table"]) == (
        REGION,
        stack.uploads_bucket,
        stack.table,
    )
    assert printed["topic_arn"] == stack.topic_arn
    assert printed["alerts_queue_url"].endswith(f"/{stack.alerts_queue}")
    assert printed["functions"] == {
        "load_inventory": stack.load_function,
        "check_stock": stack.check_function,
    }


def test_outputs_of_a_stack_that_is_not_there_is_one_sentence_and_a_failure(aws, capsys):
    # when
    code = cli.main(["outputs", "--stack", "absent"])

    # then
    assert code == 1
    assert capsys.readouterr().err == (
        "error: stack 'absent' is not provisioned here; run `python -m provision up` first\n"
    )


def test_the_stream_delivers_check_stock_only_records_that_set_a_count_to_0(aws):
    # when
    up(aws)

    # then
    [mapping] = aws.clients.lambda_.list_event_source_mappings(
        FunctionName=aws.stack.check_function
    )["EventSourceMappings"]
    [pattern] = [entry["Pattern"] for entry in mapping["FilterCriteria"]["Filters"]]
    assert json.loads(pattern) == {"dynamodb": {"NewImage": {"count": {"N": ["0"]}}}}
