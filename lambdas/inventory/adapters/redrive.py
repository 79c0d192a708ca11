"""Asking the loader, from inside itself, to load a snapshot again as S3 would have (the event
S3 sends for that object version), or to go on with records it had no time left for: both go
to the uploads queue, behind the files already waiting there (or, with no queue, to an
asynchronous invocation). A file that failed in a queued invocation gets an asynchronous
invocation of its own, so Lambda retries it and the failure queue catches it. And the S3
records an invocation carries, whether S3 invoked it or the uploads queue did."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

from inventory.adapters.table import Snapshot


class Loader:
    """The load_inventory function, seen from inside itself."""

    def __init__(
        self, lambda_client: Any, function_name: str, queue: tuple[Any, str] | None = None
    ) -> None:
        """`queue`: an SQS client and the uploads queue's URL, if the function has one."""
        self._lambda = lambda_client
        self._function_name = function_name
        self._queue = queue

    def load_again(self, snapshot: Snapshot) -> None:
        self._later(s3_event(snapshot))

    def load_later(self, records: list[dict[str, Any]]) -> None:
        """Load these event records in a new invocation."""
        self._later({"Records": records})

    def retry_alone(self, record: dict[str, Any]) -> None:
        """Hand one record to Lambda's asynchronous retries (and then the failure queue)."""
        self._invoke({"Records": [record]})

    def _later(self, event: dict[str, Any]) -> None:
        if self._queue is None:
            self._invoke(event)
            return
        sqs, url = self._queue
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))

    def _invoke(self, event: dict[str, Any]) -> None:
        self._lambda.invoke(
            FunctionName=self._function_name,
            InvocationType="Event",
            Payload=json.dumps(event).encode(),
        )


def s3_records(event: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The S3 event records `event` carries, and whether it came from the uploads queue.

    Each message of the queue holds an S3 event: S3's notification of an upload, or a part or
    a load again the loader queued. S3's test message (`s3:TestEvent`) holds no record.
    """
    records: list[dict[str, Any]] = event.get("Records", [])
    if not records or records[0].get("eventSource") != "aws:sqs":
        return records, False
    unwrapped: list[dict[str, Any]] = []
    for message in records:
        body = json.loads(message["body"])
        if isinstance(body, dict) and isinstance(body.get("Records"), list):
            unwrapped.extend(body["Records"])
    return unwrapped, True


def s3_event(snapshot: Snapshot) -> dict[str, Any]:
    """The ObjectCreated event S3 sends for `snapshot`."""
    obj: dict[str, Any] = {"key": quote_plus(snapshot.key, safe="/")}  # as S3 encodes keys
    if snapshot.version_id:
        obj["versionId"] = snapshot.version_id
    if snapshot.sequencer:
        obj["sequencer"] = snapshot.sequencer
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": snapshot.taken_at.replace("+00:00", "Z"),
                "s3": {"bucket": {"name": snapshot.bucket}, "object": obj},
            }
        ]
    }
