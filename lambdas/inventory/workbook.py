"""The first sheet of an .xlsx workbook as rows of cell texts, with the standard library only.

An .xlsx file is a ZIP archive of XML parts. This reader opens the archive (zipfile), finds the
first visible worksheet in workbook order (xl/workbook.xml and its relationships), and streams
that sheet through expat, yielding one row at a time; only the shared-strings table is held,
packed, in memory. Every limit is checked before and while decompressing, so a zip bomb, a
billion-laughs DTD or a row of megabytes is refused (or rejected alone), never read whole.

Pure Python, no AWS: it ships in each function's zip with the rest of `inventory`.
"""

from __future__ import annotations

import io
import posixpath
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO
from xml.parsers import expat

# What Excel writes for a password-protected workbook (and for the old .xls format): an OLE2
# compound file, not a ZIP archive.
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_SIGNATURE = b"PK\x03\x04"

# A workbook has tens of parts; more entries than this is not a spreadsheet (and each entry of
# the central directory costs memory before any limit on sizes can be checked).
MAX_MEMBERS = 10_000
MAX_CENTRAL_DIRECTORY_BYTES = 4 * 1024 * 1024
# Spreadsheet XML deflates about 10:1 (measured: 9-11 for inventory sheets); a part above
# RATIO_FLOOR that claims more than MAX_RATIO:1 is a zip bomb, not a sheet.
MAX_RATIO = 100
RATIO_FLOOR = 1024 * 1024
# The shared-strings table is the one structure read whole: bounded in entries and in bytes.
MAX_SHARED_STRINGS = 2_000_000
MAX_SHARED_STRING_BYTES = 64 * 1024 * 1024
# A row holding more characters of text than this is yielded as a RowTooLong, without its text.
MAX_ROW_CHARS = 64 * 1024
# Excel's own grid: columns A..XFD, rows 1..1,048,576.
MAX_COLUMNS = 16_384
MAX_ROWS = 1_048_576

_CHUNK = 16 * 1024
_RESAVE = "save it from Excel as .xlsx (Excel Workbook) or as CSV UTF-8"
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_MAIN_PATH = "xl/workbook.xml"


class WorkbookRejected(Exception):
    """The workbook cannot be read; `reason` says why in words the uploader can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RowTooLong(list[str]):  # noqa: FURB189 (a list, so it passes for the row it stands for)
    """A row whose text exceeds MAX_ROW_CHARS: yielded empty, with `problem` saying why, so the
    row is rejected alone and the rows after it still load."""

    problem: str

    def __init__(self, row: int) -> None:
        super().__init__()
        self.problem = f"row {row} holds more than {MAX_ROW_CHARS:,} characters of text"


def sheet_rows(stream: BinaryIO, max_bytes: int) -> Iterator[tuple[int, list[str]]]:
    """Yield (row number as Excel shows it, cell texts) for each row of the workbook's first
    visible worksheet holding any text, header row first. A missing cell is "" at its column.

    `max_bytes` bounds what the archive unpacks to (declared, and counted while reading).

    Raises:
        WorkbookRejected: not an .xlsx workbook, password-protected or .xls, damaged, over
            the limits, or holding a DTD; possibly after some rows were yielded.
    """
    source = _seekable(stream)
    with _open_archive(source) as archive:
        budget = _Budget(max_bytes)
        parts = _Parts(archive, budget)
        workbook = parts.locate_workbook()
        sheet, strings_part = parts.first_sheet(workbook)
        strings = _read_shared_strings(parts, strings_part)
        yield from _read_sheet(parts, sheet, strings)


def _seekable(stream: BinaryIO) -> BinaryIO:
    """The stream itself when zipfile can seek in it, else a local copy (on disk past 1 MB)."""
    seekable = getattr(stream, "seekable", None)
    if seekable is not None and seekable():
        return stream
    copy = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 (freed with it)
    shutil.copyfileobj(stream, copy, 1024 * 1024)
    copy.seek(0)
    return copy  # type: ignore[return-value]


def _open_archive(source: BinaryIO) -> zipfile.ZipFile:
    start = source.tell()
    head = source.read(len(OLE2_SIGNATURE))
    source.seek(start)
    if head.startswith(OLE2_SIGNATURE):
        raise WorkbookRejected(
            "the workbook is password-protected (encrypted) or in the old .xls format; "
            "save it as .xlsx without a password, or as CSV UTF-8"
        )
    if not head.startswith(ZIP_SIGNATURE):
        raise WorkbookRejected(
            "the file is named .xlsx but is not an Excel workbook (it is not a ZIP archive); "
            f"{_RESAVE}, or name a CSV file .csv"
        )
    _check_central_directory(source, start)
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise WorkbookRejected(f"the workbook is damaged ({error}); {_RESAVE}") from None


def _check_central_directory(source: BinaryIO, start: int) -> None:
    """Refuse an archive of too many entries before zipfile reads them all into memory."""
    end = source.seek(0, io.SEEK_END)
    tail_start = max(start, end - (22 + 65_535))
    source.seek(tail_start)
    tail = source.read()
    source.seek(start)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise WorkbookRejected(f"the workbook is damaged (no ZIP directory); {_RESAVE}")
    entries, size = struct.unpack("<xxxxxxxxxxHI", tail[at : at + 16])
    if (entries == 0xFFFF or size == 0xFFFFFFFF) and at >= 20:
        locator = tail[at - 20 : at]
        if locator.startswith(b"PK\x06\x07"):
            (record_at,) = struct.unpack("<Q", locator[8:16])
            source.seek(start + record_at)
            record = source.read(56)
            source.seek(start)
            if record.startswith(b"PK\x06\x06") and len(record) == 56:
                entries, size = struct.unpack("<QQ", record[32:48])
    if entries > MAX_MEMBERS or size > MAX_CENTRAL_DIRECTORY_BYTES:
        raise WorkbookRejected(
            f"the file is a ZIP archive of {entries:,} entries, not a workbook "
            f"(at most {MAX_MEMBERS:,}); {_RESAVE}"
        )


class _Budget:
    """The bytes the archive may still unpack to, shared by every part read."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.left = max_bytes

    def take(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise WorkbookRejected(self.too_big("unpacks to"))

    def too_big(self, verb: str) -> str:
        return (
            f"the workbook {verb} more than {self.max_bytes:,} bytes (a ZIP bomb, or too "
            "large a sheet): split it into smaller files, or save it as CSV"
        )


class _BoundedReader:
    """A part's bytes, read in chunks, counted against the budget: declared sizes can lie."""

    def __init__(self, raw: Any, budget: _Budget, declared: int) -> None:
        self._raw = raw
        self._budget = budget
        self._left = declared

    def read(self, size: int) -> bytes:
        data: bytes = self._raw.read(size)
        self._left -= len(data)
        if self._left < 0:
            raise WorkbookRejected(
                "the workbook is damaged: a part unpacks to more than its declared size "
                f"(a ZIP bomb?); {_RESAVE}"
            )
        self._budget.take(len(data))
        return data


class _Parts:
    """The archive's parts by name, opened through the budget."""

    def __init__(self, archive: zipfile.ZipFile, budget: _Budget) -> None:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise WorkbookRejected(f"the file is a ZIP archive of {len(infos):,} entries")
        if sum(info.file_size for info in infos) > budget.max_bytes:
            raise WorkbookRejected(budget.too_big("declares it unpacks to"))
        for info in infos:
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * info.compress_size:
                raise WorkbookRejected(
                    f"the workbook's part {info.filename} claims to unpack {info.file_size:,} "
                    f"bytes from {info.compress_size:,} (a ZIP bomb); {_RESAVE}"
                )
        self._archive = archive
        self._budget = budget
        self._names = {info.filename: info for info in infos}
        self._folded = {name.lower(): info for name, info in reversed(self._names.items())}

    def find(self, name: str) -> zipfile.ZipInfo | None:
        return self._names.get(name) or self._folded.get(name.lower())

    def parse(self, info: zipfile.ZipInfo, handlers: dict[str, Callable[..., Any]]) -> None:
        """Parse a whole part, calling `handlers` (expat handler name -> function)."""
        for _ in self.stream(info, handlers):
            pass

    def stream(
        self,
        info: zipfile.ZipInfo,
        handlers: dict[str, Callable[..., Any]],
        done: Callable[[], bool] = lambda: False,
    ) -> Iterator[None]:
        """Parse a part a chunk at a time, pausing after each chunk (the caller collects what
        the handlers produced); stops early once `done()` says the rest is not needed."""
        parser = _parser(handlers)
        try:
            with self._archive.open(info) as raw:
                reader = _BoundedReader(raw, self._budget, info.file_size)
                while chunk := reader.read(_CHUNK):
                    parser.Parse(chunk, False)
                    yield
                    if done():
                        return
                parser.Parse(b"", True)
                yield
        except expat.ExpatError as error:
            raise WorkbookRejected(
                f"the workbook's part {info.filename} is not valid XML "
                f"({expat.errors.messages[error.code]}, line {error.lineno}); {_RESAVE}"
            ) from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise WorkbookRejected(f"the workbook is damaged ({error}); {_RESAVE}") from None
        except (RuntimeError, NotImplementedError) as error:
            # zipfile: "File ... is encrypted", "compression method ... is not supported".
            raise WorkbookRejected(
                f"the workbook cannot be unpacked ({error}); save it as .xlsx without a "
                "password, or as CSV UTF-8"
            ) from None

    def locate_workbook(self) -> zipfile.ZipInfo:
        """The workbook part: as the package's relationships name it, else xl/workbook.xml."""
        package_rels = self.find("_rels/.rels")
        if package_rels is not None:
            for kind, target in self.relationships(package_rels, "").values():
                if kind.endswith("/officeDocument") and (found := self.find(target)):
                    return found
        found = self.find(_MAIN_PATH)
        if found is None:
            raise WorkbookRejected(
                f"the file is a ZIP archive but not an Excel workbook (no {_MAIN_PATH}); {_RESAVE}"
            )
        return found

    def relationships(self, info: zipfile.ZipInfo, folder: str) -> dict[str, tuple[str, str]]:
        """Id -> (type, part path) of a .rels part whose targets are relative to `folder`."""
        found: dict[str, tuple[str, str]] = {}

        def start(name: str, attributes: dict[str, str]) -> None:
            if _local(name) == "Relationship" and attributes.get("TargetMode") != "External":
                target = attributes.get("Target", "")
                path = target[1:] if target.startswith("/") else posixpath.join(folder, target)
                found[attributes.get("Id", "")] = (
                    attributes.get("Type", ""),
                    posixpath.normpath(path),
                )

        self.parse(info, {"StartElementHandler": start})
        return found

    def first_sheet(self, workbook: zipfile.ZipInfo) -> tuple[zipfile.ZipInfo, str | None]:
        """The first visible worksheet in the workbook's tab order, and the shared strings'
        part (None when the workbook has none)."""
        sheets: list[tuple[str, str, str]] = []  # (relationship id, state, name)

        def start(name: str, attributes: dict[str, str]) -> None:
            if _local(name) == "sheet":
                # r:id, in the relationships namespace (transitional or strict)
                rid = next((v for k, v in attributes.items() if k.endswith("relationships id")), "")
                sheets.append((rid, attributes.get("state", "visible"), attributes.get("name", "")))

        self.parse(workbook, {"StartElementHandler": start})
        folder, base = posixpath.split(workbook.filename)
        rels_info = self.find(posixpath.join(folder, "_rels", base + ".rels"))
        rels = self.relationships(rels_info, folder) if rels_info is not None else {}
        kinds = {kind.rpartition("/")[2]: path for kind, path in reversed(rels.values())}
        strings = kinds.get("sharedStrings")
        if strings is None and self.find(posixpath.join(folder, "sharedStrings.xml")):
            strings = posixpath.join(folder, "sharedStrings.xml")
        worksheets = []
        for rid, state, _name in sheets:
            kind, path = rels.get(rid, ("", ""))
            info = self.find(path) if kind.endswith("/worksheet") else None
            if info is not None:
                worksheets.append((state == "visible", info))
        if not worksheets:
            raise WorkbookRejected(f"the workbook has no worksheet; {_RESAVE}")
        visible = [info for shown, info in worksheets if shown]
        return (visible or [worksheets[0][1]])[0], strings


def _parser(handlers: dict[str, Callable[..., Any]]) -> Any:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.ordered_attributes = False
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse_dtd(*_: object) -> None:
        raise WorkbookRejected(
            f"the workbook holds a DTD (<!DOCTYPE>), which Excel never writes; {_RESAVE}"
        )

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    for name, handler in handlers.items():
        setattr(parser, name, handler)
    return parser


_LOCAL: dict[str, str] = {}


def _local(name: str) -> str:
    """`local` of expat's "namespace local" name (SpreadsheetML has a transitional and a
    strict namespace, and prefixes vary: the local name is what identifies an element)."""
    local = _LOCAL.get(name)
    if local is None:
        local = name.rpartition(" ")[2]
        if len(_LOCAL) < 1000:  # a hostile part can name millions of elements
            _LOCAL[name] = local
    return local


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


def _read_shared_strings(parts: _Parts, path: str | None) -> _SharedStrings:
    strings = _SharedStrings()
    info = parts.find(path) if path else None
    if info is None:
        return strings
    item = _Text()
    inside = False

    def start(name: str, _attributes: dict[str, str]) -> None:
        nonlocal inside
        local = _local(name)
        if local == "si":
            inside = True
            item.reset()
        elif inside:
            item.start(local)

    def end(name: str) -> None:
        nonlocal inside
        local = _local(name)
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
        local = _local(name)
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
                f"the sheet has a row {row:,}, past Excel's last row ({MAX_ROWS:,}); {_RESAVE}"
            )
        self.row, self.cells, self.row_chars = row, [], 0
        self.too_long, self.in_row, self.column = False, True, 0

    def end(self, name: str) -> None:
        local = _local(name)
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
                    f"names text {text[:20]!r}, which the workbook lacks; {_RESAVE}"
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


def _read_sheet(
    parts: _Parts, sheet: zipfile.ZipInfo, strings: _SharedStrings
) -> Iterator[tuple[int, list[str]]]:
    reader = _SheetReader(strings)
    handlers: dict[str, Callable[..., Any]] = {
        "StartElementHandler": reader.start,
        "EndElementHandler": reader.end,
        "CharacterDataHandler": reader.data,
    }
    pending = reader.pending
    text = strings.text
    for _ in parts.stream(sheet, handlers, lambda: reader.done):
        while pending:
            row, cells = pending.popleft()
            if isinstance(cells, RowTooLong):
                yield row, cells
            else:
                yield row, [cell if isinstance(cell, str) else text(cell) for cell in cells]


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
                f"the sheet has a cell {ref[:20]!r} outside Excel's columns A to XFD; {_RESAVE}"
            )
        if len(_COLUMNS) < MAX_COLUMNS:
            _COLUMNS[letters] = column
    return column


def _unescape(text: str) -> str:
    """Excel writes characters XML cannot hold (a carriage return…) as _xHHHH_."""
    if "_x" not in text:
        return text
    return _ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)
