"""Loading one file as one snapshot: every row validated, the last row of each key the only one
written, every line accounted for.

Pure Python, no AWS: rows go to a `sink` callable (the DynamoDB writer in production, a list in
tests), and the outcome becomes the report the uploader reads (inventory.report).

A file states one state of its store. A (store, item) listed twice ends with its last row's
count, and the table never holds the earlier row's count on the way, not even for a moment: a
0 early and a 5 late must not alert. So a file is read twice. The first pass validates every
record and remembers, for each key, the record that last names it; the second pass writes only
those records. Both passes read the same bytes (the handler keeps a copy of the object), and a
file loaded in several invocations ("parts") does both in each, so a part needs nothing from
the one before but how far it got.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from inventory.cells import safe_fields
from inventory.parsing import FileRejected, Record
from inventory.validation import Rejection, StockRow, validate

# The report lists this many rejected and duplicate rows; the counts always cover all of them.
MAX_LISTED_ROWS = 1000

# How often (in records) a load that may have to stop part-way asks whether to.
STOP_CHECK_INTERVAL = 1000

# A file still unfinished after this many invocations stops where it is, partially loaded.
# AWS's recursive loop detection stops a chain of about 16 invocations of one function (each
# part invokes the next); 12 leaves room for a reload of a newer snapshot and for retries.
MAX_PARTS = 12

# The shortest row a file can hold ("a,b,0" and a line end): a file of n bytes names at most
# n / 6 keys, which caps the duplicate-key table whatever the file's shape.
MIN_ROW_BYTES = 6


class RefusedEvent(Exception):
    """An event the loader will not act on: it claims what the file or the clock contradicts."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SeenKeys:
    """For each (store, item) key of a file, the index of the record that last named it, in
    12 bytes a key.

    A dict of tuples would cost well over 100 bytes a key; this open-addressing table keeps a
    64-bit hash and a 32-bit record index per slot, and never grows beyond what a file of the
    given size can fill. Two distinct keys sharing a 64-bit hash (odds about 1 in 10^7 for a
    million keys) would be taken for one: only the later would be written.
    """

    _LOAD = 0.75  # grow past this share of slots filled: linear probing stays short

    def __init__(self, capacity: int = 1024, most_keys: int = 2**32) -> None:
        self._most = max(capacity, int(most_keys / self._LOAD) + 2)
        self._hashes, self._indexes = _zeros("Q", capacity), _zeros("I", capacity)
        self._size = 0

    @classmethod
    def for_file_of(cls, size_bytes: int) -> SeenKeys:
        """A table for a file of `size_bytes`: it starts small (rows are seldom the shortest)
        and grows up to what the file's size allows, never beyond."""
        most = max(1, size_bytes // MIN_ROW_BYTES)
        return cls(min(1024 * 1024, max(1024, 2 * (size_bytes // 64))), most)

    def add(self, key: tuple[str, str], index: int) -> int | None:
        """Record `key` as last named by record `index`; return the index it had, if any."""
        fingerprint = (hash(key) & 0xFFFF_FFFF_FFFF_FFFF) or 1  # 0 marks an empty slot
        slot = self._find(fingerprint)
        if self._hashes[slot]:
            previous = self._indexes[slot]
            self._indexes[slot] = index
            return previous
        if self._size + 1 > len(self._hashes) * self._LOAD:
            self._grow()
            slot = self._find(fingerprint)
        if self._size + 2 > len(self._hashes):  # keep one slot empty, or a search never ends
            raise FileRejected(
                f"the file names more than {self._size:,} different items, more than a file of "
                "its size can: split it"
            )
        self._hashes[slot], self._indexes[slot] = fingerprint, index
        self._size += 1
        return None

    def last(self, key: tuple[str, str]) -> int | None:
        """The index of the record that last named `key`, or None if none did."""
        fingerprint = (hash(key) & 0xFFFF_FFFF_FFFF_FFFF) or 1
        slot = self._find(fingerprint)
        return self._indexes[slot] if self._hashes[slot] else None

    def __len__(self) -> int:
        return self._size

    def _find(self, fingerprint: int) -> int:
        hashes, capacity = self._hashes, len(self._hashes)
        slot = fingerprint % capacity
        while (current := hashes[slot]) and current != fingerprint:
            slot = (slot + 1) % capacity
        return slot

    def _grow(self) -> None:
        capacity = min(2 * len(self._hashes), self._most)
        if capacity <= len(self._hashes):
            return  # the file cannot name more keys than this table already holds
        old_hashes, old_indexes = self._hashes, self._indexes
        self._hashes, self._indexes = _zeros("Q", capacity), _zeros("I", capacity)
        for fingerprint, index in zip(old_hashes, old_indexes, strict=True):
            if fingerprint:
                slot = self._find(fingerprint)
                self._hashes[slot], self._indexes[slot] = fingerprint, index


def _zeros(typecode: str, length: int) -> array[int]:
    """An array of `length` zeros, made in place: array(code, bytes(n)) would first build the
    n zero bytes and then copy them, doubling the table's peak."""
    return array(typecode, [0]) * length


@dataclass(slots=True)
class Duplicate:
    """A row whose (store, item) an earlier row of the same file named; the later row wins."""

    line: int
    replaces_line: int | None
    store: str
    item: str
    replaces_record: int = -1  # the earlier row's record index, until its line is known


@dataclass
class LoadOutcome:
    """Every row of one file, accounted for."""

    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_superseded: int = 0
    # Rows of a file that stopped after MAX_PARTS, at rows it never reached.
    rows_not_reached: int = 0
    blank_lines: int = 0
    ignored: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    file_error: FileRejected | None = None
    records_total: int = 0
    # Set when writing stopped early on request: the records before this one were written,
    # the rest were not; `stopped_at_line` is the line of the first record not written.
    stopped_after: int | None = None
    stopped_at_line: int | None = None
    rows_written: int = 0

    @property
    def lines_read(self) -> int:
        """The data lines of the file: every one is loaded, rejected, superseded, a duplicate
        of a later row, or (a file cut short after MAX_PARTS) not reached."""
        return (
            self.rows_loaded
            + self.rows_rejected
            + self.rows_superseded
            + self.rows_duplicate
            + self.rows_not_reached
        )

    def supersede(self, rows: int) -> None:
        """`rows` of the loaded keys were not written: the table has them from a newer file."""
        self.rows_loaded -= rows
        self.rows_superseded += rows

    @property
    def status(self) -> str:
        if not self.rows_loaded and self.rows_superseded and self.file_error is None:
            return "superseded"
        if not self.rows_loaded:
            return "rejected"
        if self.file_error is not None:
            return "partially_loaded"
        return "loaded_with_rejections" if self.rows_rejected else "loaded"


@dataclass(frozen=True)
class Continuation:
    """How far the earlier invocations of a file loaded in parts got; carried in the event
    record that asks for the next part, under `EVENT_FIELD`."""

    EVENT_FIELD = "inventoryContinuation"

    part: int = 1
    records_done: int = 0
    rows_superseded: int = 0
    rows_written: int = 0

    @classmethod
    def of(cls, record: dict[str, Any]) -> Continuation:
        """The continuation an S3 event record carries; a plain S3 record starts at part 1.

        Raises:
            RefusedEvent: the continuation is not one this loader could have written.
        """
        carried = record.get(cls.EVENT_FIELD) or {}
        try:
            continuation = cls(
                part=int(carried.get("part", 1)),
                records_done=int(carried.get("recordsDone", 0)),
                rows_superseded=int(carried.get("rowsSuperseded", 0)),
                rows_written=int(carried.get("rowsWritten", 0)),
            )
        except (TypeError, ValueError):
            raise RefusedEvent(f"the continuation {carried!r:.200} is not well formed") from None
        if (
            not 1 <= continuation.part <= MAX_PARTS
            or min(
                continuation.records_done, continuation.rows_superseded, continuation.rows_written
            )
            < 0
        ):
            raise RefusedEvent(f"the continuation {carried!r:.200} is out of range")
        return continuation

    @property
    def is_last_allowed(self) -> bool:
        return self.part >= MAX_PARTS

    def next_part(self, record: dict[str, Any], outcome: LoadOutcome) -> dict[str, Any]:
        """`record`, asking for the part after the one that ended with `outcome`."""
        if outcome.stopped_after is None or outcome.stopped_after <= self.records_done:
            raise ValueError("a part that wrote nothing new has no next part")
        if self.is_last_allowed:
            raise ValueError(f"a file has at most {MAX_PARTS} parts")
        carried = {
            "part": self.part + 1,
            "recordsDone": outcome.stopped_after,
            "rowsSuperseded": outcome.rows_superseded,
            "rowsWritten": self.rows_written + outcome.rows_written,
        }
        return {**record, self.EVENT_FIELD: carried}

    def give_up(self, outcome: LoadOutcome, timeout_note: str) -> None:
        """End a file that is still unfinished after the last part it may have: what was
        written stays, the rest is counted as not reached and the report says why."""
        written = self.rows_written + outcome.rows_written
        outcome.rows_not_reached = outcome.rows_loaded + outcome.rows_superseded - written
        outcome.rows_loaded = written - outcome.rows_superseded
        outcome.file_error = FileRejected(
            f"the file did not finish loading in {MAX_PARTS} invocations ({timeout_note}); "
            f"rows from this line on were not loaded: split the file into smaller ones",
            outcome.stopped_at_line,
        )
        outcome.stopped_after = None


def load_records(
    open_records: Callable[[], Iterable[Record]],
    sink: Callable[[StockRow], None],
    size_bytes: int = 0,
    *,
    skip: int = 0,
    stop: Callable[[], bool] = lambda: False,
    check_every: int = STOP_CHECK_INTERVAL,
) -> LoadOutcome:
    """Load the records `open_records()` yields (it is called twice, once a pass), passing to
    `sink` the last valid row of each key, in file order.

    A `FileRejected` raised while reading ends the file: the rows before it still load, and the
    outcome says where reading stopped. `size_bytes`, the file's size, bounds the duplicate-key
    table. A file too large for one invocation is written in parts: from record `skip` on,
    `stop` is asked every `check_every` records, and when it says so, writing stops and
    `stopped_after` tells the next part where to start. The outcome always counts the whole
    file.

    Raises:
        RefusedEvent: `skip` is beyond the file's last record (not a continuation of it).
    """
    outcome = LoadOutcome()
    seen = SeenKeys.for_file_of(size_bytes)
    _survey(open_records(), seen, outcome)
    if skip > outcome.records_total:
        raise RefusedEvent(
            f"the event continues after record {skip:,}, but the file has "
            f"{outcome.records_total:,} records"
        )
    outcome.rows_loaded = len(seen)
    _write_last_rows(open_records(), seen, outcome, sink, skip, stop, check_every)
    return outcome


def _survey(records: Iterable[Record], seen: SeenKeys, outcome: LoadOutcome) -> None:
    """Pass 1: validate every record, count it, and note the last record of each key."""
    index = 0
    try:
        for index, record in enumerate(records, 1):
            result = validate(record)
            if isinstance(result, Rejection):
                outcome.rows_rejected += record.lines
                if len(outcome.rejections) < MAX_LISTED_ROWS:
                    outcome.rejections.append(
                        replace(
                            result, fields=safe_fields(result.fields), last_line=record.last_line
                        )
                    )
                continue
            replaced = seen.add((result.store, result.item), index - 1)
            if replaced is not None:
                outcome.rows_duplicate += 1
                if len(outcome.duplicates) < MAX_LISTED_ROWS:
                    outcome.duplicates.append(
                        Duplicate(result.line, None, result.store, result.item, replaced)
                    )
    except FileRejected as error:
        outcome.file_error = error
    outcome.records_total = index
    outcome.blank_lines = getattr(records, "blank_lines", 0)
    outcome.ignored = list(getattr(records, "ignored_columns", []))


def _write_last_rows(
    records: Iterable[Record],
    seen: SeenKeys,
    outcome: LoadOutcome,
    sink: Callable[[StockRow], None],
    skip: int,
    stop: Callable[[], bool],
    check_every: int,
) -> None:
    """Pass 2: from record `skip` on, write each valid row that is its key's last."""
    # Each record is replaced by at most one later row (the next to name its key), so the
    # listed duplicates map one to one onto the records whose lines they name.
    waiting = {d.replaces_record: d for d in outcome.duplicates}
    try:
        for index, record in enumerate(records):
            if waiting and (duplicate := waiting.pop(index, None)) is not None:
                duplicate.replaces_line = record.line
            if index < skip:
                continue
            # Checked before a record, so a part never stops before writing anything.
            if index > skip and not (index - skip) % check_every and stop():
                outcome.stopped_after, outcome.stopped_at_line = index, record.line
                return
            result = validate(record)
            if isinstance(result, StockRow) and seen.last((result.store, result.item)) == index:
                sink(result)
                outcome.rows_written += 1
    except FileRejected:
        pass  # the first pass met the same error at the same record, and counted it
