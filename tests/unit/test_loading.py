"""Loading one file: validation, duplicates, the outcome and the report."""

from __future__ import annotations

import io
import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.loading import (
    MAX_LISTED_ROWS,
    Continuation,
    Duplicate,
    LoadOutcome,
    SeenKeys,
    build_report,
    load_records,
    safe_cell,
    snapshot_time,
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
        "rows_superseded": 0,
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


def test_seen_keys_sized_for_a_file_holds_its_rows_without_growing() -> None:
    # given a table sized for a 25 MB file, about a million rows of 25 bytes
    seen = SeenKeys.for_file_of(25_000_000)
    capacity = len(seen._hashes)
    # when a million distinct keys go in
    for line in range(1, 1_000_001):
        seen.add(("store", str(line)), line)
    # then it never had to grow, and small files still start small
    assert len(seen._hashes) == capacity == 2**21
    assert len(SeenKeys.for_file_of(0)._hashes) == len(SeenKeys()._hashes) == 1024


def test_report_neutralises_formulas_in_field_names_too() -> None:
    # given a JSON record whose unexpected key is a formula
    outcome = load_records([Record(2, {"=HYPERLINK(1)": "x"}, "unexpected field")], lambda _: None)

    # when
    report = build_report(outcome, {})

    # then the key is prefixed like any value
    assert list(report["rejected_rows"][0]["row"]) == ["'=HYPERLINK(1)"]


# --- rows superseded by a newer file ---------------------------------------------------------


def test_supersede_moves_rows_from_loaded_to_superseded() -> None:
    # given
    outcome, _ = load([row(2, "B", "E", "1"), row(3, "B", "F", "2"), row(4, "B", "G", "3")])
    # when
    outcome.supersede(2)
    # then
    assert (outcome.rows_loaded, outcome.rows_superseded) == (1, 2)
    assert outcome.status == "loaded"


def test_supersede_of_no_rows_changes_nothing() -> None:
    # given
    outcome, _ = load([row(2, "B", "E", "1")])
    # when
    outcome.supersede(0)
    # then
    assert (outcome.rows_loaded, outcome.rows_superseded) == (1, 0)
    assert outcome.status == "loaded"


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        pytest.param(LoadOutcome(rows_superseded=3), "superseded", id="all-superseded"),
        pytest.param(
            LoadOutcome(rows_superseded=3, rows_rejected=1), "superseded", id="and-rejections"
        ),
        pytest.param(LoadOutcome(rows_loaded=1, rows_superseded=3), "loaded", id="some-loaded"),
        pytest.param(
            LoadOutcome(rows_loaded=1, rows_superseded=3, rows_rejected=1),
            "loaded_with_rejections",
            id="some-loaded-and-rejections",
        ),
        pytest.param(
            LoadOutcome(rows_superseded=3, file_error=FileRejected("the file is not valid UTF-8")),
            "rejected",
            id="superseded-then-file-error",
        ),
        pytest.param(
            LoadOutcome(
                rows_loaded=1,
                rows_superseded=3,
                file_error=FileRejected("the file is not valid UTF-8"),
            ),
            "partially_loaded",
            id="some-loaded-then-file-error",
        ),
        pytest.param(LoadOutcome(), "rejected", id="nothing-at-all"),
    ],
)
def test_the_status_of_a_file_whose_rows_a_newer_file_superseded(
    outcome: LoadOutcome, status: str
) -> None:
    # given an outcome
    # when
    result = outcome.status
    # then
    assert result == status


def test_the_report_counts_superseded_rows() -> None:
    # given
    outcome, _ = load([row(2, "B", "E", "1"), row(3, "B", "F", "2")])
    outcome.supersede(2)
    # when
    report = build_report(outcome, SOURCE)
    # then
    assert report["status"] == "superseded"
    assert (report["rows_loaded"], report["rows_superseded"]) == (0, 2)


# --- snapshot_time ---------------------------------------------------------------------------

LAST_MODIFIED = datetime(2026, 11, 22, 3, 5, 51, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event_time", "snapshot"),
    [
        pytest.param("2026-11-22T03:05:51.839Z", "2026-11-22T03:05:51.839+00:00", id="z-suffix"),
        pytest.param(
            "2026-11-22T03:05:51.839+00:00", "2026-11-22T03:05:51.839+00:00", id="utc-offset"
        ),
        pytest.param(
            "2026-11-22T05:05:51.839+02:00", "2026-11-22T03:05:51.839+00:00", id="east-offset"
        ),
        pytest.param(
            "2026-11-21T22:05:51.839-05:00", "2026-11-22T03:05:51.839+00:00", id="west-offset"
        ),
        pytest.param("2026-11-22T03:05:51Z", "2026-11-22T03:05:51.000+00:00", id="no-millis"),
        pytest.param(
            "2026-11-22T03:05:51.839512Z", "2026-11-22T03:05:51.839+00:00", id="micros-cut"
        ),
        pytest.param(
            "2026-11-22T23:59:59.999-01:00", "2026-11-23T00:59:59.999+00:00", id="next-day"
        ),
    ],
)
def test_snapshot_time_is_the_event_time_in_utc_to_the_millisecond(
    event_time: str, snapshot: str
) -> None:
    # given an S3 event time, written one way or another
    # when
    result = snapshot_time(event_time, LAST_MODIFIED)
    # then
    assert result == snapshot


@pytest.mark.parametrize("event_time", [None, ""], ids=["absent", "empty"])
def test_snapshot_time_without_an_event_time_is_the_objects_last_modified(
    event_time: str | None,
) -> None:
    # given
    # when
    result = snapshot_time(event_time, LAST_MODIFIED)
    # then
    assert result == "2026-11-22T03:05:51.000+00:00"


def test_snapshot_time_converts_a_last_modified_with_an_offset_to_utc() -> None:
    # given
    paris = timezone(timedelta(hours=1))
    last_modified = datetime(2026, 11, 22, 4, 5, 51, 250_000, tzinfo=paris)
    # when
    result = snapshot_time(None, last_modified)
    # then
    assert result == "2026-11-22T03:05:51.250+00:00"


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set the process's local time zone (as a container's TZ would); restored after."""

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        assert (time.timezone != 0) == (zone != "UTC"), "the zone did not take: nothing proved"

    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize(
    ("event_time", "snapshot"),
    [
        pytest.param("2026-11-22T03:05:51.839", "2026-11-22T03:05:51.839+00:00", id="millis"),
        pytest.param("2026-11-22T03:05:51", "2026-11-22T03:05:51.000+00:00", id="seconds"),
        pytest.param("2026-11-22T23:59:59.999", "2026-11-22T23:59:59.999+00:00", id="late"),
    ],
)
def test_snapshot_time_reads_an_event_time_without_a_zone_as_utc(
    event_time: str, snapshot: str, zone: str, local_zone: Callable[[str], None]
) -> None:
    # given: an event time with no offset, and a container whose local zone is `zone`
    local_zone(zone)
    # when
    result = snapshot_time(event_time, LAST_MODIFIED)
    # then: S3 speaks UTC, so the container's zone changes nothing
    assert result == snapshot


def test_snapshot_time_reads_a_last_modified_without_a_zone_as_utc(
    local_zone: Callable[[str], None],
) -> None:
    # given: no event time, a naive Last-Modified, a container east of UTC
    local_zone("Asia/Kolkata")
    # when
    result = snapshot_time(None, datetime(2026, 11, 22, 3, 5, 51, 250_000))
    # then
    assert result == "2026-11-22T03:05:51.250+00:00"


def test_a_naive_event_time_sorts_with_the_same_moment_written_in_utc() -> None:
    # given
    naive, zulu = "2026-11-22T03:05:51.839", "2026-11-22T03:05:51.839Z"
    # when
    results = (snapshot_time(naive, LAST_MODIFIED), snapshot_time(zulu, LAST_MODIFIED))
    # then: one text for one moment, so the claim's condition sees them as equal
    assert results[0] == results[1]


def test_snapshot_times_sort_as_text_in_time_order() -> None:
    # given moments written with different offsets, shuffled
    moments = [
        "2026-11-22T05:05:51.839+02:00",  # 03:05:51.839Z
        "2026-11-22T03:05:51.840Z",
        "2026-11-21T22:05:52-05:00",  # 03:05:52.000Z
        "2026-11-22T03:05:51.838Z",
        "2026-11-22T02:06:00+00:00",
    ]
    # when
    snapshots = [snapshot_time(moment, LAST_MODIFIED) for moment in moments]
    # then: comparing the text (as DynamoDB's condition does) compares the times
    by_text = sorted(range(len(moments)), key=lambda n: snapshots[n])
    by_time = sorted(
        range(len(moments)),
        key=lambda n: datetime.fromisoformat(moments[n].replace("Z", "+00:00")),
    )
    assert by_text == by_time


# --- a file loaded in parts, one invocation each ------------------------------------------


def test_a_load_asked_to_stop_stops_at_a_check_and_says_how_many_records_it_read() -> None:
    # given five rows, and a stop asked every two records that says yes the second time
    records = [row(line, "Oslo", f"item-{line}", "1") for line in range(2, 7)]
    answers = iter([False, True])
    sink: list[StockRow] = []

    # when
    outcome = load_records(records, sink.append, stop=lambda: next(answers), check_every=2)

    # then: four records read and passed on, the fifth left for the next part
    assert outcome.stopped_after == 4
    assert [r.line for r in sink] == [2, 3, 4, 5]
    assert outcome.rows_loaded == 4


def test_skipped_records_are_counted_and_checked_for_duplicates_but_not_written() -> None:
    # given a file whose first three records an earlier part loaded
    records = [
        row(2, "Oslo", "Tap", "1"),
        row(3, "Oslo", "Dot", "x"),
        row(4, "Oslo", "Echo", "2"),
        row(5, "Oslo", "Tap", "3"),  # repeats line 2, which the earlier part wrote
        row(6, "Oslo", "Show", "-1"),
    ]
    sink: list[StockRow] = []
    rewritten: list[StockRow] = []

    # when
    outcome = load_records(records, sink.append, skip=3, rewrite=rewritten.append)

    # then: only the new part's row is written, as a rewrite of a key the earlier part had;
    # the outcome covers the whole file
    assert (sink, rewritten) == ([], [StockRow(5, "Oslo", "Tap", 3)])
    assert (outcome.rows_loaded, outcome.rows_rejected, outcome.rows_duplicate) == (2, 2, 1)
    assert [r.line for r in outcome.rejections] == [3, 6]
    assert outcome.duplicates == [Duplicate(5, 2, "Oslo", "Tap")]
    assert outcome.stopped_after is None


def test_a_load_never_stops_among_the_records_it_skips() -> None:
    # given a stop that always says yes, and a part that starts after record 4
    records = [row(line, "Oslo", f"item-{line}", "1") for line in range(2, 12)]
    sink: list[StockRow] = []

    # when
    outcome = load_records(records, sink.append, skip=4, stop=lambda: True, check_every=2)

    # then: it stops at the first check past the skipped records, having written something
    assert outcome.stopped_after == 6
    assert [r.line for r in sink] == [6, 7]


_PART_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["Oslo", "Rome"]),
        st.sampled_from(["Tap", "Dot", "Echo"]),
        st.sampled_from(["0", "4", "x", "-1", ""]),
    ),
    max_size=40,
)


@given(rows=_PART_ROWS, answers=st.lists(st.booleans(), max_size=20), every=st.integers(1, 5))
def test_a_file_loaded_in_any_number_of_parts_writes_what_one_load_writes(
    rows: list[tuple[str, str, str]], answers: list[bool], every: int
) -> None:
    # given a file, and a stop that says yes whenever the answers do
    records = [row(line, store, item, count) for line, (store, item, count) in enumerate(rows, 2)]
    whole, written_at_once = load(records)
    said = iter(answers)

    # when it is loaded part after part, each skipping what the earlier ones read
    written: list[StockRow] = []
    skip, parts = 0, 0
    while True:
        parts += 1
        outcome = load_records(
            records, written.append, skip=skip, stop=lambda: next(said, False), check_every=every
        )
        if outcome.stopped_after is None:
            break
        assert outcome.stopped_after > skip  # every part moves on, so the parts end
        skip = outcome.stopped_after

    # then: each row written once, in order, and the last part's outcome is the whole file's
    assert written == written_at_once
    assert outcome == whole
    assert parts <= len(answers) + 1


def test_a_continuation_rides_in_the_event_record_and_counts_the_parts() -> None:
    # given an S3 record, and a first part that stopped after 3,000 records, 40 rows superseded
    record = {"eventTime": "2025-01-01T00:00:00.000Z", "s3": {"object": {"key": "a.csv"}}}
    first = Continuation.of(record)
    outcome = LoadOutcome(rows_superseded=40, stopped_after=3000)

    # when
    asked = first.next_part(record, outcome)

    # then: the same S3 record, carrying where the second part starts
    assert first == Continuation(part=1, records_done=0, rows_superseded=0)
    assert {k: v for k, v in asked.items() if k != Continuation.EVENT_FIELD} == record
    assert json.loads(json.dumps(asked)) == asked
    assert Continuation.of(asked) == Continuation(part=2, records_done=3000, rows_superseded=40)


def test_a_part_that_read_nothing_new_asks_for_no_next_part() -> None:
    # given a second part that starts after record 3,000 and claims to have stopped there
    record = {"s3": {"object": {"key": "a.csv"}}}
    second = Continuation(part=2, records_done=3000)

    # then: asking for a third would loop for ever
    with pytest.raises(ValueError, match="read nothing new"):
        second.next_part(record, LoadOutcome(stopped_after=3000))
