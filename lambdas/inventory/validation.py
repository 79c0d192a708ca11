"""Rules a record must satisfy to become a stock row. Pure Python, no AWS."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from inventory.parsing import Record

# DynamoDB limits a sort key to 1,024 bytes; the same bound for both names keeps them symmetric.
MAX_NAME_BYTES = 1024
# Above 2**53 a count stops being exact in the dashboard's JavaScript; no shelf holds that many.
MAX_COUNT = 1_000_000_000

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A UTF-8 character takes at most 4 bytes: names this short are within MAX_NAME_BYTES.
_FAST_NAME_CHARS = MAX_NAME_BYTES // 4


@dataclass(slots=True)
class StockRow:
    """A valid inventory row: how many of `item` the `store` holds."""

    line: int
    store: str
    item: str
    count: int
    threshold: int | None = None  # the row's own low-stock threshold, if it gave one

    @property
    def key(self) -> tuple[str, str]:
        return (self.store, self.item)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that was not loaded, with the reason the uploader reads in the report."""

    line: int
    reason: str
    fields: dict[str, Any]


def validate(record: Record) -> StockRow | Rejection:
    """Check one record; return the row to load or the reason it cannot be loaded."""
    if record.problem is None:
        # Fast path for the usual row of three plain strings. It accepts only what
        # `validate_fully` accepts (a property test holds them to that); anything it does not
        # accept goes the full way, which also finds the reason.
        fields = record.fields
        store, item, count = fields["store"], fields["item"], fields["count"]
        if type(store) is str and type(item) is str and type(count) is str:
            store, item, count = store.strip(), item.strip(), count.strip()
            if (
                store
                and item
                and len(store) <= _FAST_NAME_CHARS
                and len(item) <= _FAST_NAME_CHARS
                and 0 < len(count) <= 9
                and count.isdigit()
                and count.isascii()
                # isprintable() is a cheap C check that rules out every control character;
                # names it does not pass (a no-break space, say) still get the exact test.
                and (store.isprintable() or not _CONTROL_CHARACTERS.search(store))
                and (item.isprintable() or not _CONTROL_CHARACTERS.search(item))
            ):
                return StockRow(record.line, store, item, int(count))
    return validate_fully(record)


def validate_fully(record: Record) -> StockRow | Rejection:
    """Apply every rule in turn and name the first one the record breaks."""
    if record.problem is not None:
        return Rejection(record.line, record.problem, record.fields)
    fields = record.fields
    store, problem = _name(fields["store"], "store")
    if problem is None:
        item, problem = _name(fields["item"], "item")
        if problem is None:
            count, problem = _count(fields["count"])
            if problem is None:
                return StockRow(record.line, store, item, count)
    return Rejection(record.line, problem, fields)


def _name(value: Any, field: str) -> tuple[str, str | None]:
    if type(value) is not str:
        if not isinstance(value, int) or isinstance(value, bool):
            return "", f"{field} must be text, not {_json_type(value)}"
        value = str(value)  # numeric SKUs and store numbers in JSON
    name = value.strip()
    if not name:
        return "", f"{field} is empty"
    if len(name) * 4 > MAX_NAME_BYTES and len(name.encode("utf-8", "replace")) > MAX_NAME_BYTES:
        return "", f"{field} is longer than {MAX_NAME_BYTES} bytes"
    if _CONTROL_CHARACTERS.search(name):
        return "", f"{field} contains a control character (a line break, tab or NUL)"
    return name, None


def _count(value: Any) -> tuple[int, str | None]:
    if type(value) is str:
        text = value.strip()
        if not text:
            return 0, "count is empty"
        digits = text[1:] if text[0] in "+-" else text
        if not (digits.isascii() and digits.isdigit()):
            return 0, f"count must be a whole number, not {text[:40]!r}"
        if len(digits.lstrip("0")) > 10:  # int() of a huge string is slow: refuse it first
            return 0, f"count is larger than {MAX_COUNT:,}"
        number = int(text)
    elif isinstance(value, bool):
        return 0, "count must be a whole number, not true or false"
    elif isinstance(value, int):
        number = value
    else:
        return 0, f"count must be a whole number, not {_json_type(value)}"
    if number < 0:
        return 0, "count is negative"
    if number > MAX_COUNT:
        return 0, f"count is larger than {MAX_COUNT:,}"
    return number, None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"the decimal number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
