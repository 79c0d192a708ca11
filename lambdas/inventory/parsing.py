"""Streaming readers for inventory files: CSV with a header, a JSON array, JSON Lines, or the
first sheet of an .xlsx workbook.

Pure Python, no AWS. A reader turns a binary stream into `Record`s one at a time, so memory
stays flat whatever the file size. A problem with one record is carried on the record (the
validator turns it into a row rejection); a problem with the file as a whole raises
`FileRejected`, possibly after some records were already produced. This module finds the
encoding and the kind of file; inventory.dialects reads CSV, inventory.jsonrecords JSON.
"""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Iterator
from typing import Any, BinaryIO

from inventory.dialects import read_csv, read_sheet
from inventory.jsonrecords import SINGLE_OBJECT, read_json_array, read_json_lines
from inventory.records import (
    FIELDS,
    MAX_RECORD_CHARS,
    FileRejected,
    Record,
    Tally,
)
from inventory.textlines import NormalisedText, physical_lines
from inventory.workbook import WorkbookRejected, sheet_rows, unpacked_size

__all__ = [
    "FIELDS",
    "MAX_RECORD_CHARS",
    "SINGLE_OBJECT",
    "FileRejected",
    "Record",
    "RecordReader",
    "declared_charset",
    "read_records",
    "text_size",
]

_SNIFF_BYTES = 64 * 1024
_CSV_EXTENSIONS = {".csv": None, ".tsv": "\t", ".tab": "\t"}
_JSON_EXTENSIONS = {".json"}
_JSON_LINES_EXTENSIONS = {".jsonl", ".ndjson"}
# .xls and .xlsm go to the workbook reader too, for its reason (save as .xlsx, or the macros
# are ignored: a .xlsm's sheet reads like a .xlsx's).
_WORKBOOK_EXTENSIONS = {".xlsx", ".xlsm", ".xls"}
# What a workbook may unpack to: its sheet's XML is about ten times its zipped size, so ten
# times the largest upload, and a pass over that much still fits in one part.
MAX_UNPACKED_BYTES = 500 * 1024 * 1024
_RESAVE = (
    "save it as CSV UTF-8 (Excel: File > Save As > CSV UTF-8), or declare its encoding on "
    "the upload (Content-Type: text/csv; charset=windows-1252)"
)


def declared_charset(content_type: str | None, metadata: dict[str, str]) -> str | None:
    """The encoding an S3 object declares: its `charset` metadata (x-amz-meta-charset), else
    the charset parameter of its Content-Type; None if it declares none."""
    for key, value in metadata.items():
        if key.lower() == "charset" and value.strip():
            return value.strip()
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip("\"'"):
            return value.strip().strip("\"'")
    return None


class RecordReader:
    """The records of one file (iterate once), and what reading them noted:
    `ignored_columns` (header or JSON names ignored, first seen first, at most 100) and
    `blank_lines` (lines with no data), both set as reading proceeds."""

    def __init__(self, stream: BinaryIO, filename: str, charset: str | None = None) -> None:
        self._tally = Tally()
        self._stream = stream
        self._filename = filename
        self._charset = charset

    @property
    def ignored_columns(self) -> list[str]:
        return self._tally.ignored_columns

    @property
    def blank_lines(self) -> int:
        return self._tally.blank_lines

    def __iter__(self) -> Iterator[Record]:
        return _read(self._stream, self._filename, self._charset, self._tally)


def read_records(stream: BinaryIO, filename: str, charset: str | None = None) -> RecordReader:
    """The records of an inventory file, read with the reader its extension names.

    `charset` is the encoding the object declares (`declared_charset`), None if none. Nothing
    is read until the records are iterated.

    Raises (while iterating):
        FileRejected: the file is empty, binary, not in its encoding, of an unknown type, its
            content does not match its extension, or it is a .json file holding a single
            object; or, part-way through, it stops being readable.
    """
    return RecordReader(stream, filename, charset)


def text_size(stream: BinaryIO, filename: str, size: int) -> int:
    """How many bytes of text a file of `size` bytes holds, which bounds how many rows it can
    name: its size, or for a workbook what it unpacks to (a workbook deflates about 10:1)."""
    if os.path.splitext(filename)[1].lower() not in _WORKBOOK_EXTENSIONS:
        return size
    try:
        return max(size, min(unpacked_size(stream), MAX_UNPACKED_BYTES))
    except WorkbookRejected:
        return size  # reading it will say why


def _read(stream: BinaryIO, filename: str, charset: str | None, tally: Tally) -> Iterator[Record]:
    if os.path.splitext(filename)[1].lower() in _WORKBOOK_EXTENSIONS:
        try:
            yield from read_sheet(sheet_rows(stream, MAX_UNPACKED_BYTES), tally)
        except WorkbookRejected as error:
            raise FileRejected(error.reason) from None
        return
    buffered = (
        stream
        if isinstance(stream, io.BufferedReader)
        else io.BufferedReader(_RawAdapter(stream), buffer_size=_SNIFF_BYTES)
    )
    head = buffered.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
    encoding = _encoding(head, charset)
    kind, delimiter = _kind_from_extension(filename)
    first = _first_significant_char(head, encoding)
    if kind == "csv" and first in ("[", "{"):
        raise FileRejected("the file is named .csv but contains JSON; rename it to .json")
    if kind in ("json", "jsonl") and first not in ("[", "{"):
        extension = os.path.splitext(filename)[1].lower()
        raise FileRejected(
            f"the file is named {extension} but is not JSON: "
            "expected an array of objects or JSON Lines"
        )
    text = io.TextIOWrapper(buffered, encoding=encoding, errors="strict", newline="")
    try:
        if kind == "csv":
            yield from read_csv(physical_lines(text, MAX_RECORD_CHARS), tally, delimiter)
        elif first == "[" and kind == "json":
            yield from read_json_array(NormalisedText(text), tally)
        else:
            yield from read_json_lines(text, tally, named_json=kind == "json")
    except UnicodeDecodeError as error:
        name = "UTF-8" if charset is None else charset
        raise FileRejected(
            f"the file is not valid {name} (byte {error.object[error.start]:#04x})"
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


def _encoding(head: bytes, charset: str | None) -> str:
    """The codec to read the file with: its BOM's, else the declared one, else UTF-8."""
    if not head:
        raise FileRejected("the file is empty")
    if head.startswith(b"\x1f\x8b"):
        raise FileRejected("the file is gzip-compressed; upload it uncompressed")
    if head.startswith(b"PK\x03\x04"):
        raise FileRejected(
            "the file is a ZIP archive (an Excel workbook?); name it .xlsx, or export it as "
            "CSV (UTF-8)"
        )
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise FileRejected("the file is UTF-32; save it as UTF-8 or UTF-16")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _checked("utf-16", head, "UTF-16")  # Excel's "Unicode text"
    if head.startswith(codecs.BOM_UTF8):
        return _checked("utf-8-sig", head, "UTF-8")
    if charset is not None:
        try:
            info = codecs.lookup(charset)
        except LookupError:
            info = None
        if info is None or not getattr(info, "_is_text_encoding", True):
            raise FileRejected(
                f"the upload declares the charset {charset[:60]!r}, which is not a known text "
                "encoding; declare one such as utf-8, windows-1252 or iso-8859-1"
            )
        if info.name.startswith(("utf-16", "utf-32")):
            return _checked(info.name, head, charset)
        encoding = "utf-8-sig" if info.name == "utf-8" else info.name
    else:
        encoding = "utf-8-sig"
    if b"\x00" in head:
        raise FileRejected("the file contains NUL bytes: it is binary or UTF-16, not UTF-8 text")
    if charset is None:
        try:
            # final=False: the sniffed window may end in the middle of a multi-byte character.
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        except UnicodeDecodeError as error:
            raise FileRejected(
                f"the file is not valid UTF-8 (byte {head[error.start]:#04x} at offset "
                f"{error.start}); {_RESAVE}"
            ) from None
        return encoding
    return _checked(encoding, head, charset)


def _checked(encoding: str, head: bytes, name: str) -> str:
    try:
        codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError as error:
        raise FileRejected(
            f"the file is not valid {name} (byte {head[error.start]:#04x} at offset {error.start})"
        ) from None
    return encoding


def _kind_from_extension(filename: str) -> tuple[str, str | None]:
    extension = os.path.splitext(filename)[1].lower()
    if extension in _CSV_EXTENSIONS:
        return "csv", _CSV_EXTENSIONS[extension]
    if extension in _JSON_EXTENSIONS:
        return "json", None
    if extension in _JSON_LINES_EXTENSIONS:
        return "jsonl", None
    raise FileRejected(
        f"unsupported file type {extension or '(no extension)'!r}; "
        "upload .csv, .tsv, .xlsx, .json or .jsonl"
    )


def _first_significant_char(head: bytes, encoding: str) -> str:
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    stripped = text.lstrip("\ufeff \t\r\n")
    return stripped[0] if stripped else ""
