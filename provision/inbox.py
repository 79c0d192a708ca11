"""On an emulator, the inbox queue: a copy of what the stack's email and SMS subscribers get,
which `make inbox` (provision.messages) shows.

No emulator keeps those messages: MiniStack's SNS only logs `SNS fanout -> email ADDRESS
(stub)` for a topic's email and SMS subscriptions (its /_ministack/sns/sms-messages holds
direct-to-phone publishes only, which this stack never makes), and LocalStack's free tier
sends nothing either. So on an emulator, provisioning with --email or --sms also subscribes
an inbox queue to the topic with the people's own filter policy (provision.description):
the emulator filters and delivers into it exactly what it hands the people's
subscriptions, with the subject.
"""

from __future__ import annotations

from provision.alert_text import Recipient
from provision.aws import Aws

PEOPLE_PROTOCOLS = ("email", "sms")


def recipients(aws: Aws, topic_arn: str) -> list[Recipient]:
    """The topic's email and SMS subscriptions."""
    found = []
    for page in aws.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for subscription in page.get("Subscriptions", []):
            if subscription["Protocol"] in PEOPLE_PROTOCOLS:
                found.append(Recipient(subscription["Protocol"], subscription["Endpoint"]))
    return found
