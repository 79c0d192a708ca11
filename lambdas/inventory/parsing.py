"""Streaming readers for inventory files: CSV with a header, a JSON array, or JSON Lines.

Pure Python, no AWS. A reader turns a binary stream into `Record`s one at a time, so memory
stays flat whatever the file size. A problem with one record is carried on the record (the
validator turns it into a row rejection); a problem with the file as a whole raises
`FileRejected`, possibly after some records were already produced.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

FIELDS = ("store", "item", "count")

# A record (a CSV line or a JSON value) longer than this is rejected on its own; it keeps one
# hostile line from holding the whole file in memory.
MAX_RECORD_CHARS = 64 * 1024

_SNIFF_BYTES = 64 * 1024
_CSV_EXTENSIONS = {".csv"}
_JSON_EXTENSIONS = {".json"}
_JSON_LINES_EXTENSIONS = {".jsonl", ".ndjson"}

# The reason a .json file holding one object (not an array, not one object a line) gets.
SINGLE_OBJECT = (
    "the file is a single JSON object; expected an array of objects "
    '([{"store": ..., "item": ..., "count": ...}, ...]) or one object per line'
)

csv.field_size_limit(MAX_RECORD_CHARS)

# JSON can spell a lone UTF-16 surrogate (\ud800), which no UTF-8 text (the table, the
# report) can hold. The escape is a cheap hint; the decoded value is then checked for real.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class FileRejected(Exception):
    """The file as a whole cannot be read; `reason` says why in words the uploader can act on."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(slots=True)
class Record:
    """One raw record: its line number, its fields by name, or why it could not be split."""

    line: int
    fields: dict[str, Any]
    problem: str | None = None
    # A record spanning several lines (a quoted line break, an unclosed quote) ends on this one.
    last_line: int | None = None

    @property
    def lines(self) -> int:
        """How many data lines the record stands for when it is rejected."""
        return 1 if self.last_line is None else self.last_line - self.line + 1


def read_records(stream: BinaryIO, filename: str) -> Iterator[Record]:
    """Yield the records of an inventory file, choosing the reader from the file's extension.

    Raises:
        FileRejected: the file is empty, binary, not UTF-8, of an unknown type, its content
            does not match its extension, or it is a .json file holding a single object; or,
            part-way through, it stops being readable.
    """
    buffered = (
        stream
        if isinstance(stream, io.BufferedReader)
        else io.BufferedReader(_RawAdapter(stream), buffer_size=_SNIFF_BYTES)
    )
    head = buffered.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
    _reject_unreadable(head)
    kind = _kind_from_extension(filename)
    first = _first_significant_char(head)
    if kind == "csv" and first in ("[", "{"):
        raise FileRejected("the file is named .csv but contains JSON; rename it to .json")
    if kind in ("json", "jsonl") and first not in ("[", "{"):
        extension = os.path.splitext(filename)[1].lower()
        raise FileRejected(
            f"the file is named {extension} but is not JSON: "
            "expected an array of objects or JSON Lines"
        )
    text = io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="strict", newline="")
    try:
        if kind == "csv":
            yield from _read_csv(text)
        elif first == "[":
            yield from _read_json_array(text)
        else:
            yield from _read_json_lines(text, named_json=kind == "json")
    except UnicodeDecodeError as error:
        raise FileRejected(
            f"the file is not valid UTF-8 (byte {error.object[error.start]:#04x})"
        ) from None
    finally:
        # The stream is the caller's: the loader reads it again from the top. Closing the
        # text wrapper (as its finaliser would) would close the stream with it.
        text.detach()


class _RawAdapter(io.RawIOBase):
    """Lets any object with `read(n)` (an S3 StreamingBody, a socket file) feed BufferedReader."""

    def __init__(self, source: Any) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # Fill the buffer unless the source ends: BufferedReader.peek does one raw read, and a
        # source that returns short reads would otherwise shrink the sniffed window.
        filled = 0
        while filled < len(buffer):
            chunk = self._source.read(len(buffer) - filled)
            if not chunk:
                break
            buffer[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
        return filled


def _reject_unreadable(head: bytes) -> None:
    if not head:
        raise FileRejected("the file is empty")
    if head.startswith(b"\x1f\x8b"):
        raise FileRejected("the file is gzip-compressed; upload it uncompressed")
    if head.startswith(b"PK\x03\x04"):
        raise FileRejected(
            "the file is a ZIP archive (an Excel workbook?); export it as CSV (UTF-8)"
        )
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise FileRejected("the file is UTF-32; save it as UTF-8")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRejected("the file is UTF-16; save it as UTF-8")
    if b"\x00" in head:
        raise FileRejected("the file contains NUL bytes: it is binary or UTF-16, not UTF-8 text")
    try:
        # final=False: the sniffed window may end in the middle of a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as error:
        raise FileRejected(
            f"the file is not valid UTF-8 (byte {head[error.start]:#04x} at offset "
            f"{error.start}); save it as UTF-8"
        ) from None


def _kind_from_extension(filename: str) -> str:
    extension = os.path.splitext(filename)[1].lower()
    if extension in _CSV_EXTENSIONS:
        return "csv"
    if extension in _JSON_EXTENSIONS:
        return "json"
    if extension in _JSON_LINES_EXTENSIONS:
        return "jsonl"
    raise FileRejected(
        f"unsupported file type {extension or '(no extension)'!r}; upload .csv, .json or .jsonl"
    )


def _first_significant_char(head: bytes) -> str:
    stripped = head.removeprefix(codecs.BOM_UTF8).lstrip()
    return chr(stripped[0]) if stripped else ""


def _read_csv(text: io.TextIOWrapper) -> Iterator[Record]:
    reader = csv.reader(text, strict=False)
    header, header_line = _read_header(reader)
    width = len(FIELDS)
    store_at, item_at, count_at = (header.index(name) for name in FIELDS)
    produced_rows = False
    line = reader.line_num
    while True:
        try:
            # One loop per stretch of well-formed CSV: a csv.Error ends the inner loop, the
            # broken record is reported, and reading resumes on the next line.
            for row in reader:
                start, line = line + 1, reader.line_num
                if len(row) == width:
                    if not (row[0] or row[1] or row[2]):
                        continue  # ",,": a blank row as spreadsheets export it
                    produced_rows = True
                    yield Record(
                        start,
                        {"store": row[store_at], "item": row[item_at], "count": row[count_at]},
                    )
                elif any(cell.strip() for cell in row):  # blank lines carry no data
                    produced_rows = True
                    yield _odd_width_record(start, row, header)
            break
        except csv.Error as error:
            start, line = line + 1, reader.line_num
            produced_rows = True
            yield Record(start, {}, _csv_problem(error))
    if not produced_rows:
        raise FileRejected("the file has a header but no data rows", header_line)


def _odd_width_record(line: int, row: list[str], header: list[str]) -> Record:
    width = len(header)
    if len(row) > width:
        return Record(line, {}, f"too many columns: expected {width}, found {len(row)}")
    fields = dict(zip(header, row, strict=False))  # shorter than the header
    missing = ", ".join(name for name in FIELDS if name not in fields)
    return Record(line, fields, f"missing field: {missing}")


def _read_header(reader: Any) -> tuple[list[str], int]:
    for raw in reader:
        if not raw or not any(cell.strip() for cell in raw):
            continue
        header = [cell.strip().lower() for cell in raw]
        line = reader.line_num
        if sorted(header) != sorted(FIELDS):
            found = ",".join(header)[:200]
            raise FileRejected(
                f"the header must name the columns store, item, count (in any order); "
                f"found {found!r}",
                line,
            )
        return header, line
    raise FileRejected("the file has no header and no rows")


def _csv_problem(error: csv.Error) -> str:
    if "field larger than field limit" in str(error):
        return f"a field is longer than {MAX_RECORD_CHARS} characters"
    return f"malformed CSV: {error}"


def _read_json_lines(text: io.TextIOWrapper, named_json: bool = False) -> Iterator[Record]:
    """One record per non-blank line.

    A `.json` file may hold JSON Lines, or one object written where records were expected
    (`{"items": [...]}`, often pretty-printed). Its first line tells them apart: the file is
    one object if that line opens a value the line break cuts short, or if it is the file's
    only line and an object naming none of the fields (or longer than a record may be).
    Without that, such a file would get a rejected row per line and no reason to act on.
    """
    lines = _json_text_lines(text)
    first = next(lines, None)
    if first is None:
        raise FileRejected("the file contains no JSON records")
    line, raw = first
    if named_json and raw is not None and _opens_a_value_on_several_lines(raw):
        raise FileRejected(SINGLE_OBJECT, line)
    record = _json_line_record(line, raw)
    if named_json and (raw is None or _names_no_field(record)):
        second = next(lines, None)
        if second is None:
            raise FileRejected(SINGLE_OBJECT, line)
        yield record
        record = _json_line_record(*second)
    yield record
    for line, raw in lines:
        yield _json_line_record(line, raw)


def _json_text_lines(text: io.TextIOWrapper) -> Iterator[tuple[int, str | None]]:
    """Each non-blank line with its number; None for a line longer than a record may be (the
    rest of it is skipped unread, so one hostile line cannot hold the file in memory)."""
    line = 0
    while True:
        raw = text.readline(MAX_RECORD_CHARS + 1)
        if not raw:
            return
        line += 1
        if len(raw) > MAX_RECORD_CHARS and not raw.endswith("\n"):
            _skip_rest_of_line(text)
            yield line, None
        elif raw.strip():
            yield line, raw


def _json_line_record(line: int, raw: str | None) -> Record:
    if raw is None:
        return Record(line, {}, f"the line is longer than {MAX_RECORD_CHARS} characters")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        return Record(line, {}, f"invalid JSON: {error.msg}")
    except (ValueError, RecursionError) as error:  # too many digits, too deeply nested
        return Record(line, {}, _undecodable(error))
    return _json_record(line, value, _SURROGATE_ESCAPE.search(raw) is not None)


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
    return bool(record.fields) and not any(name in record.fields for name in FIELDS)


def _skip_rest_of_line(text: io.TextIOWrapper) -> None:
    while True:
        chunk = text.readline(MAX_RECORD_CHARS)
        if not chunk or chunk.endswith("\n"):
            return


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


def _json_record(line: int, value: Any, escapes_surrogates: bool) -> Record:
    if escapes_surrogates and _has_lone_surrogate(value):
        return Record(
            line, {}, "the record contains an unpaired surrogate escape (\\ud800-\\udfff)"
        )
    if not isinstance(value, dict):
        return Record(line, {}, "expected a JSON object with store, item and count")
    unexpected = sorted(key for key in value if key not in FIELDS)
    if unexpected:
        names = ", ".join(str(key)[:40] for key in unexpected[:5])
        return Record(line, value, f"unexpected field: {names}")
    missing = [name for name in FIELDS if name not in value]
    if missing:
        return Record(line, value, f"missing field: {', '.join(missing)}")
    return Record(line, value)


def _reject_trailing_content(rest: str, text: io.TextIOWrapper, line: int) -> None:
    """Whatever follows the closing bracket must be whitespace: nothing is silently ignored."""
    while rest:
        if rest.strip():
            raise FileRejected("unexpected content after the closing ']' of the JSON array", line)
        rest = text.read(64 * 1024)


def _read_json_array(text: io.TextIOWrapper) -> Iterator[Record]:
    """Decode the elements of a top-level JSON array one by one, never holding the whole file."""
    decoder = json.JSONDecoder()
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
                    f"a JSON value is longer than {MAX_RECORD_CHARS} characters or invalid "
                    f"({error.msg})",
                    line,
                ) from None
            if refill() or not at_eof:
                continue
            raise FileRejected(f"invalid JSON: {error.msg}", line) from None
        except (ValueError, RecursionError) as error:  # too many digits, too deeply nested
            raise FileRejected(_undecodable(error), line) from None
        if len(buffer) - end <= 2 and not at_eof and isinstance(value, int | float):
            # A number near the end of the buffer may continue in the next chunk: "1." + "5",
            # "1e" + "3" and "1e+" + "3" all decode short. Decode it again after the refill.
            refill()
            continue
        produced = True
        escapes_surrogates = _SURROGATE_ESCAPE.search(buffer, position, end) is not None
        yield _json_record(line, value, escapes_surrogates)
        line += buffer.count("\n", position, end)
        position = end
        expect_value = False
