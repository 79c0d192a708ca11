"""What every reader produces: `Record`s, `FileRejected`, and the canonical field names.

Pure Python, no AWS. Shared by the CSV and JSON readers (inventory.dialects,
inventory.jsonrecords) and re-exported by inventory.parsing, their entry point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The fields every record needs, and the optional one.
FIELDS = ("store", "item", "count")
THRESHOLD = "low_stock_threshold"
CANONICAL = (*FIELDS, THRESHOLD)

# What a header cell or a JSON key may say for each canonical field (after trimming, lower
# case, and runs of spaces, hyphens and underscores read as one underscore).
ALIASES: dict[str, str] = {
    "store": "store",
    "location": "store",
    "shop": "store",
    "item": "item",
    "sku": "item",
    "product": "item",
    "count": "count",
    "qty": "count",
    "quantity": "count",
    "stock": "count",
    "low_stock_threshold": THRESHOLD,
    "reorder_point": THRESHOLD,
}

# A record (a CSV line or a JSON value) longer than this is rejected on its own; it keeps one
# hostile line from holding the whole file in memory.
MAX_RECORD_CHARS = 64 * 1024
# How many ignored column or field names a reader lists (it still ignores them all).
MAX_IGNORED_NAMES = 100

_SEPARATORS = re.compile(r"[\s_-]+")


def canonical_name(name: str) -> str | None:
    """The canonical field a header cell or JSON key names, or None if it names none."""
    if len(name) > 64:  # no alias is this long; do not normalise a huge key
        return None
    return ALIASES.get(_SEPARATORS.sub("_", name.strip().lower()))


class FileRejected(Exception):
    """The file as a whole cannot be read; `reason` says why in words the uploader can act on."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(slots=True)
class Record:
    """One raw record: its line number, its fields by canonical name, or why it could not be
    split."""

    line: int
    fields: dict[str, Any]
    problem: str | None = None
    # A record spanning several lines (a quoted line break, an unclosed quote) ends on this one.
    last_line: int | None = None

    @property
    def lines(self) -> int:
        """How many data lines the record stands for when it is rejected."""
        return 1 if self.last_line is None else self.last_line - self.line + 1


class Tally:
    """What a reader noted beside its records: the names it ignored and the blank lines."""

    def __init__(self) -> None:
        self.ignored_columns: list[str] = []
        self.blank_lines = 0
        self._ignored_seen: set[str] = set()

    def ignore(self, name: str) -> None:
        """Note one ignored column or field name (the first MAX_IGNORED_NAMES, once each)."""
        name = name[:200]
        if len(self.ignored_columns) < MAX_IGNORED_NAMES and name not in self._ignored_seen:
            self._ignored_seen.add(name)
            self.ignored_columns.append(name)


def lines_named(first: int, last: int) -> str:
    """'line 7' or 'lines 7–9'."""
    return f"line {first}" if first == last else f"lines {first}–{last}"
