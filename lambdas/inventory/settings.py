"""The functions' settings, read from the environment when used (never at import time)."""

from __future__ import annotations

import os

DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024
DEFAULT_WRITE_LANES = 8
DEFAULT_LOW_STOCK_THRESHOLD = 5  # provision.stack.Settings' default
DEFAULT_HISTORY_RETENTION_DAYS = 90


def required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


def function_name() -> str:
    """This function's own name, which the Lambda runtime sets."""
    return required("AWS_LAMBDA_FUNCTION_NAME")


def table_name() -> str:
    return required("TABLE_NAME")


def snapshots_table() -> str:
    return required("SNAPSHOTS_TABLE")


def reports_bucket() -> str:
    return required("REPORTS_BUCKET")


def topic_arn() -> str:
    return required("TOPIC_ARN")


def max_file_bytes() -> int:
    return int(os.environ.get("MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES))


def write_lanes() -> int:
    return int(os.environ.get("WRITE_LANES", DEFAULT_WRITE_LANES))


def sent_alerts_table() -> str:
    return required("SENT_ALERTS_TABLE")


def low_stock_threshold() -> int:
    """The stack's low-stock threshold (an item's own `low_stock_threshold` overrides it)."""
    return int(os.environ.get("LOW_STOCK_THRESHOLD", DEFAULT_LOW_STOCK_THRESHOLD))


def summary_table() -> str:
    return required("SUMMARY_TABLE")


def history_table() -> str:
    return required("HISTORY_TABLE")


def history_retention_days() -> int:
    return int(os.environ.get("HISTORY_RETENTION_DAYS", DEFAULT_HISTORY_RETENTION_DAYS))
