"""load_inventory fed by the uploads queue: several S3 events an invocation, the loader's own
work queued behind them, and a file that fails handed alone to Lambda's retries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from inventory.adapters.redrive import s3_records
from load_inventory import handler
from tests.unit.fakes import FakeContext
from tests.unit.loader_harness import (
    FUNCTION,
    REGION,
    SEED_CSV,
    TABLE,
    FakeLambda,
    counts,
    loader_context,
    report_for,
    s3_put_event,
    s3_record,
    upload,
)

UPLOADS_ARN = f"arn:aws:sqs:{REGION}:000000000000:inventory-uploads"


def sqs_event(*bodies: dict[str, Any]) -> dict[str, Any]:
    """What the uploads queue's mapping invokes the loader with: one record a message."""
    return {
        "Records": [
            {
                "messageId": f"m{number}",
                "receiptHandle": f"r{number}",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": UPLOADS_ARN,
                "awsRegion": REGION,
            }
            for number, body in enumerate(bodies)
        ]
    }


@pytest.fixture
def queue(aws, lambda_client: FakeLambda, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The uploads queue (moto's), named to the loader as provisioning names it."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="inventory-uploads")["QueueUrl"]
    monkeypatch.setenv("UPLOADS_QUEUE_URL", url)
    handler.loader.cache_clear()
    yield url
    handler.loader.cache_clear()


def queued(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_s3_records_unwraps_the_queues_messages_and_skips_s3s_test_event():
    # given two S3 notifications and S3's test message, as the queue delivers them
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}
    event = sqs_event(s3_put_event("a.csv"), test_event, s3_put_event("b.csv", "c.csv"))

    # when
    records, from_queue = s3_records(event)

    # then: the S3 records in order, and nothing for the test message
    assert from_queue is True
    assert [r["s3"]["object"]["key"] for r in records] == ["a.csv", "b.csv", "c.csv"]


def test_s3_records_of_a_direct_s3_event_are_its_own():
    # given
    event = s3_put_event("a.csv")

    # when / then
    assert s3_records(event) == (event["Records"], False)
    assert s3_records({}) == ([], False)


def test_one_invocation_loads_every_file_of_a_queued_batch(aws, queue):
    # given three uploads announced in the queue
    for city in ("berlin", "paris", "oslo"):
        upload(aws, f"stores/{city}.csv", f"store,item,count\n{city},figs,3\n".encode())
    event = sqs_event(*(s3_put_event(f"stores/{c}.csv") for c in ("berlin", "paris", "oslo")))

    # when
    result = handler.lambda_handler(event, loader_context())

    # then: each file loaded with its report, in one invocation
    assert [r["file"].rsplit("/", 1)[1] for r in result["reports"]] == [
        "berlin.csv",
        "paris.csv",
        "oslo.csv",
    ]
    assert counts(aws) == {(c, "figs"): 3 for c in ("berlin", "paris", "oslo")}
    assert report_for(aws, "stores/paris.csv")["rows_loaded"] == 1


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_file_that_fails_in_a_queued_batch_is_retried_alone_and_the_others_load(
    aws, queue, lambda_client: FakeLambda, monkeypatch: pytest.MonkeyPatch
):
    # given a batch of three files, the middle one failing on its writes
    for city in ("berlin", "paris", "oslo"):
        upload(aws, f"stores/{city}.csv", f"store,item,count\n{city},figs,3\n".encode())
    real = handler.load_file

    def failing_for_paris(record: dict[str, Any], budget: Any) -> Any:
        if "paris" in record["s3"]["object"]["key"]:
            raise RuntimeError("the table is unavailable")
        return real(record, budget)

    monkeypatch.setattr(handler, "load_file", failing_for_paris)
    event = sqs_event(*(s3_put_event(f"stores/{c}.csv") for c in ("berlin", "paris", "oslo")))

    # when
    result = handler.lambda_handler(event, loader_context())

    # then: the batch succeeds (the queue retries none of it), the others loaded
    assert len(result["reports"]) == 2
    assert counts(aws) == {("berlin", "figs"): 3, ("oslo", "figs"): 3}
    # and the failed file alone goes to Lambda's asynchronous retries, as S3 would send it,
    # so that its last failure lands in the failure queue in the shape `replay-failed` reads
    [retry] = lambda_client.invocations
    assert retry["InvocationType"] == "Event"
    assert json.loads(retry["Payload"]) == {"Records": [s3_record("stores/paris.csv")]}
    assert queued(queue) == []


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_direct_s3_event_still_raises_on_a_write_failure(aws, queue, lambda_client):
    # given no table
    upload(aws, "stores/seed.csv", SEED_CSV)
    aws.dynamodb.delete_table(TableName=TABLE)

    # when / then: Lambda's own retries cover the event (and a replay of it)
    with pytest.raises(Exception, match="ResourceNotFound"):
        handler.lambda_handler(s3_put_event("stores/seed.csv"), loader_context())
    assert lambda_client.invocations == []


def test_the_next_part_of_a_long_file_waits_in_the_uploads_queue(aws, queue, lambda_client):
    # given a file of 2,500 rows and an invocation with no time left
    rows = "".join(f"oslo,item-{n},{n}\n" for n in range(2500))
    upload(aws, "stores/oslo.csv", ("store,item,count\n" + rows).encode())
    upload(aws, "stores/paris.csv", b"store,item,count\nparis,figs,3\n")
    event = sqs_event(s3_put_event("stores/oslo.csv"), s3_put_event("stores/paris.csv"))
    no_time = FakeContext(FUNCTION, memory_limit_in_mb=1024, remaining_millis=0)

    # when
    handler.lambda_handler(event, no_time)

    # then: the rest of the file and the later file are one message of the uploads queue,
    # behind what already waits there, and nothing is invoked directly
    [message] = queued(queue)
    records = message["Records"]
    assert [r["s3"]["object"]["key"] for r in records] == ["stores/oslo.csv", "stores/paris.csv"]
    assert records[0]["inventoryContinuation"]["part"] == 2
    assert lambda_client.invocations == []
