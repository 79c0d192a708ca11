"""Building records and loading them, for the unit tests of the loader and its report."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from inventory.loading import LoadOutcome, load_records
from inventory.parsing import FileRejected, Record
from inventory.validation import StockRow


def row(line: int, store: str, item: str, count: Any) -> Record:
    return Record(line, {"store": store, "item": item, "count": count})


def then_reject(records: list[Record], error: FileRejected) -> Callable[[], Iterator[Record]]:
    """A file of `records` that then stops being readable, as read_records does mid-file."""

    def read() -> Iterator[Record]:
        yield from records
        raise error

    return read


def load(
    records: Iterable[Record] | Callable[[], Iterable[Record]], **options: Any
) -> tuple[LoadOutcome, list[StockRow]]:
    """Load `records` (a list, read once a pass, or what opens them afresh) into a list."""
    sink: list[StockRow] = []
    opened = records if callable(records) else lambda: records
    outcome = load_records(opened, sink.append, **options)
    return outcome, sink
