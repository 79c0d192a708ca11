"""Reading uploaded inventory files from S3 and writing their reports back."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, cast

from botocore.exceptions import ClientError

from inventory.report import encode_report, report_key_for

# The copy of an upload the loader reads twice stays in memory up to this size, then on disk
# (/tmp, 512 MB in Lambda), so memory stays flat whatever the file size.
_SPOOL_IN_MEMORY_BYTES = 1024 * 1024
_COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    """An uploaded object: its metadata, and a local copy to read as many times as needed."""

    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None
    last_modified: datetime
    copy: BinaryIO
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

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

    def reopen(self) -> BinaryIO:
        """The file from its first byte (each pass of the loader reads it whole)."""
        self.copy.seek(0)
        return self.copy

    def close(self) -> None:
        self.copy.close()


class FileStore:
    """The uploads bucket (read) and the reports bucket (write) of one stack."""

    def __init__(self, s3: Any, reports_bucket: str) -> None:
        self._s3 = s3
        self._reports_bucket = reports_bucket

    def open(
        self, bucket: str, key: str, version_id: str | None = None, max_bytes: int | None = None
    ) -> StoredFile | None:
        """Fetch an uploaded object (that version of it, if given); None if it was deleted
        before we got to it. An object over `max_bytes` is not copied (its copy is empty)."""
        version = {"VersionId": version_id} if version_id else {}
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key, **version)
        except ClientError as error:
            # NoSuchVersion is not a modelled exception class: match the code.
            if error.response["Error"]["Code"] in ("NoSuchKey", "NoSuchVersion"):
                return None
            raise
        # Closed by StoredFile.close, once the loader is done with it.
        copy = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
        body = response["Body"]
        if max_bytes is None or response["ContentLength"] <= max_bytes:
            shutil.copyfileobj(body, copy, _COPY_CHUNK)
        body.close()
        return StoredFile(
            bucket=bucket,
            key=key,
            size=response["ContentLength"],
            etag=response.get("ETag", "").strip('"'),
            version_id=response.get("VersionId"),
            last_modified=response["LastModified"],
            copy=cast(BinaryIO, copy),
            content_type=response.get("ContentType"),
            metadata=response.get("Metadata") or {},
        )

    def write_report(
        self, key: str, version_id: str | None, order: str, report: dict[str, Any]
    ) -> str:
        """Store the report of the upload at `key`; return the report's s3:// URI.

        The report at the upload's report key belongs to the newest version of the upload that
        has one: a report of an older version, loaded late, goes to that version's own key
        rather than over it. S3's conditional writes make the check and the write one step.
        """
        body = encode_report(report)
        report_key = report_key_for(key)
        while True:
            current = self._current_report(report_key)
            if current is not None and current[1] > order:
                report_key = report_key_for(key, version_id or "")
                self._put_report(report_key, body, order, {})
                break
            condition = {"IfNoneMatch": "*"} if current is None else {"IfMatch": current[0]}
            try:
                self._put_report(report_key, body, order, condition)
                break
            except ClientError as error:
                if error.response["Error"]["Code"] not in _LOST_RACE:
                    raise
                # Another version's report landed between the read and the write: read again.
        return f"s3://{self._reports_bucket}/{report_key}"

    def _current_report(self, report_key: str) -> tuple[str, str] | None:
        """The ETag and the order of the report at `report_key`, or None if there is none."""
        try:
            head = self._s3.head_object(Bucket=self._reports_bucket, Key=report_key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return head["ETag"], head.get("Metadata", {}).get("order", "")

    def _put_report(
        self, report_key: str, body: bytes, order: str, condition: dict[str, str]
    ) -> None:
        self._s3.put_object(
            Bucket=self._reports_bucket,
            Key=report_key,
            Body=body,
            ContentType="application/json; charset=utf-8",
            Metadata={"order": order},
            **condition,
        )


# What S3 answers a conditional write that another writer got to first.
_LOST_RACE = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")
