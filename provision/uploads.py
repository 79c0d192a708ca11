"""What an uploader does: put a file in the uploads bucket and read the report it gets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from inventory.report import report_key_for
from provision.aws import Aws, ignore_missing, wait_until

# A small file's report comes within seconds; four minutes leave room for a machine four
# times slower than a good day, a cold loader, and a queue of uploads ahead of it.
REPORT_TIMEOUT = 240.0


def upload_and_wait_for_report(
    aws: Aws,
    outputs: dict[str, Any],
    key: str,
    body: bytes,
    timeout: float = REPORT_TIMEOUT,
    progress: Callable[[], object] | None = None,
    declared: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Upload `body` as `key` and return the report the loader writes for it. `declared`:
    what the uploader declares on the object (PutObject's ContentType, Metadata).

    With `progress` (say, the parts of the file loaded so far), `timeout` is how long the
    load may go without advancing, not its whole time.
    """
    reports = outputs["reports_bucket"]
    report_key = report_key_for(key)
    aws.s3.delete_object(Bucket=reports, Key=report_key)  # wait for this upload's own report
    aws.s3.put_object(Bucket=outputs["uploads_bucket"], Key=key, Body=body, **(declared or {}))
    wait_until(
        lambda: (
            ignore_missing(lambda: aws.s3.head_object(Bucket=reports, Key=report_key)) is not None
        ),
        timeout,
        f"the report of {key}",
        progress,
    )
    return read_report(aws, reports, key)


def read_report(aws: Aws, reports_bucket: str, key: str) -> dict[str, Any]:
    """The report the loader last wrote for the upload at `key`."""
    report: dict[str, Any] = json.loads(
        aws.s3.get_object(Bucket=reports_bucket, Key=report_key_for(key))["Body"].read()
    )
    return report


def s3_event(bucket: str, key: str, source: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ObjectCreated event S3 sends the loader for an upload, to deliver it again (as a
    late or repeated delivery would): the key encoded as S3 encodes it, and, from the `source`
    of the upload's report, the time, version and sequencer S3 first gave it."""
    source = source or {}
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
    if source.get("version_id"):
        obj["versionId"] = source["version_id"]
    if source.get("sequencer"):
        obj["sequencer"] = source["sequencer"]
    record: dict[str, Any] = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": obj},
    }
    if source.get("snapshot_at"):
        record["eventTime"] = source["snapshot_at"].replace("+00:00", "Z")
    return {"Records": [record]}
