"""The parser's peak memory stays a few MB whatever the shape of the file (tracemalloc).

Each file is built before tracing starts, so the peak is what reading it adds: the 256 MB the
loader may use is far above every figure here. The files are tens of MB at most.
"""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Callable

import pytest

from inventory.parsing import MAX_RECORD_CHARS, FileRejected, Record, read_records

PEAK_LIMIT = 8 * 1024 * 1024  # 8 MB; the files below are up to 20 MB


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


def _read_peak(data: bytes, name: str) -> tuple[int, int, str | None]:
    """(records read, peak bytes allocated while reading, the file's rejection if any)."""
    stream = io.BytesIO(data)
    count = 0
    reason = None
    tracemalloc.start()
    try:
        for record in read_records(stream, name):
            assert isinstance(record, Record)
            count += 1
    except FileRejected as rejected:
        reason = rejected.reason
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return count, peak, reason


@pytest.mark.parametrize("shape", SHAPES)
def test_the_parsers_peak_memory_stays_small_whatever_the_shape(shape: str) -> None:
    # given a file of a hostile shape, several MB large
    build, name = SHAPES[shape]
    data = build()
    # when
    count, peak, reason = _read_peak(data, name)
    # then reading it allocates a few MB at most, and it is read or refused, not exhausted
    assert peak < PEAK_LIMIT, f"{shape}: peak {peak / 2**20:.1f} MB for {len(data) / 2**20:.0f} MB"
    assert count > 0 or reason is not None


def test_the_rows_after_hostile_ones_still_load() -> None:
    # given / when
    records = list(read_records(io.BytesIO(_thousands_of_huge_rejected_rows()), "x.csv"))
    # then 200 rejections, then every good row
    assert sum(1 for r in records if r.problem is not None) == 200
    assert sum(1 for r in records if r.problem is None) == 2_000


def test_a_wide_json_object_within_the_limit_lists_its_ignored_fields_capped() -> None:
    records = read_records(io.BytesIO(_wide_json_objects_within_the_record_limit()), "x.jsonl")
    assert all(r.problem is None for r in records)
    assert len(records.ignored_columns) == 100


def test_a_deep_json_line_is_rejected_alone() -> None:
    records = list(read_records(io.BytesIO(_deep_json_lines()), "x.jsonl"))
    assert [r.problem for r in records] == [
        f"the line is longer than {MAX_RECORD_CHARS:,} characters",
        None,
        f"the line is longer than {MAX_RECORD_CHARS:,} characters",
        None,
    ]


def test_the_json_array_with_a_deep_element_is_refused_with_a_reason() -> None:
    _, _, reason = _read_peak(_deep_json_array(), "x.json")
    assert reason == "the JSON value is nested too deeply"  # longer than a record: the rest


def test_the_shapes_are_what_they_say() -> None:
    # the hostile files are larger than a record may be, so they test the bounds
    for build, _ in SHAPES.values():
        assert len(build()) > 4 * MAX_RECORD_CHARS
