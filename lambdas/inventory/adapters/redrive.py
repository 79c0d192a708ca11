"""Asking the loader, from inside itself, to load a snapshot again as S3 would have (the event
S3 sends for that object version), or to go on with records it had no time left for: both
asynchronous invocations, so Lambda retries them and the failure queue catches them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

from inventory.adapters.table import Snapshot


class Loader:
    """The load_inventory function, seen from inside itself."""

    def __init__(self, lambda_client: Any, function_name: str) -> None:
        self._lambda = lambda_client
        self._function_name = function_name

    def load_again(self, snapshot: Snapshot) -> None:
        self._invoke(s3_event(snapshot))

    def load_later(self, records: list[dict[str, Any]]) -> None:
        """Load these event records in a new invocation."""
        self._invoke({"Records": records})

    def _invoke(self, event: dict[str, Any]) -> None:
        self._lambda.invoke(
            FunctionName=self._function_name,
            InvocationType="Event",
            Payload=json.dumps(event).encode(),
        )


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
