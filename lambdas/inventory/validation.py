"""Rules a record must satisfy to become a stock row. Pure Python, no AWS."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from inventory.records import THRESHOLD, Record

# DynamoDB limits a sort key to 1,024 bytes; the same bound for both names keeps them symmetric.
MAX_NAME_BYTES = 1024
# Above 2**53 a count stops being exact in the dashboard's JavaScript; no shelf holds that many.
MAX_COUNT = 1_000_000_000

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Characters that change how a name displays, or display as nothing, each with its reason.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_SEPARATORS = re.compile("[\u2028\u2029]")
_NONCHARACTERS = re.compile(
    "[\ufdd0-\ufdef\ufffe\uffff\U0001fffe\U0001ffff\U0002fffe\U0002ffff\U0003fffe"
    "\U0003ffff\U0004fffe\U0004ffff\U0005fffe\U0005ffff\U0006fffe\U0006ffff\U0007fffe"
    "\U0007ffff\U0008fffe\U0008ffff\U0009fffe\U0009ffff\U000afffe\U000affff\U000bfffe"
    "\U000bffff\U000cfffe\U000cffff\U000dfffe\U000dffff\U000efffe\U000effff\U000ffffe"
    "\U000fffff\U0010fffe\U0010ffff]"
)
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
    last_line: int | None = None  # a record spanning several lines ends on this one


def validate(record: Record) -> StockRow | Rejection:
    """Check one record; return the row to load or the reason it cannot be loaded."""
    if record.problem is None:
        # Fast path for the usual row of three plain strings. It accepts only what
        # `validate_fully` accepts (a property test holds them to that); anything it does not
        # accept goes the full way, which also finds the reason.
        fields = record.fields
        store, item, count = fields["store"], fields["item"], fields["count"]
        if (
            type(store) is str
            and type(item) is str
            and type(count) is str
            and THRESHOLD not in fields
        ):
            store, item, count = store.strip(), item.strip(), count.strip()
            if (
                store
                and item
                and len(store) <= _FAST_NAME_CHARS
                and len(item) <= _FAST_NAME_CHARS
                and 0 < len(count) <= 9
                and count.isdigit()
                and count.isascii()
                # Printable ASCII is NFC and holds no invisible or reordering character;
                # any other name (accents, a no-break space) gets the exact test.
                and store.isascii()
                and item.isascii()
                and store.isprintable()
                and item.isprintable()
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
                threshold, problem = _threshold(fields.get(THRESHOLD))
                if problem is None:
                    return StockRow(record.line, store, item, count, threshold)
    return Rejection(record.line, problem, fields)


def _name(value: Any, field: str) -> tuple[str, str | None]:
    if type(value) is not str:
        if not isinstance(value, int) or isinstance(value, bool):
            return "", f"{field} must be text, not {_json_type(value)}"
        value = str(value)  # numeric SKUs and store numbers in JSON
    name = value.strip()
    if not name:
        return "", f"{field} is empty"
    if len(name) > MAX_NAME_BYTES:  # more characters than bytes allowed: too long as it is
        return "", f"{field} is longer than {MAX_NAME_BYTES} bytes"
    if not name.isascii():
        # "Café" typed as one character or as e + combining accent is one name.
        name = unicodedata.normalize("NFC", name)
    if len(name) * 4 > MAX_NAME_BYTES and len(name.encode("utf-8", "replace")) > MAX_NAME_BYTES:
        return "", f"{field} is longer than {MAX_NAME_BYTES} bytes"
    if _CONTROL_CHARACTERS.search(name):
        return "", f"{field} contains a control character (a line break, tab or NUL)"
    if name.isascii():
        return name, None
    return name, _invisible(name, field)


def _invisible(name: str, field: str) -> str | None:
    """Why a non-ASCII name would display as nothing or other than it reads, if it would."""
    if found := _BIDI_CONTROLS.search(name):
        return f"{field} contains a bidirectional control character ({_code(found[0])})"
    if found := _SEPARATORS.search(name):
        return f"{field} contains a line or paragraph separator ({_code(found[0])})"
    if found := _NONCHARACTERS.search(name):
        return f"{field} contains a noncharacter ({_code(found[0])})"
    visible = False
    for char in set(name):
        category = unicodedata.category(char)
        if category == "Co":
            return f"{field} contains a private-use character ({_code(char)})"
        if category == "Cn":
            return f"{field} contains an unassigned character ({_code(char)})"
        if category == "Cs":
            return f"{field} contains an unpaired surrogate ({_code(char)})"
        visible = visible or (category != "Cf" and not char.isspace())
    if not visible:
        return f"{field} shows as nothing: it has only invisible characters (such as U+200B)"
    return None


def _code(char: str) -> str:
    return f"U+{ord(char):04X}"


def _threshold(value: Any) -> tuple[int | None, str | None]:
    """A row's own low-stock threshold: blank (or absent) means none."""
    if value is None or (type(value) is str and not value.strip()):
        return None, None
    return _count(value, THRESHOLD)


def _count(value: Any, field: str = "count") -> tuple[int, str | None]:
    if type(value) is str:
        text = value.strip()
        if not text:
            return 0, f"{field} is empty"
        digits = text[1:] if text[0] in "+-" else text
        if not (digits.isascii() and digits.isdigit()):
            return 0, f"{field} must be a whole number, not {text[:40]!r}"
        if len(digits.lstrip("0")) > 10:  # int() of a huge string is slow: refuse it first
            return 0, f"{field} is larger than {MAX_COUNT:,}"
        number = int(text)
    elif isinstance(value, bool):
        return 0, f"{field} must be a whole number, not true or false"
    elif isinstance(value, int):
        number = value
    else:
        return 0, f"{field} must be a whole number, not {_json_type(value)}"
    if number < 0:
        return 0, f"{field} is negative"
    if number > MAX_COUNT:
        return 0, f"{field} is larger than {MAX_COUNT:,}"
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
