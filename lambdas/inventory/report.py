"""The report an uploader reads for one file: every row accounted for, nothing hidden, and
safe to open anywhere.

Pure Python, no AWS. Whatever the file held, the report is strict JSON (no NaN or Infinity),
at most `MAX_REPORT_BYTES`, and its counts are exact; only the listings of rejected and
duplicate rows are cut short, and the report says so when they are.
"""

from __future__ import annotations

import json
from typing import Any

from inventory.cells import MAX_FIELD_NAME_CHARS, safe_cell
from inventory.loading import MAX_LISTED_ROWS, LoadOutcome
from inventory.snapshots import DIGEST_CHARS, digest

# The report lists at most MAX_LISTED_ROWS rejected and as many duplicate rows, within this
# many bytes of listings, so that a file of huge rejected rows still gets a
# report of bounded size (the rest of the report is a few kilobytes).
MAX_LISTING_BYTES = 900_000
MAX_REPORT_BYTES = 1_000_000

REPORT_SUFFIX = ".report.json"
MAX_KEY_BYTES = 1024  # S3's limit on an object key, in UTF-8 bytes


def build_report(outcome: LoadOutcome, source: dict[str, Any]) -> dict[str, Any]:
    """The report of `outcome`; text that came from the file is neutralised and shortened."""
    error = outcome.file_error
    budget = _Budget(MAX_LISTING_BYTES)
    rejected = budget.take(
        {
            "line": r.line,
            **({"last_line": r.last_line} if r.last_line else {}),
            "reason": r.reason,
            "row": r.fields,  # made safe when the rejection was kept
        }
        for r in outcome.rejections
    )
    duplicates = budget.take(
        {
            "line": d.line,
            "replaces_line": d.replaces_line,
            "store": safe_cell(d.store),
            "item": safe_cell(d.item),
        }
        for d in outcome.duplicates
    )
    return {
        "source": source,
        "status": outcome.status,
        "lines_read": outcome.lines_read,
        "rows_loaded": outcome.rows_loaded,
        "rows_rejected": outcome.rows_rejected,
        "rows_duplicate": outcome.rows_duplicate,
        "rows_superseded": outcome.rows_superseded,
        "rows_not_reached": outcome.rows_not_reached,
        "blank_lines": outcome.blank_lines,
        "ignored_columns": [safe_cell(name[:MAX_FIELD_NAME_CHARS]) for name in outcome.ignored],
        "file_error": None if error is None else {"reason": error.reason, "line": error.line},
        "rejected_rows": rejected,
        "duplicate_rows": duplicates,
        "listed_rows_limit": MAX_LISTED_ROWS,
        "listing_cut_short": budget.exhausted,
    }


def encode_report(report: dict[str, Any]) -> bytes:
    """The report as strict JSON in UTF-8 (it raises rather than write NaN or Infinity)."""
    return json.dumps(report, ensure_ascii=False, indent=1, allow_nan=False).encode(
        "utf-8", "surrogatepass"
    )


class _Budget:
    """Lists entries while their encoded size fits in what is left of a byte budget."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.exhausted = False

    def take(self, entries: Any) -> list[dict[str, Any]]:
        taken = []
        for entry in entries:
            size = len(encode_report(entry))
            if self.exhausted or size > self.left:
                self.exhausted = True
                break
            self.left -= size
            taken.append(entry)
        return taken


def report_key_for(upload_key: str, version_id: str | None = None) -> str:
    """Where the report of an upload lives in the reports bucket: beside its name.

    With `version_id`, the key of that version's own report (for an older version delivered
    after a newer one wrote the report at the plain key). A key too long to take the suffix
    within S3's 1,024 bytes is cut at a character boundary and given a digest of the whole
    key, so two long keys sharing a beginning still get different reports.
    """
    suffix = REPORT_SUFFIX
    if version_id is not None:
        suffix = f".version-{digest(version_id)}{REPORT_SUFFIX}"
    encoded = upload_key.encode("utf-8", "surrogatepass")
    if len(encoded) + len(suffix) <= MAX_KEY_BYTES:
        return upload_key + suffix
    room = MAX_KEY_BYTES - len(suffix) - len("~") - DIGEST_CHARS
    kept = encoded[:room].decode("utf-8", "ignore")  # drops a character cut in two
    return f"{kept}~{digest(upload_key)}{suffix}"
