"""What the integration tests do to a stack: upload like a store, read alerts like a
subscriber, re-deliver events like S3 or Lambda would."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pytest

from provision.aws import Aws
from provision.uploads import REPORT_TIMEOUT, upload_and_wait_for_report

# How long one step of a test's work (a file's load, its alerts, a retry) may take: sized for
# a machine four times slower than a good day, and under load. A wait that ends as soon as
# its condition holds costs nothing for being generous.
PATIENCE = REPORT_TIMEOUT


def unavailable(reason: str) -> NoReturn:
    """Skip a test the target cannot run, saying why; a failure under REQUIRE_BROWSER.

    .ci/run sets REQUIRE_BROWSER because there the dashboard and its browser tests must run:
    a skip would hide that they did not.
    """
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(f"REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


def require_dashboard(stack: dict[str, Any]) -> None:
    """Go on only if the session's stack has a dashboard (LocalStack's free tier has none)."""
    if not stack["dashboard_url"]:
        unavailable(f"the target has no dashboard: {stack['dashboard']['skipped']}")


def is_ministack(endpoint: str | None) -> bool:
    """True if the emulator at `endpoint` is MiniStack (it alone answers /_ministack/health)."""
    if endpoint is None:
        return False
    try:
        with urllib.request.urlopen(f"{endpoint}/_ministack/health", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class AlertInbox:
    """Every alert the stack's SQS queue delivers this session, drained on demand."""

    aws: Aws
    queue_url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float, what: str
    ) -> list[dict[str, Any]]:
        """Long-poll until `predicate(received)` holds; fail saying `what` was awaited."""
        deadline = time.monotonic() + timeout
        while not predicate(self.received):
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}; got {self.received}")
            response = self.aws.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
            )
            for message in response.get("Messages", []):
                self.received.append(
                    {
                        "body": json.loads(message["Body"]),
                        "attributes": {
                            name: value["StringValue"]
                            for name, value in message.get("MessageAttributes", {}).items()
                        },
                    }
                )
                self.aws.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return self.received

    def for_store(self, store: str, event: str | None = "out_of_stock") -> list[dict[str, Any]]:
        """The alerts of `store` received so far: out-of-stock ones, or those of `event`
        (None: every event, low-stock alerts too)."""
        return [
            alert["body"]
            for alert in self.received
            if alert["body"]["store"] == store and event in (None, alert["body"].get("event"))
        ]


@dataclass
class Pipeline:
    """Drives the stack the way a store and a subscriber would."""

    aws: Aws
    outputs: dict[str, Any]
    inbox: AlertInbox

    def upload(
        self, key: str, body: bytes, declared: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Upload a file and return its report, once the loader has written it."""
        return upload_and_wait_for_report(self.aws, self.outputs, key, body, declared=declared)

    def alerts_after_settling(
        self, store: str, timeout: float = PATIENCE, event: str | None = "out_of_stock"
    ) -> list[dict[str, Any]]:
        """The alerts for `store` so far (out-of-stock ones, or those of `event`; None: all),
        once every earlier change has gone through the stream.

        A barrier: a marker item of the same store is set to 0 after everything else; the
        stream delivers a store's changes in order, so when the marker's alert arrives, every
        alert the earlier uploads could cause has arrived too.
        """
        marker = f"zz-barrier-{uuid.uuid4().hex[:8]}"
        self.upload(f"barriers/{marker}.csv", f"store,item,count\n{store},{marker},0\n".encode())
        self.inbox.wait_for(
            lambda _: any(alert["item"] == marker for alert in self.inbox.for_store(store)),
            timeout,
            f"the barrier alert {marker} of {store}",
        )
        return [
            alert
            for alert in self.inbox.for_store(store, event)
            if not alert["item"].startswith("zz-barrier-")
        ]

    def item(self, store: str, item: str) -> dict[str, Any] | None:
        response = self.aws.dynamodb.get_item(
            TableName=self.outputs["table"],
            Key={"store": {"S": store}, "item": {"S": item}},
            ConsistentRead=True,
        )
        found: dict[str, Any] | None = response.get("Item")
        return found


def invoke(aws: Aws, function: str, event: dict[str, Any]) -> dict[str, Any]:
    """Invoke a function synchronously; its response, or a test failure naming its error."""
    response = aws.lambda_.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read() or b"null")
    if "FunctionError" in response:
        pytest.fail(f"{function} failed: {payload}")
    result: dict[str, Any] = payload
    return result
