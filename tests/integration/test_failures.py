"""Nothing lost, nothing doubled: redelivery, failures and their queues, concurrency, late
files and hostile input, on the real emulator."""

from __future__ import annotations

import codecs
import gzip
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from inventory.report import report_key_for
from provision import __main__ as cli
from provision import deploy, policies
from provision.aws import Aws, Changes, error_code, ignore_missing, wait_until
from provision.emulator import enforce_iam_from_environment
from provision.functions import delete_role, session_as_new_role
from provision.stack import Settings, Stack
from provision.uploads import read_report, s3_event, upload_and_wait_for_report
from tests.integration.support import PATIENCE, AlertInbox, Pipeline, invoke, is_ministack
from tests.unit.workbooks import cell, row, sheet_xml, xlsx

# The stacks tests break on purpose need no dashboard.
ISOLATED = Settings(dashboard=False)
FRAGILE = Settings(dashboard=False, stream_max_record_age_seconds=60)


def _csv(store: str, *rows: tuple[str, object]) -> bytes:
    lines = ["store,item,count", *(f"{store},{item},{count}" for item, count in rows)]
    return ("\n".join(lines) + "\n").encode()


def _items(pipeline: Pipeline, store: str) -> list[dict[str, Any]]:
    response = pipeline.aws.dynamodb.query(
        TableName=pipeline.outputs["table"],
        KeyConditionExpression="#store = :store",
        ExpressionAttributeNames={"#store": "store"},
        ExpressionAttributeValues={":store": {"S": store}},
        ConsistentRead=True,
    )
    items: list[dict[str, Any]] = response["Items"]
    return items


def _queue_depth(aws: Aws, url: str) -> int:
    attributes = aws.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def _count_logged(aws: Aws, function: str, text: str) -> int:
    """How many of the function's log lines so far contain `text`."""

    def lines() -> list[dict[str, Any]]:
        pages = aws.logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{function}"
        )
        return [event for page in pages for event in page["events"]]

    events = ignore_missing(lines, "ResourceNotFoundException")
    return sum(text in event["message"] for event in events or [])


def _logged(aws: Aws, function: str, text: str) -> bool:
    return _count_logged(aws, function, text) > 0


# ---------------------------------------------------------------- delivery and retries


def test_the_same_s3_event_delivered_three_times_changes_nothing(pipeline, aws: Aws, store):
    # given a file loaded once, with an item that ran out
    key = f"{store}/snapshot.csv"
    report = pipeline.upload(key, _csv(store, ("Echo", 0), ("Tap", 4)))
    assert [a["item"] for a in pipeline.alerts_after_settling(store)] == ["Echo"]
    table_after_one = _items(pipeline, store)

    # when S3 delivers the same event twice more
    event = s3_event(pipeline.outputs["uploads_bucket"], key, report["source"])
    for _ in range(2):
        invoke(aws, pipeline.outputs["functions"]["load_inventory"], event)

    # then the table is exactly as after one delivery, and no alert was added
    assert _items(pipeline, store) == table_after_one
    assert [a["item"] for a in pipeline.alerts_after_settling(store)] == ["Echo"]


def test_a_stream_record_delivered_again_publishes_no_alert_twice(pipeline, aws: Aws, store):
    # given an item that ran out, and its alert, which names the stream record it came from
    pipeline.upload(f"{store}/snapshot.csv", _csv(store, ("Echo", 0)))
    [alert] = pipeline.alerts_after_settling(store)
    row = pipeline.item(store, "Echo")
    assert row is not None

    # when Lambda delivers that record again, twice (as after an invocation that timed out
    # once it had published)
    record = {
        "eventID": alert["alert_id"],
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": pipeline.outputs["region"],
        "dynamodb": {
            "Keys": {"store": row["store"], "item": row["item"]},
            "NewImage": row,
            "SequenceNumber": "1",
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    for _ in range(2):
        invoke(aws, pipeline.outputs["functions"]["check_stock"], {"Records": [record]})

    # then no alert was added
    assert [a["item"] for a in pipeline.alerts_after_settling(store)] == ["Echo"]


@contextmanager
def _own_stack(aws: Aws, prefix: str, settings: Settings) -> Iterator[tuple[Stack, Pipeline]]:
    """A stack for one breaking test alone: work other tests leave in flight (a loader
    re-driving a newer file, say) can neither fail because of it nor land in its queues."""
    stack = deploy.locate(aws, f"{prefix}-{uuid.uuid4().hex[:6]}")
    outputs = deploy.up(aws, stack, settings)
    try:
        yield stack, Pipeline(aws, outputs, AlertInbox(aws, outputs["alerts_queue_url"]))
    finally:
        deploy.destroy(aws, stack)


@pytest.fixture
def isolated(aws: Aws) -> Iterator[tuple[Stack, Pipeline]]:
    with _own_stack(aws, "fail", ISOLATED) as stack_and_pipeline:
        yield stack_and_pipeline


def test_a_failed_load_lands_in_the_failure_queue_and_replays(isolated, aws: Aws, store, capsys):
    stack, pipeline = isolated
    # given a table the loader needs is unavailable (deleted: every target fails the same way)
    aws.dynamodb.delete_table(TableName=stack.snapshots_table)
    aws.dynamodb.get_waiter("table_not_exists").wait(
        TableName=stack.snapshots_table, WaiterConfig={"Delay": 1}
    )
    failures = pipeline.outputs["load_failures_queue_url"]
    try:
        # when a file is uploaded
        aws.s3.put_object(
            Bucket=pipeline.outputs["uploads_bucket"],
            Key=f"{store}/late.csv",
            Body=_csv(store, ("Kept", 0)),
        )

        # then after Lambda's retries the event waits in the failure queue, nothing loaded
        wait_until(lambda: _queue_depth(aws, failures) == 1, PATIENCE, "the failed event")
        assert _items(pipeline, store) == []
    finally:
        deploy.up(aws, stack, ISOLATED)  # provisioning makes the table again

    # when the operator replays it (`make replay-failed`)
    endpoint = ["--endpoint-url", aws.endpoint_url] if aws.endpoint_url else []
    replayed = cli.main(["replay-failed", "--stack", stack.name, *endpoint])

    # then the file loads, gets its report and alerts, and the queue is empty
    assert replayed == 0
    assert f"replayed {store}/late.csv" in capsys.readouterr().err
    wait_until(lambda: len(_items(pipeline, store)) == 1, PATIENCE, "the replayed rows")
    assert [a["item"] for a in pipeline.alerts_after_settling(store)] == ["Kept"]
    assert _queue_depth(aws, failures) == 0


@pytest.fixture(scope="module")
def fragile(aws: Aws) -> Iterator[tuple[Stack, Pipeline]]:
    """A stack of its own for breaking the stream side, with the shortest record age AWS
    allows, so exhausted records reach the failure queue within a minute."""
    with _own_stack(aws, "frag", FRAGILE) as stack_and_pipeline:
        yield stack_and_pipeline


def test_alerts_are_retried_while_the_topic_is_gone_and_arrive_once_it_is_back(
    fragile, aws: Aws, store
):
    # given a stack whose topic has been deleted
    stack, pipeline = fragile
    aws.sns.delete_topic(TopicArn=pipeline.outputs["topic_arn"])

    # when an item runs out and check_stock fails to publish it
    pipeline.upload(f"{store}/out.csv", _csv(store, ("Gone", 0)))
    wait_until(
        lambda: _logged(aws, stack.check_function, "publishing alerts failed"),
        PATIENCE,
        "check_stock to fail publishing",
    )

    # and the topic is provisioned again
    deploy.up(aws, stack, FRAGILE)

    # then the retried record's alert arrives, exactly once
    assert [a["item"] for a in pipeline.alerts_after_settling(store)] == ["Gone"]


def test_records_that_exhaust_their_retries_land_in_the_failure_queue(fragile, aws: Aws, store):
    # given a stack whose topic has been deleted
    stack, pipeline = fragile
    aws.sns.delete_topic(TopicArn=pipeline.outputs["topic_arn"])
    failures = pipeline.outputs["alert_failures_queue_url"]
    try:
        # when an item runs out and publishing keeps failing past the record age limit
        pipeline.upload(f"{store}/out.csv", _csv(store, ("Never", 0)))

        # then the batch's description lands in the stream's failure queue
        # the records' 60 s of age, then Lambda's last try
        age = FRAGILE.stream_max_record_age_seconds
        wait_until(lambda: _queue_depth(aws, failures) >= 1, age + PATIENCE, "the exhausted batch")
        [message] = aws.sqs.receive_message(QueueUrl=failures, WaitTimeSeconds=1)["Messages"]
        assert stack.table in message["Body"]
    finally:
        deploy.up(aws, stack, FRAGILE)


# ---------------------------------------------------------------- concurrency and order


def test_a_hundred_files_from_fifty_stores_at_once_lose_nothing_and_alert_exactly(pipeline):
    # given 50 stores with two files each, 10 items per file, two of them at 0
    prefix = f"C{uuid.uuid4().hex[:6]}"
    stores = [f"{prefix}-{n:02}" for n in range(50)]
    files = {
        f"{store}/part{part}.csv": _csv(
            store, *((f"p{part}-i{i}", 0 if i % 5 == 0 else i) for i in range(10))
        )
        for store in stores
        for part in (1, 2)
    }

    # when all 100 are uploaded at once
    bucket = pipeline.outputs["uploads_bucket"]
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(
            pool.map(
                lambda kv: pipeline.aws.s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]),
                files.items(),
            )
        )

    # then every row is in the table (waiting while rows keep arriving)
    def rows() -> int:
        return sum(len(_items(pipeline, store)) for store in stores)

    wait_until(lambda: rows() == 1000, PATIENCE, "all 1000 rows", progress=rows)
    # and, once a barrier has passed every store, exactly one alert per item that went to 0
    markers = {store: f"zz-barrier-{uuid.uuid4().hex[:6]}" for store in stores}
    barriers = "".join(f"{store},{marker},0\n" for store, marker in markers.items())
    pipeline.upload(f"{prefix}/barriers.csv", b"store,item,count\n" + barriers.encode())
    inbox = pipeline.inbox
    inbox.wait_for(
        lambda _: all(
            any(a["item"] == marker for a in inbox.for_store(store))
            for store, marker in markers.items()
        ),
        PATIENCE,
        "the barrier alerts of all 50 stores",
    )
    alerts = [
        (a["store"], a["item"])
        for store in stores
        for a in inbox.for_store(store)
        if not a["item"].startswith("zz-barrier-")
    ]
    expected = sorted(
        (store, f"p{part}-i{i}") for store in stores for part in (1, 2) for i in (0, 5)
    )
    assert sorted(alerts) == expected
    # and no file was given up on: none throttled into the failure queue, none left waiting
    assert _queue_depth(pipeline.aws, pipeline.outputs["load_failures_queue_url"]) == 0
    assert _queue_depth(pipeline.aws, pipeline.outputs["uploads_queue_url"]) == 0


def test_a_late_older_snapshot_never_overwrites_a_newer_one(pipeline, aws: Aws, store):
    # given an older snapshot loaded, then a newer one of the same store
    bucket = pipeline.outputs["uploads_bucket"]
    older = pipeline.upload(f"{store}/monday.csv", _csv(store, ("Echo", 0), ("OnlyOld", 7)))
    newer = pipeline.upload(f"{store}/tuesday.csv", _csv(store, ("Echo", 9), ("Tap", 3)))
    assert older["source"]["snapshot_at"] < newer["source"]["snapshot_at"]

    # when the older snapshot's event is processed again, late (S3 does not promise order)
    event = s3_event(bucket, f"{store}/monday.csv", older["source"])
    [summary] = invoke(aws, pipeline.outputs["functions"]["load_inventory"], event)["reports"]

    # then rows the newer snapshot has keep its values, and the report says so
    counts = {i["item"]["S"]: i["count"]["N"] for i in _items(pipeline, store)}
    assert counts == {"Echo": "9", "OnlyOld": "7", "Tap": "3"}
    assert (summary["rows_superseded"], summary["rows_loaded"]) == (1, 1)
    # and Echo alerted once, when the older snapshot first set it to 0
    assert [a["item"] for a in pipeline.alerts_after_settling(store)] == ["Echo"]


def test_an_older_version_delivered_late_never_takes_the_newer_versions_report(
    pipeline, aws: Aws, store
):
    # given two versions of one upload key, each loaded with its report
    key = f"{store}/stock.csv"
    older = pipeline.upload(key, _csv(store, ("Echo", 0)))
    newer = pipeline.upload(key, _csv(store, ("Echo", 9)))
    assert older["source"]["version_id"] != newer["source"]["version_id"]

    # when the older version's event is delivered again, late
    event = s3_event(pipeline.outputs["uploads_bucket"], key, older["source"])
    [summary] = invoke(aws, pipeline.outputs["functions"]["load_inventory"], event)["reports"]

    # then the report at the upload's key is still the newer version's (S3's conditional
    # writes on the emulator), the late one has its version's own key, and the row stays 9
    reports = pipeline.outputs["reports_bucket"]
    assert read_report(aws, reports, key)["source"]["version_id"] == newer["source"]["version_id"]
    own_key = report_key_for(key, older["source"]["version_id"])
    assert summary["report"] == f"s3://{reports}/{own_key}"
    late = json.loads(aws.s3.get_object(Bucket=reports, Key=own_key)["Body"].read())
    assert (late["source"]["version_id"], late["rows_superseded"]) == (
        older["source"]["version_id"],
        1,
    )
    assert pipeline.item(store, "Echo")["count"] == {"N": "9"}


# ---------------------------------------------------------------- hostile input


ONE_OBJECT = "the file is a single JSON object; expected an array of objects"
HOSTILE_FILES = [
    ("empty.csv", b"", "rejected", "empty"),
    ("header-only.csv", b"store,item,count\n", "rejected", "no data rows"),
    ("no-header.csv", b"Berlin,Echo,1\n", "rejected", "header"),
    ("pipes.csv", b"store|item|count\nB|x|1\n", "rejected", "header"),
    ("utf32.csv", "store,item,count\nB,x,1\n".encode("utf-32"), "rejected", "UTF-32"),
    ("latin1.csv", "store,item,count\nB,caf\xe9,1\n".encode("latin-1"), "rejected", "UTF-8"),
    ("nul.csv", b"store,item,count\nB,a\x00b,1\n", "rejected", "NUL"),
    ("gzipped.csv", gzip.compress(b"store,item,count\nB,x,1\n", mtime=0), "rejected", "gzip"),
    (
        "object.json",
        b'{"items": [{"store": "B", "item": "x", "count": 1}]}',
        "rejected",
        ONE_OBJECT,
    ),
    (
        "pretty.json",
        b'{\n  "items": [\n    {"store": "B", "item": "x", "count": 1}\n  ]\n}\n',
        "rejected",
        ONE_OBJECT,
    ),
    (
        "types.json",
        b'[{"store": "B", "item": "x", "count": "many"}]',
        "rejected",
        "count must be a whole number, not 'many'",
    ),
    ("notes.txt", b"hello", "rejected", "unsupported file type"),
]


SPREADSHEET_EXPORTS = [
    ("semicolons.csv", "Store;Item;Count\r\n{s};Café;0\r\n{s};Tap;5\r\n", "utf-8", None),
    ("excel-mac.csv", "store,item,count\r{s},Café,0\r{s},Tap,5\r", "utf-8-sig", None),
    ("unicode.txt.tsv", "store\titem\tcount\n{s}\tCafé\t0\n{s}\tTap\t5\n", "utf-16", None),
    (
        "erp.csv",
        "SKU,Description,Qty,Location,Price\nCafé,x,0,{s},1.5\nTap,y,5,{s},2\n",
        "windows-1252",
        {"ContentType": "text/csv; charset=windows-1252"},
    ),
    (
        "meta.csv",
        "product;quantity;shop\nCafé;0;{s}\nTap;5;{s}\n",
        "iso-8859-1",
        {"Metadata": {"charset": "iso-8859-1"}},
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "encoding", "declared"),
    SPREADSHEET_EXPORTS,
    ids=[e[0] for e in SPREADSHEET_EXPORTS],
)
def test_what_spreadsheets_export_loads_as_the_store_meant_it(
    pipeline, store, name, text, encoding, declared
):
    # given / when an export in a dialect a spreadsheet or an ERP writes
    report = pipeline.upload(f"{store}/{name}", text.format(s=store).encode(encoding), declared)

    # then both rows load, the accented name intact, and the alert goes out for it
    assert (report["status"], report["rows_loaded"], report["lines_read"]) == ("loaded", 2, 2)
    assert pipeline.item(store, "Café")["count"] == {"N": "0"}
    assert [a["item"] for a in pipeline.alerts_after_settling(store)] == ["Café"]


def test_the_first_sheet_of_an_xlsx_workbook_loads(pipeline, store):
    # given a workbook whose first sheet lists stock under common aliases, with a price column
    body = "".join(
        row(n, *(cell(f"{c}{n}", v) for c, v in zip("ABCD", values, strict=True)))
        for n, values in [
            (1, ("Shop", "Product", "Stock", "Price")),
            (2, (store, "Echo", 0, 19.5)),
            (4, (store, "Tap", 7, 3)),
        ]
    )
    workbook = xlsx([("Stock", sheet_xml(body)), ("Notes", sheet_xml())])

    # when
    report = pipeline.upload(f"{store}/stock.xlsx", workbook)

    # then
    assert (report["status"], report["rows_loaded"], report["blank_lines"]) == ("loaded", 2, 1)
    assert report["ignored_columns"] == ["Price"]
    assert pipeline.item(store, "Tap")["count"] == {"N": "7"}
    assert [a["item"] for a in pipeline.alerts_after_settling(store)] == ["Echo"]


@pytest.mark.parametrize(
    ("name", "body", "status", "reason"), HOSTILE_FILES, ids=[f[0] for f in HOSTILE_FILES]
)
def test_hostile_files_get_a_report_naming_the_problem(pipeline, store, name, body, status, reason):
    # given / when a file no loader could use
    report = pipeline.upload(f"{store}/{name}", body)

    # then it gets a report saying why, and nothing of it is in the table
    assert report["status"] == status
    assert report["rows_loaded"] == 0
    problem = (report["file_error"] or {}).get("reason") or report["rejected_rows"][0]["reason"]
    assert reason in problem
    assert _items(pipeline, store) == []


def test_hostile_rows_are_reported_safely_and_the_good_ones_load(pipeline, store):
    # given odd but loadable names, and rows that must be refused
    body = (
        "store,item,count\n"
        f'{store},"Echo, the ""second""",1\n'
        f"{store},<script>alert(1)</script>,2\n"
        f'{store},=HYPERLINK("x"),3\n'
        f"{store},🦆 Duck,4\n"
        f"{store},Padded, 7 \n"
        f"{store},Big,99999999999999999999\n"
        f"{store},Exp,1e3\n"
        f"{store},{'x' * 2048},1\n"
        f'{store},"line\nbreak",1\n'
        f"{store},-Formula,-3\n"
    ).encode()

    # when
    report = pipeline.upload(f"{store}/odd names.csv", codecs.BOM_UTF8 + body)

    # then the odd names load as text and the refused rows are listed with spreadsheet-safe cells
    names = {i["item"]["S"]: int(i["count"]["N"]) for i in _items(pipeline, store)}
    assert names == {
        'Echo, the "second"': 1,
        "<script>alert(1)</script>": 2,
        '=HYPERLINK("x")': 3,
        "🦆 Duck": 4,
        "Padded": 7,
    }
    # five rejected records, the quoted line break's standing for both its lines
    assert (report["rows_rejected"], len(report["rejected_rows"])) == (6, 5)
    assert report["lines_read"] == 11
    assert {r["row"]["item"] for r in report["rejected_rows"]} >= {"'-Formula"}
    assert all(not str(r["row"].get("item", "")).startswith("=") for r in report["rejected_rows"])


# A loader with five seconds an invocation: the file below needs several on any machine (the
# emulator writes 2,000 to 8,000 rows a second), as a million rows would with five minutes.
# Without track_stock: on MiniStack its 80,000 records would hold check_stock back for minutes.
BRIEF = Settings(dashboard=False, stock_tracking=False, load_timeout_seconds=5)
LONG_FILE_ROWS = 80_000
BAD_EVERY, ZERO_EVERY = 20_000, 10_000


@pytest.fixture
def brief(aws: Aws) -> Iterator[tuple[Stack, Pipeline]]:
    with _own_stack(aws, "brief", BRIEF) as stack_and_pipeline:
        yield stack_and_pipeline


def _long_file(store: str) -> bytes:
    """LONG_FILE_ROWS rows of one store, some of them bad, some 0, and the first row's item
    again at the end, so problems fall in different parts."""
    lines = ["store,item,count"]
    for number in range(1, LONG_FILE_ROWS):
        count = "x" if number % BAD_EVERY == 0 else 0 if number % ZERO_EVERY == 0 else number
        lines.append(f"{store},item-{number:05},{count}")
    lines.append(f"{store},item-00001,77")
    return ("\n".join(lines) + "\n").encode()


def test_a_file_longer_than_an_invocation_loads_in_parts_with_one_report(brief, aws: Aws, store):
    stack, pipeline = brief
    # given a file that one invocation of this loader cannot write
    key = f"{store}/long.csv"
    bad = range(BAD_EVERY, LONG_FILE_ROWS, BAD_EVERY)
    zeros = [n for n in range(ZERO_EVERY, LONG_FILE_ROWS, ZERO_EVERY) if n % BAD_EVERY]
    loadable = LONG_FILE_ROWS - 1 - len(bad)  # the last row repeats the first

    # when it is uploaded (waiting as long as each part keeps coming: a machine that loads a
    # part in a minute takes as long as it needs, one that stopped loading fails in four)
    def parts_so_far() -> int:
        return _count_logged(aws, stack.load_function, "inventory file continues")

    report = upload_and_wait_for_report(
        aws, pipeline.outputs, key, _long_file(store), 240, progress=parts_so_far
    )

    # then it was loaded in parts, and its one report covers every row
    assert _logged(aws, stack.load_function, "inventory file continues in a new invocation")
    assert (report["status"], report["rows_loaded"], report["rows_rejected"]) == (
        "loaded_with_rejections",
        loadable,
        len(bad),
    )
    assert [r["line"] for r in report["rejected_rows"]] == [n + 1 for n in bad]
    assert [(d["line"], d["replaces_line"]) for d in report["duplicate_rows"]] == [
        (LONG_FILE_ROWS + 1, 2)
    ]
    # every row is in the table, the repeated item with its last count
    pages = aws.dynamodb.get_paginator("query").paginate(
        TableName=pipeline.outputs["table"],
        KeyConditionExpression="#store = :store",
        ExpressionAttributeNames={"#store": "store"},
        ExpressionAttributeValues={":store": {"S": store}},
        Select="COUNT",
        ConsistentRead=True,
    )
    assert sum(page["Count"] for page in pages) == loadable
    repeated = pipeline.item(store, "item-00001")
    assert repeated is not None
    assert repeated["count"] == {"N": "77"}
    # each item that ran out alerted once, and no part was handed to the failure queue
    alerts = pipeline.alerts_after_settling(store)
    assert sorted(a["item"] for a in alerts) == [f"item-{n:05}" for n in zeros]
    assert _queue_depth(aws, pipeline.outputs["load_failures_queue_url"]) == 0


# ---------------------------------------------------------------- least privilege, data at rest


def test_buckets_are_private_encrypted_versioned_and_tls_only_where_tls_exists(pipeline, aws: Aws):
    for bucket in (pipeline.outputs["uploads_bucket"], pipeline.outputs["reports_bucket"]):
        # given / when
        block = aws.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        encryption = aws.s3.get_bucket_encryption(Bucket=bucket)
        versioning = aws.s3.get_bucket_versioning(Bucket=bucket)
        policy = ignore_missing(
            lambda: json.loads(aws.s3.get_bucket_policy(Bucket=bucket)["Policy"]),  # noqa: B023
            "NoSuchBucketPolicy",
        )

        # then
        assert all(block.values())
        rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert versioning["Status"] == "Enabled"
        if (aws.endpoint_url or "").startswith("http://"):
            # an emulator without TLS: the policy would refuse every request, even its own
            assert policy is None
        else:
            [statement] = policy["Statement"]
            assert statement["Effect"] == "Deny"
            assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_queues_and_topic_are_encrypted_and_functions_hold_no_credentials(pipeline, aws: Aws):
    topic = aws.sns.get_topic_attributes(TopicArn=pipeline.outputs["topic_arn"])["Attributes"]
    assert topic["KmsMasterKeyId"] == "alias/aws/sns"
    for name in ("alerts_queue_url", "load_failures_queue_url", "alert_failures_queue_url"):
        attributes = aws.sqs.get_queue_attributes(
            QueueUrl=pipeline.outputs[name], AttributeNames=["SqsManagedSseEnabled"]
        )["Attributes"]
        assert attributes["SqsManagedSseEnabled"] == "true"
    for function in pipeline.outputs["functions"].values():
        variables = aws.lambda_.get_function_configuration(FunctionName=function)["Environment"][
            "Variables"
        ]
        assert not [name for name in variables if "KEY" in name or "SECRET" in name]


# How each service says "not allowed": S3 and STS, DynamoDB and SQS, SNS.
DENIED = {"AccessDenied", "AccessDeniedException", "AuthorizationError"}


def test_the_target_holds_the_loaders_policy_to_what_it_names(pipeline, aws: Aws, endpoint, store):
    """The suite runs with IAM enforced (on MiniStack, AUTH=true): this shows enforcement is on
    and the loader's policy is as narrow as written, so the rest passing means something."""
    if endpoint is not None and not (is_ministack(endpoint) and enforce_iam_from_environment()):
        pytest.skip(f"{endpoint} checks no IAM policy (LocalStack's free tier, ENFORCE_IAM=false)")
    # given a role that has exactly the loader's policy, assumed by the test
    stack = deploy.locate(aws, pipeline.outputs["stack"])
    name = f"{stack.name}-loader-probe"
    policy = policies.load_inventory_policy(stack)
    try:
        loader = Aws(session_as_new_role(aws, name, policy, Changes()), aws.endpoint_url)
        row = {"store": {"S": store}, "item": {"S": "Probe"}, "count": {"N": "1"}}

        # when it does what the loader does, it may
        loader.dynamodb.batch_write_item(
            RequestItems={stack.table: [{"PutRequest": {"Item": row}}]}
        )
        loader.s3.put_object(Bucket=stack.reports_bucket, Key=f"{store}/probe.json", Body=b"{}")

        # and anything else, on the same resources or others, is refused
        refused = {
            "write an upload": lambda: loader.s3.put_object(
                Bucket=stack.uploads_bucket, Key=f"{store}/probe.csv", Body=b""
            ),
            "read the table": lambda: loader.dynamodb.get_item(
                TableName=stack.table, Key={"store": row["store"], "item": row["item"]}
            ),
            "delete the table": lambda: loader.dynamodb.delete_table(TableName=stack.table),
            "publish an alert": lambda: loader.sns.publish(
                TopicArn=stack.topic_arn, Message="not the loader's to send"
            ),
            "read the alerts": lambda: loader.sqs.receive_message(
                QueueUrl=pipeline.outputs["alerts_queue_url"]
            ),
        }
        for what, call in refused.items():
            with pytest.raises(ClientError) as denied:
                call()
            assert error_code(denied.value) in DENIED, what
    finally:
        delete_role(aws, name, Changes())
