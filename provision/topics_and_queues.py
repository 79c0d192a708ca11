"""SNS topics and subscriptions, SQS queues: make each exist with the given settings, or
remove it (idempotent, see `provision.aws`)."""

from __future__ import annotations

import json

from provision.aws import Aws, Changes, ignore_missing

# ---------------------------------------------------------------- SNS and SQS


def ensure_topic(aws: Aws, name: str, attributes: dict[str, str], changes: Changes) -> str:
    """A topic with these attributes; returns its ARN."""
    arn = find_topic(aws, name)
    if arn is None:
        arn = str(aws.sns.create_topic(Name=name, Attributes=attributes)["TopicArn"])
        changes.record("created", "topic", name)
        return arn
    current = aws.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    for key, value in attributes.items():
        if current.get(key) != value:
            aws.sns.set_topic_attributes(TopicArn=arn, AttributeName=key, AttributeValue=value)
            changes.record("updated", f"topic {key}", name)
    return arn


def find_topic(aws: Aws, name: str) -> str | None:
    for page in aws.sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                return str(topic["TopicArn"])
    return None


def ensure_subscription(
    aws: Aws,
    topic_arn: str,
    protocol: str,
    endpoint: str,
    attributes: dict[str, str],
    changes: Changes,
) -> None:
    """Subscribe `endpoint` once; an existing subscription keeps its ARN."""
    for page in aws.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for subscription in page.get("Subscriptions", []):
            if subscription["Protocol"] == protocol and subscription["Endpoint"] == endpoint:
                _align_subscription(aws, subscription["SubscriptionArn"], attributes, changes)
                return
    aws.sns.subscribe(
        TopicArn=topic_arn,
        Protocol=protocol,
        Endpoint=endpoint,
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    changes.record("created", f"{protocol} subscription", endpoint)


def _align_subscription(aws: Aws, arn: str, attributes: dict[str, str], changes: Changes) -> None:
    """An existing subscription takes the attributes wanted now (a FilterPolicy given or
    dropped). One still pending confirmation has no attributes to set yet."""
    if not arn.startswith("arn:"):
        return
    current = aws.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    for key in ("FilterPolicy",):
        wanted = attributes.get(key)
        if wanted is None and current.get(key) in (None, "", "{}"):
            continue
        if wanted is not None and _same_json(current.get(key), wanted):
            continue
        aws.sns.set_subscription_attributes(
            SubscriptionArn=arn, AttributeName=key, AttributeValue=wanted or "{}"
        )
        changes.record("updated", f"subscription {key}", arn.rsplit(":", 1)[-1])
    for key, value in attributes.items():
        if key != "FilterPolicy" and current.get(key) != value:
            aws.sns.set_subscription_attributes(
                SubscriptionArn=arn, AttributeName=key, AttributeValue=value
            )
            changes.record("updated", f"subscription {key}", arn.rsplit(":", 1)[-1])


def _same_json(current: str | None, wanted: str) -> bool:
    try:
        return current is not None and json.loads(current) == json.loads(wanted)
    except ValueError:
        return False


def delete_topic(aws: Aws, name: str, changes: Changes) -> None:
    arn = find_topic(aws, name)
    if arn is None:
        return
    for page in aws.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
        for subscription in page.get("Subscriptions", []):
            if subscription["SubscriptionArn"].startswith("arn:"):  # not PendingConfirmation
                aws.sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    aws.sns.delete_topic(TopicArn=arn)
    changes.record("deleted", "topic", name)


def ensure_queue(aws: Aws, name: str, attributes: dict[str, str], changes: Changes) -> str:
    """A queue with exactly these attributes; returns its URL."""
    url = queue_url(aws, name)
    if url is None:
        url = str(aws.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
        changes.record("created", "queue", name)
        return url
    current = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(attributes)).get(
        "Attributes", {}
    )
    differing = {
        key: value for key, value in attributes.items() if not _same(current.get(key), value)
    }
    if differing:
        aws.sqs.set_queue_attributes(QueueUrl=url, Attributes=differing)
        changes.record("updated", "queue", name)
    return url


def _same(current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if wanted.startswith("{"):  # JSON policies come back reformatted
        return bool(json.loads(current) == json.loads(wanted))
    return current == wanted


def queue_url(aws: Aws, name: str) -> str | None:
    return ignore_missing(
        lambda: str(aws.sqs.get_queue_url(QueueName=name)["QueueUrl"]),
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    )


def delete_queue(aws: Aws, name: str, changes: Changes) -> None:
    url = queue_url(aws, name)
    if url is not None:
        aws.sqs.delete_queue(QueueUrl=url)
        changes.record("deleted", "queue", name)
