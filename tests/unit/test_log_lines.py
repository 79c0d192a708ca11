"""How `make logs` shows one log event (provision.log_lines.format_event)."""

from __future__ import annotations

import json

from provision.log_lines import format_event

AT_MS = 1_796_345_675_018  # 00:54:35.018 UTC
POWERTOOLS_FIELDS = {
    "location": "lambda_handler:107",
    "timestamp": "2026-12-04 00:54:34,979+0000",
    "service": "inventory",
    "cold_start": False,
    "function_name": "inventory-load_inventory",
    "function_memory_size": 1024,
    "function_arn": "arn:aws:lambda:us-east-1:000000000000:function:inventory-load_inventory",
    "function_request_id": "24f75546-bd0a-45e2-a43e-4b082c9d3293",
}


def _failed_load() -> str:
    """The line load_inventory logs for a file whose load raised (as on MiniStack)."""
    frames = [
        {"file": "/tmp/x/code/handler.py", "line": 97, "function": "lambda_handler"},
        {"file": "/tmp/x/code/inventory/adapters/table.py", "line": 168, "function": "claim"},
        {"file": "/v/lib/python3.11/site-packages/botocore/client.py", "line": 1094},
    ]
    return json.dumps(
        {
            "level": "ERROR",
            "message": "inventory file failed",
            **POWERTOOLS_FIELDS,
            "file": "s3://uploads/fail/calgary.csv",
            "duration_ms": 8,
            "exception": "Traceback (most recent call last):\n  ...\nbotocore.errorfactory."
            "ResourceNotFoundException: An error occurred (ResourceNotFoundException)",
            "exception_name": "ResourceNotFoundException",
            "stack_trace": {
                "type": "ResourceNotFoundException",
                "value": "An error occurred (ResourceNotFoundException)",
                "frames": frames,
            },
        }
    )


def test_a_failed_load_is_one_line_with_its_file_exception_and_own_frame():
    assert format_event("load_inventory", AT_MS, _failed_load()) == (
        "load_inventory 00:54:35.018 ERROR inventory file failed "
        "file=s3://uploads/fail/calgary.csv duration_ms=8 "
        'exception="ResourceNotFoundException: An error occurred (ResourceNotFoundException)" '
        "at=table.py:168 claim"
    )


def test_a_json_line_keeps_level_message_and_its_own_fields_only():
    line = json.dumps(
        {
            "level": "INFO",
            "message": "inventory file processed",
            **POWERTOOLS_FIELDS,
            "file": "s3://uploads/berlin.csv",
            "status": "loaded",
            "rows_loaded": 3,
            "items": [{"store": "Berlin"}],
        }
    )
    assert format_event("load_inventory", AT_MS, line) == (
        "load_inventory 00:54:35.018 INFO inventory file processed "
        'file=s3://uploads/berlin.csv status=loaded rows_loaded=3 items=[{"store":"Berlin"}]'
    )


def test_the_function_name_comes_first_padded_so_messages_line_up():
    line = format_event("check_stock", AT_MS, '{"level":"INFO","message":"alerts published"}')
    assert line == "check_stock    00:54:35.018 INFO alerts published"


def test_an_exception_without_a_structured_trace_shows_the_tracebacks_last_line():
    line = json.dumps(
        {"level": "ERROR", "message": "boom", "exception": "Traceback:\n  x\nValueError: bad row"}
    )
    assert format_event("track_stock", AT_MS, line) == (
        'track_stock    00:54:35.018 ERROR boom exception="ValueError: bad row"'
    )


def test_errors_and_warnings_are_coloured_for_a_terminal_only():
    line = '{"level":"ERROR","message":"inventory file failed"}'
    coloured = format_event("load_inventory", AT_MS, line, colour=True) or ""
    assert "\x1b[31mERROR\x1b[0m" in coloured
    assert "\x1b[" not in (format_event("load_inventory", AT_MS, line) or "")


def test_an_embedded_metrics_line_is_its_metrics():
    line = json.dumps(
        {
            "_aws": {"CloudWatchMetrics": [{"Metrics": [{"Name": "RowsLoaded"}, {"Name": "T"}]}]},
            "service": "inventory",
            "RowsLoaded": [3.0],
            "T": [0.5],
        }
    )
    assert format_event("load_inventory", AT_MS, line) == (
        "load_inventory 00:54:35.018 metrics RowsLoaded=3 T=0.5"
    )


def test_plain_text_is_kept_on_one_line():
    assert format_event("load_inventory", AT_MS, "REPORT RequestId: r\tDuration: 9 ms\n") == (
        "load_inventory 00:54:35.018 REPORT RequestId: r  Duration: 9 ms"
    )
    assert format_event("load_inventory", AT_MS, "first\nsecond") == (
        "load_inventory 00:54:35.018 first ⏎ second"
    )


def test_lambdas_start_and_end_brackets_are_left_out():
    assert format_event("load_inventory", AT_MS, "START RequestId: r Version: $LATEST") is None
    assert format_event("load_inventory", AT_MS, "END RequestId: r") is None


def test_a_line_that_only_looks_like_json_is_plain_text():
    assert format_event("load_inventory", AT_MS, "{not json") == (
        "load_inventory 00:54:35.018 {not json"
    )
