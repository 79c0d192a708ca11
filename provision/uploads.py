"""What an uploader does: put a file in the uploads bucket and read the report it gets."""

from __future__ import annotations

import json
from typing import Any

from provision.resources import Aws, ignore_missing, wait_until

# Must match lambdas/inventory/adapters/files.py: the report sits beside the upload's name.
REPORT_SUFFIX = ".report.json"


def upload_and_wait_for_report(
    aws: Aws, outputs: dict[str, Any], key: str, body: bytes, timeout: float = 60
) -> dict[str, Any]:
    """Upload `body` as `key` and return the report the loader writes for it."""
    reports = outputs["reports_bucket"]
    report_key = key + REPORT_SUFFIX
    aws.s3.delete_object(Bucket=reports, Key=report_key)  # wait for this upload's own report
    aws.s3.put_object(Bucket=outputs["uploads_bucket"], Key=key, Body=body)
    wait_until(
        lambda: (
            ignore_missing(lambda: aws.s3.head_object(Bucket=reports, Key=report_key)) is not None
        ),
        timeout,
        f"the report of {key}",
    )
    report: dict[str, Any] = json.loads(
        aws.s3.get_object(Bucket=reports, Key=report_key)["Body"].read()
    )
    return report
