"""`python -m provision up` on moto: subscriptions by flag, settings and code changed in place,
and a second identical run that changes nothing. (The settings as the emulator keeps them are
read back from the session stack in tests/integration/test_pipeline.py.)"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from types import SimpleNamespace

import pytest

from inventory.adapters.sent_alerts import EXPIRY_ATTRIBUTE
from provision import __main__ as cli
from provision import deploy, packaging, policies
from provision.aws import Changes
from provision.stack import Settings, Stack
from tests.unit.fakes import REGION, moto_account

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
    with moto_account(monkeypatch) as clients:
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


def test_destroy_removes_the_sent_alerts_table(aws, monkeypatch):
    # given a stack without a dashboard (moto's API Gateway needs a package we do not install)
    up(aws)

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
        f"updated  stream mapping {stack.track_function}",
    ]
    environment = lambda_.get_function_configuration(FunctionName=stack.load_function)[
        "Environment"
    ]["Variables"]
    assert environment["MAX_FILE_BYTES"] == str(7 * 1024 * 1024)
    updated = lambda_.get_event_source_mapping(UUID=mapping["UUID"])
    assert updated["BatchSize"] == 100
    # and running again with them changes nothing
    assert up(aws, changed) == []


def test_uploads_wait_in_a_queue_and_the_loader_takes_them_a_bounded_few_at_a_time(aws):
    # given a stack provisioned with the defaults
    made = up(aws)
    stack: Stack = aws.stack
    lambda_ = aws.clients.lambda_
    uploads_arn = stack.queue_arn(stack.uploads_queue)

    def reserved() -> int | None:
        return lambda_.get_function_concurrency(FunctionName=stack.load_function).get(
            "ReservedConcurrentExecutions"
        )

    # then the bucket announces every upload in the uploads queue (and invokes nothing)
    notification = aws.clients.s3.get_bucket_notification_configuration(Bucket=stack.uploads_bucket)
    assert [(c["QueueArn"], c["Events"]) for c in notification["QueueConfigurations"]] == [
        (uploads_arn, ["s3:ObjectCreated:*"])
    ]
    assert "LambdaFunctionConfigurations" not in notification
    # and the loader takes ten events an invocation, at most four invocations at once
    [mapping] = lambda_.list_event_source_mappings(
        FunctionName=stack.load_function, EventSourceArn=uploads_arn
    )["EventSourceMappings"]
    assert mapping["BatchSize"] == 10
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 4}
    # and the function reserves one more, for a failed file's retries and replays
    assert reserved() == Settings().loader_concurrency + 1 == 5
    assert f"updated  reserved concurrency {stack.load_function} = 5" in made
    # and check_stock, paced by its stream mapping, has no reservation
    assert "ReservedConcurrentExecutions" not in lambda_.get_function_concurrency(
        FunctionName=stack.check_function
    )
    # and an event whose invocations keep dying moves to the load-failures queue
    url = aws.clients.sqs.get_queue_url(QueueName=stack.uploads_queue)["QueueUrl"]
    attributes = aws.clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    assert json.loads(attributes["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": stack.queue_arn(stack.load_failures_queue),
        "maxReceiveCount": 3,
    }

    # when the bound changes, then the reservation and the mapping are updated, once
    assert up(aws, replace(SETTINGS, loader_concurrency=2)) == [
        f"updated  reserved concurrency {stack.load_function} = 3",
        f"updated  uploads queue mapping {stack.load_function}",
    ]
    assert reserved() == 3
    assert lambda_.get_event_source_mapping(UUID=mapping["UUID"])["ScalingConfig"] == {
        "MaximumConcurrency": 2
    }
    assert up(aws, replace(SETTINGS, loader_concurrency=2)) == []


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
        "track_stock": stack.track_function,
    }
    assert (printed["summary_table"], printed["history_table"]) == (
        f"{STACK}-summary",
        f"{STACK}-history",
    )


def test_outputs_of_a_stack_that_is_not_there_is_one_sentence_and_a_failure(aws, capsys):
    # when
    code = cli.main(["outputs", "--stack", "absent"])

    # then
    assert code == 1
    assert capsys.readouterr().err == (
        "error: stack 'absent' is not provisioned here; run `python -m provision up` first\n"
    )


def test_the_stream_delivers_check_stock_only_records_that_set_a_count_to_0_or_are_low(aws):
    # when
    up(aws)

    # then
    [mapping] = aws.clients.lambda_.list_event_source_mappings(
        FunctionName=aws.stack.check_function
    )["EventSourceMappings"]
    patterns = [json.loads(entry["Pattern"]) for entry in mapping["FilterCriteria"]["Filters"]]
    assert patterns == [
        {"dynamodb": {"NewImage": {"count": {"N": ["0"]}}}},
        {"dynamodb": {"NewImage": {"level": {"S": ["low"]}}}},
    ]


def test_track_stock_reads_every_record_of_the_same_stream(aws):
    # when
    up(aws)

    # then
    lambda_ = aws.clients.lambda_
    [check] = lambda_.list_event_source_mappings(FunctionName=aws.stack.check_function)[
        "EventSourceMappings"
    ]
    [track] = lambda_.list_event_source_mappings(FunctionName=aws.stack.track_function)[
        "EventSourceMappings"
    ]
    assert track["EventSourceArn"] == check["EventSourceArn"]
    assert "FilterCriteria" not in track or not track["FilterCriteria"].get("Filters")
    environment = lambda_.get_function_configuration(FunctionName=aws.stack.track_function)[
        "Environment"
    ]["Variables"]
    assert environment["SUMMARY_TABLE"] == aws.stack.summary_table
    assert environment["HISTORY_TABLE"] == aws.stack.history_table
    assert environment["HISTORY_RETENTION_DAYS"] == "90"


def test_the_summary_and_history_tables_and_the_level_index(aws):
    # when
    up(aws, Settings(dashboard=False, history_retention_days=30))

    # then
    dynamodb = aws.clients.dynamodb
    stack: Stack = aws.stack
    summary = dynamodb.describe_table(TableName=stack.summary_table)["Table"]
    assert summary["KeySchema"] == [{"AttributeName": "store", "KeyType": "HASH"}]
    history = dynamodb.describe_table(TableName=stack.history_table)["Table"]
    assert history["KeySchema"] == [
        {"AttributeName": "store_item", "KeyType": "HASH"},
        {"AttributeName": "at", "KeyType": "RANGE"},
    ]
    ttl = dynamodb.describe_time_to_live(TableName=stack.history_table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    [index] = dynamodb.describe_table(TableName=stack.table)["Table"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_level"
    assert index["KeySchema"] == [
        {"AttributeName": "level", "KeyType": "HASH"},
        {"AttributeName": "store", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    environment = aws.clients.lambda_.get_function_configuration(FunctionName=stack.track_function)[
        "Environment"
    ]["Variables"]
    assert environment["HISTORY_RETENTION_DAYS"] == "30"
    # and a second run adds no second index
    assert not [
        change
        for change in up(aws, Settings(dashboard=False, history_retention_days=30))
        if "index" in change
    ]


def test_an_existing_table_gains_the_level_index(aws):
    # given an inventory table from before the index
    dynamodb = aws.clients.dynamodb
    dynamodb.create_table(
        TableName=aws.stack.table,
        AttributeDefinitions=[
            {"AttributeName": "store", "AttributeType": "S"},
            {"AttributeName": "item", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "store", "KeyType": "HASH"},
            {"AttributeName": "item", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )

    # when
    made = up(aws)

    # then
    assert f"created  table index {aws.stack.table}.by_level" in made
    [index] = dynamodb.describe_table(TableName=aws.stack.table)["Table"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_level"
    assert f"created  table index {aws.stack.table}.by_level" not in up(aws)


def filter_policies(aws: SimpleNamespace) -> dict[str, str | None]:
    sns = aws.clients.sns
    listed = sns.list_subscriptions_by_topic(TopicArn=aws.stack.topic_arn)["Subscriptions"]
    return {
        entry["Protocol"]: sns.get_subscription_attributes(
            SubscriptionArn=entry["SubscriptionArn"]
        )["Attributes"].get("FilterPolicy")
        for entry in listed
    }


def test_alert_events_filter_what_email_and_sms_receive_and_a_later_run_changes_it(aws, capsys):
    # given
    argv = ["up", "--stack", STACK, "--no-dashboard", "--email", EMAIL, "--sms", PHONE]

    # when people ask for low-stock alerts only
    assert cli.main([*argv, "--alert-events", "low_stock"]) == 0

    # then their subscriptions filter on the event attribute; the alerts queue takes all
    policies = filter_policies(aws)
    assert json.loads(policies["email"]) == {"event": ["low_stock"]}
    assert json.loads(policies["sms"]) == {"event": ["low_stock"]}
    assert policies["sqs"] in (None, "", "{}")

    # when a later run asks for both
    assert cli.main([*argv, "--alert-events", "out_of_stock,low_stock"]) == 0

    # then the filter goes and people get every alert
    assert all(policy in (None, "", "{}") for policy in filter_policies(aws).values())
    capsys.readouterr()


def test_unknown_alert_events_are_refused_before_anything_is_made(aws, capsys):
    with pytest.raises(SystemExit):
        cli.main(["up", "--stack", STACK, "--alert-events", "out_of_stock,sold_out"])
    assert "sold_out" in capsys.readouterr().err
    assert aws.clients.dynamodb.list_tables()["TableNames"] == []


def test_rebuild_summary_recounts_the_table_and_rebases_each_item(aws, capsys):
    # given a stack whose summary is wrong (a stale store, no figures for the real ones)
    up(aws)
    stack: Stack = aws.stack
    dynamodb = aws.clients.dynamodb
    rows = [("s1", "a", 0, "out"), ("s1", "b", 3, "low"), ("s1", "c", 40, None)]
    rows += [("s2", "a", 7, None)]
    for store, item, count, level in rows:
        attributes = {
            "store": {"S": store},
            "item": {"S": item},
            "count": {"N": str(count)},
            "updated_at": {"S": f"2026-12-0{1 + len(item)}T08:00:00.000Z"},
            "source": {"S": "s3://uploads/x.csv"},
        }
        if level:
            attributes["level"] = {"S": level}
        dynamodb.put_item(TableName=stack.table, Item=attributes)
    dynamodb.put_item(
        TableName=stack.summary_table, Item={"store": {"S": "gone"}, "items": {"N": "4"}}
    )
    gone = {"store_item": {"S": "gone\x1fz"}, "at": {"S": "~latest"}}
    dynamodb.put_item(
        TableName=stack.history_table,
        Item={**gone, "applied_seq": {"S": "9" * 40}, "applied": {"M": {"items": {"N": "1"}}}},
    )

    # when
    code = cli.main(["rebuild-summary", "--stack", STACK])

    # then
    assert code == 0
    items = {
        item["store"]["S"]: {name: value.get("N", value.get("S")) for name, value in item.items()}
        for item in dynamodb.scan(TableName=stack.summary_table)["Items"]
    }
    assert items == {
        "s1": {
            "store": "s1",
            "items": "3",
            "units": "43",
            "out_of_stock": "1",
            "low": "1",
            "last_updated": "2026-12-02T08:00:00.000Z",
        },
        "s2": {
            "store": "s2",
            "items": "1",
            "units": "7",
            "out_of_stock": "0",
            "low": "0",
            "last_updated": "2026-12-02T08:00:00.000Z",
        },
    }
    stale = dynamodb.get_item(TableName=stack.history_table, Key=gone)["Item"]
    assert stale["applied"]["M"]["items"] == {"N": "0"}
    assert stale["applied_seq"]["S"] == "9" * 40  # kept: older records stay skipped
    rebased = dynamodb.get_item(
        TableName=stack.history_table,
        Key={"store_item": {"S": "s1\x1fb"}, "at": {"S": "~latest"}},
    )["Item"]
    assert rebased["applied"]["M"]["low"] == {"N": "1"}
    assert "summary of stack" in capsys.readouterr().err


def test_rebuild_summary_of_a_stack_that_is_not_there_is_one_sentence(aws, capsys):
    assert cli.main(["rebuild-summary", "--stack", "absent"]) == 1
    assert capsys.readouterr().err == (
        "error: stack 'absent' has no table absent-inventory; run `python -m provision up` first\n"
    )


def test_a_stack_without_stock_tracking_has_no_track_stock(aws):
    # given / when
    up(aws, Settings(dashboard=False, stock_tracking=False))

    # then: the stream feeds check_stock alone
    mappings = aws.clients.lambda_.list_event_source_mappings()["EventSourceMappings"]
    assert [
        m["FunctionArn"].rsplit(":", 1)[1] for m in mappings if "dynamodb" in m["EventSourceArn"]
    ] == [aws.stack.check_function]
    functions = {f["FunctionName"] for f in aws.clients.lambda_.list_functions()["Functions"]}
    assert aws.stack.track_function not in functions
