"""check_stock's handler against moto (SNS topic -> raw-delivery SQS queue, the sent-alerts
table), and AlertTopic against botocore's Stubber."""

from __future__ import annotations

import copy
import io
import json
import threading
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from moto import mock_aws

from check_stock import handler
from inventory.adapters.clients import client
from inventory.adapters.topic import PUBLISH_BATCH_SIZE, PUBLISH_LANES, AlertTopic, PublishFailed
from inventory.stock import Alert
from tests.unit.fakes import (
    ACCOUNT,
    REGION,
    SENT_ALERTS_TABLE,
    FakeContext,
    create_sent_alerts_table,
    metric_flushes,
    use_fake_credentials,
)

FUNCTION = "inventory-check_stock"
TOPIC_NAME = "inventory-NoStock"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC_NAME}"
QUEUE_NAME = "inventory-alerts"
SOURCE = "s3://inventory-uploads-000000000000-us-east-1/stores/berlin.csv"
UPDATED_AT = "2025-01-01T00:00:00.000+00:00"


def image(store: str, item: str, count: int | str) -> dict[str, Any]:
    return {
        "store": {"S": store},
        "item": {"S": item},
        "count": {"N": str(count)},
        "updated_at": {"S": UPDATED_AT},
        "source": {"S": SOURCE},
    }


def stream_record(
    sequence_number: str,
    store: str,
    item: str,
    new: int | str | None,
    old: int | str | None,
    event_name: str | None = None,
) -> dict[str, Any]:
    """A DynamoDB stream record (NEW_AND_OLD_IMAGES) as Lambda delivers it."""
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": 1735689600.0,
        "Keys": {"store": {"S": store}, "item": {"S": item}},
        "SequenceNumber": sequence_number,
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        change["NewImage"] = image(store, item, new)
    if old is not None:
        change["OldImage"] = image(store, item, old)
    if event_name is None:
        event_name = "REMOVE" if new is None else "INSERT" if old is None else "MODIFY"
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": change,
        "eventSourceARN": (
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/inventory-inventory/stream/2025-01-01T00:00:00.000"
        ),
    }


def stream_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def alert(n: int, store: str | None = None) -> Alert:
    return Alert(
        store=store or f"store-{n}",
        item=f"item-{n}",
        count=0,
        previous_count=n + 1,
        updated_at=UPDATED_AT,
        source=SOURCE,
        alert_id=f"event-{n}",
    )


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_credentials(monkeypatch)
    monkeypatch.setenv("TOPIC_ARN", TOPIC_ARN)
    monkeypatch.setenv("SENT_ALERTS_TABLE", SENT_ALERTS_TABLE)


def _clear_caches() -> None:
    handler.alert_topic.cache_clear()
    handler.sent_alerts.cache_clear()
    client.cache_clear()


@pytest.fixture
def aws(aws_env: None) -> Iterator[SimpleNamespace]:
    """Moto's NoStock topic with the alerts queue subscribed for raw delivery, and the
    sent-alerts table."""
    _clear_caches()
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
        assert topic_arn == TOPIC_ARN
        queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        dynamodb = create_sent_alerts_table()
        yield SimpleNamespace(sns=sns, sqs=sqs, queue_url=queue_url, dynamodb=dynamodb)
    _clear_caches()


@dataclass
class StubbedSns:
    """The handler's own SNS client answered by a Stubber, the items of every PublishBatch
    request it made, and moto's sent-alerts table behind it."""

    stubber: Stubber
    requests: list[list[str]]

    def add_response(self, *args: Any) -> None:
        self.stubber.add_response(*args)

    def add_client_error(self, *args: Any, **kwargs: Any) -> None:
        self.stubber.add_client_error(*args, **kwargs)

    def assert_no_pending_responses(self) -> None:
        self.stubber.assert_no_pending_responses()


@pytest.fixture
def stubbed_sns(aws_env: None) -> Iterator[StubbedSns]:
    _clear_caches()
    with mock_aws():
        create_sent_alerts_table()
        sns = client("sns")
        requests: list[list[str]] = []
        sns.meta.events.register(
            "provide-client-params.sns.PublishBatch",
            lambda params, **_: requests.append(
                [
                    json.loads(json.loads(entry["Message"])["default"])["item"]
                    for entry in params["PublishBatchRequestEntries"]
                ]
            ),
        )
        with Stubber(sns) as stubber:
            yield StubbedSns(stubber, requests)
    _clear_caches()


def delivered(aws: SimpleNamespace) -> list[dict[str, Any]]:
    """Every message in the alerts queue, with its attributes."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = aws.sqs.receive_message(
            QueueUrl=aws.queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        aws.sqs.delete_message_batch(
            QueueUrl=aws.queue_url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)
            ],
        )


def delivered_items(aws: SimpleNamespace) -> list[tuple[str, str]]:
    return sorted(
        (json.loads(m["Body"])["store"], json.loads(m["Body"])["item"]) for m in delivered(aws)
    )


# --- the handler against moto ------------------------------------------------------------


def test_one_alert_per_item_that_went_out_of_stock(aws):
    # given
    event = stream_event(
        stream_record("100", "berlin", "apples", new=0, old=5),
        stream_record("200", "berlin", "pears", new=3, old=4),
        stream_record("300", "paris", "figs", new=0, old=None),
        stream_record("400", "paris", "kiwis", new=0, old=1),
    )

    # when
    result = handler.lambda_handler(event, FakeContext(FUNCTION))

    # then
    assert result == {"batchItemFailures": []}
    assert delivered_items(aws) == [("berlin", "apples"), ("paris", "figs"), ("paris", "kiwis")]


def test_an_item_crossing_the_stack_s_threshold_is_one_low_stock_alert(aws, monkeypatch):
    # given the stack's threshold of 10, and items moving across it, within it and out
    monkeypatch.setenv("LOW_STOCK_THRESHOLD", "10")
    records = [
        stream_record("100", "berlin", "apples", new=10, old=11),
        stream_record("200", "berlin", "pears", new=3, old=4),
        stream_record("300", "paris", "figs", new=2, old=None),
        stream_record("400", "paris", "kiwis", new=0, old=3),
        stream_record("500", "paris", "plums", new=11, old=12),
    ]

    # when delivered twice
    for _ in range(2):
        handler.lambda_handler(stream_event(*records), FakeContext(FUNCTION))

    # then each crossing alerted once, with its event as the attribute subscribers filter on
    # (sorted: stores publish on lanes of their own, so only a store's alerts keep an order)
    alerts = sorted(
        (
            (message["MessageAttributes"]["event"]["StringValue"], json.loads(message["Body"]))
            for message in delivered(aws)
        ),
        key=lambda alert: alert[1]["item"],
    )
    assert [(event, body["item"], body["count"]) for event, body in alerts] == [
        ("low_stock", "apples", 10),
        ("low_stock", "figs", 2),
        ("out_of_stock", "kiwis", 0),
    ]
    assert alerts[0][1]["threshold"] == 10
    assert alerts[0][1]["event"] == "low_stock"


@pytest.mark.parametrize(
    "record",
    [
        stream_record("100", "berlin", "apples", new=0, old=0),
        stream_record("100", "berlin", "apples", new=5, old=0),
        stream_record("100", "berlin", "apples", new=None, old=3),
        stream_record("100", "berlin", "apples", new=None, old=0),
        stream_record("100", "berlin", "apples", new=7, old=None),
    ],
    ids=["0-to-0", "0-to-5", "remove", "remove-at-0", "insert-in-stock"],
)
def test_changes_that_are_not_running_out_publish_nothing(aws, record):
    # given
    event = stream_event(record)

    # when
    result = handler.lambda_handler(event, FakeContext(FUNCTION))

    # then
    assert result == {"batchItemFailures": []}
    assert delivered(aws) == []


def test_alert_reaches_the_queue_as_a_json_document_with_filterable_attributes(aws):
    # given
    record = stream_record("100", "berlin", "äpfel", new=0, old=5)

    # when
    handler.lambda_handler(stream_event(record), FakeContext(FUNCTION))

    # then
    [message] = delivered(aws)
    assert json.loads(message["Body"]) == {
        "event": "out_of_stock",
        "store": "berlin",
        "item": "äpfel",
        "count": 0,
        "previous_count": 5,
        "updated_at": UPDATED_AT,
        "source": SOURCE,
        "alert_id": record["eventID"],
    }
    attributes = {
        name: value["StringValue"] for name, value in message["MessageAttributes"].items()
    }
    assert attributes == {"store": "berlin", "item": "äpfel", "event": "out_of_stock"}


def test_more_alerts_than_one_publish_batch_are_all_delivered(aws):
    # given
    records = [
        stream_record(str(100 + n), "berlin", f"item-{n:02d}", new=0, old=1) for n in range(23)
    ]

    # when
    result = handler.lambda_handler(stream_event(*records), FakeContext(FUNCTION))

    # then
    assert result == {"batchItemFailures": []}
    assert delivered_items(aws) == [("berlin", f"item-{n:02d}") for n in range(23)]


def test_a_batch_of_alerts_is_logged_in_one_line_naming_the_first_items(aws, monkeypatch):
    # given more alerts than the log line names, and the logger writing where the test reads
    written = io.StringIO()
    monkeypatch.setattr(handler.logger.registered_handler, "stream", written)
    total = handler.LOGGED_ALERTS + 20
    records = [stream_record(str(100 + n), "berlin", f"i{n}", new=0, old=1) for n in range(total)]

    # when
    handler.lambda_handler(stream_event(*records), FakeContext(FUNCTION))

    # then one line counts them all and names the first LOGGED_ALERTS
    lines = [json.loads(line) for line in written.getvalue().splitlines()]
    [logged] = [line for line in lines if line["message"] == "alerts published"]
    assert logged["alerts"] == total
    assert logged["items"][:2] == [
        {"store": "berlin", "item": "i0", "event": "out_of_stock"},
        {"store": "berlin", "item": "i1", "event": "out_of_stock"},
    ]
    assert len(logged["items"]) == handler.LOGGED_ALERTS


def test_unreadable_record_is_reported_while_earlier_alerts_are_published(aws):
    # given
    event = stream_event(
        stream_record("100", "berlin", "apples", new=0, old=5),
        stream_record("200", "berlin", "pears", new="x", old=5),
        stream_record("300", "berlin", "figs", new=0, old=5),
    )

    # when
    result = handler.lambda_handler(event, FakeContext(FUNCTION))

    # then: Lambda checkpoints before 200 and retries from it; 300 is not handled yet
    assert result == {"batchItemFailures": [{"itemIdentifier": "200"}]}
    assert delivered_items(aws) == [("berlin", "apples")]


def test_record_missing_its_key_attributes_is_reported(aws):
    # given: a MODIFY whose NewImage lacks the key attributes
    broken = stream_record("200", "berlin", "pears", new=0, old=5)
    del broken["dynamodb"]["NewImage"]["store"]
    event = stream_event(stream_record("100", "berlin", "apples", new=0, old=5), broken)

    # when
    result = handler.lambda_handler(event, FakeContext(FUNCTION))

    # then
    assert result == {"batchItemFailures": [{"itemIdentifier": "200"}]}
    assert delivered_items(aws) == [("berlin", "apples")]


# --- a batch delivered again ------------------------------------------------------------


def test_a_batch_delivered_again_publishes_nothing_more(aws):
    # given a batch that was handled, as after an invocation that timed out once it had published
    event = stream_event(
        stream_record("100", "berlin", "apples", new=0, old=5),
        stream_record("200", "paris", "figs", new=0, old=None),
    )
    handler.lambda_handler(event, FakeContext(FUNCTION))
    assert delivered_items(aws) == [("berlin", "apples"), ("paris", "figs")]

    # when Lambda delivers it again, twice
    results = [handler.lambda_handler(event, FakeContext(FUNCTION)) for _ in range(2)]

    # then
    assert results == [{"batchItemFailures": []}] * 2
    assert delivered(aws) == []


def test_a_batch_delivered_again_publishes_the_alerts_it_adds(aws):
    # given a batch that was handled
    first = stream_record("100", "berlin", "apples", new=0, old=5)
    handler.lambda_handler(stream_event(first), FakeContext(FUNCTION))
    delivered(aws)

    # when it comes again from that record on, with records that were not in it
    later = stream_record("200", "berlin", "figs", new=0, old=2)
    handler.lambda_handler(stream_event(first, later), FakeContext(FUNCTION))

    # then only the new alert goes out
    assert delivered_items(aws) == [("berlin", "figs")]


def test_the_same_change_in_another_stream_record_is_a_new_alert(aws):
    # given an item that ran out, went back in stock, and ran out again with identical images
    handler.lambda_handler(
        stream_event(stream_record("100", "berlin", "apples", new=0, old=5)), FakeContext(FUNCTION)
    )

    # when
    handler.lambda_handler(
        stream_event(stream_record("300", "berlin", "apples", new=0, old=5)), FakeContext(FUNCTION)
    )

    # then each record made its alert
    assert delivered_items(aws) == [("berlin", "apples"), ("berlin", "apples")]


def test_sent_alerts_are_noted_to_expire_after_two_days(aws):
    # given
    record = stream_record("100", "berlin", "apples", new=0, old=5)

    # when
    handler.lambda_handler(stream_event(record), FakeContext(FUNCTION))

    # then
    noted = aws.dynamodb.get_item(
        TableName=SENT_ALERTS_TABLE, Key={"alert_id": {"S": record["eventID"]}}
    )["Item"]
    assert int(noted["expires_at"]["N"]) - time.time() == pytest.approx(2 * 86400, abs=60)


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_batch_whose_sent_alerts_cannot_be_read_publishes_nothing_and_fails(aws):
    # given the sent-alerts table is gone
    aws.dynamodb.delete_table(TableName=SENT_ALERTS_TABLE)

    # when
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        handler.lambda_handler(
            stream_event(stream_record("100", "berlin", "apples", new=0, old=5)),
            FakeContext(FUNCTION),
        )

    # then Lambda retries the batch; nothing went out that the retry could send twice
    assert delivered(aws) == []


# --- the handler with a failing PublishBatch ---------------------------------------------


def publish_response(ids: list[str], failed: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "Successful": [
            {"Id": entry_id, "MessageId": f"m-{entry_id}"}
            for entry_id in ids
            if entry_id not in failed
        ],
        "Failed": [
            {"Id": entry_id, "Code": "InternalError", "Message": "try again", "SenderFault": False}
            for entry_id in failed
        ],
    }


def test_a_refused_alert_fails_the_batch_and_its_retry_sends_only_that_alert(stubbed_sns):
    # given: records 200, 300 and 400 make alerts pears, figs and kiwis; SNS refuses figs
    stubbed_sns.add_response(
        "publish_batch",
        publish_response(["0", "1", "2"], failed=["1"]),
        {"TopicArn": TOPIC_ARN, "PublishBatchRequestEntries": ANY},
    )
    stubbed_sns.add_response("publish_batch", publish_response(["0"]))
    event = stream_event(
        stream_record("100", "berlin", "apples", new=0, old=0),
        stream_record("200", "berlin", "pears", new=0, old=5),
        stream_record("300", "berlin", "figs", new=0, old=None),
        stream_record("400", "berlin", "kiwis", new=0, old=3),
    )

    # when the batch fails, and Lambda delivers it again
    with pytest.raises(handler.BatchFailed, match="after 2 alerts"):
        handler.lambda_handler(event, FakeContext(FUNCTION))
    result = handler.lambda_handler(event, FakeContext(FUNCTION))

    # then
    assert result == {"batchItemFailures": []}
    assert stubbed_sns.requests == [["pears", "figs", "kiwis"], ["figs"]]
    stubbed_sns.assert_no_pending_responses()


def test_a_request_that_errors_fails_the_batch_and_its_retry_sends_the_rest(stubbed_sns):
    # given: 12 alerts; the first request (alerts 0-9) succeeds, the second fails outright
    stubbed_sns.add_response("publish_batch", publish_response([str(n) for n in range(10)]))
    stubbed_sns.add_client_error("publish_batch", "InternalError", http_status_code=500)
    stubbed_sns.add_response("publish_batch", publish_response(["0", "1"]))
    records = [stream_record(str(1000 + n), "berlin", f"item-{n}", new=0, old=1) for n in range(12)]

    # when
    with pytest.raises(handler.BatchFailed, match="after 10 alerts"):
        handler.lambda_handler(stream_event(*records), FakeContext(FUNCTION))
    handler.lambda_handler(stream_event(*records), FakeContext(FUNCTION))

    # then the retry published items 10 and 11 only
    assert stubbed_sns.requests == [
        [f"item-{n}" for n in range(10)],
        ["item-10", "item-11"],
        ["item-10", "item-11"],
    ]
    stubbed_sns.assert_no_pending_responses()


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_failed_publish_wins_over_a_later_unreadable_record(stubbed_sns):
    # given: apples (100) goes out, figs (200) is refused, 300 is unreadable
    stubbed_sns.add_response("publish_batch", publish_response(["0", "1"], failed=["1"]))
    event = stream_event(
        stream_record("100", "berlin", "apples", new=0, old=5),
        stream_record("200", "berlin", "figs", new=0, old=2),
        stream_record("300", "berlin", "pears", new="x", old=5),
    )

    # when / then: the whole batch comes again; apples is noted as sent
    with pytest.raises(handler.BatchFailed, match="after 1 alerts"):
        handler.lambda_handler(event, FakeContext(FUNCTION))
    stubbed_sns.assert_no_pending_responses()


def test_a_first_entry_refused_while_later_ones_went_out_leaves_only_it_to_the_retry(
    stubbed_sns,
):
    # given: the first entry is refused, but SNS accepted the second of the same request
    stubbed_sns.add_response(
        "publish_batch",
        publish_response(["0", "1"], failed=["0"]),
        {"TopicArn": TOPIC_ARN, "PublishBatchRequestEntries": ANY},
    )
    stubbed_sns.add_response("publish_batch", publish_response(["0"]))
    event = stream_event(
        stream_record("100", "berlin", "apples", new=0, old=5),
        stream_record("200", "berlin", "pears", new=0, old=5),
    )

    # when
    with pytest.raises(handler.BatchFailed, match="after 1 alerts"):
        handler.lambda_handler(event, FakeContext(FUNCTION))
    handler.lambda_handler(event, FakeContext(FUNCTION))

    # then pears, accepted the first time, is not sent again
    assert stubbed_sns.requests == [["apples", "pears"], ["apples"]]
    stubbed_sns.assert_no_pending_responses()


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_first_request_erroring_fails_the_whole_batch(stubbed_sns):
    # given: the first PublishBatch request fails outright
    stubbed_sns.add_client_error("publish_batch", "InternalError", http_status_code=500)
    records = [stream_record(str(1000 + n), "berlin", f"item-{n}", new=0, old=1) for n in range(12)]

    # when
    with pytest.raises(handler.BatchFailed, match="after 0 alerts"):
        handler.lambda_handler(stream_event(*records), FakeContext(FUNCTION))

    # then: the second request was never made
    stubbed_sns.assert_no_pending_responses()


# --- unreadable records ---------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_unreadable_first_record_fails_the_whole_batch_and_publishes_nothing(aws):
    # given
    event = stream_event(
        stream_record("100", "berlin", "pears", new="x", old=5),
        stream_record("200", "berlin", "apples", new=0, old=5),
    )

    # when
    with pytest.raises(handler.BatchFailed, match="the first record, 100, is unreadable"):
        handler.lambda_handler(event, FakeContext(FUNCTION))

    # then: 200 was not handled, so its alert waits for the retry
    assert delivered(aws) == []


def test_unreadable_record_after_records_without_alerts_is_reported(aws):
    # given: 100 and 200 make no alert, 300 is unreadable, 400 would alert
    event = stream_event(
        stream_record("100", "berlin", "apples", new=4, old=5),
        stream_record("200", "berlin", "figs", new=30, old=None),
        stream_record("300", "berlin", "pears", new="x", old=5),
        stream_record("400", "berlin", "kiwis", new=0, old=5),
    )

    # when
    result = handler.lambda_handler(event, FakeContext(FUNCTION))

    # then: Lambda checkpoints 100 and 200 and retries from 300
    assert result == {"batchItemFailures": [{"itemIdentifier": "300"}]}
    assert delivered(aws) == []


# --- embedded metrics (Powertools prints one EMF document a flush) --------------------------


def alerts_published(stdout: str) -> list[float]:
    """The AlertsPublished values of the one flush an invocation printed."""
    [flush] = metric_flushes(stdout)
    assert (flush.namespace, flush.dimensions) == ("Inventory", {"service": "inventory"})
    assert flush.units == {"AlertsPublished": "Count"}
    return flush.values["AlertsPublished"]


def test_a_batch_counts_the_alerts_it_published(aws, capsys):
    # given four records, three of which run out
    event = stream_event(
        stream_record("100", "berlin", "apples", new=0, old=5),
        stream_record("200", "berlin", "pears", new=3, old=5),
        stream_record("300", "berlin", "figs", new=0, old=None),
        stream_record("400", "paris", "kiwis", new=0, old=1),
    )

    # when
    handler.lambda_handler(event, FakeContext(FUNCTION))

    # then
    assert alerts_published(capsys.readouterr().out) == [3.0]


def test_a_batch_without_alerts_counts_zero(aws, capsys):
    # given
    event = stream_event(
        stream_record("100", "berlin", "apples", new=0, old=0),
        stream_record("200", "berlin", "pears", new=None, old=5),
    )

    # when
    handler.lambda_handler(event, FakeContext(FUNCTION))

    # then
    assert alerts_published(capsys.readouterr().out) == [0.0]


def test_a_batch_delivered_again_counts_only_what_it_sent_itself(aws, capsys):
    # given a batch handled once
    event = stream_event(stream_record("100", "berlin", "apples", new=0, old=5))
    handler.lambda_handler(event, FakeContext(FUNCTION))
    capsys.readouterr()

    # when
    handler.lambda_handler(event, FakeContext(FUNCTION))

    # then
    assert alerts_published(capsys.readouterr().out) == [0.0]


def test_a_failed_publish_counts_the_alerts_that_went_out_before_it(stubbed_sns, capsys):
    # given 12 alerts: the first request (10) is published, the second fails outright
    stubbed_sns.add_response("publish_batch", publish_response([str(n) for n in range(10)]))
    stubbed_sns.add_client_error("publish_batch", "InternalError", http_status_code=500)
    records = [stream_record(str(1000 + n), "berlin", f"item-{n}", new=0, old=1) for n in range(12)]

    # when
    with pytest.raises(handler.BatchFailed):
        handler.lambda_handler(stream_event(*records), FakeContext(FUNCTION))

    # then: they are counted here; the retry will not send or count them again
    assert alerts_published(capsys.readouterr().out) == [10.0]
    stubbed_sns.assert_no_pending_responses()


def test_a_failed_publish_counts_entries_sns_accepted_after_the_refused_one(stubbed_sns, capsys):
    # given three alerts in one request; SNS refuses the second and accepts the others
    stubbed_sns.add_response("publish_batch", publish_response(["0", "1", "2"], failed=["1"]))
    event = stream_event(
        stream_record("100", "berlin", "apples", new=0, old=5),
        stream_record("200", "berlin", "pears", new=0, old=5),
        stream_record("300", "berlin", "figs", new=0, old=5),
    )

    # when
    with pytest.raises(handler.BatchFailed):
        handler.lambda_handler(event, FakeContext(FUNCTION))

    # then
    assert alerts_published(capsys.readouterr().out) == [2.0]
    stubbed_sns.assert_no_pending_responses()


def test_an_unreadable_record_after_a_published_alert_counts_that_alert(aws, capsys):
    # given
    event = stream_event(
        stream_record("100", "berlin", "apples", new=0, old=5),
        stream_record("200", "berlin", "figs", new="x", old=5),
    )

    # when
    result = handler.lambda_handler(event, FakeContext(FUNCTION))

    # then
    assert result == {"batchItemFailures": [{"itemIdentifier": "200"}]}
    assert alerts_published(capsys.readouterr().out) == [1.0]


def test_a_batch_whose_first_publish_fails_counts_zero(stubbed_sns, capsys):
    # given the only request fails outright: nothing went out, Lambda retries the batch
    stubbed_sns.add_client_error("publish_batch", "InternalError", http_status_code=500)
    event = stream_event(stream_record("100", "berlin", "apples", new=0, old=5))

    # when
    with pytest.raises(handler.BatchFailed):
        handler.lambda_handler(event, FakeContext(FUNCTION))

    # then: the retry that publishes is the one that counts it
    assert alerts_published(capsys.readouterr().out) == [0.0]
    stubbed_sns.assert_no_pending_responses()


# --- AlertTopic --------------------------------------------------------------------------


@dataclass
class TopicUnderTest:
    """An AlertTopic on a stubbed SNS client; the parameters of each PublishBatch call, and the
    alerts it handed to `on_sent`, a list per call."""

    topic: AlertTopic
    stubber: Stubber
    calls: list[dict[str, Any]]
    sent: list[list[Alert]]

    def publish(self, alerts: Sequence[Alert]) -> None:
        self.topic.publish(alerts, on_sent=self.sent.append)

    def sent_items(self) -> list[list[str]]:
        return [[alert.item for alert in accepted] for accepted in self.sent]


@pytest.fixture
def sns(aws_env: None) -> Iterator[TopicUnderTest]:
    sns_client = boto3.client("sns", region_name=REGION)
    calls: list[dict[str, Any]] = []
    sns_client.meta.events.register(
        "provide-client-params.sns.PublishBatch",
        lambda params, **_: calls.append(copy.deepcopy(params)),
    )
    with Stubber(sns_client) as stubber:
        yield TopicUnderTest(AlertTopic(sns_client, TOPIC_ARN), stubber, calls, [])


def expect_publish(stubber: Stubber, count: int, failed: Sequence[str] = ()) -> None:
    stubber.add_response(
        "publish_batch",
        publish_response([str(n) for n in range(count)], failed),
        {"TopicArn": TOPIC_ARN, "PublishBatchRequestEntries": ANY},
    )


def test_alert_topic_publishes_25_alerts_in_requests_of_10_10_and_5(sns):
    # given
    for size in (10, 10, 5):
        expect_publish(sns.stubber, size)
    alerts = [alert(n, store="berlin") for n in range(25)]  # one store: one lane, in order

    # when
    sns.publish(alerts)

    # then
    sns.stubber.assert_no_pending_responses()
    assert [len(call["PublishBatchRequestEntries"]) for call in sns.calls] == [10, 10, 5]
    assert all(len(call["PublishBatchRequestEntries"]) <= PUBLISH_BATCH_SIZE for call in sns.calls)
    published = [
        json.loads(json.loads(entry["Message"])["default"])["item"]
        for call in sns.calls
        for entry in call["PublishBatchRequestEntries"]
    ]
    assert published == [f"item-{n}" for n in range(25)]  # in order
    for call in sns.calls:
        ids = [entry["Id"] for entry in call["PublishBatchRequestEntries"]]
        assert len(set(ids)) == len(ids)
    # and each request's alerts were handed on as it was accepted
    assert sns.sent == [alerts[:10], alerts[10:20], alerts[20:]]


def test_alert_topic_renders_a_sentence_for_people_and_json_for_programs(sns):
    # given
    expect_publish(sns.stubber, 1)
    out = Alert("berlin", "apples", 0, 5, UPDATED_AT, SOURCE, "event-1")

    # when
    sns.publish([out])

    # then
    sns.stubber.assert_no_pending_responses()
    [entry] = sns.calls[0]["PublishBatchRequestEntries"]
    assert entry["MessageStructure"] == "json"
    assert entry["Subject"] == "Out of stock"
    renderings = json.loads(entry["Message"])
    assert renderings["email"] == renderings["sms"] == "berlin is out of stock of apples"
    # Queues, functions and email-json subscribers all fall back to "default".
    assert set(renderings) == {"default", "email", "sms"}
    assert json.loads(renderings["default"]) == {
        "event": "out_of_stock",
        "store": "berlin",
        "item": "apples",
        "count": 0,
        "previous_count": 5,
        "updated_at": UPDATED_AT,
        "source": SOURCE,
        "alert_id": "event-1",
    }
    assert entry["MessageAttributes"] == {
        "store": {"DataType": "String", "StringValue": "berlin"},
        "item": {"DataType": "String", "StringValue": "apples"},
        "event": {"DataType": "String", "StringValue": "out_of_stock"},
    }


def test_alert_topic_hands_on_the_accepted_entries_of_a_request_with_refused_ones(sns):
    # given: the second request's entries 3 and 7 fail, i.e. alerts 13 and 17
    expect_publish(sns.stubber, 10)
    expect_publish(sns.stubber, 10, failed=["7", "3"])

    # when
    with pytest.raises(PublishFailed) as raised:
        sns.publish([alert(n, store="berlin") for n in range(25)])

    # then: the accepted ones are handed on, and alerts 20-24 were never sent
    assert raised.value.published == 18
    assert "InternalError" in raised.value.reason
    accepted = [f"item-{n}" for n in range(10, 20) if n not in (13, 17)]
    assert sns.sent_items() == [[f"item-{n}" for n in range(10)], accepted]
    sns.stubber.assert_no_pending_responses()


def test_alert_topic_stops_at_a_request_that_errors(sns):
    # given
    expect_publish(sns.stubber, 10)
    sns.stubber.add_client_error("publish_batch", "AuthorizationError", http_status_code=403)

    # when
    with pytest.raises(PublishFailed) as raised:
        sns.publish([alert(n, store="berlin") for n in range(25)])

    # then: the third request was never made
    assert raised.value.published == 10
    assert "AuthorizationError" in raised.value.reason
    assert sns.sent_items() == [[f"item-{n}" for n in range(10)]]
    assert len(sns.calls) == 2
    sns.stubber.assert_no_pending_responses()


def test_alert_topic_hands_on_nothing_when_every_entry_is_refused(sns):
    # given
    expect_publish(sns.stubber, 3, failed=["0", "1", "2"])

    # when
    with pytest.raises(PublishFailed) as raised:
        sns.publish([alert(n) for n in range(3)])

    # then
    assert raised.value.published == 0
    assert sns.sent == []
    sns.stubber.assert_no_pending_responses()


def test_alert_topic_makes_no_request_for_no_alerts(sns):
    # given / when
    sns.publish([])

    # then
    assert sns.calls == []
    assert sns.sent == []
    sns.stubber.assert_no_pending_responses()


# --- AlertTopic's lanes: a fake SNS that answers from several threads ---------------------


def stores_on_different_lanes(count: int) -> list[str]:
    """`count` store names that publish on different lanes."""
    found: dict[int, str] = {}
    for n in range(1000):
        found.setdefault(zlib.crc32(f"store-{n}".encode()) % PUBLISH_LANES, f"store-{n}")
    assert len(found) >= count
    return list(found.values())[:count]


class ThreadedSns:
    """Answers PublishBatch from any thread: accepts every entry except those of `refused`
    stores. With `overlap`, the first two requests each wait until both are in flight, which
    only requests sent at once can do (a sequential publisher breaks the barrier)."""

    def __init__(self, refused: str | None = None, overlap: bool = False) -> None:
        self.refused = refused
        self.overlap = threading.Barrier(2, timeout=10) if overlap else None
        self.lock = threading.Lock()
        self.requests: list[list[tuple[str, str]]] = []
        self.accepted: list[str] = []

    def publish_batch(self, TopicArn: str, PublishBatchRequestEntries: list[Any]) -> Any:
        entries = [
            (entry["Id"], json.loads(json.loads(entry["Message"])["default"]))
            for entry in PublishBatchRequestEntries
        ]
        with self.lock:
            first_two = len(self.requests) < 2
            self.requests.append([(alert["store"], alert["item"]) for _, alert in entries])
        if self.overlap is not None and first_two:
            self.overlap.wait()
        successful, failed = [], []
        for entry_id, alert in entries:
            if alert["store"] == self.refused:
                failed.append({"Id": entry_id, "Code": "InternalError", "SenderFault": False})
            else:
                successful.append({"Id": entry_id, "MessageId": f"m-{alert['item']}"})
                with self.lock:
                    self.accepted.append(alert["item"])
        return {"Successful": successful, "Failed": failed}


def test_alert_topic_publishes_stores_on_parallel_lanes_each_store_in_order():
    # given 30 alerts of each of three stores that publish on different lanes
    stores = stores_on_different_lanes(3)
    alerts = [alert(n, store) for n in range(30) for store in stores]
    fake = ThreadedSns(overlap=True)
    sent: list[Alert] = []

    # when
    AlertTopic(fake, TOPIC_ARN).publish(alerts, on_sent=sent.extend)

    # then: requests overlapped, every alert went out once, each store's in its order
    assert sorted(fake.accepted) == sorted(a.item for a in alerts)
    assert sorted(a.item for a in sent) == sorted(a.item for a in alerts)
    assert all(len(request) <= PUBLISH_BATCH_SIZE for request in fake.requests)
    for store in stores:
        published = [item for request in fake.requests for s, item in request if s == store]
        assert published == [a.item for a in alerts if a.store == store]


def test_a_lane_that_fails_stops_the_others_and_every_accepted_alert_is_handed_on():
    # given two stores on different lanes, 200 alerts each, and SNS refusing the first store
    refused, fine = stores_on_different_lanes(2)
    alerts = [alert(n, store) for n in range(200) for store in (refused, fine)]
    fake = ThreadedSns(refused=refused)
    sent: list[Alert] = []

    # when
    with pytest.raises(PublishFailed) as raised:
        AlertTopic(fake, TOPIC_ARN).publish(alerts, on_sent=sent.extend)

    # then: the refused lane made one request; whatever SNS accepted is counted and handed on
    # (the other lane stops at its next request, so how far it got is the threads' business)
    assert [request[0][0] for request in fake.requests].count(refused) == 1
    assert raised.value.published == len(fake.accepted) == len(sent)
    assert sorted(a.item for a in sent) == sorted(fake.accepted)
    assert "InternalError" in raised.value.reason
