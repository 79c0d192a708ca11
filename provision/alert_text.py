"""What `make alerts` and `make inbox` print for one alert: pure functions over the message.

The alert's sentence comes from the same code check_stock publishes with
(inventory.stock.Alert.sentence), so what is shown here is what an email or SMS subscriber
reads, not a second wording of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from inventory.stock import Alert


@dataclass(frozen=True)
class Recipient:
    """A person's subscription to the alerts topic."""

    protocol: str  # email or sms
    endpoint: str  # the address or phone number


def sentence(document: str) -> str | None:
    """The sentence of an alert's JSON document; None if it is not one."""
    try:
        fields: Any = json.loads(document)
        return Alert(**fields).sentence()
    except (TypeError, ValueError):
        return None


def alert_line(body: str) -> str:
    """`make alerts`: the sentence, then the JSON as the alerts queue holds it."""
    said = sentence(body)
    return f"{said}  {body}" if said else f"(not an alert)  {body}"


def inbox_lines(envelope: str, recipients: list[Recipient]) -> list[str]:
    """`make inbox`: what each person received of one notification (an SNS envelope, as an
    SQS subscription without raw delivery gets it: Subject, Message, Timestamp)."""
    notification = json.loads(envelope)
    text = sentence(str(notification.get("Message", ""))) or str(notification.get("Message"))
    when = str(notification.get("Timestamp", ""))
    lines = []
    for recipient in recipients:
        if recipient.protocol == "email":
            subject = notification.get("Subject") or "AWS Notification Message"
            lines.append(f"{when} email to {recipient.endpoint}: [{subject}] {text}")
        elif recipient.protocol == "sms":
            lines.append(f"{when} sms to {recipient.endpoint}: {text}")
    return lines
