"""The loader's peak memory stays a few MB whatever the shape of the file (tracemalloc), and
its report stays within 1 MB: the 256 MB the loader may use is far above every figure here.
The shapes (bench/shapes.py) are tens of MB at most.
"""

from __future__ import annotations

import io

import pytest

from bench.shapes import (
    SHAPES,
    _deep_json_array,
    _deep_json_lines,
    _thousands_of_huge_rejected_rows,
    _wide_json_objects_within_the_record_limit,
    loader_peak,
)
from inventory.parsing import MAX_RECORD_CHARS, read_records

# The files are up to 25 MB. What the loader holds beyond a record is the duplicate-key table,
# sized from the file's size before the first row (about 9 MB for 25 MB), and the report.
PEAK_LIMIT_MB = 16
REPORT_LIMIT_KB = 1024


@pytest.mark.parametrize("shape", SHAPES)
def test_the_loaders_peak_memory_stays_small_whatever_the_shape(shape: str) -> None:
    # given a file of a hostile shape, several MB large
    build, name = SHAPES[shape]
    data = build()
    # when
    figures = loader_peak(data, name)
    # then loading it allocates a few MB at most, it is read or refused, not exhausted, and
    # its report is bounded
    assert figures["peak_mb"] < PEAK_LIMIT_MB, f"{shape}: {figures}"
    assert figures["lines_read"] > 0 or figures["refused"] is not None
    assert figures["report_kb"] < REPORT_LIMIT_KB


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
    figures = loader_peak(_deep_json_array(), "x.json")
    # longer than a record: the rest of the file is refused
    assert figures["refused"] == "the JSON value is nested too deeply"


def test_the_shapes_are_what_they_say() -> None:
    # the hostile files are larger than a record may be, so they test the bounds
    for build, _ in SHAPES.values():
        assert len(build()) > 4 * MAX_RECORD_CHARS
