"""The first sheet of an .xlsx workbook as rows of cell texts, with the standard library only.

An .xlsx file is a ZIP archive of XML parts. This reader opens the archive (see
`inventory.xlsx_package`: every size bound is checked there, before and while unpacking), finds
the first visible worksheet in workbook order (xl/workbook.xml and its relationships), and
streams that sheet through expat, yielding one row at a time; only the shared-strings table is
held, packed, in memory. A row of too much text is rejected alone (`RowTooLong`).

Pure Python, no AWS: it ships in each function's zip with the rest of `inventory`.
"""

from __future__ import annotations

import re
import zipfile
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from inventory.xlsx_package import (
    RESAVE,
    Budget,
    Parts,
    WorkbookRejected,
    local_name,
    open_archive,
    seekable_source,
)

__all__ = ["RowTooLong", "WorkbookRejected", "number_text", "sheet_rows", "unpacked_size"]

# The shared-strings table is the one structure read whole: bounded in entries and in bytes.
MAX_SHARED_STRINGS = 2_000_000
MAX_SHARED_STRING_BYTES = 64 * 1024 * 1024
# A row holding more characters of text than this is yielded as a RowTooLong, without its text.
MAX_ROW_CHARS = 64 * 1024
# Excel's own grid: columns A..XFD, rows 1..1,048,576.
MAX_COLUMNS = 16_384
MAX_ROWS = 1_048_576

_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


class RowTooLong(list[str]):  # noqa: FURB189 (a list, so it passes for the row it stands for)
    """A row whose text exceeds MAX_ROW_CHARS: yielded empty, with `problem` saying why, so the
    row is rejected alone and the rows after it still load."""

    problem: str

    def __init__(self, row: int) -> None:
        super().__init__()
        self.problem = f"row {row} holds more than {MAX_ROW_CHARS:,} characters of text"


def sheet_rows(stream: BinaryIO, max_bytes: int) -> Iterator[tuple[int, list[str]]]:
    """Yield (row number as Excel shows it, cell texts) for each row of the workbook's first
    visible worksheet holding any text, header row first. A missing cell is "" at its column,
    and a row shorter than the header (its last cells empty) is padded with "" to its width; a
    row with text past the header's last column is yielded as wide as it is.

    `max_bytes` bounds what the archive unpacks to (declared, and counted while reading).

    Raises:
        WorkbookRejected: not an .xlsx workbook, password-protected or .xls, damaged, over
            the limits, or holding a DTD; possibly after some rows were yielded.
    """
    source = seekable_source(stream)
    with open_archive(source) as archive:
        budget = Budget(max_bytes)
        parts = Parts(archive, budget)
        workbook = parts.locate_workbook()
        sheet, strings_part = parts.first_sheet(workbook)
        strings = _read_shared_strings(parts, strings_part)
        yield from _read_sheet(parts, sheet, strings)


class _SharedStrings:
    """The workbook's shared-strings table, packed: UTF-8 bytes end to end, with offsets."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("I")
        self._chars = array("I")

    def __len__(self) -> int:
        return len(self._ends)

    def add(self, text: str) -> None:
        if len(self._ends) >= MAX_SHARED_STRINGS:
            raise WorkbookRejected(
                f"the workbook holds more than {MAX_SHARED_STRINGS:,} different texts: "
                "split it into smaller files, or save it as CSV"
            )
        self._data += text.encode("utf-8", "surrogatepass")
        if len(self._data) > MAX_SHARED_STRING_BYTES:
            raise WorkbookRejected(
                f"the workbook's texts take more than {MAX_SHARED_STRING_BYTES:,} bytes: "
                "split it into smaller files, or save it as CSV"
            )
        self._ends.append(len(self._data))
        self._chars.append(len(text))

    def chars(self, index: int) -> int:
        return self._chars[index]

    def text(self, index: int) -> str:
        start = self._ends[index - 1] if index else 0
        return self._data[start : self._ends[index]].decode("utf-8", "surrogatepass")


class _Text:
    """The text of a string item (<si> or <is>): its <t> runs, rich-text runs included, the
    phonetic guides (<rPh>) left out; cut past MAX_ROW_CHARS (the row is rejected then)."""

    __slots__ = ("collecting", "parts", "chars", "phonetic")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.collecting = False
        self.parts: list[str] = []
        self.chars = 0
        self.phonetic = 0

    def start(self, local: str) -> None:
        if local == "t" and not self.phonetic:
            self.collecting = True
        elif local == "rPh":
            self.phonetic += 1

    def end(self, local: str) -> None:
        if local == "t":
            self.collecting = False
        elif local == "rPh":
            self.phonetic -= 1

    def data(self, text: str) -> None:
        if self.collecting and self.chars <= MAX_ROW_CHARS:
            self.parts.append(text)
            self.chars += len(text)

    def value(self) -> str:
        return _unescape("".join(self.parts))[: MAX_ROW_CHARS + 1]


def _read_shared_strings(parts: Parts, path: str | None) -> _SharedStrings:
    strings = _SharedStrings()
    info = parts.find(path) if path else None
    if info is None:
        return strings
    item = _Text()
    inside = False

    def start(name: str, _attributes: dict[str, str]) -> None:
        nonlocal inside
        local = local_name(name)
        if local == "si":
            inside = True
            item.reset()
        elif inside:
            item.start(local)

    def end(name: str) -> None:
        nonlocal inside
        local = local_name(name)
        if local == "si":
            inside = False
            strings.add(item.value())
        elif inside:
            item.end(local)

    parts.parse(
        info,
        {"StartElementHandler": start, "EndElementHandler": end, "CharacterDataHandler": item.data},
    )
    return strings


class _SheetReader:
    """expat handlers that turn <sheetData> into (row, cells) pairs, appended to `pending`.
    A shared-string cell is kept as its index until the row is handed out."""

    def __init__(self, strings: _SharedStrings) -> None:
        self.strings = strings
        self.pending: deque[tuple[int, list[str | int] | RowTooLong]] = deque()
        self.done = False
        self.row = 0
        self.cells: list[str | int] = []
        self.row_chars = 0
        self.too_long = False
        self.in_row = False
        self.column = 0
        self.ref = ""
        self.kind = "n"
        self.value_parts: list[str] = []
        self.in_value = False
        self.cell_chars = 0
        self.inline: _Text | None = None

    def start(self, name: str, attributes: dict[str, str]) -> None:
        local = local_name(name)
        if local == "c" and self.in_row:
            self.ref = attributes.get("r", "")
            self.column = _column(self.ref) if self.ref else self.column + 1
            self.kind = attributes.get("t", "n")
            self.value_parts = []
            self.cell_chars = 0
            self.inline = None
        elif local == "v" and self.in_row:
            self.in_value = True
        elif local == "row":
            self._start_row(attributes.get("r", ""))
        elif local == "is" and self.in_row:
            self.inline = _Text()
        elif self.inline is not None:
            self.inline.start(local)

    def _start_row(self, ref: str) -> None:
        row = int(ref) if ref.isdigit() else self.row + 1
        if not 1 <= row <= MAX_ROWS:
            raise WorkbookRejected(
                f"the sheet has a row {row:,}, past Excel's last row ({MAX_ROWS:,}); {RESAVE}"
            )
        self.row, self.cells, self.row_chars = row, [], 0
        self.too_long, self.in_row, self.column = False, True, 0

    def end(self, name: str) -> None:
        local = local_name(name)
        if local == "c" and self.in_row:
            self._end_cell()
        elif local == "v":
            self.in_value = False
        elif local == "row" and self.in_row:
            self._end_row()
        elif local == "sheetData":
            self.done = True
        elif self.inline is not None:
            self.inline.end(local)

    def data(self, text: str) -> None:
        if self.in_value and self.cell_chars <= MAX_ROW_CHARS:
            self.value_parts.append(text)
            self.cell_chars += len(text)
        elif self.inline is not None:
            self.inline.data(text)

    def _end_cell(self) -> None:
        value, chars = self._cell_value()
        self.value_parts, self.inline = [], None
        self.row_chars += chars
        if self.row_chars > MAX_ROW_CHARS:
            self.too_long = True
        if self.too_long or not chars:
            return
        cells = self.cells
        index = self.column - 1
        if index >= len(cells):
            if index > len(cells):
                cells.extend([""] * (index - len(cells)))
            cells.append(value)
        else:
            cells[index] = value

    def _cell_value(self) -> tuple[str | int, int]:
        kind = self.kind
        if kind == "inlineStr":
            text = self.inline.value() if self.inline is not None else ""
            return text, len(text)
        text = "".join(self.value_parts)
        if kind == "s":
            if not text:
                return "", 0
            index = int(text) if text.strip().isdigit() else -1
            if not 0 <= index < len(self.strings):
                raise WorkbookRejected(
                    f"the workbook is damaged: cell {self.ref or self.column} of row {self.row} "
                    f"names text {text[:20]!r}, which the workbook lacks; {RESAVE}"
                )
            return index, self.strings.chars(index)
        if kind == "b":
            text = {"1": "TRUE", "0": "FALSE"}.get(text.strip(), text)
        elif kind == "n":
            text = number_text(text)
        return text, len(text)

    def _end_row(self) -> None:
        self.in_row = False
        if self.too_long:
            self.pending.append((self.row, RowTooLong(self.row)))
        elif self.cells:
            self.pending.append((self.row, self.cells))


def unpacked_size(stream: BinaryIO) -> int:
    """What the workbook declares it unpacks to, in bytes (from its ZIP directory alone; the
    stream is left where it was). The size a loader should bound per-row tables with: a
    workbook deflates about 10:1, so its own size under-counts the rows it can hold.

    Raises:
        WorkbookRejected: the file is not a ZIP archive, or not one of few entries.
    """
    source = seekable_source(stream)
    start = source.tell()
    try:
        with open_archive(source) as archive:
            return sum(info.file_size for info in archive.infolist())
    finally:
        source.seek(start)


def _read_sheet(
    parts: Parts, sheet: zipfile.ZipInfo, strings: _SharedStrings
) -> Iterator[tuple[int, list[str]]]:
    reader = _SheetReader(strings)
    handlers: dict[str, Callable[..., Any]] = {
        "StartElementHandler": reader.start,
        "EndElementHandler": reader.end,
        "CharacterDataHandler": reader.data,
    }
    pending = reader.pending
    text = strings.text
    width = None  # the header's: later rows are padded to it, as Excel's own CSV export does
    for _ in parts.stream(sheet, handlers, lambda: reader.done):
        while pending:
            row, cells = pending.popleft()
            if isinstance(cells, RowTooLong):
                yield row, cells
                continue
            texts = [cell if isinstance(cell, str) else text(cell) for cell in cells]
            if width is None:
                width = len(texts)
            elif len(texts) < width:
                texts.extend([""] * (width - len(texts)))
            yield row, texts


def number_text(raw: str) -> str:
    """A numeric cell's text as Excel shows it in General format: integers without ".0",
    others to Excel's 15 significant digits ("5", "5.5", "0.3" for 0.30000000000000004).
    Text that is not a number is returned as it is (validation rejects it)."""
    text = raw.strip()
    if text.isdigit() or (text[:1] == "-" and text[1:].isdigit()):
        return text
    try:
        value = float(text)
    except ValueError:
        return raw
    if value != value or value in (float("inf"), float("-inf")):
        return raw
    shown = f"{value:.15g}"
    if "e" in shown and value.is_integer():
        return str(int(value))
    return shown


_COLUMNS: dict[str, int] = {}


def _column(ref: str) -> int:
    """The column number (A = 1) of a cell reference such as "C5"."""
    letters = ref.rstrip("0123456789")
    column = _COLUMNS.get(letters)
    if column is None:
        column = 0
        for char in letters.upper():
            if not "A" <= char <= "Z":
                column = MAX_COLUMNS + 1
                break
            column = column * 26 + ord(char) - 64
        if not 1 <= column <= MAX_COLUMNS or len(letters) > 3:
            raise WorkbookRejected(
                f"the sheet has a cell {ref[:20]!r} outside Excel's columns A to XFD; {RESAVE}"
            )
        if len(_COLUMNS) < MAX_COLUMNS:
            _COLUMNS[letters] = column
    return column


def _unescape(text: str) -> str:
    """Excel writes characters XML cannot hold (a carriage return…) as _xHHHH_."""
    if "_x" not in text:
        return text
    return _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)
