"""Loading one file: validation, duplicates, the outcome and the report."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from inventory.loading import (
    MAX_LISTED_ROWS,
    Duplicate,
    LoadOutcome,
    SeenKeys,
    build_report,
    load_records,
    safe_cell,
)
from inventory.parsing import FileRejected, Record, read_records
from inventory.validation import StockRow

SOURCE = {"uri": "s3://inventory-uploads-000000000000-us-east-1/stores/berlin.csv"}


def row(line: int, store: str, item: str, count: Any) -> Record:
    return Record(line, {"store": store, "item": item, "count": count})


def then_reject(records: list[Record], error: FileRejected) -> Iterator[Record]:
    """The records, then the file stops being readable, as read_records does mid-file."""
    yield from records
    raise error


def load(records: Any) -> tuple[LoadOutcome, list[StockRow]]:
    sink: list[StockRow] = []
    outcome = load_records(records, sink.append)
    return outcome, sink


def test_valid_rows_go_to_the_sink_in_file_order_and_are_counted() -> None:
    # given
    records = [
        row(2, "Berlin", "Amazon Tap", "15"),
        row(3, "Berlin", "Echo Dot", "12"),
        row(4, "Berlin", "Echo Plus", "0"),
    ]
    # when
    outcome, sink = load(records)
    # then
    assert sink == [
        StockRow(2, "Berlin", "Amazon Tap", 15),
        StockRow(3, "Berlin", "Echo Dot", 12),
        StockRow(4, "Berlin", "Echo Plus", 0),
    ]
    assert (outcome.rows_loaded, outcome.rows_rejected, outcome.rows_duplicate) == (3, 0, 0)
    assert outcome.status == "loaded"


def test_rejected_rows_are_counted_and_listed_and_never_reach_the_sink() -> None:
    # given
    records = [
        row(2, "London", "Echo Dot", "5"),
        row(3, "London", "Echo Show", "-2"),
        row(4, "London", "", "3"),
        row(5, "London", "Kindle", "1.5"),
        Record(6, {}, "too many columns: expected 3, found 4"),
    ]
    # when
    outcome, sink = load(records)
    # then
    assert sink == [StockRow(2, "London", "Echo Dot", 5)]
    assert (outcome.rows_loaded, outcome.rows_rejected, outcome.rows_duplicate) == (1, 4, 0)
    assert [(r.line, r.reason) for r in outcome.rejections] == [
        (3, "count is negative"),
        (4, "item is empty"),
        (5, "count must be a whole number, not '1.5'"),
        (6, "too many columns: expected 3, found 4"),
    ]
    assert outcome.status == "loaded_with_rejections"


def test_a_repeated_key_goes_to_the_sink_again_so_the_last_occurrence_wins() -> None:
    # given
    records = [
        row(2, "London", "Echo Dot", "5"),
        row(3, "London", "Kindle", "1"),
        row(4, "London", " Echo Dot ", "4"),
        row(5, "London", "Echo Dot", "3"),
    ]
    # when
    outcome, sink = load(records)
    # then
    assert [(r.line, r.count) for r in sink] == [(2, 5), (3, 1), (4, 4), (5, 3)]
    assert outcome.duplicates == [
        Duplicate(line=4, replaces_line=2, store="London", item="Echo Dot"),
        Duplicate(line=5, replaces_line=4, store="London", item="Echo Dot"),
    ]
    assert (outcome.rows_loaded, outcome.rows_rejected, outcome.rows_duplicate) == (2, 0, 2)
    assert outcome.status == "loaded"


def test_rows_loaded_counts_distinct_store_and_item_keys() -> None:
    # given the same item in two stores, and two items swapped between store and item
    records = [
        row(2, "Berlin", "Echo Dot", "1"),
        row(3, "London", "Echo Dot", "1"),
        row(4, "Echo Dot", "Berlin", "1"),
        row(5, "Berlin", "Echo Dot", "2"),
        row(6, "Berlin", "echo dot", "2"),
    ]
    # when
    outcome, sink = load(records)
    # then
    assert outcome.rows_loaded == 4
    assert outcome.rows_duplicate == 1
    assert len(sink) == 5


def test_a_rejected_row_does_not_count_as_the_earlier_occurrence_of_a_key() -> None:
    # given
    records = [row(2, "Berlin", "Echo Dot", "x"), row(3, "Berlin", "Echo Dot", "1")]
    # when
    outcome, sink = load(records)
    # then
    assert outcome.duplicates == []
    assert (outcome.rows_loaded, outcome.rows_rejected, outcome.rows_duplicate) == (1, 1, 0)


def test_a_file_rejected_mid_stream_keeps_the_rows_already_sent() -> None:
    # given
    error = FileRejected("the JSON array is not closed with ']'", 4)
    records = then_reject(
        [row(2, "Berlin", "Echo Dot", "1"), row(3, "Berlin", "Echo Plus", "0")], error
    )
    # when
    outcome, sink = load(records)
    # then
    assert [r.item for r in sink] == ["Echo Dot", "Echo Plus"]
    assert outcome.rows_loaded == 2
    assert outcome.file_error is error
    assert outcome.status == "partially_loaded"


@pytest.mark.parametrize(
    ("records", "error", "status"),
    [
        pytest.param([row(2, "B", "E", "1")], None, "loaded", id="all-good"),
        pytest.param(
            [row(2, "B", "E", "1"), row(3, "B", "E", "2")], None, "loaded", id="duplicates-only"
        ),
        pytest.param(
            [row(2, "B", "E", "1"), row(3, "B", "F", "x")],
            None,
            "loaded_with_rejections",
            id="some-rejected",
        ),
        pytest.param(
            [row(2, "B", "E", "x")],
            None,
            "rejected",
            id="every-row-rejected",
        ),
        pytest.param([], FileRejected("the file is empty"), "rejected", id="file-rejected"),
        pytest.param(
            [row(2, "B", "E", "x")],
            FileRejected("the file is not valid UTF-8 (byte 0xe9)"),
            "rejected",
            id="rejected-after-only-bad-rows",
        ),
        pytest.param(
            [row(2, "B", "E", "1")],
            FileRejected("the file is not valid UTF-8 (byte 0xe9)"),
            "partially_loaded",
            id="rejected-after-good-rows",
        ),
    ],
)
def test_the_status_says_how_much_of_the_file_was_loaded(
    records: list[Record], error: FileRejected | None, status: str
) -> None:
    # given
    source = records if error is None else then_reject(records, error)
    # when
    outcome, _ = load(source)
    # then
    assert outcome.status == status


def test_read_and_load_a_real_file_end_to_end() -> None:
    # given the sample London file with its errors
    data = (
        b"store,item,count\nLondon,Echo Dot,5\nLondon,Echo Show,-2\nLondon,,3\n"
        b"London,Kindle,1.5\nLondon,Fire TV Stick,0\nLondon,Echo Dot,4\n"
    )
    # when
    outcome, sink = load(read_records(io.BytesIO(data), "stores/london-with-errors.csv"))
    report = build_report(outcome, SOURCE)
    # then
    assert [(r.item, r.count) for r in sink] == [
        ("Echo Dot", 5),
        ("Fire TV Stick", 0),
        ("Echo Dot", 4),
    ]
    assert report == {
        "source": SOURCE,
        "status": "loaded_with_rejections",
        "rows_loaded": 2,
        "rows_rejected": 3,
        "rows_duplicate": 1,
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
        (["=1+1"], ["=1+1"]),
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
    assert len(sink) == MAX_LISTED_ROWS + extra + 1


def test_the_report_of_a_hostile_file_encodes_as_utf8_json() -> None:
    # given JSON Lines with escapes Python decodes to text no UTF-8 encoder accepts
    data = (
        b'{"store": "\\ud800", "item": "x", "count": "abc"}\n'
        b'{"store": "Berlin", "item": "Echo \\udc00", "count": 1}\n'
        b'{"store": "Berlin", "item": "Echo \\ud83d\\ude00", "count": 1}\n'
        b'{"store": "Berlin", "item": "Echo", "count": 1, "\\ud801": 1}\n'
    )
    outcome, sink = load(read_records(io.BytesIO(data), "stores/hostile.jsonl"))
    # when
    report = build_report(outcome, SOURCE)
    encoded = json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")
    # then
    assert json.loads(encoded) == report
    assert [r.item for r in sink] == ["Echo \U0001f600"]
    assert [r["line"] for r in report["rejected_rows"]] == [1, 2, 4]


def test_seen_keys_returns_none_the_first_time_then_the_line_it_last_saw() -> None:
    # given
    seen = SeenKeys()
    # when
    first = seen.add(("Berlin", "Echo Dot"), 2)
    second = seen.add(("Berlin", "Echo Dot"), 5)
    third = seen.add(("Berlin", "Echo Dot"), 9)
    other = seen.add(("Echo Dot", "Berlin"), 10)
    # then
    assert (first, second, third, other) == (None, 2, 5, None)
    assert len(seen) == 2


@pytest.mark.parametrize("capacity", [1, 2, 1024])
def test_seen_keys_agrees_with_a_dict_as_it_grows_past_many_thousands_of_keys(
    capacity: int,
) -> None:
    # given random keys, a third of them repeated
    rng = random.Random(20240501 + capacity)
    pool = [(f"store {rng.randrange(50)}", f"item {rng.getrandbits(40):x}") for _ in range(40_000)]
    keys = [rng.choice(pool) for _ in range(60_000)]
    seen, expected = SeenKeys(capacity), dict[tuple[str, str], int]()
    # when
    answers = [seen.add(key, line) for line, key in enumerate(keys, start=1)]
    # then
    wanted: list[int | None] = []
    for line, key in enumerate(keys, start=1):
        wanted.append(expected.get(key))
        expected[key] = line
    assert answers == wanted
    assert len(seen) == len(expected)


def test_report_neutralises_formulas_in_field_names_too() -> None:
    # given a JSON record whose unexpected key is a formula
    outcome = load_records([Record(2, {"=HYPERLINK(1)": "x"}, "unexpected field")], lambda _: None)

    # when
    report = build_report(outcome, {})

    # then the key is prefixed like any value
    assert list(report["rejected_rows"][0]["row"]) == ["'=HYPERLINK(1)"]
