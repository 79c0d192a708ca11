"""Low-stock alerts, the per-store summary and the item history on a real emulator: the table's
stream drives check_stock (alerts) and track_stock (summary, history) side by side."""

from __future__ import annotations

import json
import uuid
from typing import Any

from provision import description
from provision.aws import Aws, Changes, wait_until
from provision.topics_and_queues import ensure_queue, ensure_subscription
from tests.integration.support import PATIENCE


def _csv(store: str, *rows: tuple[str, int]) -> bytes:
    lines = ["store,item,count", *(f"{store},{item},{count}" for item, count in rows)]
    return ("\n".join(lines) + "\n").encode()


def _low_stock_queue(aws: Aws, stack: dict[str, Any]) -> str:
    """A queue subscribed to the topic for low-stock alerts only, as --alert-events sets email
    and SMS subscriptions; returns its URL."""
    name = f"low-only-{uuid.uuid4().hex[:8]}"
    topic_arn = stack["topic_arn"]
    url = ensure_queue(aws, name, {}, Changes())
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    aws.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    attributes = {"RawMessageDelivery": "true", **description.alert_filter(("low_stock",))}
    ensure_subscription(aws, topic_arn, "sqs", arn, attributes, Changes())
    return url


def test_low_stock_alert_has_its_event_and_a_filtered_subscription_gets_only_it(
    pipeline, aws: Aws, stack: dict[str, Any], store
):
    # given two items in stock, and a subscriber that asked for low-stock alerts only
    low_only = _low_stock_queue(aws, stack)
    pipeline.upload(f"{store}/day1.csv", _csv(store, ("Kindle", 20), ("Echo", 20)))

    # when one becomes low (3, at or below the default threshold 5) and one runs out
    pipeline.upload(f"{store}/day2.csv", _csv(store, ("Kindle", 3), ("Echo", 0)))

    # then the alerts queue gets both, each with its event attribute
    alerts = pipeline.alerts_after_settling(store, event=None)
    assert sorted((alert["item"], alert["event"]) for alert in alerts) == [
        ("Echo", "out_of_stock"),
        ("Kindle", "low_stock"),
    ]
    events = {
        message["body"]["item"]: message["attributes"]["event"]
        for message in pipeline.inbox.received
        if message["body"].get("store") == store
    }
    assert (events["Kindle"], events["Echo"]) == ("low_stock", "out_of_stock")
    # and the filtered subscriber only the low one (the barrier's out-of-stock alert, sent
    # after both, never reaches it either)
    received: list[dict[str, Any]] = []

    def drained_low_alert() -> bool:
        answer = aws.sqs.receive_message(QueueUrl=low_only, MaxNumberOfMessages=10)
        received.extend(json.loads(message["Body"]) for message in answer.get("Messages", []))
        return any(body.get("store") == store for body in received)

    wait_until(drained_low_alert, PATIENCE, "the low-stock alert in the filtered queue")
    answer = aws.sqs.receive_message(QueueUrl=low_only, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    received.extend(json.loads(message["Body"]) for message in answer.get("Messages", []))
    assert [(body["item"], body["event"]) for body in received] == [("Kindle", "low_stock")]


def _summary(aws: Aws, stack: dict[str, Any], store: str) -> dict[str, str]:
    answer = aws.dynamodb.get_item(
        TableName=stack["summary_table"], Key={"store": {"S": store}}, ConsistentRead=True
    )
    return {
        name: value.get("N", value.get("S", ""))
        for name, value in answer.get("Item", {}).items()
        if name != "store"
    }


def _stack_items(aws: Aws, stack: dict[str, Any]) -> int:
    """How many items the summary counts over every store: it moves while track_stock works."""
    pages = aws.dynamodb.get_paginator("scan").paginate(TableName=stack["summary_table"])
    return sum(int(item.get("items", {}).get("N", "0")) for page in pages for item in page["Items"])


def test_the_summary_is_exact_after_uploads_and_history_keeps_each_change(
    pipeline, aws: Aws, stack: dict[str, Any], store
):
    # given two uploads of one store, the second changing two counts and adding an item
    pipeline.upload(f"{store}/day1.csv", _csv(store, ("a", 10), ("b", 4), ("c", 0)))
    pipeline.upload(f"{store}/day2.csv", _csv(store, ("a", 2), ("b", 4), ("d", 9)))
    wanted = {"items": "4", "units": "15", "out_of_stock": "1", "low": "2"}  # a:2, b:4 low

    # then the store's figures are a recount of the table, however the stream delivered
    # (track_stock works through every store's records in stream order: while the figures of
    # the stack keep moving, it is still on its way to this store's)
    seen: list[dict[str, str]] = []

    def exact() -> bool:
        seen.append({k: v for k, v in _summary(aws, stack, store).items() if k in wanted})
        return seen[-1] == wanted

    try:
        wait_until(
            exact,
            PATIENCE,
            f"the summary of {store} to read {wanted}",
            progress=lambda: _stack_items(aws, stack),
        )
    except TimeoutError as late:
        raise AssertionError(f"{late}; it last read {seen[-1:]}") from late
    assert _summary(aws, stack, store)["last_updated"]
    # and item a's history holds both counts, newest last, with the file of each
    key = {":key": {"S": f"{store}\x1fa"}}
    points = aws.dynamodb.query(
        TableName=stack["history_table"],
        KeyConditionExpression="store_item = :key",
        ExpressionAttributeValues=key,
        ConsistentRead=True,
    )["Items"]
    changes = [point for point in points if point["at"]["S"] != "~latest"]
    assert [(p["count"]["N"], p.get("previous", {}).get("N")) for p in changes] == [
        ("10", None),
        ("2", "10"),
    ]
    assert changes[-1]["source"]["S"].endswith(f"/{store}/day2.csv")
    assert int(changes[-1]["expires_at"]["N"]) > 0
    [latest] = [point for point in points if point["at"]["S"] == "~latest"]
    assert float(latest["runs_out_in_days"]["N"]) > 0  # 10 then 2: decreasing
