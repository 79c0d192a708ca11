"""What the unit tests of load_inventory's handler share: moto's buckets and tables, S3's
events, the handler's log lines, and a fake of the function's own Lambda client."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from inventory.adapters.clients import client
from inventory.report import report_key_for
from load_inventory import handler
from tests.unit.fakes import (
    FakeContext,
    create_inventory_table,
    create_snapshots_table,
    use_fake_credentials,
)

REGION = "us-east-1"
ACCOUNT = "000000000000"
UPLOADS = f"inventory-uploads-{ACCOUNT}-{REGION}"
REPORTS = f"inventory-reports-{ACCOUNT}-{REGION}"
TABLE = "inventory-inventory"
SNAPSHOTS = "inventory-snapshots"
FUNCTION = "inventory-load_inventory"
EVENTS = Path(__file__).resolve().parents[1] / "events"

SEED_CSV = b"store,item,count\nberlin,apples,12\nberlin,pears,0\nparis,apples,3\n"
SEED_ROWS = {("berlin", "apples"): 12, ("berlin", "pears"): 0, ("paris", "apples"): 3}

EVENT_TIME = "2025-01-01T00:00:00.000Z"
SNAPSHOT_AT = "2025-01-01T00:00:00.000+00:00"  # EVENT_TIME as the table stores it


def loader_context() -> FakeContext:
    """The loader's context: its memory, and the five minutes of its timeout ahead of it."""
    return FakeContext(FUNCTION, memory_limit_in_mb=1024, remaining_millis=300_000)


def s3_record(
    key: str,
    bucket: str = UPLOADS,
    event_time: str | None = EVENT_TIME,
    version_id: str | None = None,
) -> dict[str, Any]:
    """One S3 ObjectCreated:Put record for `key`, URL-encoded as S3 sends it; with the
    versionId S3 adds for a versioned bucket, and without eventTime if `event_time` is None."""
    s3_object: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": 0, "sequencer": "0"}
    if version_id is not None:
        s3_object["versionId"] = version_id
    record: dict[str, Any] = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "inventory-uploads",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": s3_object,
        },
    }
    if event_time is not None:
        record["eventTime"] = event_time
    return record


def s3_put_event(*keys: str, bucket: str = UPLOADS) -> dict[str, Any]:
    """An S3 ObjectCreated:Put notification naming `keys` (no versionId: the latest is read)."""
    return {"Records": [s3_record(key, bucket) for key in keys]}


def event_of(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_credentials(monkeypatch)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("SNAPSHOTS_TABLE", SNAPSHOTS)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)  # the runtime sets it
    monkeypatch.setenv("REPORTS_BUCKET", REPORTS)
    monkeypatch.setenv("WRITE_LANES", "4")
    monkeypatch.delenv("MAX_FILE_BYTES", raising=False)


def _clear_caches() -> None:
    handler.file_store.cache_clear()
    handler.stock_table.cache_clear()
    handler.loader.cache_clear()
    client.cache_clear()


@pytest.fixture
def aws(aws_env: None) -> Iterator[SimpleNamespace]:
    """Moto's uploads (versioned) and reports buckets, the inventory table (store HASH, item
    RANGE) and the snapshots table (store HASH)."""
    _clear_caches()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=UPLOADS)
        s3.put_bucket_versioning(Bucket=UPLOADS, VersioningConfiguration={"Status": "Enabled"})
        s3.create_bucket(Bucket=REPORTS)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_inventory_table(dynamodb, TABLE)
        create_snapshots_table(dynamodb, SNAPSHOTS)
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


def upload(aws: SimpleNamespace, key: str, body: bytes) -> str:
    """Put `body` at `key`; return the version S3 gave it."""
    return str(aws.s3.put_object(Bucket=UPLOADS, Key=key, Body=body)["VersionId"])


def report_for(aws: SimpleNamespace, key: str, version_id: str | None = None) -> dict[str, Any]:
    """The report at the upload's report key, or at that version's own key."""
    body = aws.s3.get_object(Bucket=REPORTS, Key=report_key_for(key, version_id))["Body"].read()
    return json.loads(body)


def table_items(aws: SimpleNamespace) -> dict[tuple[str, str], dict[str, Any]]:
    items = aws.dynamodb.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return {(one["store"]["S"], one["item"]["S"]): one for one in items}


def counts(aws: SimpleNamespace) -> dict[tuple[str, str], int]:
    return {key: int(one["count"]["N"]) for key, one in table_items(aws).items()}


def snapshots(aws: SimpleNamespace) -> dict[str, dict[str, Any]]:
    items = aws.dynamodb.scan(TableName=SNAPSHOTS, ConsistentRead=True)["Items"]
    return {one["store"]["S"]: one for one in items}


def recorded_event(version_id: str) -> dict[str, Any]:
    """The notification S3 sent for an upload of "stores/berlin day+1.csv".

    Moto gives each upload its own version id, so the recorded one is replaced by it: the
    handler reads the version the event names, and the recorded id exists in no moto bucket.
    """
    event = json.loads((EVENTS / "s3_put.json").read_text())
    event["Records"][0]["s3"]["object"]["versionId"] = version_id
    return event


def load_with_the_table_gone(aws: SimpleNamespace) -> None:
    """Upload a file, delete the inventory table, and have the loader fail on the file."""
    upload(aws, "stores/seed.csv", SEED_CSV)
    aws.dynamodb.delete_table(TableName=TABLE)
    with pytest.raises(ClientError):
        handler.lambda_handler(s3_put_event("stores/seed.csv"), loader_context())


class FakeLambda:
    """The function's Lambda client: records each invocation instead of running it."""

    def __init__(self) -> None:
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, **params: Any) -> dict[str, Any]:
        self.invocations.append(params)
        return {"StatusCode": 202}

    def events(self) -> list[dict[str, Any]]:
        """The event of each invocation, decoded."""
        return [json.loads(params["Payload"]) for params in self.invocations]


@pytest.fixture
def lambda_client(aws: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> FakeLambda:
    """The client the handler's loader() builds for "lambda"; the others stay moto's."""
    fake = FakeLambda()
    real = handler.client
    monkeypatch.setattr(
        handler, "client", lambda service: fake if service == "lambda" else real(service)
    )
    return fake


def _no_time_left() -> FakeContext:
    """An invocation whose time is up: every part stops at its first check (1,000 records)."""
    return FakeContext(FUNCTION, memory_limit_in_mb=1024, remaining_millis=0)


def run_until_done(lambda_client: FakeLambda, event: dict[str, Any]) -> list[dict[str, Any]]:
    """Handle `event`, then each event the loader sends itself, as Lambda would; the events."""
    handled = []
    while True:
        handler.lambda_handler(event, _no_time_left())
        handled.append(event)
        if not lambda_client.invocations:
            return handled
        [asked] = lambda_client.invocations
        assert asked["InvocationType"] == "Event"
        lambda_client.invocations.clear()
        event = json.loads(asked["Payload"])
