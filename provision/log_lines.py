"""How `make logs` shows one CloudWatch Logs event: a line, the function's name first.

The functions log JSON (Powertools): the line keeps its level, its message and the fields
that say what happened, and drops what every line repeats (the function's name and ARN, its
memory, the request id). An exception becomes its type and message and the deepest frame of
the project's own code, so a failed load reads `... ERROR inventory file failed file=...
exception="ResourceNotFoundException: ..." at=table.py:168 claim_store`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

# Fields every Powertools line carries, or that a line shows otherwise (the level, the
# message, the time in front; the exception as its summary).
_REPEATED_FIELDS = frozenset(
    {
        "level",
        "message",
        "timestamp",
        "service",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "location",
        "xray_trace_id",
        "sampling_rate",
        "exception",
        "exception_name",
        "stack_trace",
    }
)
# Lambda's own bracket around each invocation; its REPORT line, kept, carries the duration.
_INVOCATION_BRACKETS = ("START RequestId:", "END RequestId:")
_FUNCTION_WIDTH = 14  # the longest function name, load_inventory, so messages line up
_COLOURS = {"ERROR": "31", "CRITICAL": "31", "WARNING": "33"}  # red, yellow


def format_event(
    function: str, timestamp_ms: int, message: str, colour: bool = False
) -> str | None:
    """The line for one log event of `function`; None for the START and END brackets."""
    text = message.rstrip("\n")
    if text.startswith(_INVOCATION_BRACKETS):
        return None
    when = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC).strftime("%H:%M:%S.%f")[:-3]
    head = f"{function:<{_FUNCTION_WIDTH}} {when}"
    document = _json_object(text)
    if document is None:
        # Plain text (print, warnings, REPORT): one line, whatever it spanned.
        return f"{head} {_one_line(text)}"
    if "_aws" in document:
        return f"{head} {_metrics(document)}"
    level = str(document.get("level", "")).upper()
    shown_level = (
        f"\x1b[{_COLOURS[level]}m{level}\x1b[0m" if colour and level in _COLOURS else level
    )
    fields = [
        f"{name}={_value(value)}"
        for name, value in document.items()
        if name not in _REPEATED_FIELDS
    ]
    fields.extend(_exception_fields(document))
    return " ".join(
        part
        for part in (head, shown_level, _one_line(str(document.get("message", ""))), *fields)
        if part
    )


def _json_object(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _metrics(document: dict[str, Any]) -> str:
    """An embedded-metrics line: `metrics Name=value ...` of the metrics it declares."""
    names = [
        metric["Name"]
        for declaration in document["_aws"].get("CloudWatchMetrics", [])
        for metric in declaration.get("Metrics", [])
    ]
    values = []
    for name in names:
        value = document.get(name)
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        values.append(f"{name}={_value(value)}")
    return " ".join(["metrics", *values])


def _exception_fields(document: dict[str, Any]) -> list[str]:
    """`exception="Type: message"` and `at=file:line function` for a logged exception."""
    if "exception" not in document and "exception_name" not in document:
        return []
    trace = document.get("stack_trace")
    if isinstance(trace, dict) and trace.get("type"):
        summary = f"{trace['type']}: {trace.get('value', '')}"
    else:  # no structured trace: the traceback's last line is the exception
        lines = str(document.get("exception", "")).strip().splitlines()
        summary = lines[-1] if lines else str(document.get("exception_name", ""))
    fields = [f"exception={_value(summary)}"]
    frame = _deepest_own_frame(trace.get("frames", []) if isinstance(trace, dict) else [])
    if frame:
        fields.append(frame)
    return fields


def _deepest_own_frame(frames: list[dict[str, Any]]) -> str | None:
    """Where the project's own code was when it raised: its last frame outside installed
    packages (the frames below it are boto3's or the standard library's)."""
    for frame in reversed(frames):
        file = str(frame.get("file", ""))
        if "site-packages" in file or "/lib/python" in file:
            continue
        return (
            f"at={file.rsplit('/', 1)[-1]}:{frame.get('line')} {frame.get('function', '')}".strip()
        )
    return None


def _value(value: Any) -> str:
    """A field's value: bare when it is a word, quoted when it has spaces, JSON otherwise."""
    if isinstance(value, str):
        return (
            value
            if value and not any(c.isspace() or c == '"' for c in value)
            else json.dumps(_one_line(value), ensure_ascii=False)
        )
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _one_line(text: str) -> str:
    return " ⏎ ".join(line.rstrip() for line in text.splitlines()).replace("\t", "  ")
