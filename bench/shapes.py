"""Files of hostile shapes, and the loader's peak memory over each (tracemalloc).

Shared by the unit test that bounds the peak (tests/unit/test_parser_memory.py) and by `make
bench`'s memory section (`python -m bench.shapes` prints each shape's figures as JSON). Each
file is built before tracing starts, so the peak is what loading it adds: the whole path the
handler runs, both passes of `load_records` over `read_records`, and the report, encoded.
"""

from __future__ import annotations

import io
import json
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambdas"))

from inventory.loading import load_records  # noqa: E402
from inventory.parsing import MAX_RECORD_CHARS, read_records  # noqa: E402
from inventory.report import build_report, encode_report  # noqa: E402


def _million_columns_line() -> bytes:
    return b"store,item,count\n" + b"," * 5_000_000 + b"\nB,x,1\n"


def _million_columns_header() -> bytes:
    return b"store,item,count" + b",extra" * 1_000_000 + b"\nB,x,1\n"


def _deep_json_lines() -> bytes:
    good = b'{"store": "B", "item": "x", "count": 1}\n'
    return b"[" * 5_000_000 + b"\n" + good + b'{"count": ' + b"[" * 5_000_000 + b"\n" + good


def _deep_json_within_the_record_limit() -> bytes:
    deep = "[" * 30_000 + "]" * 30_000
    line = f'{{"store": "B", "item": "x", "count": {deep}}}\n'
    return line.encode() * 300  # 18 MB of values nested 30,000 deep


def _deep_json_array() -> bytes:
    return b"[" + b"[" * 5_000_000 + b"]" * 5_000_000 + b"]"


def _wide_json_object() -> bytes:
    keys = ",".join(f'"k{i}": 0' for i in range(1_000_000))
    return ('{"store": "B", "item": "x", "count": 1, ' + keys + "}\n").encode()


def _wide_json_objects_within_the_record_limit() -> bytes:
    keys = ",".join(f'"k{i}": 0' for i in range(6_000))  # about 60,000 characters
    line = '{"store": "B", "item": "x", "count": 1, ' + keys + "}\n"
    return line.encode() * 40


def _thousands_of_huge_rejected_rows() -> bytes:
    under = ("B," + "x" * (MAX_RECORD_CHARS - 100) + ",1,extra\n").encode()
    over = ("B," + "x" * (3 * MAX_RECORD_CHARS) + ",1\r").encode()
    return b"store,item,count\n" + (under + over) * 100 + (b"B,y,1\n" * 2_000)


def _unclosed_quotes() -> bytes:
    block = b'B,"never closed,1\n' + b"B,x,1\n" * (MAX_RECORD_CHARS // 6 + 10)
    return b"store,item,count\n" + block * 20


SHAPES: dict[str, tuple[Callable[[], bytes], str]] = {
    "one-line-of-millions-of-columns": (_million_columns_line, "x.csv"),
    "header-of-millions-of-columns": (_million_columns_header, "x.csv"),
    "deeply-nested-json-line": (_deep_json_lines, "x.jsonl"),
    "deeply-nested-json-values-within-the-limit": (_deep_json_within_the_record_limit, "x.jsonl"),
    "deeply-nested-json-array-element": (_deep_json_array, "x.json"),
    "very-wide-json-object": (_wide_json_object, "x.jsonl"),
    "very-wide-json-objects-within-the-limit": (
        _wide_json_objects_within_the_record_limit,
        "x.jsonl",
    ),
    "thousands-of-huge-rejected-rows": (_thousands_of_huge_rejected_rows, "x.csv"),
    "unclosed-quotes": (_unclosed_quotes, "x.csv"),
}


def loader_peak(data: bytes, name: str) -> dict[str, Any]:
    """Load `data` as the file `name` into a sink that drops rows, and build its report:
    the peak of Python's allocations meanwhile, the report's size, and its counts."""
    stream = io.BytesIO(data)

    def records() -> Any:  # each of the loader's two passes reads the file from the top
        stream.seek(0)
        return read_records(stream, name)

    tracemalloc.start()
    try:
        outcome = load_records(records, lambda row: None, len(data))
        report = encode_report(build_report(outcome, {"uri": name}))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {
        "file_mb": round(len(data) / 2**20, 1),
        "peak_mb": round(peak / 2**20, 2),
        "report_kb": round(len(report) / 1024, 1),
        "lines_read": outcome.lines_read,
        "rows_loaded": outcome.rows_loaded,
        "rows_rejected": outcome.rows_rejected,
        "refused": outcome.file_error.reason if outcome.file_error else None,
    }


def main() -> int:
    """Every shape's figures, one JSON object (name -> figures), and the worst."""
    figures = {shape: loader_peak(build(), name) for shape, (build, name) in SHAPES.items()}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
