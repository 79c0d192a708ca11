"""The report: every row accounted for, strict JSON, bounded, safe in a spreadsheet; its key."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.cells import safe_cell
from inventory.loading import MAX_LISTED_ROWS, LoadOutcome
from inventory.parsing import FileRejected, Record, read_records
from inventory.report import build_report, encode_report, report_key_for
from tests.unit.loads import load, row

SOURCE = {"uri": "s3://inventory-uploads-000000000000-us-east-1/stores/berlin.csv"}


def test_read_and_load_a_real_file_end_to_end() -> None:
    # given the sample London file with its errors
    data = (
        b"store,item,count\nLondon,Echo Dot,5\nLondon,Echo Show,-2\nLondon,,3\n"
        b"London,Kindle,1.5\nLondon,Fire TV Stick,0\nLondon,Echo Dot,4\n"
    )
    # when
    outcome, sink = load(lambda: read_records(io.BytesIO(data), "stores/london-with-errors.csv"))
    report = build_report(outcome, SOURCE)
    # then
    assert [(r.item, r.count) for r in sink] == [("Fire TV Stick", 0), ("Echo Dot", 4)]
    assert report == {
        "source": SOURCE,
        "status": "loaded_with_rejections",
        "lines_read": 6,
        "rows_loaded": 2,
        "rows_rejected": 3,
        "rows_duplicate": 1,
        "rows_superseded": 0,
        "rows_not_reached": 0,
        "blank_lines": 0,
        "ignored_columns": [],
        "file_error": None,
        "rejected_rows": [
            {
                "line": 3,
                "reason": "count is negative",
                "row": {"store": "London", "item": "Echo Show", "count": "'-2"},
            },
            {
                "line": 4,
                "reason": "item is empty",
                "row": {"store": "London", "item": "", "count": "3"},
            },
            {
                "line": 5,
                "reason": "count must be a whole number, not '1.5'",
                "row": {"store": "London", "item": "Kindle", "count": "1.5"},
            },
        ],
        "duplicate_rows": [
            {"line": 7, "replaces_line": 2, "store": "London", "item": "Echo Dot"},
        ],
        "listed_rows_limit": MAX_LISTED_ROWS,
        "listing_cut_short": False,
    }


def test_the_report_names_the_file_error_and_its_line() -> None:
    # given
    outcome = LoadOutcome(
        rows_loaded=3, file_error=FileRejected("the JSON array is not closed with ']'", 9)
    )
    # when
    report = build_report(outcome, SOURCE)
    # then
    assert report["status"] == "partially_loaded"
    assert report["file_error"] == {"reason": "the JSON array is not closed with ']'", "line": 9}


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2", "'-2"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Echo Dot", "Echo Dot"),
        (" =1+1", " =1+1"),
        ("", ""),
        (-2, -2),
        (1.5, 1.5),
        (None, None),
        (["=1+1"], "(a list of 1 values)"),
        ({"a": 1}, "(an object of 1 fields)"),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
        ("x" * 500, "x" * 200 + "…"),
        ("=" + "x" * 500, "'=" + "x" * 199 + "…"),
    ],
)
def test_safe_cell_neutralises_formulas_and_shortens_long_text(value: Any, safe: Any) -> None:
    # given a value from the file
    # when
    result = safe_cell(value)
    # then
    assert result == safe


def test_the_report_neutralises_formulas_in_rejected_and_duplicate_rows() -> None:
    # given
    records = [
        row(2, "=cmd|'/C calc'!A0", "+Echo", "-3"),
        row(3, "@Berlin", "=Echo", "1"),
        row(4, "@Berlin", "=Echo", "2"),
        Record(5, {"store": "Berlin", "item": "Echo", "count": 1, "note": "@y"}, "unexpected"),
    ]
    outcome, _ = load(records)
    # when
    report = build_report(outcome, SOURCE)
    # then
    assert [rejected["row"] for rejected in report["rejected_rows"]] == [
        {"store": "'=cmd|'/C calc'!A0", "item": "'+Echo", "count": "'-3"},
        {"store": "Berlin", "item": "Echo", "count": 1, "note": "'@y"},
    ]
    assert report["duplicate_rows"] == [
        {"line": 4, "replaces_line": 3, "store": "'@Berlin", "item": "'=Echo"}
    ]


def test_the_report_lists_at_most_max_listed_rows_but_counts_every_row() -> None:
    # given more rejected rows and more duplicates than the report lists
    extra = 7
    rejected = [row(n, "Berlin", f"Bad {n}", "x") for n in range(MAX_LISTED_ROWS + extra)]
    repeated = [row(n, "Berlin", "Echo Dot", "1") for n in range(MAX_LISTED_ROWS + extra + 1)]
    outcome, sink = load(rejected + repeated)
    # when
    report = build_report(outcome, SOURCE)
    # then
    assert report["rows_rejected"] == MAX_LISTED_ROWS + extra
    assert report["rows_duplicate"] == MAX_LISTED_ROWS + extra
    assert report["rows_loaded"] == 1
    assert len(report["rejected_rows"]) == MAX_LISTED_ROWS
    assert len(report["duplicate_rows"]) == MAX_LISTED_ROWS
    assert report["rejected_rows"][0]["line"] == 0
    assert report["duplicate_rows"][-1]["line"] == MAX_LISTED_ROWS
    assert report["listed_rows_limit"] == MAX_LISTED_ROWS
    assert len(sink) == 1


def test_the_report_of_a_hostile_file_encodes_as_utf8_json() -> None:
    # given JSON Lines with escapes Python decodes to text no UTF-8 encoder accepts
    data = (
        b'{"store": "\\ud800", "item": "x", "count": "abc"}\n'
        b'{"store": "Berlin", "item": "Echo \\udc00", "count": 1}\n'
        b'{"store": "Berlin", "item": "Echo \\ud83d\\ude00", "count": 1}\n'
        b'{"store": "Berlin", "item": "Echo", "count": 1, "\\ud801": 1}\n'
    )
    outcome, sink = load(lambda: read_records(io.BytesIO(data), "stores/hostile.jsonl"))
    # when
    report = build_report(outcome, SOURCE)
    encoded = json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")
    # then
    assert json.loads(encoded) == report
    assert [r.item for r in sink] == ["Echo \U0001f600"]
    assert [r["line"] for r in report["rejected_rows"]] == [1, 2, 4]


def test_report_neutralises_formulas_in_field_names_too() -> None:
    # given a JSON record whose unexpected key is a formula
    outcome, _ = load([Record(2, {"=HYPERLINK(1)": "x"}, "unexpected field")])

    # when
    report = build_report(outcome, {})

    # then the key is prefixed like any value
    assert list(report["rejected_rows"][0]["row"]) == ["'=HYPERLINK(1)"]


def test_the_report_counts_superseded_rows() -> None:
    # given
    outcome, _ = load([row(2, "B", "E", "1"), row(3, "B", "F", "2")])
    outcome.supersede(2)
    # when
    report = build_report(outcome, SOURCE)
    # then
    assert report["status"] == "superseded"
    assert (report["rows_loaded"], report["rows_superseded"]) == (0, 2)


# --- strict JSON, bounded size ---------------------------------------------------------------


def test_the_report_is_strict_json_whatever_numbers_the_rows_held() -> None:
    # given rejected JSON rows holding values JSON itself cannot write
    records = [
        Record(2, {"store": "Oslo", "item": "Tap", "count": float("nan")}, "count is not finite"),
        Record(3, {"store": "Oslo", "item": float("inf"), "count": 1}, "item is a number"),
        Record(4, {"store": "Oslo", "item": "Tap", "count": [float("-inf")]}, "count is a list"),
    ]
    outcome, _ = load(records)

    # when
    encoded = encode_report(build_report(outcome, SOURCE))

    # then: no NaN or Infinity literal anywhere (encode_report would raise on one)
    assert b"NaN" not in encoded
    assert b"Infinity" not in encoded
    assert [r["row"]["count"] for r in json.loads(encoded)["rejected_rows"]] == [
        "nan",
        1,
        "(a list of 1 values)",
    ]


def test_a_report_of_thousands_of_huge_rejected_rows_stays_under_a_megabyte() -> None:
    # given 5,000 rejected rows of ten fields of 60,000 characters that JSON escapes six-fold
    huge = "\x01" * 60_000
    fields = {f"{huge}{n}": huge for n in range(12)}
    records = [Record(line, fields, "too many columns") for line in range(2, 5002)]
    records += [row(5002 + n, "Oslo", "Tap", "1") for n in range(3000)]
    outcome, _ = load(records)

    # when
    encoded = encode_report(build_report(outcome, SOURCE))
    report = json.loads(encoded)

    # then: bounded, the counts exact, and it says the listings were cut short
    assert len(encoded) <= 1_000_000
    assert (report["rows_rejected"], report["rows_duplicate"]) == (5000, 2999)
    assert report["listing_cut_short"] is True
    assert 0 < len(report["rejected_rows"]) < 5000


# --- the report's key ------------------------------------------------------------------------

_KEY_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")


def test_a_short_upload_key_has_its_report_beside_it() -> None:
    assert report_key_for("stores/berlin.csv") == "stores/berlin.csv.report.json"


@given(key=st.text(_KEY_CHARS, min_size=1, max_size=1024))
def test_a_report_key_stays_within_s3s_limit_for_every_key_s3_accepts(key: str) -> None:
    # given any key S3 accepts: up to 1,024 bytes of UTF-8
    if len(key.encode("utf-8")) > 1024:
        key = key.encode("utf-8")[:1024].decode("utf-8", "ignore")

    # when
    keys = [report_key_for(key), report_key_for(key, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")]

    # then
    assert all(len(k.encode("utf-8")) <= 1024 for k in keys)
    assert keys[0] != keys[1]
    assert all(k.endswith(".report.json") for k in keys)


@given(
    start=st.text(_KEY_CHARS, min_size=1020, max_size=1020).filter(
        lambda s: len(s.encode()) >= 1020
    ),
    ends=st.lists(st.text(_KEY_CHARS, min_size=1, max_size=4), min_size=2, max_size=2, unique=True),
)
def test_two_long_keys_that_share_a_beginning_get_different_reports(
    start: str, ends: list[str]
) -> None:
    # given two keys near the limit that differ only at the end
    keys = [(start + end).encode()[:1024].decode("utf-8", "ignore") for end in ends]
    if keys[0] == keys[1]:
        return  # the cut made them one key: nothing to tell apart
    # then
    assert report_key_for(keys[0]) != report_key_for(keys[1])


@pytest.mark.parametrize("multibyte", ["é", "€", "😀"])
def test_a_long_key_is_cut_at_a_character_boundary(multibyte: str) -> None:
    # given a key of 1,024 bytes of multi-byte characters
    key = (multibyte * 1024).encode()[:1024].decode("utf-8", "ignore")

    # when
    report_key = report_key_for(key)

    # then it is valid UTF-8 text that starts like the upload's key
    assert report_key.encode("utf-8").decode("utf-8") == report_key
    assert report_key.startswith(multibyte * 100)
