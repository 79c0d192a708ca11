"""IAM documents: each function may do what its code calls, on its own stack's resources only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from provision.policies import (
    LAMBDA_TRUST,
    alerts_queue_policy,
    check_stock_policy,
    load_inventory_policy,
    stock_tracking_read_statements,
    tls_only_bucket_policy,
    track_stock_policy,
    uploads_queue_policy,
)
from provision.stack import Stack

STACK = Stack("inventory", "123456789012", "eu-west-1")
FUNCTION_POLICIES: dict[str, Callable[[Stack], dict[str, Any]]] = {
    "load_inventory": load_inventory_policy,
    "check_stock": check_stock_policy,
    "track_stock": track_stock_policy,
}


# The grants on "*": the stream readers' dynamodb:ListStreams and every function's X-Ray writes
# (provision/policies.py says why). Each must stay alone in its statement, so that no other
# action ever rides on the wildcard.
LIST_STREAMS_ON_ANY = {"Effect": "Allow", "Action": ["dynamodb:ListStreams"], "Resource": "*"}
TRACE_WRITE_ON_ANY = {
    "Effect": "Allow",
    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
    "Resource": "*",
}
ON_ANY = [LIST_STREAMS_ON_ANY, TRACE_WRITE_ON_ANY]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    assert policy["Version"] == "2012-10-17"
    return policy["Statement"]


def actions(policy: dict[str, Any]) -> set[str]:
    return {action for s in statements(policy) for action in as_list(s["Action"])}


def resources(policy: dict[str, Any]) -> list[str]:
    return [resource for s in statements(policy) for resource in as_list(s["Resource"])]


def scoped_resources(policy: dict[str, Any]) -> list[str]:
    """The resources named, but for the grants on "*" (ON_ANY)."""
    return [
        resource
        for s in statements(policy)
        if s not in ON_ANY
        for resource in as_list(s["Resource"])
    ]


def grants(policy: dict[str, Any], action: str) -> list[str]:
    """The resources `action` is allowed on."""
    return [
        resource
        for s in statements(policy)
        if s["Effect"] == "Allow" and action in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    ]


def own_names(stack: Stack, function: str) -> list[str]:
    own_function = {
        "load_inventory": stack.load_function,
        "check_stock": stack.check_function,
        "track_stock": stack.track_function,
    }[function]
    return [
        stack.uploads_bucket,
        stack.reports_bucket,
        f":table/{stack.table}",
        f":table/{stack.snapshots_table}",
        f":table/{stack.sent_alerts_table}",
        f":table/{stack.summary_table}",
        f":table/{stack.history_table}",
        f":{stack.topic}",
        *(f":{queue}" for queue in stack.queues),
        f":log-group:/aws/lambda/{own_function}:",
        f":function:{own_function}",  # its own function only, never the other
    ]


@pytest.mark.parametrize("function", FUNCTION_POLICIES)
def test_function_policy_names_no_wildcard_action(function):
    # given
    policy = FUNCTION_POLICIES[function](STACK)

    # when
    allowed = actions(policy)

    # then
    assert allowed
    assert [action for action in allowed if "*" in action] == []


@pytest.mark.parametrize("function", FUNCTION_POLICIES)
def test_function_policy_names_no_wildcard_resource(function):
    # given
    policy = FUNCTION_POLICIES[function](STACK)

    # when
    named = scoped_resources(policy)

    # then
    assert "*" not in named
    assert all(resource.startswith("arn:aws:") for resource in named)


def test_loader_grants_nothing_but_its_trace_writes_on_any_resource():
    # given
    policy = load_inventory_policy(STACK)

    # when
    on_any = [s for s in statements(policy) if "*" in as_list(s["Resource"])]

    # then
    assert on_any == [TRACE_WRITE_ON_ANY]


@pytest.mark.parametrize("function", ["check_stock", "track_stock"])
def test_a_stream_reader_grants_at_most_list_streams_and_trace_writes_on_any_resource(function):
    # given
    policy = FUNCTION_POLICIES[function](STACK)

    # when
    on_any = [s for s in statements(policy) if "*" in as_list(s["Resource"])]

    # then each alone in its statement
    assert TRACE_WRITE_ON_ANY in on_any
    assert all(statement in ON_ANY for statement in on_any)


@pytest.mark.parametrize("function", FUNCTION_POLICIES)
def test_function_policy_allows_only_and_never_denies(function):
    # given
    policy = FUNCTION_POLICIES[function](STACK)

    # when
    effects = {s["Effect"] for s in statements(policy)}

    # then
    assert effects == {"Allow"}
    assert all("NotAction" not in s and "NotResource" not in s for s in statements(policy))


@pytest.mark.parametrize("function", FUNCTION_POLICIES)
def test_every_resource_is_one_of_the_stacks_own(function):
    # given
    policy = FUNCTION_POLICIES[function](STACK)
    names = own_names(STACK, function)

    # when
    strangers = [r for r in scoped_resources(policy) if not any(name in r for name in names)]

    # then
    assert strangers == []
    for resource in scoped_resources(policy):
        if not resource.startswith("arn:aws:s3:::"):  # bucket ARNs carry neither
            assert ":eu-west-1:123456789012:" in resource


def test_each_function_writes_only_its_own_log_group():
    # given
    loader, checker = load_inventory_policy(STACK), check_stock_policy(STACK)

    # when
    loader_logs = grants(loader, "logs:PutLogEvents")
    checker_logs = grants(checker, "logs:PutLogEvents")

    # then
    assert loader_logs == [
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/inventory-load_inventory"
        ":log-stream:*"
    ]
    assert checker_logs == [
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/inventory-check_stock"
        ":log-stream:*"
    ]


def test_loader_may_read_uploads_write_reports_and_rows_but_not_publish():
    # given
    policy = load_inventory_policy(STACK)

    # when
    allowed = actions(policy)

    # then
    assert grants(policy, "s3:GetObject") == [
        "arn:aws:s3:::inventory-uploads-123456789012-eu-west-1/*",
        "arn:aws:s3:::inventory-reports-123456789012-eu-west-1/*",
    ]
    assert grants(policy, "s3:PutObject") == [
        "arn:aws:s3:::inventory-reports-123456789012-eu-west-1/*"
    ]
    assert grants(policy, "dynamodb:BatchWriteItem") == [
        "arn:aws:dynamodb:eu-west-1:123456789012:table/inventory-inventory"
    ]
    assert not [action for action in allowed if action.startswith("sns:")]
    assert {action for action in allowed if action.startswith("dynamodb:")} == {
        "dynamodb:BatchWriteItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchGetItem",
    }
    assert {action for action in allowed if action.startswith("lambda:")} == {
        "lambda:InvokeFunction"
    }


def test_loader_may_put_rows_conditionally_and_update_only_the_snapshots_table():
    # given
    policy = load_inventory_policy(STACK)

    # when
    put = grants(policy, "dynamodb:PutItem")
    update = grants(policy, "dynamodb:UpdateItem")

    # then: PutItem for a late file's rows; UpdateItem for claims, never on the rows
    assert put == ["arn:aws:dynamodb:eu-west-1:123456789012:table/inventory-inventory"]
    assert update == ["arn:aws:dynamodb:eu-west-1:123456789012:table/inventory-snapshots"]
    assert STACK.snapshots_table_arn == update[0]
    assert STACK.snapshots_table_arn not in grants(policy, "dynamodb:BatchWriteItem")
    assert STACK.table_arn not in update


def test_loader_may_read_claims_back_only_from_the_snapshots_table():
    # given
    policy = load_inventory_policy(STACK)

    # when
    batch_get = grants(policy, "dynamodb:BatchGetItem")

    # then: the claims of a loaded file's stores are read back; the rows never are
    assert batch_get == ["arn:aws:dynamodb:eu-west-1:123456789012:table/inventory-snapshots"]
    assert STACK.table_arn not in batch_get
    assert not [
        action
        for action in actions(policy)
        if action in ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan")
    ]


def test_loader_may_invoke_only_its_own_function():
    # given
    policy = load_inventory_policy(STACK)

    # when
    invoke = grants(policy, "lambda:InvokeFunction")

    # then: the function itself, unqualified; not the checker, no wildcard, no other account
    assert invoke == ["arn:aws:lambda:eu-west-1:123456789012:function:inventory-load_inventory"]
    assert STACK.check_function not in invoke[0]
    assert "*" not in invoke[0]


def test_another_stacks_loader_may_invoke_only_its_own_function():
    # given
    other = Stack("staging", "210987654321", "us-west-2")

    # when
    invoke = grants(load_inventory_policy(other), "lambda:InvokeFunction")

    # then
    assert invoke == ["arn:aws:lambda:us-west-2:210987654321:function:staging-load_inventory"]


def test_checker_may_invoke_no_function():
    # given
    policy = check_stock_policy(STACK)

    # when
    allowed = actions(policy)

    # then
    assert not [action for action in allowed if action.startswith("lambda:")]


def test_loader_may_read_the_version_of_an_upload_its_event_names():
    # given: the uploads bucket is versioned, and GetObject with a VersionId needs its own grant
    policy = load_inventory_policy(STACK)

    # when
    readable = grants(policy, "s3:GetObjectVersion")

    # then
    assert readable == ["arn:aws:s3:::inventory-uploads-123456789012-eu-west-1/*"]


def test_loader_may_list_both_buckets_so_a_missing_upload_or_report_reads_as_missing():
    # given: without s3:ListBucket, S3 answers GetObject/HeadObject on a missing key with 403,
    # not 404 (a deleted upload; a report not written yet)
    policy = load_inventory_policy(STACK)

    # when
    listable = grants(policy, "s3:ListBucket")

    # then
    assert listable == [
        "arn:aws:s3:::inventory-uploads-123456789012-eu-west-1",
        "arn:aws:s3:::inventory-reports-123456789012-eu-west-1",
    ]


def test_checker_may_read_the_stream_and_publish_but_not_write_the_table():
    # given
    policy = check_stock_policy(STACK)

    # when
    allowed = actions(policy)

    # then
    assert grants(policy, "sns:Publish") == ["arn:aws:sns:eu-west-1:123456789012:inventory-NoStock"]
    assert grants(policy, "dynamodb:GetRecords") == [
        "arn:aws:dynamodb:eu-west-1:123456789012:table/inventory-inventory/stream/*"
    ]
    dynamodb_actions = {action for action in allowed if action.startswith("dynamodb:")}
    assert not [r for r in resources(policy) if STACK.snapshots_table in r]
    assert STACK.table_arn not in resources(policy)
    assert dynamodb_actions == {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
    }
    assert not [action for action in allowed if action.startswith("s3:")]


def test_checker_reads_and_notes_sent_alerts_only_in_the_sent_alerts_table():
    # given
    policy = check_stock_policy(STACK)

    # when
    read, written = (
        grants(policy, "dynamodb:BatchGetItem"),
        grants(policy, "dynamodb:BatchWriteItem"),
    )

    # then
    sent_alerts = "arn:aws:dynamodb:eu-west-1:123456789012:table/inventory-sent-alerts"
    assert read == written == [sent_alerts] == [STACK.sent_alerts_table_arn]


def test_each_failure_queue_takes_messages_only_from_its_own_function():
    # given
    loader, checker = load_inventory_policy(STACK), check_stock_policy(STACK)

    # when
    loader_queues = grants(loader, "sqs:SendMessage")
    checker_queues = grants(checker, "sqs:SendMessage")

    # then: the loader also queues its own next parts in its uploads queue
    assert sorted(loader_queues) == sorted(
        [STACK.queue_arn(STACK.uploads_queue), STACK.queue_arn(STACK.load_failures_queue)]
    )
    assert checker_queues == [STACK.queue_arn(STACK.alert_failures_queue)]


def test_only_the_loader_takes_uploads_off_the_uploads_queue():
    # given
    loader, checker = load_inventory_policy(STACK), check_stock_policy(STACK)
    uploads = STACK.queue_arn(STACK.uploads_queue)

    # when / then: what its mapping needs, on that queue only
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
        assert grants(loader, action) == [uploads], action
        assert grants(checker, action) == [], action


def test_uploads_queue_accepts_messages_only_from_the_stacks_uploads_bucket():
    # given
    policy = uploads_queue_policy(STACK)

    # when
    [statement] = statements(policy)

    # then
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == STACK.queue_arn(STACK.uploads_queue)
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": STACK.bucket_arn(STACK.uploads_bucket)},
        "StringEquals": {"aws:SourceAccount": STACK.account},
    }


def test_alerts_queue_accepts_messages_only_from_the_stacks_topic():
    # given
    policy = alerts_queue_policy(STACK)

    # when
    [statement] = statements(policy)

    # then
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert statement["Resource"] == "arn:aws:sqs:eu-west-1:123456789012:inventory-alerts"
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": "arn:aws:sns:eu-west-1:123456789012:inventory-NoStock"}
    }


@pytest.mark.parametrize("bucket", [STACK.uploads_bucket, STACK.reports_bucket])
def test_tls_only_bucket_policy_denies_every_s3_action_on_the_bucket_and_its_objects_over_http(
    bucket,
):
    # given
    policy = tls_only_bucket_policy(STACK, bucket)

    # when
    [statement] = statements(policy)

    # then
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert as_list(statement["Action"]) == ["s3:*"]
    assert sorted(as_list(statement["Resource"])) == [
        f"arn:aws:s3:::{bucket}",
        f"arn:aws:s3:::{bucket}/*",
    ]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_tls_only_bucket_policy_grants_nothing():
    # given
    policy = tls_only_bucket_policy(STACK, STACK.uploads_bucket)

    # when
    effects = {s["Effect"] for s in statements(policy)}

    # then: access still comes from the functions' own policies only
    assert effects == {"Deny"}


def test_functions_trust_only_the_lambda_service():
    # given
    [statement] = statements(LAMBDA_TRUST)

    # when
    principal = statement["Principal"]

    # then
    assert principal == {"Service": "lambda.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"


def test_another_stacks_policies_name_none_of_this_stacks_resources():
    # given
    other = Stack("staging", "123456789012", "eu-west-1")

    # when
    named = [
        resource
        for make in (*FUNCTION_POLICIES.values(), alerts_queue_policy)
        for resource in scoped_resources(make(other))
    ] + [
        resource
        for bucket in (other.uploads_bucket, other.reports_bucket)
        for resource in resources(tls_only_bucket_policy(other, bucket))
    ]

    # then
    assert all("staging" in resource for resource in named)
    assert not [resource for resource in named if "inventory-" in resource]


@pytest.mark.parametrize(
    "name",
    ["Inventory", "inv_entory", "a" * 21, "", "1inventory", "-inventory", "inv entory", "invé"],
    ids=[
        "uppercase",
        "underscore",
        "too-long",
        "empty",
        "digit-first",
        "dash-first",
        "space",
        "accent",
    ],
)
def test_stack_rejects_a_name_that_cannot_be_part_of_a_bucket_name(name):
    # given: a name S3, SQS and IAM would not all accept

    # when
    with pytest.raises(ValueError, match="stack name") as raised:
        Stack(name, "123456789012", "eu-west-1")

    # then
    assert "lowercase" in str(raised.value)


@pytest.mark.parametrize("name", ["a", "inventory", "inv-2", "a" * 20])
def test_stack_accepts_short_lowercase_names(name):
    # given: a name of 1-20 lowercase letters, digits and dashes, starting with a letter

    # when
    stack = Stack(name, "123456789012", "eu-west-1")

    # then
    assert stack.uploads_bucket == f"{name}-uploads-123456789012-eu-west-1"
    assert len(stack.uploads_bucket) <= 63  # S3's limit on bucket names


def test_stack_rejects_a_name_with_a_trailing_newline():
    # given
    name = "inventory\n"

    # when
    with pytest.raises(ValueError, match="stack name") as raised:
        Stack(name, "123456789012", "eu-west-1")

    # then
    assert "lowercase" in str(raised.value)


def test_track_stock_writes_only_the_summary_and_history_and_reads_only_the_stream():
    policy = track_stock_policy(STACK)
    history = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{STACK.history_table}"
    summary = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{STACK.summary_table}"
    assert grants(policy, "dynamodb:PutItem") == [history]
    assert grants(policy, "dynamodb:BatchGetItem") == [history]
    assert grants(policy, "dynamodb:BatchWriteItem") == [history]
    assert sorted(grants(policy, "dynamodb:UpdateItem")) == sorted([history, summary])
    assert grants(policy, "dynamodb:GetRecords") == [f"{STACK.table_arn}/stream/*"]
    assert grants(policy, "sqs:SendMessage") == [STACK.queue_arn(STACK.track_failures_queue)]
    assert "dynamodb:Scan" not in actions(policy)


def test_readers_of_the_figures_may_only_read_them():
    policy = {"Version": "2012-10-17", "Statement": stock_tracking_read_statements(STACK)}
    assert actions(policy) == {
        "dynamodb:Scan",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
    }
    assert grants(policy, "dynamodb:BatchGetItem") == [STACK.history_table_arn]
    assert grants(policy, "dynamodb:Query") == [
        STACK.history_table_arn,
        f"{STACK.table_arn}/index/by_level",
    ]
    assert grants(policy, "dynamodb:Scan") == [STACK.summary_table_arn]
