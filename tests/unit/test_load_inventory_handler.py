"""load_inventory's handler against moto: uploads bucket -> table rows and a report per file.

The uploads bucket is versioned, as provision makes it, and the snapshots table orders the
files of each store by the time S3 received them. The function's own Lambda client (which
re-drives a newer snapshot that a load overtook) is a fake that records each invocation.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from typing import Any
from urllib.parse import quote_plus

import pytest
from botocore.exceptions import ClientError

from inventory.adapters.table import Snapshot
from inventory.loading import Continuation
from load_inventory import handler
from tests.unit.fakes import (
    metric_flushes,
)
from tests.unit.loader_harness import (
    EVENT_TIME,
    FUNCTION,
    REPORTS,
    SEED_CSV,
    SEED_ROWS,
    SNAPSHOT_AT,
    SNAPSHOTS,
    TABLE,
    UPLOADS,
    counts,
    event_of,
    load_with_the_table_gone,
    loader_context,
    recorded_event,
    report_for,
    run_until_done,
    s3_put_event,
    s3_record,
    snapshots,
    table_items,
    upload,
)


def test_seed_csv_loads_three_rows_with_count_time_and_source(aws):
    # given
    upload(aws, "stores/seed.csv", SEED_CSV)

    # when
    result = handler.lambda_handler(s3_put_event("stores/seed.csv"), loader_context())

    # then
    items = table_items(aws)
    assert counts(aws) == SEED_ROWS
    for one in items.values():
        assert one["source"] == {"S": f"s3://{UPLOADS}/stores/seed.csv"}
        assert one["updated_at"] == {"S": SNAPSHOT_AT}  # when S3 received the file, in UTC
    assert result["reports"][0]["status"] == "loaded"
    assert result["reports"][0]["rows_loaded"] == 3


def test_url_encoded_key_is_decoded_before_reading_the_object(aws):
    # given: S3 sends "stores/berlin day+1.csv" as "stores/berlin+day%2B1.csv"
    key = "stores/berlin day+1.csv"
    upload(aws, key, SEED_CSV)
    event = s3_put_event(key)
    assert event["Records"][0]["s3"]["object"]["key"] == "stores/berlin+day%2B1.csv"

    # when
    result = handler.lambda_handler(event, loader_context())

    # then
    assert counts(aws) == SEED_ROWS
    assert result["reports"][0]["file"] == f"s3://{UPLOADS}/{key}"
    assert report_for(aws, key)["status"] == "loaded"


def test_recorded_s3_put_event_loads_the_file_its_encoded_key_names(aws):
    # given: the notification S3 sent for an upload of "stores/berlin day+1.csv"
    version = upload(aws, "stores/berlin day+1.csv", SEED_CSV)
    event = recorded_event(version)

    # when
    handler.lambda_handler(event, loader_context())

    # then
    assert counts(aws) == SEED_ROWS
    report = report_for(aws, "stores/berlin day+1.csv")
    assert report["rows_loaded"] == 3
    assert report["source"]["snapshot_at"] == "2024-05-01T09:30:00.123+00:00"  # its eventTime


def test_every_record_of_a_multi_record_event_is_processed(aws):
    # given
    upload(aws, "stores/berlin.csv", b"store,item,count\nberlin,apples,1\n")
    upload(aws, "stores/paris.json", b'[{"store": "paris", "item": "figs", "count": 2}]')
    upload(aws, "stores/rome.jsonl", b'{"store": "rome", "item": "kiwis", "count": 3}\n')

    # when
    result = handler.lambda_handler(
        s3_put_event("stores/berlin.csv", "stores/paris.json", "stores/rome.jsonl"),
        loader_context(),
    )

    # then
    assert counts(aws) == {("berlin", "apples"): 1, ("paris", "figs"): 2, ("rome", "kiwis"): 3}
    assert [summary["status"] for summary in result["reports"]] == ["loaded"] * 3
    for key in ("stores/berlin.csv", "stores/paris.json", "stores/rome.jsonl"):
        assert report_for(aws, key)["rows_loaded"] == 1


def test_report_is_written_beside_the_key_in_the_reports_bucket(aws):
    # given
    upload(aws, "stores/seed.csv", SEED_CSV)

    # when
    result = handler.lambda_handler(s3_put_event("stores/seed.csv"), loader_context())

    # then
    report = report_for(aws, "stores/seed.csv")
    assert result["reports"][0]["report"] == f"s3://{REPORTS}/stores/seed.csv.report.json"
    assert report["status"] == "loaded"
    assert report["source"]["uri"] == f"s3://{UPLOADS}/stores/seed.csv"
    assert report["source"]["size"] == len(SEED_CSV)
    assert report["source"]["etag"]
    assert report["source"]["snapshot_at"] == SNAPSHOT_AT
    assert report["source"]["version_id"]
    assert (report["rows_loaded"], report["rows_rejected"], report["rows_duplicate"]) == (3, 0, 0)
    assert report["rows_superseded"] == 0
    assert report["rejected_rows"] == []
    assert report["file_error"] is None


def test_file_with_bad_rows_loads_the_good_rows_and_reports_the_bad_ones_by_line(aws):
    # given
    body = (
        b"store,item,count\n"
        b"berlin,apples,12\n"  # line 2
        b"berlin,pears,many\n"  # line 3
        b"berlin,figs,-1\n"  # line 4
        b",kiwis,3\n"  # line 5
        b"paris,apples,3\n"  # line 6
        b"paris,pears\n"  # line 7
    )
    upload(aws, "stores/mixed.csv", body)

    # when
    result = handler.lambda_handler(s3_put_event("stores/mixed.csv"), loader_context())

    # then
    assert counts(aws) == {("berlin", "apples"): 12, ("paris", "apples"): 3}
    report = report_for(aws, "stores/mixed.csv")
    assert report["status"] == "loaded_with_rejections"
    assert (report["rows_loaded"], report["rows_rejected"]) == (2, 4)
    reasons = {rejected["line"]: rejected["reason"] for rejected in report["rejected_rows"]}
    assert sorted(reasons) == [3, 4, 5, 7]
    assert "whole number" in reasons[3]
    assert "negative" in reasons[4]
    assert "store is empty" in reasons[5]
    assert "missing field: count" in reasons[7]
    assert result["reports"][0]["rows_rejected"] == 4


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (gzip.compress(SEED_CSV, mtime=0), "gzip"),
        (b"\x00\x01\x02binary", "NUL"),
        (b"name,qty\nberlin,1\n", "header"),
    ],
    ids=["empty", "gzip", "binary", "wrong-header"],
)
def test_unreadable_file_gets_a_rejected_report_and_the_handler_returns_normally(aws, body, reason):
    # given
    upload(aws, "stores/broken.csv", body)

    # when: no exception, so Lambda does not retry a file that can never load
    result = handler.lambda_handler(s3_put_event("stores/broken.csv"), loader_context())

    # then
    report = report_for(aws, "stores/broken.csv")
    assert report["status"] == "rejected"
    assert reason in report["file_error"]["reason"]
    assert report["rows_loaded"] == 0
    assert result["reports"][0]["status"] == "rejected"
    assert table_items(aws) == {}


def test_file_over_the_size_limit_is_rejected_without_reading_its_rows(aws, monkeypatch):
    # given
    monkeypatch.setenv("MAX_FILE_BYTES", "20")
    upload(aws, "stores/big.csv", SEED_CSV)
    read_calls: list[str] = []
    monkeypatch.setattr(
        handler, "read_records", lambda body, key, charset=None: read_calls.append(key) or iter(())
    )

    # when
    handler.lambda_handler(s3_put_event("stores/big.csv"), loader_context())

    # then
    report = report_for(aws, "stores/big.csv")
    assert report["status"] == "rejected"
    assert "the limit is 20 bytes" in report["file_error"]["reason"]
    assert read_calls == []
    assert table_items(aws) == {}


def test_object_deleted_before_it_is_read_gets_a_rejected_report(aws):
    # given: the event names a key that is no longer there

    # when
    result = handler.lambda_handler(s3_put_event("stores/gone.csv"), loader_context())

    # then
    report = report_for(aws, "stores/gone.csv")
    assert report["status"] == "rejected"
    assert "deleted" in report["file_error"]["reason"]
    assert report["source"]["uri"] == f"s3://{UPLOADS}/stores/gone.csv"
    assert report["source"]["snapshot_at"] == EVENT_TIME.replace("Z", "+00:00")
    assert result["reports"][0]["status"] == "rejected"


def test_processing_the_same_event_twice_leaves_the_table_identical(aws):
    # given
    upload(aws, "stores/seed.csv", SEED_CSV)
    event = s3_put_event("stores/seed.csv")
    handler.lambda_handler(event, loader_context())
    first = table_items(aws)

    # when: Lambda delivers the event again (at-least-once delivery)
    handler.lambda_handler(event, loader_context())

    # then: identical to the byte, updated_at included (it is the event's time, not ours)
    second = table_items(aws)
    assert second == first
    assert len(second) == 3


def test_repeated_key_in_a_file_keeps_the_last_row(aws):
    # given
    body = b"store,item,count\nberlin,apples,5\nberlin,apples,0\nberlin,apples,7\n"
    upload(aws, "stores/repeats.csv", body)

    # when
    handler.lambda_handler(s3_put_event("stores/repeats.csv"), loader_context())

    # then
    assert counts(aws) == {("berlin", "apples"): 7}
    report = report_for(aws, "stores/repeats.csv")
    assert (report["rows_loaded"], report["rows_duplicate"]) == (1, 2)
    assert [(d["line"], d["replaces_line"]) for d in report["duplicate_rows"]] == [(3, 2), (4, 3)]


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_write_failure_raises_so_that_lambda_retries_the_event(aws):
    # given
    upload(aws, "stores/seed.csv", SEED_CSV)
    aws.dynamodb.delete_table(TableName=TABLE)

    # when
    with pytest.raises(ClientError) as raised:
        handler.lambda_handler(s3_put_event("stores/seed.csv"), loader_context())

    # then
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_handler_logs_one_structured_line_per_file(aws, log_lines):
    # given
    upload(aws, "stores/mixed.csv", b"store,item,count\nberlin,apples,1\nberlin,pears,x\n")
    context = loader_context()

    # when
    handler.lambda_handler(s3_put_event("stores/mixed.csv"), context)

    # then
    processed = [line for line in log_lines() if line.get("message") == "inventory file processed"]
    assert len(processed) == 1
    line = processed[0]
    assert line["level"] == "INFO"
    assert line["rows_loaded"] == 1
    assert line["rows_rejected"] == 1
    assert isinstance(line["duration_ms"], int)
    assert line["duration_ms"] >= 0
    assert line["status"] == "loaded_with_rejections"
    assert line["rows_superseded"] == 0
    assert line["file"] == f"s3://{UPLOADS}/stores/mixed.csv"
    assert line["function_request_id"] == context.aws_request_id


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_load_that_fails_logs_one_error_line_naming_the_file(aws, log_lines):
    # given a table the loader cannot write, when a file is loaded
    load_with_the_table_gone(aws)

    # then: the invocation fails (Lambda retries it) and says which file and why
    [line] = [line for line in log_lines() if line.get("message") == "inventory file failed"]
    assert line["level"] == "ERROR"
    assert line["file"] == f"s3://{UPLOADS}/stores/seed.csv"
    assert "ResourceNotFoundException" in line["exception"]
    assert isinstance(line["duration_ms"], int)


# --- redelivery, late files and versions ----------------------------------------------------

NOON = "2025-01-01T12:00:00.000Z"
MORNING = "2025-01-01T09:00:00.000Z"


def test_the_same_recorded_event_delivered_three_times_leaves_the_table_byte_identical(aws):
    # given
    key = "stores/berlin day+1.csv"
    event = recorded_event(upload(aws, key, SEED_CSV))
    handler.lambda_handler(event, loader_context())
    first_items, first_snapshots = table_items(aws), snapshots(aws)

    # when: at-least-once delivery hands the same event over twice more
    results = [handler.lambda_handler(event, loader_context()) for _ in range(2)]

    # then
    assert table_items(aws) == first_items
    assert snapshots(aws) == first_snapshots
    assert {one["updated_at"]["S"] for one in first_items.values()} == {
        "2024-05-01T09:30:00.123+00:00"
    }
    for result in results:
        [summary] = result["reports"]
        assert (summary["status"], summary["rows_loaded"], summary["rows_superseded"]) == (
            "loaded",
            3,
            0,
        )


def test_an_older_upload_processed_after_a_newer_one_loads_only_what_the_newer_lacks(aws):
    # given: berlin's noon file is processed first
    upload(aws, "stores/berlin-noon.csv", b"store,item,count\nberlin,apples,5\nberlin,pears,0\n")
    upload(
        aws,
        "stores/berlin-morning.csv",
        b"store,item,count\nberlin,apples,12\nberlin,pears,7\nberlin,figs,3\nparis,kiwis,4\n",
    )
    handler.lambda_handler(
        event_of(s3_record("stores/berlin-noon.csv", event_time=NOON)), loader_context()
    )
    noon_items = table_items(aws)

    # when: the morning file's event arrives late
    result = handler.lambda_handler(
        event_of(s3_record("stores/berlin-morning.csv", event_time=MORNING)), loader_context()
    )

    # then: the items both files name keep the noon counts; the others are loaded
    assert counts(aws) == {
        ("berlin", "apples"): 5,
        ("berlin", "pears"): 0,
        ("berlin", "figs"): 3,
        ("paris", "kiwis"): 4,
    }
    items = table_items(aws)
    assert items["berlin", "apples"] == noon_items["berlin", "apples"]
    assert items["berlin", "pears"] == noon_items["berlin", "pears"]
    assert items["berlin", "figs"]["updated_at"] == {"S": "2025-01-01T09:00:00.000+00:00"}
    assert items["berlin", "figs"]["source"] == {"S": f"s3://{UPLOADS}/stores/berlin-morning.csv"}
    report = report_for(aws, "stores/berlin-morning.csv")
    assert report["status"] == "loaded"
    assert (report["rows_loaded"], report["rows_superseded"]) == (2, 2)
    assert report["source"]["snapshot_at"] == "2025-01-01T09:00:00.000+00:00"
    [summary] = result["reports"]
    assert (summary["rows_loaded"], summary["rows_superseded"]) == (2, 2)
    assert snapshots(aws)["berlin"]["snapshot_at"] == {"S": "2025-01-01T12:00:00.000+00:00"}
    assert snapshots(aws)["paris"]["snapshot_at"] == {"S": "2025-01-01T09:00:00.000+00:00"}


def test_an_older_upload_whose_every_item_is_newer_in_the_table_is_reported_superseded(
    aws, log_lines
):
    # given
    upload(aws, "stores/berlin-noon.csv", b"store,item,count\nberlin,apples,5\nberlin,pears,0\n")
    upload(
        aws, "stores/berlin-morning.csv", b"store,item,count\nberlin,apples,12\nberlin,pears,7\n"
    )
    handler.lambda_handler(
        event_of(s3_record("stores/berlin-noon.csv", event_time=NOON)), loader_context()
    )
    noon_items = table_items(aws)
    log_lines()  # forget the noon file's lines

    # when
    result = handler.lambda_handler(
        event_of(s3_record("stores/berlin-morning.csv", event_time=MORNING)), loader_context()
    )

    # then
    assert table_items(aws) == noon_items
    report = report_for(aws, "stores/berlin-morning.csv")
    assert report["status"] == "superseded"
    assert (report["rows_loaded"], report["rows_superseded"]) == (0, 2)
    assert report["file_error"] is None
    [summary] = result["reports"]
    assert summary["status"] == "superseded"
    [line] = [one for one in log_lines() if one.get("message") == "inventory file processed"]
    assert (line["status"], line["rows_loaded"], line["rows_superseded"]) == ("superseded", 0, 2)


def test_each_event_reads_the_version_it_names_even_after_the_key_was_overwritten(aws):
    # given: two uploads to one key; the first event is handled after the second upload
    first = upload(aws, "stores/berlin.csv", b"store,item,count\nberlin,apples,12\n")
    second = upload(aws, "stores/berlin.csv", b"store,item,count\nberlin,apples,0\n")
    assert first != second

    # when
    result = handler.lambda_handler(
        event_of(s3_record("stores/berlin.csv", event_time=MORNING, version_id=first)),
        loader_context(),
    )

    # then: the first upload's content, not the key's latest
    assert counts(aws) == {("berlin", "apples"): 12}
    assert report_for(aws, "stores/berlin.csv")["source"]["version_id"] == first
    assert result["reports"][0]["rows_loaded"] == 1


def test_events_of_two_versions_of_a_key_handled_in_reverse_order_leave_the_newer_one(aws):
    # given
    first = upload(aws, "stores/berlin.csv", b"store,item,count\nberlin,apples,12\nberlin,figs,2\n")
    second = upload(aws, "stores/berlin.csv", b"store,item,count\nberlin,apples,0\n")

    # when: the second upload's event comes first
    handler.lambda_handler(
        event_of(s3_record("stores/berlin.csv", event_time=NOON, version_id=second)),
        loader_context(),
    )
    handler.lambda_handler(
        event_of(s3_record("stores/berlin.csv", event_time=MORNING, version_id=first)),
        loader_context(),
    )

    # then: apples as of the second upload; figs, which only the first names, loaded
    assert counts(aws) == {("berlin", "apples"): 0, ("berlin", "figs"): 2}
    # the upload's report stays the newer version's; the late one has its version's own
    assert report_for(aws, "stores/berlin.csv")["source"]["version_id"] == second
    late = report_for(aws, "stores/berlin.csv", version_id=first)
    assert late["source"]["version_id"] == first
    assert (late["rows_loaded"], late["rows_superseded"]) == (1, 1)


def test_a_version_deleted_before_it_is_read_gets_a_rejected_report(aws):
    # given: the version the event names was deleted; a later version of the key remains
    gone = upload(aws, "stores/berlin.csv", SEED_CSV)
    upload(aws, "stores/berlin.csv", b"store,item,count\nberlin,apples,1\n")
    aws.s3.delete_object(Bucket=UPLOADS, Key="stores/berlin.csv", VersionId=gone)

    # when
    result = handler.lambda_handler(
        event_of(s3_record("stores/berlin.csv", version_id=gone)), loader_context()
    )

    # then: not the other version's rows
    assert result["reports"][0]["status"] == "rejected"
    assert "deleted" in report_for(aws, "stores/berlin.csv")["file_error"]["reason"]
    assert table_items(aws) == {}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_read_error_other_than_a_missing_object_raises_so_that_lambda_retries(aws):
    # given: the event names a bucket that is not there (NoSuchBucket, not NoSuchKey)
    event = event_of(s3_record("stores/seed.csv", bucket="inventory-elsewhere"))

    # when
    with pytest.raises(ClientError) as raised:
        handler.lambda_handler(event, loader_context())

    # then
    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"


def test_without_an_event_time_the_objects_last_modified_is_the_snapshot_time(aws):
    # given
    upload(aws, "stores/seed.csv", SEED_CSV)
    last_modified = aws.s3.head_object(Bucket=UPLOADS, Key="stores/seed.csv")["LastModified"]
    expected = last_modified.strftime("%Y-%m-%dT%H:%M:%S") + ".000+00:00"  # S3 keeps seconds

    # when
    handler.lambda_handler(
        event_of(s3_record("stores/seed.csv", event_time=None)), loader_context()
    )

    # then
    assert {one["updated_at"]["S"] for one in table_items(aws).values()} == {expected}
    assert report_for(aws, "stores/seed.csv")["source"]["snapshot_at"] == expected
    assert snapshots(aws)["berlin"]["snapshot_at"] == {"S": expected}


def test_event_time_with_an_offset_is_stored_in_utc(aws):
    # given: the same moment as EVENT_TIME, written with a +02:00 offset
    upload(aws, "stores/seed.csv", SEED_CSV)

    # when
    handler.lambda_handler(
        event_of(s3_record("stores/seed.csv", event_time="2025-01-01T02:00:00.000+02:00")),
        loader_context(),
    )

    # then
    assert {one["updated_at"]["S"] for one in table_items(aws).values()} == {SNAPSHOT_AT}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_failure_to_claim_a_store_raises_so_that_lambda_retries_the_event(aws):
    # given
    upload(aws, "stores/seed.csv", SEED_CSV)
    aws.dynamodb.delete_table(TableName=SNAPSHOTS)

    # when
    with pytest.raises(ClientError) as raised:
        handler.lambda_handler(s3_put_event("stores/seed.csv"), loader_context())

    # then
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert table_items(aws) == {}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_the_loader_refuses_to_run_without_the_snapshots_table_setting(aws, monkeypatch):
    # given
    monkeypatch.delenv("SNAPSHOTS_TABLE")
    upload(aws, "stores/seed.csv", SEED_CSV)

    # when
    with pytest.raises(RuntimeError, match="SNAPSHOTS_TABLE"):
        handler.lambda_handler(s3_put_event("stores/seed.csv"), loader_context())

    # then
    assert table_items(aws) == {}


# --- a newer snapshot claiming a store while an older file still writes it ------------------


def while_the_next_file_loads(monkeypatch: pytest.MonkeyPatch, *events: dict[str, Any]) -> None:
    """Have `events` handled by overlapping invocations while the next file loads: after its
    rows are read and queued (claims made, batches not yet written), before its writer closes.
    """
    real = handler.load_records
    waiting = list(events)

    def load_records(records: Any, sink: Any, size_bytes: int, **options: Any) -> Any:
        outcome = real(records, sink, size_bytes, **options)
        while waiting:
            handler.lambda_handler(waiting.pop(0), loader_context())
        return outcome

    monkeypatch.setattr(handler, "load_records", load_records)


def expected_redrive(key: str, version_id: str, event_time: str) -> dict[str, Any]:
    """The ObjectCreated event the loader sends itself to load an upload again."""
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": event_time,
                "s3": {
                    "bucket": {"name": UPLOADS},
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "versionId": version_id,
                        "sequencer": "0",  # as the newer file's own event had it
                    },
                },
            }
        ]
    }


MORNING_CSV = b"store,item,count\nberlin,apples,99\nberlin,pears,98\nparis,figs,97\n"
BERLIN_NOON_CSV = b"store,item,count\nberlin,apples,0\nberlin,pears,4\n"
PARIS_NOON_CSV = b"store,item,count\nparis,figs,1\n"


def test_a_load_overtaken_by_newer_files_re_drives_each_of_them(
    aws, lambda_client, monkeypatch, log_lines
):
    # given: while the morning file loads berlin and paris, the noon files of berlin and of
    # paris are loaded whole by overlapping invocations; the morning batches land last
    upload(aws, "stores/morning.csv", MORNING_CSV)
    berlin_noon = upload(aws, "stores/berlin noon.csv", BERLIN_NOON_CSV)
    paris_noon = upload(aws, "stores/paris-noon.csv", PARIS_NOON_CSV)
    while_the_next_file_loads(
        monkeypatch,
        event_of(s3_record("stores/berlin noon.csv", event_time=NOON, version_id=berlin_noon)),
        event_of(s3_record("stores/paris-noon.csv", event_time=NOON, version_id=paris_noon)),
    )

    # when
    result = handler.lambda_handler(
        event_of(s3_record("stores/morning.csv", event_time=MORNING)), loader_context()
    )

    # then: the morning rows overwrote the noon ones, and each noon file is invoked again,
    # asynchronously, with the event S3 would send for its version
    assert counts(aws) == {("berlin", "apples"): 99, ("berlin", "pears"): 98, ("paris", "figs"): 97}
    assert {(p["FunctionName"], p["InvocationType"]) for p in lambda_client.invocations} == {
        (FUNCTION, "Event")
    }
    assert sorted(lambda_client.events(), key=json.dumps) == sorted(
        [
            expected_redrive("stores/berlin noon.csv", berlin_noon, NOON),
            expected_redrive("stores/paris-noon.csv", paris_noon, NOON),
        ],
        key=json.dumps,
    )
    warned = [
        line for line in log_lines() if line.get("message") == "a newer snapshot overtook this load"
    ]
    assert sorted(line["newer"] for line in warned) == [
        f"s3://{UPLOADS}/stores/berlin noon.csv",
        f"s3://{UPLOADS}/stores/paris-noon.csv",
    ]
    assert all(line["level"] == "WARNING" for line in warned)
    [summary] = result["reports"]
    assert (summary["status"], summary["rows_loaded"], summary["rows_superseded"]) == (
        "loaded",
        3,
        0,
    )


def test_handling_the_re_driven_events_restores_the_newer_files_rows(
    aws, lambda_client, monkeypatch
):
    # given: the race above, and the events the morning load sent its function
    upload(aws, "stores/morning.csv", MORNING_CSV)
    berlin_noon = upload(aws, "stores/berlin noon.csv", BERLIN_NOON_CSV)
    paris_noon = upload(aws, "stores/paris-noon.csv", PARIS_NOON_CSV)
    while_the_next_file_loads(
        monkeypatch,
        event_of(s3_record("stores/berlin noon.csv", event_time=NOON, version_id=berlin_noon)),
        event_of(s3_record("stores/paris-noon.csv", event_time=NOON, version_id=paris_noon)),
    )
    handler.lambda_handler(
        event_of(s3_record("stores/morning.csv", event_time=MORNING)), loader_context()
    )
    redrives = lambda_client.events()
    assert len(redrives) == 2
    lambda_client.invocations.clear()

    # when: Lambda delivers them
    for event in redrives:
        handler.lambda_handler(event, loader_context())

    # then: the noon rows are back, as the noon files wrote them, and nothing more is re-driven
    assert counts(aws) == {("berlin", "apples"): 0, ("berlin", "pears"): 4, ("paris", "figs"): 1}
    items = table_items(aws)
    assert {one["updated_at"]["S"] for one in items.values()} == {"2025-01-01T12:00:00.000+00:00"}
    assert items["berlin", "apples"]["source"] == {"S": f"s3://{UPLOADS}/stores/berlin noon.csv"}
    assert items["paris", "figs"]["source"] == {"S": f"s3://{UPLOADS}/stores/paris-noon.csv"}
    assert lambda_client.invocations == []
    assert report_for(aws, "stores/berlin noon.csv")["source"]["version_id"] == berlin_noon


def test_loads_that_no_newer_file_overtook_invoke_nothing(aws, lambda_client):
    # given: a noon file, then a late morning file of the same store
    upload(aws, "stores/berlin-noon.csv", BERLIN_NOON_CSV)
    upload(aws, "stores/morning.csv", MORNING_CSV)

    # when
    handler.lambda_handler(
        event_of(s3_record("stores/berlin-noon.csv", event_time=NOON)), loader_context()
    )
    handler.lambda_handler(
        event_of(s3_record("stores/morning.csv", event_time=MORNING)), loader_context()
    )

    # then: the late file wrote berlin conditionally, so it overtook nothing and nothing was
    # overtaken: no invocation
    assert lambda_client.invocations == []
    assert counts(aws) == {("berlin", "apples"): 0, ("berlin", "pears"): 4, ("paris", "figs"): 97}


# --- a file too large for one invocation ---------------------------------------------------


def _large_csv() -> bytes:
    """2,500 rows of one store: every 500th count bad, every 100th 0, and the first row's key
    again at the end, so problems and a repetition fall in different parts."""
    lines = ["store,item,count"]
    for number in range(1, 2500):
        count = "x" if number % 500 == 0 else 0 if number % 100 == 0 else number
        lines.append(f"oslo,item-{number},{count}")
    lines.append("oslo,item-1,77")
    return ("\n".join(lines) + "\n").encode()


def test_a_file_too_large_for_one_invocation_loads_in_parts_with_one_report(
    aws, lambda_client, log_lines
):
    # given a 2,500-row file and a small one after it in the same event
    upload(aws, "stores/oslo.csv", _large_csv())
    upload(aws, "stores/paris.csv", b"store,item,count\nparis,figs,3\n")

    # when the loader runs out of time on every part
    handled = run_until_done(lambda_client, s3_put_event("stores/oslo.csv", "stores/paris.csv"))

    # then: three parts, each carrying the rest of the event
    assert [len(event["Records"]) for event in handled] == [2, 2, 2]
    assert [Continuation.of(event["Records"][0]) for event in handled] == [
        Continuation(part=1, records_done=0),
        Continuation(part=2, records_done=1000, rows_written=997),
        Continuation(part=3, records_done=2000, rows_written=1995),
    ]
    # every row loaded, the repeated key with its last count
    rows = counts(aws)
    assert len(rows) == 2496
    assert rows[("oslo", "item-1")] == 77
    assert rows[("oslo", "item-2499")] == 2499
    assert rows[("paris", "figs")] == 3
    # one report for the whole file, naming problems from every part
    report = report_for(aws, "stores/oslo.csv")
    assert (report["status"], report["rows_loaded"], report["rows_rejected"]) == (
        "loaded_with_rejections",
        2495,
        4,
    )
    assert [r["line"] for r in report["rejected_rows"]] == [501, 1001, 1501, 2001]
    assert report["duplicate_rows"] == [
        {"line": 2501, "replaces_line": 2, "store": "oslo", "item": "item-1"}
    ]
    # a log line per part, the last one the file's
    lines = [line for line in log_lines() if "oslo" in str(line.get("file"))]
    assert [(line["message"], line["part"]) for line in lines] == [
        ("inventory file continues in a new invocation", 1),
        ("inventory file continues in a new invocation", 2),
        ("inventory file processed", 3),
    ]
    assert [line.get("records_done") for line in lines] == [1000, 2000, None]


def test_only_the_last_part_of_a_file_counts_its_rows_in_the_metrics(aws, lambda_client, capsys):
    # given
    upload(aws, "stores/oslo.csv", _large_csv())

    # when
    run_until_done(lambda_client, s3_put_event("stores/oslo.csv"))

    # then: two parts that continued, then the file's counts once
    flushes = metric_flushes(capsys.readouterr().out)
    assert [flush.values for flush in flushes] == [
        {"FileParts": [1.0]},
        {"FileParts": [1.0]},
        {
            "RowsLoaded": [2495.0],
            "RowsRejected": [4.0],
            "RowsSuperseded": [0.0],
            "FilesProcessed": [1.0],
        },
    ]


def test_a_late_file_loaded_in_parts_counts_the_rows_every_part_found_newer(aws, lambda_client):
    # given: the store's noon file holds every row of its morning file but one
    morning = _large_csv()
    upload(aws, "stores/noon.csv", morning.replace(b"oslo,item-7,7\n", b""))
    handler.lambda_handler(
        event_of(s3_record("stores/noon.csv", event_time=NOON)), loader_context()
    )
    upload(aws, "stores/morning.csv", morning)

    # when the morning file arrives late and needs three parts
    run_until_done(lambda_client, event_of(s3_record("stores/morning.csv", event_time=MORNING)))

    # then: its one row the noon file lacks loads, and the report counts the rest superseded
    report = report_for(aws, "stores/morning.csv")
    assert (report["rows_loaded"], report["rows_superseded"]) == (1, 2494)
    assert counts(aws)[("oslo", "item-7")] == 7


class FakeLoader:
    """Stands in for the Loader: records the snapshots it is asked to load again."""

    def __init__(self) -> None:
        self.loaded_again: list[Snapshot] = []

    def load_again(self, snapshot: Snapshot) -> None:
        self.loaded_again.append(snapshot)


def test_the_handler_asks_its_loader_to_load_each_overtaking_snapshot_again(aws, monkeypatch):
    # given: the same race, with the loader itself faked
    fake = FakeLoader()
    monkeypatch.setattr(handler, "loader", cache(lambda: fake))  # cached, as loader() is
    upload(aws, "stores/morning.csv", MORNING_CSV)
    berlin_noon = upload(aws, "stores/berlin noon.csv", BERLIN_NOON_CSV)
    while_the_next_file_loads(
        monkeypatch,
        event_of(s3_record("stores/berlin noon.csv", event_time=NOON, version_id=berlin_noon)),
    )

    # when
    handler.lambda_handler(
        event_of(s3_record("stores/morning.csv", event_time=MORNING)), loader_context()
    )

    # then: once, for the one newer snapshot (paris was not overtaken)
    assert fake.loaded_again == [
        Snapshot(
            bucket=UPLOADS,
            key="stores/berlin noon.csv",
            version_id=berlin_noon,
            taken_at="2025-01-01T12:00:00.000+00:00",
            sequencer="0",
        )
    ]


# --- embedded metrics (Powertools prints one EMF document a flush) --------------------

LOADER_METRICS = {"RowsLoaded", "RowsRejected", "RowsSuperseded", "FilesProcessed"}


def test_each_invocation_flushes_one_metric_document_with_a_value_per_file(aws, capsys):
    # given: berlin's noon file is already loaded; its morning file arrives late, with one row
    # only it has, two the noon file holds, and one bad row; paris's file has two rows
    upload(aws, "stores/berlin-noon.csv", b"store,item,count\nberlin,apples,5\nberlin,pears,0\n")
    upload(
        aws,
        "stores/berlin-morning.csv",
        b"store,item,count\nberlin,apples,12\nberlin,pears,7\nberlin,figs,3\nberlin,kiwis,x\n",
    )
    upload(aws, "stores/paris.csv", b"store,item,count\nparis,apples,1\nparis,pears,0\n")
    handler.lambda_handler(
        event_of(s3_record("stores/berlin-noon.csv", event_time=NOON)), loader_context()
    )
    capsys.readouterr()  # forget the noon file's output

    # when both files come in one event
    handler.lambda_handler(
        event_of(
            s3_record("stores/berlin-morning.csv", event_time=MORNING),
            s3_record("stores/paris.csv", event_time=NOON),
        ),
        loader_context(),
    )

    # then one flush, in the Inventory namespace, holds each file's counts in event order
    [flush] = metric_flushes(capsys.readouterr().out)
    assert (flush.namespace, flush.dimensions) == ("Inventory", {"service": "inventory"})
    assert flush.units == dict.fromkeys(LOADER_METRICS, "Count")
    assert flush.values == {
        "RowsLoaded": [1.0, 2.0],
        "RowsRejected": [1.0, 0.0],
        "RowsSuperseded": [2.0, 0.0],
        "FilesProcessed": [1.0, 1.0],
    }


def test_a_rejected_file_is_counted_as_processed_with_nothing_loaded(aws, capsys):
    # given a file that cannot be read at all
    upload(aws, "stores/empty.csv", b"")

    # when
    handler.lambda_handler(s3_put_event("stores/empty.csv"), loader_context())

    # then
    [flush] = metric_flushes(capsys.readouterr().out)
    assert flush.values == {
        "RowsLoaded": [0.0],
        "RowsRejected": [0.0],
        "RowsSuperseded": [0.0],
        "FilesProcessed": [1.0],
    }


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_load_that_fails_counts_nothing_so_its_retry_is_not_counted_twice(aws, capsys):
    # given a table the loader cannot write, when a file is loaded
    load_with_the_table_gone(aws)

    # then
    assert metric_flushes(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    ("content_type", "metadata"),
    [("text/csv; charset=windows-1252", {}), ("text/csv", {"charset": "windows-1252"})],
)
def test_the_charset_the_upload_declares_decodes_the_file(aws, content_type, metadata):
    # given a Windows-1252 export, declared on the object
    body = "store;item;count\nMünchen;Café Crème;3\n".encode("windows-1252")
    aws.s3.put_object(
        Bucket=UPLOADS,
        Key="stores/munich.csv",
        Body=body,
        ContentType=content_type,
        Metadata=metadata,
    )

    # when
    handler.lambda_handler(s3_put_event("stores/munich.csv"), loader_context())

    # then
    assert counts(aws) == {("München", "Café Crème"): 3}
    assert report_for(aws, "stores/munich.csv")["rows_loaded"] == 1
