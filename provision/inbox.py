"""On an emulator, the inbox queue: a copy of what the stack's email and SMS subscribers get,
which `make inbox` (provision.messages) shows.

No emulator keeps those messages: MiniStack's SNS only logs `SNS fanout -> email ADDRESS
(stub)` for a topic's email and SMS subscriptions (its /_ministack/sns/sms-messages holds
direct-to-phone publishes only, which this stack never makes), and LocalStack's free tier
sends nothing either. So on an emulator, provisioning with --email or --sms also subscribes
an inbox queue to the topic with the people's own filter policy: the emulator filters and
delivers into it exactly what it hands the people's subscriptions, with the subject.
"""

from __future__ import annotations

import json

from provision import policies
from provision.alert_text import Recipient
from provision.aws import Aws, Changes
from provision.stack import Stack
from provision.topics_and_queues import delete_queue, ensure_queue, ensure_subscription

PEOPLE_PROTOCOLS = ("email", "sms")


def ensure_inbox(
    aws: Aws, stack: Stack, topic_arn: str, people_filter: dict[str, str], changes: Changes
) -> None:
    """The inbox queue, subscribed without raw delivery (so the subject comes along) and
    with `people_filter`, the attributes the people's subscriptions have."""
    ensure_queue(
        aws,
        stack.inbox_queue,
        {
            "SqsManagedSseEnabled": "true",
            "Policy": json.dumps(policies.topic_delivery_policy(stack, stack.inbox_queue)),
        },
        changes,
    )
    ensure_subscription(
        aws, topic_arn, "sqs", stack.queue_arn(stack.inbox_queue), people_filter, changes
    )


def delete_inbox(aws: Aws, stack: Stack, changes: Changes) -> None:
    delete_queue(aws, stack.inbox_queue, changes)


def recipients(aws: Aws, topic_arn: str) -> list[Recipient]:
    """The topic's email and SMS subscriptions."""
    found = []
    for page in aws.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for subscription in page.get("Subscriptions", []):
            if subscription["Protocol"] in PEOPLE_PROTOCOLS:
                found.append(Recipient(subscription["Protocol"], subscription["Endpoint"]))
    return found
