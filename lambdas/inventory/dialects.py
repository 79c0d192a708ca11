"""CSV as spreadsheets export it: `,` `;` or tab, quoted fields, any line ends, a header in any
order and case with the common aliases, extra columns ignored.

Pure Python, no AWS. Lines come from inventory.textlines (bounded, line ends normalised); a
line without a quote is split directly, and only lines with quotes go through `csv`, after a
regular expression has told whether the record ends on that line. So a record's extent is
known before it is parsed: one longer than MAX_RECORD_CHARS, or a quote that never closes, is
rejected with the lines it covers and reading goes on after them.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass

from inventory.records import (
    FIELDS,
    MAX_RECORD_CHARS,
    FileRejected,
    Record,
    Tally,
    canonical_name,
    lines_named,
)
from inventory.workbook import RowTooLong

DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}

csv.field_size_limit(MAX_RECORD_CHARS + 1)


@dataclass(frozen=True)
class Header:
    """Where each canonical column is, and how wide a row must be."""

    width: int
    positions: dict[str, int]
    ignored: list[str]


class _Quoting:
    """Regular expressions that tell where a record ends, for one delimiter (`csv`'s own
    rules with strict=False: a quote opens a field only at its start; `""` inside is one quote;
    after the closing quote, anything up to the delimiter is literal)."""

    def __init__(self, delimiter: str) -> None:
        d = re.escape(delimiter)
        field = rf'(?:"(?:[^"]|"")*+"[^{d}]*+|[^"{d}][^{d}]*+|)'
        fields = rf"(?:{d}{field})*+"
        self.closed_line = re.compile(field + fields)  # fullmatch: no quote left open
        self.closing_quote = re.compile(r'(?:[^"]|"")*+"')  # inside a quote: its end
        self.closed_rest = re.compile(rf"[^{d}]*+{fields}")  # after it: nothing left open

    def line_closes(self, line: str) -> bool:
        return self.closed_line.fullmatch(line) is not None

    def continuation_closes(self, line: str) -> bool | None:
        """Whether a line that starts inside a quote ends outside one: True; False if the
        quote closes and another opens (on this line); None if it stays open all along."""
        end = self.closing_quote.match(line)
        if end is None:
            return None
        return self.closed_rest.fullmatch(line, end.end()) is not None


def read_csv(
    lines: Iterator[str | None], tally: Tally, delimiter: str | None = None
) -> Iterator[Record]:
    """The records of a CSV file; `delimiter` None means: the one the header line uses."""
    number, header_line, delimiter, header = _read_header(lines, delimiter)
    for name in header.ignored:
        tally.ignore(name)
    quoting = _Quoting(delimiter)
    # One csv reader for the whole file, fed one complete record at a time through `slot`
    # (cheaper than a reader per record).
    slot: list[str] = []
    split_quoted = csv.reader(iter(slot.pop, None), _dialect(delimiter))
    produced = False
    pending: list[str] = []  # the lines so far of a record inside a quote
    start = opened = size = 0
    for raw in lines:
        number += 1
        if pending:
            if raw is None or size + len(raw) + 1 > MAX_RECORD_CHARS:
                produced = True
                yield Record(
                    start,
                    {},
                    f"a quote opened on line {opened} is not closed within "
                    f"{MAX_RECORD_CHARS:,} characters; {lines_named(start, number)} could not "
                    "be read",
                    number,
                )
                pending = []
                continue
            pending.append(raw)
            size += len(raw) + 1
            closes = quoting.continuation_closes(raw) if '"' in raw else None
            if not closes:
                opened = number if closes is False else opened
                continue
            slot.append("\n".join(pending))
            cells = next(split_quoted)
            pending = []
            record = _record(start, cells, header, number)
            if record is None:  # a quoted line break and nothing else
                tally.blank_lines += number - start
        elif raw is None:
            record = Record(number, {}, f"the line is longer than {MAX_RECORD_CHARS:,} characters")
        elif '"' not in raw:
            record = _record(number, raw.split(delimiter), header)
        elif quoting.line_closes(raw):
            slot.append(raw)
            record = _record(number, next(split_quoted), header)
        else:
            pending, start, opened, size = [raw], number, number, len(raw)
            continue
        if record is None:
            tally.blank_lines += 1
        else:
            produced = True
            yield record
    if pending:
        yield Record(
            start,
            {},
            f"a quote opened on line {opened} is never closed; "
            f"{lines_named(start, number)} could not be read",
            number,
        )
    elif not produced:
        raise FileRejected("the file has a header but no data rows", header_line)


def read_sheet(rows: Iterator[tuple[int, list[str]]], tally: Tally) -> Iterator[Record]:
    """The records of a worksheet's rows (inventory.workbook yields them): the first row is
    the header, read with the same names and aliases as a CSV header; a row's number is the
    one Excel shows, and the rows Excel shows empty between two rows count as blank lines."""
    first = next(rows, None)
    if first is None:
        raise FileRejected("the first sheet of the workbook is empty")
    header_line, cells = first
    names = [canonical_name(cell) for cell in cells]
    missing = [field for field in FIELDS if field not in names]
    if missing or isinstance(cells, RowTooLong):
        raise FileRejected(
            "the first row of the first sheet must name the columns store, item, count (in "
            "any order; see docs/design.md#files for the names each may go by); missing "
            f"{', '.join(missing or FIELDS)} in {' | '.join(cells)[:200]!r}",
            header_line,
        )
    header = _header(cells, names, header_line)
    for name in header.ignored:
        tally.ignore(name)
    produced, previous = False, header_line
    for line, cells in rows:
        tally.blank_lines += max(0, line - previous - 1)
        previous = line
        if isinstance(cells, RowTooLong):
            record: Record | None = Record(line, {}, cells.problem)
        else:
            if len(cells) > header.width and not any(cells[header.width :]):
                cells = cells[: header.width]  # formatted but empty cells past the header
            record = _record(line, cells, header)
        if record is None:
            tally.blank_lines += 1
        else:
            produced = True
            yield record
    if not produced:
        raise FileRejected("the sheet has a header row but no data rows", header_line)


def _record(line: int, cells: list[str], header: Header, last: int | None = None) -> Record | None:
    """The record of one row of cells; None for a row that carries no data (blank)."""
    width = header.width
    positions = header.positions
    if len(cells) == width:
        if not any(cells):
            return None  # ",,": a blank row as spreadsheets export it
        return Record(line, {name: cells[at] for name, at in positions.items()}, None, last)
    if not any(cell.strip() for cell in cells):
        return None  # an empty line, or one of spaces: no data
    if len(cells) > width:
        return Record(line, {}, f"too many columns: expected {width}, found {len(cells)}", last)
    fields = {name: cells[at] for name, at in positions.items() if at < len(cells)}
    missing = ", ".join(name for name in FIELDS if name not in fields)
    problem = (
        f"missing field: {missing}"
        if missing
        else f"too few columns: expected {width}, found {len(cells)}"
    )
    return Record(line, fields, problem, last)


def _dialect(delimiter: str) -> type[csv.Dialect]:
    class Dialect(csv.excel):
        pass

    Dialect.delimiter = delimiter
    return Dialect


def _read_header(
    lines: Iterator[str | None], delimiter: str | None
) -> tuple[int, int, str, Header]:
    """(lines read, the header's line, the delimiter, the header)."""
    number = 0
    for raw in lines:
        number += 1
        if raw is None:
            raise FileRejected(
                f"the header line is longer than {MAX_RECORD_CHARS:,} characters", number
            )
        if not raw.strip():
            continue
        chosen, header = _parse_header(raw, number, delimiter)
        return number, number, chosen, header
    raise FileRejected("the file has no header and no rows")


def _parse_header(raw: str, line: int, delimiter: str | None) -> tuple[str, Header]:
    candidates = DELIMITERS if delimiter is None else (delimiter,)
    best: tuple[int, str, list[str]] | None = None
    for candidate in candidates:
        if not _Quoting(candidate).line_closes(raw):
            continue
        cells = next(csv.reader([raw], _dialect(candidate)))
        names = [canonical_name(cell) for cell in cells]
        found = sum(1 for name in set(names) if name in FIELDS)
        if found == len(FIELDS):
            return candidate, _header(cells, names, line)
        if best is None or found > best[0]:
            best = (found, candidate, cells)
    if best is None:
        raise FileRejected("the header line has a quote that is never closed", line)
    _found, candidate, cells = best
    missing = [field for field in FIELDS if field not in {canonical_name(c) for c in cells}]
    shown = raw[:200]
    separated = (
        f"separated by {_DELIMITER_NAMES[candidate]}s"
        if delimiter is not None
        else "separated by commas, semicolons or tabs"
    )
    raise FileRejected(
        f"the header must name the columns store, item, count (in any order, {separated}; "
        f"see docs/design.md#files for the names each may go by); missing {', '.join(missing)} in "
        f"{shown!r}",
        line,
    )


def _header(cells: list[str], names: list[str | None], line: int) -> Header:
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for at, (cell, name) in enumerate(zip(cells, names, strict=True)):
        if name is None:
            if cell.strip():
                ignored.append(cell.strip())
            continue
        if name in positions:
            first = cells[positions[name]].strip()
            raise FileRejected(
                f"the header names the column {name} twice ({first!r} and {cell.strip()!r}): "
                "keep one",
                line,
            )
        positions[name] = at
    return Header(len(cells), positions, ignored)
