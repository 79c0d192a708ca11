"""Re-drive the S3 events the loader gave up on.

When load_inventory fails on an event after Lambda's retries (the table was unavailable, say),
Lambda puts an invocation record in the stack's load-failures queue: the original event under
`requestPayload`, and why it failed (an event whose queued invocations died, out of memory or
time, moves there from the uploads queue as it was). Once the cause is fixed, `python -m provision
replay-failed` invokes the loader again with each original event, as S3 did, and removes the
record. A replay that fails again lands back in the queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from provision.aws import Aws
from provision.stack import Stack
from provision.topics_and_queues import queue_url

# Long enough to invoke the function for every message received in one go.
_VISIBILITY_SECONDS = 60


def replay_failed_loads(aws: Aws, stack: Stack, say: Callable[[str], None]) -> int:
    """Invoke the loader with every failed event in the queue; returns how many."""
    url = queue_url(aws, stack.load_failures_queue)
    if url is None:
        raise LookupError(f"stack {stack.name!r} has no queue {stack.load_failures_queue}")
    replayed = 0
    while True:
        messages = aws.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=_VISIBILITY_SECONDS,
        ).get("Messages", [])
        if not messages:
            return replayed
        for message in messages:
            event = _original_event(message["Body"])
            if event is None:
                say(f"left in the queue, not a Lambda failure record: {message['MessageId']}")
                continue
            aws.lambda_.invoke(
                FunctionName=stack.load_function,
                InvocationType="Event",
                Payload=json.dumps(event).encode(),
            )
            aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            replayed += 1
            say(f"replayed {', '.join(_keys(event)) or 'an event with no S3 records'}")


def _original_event(body: str) -> dict[str, object] | None:
    try:
        record = json.loads(body)
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    payload = record.get("requestPayload")
    if isinstance(payload, dict):
        return payload
    # An event the uploads queue gave up on (its invocations died) is the S3 event itself.
    return record if isinstance(record.get("Records"), list) else None


def _keys(event: dict[str, object]) -> list[str]:
    records = event.get("Records")
    if not isinstance(records, list):
        return []
    return [
        str(r.get("s3", {}).get("object", {}).get("key")) for r in records if isinstance(r, dict)
    ]
