"""The whole chain on a real emulator: S3 upload -> load_inventory -> DynamoDB -> stream ->
check_stock -> SNS -> the SQS alerts queue."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path
from typing import Any

from provision import deploy, description
from provision.__main__ import main as provision_main
from provision.aws import Aws, Changes, ignore_missing, wait_until
from provision.model import People
from provision.stack import Settings
from provision.uploads import s3_event
from tests.integration.support import PATIENCE, invoke

SAMPLES = Path(__file__).resolve().parents[2] / "sample-data"


def _csv(store: str, *rows: tuple[str, object]) -> bytes:
    lines = ["store,item,count", *(f"{store},{item},{count}" for item, count in rows)]
    return ("\n".join(lines) + "\n").encode()


def test_seed_sample_alerts_exactly_for_its_zero_row_and_not_again_on_reupload(pipeline):
    # given the sample file from the original lab (Berlin, one item at 0)
    sample = (SAMPLES / "berlin.csv").read_bytes()

    # when it is uploaded
    report = pipeline.upload("stores/berlin.csv", sample)

    # then all three rows load and exactly one alert arrives, for Echo Plus
    assert report["status"] == "loaded"
    assert report["rows_loaded"] == 3
    alerts = pipeline.alerts_after_settling("Berlin")
    assert [(a["store"], a["item"], a["count"]) for a in alerts] == [("Berlin", "Echo Plus", 0)]
    assert alerts[0]["source"].endswith("/stores/berlin.csv")
    assert pipeline.item("Berlin", "Echo Dot")["count"] == {"N": "12"}

    # when the same file is uploaded again
    pipeline.upload("stores/berlin.csv", sample)

    # then no new alert: Echo Plus was already out of stock
    assert len(pipeline.alerts_after_settling("Berlin")) == 1


def test_alert_carries_json_body_and_filterable_attributes(pipeline, store):
    # given an item in stock
    pipeline.upload(f"{store}/day1.csv", _csv(store, ("Kindle", 5)))

    # when it runs out
    pipeline.upload(f"{store}/day2.csv", _csv(store, ("Kindle", 0)))

    # then one alert, whose JSON says what changed and where it came from
    [alert] = pipeline.alerts_after_settling(store)
    assert alert["event"] == "out_of_stock"
    assert (alert["item"], alert["count"], alert["previous_count"]) == ("Kindle", 0, 5)
    assert alert["source"].endswith(f"/{store}/day2.csv")
    assert alert["updated_at"]
    [message] = [
        m
        for m in pipeline.inbox.received
        if m["body"] is not None
        and m["body"].get("store") == store
        and m["body"]["item"] == "Kindle"
        and m["body"]["event"] == "out_of_stock"  # (5, at the threshold, alerted low first)
    ]
    assert message["attributes"] == {"store": store, "item": "Kindle", "event": "out_of_stock"}


def test_a_file_is_one_snapshot_an_item_listed_twice_alerts_only_as_its_last_row_says(
    pipeline, store
):
    # given items in stock
    pipeline.upload(f"{store}/monday.csv", _csv(store, ("Echo", 4), ("Tap", 6)))

    # when a file lists Echo at 0 early and at 5 hundreds of rows later (other lanes, other
    # batches between them), and Tap at 3 early and at 0 last
    filler = [(f"filler-{n}", n + 1) for n in range(400)]
    rows = [("Echo", 0), ("Tap", 3), *filler, ("Echo", 5), *filler[:50], ("Tap", 0)]
    report = pipeline.upload(f"{store}/tuesday.csv", _csv(store, *rows))

    # then the table holds each item's last row, and the only alert is Tap's
    assert (report["rows_loaded"], report["rows_duplicate"], report["lines_read"]) == (
        402,
        52,
        len(rows),
    )
    assert pipeline.item(store, "Echo")["count"] == {"N": "5"}
    assert pipeline.item(store, "Tap")["count"] == {"N": "0"}
    alerts = pipeline.alerts_after_settling(store)
    assert [(a["item"], a["count"], a["previous_count"]) for a in alerts] == [("Tap", 0, 6)]


def test_five_to_zero_alerts_and_zero_to_five_does_not(pipeline, store):
    # given one item at 5 and one at 0
    pipeline.upload(f"{store}/a.csv", _csv(store, ("Falling", 5), ("Rising", 0)))
    assert [a["item"] for a in pipeline.alerts_after_settling(store)] == ["Rising"]

    # when the first goes to 0 and the second back to 5
    pipeline.upload(f"{store}/b.csv", _csv(store, ("Falling", 0), ("Rising", 5)))

    # then only the first alerts
    assert sorted(a["item"] for a in pipeline.alerts_after_settling(store)) == [
        "Falling",
        "Rising",
    ]
    assert pipeline.item(store, "Rising")["count"] == {"N": "5"}


def test_non_zero_rows_never_alert(pipeline, store):
    # given / when a file where everything is in stock
    report = pipeline.upload(f"{store}/full.csv", _csv(store, ("A", 1), ("B", 20), ("C", 300)))

    # then rows load and nothing alerts
    assert report["rows_loaded"] == 3
    assert pipeline.alerts_after_settling(store) == []


def test_json_array_and_json_lines_load_and_alert(pipeline, store):
    # given the same inventory as a JSON array and as JSON Lines
    array = json.dumps(
        [{"store": store, "item": "Echo", "count": 0}, {"store": store, "item": "Tap", "count": 3}]
    ).encode()
    lines = b'{"store": "%s", "item": "Show", "count": 0}\n' % store.encode()

    # when both are uploaded
    array_report = pipeline.upload(f"{store}/stock.json", array)
    lines_report = pipeline.upload(f"{store}/stock.jsonl", lines)

    # then both load and each zero row alerts once
    assert (array_report["rows_loaded"], lines_report["rows_loaded"]) == (2, 1)
    assert sorted(a["item"] for a in pipeline.alerts_after_settling(store)) == ["Echo", "Show"]
    assert pipeline.item(store, "Tap")["count"] == {"N": "3"}


def test_file_with_bad_rows_loads_good_rows_and_reports_bad_ones(pipeline, store):
    # given a file with two good rows and three bad ones
    body = (
        f"store,item,count\n{store},Good,4\n{store},Negative,-3\n{store},,2\n"
        f"{store},Fraction,1.5\n{store},Empty,0\n"
    ).encode()

    # when it is uploaded
    report = pipeline.upload(f"{store}/mixed.csv", body)

    # then the good rows load, the bad ones are reported by line, and the good zero alerts
    assert report["status"] == "loaded_with_rejections"
    assert (report["rows_loaded"], report["rows_rejected"]) == (2, 3)
    assert [(r["line"], r["reason"]) for r in report["rejected_rows"]] == [
        (3, "count is negative"),
        (4, "item is empty"),
        (5, "count must be a whole number, not '1.5'"),
    ]
    assert pipeline.item(store, "Negative") is None
    assert [a["item"] for a in pipeline.alerts_after_settling(store)] == ["Empty"]


def test_unreadable_file_gets_a_report_and_is_not_retried(pipeline, aws: Aws, store):
    # given a gzip file named .csv
    key = f"{store}/compressed.csv"
    body = gzip.compress(_csv(store, ("Zipped", 0)), mtime=0)

    # when it is uploaded
    report = pipeline.upload(key, body)

    # then the report says why, and nothing loads
    assert report["status"] == "rejected"
    assert "gzip" in report["file_error"]["reason"]
    assert pipeline.item(store, "Zipped") is None
    # and the loader succeeds on it, so Lambda has nothing to retry: invoke it as S3 would
    response = invoke(
        aws,
        pipeline.outputs["functions"]["load_inventory"],
        s3_event(pipeline.outputs["uploads_bucket"], key),
    )
    assert [summary["status"] for summary in response["reports"]] == ["rejected"]


def test_keys_with_spaces_and_plus_signs_are_loaded(pipeline, store):
    # given a key S3 will URL-encode in the event
    key = f"{store}/Kraków day+1 (copy).csv"

    # when it is uploaded
    report = pipeline.upload(key, _csv(store, ("Echo", 2)))

    # then the loader found the object by its real name
    assert report["source"]["uri"].endswith(f"/{key}")
    assert report["rows_loaded"] == 1


def test_provisioning_again_changes_nothing(aws: Aws, stack: dict[str, Any]):
    # given the session's stack, already provisioned
    located = deploy.locate(aws, stack["stack"])

    # when provisioning runs again
    changes = Changes()
    again = deploy.up(aws, located, Settings(), changes=changes)

    # then nothing was planned, created or updated and the outputs are the same
    notes: list[str] = []
    plan = deploy.plan(aws, located, Settings(), People(), Changes(echo=notes.append))
    assert [change.line for change in plan if change.action != "nothing"] == []
    assert changes.made == []
    assert again == stack


def test_the_plan_command_on_the_emulator_says_the_stack_is_up_to_date(
    endpoint: str | None, stack: dict[str, Any], capsys
):
    target = ["--endpoint-url", endpoint] if endpoint else []
    assert provision_main(["plan", "--stack", stack["stack"], "--quiet", *target]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].startswith("up to date: nothing to change"), printed


def test_every_function_traces_actively_with_tracer_off_where_the_target_has_no_xray(
    aws: Aws, stack: dict[str, Any]
):
    # given the session's stack, its dashboard's function too
    names = deploy.function_names(deploy.locate(aws, stack["stack"]))

    # when each function's configuration is read back
    configurations = {
        function: aws.lambda_.get_function_configuration(FunctionName=name)
        for function, name in names.items()
    }

    # then the target keeps the setting AWS is given, and on an emulator Tracer is off
    # (provision/tracing.py); the tests above show the traced functions work there
    switch = "true" if aws.endpoint_url else None
    for function, configuration in configurations.items():
        assert configuration["TracingConfig"] == {"Mode": "Active"}, function
        variables = configuration["Environment"]["Variables"]
        assert variables.get("POWERTOOLS_TRACE_DISABLED") == switch, function


def _queue_arn(aws: Aws, url: str) -> str:
    attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


MAPPING_SETTINGS = (
    "BatchSize",
    "MaximumRetryAttempts",
    "BisectBatchOnFunctionError",
    "MaximumRecordAgeInSeconds",
    "FunctionResponseTypes",
    "FilterCriteria",
)


def test_the_stream_mapping_is_provisioned_with_its_retry_limits_and_failure_queue(
    aws: Aws, stack: dict[str, Any]
):
    # given the session's stack
    stream_arn = aws.dynamodb.describe_table(TableName=stack["table"])["Table"]["LatestStreamArn"]

    # when its stream mapping is read back
    [mapping] = aws.lambda_.list_event_source_mappings(
        FunctionName=stack["functions"]["check_stock"]
    )["EventSourceMappings"]

    # then it reads the table's stream in batches of 2,500, retries a failing batch 5 times
    # (bisecting it), drops records older than an hour to the alert-failures queue, lets
    # the function report the records to retry, and delivers only records that set a count
    # to 0 or a level to low
    assert mapping["EventSourceArn"] == stream_arn
    assert mapping["State"] == "Enabled"
    assert {key: mapping.get(key) for key in MAPPING_SETTINGS} == {
        "BatchSize": 2500,
        "MaximumRetryAttempts": 5,
        "BisectBatchOnFunctionError": True,
        "MaximumRecordAgeInSeconds": 3600,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "FilterCriteria": {
            "Filters": [
                {"Pattern": description.OUT_OF_STOCK_RECORDS},
                {"Pattern": description.LOW_STOCK_RECORDS},
            ]
        },
    }
    assert mapping["DestinationConfig"]["OnFailure"] == {
        "Destination": _queue_arn(aws, stack["alert_failures_queue_url"])
    }


def test_the_loader_retries_an_upload_twice_then_hands_it_to_the_load_failures_queue(
    aws: Aws, stack: dict[str, Any]
):
    # given the session's stack
    # when the loader's asynchronous invoke config is read back
    config = aws.lambda_.get_function_event_invoke_config(
        FunctionName=stack["functions"]["load_inventory"]
    )

    # then
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"] == {
        "Destination": _queue_arn(aws, stack["load_failures_queue_url"])
    }


def test_destroy_leaves_nothing_behind(aws: Aws):
    # given a second stack that has loaded a file (non-empty buckets, log groups)
    located = deploy.locate(aws, f"gone-{uuid.uuid4().hex[:6]}")
    outputs = deploy.up(aws, located, Settings())
    aws.s3.put_object(
        Bucket=outputs["uploads_bucket"], Key="x.csv", Body=b"store,item,count\nS,I,1\n"
    )
    # Every function it invokes has finished: the loader, and on the stream check_stock (a
    # count of 1 is low) and track_stock. One still running as its log group is deleted would
    # write its last lines into a new one.
    for function in ("load_inventory", "check_stock", "track_stock"):
        log_group = f"/aws/lambda/{outputs['functions'][function]}"
        wait_until(
            lambda group=log_group: any(
                "REPORT" in event["message"]
                for event in ignore_missing(
                    lambda: aws.logs.filter_log_events(logGroupName=group)["events"],
                    "ResourceNotFoundException",
                )
                or []
            ),
            PATIENCE,
            f"{function}'s invocation to finish",
        )

    # when it is destroyed
    deploy.destroy(aws, located)

    # then no resource carrying its name is left
    name = located.name
    buckets = [b["Name"] for b in aws.s3.list_buckets().get("Buckets", [])]
    tables = aws.dynamodb.list_tables()["TableNames"]
    topics = [t["TopicArn"] for t in aws.sns.list_topics().get("Topics", [])]
    queues = aws.sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    functions = [f["FunctionName"] for f in aws.lambda_.list_functions()["Functions"]]
    roles = [r["RoleName"] for r in aws.iam.list_roles()["Roles"]]
    log_groups = [g["logGroupName"] for g in aws.logs.describe_log_groups()["logGroups"]]
    mappings = [
        m
        for m in aws.lambda_.list_event_source_mappings()["EventSourceMappings"]
        if name in m["FunctionArn"]
    ]
    leftovers = [
        n
        for n in [*buckets, *tables, *topics, *queues, *functions, *roles, *log_groups]
        if name in n
    ]
    assert leftovers == []
    assert mappings == []
    # and destroying again is harmless
    assert deploy.destroy(aws, located).made == []


def test_uploads_reach_the_loader_through_its_queue_ten_at_a_time_four_at_once(
    aws: Aws, stack: dict[str, Any]
):
    # given the session's stack
    loader = stack["functions"]["load_inventory"]
    uploads_arn = _queue_arn(aws, stack["uploads_queue_url"])

    # when the bucket's notification, the queue's mapping and the reservation are read back
    notification = aws.s3.get_bucket_notification_configuration(Bucket=stack["uploads_bucket"])
    [mapping] = aws.lambda_.list_event_source_mappings(
        FunctionName=loader, EventSourceArn=uploads_arn
    )["EventSourceMappings"]
    reserved = aws.lambda_.get_function_concurrency(FunctionName=loader)

    # then uploads go to the queue only, the loader takes ten an invocation, four at once,
    # and never runs more than five invocations (one for a failed file's retries)
    assert [c["QueueArn"] for c in notification["QueueConfigurations"]] == [uploads_arn]
    assert not notification.get("LambdaFunctionConfigurations")
    assert (mapping["BatchSize"], mapping["ScalingConfig"]) == (10, {"MaximumConcurrency": 4})
    assert reserved["ReservedConcurrentExecutions"] == 5
