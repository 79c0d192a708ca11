"""JSON inventory files: an array of objects, or JSON Lines (one object a line).

Pure Python, no AWS. Keys map to canonical fields through the same aliases as CSV headers;
other keys are ignored and listed. A record naming a field twice (also through an alias), or
giving NaN, Infinity or a number too large for a float, is rejected with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from inventory.records import (
    FIELDS,
    MAX_RECORD_CHARS,
    FileRejected,
    Record,
    Tally,
    canonical_name,
)
from inventory.textlines import TextSource, physical_lines

# The reason a .json file holding one object (not an array, not one object a line) gets.
SINGLE_OBJECT = (
    "the file is a single JSON object; expected an array of objects "
    '([{"store": ..., "item": ..., "count": ...}, ...]) or one object per line'
)

# JSON can spell a lone UTF-16 surrogate (\ud800), which no UTF-8 text (the table, the
# report) can hold. The escape is a cheap hint; the decoded value is then checked for real.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


_MISSING_ALL = f"missing field: {', '.join(FIELDS)}"


class NonFinite(str):
    """NaN, Infinity, -Infinity or a number too large for a float (1e999), kept as its text so
    that it is rejected with its own name and the report stays strict JSON."""


class _Duplicated(dict[str, Any]):
    """A JSON object that named some keys more than once."""

    duplicated: list[str]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) == len(pairs):
        return value
    duplicated = _Duplicated(value)
    counts: dict[str, int] = {}
    for key, _ in pairs:
        counts[key] = counts.get(key, 0) + 1
    duplicated.duplicated = [key for key, count in counts.items() if count > 1]
    return duplicated


def _float(text: str) -> float | NonFinite:
    number = float(text)
    return NonFinite(text[:40]) if number in (float("inf"), float("-inf")) else number


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=NonFinite, parse_float=_float)


def _loads(raw: str) -> Any:
    value, end = _DECODER.raw_decode(raw, len(raw) - len(raw.lstrip()))
    if raw[end:].strip():
        raise json.JSONDecodeError("Extra data", raw, end)
    return value


def read_json_lines(text: TextSource, tally: Tally, named_json: bool = False) -> Iterator[Record]:
    """One record per non-blank line.

    A `.json` file may hold JSON Lines, or one object written where records were expected
    (`{"items": [...]}`, often pretty-printed). Its first line tells them apart: the file is
    one object if that line opens a value the line break cuts short, or if it is the file's
    only line and an object naming none of the fields (or longer than a record may be).
    Without that, such a file would get a rejected row per line and no reason to act on.
    """
    lines = _json_text_lines(text, tally)
    first = next(lines, None)
    if first is None:
        raise FileRejected("the file contains no JSON records")
    line, raw = first
    if named_json and raw is not None and _opens_a_value_on_several_lines(raw):
        raise FileRejected(SINGLE_OBJECT, line)
    record = _json_line_record(line, raw, tally)
    if named_json and (raw is None or _names_no_field(record)):
        second = next(lines, None)
        if second is None:
            raise FileRejected(SINGLE_OBJECT, line)
        yield record
        record = _json_line_record(*second, tally)
    yield record
    for line, raw in lines:
        yield _json_line_record(line, raw, tally)


def _json_text_lines(text: TextSource, tally: Tally) -> Iterator[tuple[int, str | None]]:
    """Each non-blank line with its number (LF, CRLF or CR ends it); None for a line longer
    than a record may be (skipped unread, so one hostile line cannot hold the file in memory).
    Blank lines are counted in the tally."""
    for line, raw in enumerate(physical_lines(text, MAX_RECORD_CHARS), 1):
        if raw is None or raw.strip():
            yield line, raw
        else:
            tally.blank_lines += 1


def _json_line_record(line: int, raw: str | None, tally: Tally) -> Record:
    if raw is None:
        return Record(line, {}, f"the line is longer than {MAX_RECORD_CHARS:,} characters")
    try:
        value = _loads(raw)
    except json.JSONDecodeError as error:
        return Record(line, {}, f"invalid JSON: {error.msg}")
    except (ValueError, RecursionError) as error:  # too many digits, too deeply nested
        return Record(line, {}, _undecodable(error))
    return _json_record(line, value, _SURROGATE_ESCAPE.search(raw) is not None, tally)


def _opens_a_value_on_several_lines(raw: str) -> bool:
    """True if the line is valid JSON as far as it goes and ends before its value does."""
    try:
        json.loads(raw)
    except json.JSONDecodeError as error:
        return error.pos >= len(raw.rstrip())
    except (ValueError, RecursionError):
        return False
    return False


def _names_no_field(record: Record) -> bool:
    """An object, but of something else: none of its keys is a field of a record."""
    return not record.fields and record.problem == _MISSING_ALL


_NESTING_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+"|[\[\]{}]')


def _nested_value_end(buffer: str, position: int) -> int | None:
    """Where the array or object starting at `position` ends, if it ends in `buffer`
    (brackets counted outside strings; the value is not checked further)."""
    depth = 0
    for token in _NESTING_TOKEN.finditer(buffer, position):
        char = token[0]
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return token.end()
    return None


def _undecodable(error: ValueError | RecursionError) -> str:
    if isinstance(error, RecursionError):
        return "the JSON value is nested too deeply"
    return "a number in the JSON value has too many digits"


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            if _SURROGATE.search(current):
                return True
        elif isinstance(current, dict):
            stack.extend(current)
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return False


def _json_record(line: int, value: Any, escapes_surrogates: bool, tally: Tally) -> Record:
    if escapes_surrogates and _has_lone_surrogate(value):
        return Record(
            line, {}, "the record contains an unpaired surrogate escape (\\ud800-\\udfff)"
        )
    if not isinstance(value, dict):
        return Record(line, {}, "expected a JSON object with store, item and count")
    fields: dict[str, Any] = {}
    problem = None
    for key, field_value in value.items():
        name = canonical_name(key)
        if name is None:
            tally.ignore(key)
            continue
        if name in fields:
            problem = problem or f"{name} is given twice"
        else:
            fields[name] = field_value
        if isinstance(field_value, NonFinite):
            kind = "text" if name in ("store", "item") else "a whole number"
            problem = problem or f"{name} must be {kind}, not {field_value}"
    if isinstance(value, _Duplicated):
        for key in value.duplicated:
            name = canonical_name(key)
            if name is not None:
                problem = f"{name} is given twice"
                break
    if problem is None:
        missing = [name for name in FIELDS if name not in fields]
        if missing:
            problem = f"missing field: {', '.join(missing)}"
    return Record(line, fields, problem)


def _reject_trailing_content(rest: str, text: TextSource, line: int) -> None:
    """Whatever follows the closing bracket must be whitespace: nothing is silently ignored."""
    while rest:
        if rest.strip():
            raise FileRejected("unexpected content after the closing ']' of the JSON array", line)
        rest = text.read(64 * 1024)


def read_json_array(text: TextSource, tally: Tally) -> Iterator[Record]:
    """Decode the elements of a top-level JSON array one by one, never holding the whole file."""
    decoder = _DECODER
    chunk_size = 64 * 1024
    buffer = text.read(chunk_size)
    position = buffer.index("[") + 1
    line = 1 + buffer.count("\n", 0, position)
    at_eof = False
    expect_value = True
    produced = False

    def refill() -> bool:
        nonlocal buffer, position, at_eof
        more = text.read(chunk_size)
        buffer = buffer[position:] + more
        position = 0
        at_eof = not more
        return bool(more)

    while True:
        # Skip whitespace and the comma between values, counting newlines for line numbers.
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n":
                if buffer[position] == "\n":
                    line += 1
                position += 1
            if position < len(buffer) or not refill():
                break
        if position >= len(buffer):
            raise FileRejected("the JSON array is not closed with ']'", line)
        char = buffer[position]
        if char == "]":
            if not produced and expect_value:
                raise FileRejected("the JSON array is empty")
            _reject_trailing_content(buffer[position + 1 :], text, line)
            return
        if char == "," and not expect_value:
            position += 1
            expect_value = True
            continue
        if not expect_value:
            raise FileRejected(f"invalid JSON after the value ending on line {line}", line)
        try:
            value, end = decoder.raw_decode(buffer, position)
        except json.JSONDecodeError as error:
            if len(buffer) - position > MAX_RECORD_CHARS:
                raise FileRejected(
                    f"a JSON value is longer than {MAX_RECORD_CHARS:,} characters or invalid "
                    f"({error.msg})",
                    line,
                ) from None
            if refill() or not at_eof:
                continue
            raise FileRejected(f"invalid JSON: {error.msg}", line) from None
        except RecursionError:
            # Nested too deeply to decode: skip to the end of the value, if it is within a
            # record's length, and reject it alone.
            skipped = _nested_value_end(buffer, position)
            if skipped is None:
                if len(buffer) - position <= MAX_RECORD_CHARS and refill():
                    continue
                raise FileRejected("the JSON value is nested too deeply", line) from None
            produced = True
            yield Record(line, {}, "the JSON value is nested too deeply")
            line += buffer.count("\n", position, skipped)
            position = skipped
            expect_value = False
            continue
        except ValueError as error:  # too many digits
            raise FileRejected(_undecodable(error), line) from None
        if len(buffer) - end <= 2 and not at_eof and isinstance(value, int | float):
            # A number near the end of the buffer may continue in the next chunk: "1." + "5",
            # "1e" + "3" and "1e+" + "3" all decode short. Decode it again after the refill.
            refill()
            continue
        produced = True
        escapes_surrogates = _SURROGATE_ESCAPE.search(buffer, position, end) is not None
        yield _json_record(line, value, escapes_surrogates, tally)
        line += buffer.count("\n", position, end)
        position = end
        expect_value = False
