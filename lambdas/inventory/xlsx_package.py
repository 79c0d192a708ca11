"""The ZIP package of an .xlsx workbook, opened within bounds: the archive, its parts, its XML.

What `inventory.workbook` reads a sheet through. Before anything is unpacked the archive is
checked (not OLE2, a ZIP, a directory of few entries, declared sizes within the limit, no part
of a zip bomb's ratio); while unpacking, every byte is counted against the limit, as declared
sizes can lie; every part is parsed by expat, fed in chunks, with DTDs refused.

Pure Python, standard library only, no AWS.
"""

from __future__ import annotations

import io
import posixpath
import shutil
import struct
import tempfile
import zipfile
import zlib
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

_CHUNK = 16 * 1024
RESAVE = "save it from Excel as .xlsx (Excel Workbook) or as CSV UTF-8"
_MAIN_PATH = "xl/workbook.xml"


class WorkbookRejected(Exception):
    """The workbook cannot be read; `reason` says why in words the uploader can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def seekable_source(stream: BinaryIO) -> BinaryIO:
    """The stream itself when zipfile can seek in it, else a local copy (on disk past 1 MB)."""
    seekable = getattr(stream, "seekable", None)
    if seekable is not None and seekable():
        return stream
    copy = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 (freed with it)
    shutil.copyfileobj(stream, copy, 1024 * 1024)
    copy.seek(0)
    return copy  # type: ignore[return-value]


def open_archive(source: BinaryIO) -> zipfile.ZipFile:
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
            f"{RESAVE}, or name a CSV file .csv"
        )
    _check_central_directory(source, start)
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise WorkbookRejected(f"the workbook is damaged ({error}); {RESAVE}") from None


def _check_central_directory(source: BinaryIO, start: int) -> None:
    """Refuse an archive of too many entries before zipfile reads them all into memory."""
    end = source.seek(0, io.SEEK_END)
    tail_start = max(start, end - (22 + 65_535))
    source.seek(tail_start)
    tail = source.read()
    source.seek(start)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise WorkbookRejected(f"the workbook is damaged (no ZIP directory); {RESAVE}")
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
            f"(at most {MAX_MEMBERS:,}); {RESAVE}"
        )


class Budget:
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


class BoundedReader:
    """A part's bytes, read in chunks, counted against the budget: declared sizes can lie."""

    def __init__(self, raw: Any, budget: Budget, declared: int) -> None:
        self._raw = raw
        self._budget = budget
        self._left = declared

    def read(self, size: int) -> bytes:
        data: bytes = self._raw.read(size)
        self._left -= len(data)
        if self._left < 0:
            raise WorkbookRejected(
                "the workbook is damaged: a part unpacks to more than its declared size "
                f"(a ZIP bomb?); {RESAVE}"
            )
        self._budget.take(len(data))
        return data


class Parts:
    """The archive's parts by name, opened through the budget."""

    def __init__(self, archive: zipfile.ZipFile, budget: Budget) -> None:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise WorkbookRejected(f"the file is a ZIP archive of {len(infos):,} entries")
        if sum(info.file_size for info in infos) > budget.max_bytes:
            raise WorkbookRejected(budget.too_big("declares it unpacks to"))
        for info in infos:
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * info.compress_size:
                raise WorkbookRejected(
                    f"the workbook's part {info.filename} claims to unpack {info.file_size:,} "
                    f"bytes from {info.compress_size:,} (a ZIP bomb); {RESAVE}"
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
                reader = BoundedReader(raw, self._budget, info.file_size)
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
                f"({expat.errors.messages[error.code]}, line {error.lineno}); {RESAVE}"
            ) from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise WorkbookRejected(f"the workbook is damaged ({error}); {RESAVE}") from None
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
                f"the file is a ZIP archive but not an Excel workbook (no {_MAIN_PATH}); {RESAVE}"
            )
        return found

    def relationships(self, info: zipfile.ZipInfo, folder: str) -> dict[str, tuple[str, str]]:
        """Id -> (type, part path) of a .rels part whose targets are relative to `folder`."""
        found: dict[str, tuple[str, str]] = {}

        def start(name: str, attributes: dict[str, str]) -> None:
            if local_name(name) == "Relationship" and attributes.get("TargetMode") != "External":
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
            if local_name(name) == "sheet":
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
            raise WorkbookRejected(f"the workbook has no worksheet; {RESAVE}")
        visible = [info for shown, info in worksheets if shown]
        return (visible or [worksheets[0][1]])[0], strings


def _parser(handlers: dict[str, Callable[..., Any]]) -> Any:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.ordered_attributes = False
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse_dtd(*_: object) -> None:
        raise WorkbookRejected(
            f"the workbook holds a DTD (<!DOCTYPE>), which Excel never writes; {RESAVE}"
        )

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    for name, handler in handlers.items():
        setattr(parser, name, handler)
    return parser


_LOCAL_NAMES: dict[str, str] = {}


def local_name(name: str) -> str:
    """`local` of expat's "namespace local" name (SpreadsheetML has a transitional and a
    strict namespace, and prefixes vary: the local name is what identifies an element)."""
    local = _LOCAL_NAMES.get(name)
    if local is None:
        local = name.rpartition(" ")[2]
        if len(_LOCAL_NAMES) < 1000:  # a hostile part can name millions of elements
            _LOCAL_NAMES[name] = local
    return local
