"""Loading one file: validate its records, spot duplicates, and account for every row.

Pure Python, no AWS: rows go to a `sink` callable (the DynamoDB writer in production, a list in
tests), and the outcome becomes the report the uploader reads.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from inventory.parsing import FileRejected, Record
from inventory.validation import Rejection, StockRow, validate

# The report lists this many rejected and duplicate rows; the counts always cover all of them.
MAX_LISTED_ROWS = 1000

# How often (in records) a load that may have to stop part-way asks whether to.
STOP_CHECK_INTERVAL = 1000

# Characters that make a spreadsheet treat a cell as a formula (OWASP: CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class SeenKeys:
    """Remembers which (store, item) keys a file has had, and on which line, in 12 bytes a key.

    A Python set of tuples would cost well over 100 bytes a key and grow with the file; this
    open-addressing table keeps a 64-bit hash and a line number per slot. Two distinct keys
    sharing a 64-bit hash (odds about 1 in 10^8 for a million keys) would only add a wrong
    "duplicate" note to the report: both rows are still written.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._hashes, self._lines = _zeros("Q", capacity), _zeros("I", capacity)
        self._mask = capacity - 1
        self._size = 0

    @classmethod
    def for_file_of(cls, size_bytes: int) -> "SeenKeys":
        """A table already big enough for a file of `size_bytes`, so it seldom has to grow.

        Rows take 25 bytes or more in practice; guessing one per 32 bytes errs small, so a file
        of long rows does not reserve memory it never uses (the table still grows if needed).
        """
        capacity = 1024
        while capacity <= 2 * (size_bytes // 32):
            capacity *= 2
        return cls(capacity)

    def add(self, key: tuple[str, str], line: int) -> int | None:
        """Record `key` as seen on `line`; return the line it was last seen on, if any."""
        fingerprint = (hash(key) & 0xFFFF_FFFF_FFFF_FFFF) or 1  # 0 marks an empty slot
        hashes, mask = self._hashes, self._mask
        slot = fingerprint & mask
        current = hashes[slot]
        while current:
            if current == fingerprint:
                previous = self._lines[slot]
                self._lines[slot] = line
                return previous
            slot = (slot + 1) & mask
            current = hashes[slot]
        hashes[slot] = fingerprint
        self._lines[slot] = line
        self._size += 1
        if self._size * 2 > mask:
            self._grow()
        return None

    def __len__(self) -> int:
        return self._size

    def _grow(self) -> None:
        old_hashes, old_lines = self._hashes, self._lines
        capacity = len(old_hashes) * 2
        self._hashes, self._lines = _zeros("Q", capacity), _zeros("I", capacity)
        self._mask = capacity - 1
        for fingerprint, line in zip(old_hashes, old_lines, strict=True):
            if fingerprint:
                slot = fingerprint & self._mask
                while self._hashes[slot]:
                    slot = (slot + 1) & self._mask
                self._hashes[slot] = fingerprint
                self._lines[slot] = line


def _zeros(typecode: str, length: int) -> array[int]:
    """An array of `length` zeros, made in place: array(code, bytes(n)) would first build the
    n zero bytes and then copy them, doubling the table's peak."""
    return array(typecode, [0]) * length


@dataclass(slots=True)
class Duplicate:
    """A row whose (store, item) appeared earlier in the same file; this later row wins."""

    line: int
    replaces_line: int
    store: str
    item: str


@dataclass
class LoadOutcome:
    """Every row of one file, accounted for."""

    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_superseded: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    file_error: FileRejected | None = None
    # Set when reading stopped early on request: the records up to this one were passed on,
    # the rest were not read. Counts then cover only the records read so far.
    stopped_after: int | None = None

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

    @classmethod
    def of(cls, record: dict[str, Any]) -> Continuation:
        """The continuation an S3 event record carries; a plain S3 record starts at part 1."""
        carried = record.get(cls.EVENT_FIELD) or {}
        return cls(
            part=int(carried.get("part", 1)),
            records_done=int(carried.get("recordsDone", 0)),
            rows_superseded=int(carried.get("rowsSuperseded", 0)),
        )

    def next_part(self, record: dict[str, Any], outcome: LoadOutcome) -> dict[str, Any]:
        """`record`, asking for the part after the one that ended with `outcome`."""
        if outcome.stopped_after is None or outcome.stopped_after <= self.records_done:
            raise ValueError("a part that read nothing new has no next part")
        carried = {
            "part": self.part + 1,
            "recordsDone": outcome.stopped_after,
            "rowsSuperseded": outcome.rows_superseded,
        }
        return {**record, self.EVENT_FIELD: carried}


def load_records(
    records: Iterable[Record],
    sink: Callable[[StockRow], None],
    size_bytes: int = 0,
    *,
    skip: int = 0,
    stop: Callable[[], bool] = lambda: False,
    check_every: int = STOP_CHECK_INTERVAL,
    rewrite: Callable[[StockRow], None] | None = None,
) -> LoadOutcome:
    """Validate `records` and pass each valid row to `sink`, in file order.

    A later row for the same (store, item) is passed on too, so the last one wins wherever the
    sink stores rows in order. A `FileRejected` raised while reading ends the file: the rows
    already passed on stay loaded, and the outcome says where reading stopped. `size_bytes`,
    the file's size, only sizes the duplicate-key table up front.

    A file too large for one invocation is loaded in parts. `stop` is asked every
    `check_every` records; when it says so, reading stops and `stopped_after` tells the
    next part how many records to `skip`. Skipped records are still validated and counted
    (reading is far faster than writing), so duplicates across parts are found and the last
    part's outcome covers the whole file; only their rows are not passed on again. A row
    repeating a key that a skipped record had goes to `rewrite` (default: `sink`).
    """
    outcome = LoadOutcome()
    seen = SeenKeys.for_file_of(size_bytes)
    rewrite = rewrite or sink
    first_unskipped_line = None
    try:
        for done, record in enumerate(records):
            # Checked before a record, so a file never stops with nothing left to read.
            if done > skip and not done % check_every and stop():
                outcome.stopped_after = done
                break
            result = validate(record)
            if isinstance(result, Rejection):
                outcome.rows_rejected += 1
                if len(outcome.rejections) < MAX_LISTED_ROWS:
                    outcome.rejections.append(result)
                continue
            replaced = seen.add((result.store, result.item), result.line)
            if replaced is not None:
                outcome.rows_duplicate += 1
                if len(outcome.duplicates) < MAX_LISTED_ROWS:
                    outcome.duplicates.append(
                        Duplicate(result.line, replaced, result.store, result.item)
                    )
            if done < skip:
                continue
            if first_unskipped_line is None:
                first_unskipped_line = result.line
            if replaced is not None and replaced < first_unskipped_line:
                rewrite(result)
            else:
                sink(result)
    except FileRejected as error:
        outcome.file_error = error
    outcome.rows_loaded = len(seen)
    return outcome


def build_report(outcome: LoadOutcome, source: dict[str, Any]) -> dict[str, Any]:
    """The report the uploader reads: counts, every problem with its line, nothing hidden.

    Text that came from the file is neutralised so the report is safe to open in a spreadsheet.
    """
    error = outcome.file_error
    return {
        "source": source,
        "status": outcome.status,
        "rows_loaded": outcome.rows_loaded,
        "rows_rejected": outcome.rows_rejected,
        "rows_duplicate": outcome.rows_duplicate,
        "rows_superseded": outcome.rows_superseded,
        "file_error": None if error is None else {"reason": error.reason, "line": error.line},
        "rejected_rows": [
            {"line": r.line, "reason": r.reason, "row": _safe_fields(r.fields)}
            for r in outcome.rejections
        ],
        "duplicate_rows": [
            {
                "line": d.line,
                "replaces_line": d.replaces_line,
                "store": safe_cell(d.store),
                "item": safe_cell(d.item),
            }
            for d in outcome.duplicates
        ],
        "listed_rows_limit": MAX_LISTED_ROWS,
    }


def snapshot_time(event_time: str | None, last_modified: datetime) -> str:
    """When a file's snapshot was taken: S3's event time (to the millisecond), else the
    object's Last-Modified; in one UTC format, so that text order is time order."""
    moment = last_modified
    if event_time:
        moment = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # S3 speaks UTC; never the container's zone
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def safe_cell(value: Any) -> Any:
    """Prefix text a spreadsheet would run as a formula with an apostrophe; keep other values."""
    if isinstance(value, str):
        if len(value) > 200:
            value = value[:200] + "…"
        if value.startswith(_FORMULA_PREFIXES):
            return "'" + value
    return value


def _safe_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {safe_cell(str(key)[:100]): safe_cell(value) for key, value in list(fields.items())[:10]}
