"""What `make alerts` and `make inbox` print for an alert (provision.alert_text)."""

from __future__ import annotations

import json

from inventory.stock import Alert
from provision.alert_text import Recipient, alert_line, inbox_lines

OUT = Alert("Paris", "Widget", 0, 5, "2026-12-04T00:59:06Z", "s3://u/p.csv", "id-1")
LOW = Alert("Paris", "Gadget", 2, None, None, None, "id-2", event="low_stock", threshold=5)


def test_an_alert_is_its_sentence_then_its_json_as_the_queue_holds_it():
    body = OUT.document()
    assert alert_line(body) == f"Paris is out of stock of Widget  {body}"
    assert alert_line(LOW.document()).startswith("Paris is low on Gadget: 2 left  {")


def test_a_message_that_is_not_an_alert_is_shown_as_it_is():
    assert alert_line('{"hello": 1}') == '(not an alert)  {"hello": 1}'
    assert alert_line("plain") == "(not an alert)  plain"


def _envelope(alert: Alert, subject: str | None) -> str:
    """The SNS notification an SQS subscription without raw delivery receives."""
    notification = {
        "Type": "Notification",
        "Message": alert.document(),
        "Timestamp": "2026-12-04T00:59:06.000Z",
    }
    if subject:
        notification["Subject"] = subject
    return json.dumps(notification)


def test_each_person_gets_the_notification_as_their_protocol_renders_it():
    people = [Recipient("email", "me@example.com"), Recipient("sms", "+15555550100")]
    assert inbox_lines(_envelope(OUT, "Out of stock"), people) == [
        "2026-12-04T00:59:06.000Z email to me@example.com: "
        "[Out of stock] Paris is out of stock of Widget",
        "2026-12-04T00:59:06.000Z sms to +15555550100: Paris is out of stock of Widget",
    ]


def test_an_email_without_a_subject_gets_the_one_sns_gives_it():
    [line] = inbox_lines(_envelope(LOW, None), [Recipient("email", "me@example.com")])
    assert "[AWS Notification Message] Paris is low on Gadget: 2 left" in line


def test_nobody_subscribed_receives_nothing():
    assert inbox_lines(_envelope(OUT, "Out of stock"), []) == []
