"""Loading one file as one snapshot: the two passes, duplicates, parts and the outcome."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.loading import (
    MAX_PARTS,
    MIN_ROW_BYTES,
    Continuation,
    Duplicate,
    LoadOutcome,
    RefusedEvent,
    SeenKeys,
)
from inventory.parsing import FileRejected, Record
from inventory.validation import StockRow
from tests.unit.loads import load, row, then_reject


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


def test_only_the_last_row_of_a_repeated_key_reaches_the_sink() -> None:
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
    assert [(r.line, r.count) for r in sink] == [(3, 1), (5, 3)]
    assert outcome.duplicates == [
        Duplicate(line=4, replaces_line=2, store="London", item="Echo Dot", replaces_record=0),
        Duplicate(line=5, replaces_line=4, store="London", item="Echo Dot", replaces_record=2),
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
    assert [r.line for r in sink] == [3, 4, 5, 6]


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


def test_seen_keys_never_grow_beyond_what_a_file_of_its_size_can_name() -> None:
    # given a table for a file of 60,000 bytes: at most 10,000 rows of six bytes
    seen = SeenKeys.for_file_of(60_000)

    # when as many distinct keys as the file can hold go in, and then more
    for index in range(10_000):
        seen.add(("s", str(index)), index)
    most = len(seen._hashes)
    index = 10_000
    with pytest.raises(FileRejected, match="more than .* different items"):  # noqa: PT012
        while index < 20_000:
            seen.add(("s", str(index)), index)
            index += 1

    # then it grew to what 10,000 keys need at most, and not beyond; small files start small
    assert most <= 10_000 / SeenKeys._LOAD + 2
    assert len(seen._hashes) == most
    assert len(SeenKeys.for_file_of(0)._hashes) == len(SeenKeys()._hashes) == 1024


def test_seen_keys_for_a_file_at_the_size_limit_stay_under_a_quarter_of_the_memory() -> None:
    # given the loader's 50 MB limit: the most keys it can name, in 12 bytes a slot, and the
    # old table beside the new one while growing
    most_slots = int(50 * 2**20 // MIN_ROW_BYTES / SeenKeys._LOAD) + 1

    # then the peak is bounded whatever the file's shape
    assert most_slots * 12 * 1.5 < 256 * 2**20


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


# --- a file loaded in parts, one invocation each ------------------------------------------


def test_a_load_asked_to_stop_stops_at_a_check_and_says_where_the_next_part_starts() -> None:
    # given five rows, and a stop asked every two records that says yes the second time
    records = [row(line, "Oslo", f"item-{line}", "1") for line in range(2, 7)]
    answers = iter([False, True])

    # when
    outcome, sink = load(records, stop=lambda: next(answers), check_every=2)

    # then: four records written, the fifth left for the next part; the counts cover the file
    assert (outcome.stopped_after, outcome.stopped_at_line) == (4, 6)
    assert [r.line for r in sink] == [2, 3, 4, 5]
    assert (outcome.rows_loaded, outcome.rows_written) == (5, 4)


def test_a_later_part_writes_only_its_own_records_and_counts_the_whole_file() -> None:
    # given a file whose first three records an earlier part wrote
    records = [
        row(2, "Oslo", "Tap", "1"),
        row(3, "Oslo", "Dot", "x"),
        row(4, "Oslo", "Echo", "2"),
        row(5, "Oslo", "Tap", "3"),  # repeats line 2: the earlier part did not write line 2
        row(6, "Oslo", "Show", "-1"),
    ]

    # when
    outcome, sink = load(records, skip=3)

    # then
    assert sink == [StockRow(5, "Oslo", "Tap", 3)]
    assert (outcome.rows_loaded, outcome.rows_rejected, outcome.rows_duplicate) == (2, 2, 1)
    assert [r.line for r in outcome.rejections] == [3, 6]
    assert outcome.duplicates == [Duplicate(5, 2, "Oslo", "Tap", replaces_record=0)]
    assert outcome.stopped_after is None


def test_a_load_never_stops_before_writing_past_where_it_started() -> None:
    # given a stop that always says yes, and a part that starts after record 4
    records = [row(line, "Oslo", f"item-{line}", "1") for line in range(2, 12)]

    # when
    outcome, sink = load(records, skip=4, stop=lambda: True, check_every=2)

    # then: it stops at the first check past its start, having written something
    assert outcome.stopped_after == 6
    assert [r.line for r in sink] == [6, 7]


def test_a_continuation_beyond_the_last_record_is_refused_before_anything_is_written() -> None:
    # given a file of three records and an event that says 3,000 were done
    records = [row(line, "Oslo", f"item-{line}", "1") for line in range(2, 5)]

    # then
    with pytest.raises(RefusedEvent, match="after record 3,000, but the file has 3 records"):
        load(records, skip=3000)


_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["Oslo", "Rome"]),
        st.sampled_from(["Tap", "Dot", "Echo"]),
        st.sampled_from(["0", "4", "x", "-1", "", "12"]),
    ),
    max_size=40,
)


def _last_valid_rows(rows: list[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
    """What the file states: each key's last valid count (the model the loader must match)."""
    stated: dict[tuple[str, str], str] = {}
    for store, item, count in rows:
        if count.isdigit():
            stated[(store, item)] = count
    return stated


@given(rows=_ROWS)
def test_the_sink_gets_each_key_once_with_its_last_valid_row_in_file_order(
    rows: list[tuple[str, str, str]],
) -> None:
    # given any file of repeated keys, valid and invalid counts
    records = [row(line, store, item, count) for line, (store, item, count) in enumerate(rows, 2)]

    # when
    outcome, sink = load(records)

    # then: the table passes through no state the file does not end in
    assert {(r.store, r.item): str(r.count) for r in sink} == _last_valid_rows(rows)
    assert len(sink) == len({r.key for r in sink})
    assert [r.line for r in sink] == sorted(r.line for r in sink)
    # and every line is accounted for
    assert outcome.lines_read == len(rows)


@given(rows=_ROWS, answers=st.lists(st.booleans(), max_size=20), every=st.integers(1, 5))
def test_a_file_loaded_in_any_number_of_parts_writes_what_one_load_writes(
    rows: list[tuple[str, str, str]], answers: list[bool], every: int
) -> None:
    # given a file, and a stop that says yes whenever the answers do
    records = [row(line, store, item, count) for line, (store, item, count) in enumerate(rows, 2)]
    whole, written_at_once = load(records)
    said = iter(answers)

    # when it is loaded part after part, each starting where the one before stopped
    written: list[StockRow] = []
    skip, parts = 0, 0
    while True:
        parts += 1
        outcome, sink = load(records, skip=skip, stop=lambda: next(said, False), check_every=every)
        written += sink
        if outcome.stopped_after is None:
            break
        assert outcome.stopped_after > skip  # every part moves on, so the parts end
        skip = outcome.stopped_after

    # then: each key written once, by the part holding its last row; the last part's counts
    # are the whole file's
    assert written == written_at_once
    assert (outcome.rows_loaded, outcome.rows_rejected, outcome.rows_duplicate) == (
        whole.rows_loaded,
        whole.rows_rejected,
        whole.rows_duplicate,
    )
    assert outcome.duplicates == whole.duplicates
    assert parts <= len(answers) + 1


def test_a_zero_early_and_a_count_late_in_another_part_never_reach_the_table() -> None:
    # given a key at 0 on line 2 and at 5 a thousand lines on, loaded in parts of ten records
    records = [row(2, "Oslo", "Tap", "0")]
    records += [row(line, "Oslo", f"filler-{line}", "1") for line in range(3, 1002)]
    records += [row(1002, "Oslo", "Tap", "5")]
    written: list[StockRow] = []
    skip = 0
    while True:
        outcome, sink = load(records, skip=skip, stop=lambda: True, check_every=10)
        written += sink
        if outcome.stopped_after is None:
            break
        skip = outcome.stopped_after

    # then: the only row of Tap ever written is the last
    assert [r.count for r in written if r.item == "Tap"] == [5]


def test_a_rejected_record_spanning_lines_counts_each_line() -> None:
    # given a quote opened on line 3 and never closed, swallowing lines 3 to 7
    records = [
        row(2, "Oslo", "Tap", "1"),
        Record(3, {}, "a quote opened on line 3 is never closed", last_line=7),
    ]

    # when
    outcome, _ = load(records)

    # then
    assert (outcome.rows_rejected, outcome.lines_read) == (5, 6)
    assert outcome.rejections[0].last_line == 7


def test_what_a_reader_ignored_is_kept_in_the_outcome() -> None:
    # given a reader that reports blank lines and ignored columns
    class Reader(list[Record]):
        blank_lines = 3
        ignored_columns = ["price", "colour"]

    # when
    outcome, _ = load(Reader([row(2, "Oslo", "Tap", "1")]))

    # then
    assert (outcome.blank_lines, outcome.ignored) == (3, ["price", "colour"])


def test_a_continuation_rides_in_the_event_record_and_counts_the_parts() -> None:
    # given an S3 record, and a first part that stopped after 3,000 records, 40 rows superseded
    record = {"eventTime": "2025-01-01T00:00:00.000Z", "s3": {"object": {"key": "a.csv"}}}
    first = Continuation.of(record)
    outcome = LoadOutcome(rows_superseded=40, stopped_after=3000, rows_written=2990)

    # when
    asked = first.next_part(record, outcome)

    # then: the same S3 record, carrying where the second part starts
    assert first == Continuation(part=1, records_done=0, rows_superseded=0)
    assert {k: v for k, v in asked.items() if k != Continuation.EVENT_FIELD} == record
    assert json.loads(json.dumps(asked)) == asked
    assert Continuation.of(asked) == Continuation(
        part=2, records_done=3000, rows_superseded=40, rows_written=2990
    )


def test_a_part_that_wrote_nothing_new_asks_for_no_next_part() -> None:
    # given a second part that starts after record 3,000 and claims to have stopped there
    record = {"s3": {"object": {"key": "a.csv"}}}
    second = Continuation(part=2, records_done=3000)

    # then: asking for a third would loop for ever
    with pytest.raises(ValueError, match="wrote nothing new"):
        second.next_part(record, LoadOutcome(stopped_after=3000))


@pytest.mark.parametrize(
    "carried",
    [
        {"part": MAX_PARTS + 1, "recordsDone": 10},
        {"part": 0},
        {"part": 2, "recordsDone": -5},
        {"part": "two"},
        {"part": 2, "rowsWritten": None},
    ],
)
def test_a_continuation_no_loader_could_have_written_is_refused(carried: dict[str, Any]) -> None:
    # given an event record carrying a continuation out of range or of the wrong shape
    record = {"s3": {"object": {"key": "a.csv"}}, Continuation.EVENT_FIELD: carried}

    # then
    with pytest.raises(RefusedEvent, match="continuation"):
        Continuation.of(record)


def test_the_last_allowed_part_asks_for_no_more_and_gives_up_with_a_reason() -> None:
    # given the last part a file may have, stopped with keys left to write
    last = Continuation(part=MAX_PARTS, records_done=100, rows_written=90)
    outcome = LoadOutcome(
        rows_loaded=150, rows_superseded=5, stopped_after=130, stopped_at_line=131, rows_written=25
    )
    with pytest.raises(ValueError, match=f"at most {MAX_PARTS} parts"):
        last.next_part({}, outcome)

    # when
    last.give_up(outcome, "of up to 300 s each")

    # then: what was written stays loaded, the rest is counted as not reached, with a reason
    assert (outcome.rows_loaded, outcome.rows_superseded, outcome.rows_not_reached) == (110, 5, 40)
    assert outcome.status == "partially_loaded"
    assert outcome.file_error is not None
    assert outcome.file_error.line == 131
    assert f"in {MAX_PARTS} invocations" in outcome.file_error.reason
    assert outcome.stopped_after is None
