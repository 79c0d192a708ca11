"""Reading uploaded inventory files from S3 and writing their reports back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class StoredFile:
    """An uploaded object, open for streaming."""

    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None
    last_modified: datetime
    body: BinaryIO

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def describe(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "size": self.size,
            "etag": self.etag,
            "version_id": self.version_id,
        }


class FileStore:
    """The uploads bucket (read) and the reports bucket (write) of one stack."""

    def __init__(self, s3: Any, reports_bucket: str) -> None:
        self._s3 = s3
        self._reports_bucket = reports_bucket

    def open(self, bucket: str, key: str, version_id: str | None = None) -> StoredFile | None:
        """Open an uploaded object (that version of it, if given) for streaming; None if it
        was deleted before we got to it."""
        version = {"VersionId": version_id} if version_id else {}
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key, **version)
        except ClientError as error:
            # NoSuchVersion is not a modelled exception class: match the code.
            if error.response["Error"]["Code"] in ("NoSuchKey", "NoSuchVersion"):
                return None
            raise
        return StoredFile(
            bucket=bucket,
            key=key,
            size=response["ContentLength"],
            etag=response.get("ETag", "").strip('"'),
            version_id=response.get("VersionId"),
            last_modified=response["LastModified"],
            body=response["Body"],
        )

    def write_report(self, key: str, report: dict[str, Any]) -> str:
        """Store the report for the upload at `key`; return the report's s3:// URI."""
        report_key = report_key_for(key)
        self._s3.put_object(
            Bucket=self._reports_bucket,
            Key=report_key,
            Body=json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8"),
            ContentType="application/json; charset=utf-8",
        )
        return f"s3://{self._reports_bucket}/{report_key}"


REPORT_SUFFIX = ".report.json"  # provision/uploads.py reads reports by the same rule


def report_key_for(upload_key: str) -> str:
    """Where the report of an upload lives in the reports bucket: beside its name."""
    return upload_key + REPORT_SUFFIX
