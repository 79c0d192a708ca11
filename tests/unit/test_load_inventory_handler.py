"""load_inventory's handler against moto: uploads bucket -> table rows and a report per file."""

from __future__ import annotations

import gzip
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from inventory.adapters.clients import client
from load_inventory import handler

REGION = "us-east-1"
ACCOUNT = "000000000000"
UPLOADS = f"inventory-uploads-{ACCOUNT}-{REGION}"
REPORTS = f"inventory-reports-{ACCOUNT}-{REGION}"
TABLE = "inventory-inventory"
EVENTS = Path(__file__).resolve().parents[1] / "events"

SEED_CSV = b"store,item,count\nberlin,apples,12\nberlin,pears,0\nparis,apples,3\n"
SEED_ROWS = {("berlin", "apples"): 12, ("berlin", "pears"): 0, ("paris", "apples"): 3}


@dataclass
class FakeContext:
    """The parts of the Lambda context the handler and Powertools read."""

    function_name: str = "inventory-load_inventory"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:inventory-load_inventory"
    )
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_millis: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


def s3_put_event(*keys: str, bucket: str = UPLOADS) -> dict[str, Any]:
    """An S3 ObjectCreated:Put notification naming `keys`, URL-encoded as S3 sends them."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2025-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "inventory-uploads",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key, safe="/"), "size": 0, "sequencer": "0"},
                },
            }
            for key in keys
        ]
    }


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("REPORTS_BUCKET", REPORTS)
    monkeypatch.setenv("WRITE_LANES", "4")
    monkeypatch.delenv("MAX_FILE_BYTES", raising=False)


def _clear_caches() -> None:
    handler.file_store.cache_clear()
    handler.stock_table.cache_clear()
    client.cache_clear()


@pytest.fixture
def aws(aws_env: None) -> Iterator[SimpleNamespace]:
    """Moto's uploads and reports buckets and the inventory table (store HASH, item RANGE)."""
    _clear_caches()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=UPLOADS)
        s3.create_bucket(Bucket=REPORTS)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "store", "KeyType": "HASH"},
                {"AttributeName": "item", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "store", "AttributeType": "S"},
                {"AttributeName": "item", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield SimpleNamespace(s3=s3, dynamodb=dynamodb)
    _clear_caches()


class _CurrentStdout:
    """Writes to whatever sys.stdout is when a line is logged, so capsys sees it."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def log_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[[], list[dict[str, Any]]]:
    """The JSON lines the handler writes to stdout.

    Powertools' handler keeps the sys.stdout of import time (pytest's own capture), so it is
    pointed at the current sys.stdout for the test.
    """
    monkeypatch.setattr(handler.logger.registered_handler, "stream", _CurrentStdout())

    def read() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    return read


def upload(aws: SimpleNamespace, key: str, body: bytes) -> None:
    aws.s3.put_object(Bucket=UPLOADS, Key=key, Body=body)


def report_for(aws: SimpleNamespace, key: str) -> dict[str, Any]:
    body = aws.s3.get_object(Bucket=REPORTS, Key=f"{key}.report.json")["Body"].read()
    return json.loads(body)


def table_items(aws: SimpleNamespace) -> dict[tuple[str, str], dict[str, Any]]:
    items = aws.dynamodb.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return {(one["store"]["S"], one["item"]["S"]): one for one in items}


def counts(aws: SimpleNamespace) -> dict[tuple[str, str], int]:
    return {key: int(one["count"]["N"]) for key, one in table_items(aws).items()}


def test_seed_csv_loads_three_rows_with_count_time_and_source(aws):
    # given
    upload(aws, "stores/seed.csv", SEED_CSV)

    # when
    result = handler.lambda_handler(s3_put_event("stores/seed.csv"), FakeContext())

    # then
    items = table_items(aws)
    assert counts(aws) == SEED_ROWS
    for one in items.values():
        assert one["source"] == {"S": f"s3://{UPLOADS}/stores/seed.csv"}
        assert one["updated_at"]["S"].endswith("+00:00")
    assert len({one["updated_at"]["S"] for one in items.values()}) == 1  # one time per file
    assert result["reports"][0]["status"] == "loaded"
    assert result["reports"][0]["rows_loaded"] == 3


def test_url_encoded_key_is_decoded_before_reading_the_object(aws):
    # given: S3 sends "stores/berlin day+1.csv" as "stores/berlin+day%2B1.csv"
    key = "stores/berlin day+1.csv"
    upload(aws, key, SEED_CSV)
    event = s3_put_event(key)
    assert event["Records"][0]["s3"]["object"]["key"] == "stores/berlin+day%2B1.csv"

    # when
    result = handler.lambda_handler(event, FakeContext())

    # then
    assert counts(aws) == SEED_ROWS
    assert result["reports"][0]["file"] == f"s3://{UPLOADS}/{key}"
    assert report_for(aws, key)["status"] == "loaded"


def test_recorded_s3_put_event_loads_the_file_its_encoded_key_names(aws):
    # given: the notification S3 sent for an upload of "stores/berlin day+1.csv"
    event = json.loads((EVENTS / "s3_put.json").read_text())
    upload(aws, "stores/berlin day+1.csv", SEED_CSV)

    # when
    handler.lambda_handler(event, FakeContext())

    # then
    assert counts(aws) == SEED_ROWS
    assert report_for(aws, "stores/berlin day+1.csv")["rows_loaded"] == 3


def test_every_record_of_a_multi_record_event_is_processed(aws):
    # given
    upload(aws, "stores/berlin.csv", b"store,item,count\nberlin,apples,1\n")
    upload(aws, "stores/paris.json", b'[{"store": "paris", "item": "figs", "count": 2}]')
    upload(aws, "stores/rome.jsonl", b'{"store": "rome", "item": "kiwis", "count": 3}\n')

    # when
    result = handler.lambda_handler(
        s3_put_event("stores/berlin.csv", "stores/paris.json", "stores/rome.jsonl"),
        FakeContext(),
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
    result = handler.lambda_handler(s3_put_event("stores/seed.csv"), FakeContext())

    # then
    report = report_for(aws, "stores/seed.csv")
    assert result["reports"][0]["report"] == f"s3://{REPORTS}/stores/seed.csv.report.json"
    assert report["status"] == "loaded"
    assert report["source"]["uri"] == f"s3://{UPLOADS}/stores/seed.csv"
    assert report["source"]["size"] == len(SEED_CSV)
    assert report["source"]["etag"]
    assert (report["rows_loaded"], report["rows_rejected"], report["rows_duplicate"]) == (3, 0, 0)
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
    result = handler.lambda_handler(s3_put_event("stores/mixed.csv"), FakeContext())

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
        (gzip.compress(SEED_CSV), "gzip"),
        (b"\x00\x01\x02binary", "NUL"),
        (b"name,qty\nberlin,1\n", "header"),
    ],
    ids=["empty", "gzip", "binary", "wrong-header"],
)
def test_unreadable_file_gets_a_rejected_report_and_the_handler_returns_normally(aws, body, reason):
    # given
    upload(aws, "stores/broken.csv", body)

    # when: no exception, so Lambda does not retry a file that can never load
    result = handler.lambda_handler(s3_put_event("stores/broken.csv"), FakeContext())

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
        handler, "read_records", lambda body, key: read_calls.append(key) or iter(())
    )

    # when
    handler.lambda_handler(s3_put_event("stores/big.csv"), FakeContext())

    # then
    report = report_for(aws, "stores/big.csv")
    assert report["status"] == "rejected"
    assert "the limit is 20 bytes" in report["file_error"]["reason"]
    assert read_calls == []
    assert table_items(aws) == {}


def test_object_deleted_before_it_is_read_gets_a_rejected_report(aws):
    # given: the event names a key that is no longer there

    # when
    result = handler.lambda_handler(s3_put_event("stores/gone.csv"), FakeContext())

    # then
    report = report_for(aws, "stores/gone.csv")
    assert report["status"] == "rejected"
    assert "deleted" in report["file_error"]["reason"]
    assert report["source"] == {"uri": f"s3://{UPLOADS}/stores/gone.csv"}
    assert result["reports"][0]["status"] == "rejected"


def test_processing_the_same_event_twice_leaves_the_table_identical(aws):
    # given
    upload(aws, "stores/seed.csv", SEED_CSV)
    event = s3_put_event("stores/seed.csv")
    handler.lambda_handler(event, FakeContext())
    first = table_items(aws)

    # when: Lambda delivers the event again (at-least-once delivery)
    handler.lambda_handler(event, FakeContext())

    # then
    second = table_items(aws)

    def without_time(items: dict[Any, dict[str, Any]]) -> dict[Any, dict[str, Any]]:
        return {
            key: {name: value for name, value in one.items() if name != "updated_at"}
            for key, one in items.items()
        }

    assert without_time(second) == without_time(first)
    assert len(second) == 3


def test_repeated_key_in_a_file_keeps_the_last_row(aws):
    # given
    body = b"store,item,count\nberlin,apples,5\nberlin,apples,0\nberlin,apples,7\n"
    upload(aws, "stores/repeats.csv", body)

    # when
    handler.lambda_handler(s3_put_event("stores/repeats.csv"), FakeContext())

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
        handler.lambda_handler(s3_put_event("stores/seed.csv"), FakeContext())

    # then
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_handler_logs_one_structured_line_per_file(aws, log_lines):
    # given
    upload(aws, "stores/mixed.csv", b"store,item,count\nberlin,apples,1\nberlin,pears,x\n")
    context = FakeContext()

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
    assert line["file"] == f"s3://{UPLOADS}/stores/mixed.csv"
    assert line["function_request_id"] == context.aws_request_id
