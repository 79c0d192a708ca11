"""A value from an uploaded file as a report shows it: bounded, and safe to open in a
spreadsheet. Applied when a rejected row is kept (inventory.loading), so a thousand huge
rejected rows never hold more than the report will show of them."""

from __future__ import annotations

import math
from typing import Any

# A value from the file is cut to this many characters in the report; a row shows at most
# this many fields, each name cut to 100 characters.
MAX_CELL_CHARS = 200
MAX_LISTED_FIELDS = 10
MAX_FIELD_NAME_CHARS = 100

# Characters that make a spreadsheet treat a cell as a formula (OWASP: CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A value from the file as the report shows it: text a spreadsheet would run as a formula
    gets an apostrophe in front, text longer than MAX_CELL_CHARS is cut there and ends in "…",
    a number JSON cannot hold (NaN, Infinity) becomes its text, and a list or an object is
    described by its size."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        if len(value) > MAX_CELL_CHARS:
            value = value[:MAX_CELL_CHARS] + "…"
        if value.startswith(_FORMULA_PREFIXES):
            return "'" + value
        return value
    if isinstance(value, list):
        return f"(a list of {len(value)} values)"  # never nested text of unbounded depth
    if isinstance(value, dict):
        return f"(an object of {len(value)} fields)"
    return value


def safe_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        safe_cell(str(key)[:MAX_FIELD_NAME_CHARS]): safe_cell(value)
        for key, value in list(fields.items())[:MAX_LISTED_FIELDS]
    }
