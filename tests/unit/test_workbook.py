"""The .xlsx reader: the first sheet's rows as Excel shows them, every limit held while reading."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory import workbook, xlsx_package
from inventory.workbook import (
    RowTooLong,
    WorkbookRejected,
    number_text,
    sheet_rows,
    unpacked_size,
)
from provision.packaging import build_zip
from tests.unit.workbooks import (
    MAIN,
    archive,
    cell,
    plain,
    row,
    shared_strings,
    sheet_xml,
    streamed_sheet,
    worksheet,
    xlsx,
)

LIMIT = 50 * 1024 * 1024


def rows_of(data: bytes, max_bytes: int = LIMIT) -> list[tuple[int, list[str]]]:
    return list(sheet_rows(io.BytesIO(data), max_bytes))


def refusal(data: bytes, max_bytes: int = LIMIT) -> str:
    with pytest.raises(WorkbookRejected) as raised:
        rows_of(data, max_bytes)
    return raised.value.reason


INVENTORY = sheet_xml(
    row(1, cell("A1", "store"), cell("B1", "item"), cell("C1", "count")),
    row(2, cell("A2", "Lyon"), cell("B2", "apple"), cell("C2", 5)),
)


def test_shared_strings_give_their_text_rich_runs_joined_and_phonetic_guides_left_out():
    # given: a plain string, a rich-text string in two runs, and one with a phonetic guide
    strings = shared_strings(
        "<t>store</t>",
        '<r><rPr><b/></rPr><t>Ly</t></r><r><t xml:space="preserve">on </t></r>',
        '<t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh><phoneticPr fontId="1"/>',
    )
    sheet = sheet_xml(
        row(1, cell("A1", 0, "s")), row(2, cell("A2", 1, "s")), row(3, cell("A3", 2, "s"))
    )

    # when
    rows = rows_of(xlsx([("Stock", sheet)], strings))

    # then
    assert rows == [(1, ["store"]), (2, ["Lyon "]), (3, ["東京"])]


def test_inline_strings_numbers_and_the_header_come_in_order():
    # given
    data = xlsx([("Stock", INVENTORY)])

    # when
    rows = rows_of(data)

    # then
    assert rows == [(1, ["store", "item", "count"]), (2, ["Lyon", "apple", "5"])]


def test_missing_cells_are_blank_at_their_column_and_rows_keep_excels_numbers():
    # given: row 3 has only A and C; row 4 is absent (Excel does not store empty rows)
    sheet = sheet_xml(
        row(1, cell("A1", "store"), cell("B1", "item"), cell("C1", "count")),
        row(3, cell("A3", "Lyon"), cell("C3", 7)),
        row(5, cell("B5", "pear")),
        '<row r="6"><c r="A6" s="2"/><c r="B6" t="s"/></row>',  # formatted, but no text
        row(9, cell("D9", 1)),
    )

    # when
    rows = rows_of(xlsx([("Stock", sheet)]))

    # then
    assert rows == [
        (1, ["store", "item", "count"]),
        (3, ["Lyon", "", "7"]),
        (5, ["", "pear", ""]),  # padded to the header's width
        (9, ["", "", "", "1"]),  # wider than the header: as wide as it is
    ]


def test_cells_and_rows_without_references_follow_the_previous_one():
    # given: some writers leave out r= on rows and cells
    sheet = worksheet(
        '<row><c t="inlineStr"><is><t>store</t></is></c><c t="inlineStr"><is><t>item</t></is>'
        '</c></row><row r="4"><c><v>1</v></c><c r="D4"><v>2</v></c><c><v>3</v></c></row>'
        "<row><c><v>4</v></c></row>"
    )

    # when
    rows = rows_of(xlsx([("Stock", sheet)]))

    # then
    assert rows == [(1, ["store", "item"]), (4, ["1", "", "", "2", "3"]), (5, ["4", ""])]


def test_the_first_tab_in_workbook_order_is_read_not_sheet1_xml():
    # given: the first tab's part is sheet2.xml; sheet1.xml is the second tab
    other = sheet_xml(row(1, cell("A1", "wrong sheet")))

    # when
    data = xlsx(
        [("Stock", INVENTORY), ("Notes", other)],
        sheet_paths={"Stock": "worksheets/sheet2.xml", "Notes": "worksheets/sheet1.xml"},
    )

    # then
    assert rows_of(data)[0] == (1, ["store", "item", "count"])


def test_a_hidden_first_sheet_is_skipped_for_the_first_visible_one():
    # given
    lookup = sheet_xml(row(1, cell("A1", "hidden lookup table")))

    # when
    data = xlsx([("Lookup", lookup), ("Stock", INVENTORY)], hidden=["Lookup"])

    # then
    assert rows_of(data)[0] == (1, ["store", "item", "count"])


def test_a_chart_sheet_first_gives_way_to_the_first_worksheet():
    # given: tab 1 is a chartsheet (its relationship type says so)
    data = xlsx([("Chart", sheet_xml(row(1, cell("A1", "chart")))), ("Stock", INVENTORY)])
    with zipfile.ZipFile(io.BytesIO(data)) as original:
        parts = {name: original.read(name) for name in original.namelist()}
    rels = parts["xl/_rels/workbook.xml.rels"].decode()
    parts["xl/_rels/workbook.xml.rels"] = rels.replace(
        '/worksheet" Target="worksheets/sheet1.xml"', '/chartsheet" Target="worksheets/sheet1.xml"'
    ).encode()

    # when
    rows = rows_of(archive(parts))

    # then
    assert rows[0] == (1, ["store", "item", "count"])


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("5", "5"),
        ("5.0", "5"),
        ("1E+3", "1000"),
        ("5.5", "5.5"),
        ("0.30000000000000004", "0.3"),
        ("4.9999999999999996E-2", "0.05"),
        ("5.0000000000000009", "5"),
        ("-3", "-3"),
        ("1E+20", "100000000000000000000"),
        ("abc", "abc"),
        ("NaN", "NaN"),
    ],
)
def test_numbers_show_as_excel_shows_them_integers_without_a_point(raw, shown):
    # when
    text = number_text(raw)

    # then
    assert text == shown


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_an_integer_stored_as_a_float_reads_back_as_its_digits(value):
    # when
    text = number_text(repr(float(value)))

    # then
    assert text == str(value)


def test_booleans_formula_results_errors_and_typed_numbers_give_their_text():
    # given
    sheet = sheet_xml(
        row(
            2,
            cell("A2", True),
            cell("B2", False),
            '<c r="C2" t="str"><f>A1&amp;"x"</f><v>Lyonx</v></c>',
            '<c r="D2" t="e"><f>1/0</f><v>#DIV/0!</v></c>',
            '<c r="E2" t="n" s="3"><f>2+3</f><v>5</v></c>',
            '<c r="F2" s="4"><v>45627</v></c>',  # a date-styled number: its number
            '<c r="G2"><f>A1</f></c>',  # a formula never calculated: blank
        )
    )

    # when
    rows = rows_of(xlsx([("Stock", sheet)]))

    # then
    assert rows == [(2, ["TRUE", "FALSE", "Lyonx", "#DIV/0!", "5", "45627"])]


def test_characters_excel_escapes_as_xhhhh_are_restored():
    # given: a carriage return in a name, as Excel writes it
    data = xlsx([("Stock", sheet_xml(row(1, cell("A1", 0, "s"))))], plain("Ly_x000D_on"))

    # when
    rows = rows_of(data)

    # then
    assert rows == [(1, ["Ly\ron"])]


def test_an_excel_style_part_with_prefixes_and_extensions_reads():
    # given: a prefixed main namespace (x:), mc:Ignorable extensions, spans and styles
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
        f'<x:worksheet xmlns:x="{MAIN}" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'mc:Ignorable="x14ac" '
        'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">'
        '<x:sheetData><x:row r="1" spans="1:3" x14ac:dyDescent="0.25">'
        '<x:c r="A1" s="1" t="s"><x:v>0</x:v></x:c><x:c r="B1" s="1" t="s"><x:v>1</x:v></x:c>'
        '<x:c r="C1" s="1" t="s"><x:v>2</x:v></x:c></x:row>'
        '<x:row r="2" spans="1:3"><x:c r="A2" t="s"><x:v>3</x:v></x:c>'
        '<x:c r="B2" t="s"><x:v>4</x:v></x:c><x:c r="C2"><x:v>12</x:v></x:c></x:row>'
        '</x:sheetData><x:mergeCells count="1"><x:mergeCell ref="A9:B9"/></x:mergeCells>'
        "</x:worksheet>"
    )

    # when
    rows = rows_of(xlsx([("Stock", sheet)], plain("store", "item", "count", "Lyon", "fig")))

    # then
    assert rows == [(1, ["store", "item", "count"]), (2, ["Lyon", "fig", "12"])]


def test_a_stream_that_cannot_seek_is_read_from_a_local_copy():
    # given
    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    # when
    rows = list(sheet_rows(OneWay(xlsx([("Stock", INVENTORY)])), LIMIT))  # type: ignore[arg-type]

    # then
    assert rows[1] == (2, ["Lyon", "apple", "5"])


# --- what is refused, and why ---------------------------------------------------------------


def test_a_password_protected_or_xls_file_is_refused_with_how_to_save_it():
    # given: Excel writes both as an OLE2 compound file
    data = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 504

    # when
    reason = refusal(data)

    # then
    assert "password" in reason
    assert ".xlsx without a password" in reason
    assert "CSV" in reason


def test_a_zip_that_is_not_a_workbook_is_refused():
    # given: a Word document
    data = archive({"word/document.xml": "<w:document/>", "_rels/.rels": "<Relationships/>"})

    # when
    reason = refusal(data)

    # then
    assert "not an Excel workbook" in reason
    assert "xl/workbook.xml" in reason


def test_a_file_that_is_not_a_zip_is_refused():
    # when
    reason = refusal(b"store,item,count\nLyon,apple,5\n")

    # then
    assert "not an Excel workbook" in reason
    assert ".csv" in reason


def test_a_truncated_workbook_is_refused_as_damaged():
    # given
    data = xlsx([("Stock", INVENTORY)])

    # when
    reason = refusal(data[: len(data) // 2])

    # then
    assert "damaged" in reason


def test_a_workbook_declaring_more_than_the_limit_is_refused_before_reading():
    # given: 3 MB of sheet, 1 MB allowed
    padding = row(3, cell("A3", "x" * 3_000_000))
    data = xlsx([("Stock", sheet_xml(padding))])

    # when
    reason = refusal(data, max_bytes=1024 * 1024)

    # then
    assert "declares it unpacks to more than 1,048,576 bytes" in reason
    assert "split it" in reason


def test_a_zip_bomb_part_is_refused_by_its_ratio_wherever_it_is():
    # given: an unread part that deflates 1000:1, within the byte limit
    bomb = archive({"xl/media/image1.png": b"\x00" * (20 * 1024 * 1024)})
    with zipfile.ZipFile(io.BytesIO(bomb)) as zipped:
        ratio = zipped.infolist()[0].file_size / zipped.infolist()[0].compress_size
    data = xlsx([("Stock", INVENTORY)], extra={"xl/media/image1.png": b"\x00" * (20 << 20)})

    # when
    reason = refusal(data)

    # then
    assert ratio > xlsx_package.MAX_RATIO
    assert "ZIP bomb" in reason
    assert "xl/media/image1.png" in reason


def _lie_about_sizes(data: bytes, name: str, declared: int) -> bytes:
    """The archive with `name`'s uncompressed size declared as `declared`, in its local and
    central headers (the deflated data is unchanged)."""
    patched = bytearray(data)
    encoded = name.encode()
    # (signature, offset of the uncompressed size, of the name's length, of the name)
    for signature, size_at, length_at, name_at in (
        (b"PK\x03\x04", 22, 26, 30),
        (b"PK\x01\x02", 24, 28, 46),
    ):
        at = patched.find(signature)
        while at >= 0:
            (length,) = struct.unpack_from("<H", patched, at + length_at)
            if patched[at + name_at : at + name_at + length] == encoded:
                struct.pack_into("<I", patched, at + size_at, declared)
            at = patched.find(signature, at + 4)
    return bytes(patched)


def test_a_part_lying_about_its_size_is_never_unpacked_past_what_it_declared():
    # given: a sheet of 30 MB of rows that declares 2,000 bytes
    rows = (row(n, cell(f"A{n}", "Lyon"), cell(f"B{n}", f"item {n}")) for n in range(1, 400_001))
    data = xlsx([("Stock", streamed_sheet(rows))])
    lying = _lie_about_sizes(data, "xl/worksheets/sheet1.xml", 2_000)

    # when
    tracemalloc.start()
    try:
        reason = refusal(lying)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # then
    assert "damaged" in reason or "not valid XML" in reason
    assert peak < 5 * 1024 * 1024


def drain(reader: xlsx_package.BoundedReader) -> None:
    while reader.read(16_384):
        pass


def test_the_counting_reader_stops_at_the_declared_size_and_at_the_budget():
    # given: a source that yields more than declared, and a budget smaller than the parts
    class Endless:
        def read(self, size: int) -> bytes:
            return b"x" * size

    budget = xlsx_package.Budget(100_000)
    lying = xlsx_package.BoundedReader(Endless(), budget, declared=50_000)
    honest = xlsx_package.BoundedReader(Endless(), budget, declared=10**9)

    # when
    with pytest.raises(WorkbookRejected) as beyond_declared:
        drain(lying)
    with pytest.raises(WorkbookRejected) as beyond_budget:
        drain(honest)

    # then
    assert "more than its declared size" in beyond_declared.value.reason
    assert "more than 100,000 bytes" in beyond_budget.value.reason


def test_an_archive_of_too_many_entries_is_refused_from_its_directory(monkeypatch):
    # given
    monkeypatch.setattr(xlsx_package, "MAX_MEMBERS", 20)
    parts = {f"xl/media/pad{n}.bin": b"" for n in range(30)}
    data = xlsx([("Stock", INVENTORY)], extra=parts)

    # when
    reason = refusal(data)

    # then
    assert "of 35 entries, not a workbook (at most 20)" in reason


_LAUGHS = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
DTDS = {
    # billion laughs: 10^9 "lol" from under a kilobyte
    "billion-laughs": (f'<!DOCTYPE worksheet [<!ENTITY lol0 "lol">{_LAUGHS}]>', "&lol9;"),
    # a harmless-looking entity is refused all the same: no entity is ever expanded
    "one-entity": ('<!DOCTYPE worksheet [<!ENTITY shop "Lyon">]>', "&shop;"),
    "bare-doctype": ("<!DOCTYPE worksheet>", "Lyon"),
}


@pytest.mark.parametrize("part", ["sheet", "strings"])
@pytest.mark.parametrize("dtd", DTDS.values(), ids=DTDS.keys())
def test_a_dtd_is_refused_before_any_entity_expands(part, dtd):
    # given
    doctype, text = dtd
    root = "worksheet" if part == "sheet" else "sst"
    body = (
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
        f"<t>{text}</t></is></c></row></sheetData>"
        if part == "sheet"
        else f"<si><t>{text}</t></si>"
    )
    hostile = f'<?xml version="1.0"?>{doctype}<{root} xmlns="{MAIN}">{body}</{root}>'
    sheet = sheet_xml(row(1, cell("A1", 0, "s")))
    data = xlsx(
        [("Stock", hostile if part == "sheet" else sheet)],
        hostile if part == "strings" else plain("store"),
    )
    started = time.monotonic()

    # when
    reason = refusal(data)

    # then
    assert "holds a DTD (<!DOCTYPE>), which Excel never writes" in reason
    assert time.monotonic() - started < 5


def test_a_row_of_too_much_text_is_rejected_alone_and_the_next_row_reads():
    # given
    sheet = sheet_xml(
        row(1, cell("A1", "store")),
        row(2, *(cell(f"{column}2", "y" * 30_000) for column in "ABC")),
        row(3, cell("A3", "Lyon")),
    )

    # when
    rows = rows_of(xlsx([("Stock", sheet)]))

    # then
    assert rows[0] == (1, ["store"])
    line, too_long = rows[1]
    assert line == 2
    assert isinstance(too_long, RowTooLong)
    assert too_long == []
    assert too_long.problem == "row 2 holds more than 65,536 characters of text"
    assert rows[2] == (3, ["Lyon"])


def test_the_shared_strings_table_is_bounded_in_entries_and_bytes(monkeypatch):
    # given
    data = xlsx([("Stock", INVENTORY)], plain(*(f"item {n}" for n in range(100))))

    # when
    monkeypatch.setattr(workbook, "MAX_SHARED_STRINGS", 50)
    by_count = refusal(data)
    monkeypatch.setattr(workbook, "MAX_SHARED_STRINGS", 1000)
    monkeypatch.setattr(workbook, "MAX_SHARED_STRING_BYTES", 300)
    by_bytes = refusal(data)

    # then
    assert "more than 50 different texts" in by_count
    assert "more than 300 bytes" in by_bytes


@pytest.mark.parametrize(
    ("bad_cell", "expected"),
    [
        ('<c r="XFE2"><v>1</v></c>', "outside Excel's columns A to XFD"),
        ('<c r="A2" t="s"><v>7</v></c>', "names text '7', which the workbook lacks"),
    ],
    ids=["past-XFD", "no-such-string"],
)
def test_a_cell_no_excel_could_write_refuses_the_workbook(bad_cell, expected):
    # given
    sheet = sheet_xml(row(1, cell("A1", 0, "s")), f'<row r="2">{bad_cell}</row>')

    # when
    reason = refusal(xlsx([("Stock", sheet)], plain("store")))

    # then
    assert expected in reason


def test_a_large_sheet_streams_in_a_small_peak():
    # given: 200,000 rows of shared and inline strings and numbers (about 25 MB of XML)
    total = 200_000
    stores = plain(*(f"store {n}" for n in range(50)))
    rows = (
        row(n, cell(f"A{n}", n % 50, "s"), cell(f"B{n}", f"item {n}"), cell(f"C{n}", n % 9))
        for n in range(1, total + 1)
    )
    data = xlsx([("Stock", streamed_sheet(rows))], stores)
    count, last = 0, None

    # when
    tracemalloc.start()
    try:
        for pair in sheet_rows(io.BytesIO(data), LIMIT):
            count, last = count + 1, pair
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # then
    assert count == total
    assert last == (total, ["store 0", f"item {total}", str(total % 9)])
    assert peak < 2 * 1024 * 1024, f"peak {peak:,} bytes"


def test_the_reader_ships_in_the_loader_zip_and_imports_with_the_standard_library_alone(tmp_path):
    # given: the load_inventory function's zip, as provisioning builds it
    package = tmp_path / "load_inventory.zip"
    package.write_bytes(build_zip("load_inventory"))
    check = (
        "import sys; sys.path[:] = [sys.argv[1]] + [p for p in sys.path if p and "
        "'site-packages' not in p]; import inventory.workbook as w; print(w.__file__)"
    )

    # when
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", check, str(package)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # then
    assert completed.returncode == 0, completed.stderr
    assert Path(completed.stdout.strip()) == package / "inventory" / "workbook.py"


def test_an_encrypted_zip_entry_is_refused_with_how_to_save_it():
    # given: the sheet's entry flagged as encrypted (general purpose bit 0), as a zip tool's
    # password protection does
    patched = bytearray(xlsx([("Stock", INVENTORY)]))
    encoded = b"xl/worksheets/sheet1.xml"
    for signature, flags_at, length_at, name_at in (
        (b"PK\x03\x04", 6, 26, 30),
        (b"PK\x01\x02", 8, 28, 46),
    ):
        at = patched.find(signature)
        while at >= 0:
            (length,) = struct.unpack_from("<H", patched, at + length_at)
            if patched[at + name_at : at + name_at + length] == encoded:
                patched[at + flags_at] |= 1
            at = patched.find(signature, at + 4)

    # when
    reason = refusal(bytes(patched))

    # then
    assert "encrypted" in reason
    assert ".xlsx without a password" in reason


def test_strict_ooxml_namespaces_and_absolute_targets_read():
    # given: ISO strict relationship types and r:id namespace, targets from the package root
    strict_rels = "http://purl.oclc.org/ooxml/officeDocument/relationships"
    data = archive(
        {
            "_rels/.rels": (
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                f'relationships"><Relationship Id="rId1" Type="{strict_rels}/officeDocument" '
                'Target="/xl/workbook.xml"/></Relationships>'
            ),
            "xl/workbook.xml": (
                '<workbook xmlns="http://purl.oclc.org/ooxml/spreadsheetml/main" '
                f'xmlns:r="{strict_rels}"><sheets><sheet name="Stock" sheetId="1" '
                'r:id="rId7"/></sheets></workbook>'
            ),
            "xl/_rels/workbook.xml.rels": (
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                f'relationships"><Relationship Id="rId7" Type="{strict_rels}/worksheet" '
                'Target="/xl/worksheets/stock.xml"/><Relationship Id="rId8" '
                f'Type="{strict_rels}/sharedStrings" Target="/xl/strings.xml"/></Relationships>'
            ),
            "xl/worksheets/stock.xml": (
                '<worksheet xmlns="http://purl.oclc.org/ooxml/spreadsheetml/main"><sheetData>'
                '<row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>'
            ),
            "xl/strings.xml": (
                '<sst xmlns="http://purl.oclc.org/ooxml/spreadsheetml/main"><si><t>store</t>'
                "</si></sst>"
            ),
        }
    )

    # when
    rows = rows_of(data)

    # then
    assert rows == [(1, ["store"])]


_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Cn")), min_size=0, max_size=12
).filter(lambda text: "_x" not in text)
_VALUE = st.one_of(st.none(), _TEXT, st.integers(min_value=-(10**9), max_value=10**9))


@given(
    grid=st.dictionaries(
        st.integers(min_value=1, max_value=60),
        st.dictionaries(st.integers(min_value=1, max_value=40), _VALUE, max_size=6),
        max_size=8,
    ),
    shared=st.booleans(),
)
def test_any_grid_reads_back_at_its_rows_and_columns(grid, shared):
    # given: cells at any positions, texts as shared or inline strings
    texts = sorted({v for cells in grid.values() for v in cells.values() if isinstance(v, str)})
    index = {text: n for n, text in enumerate(texts)}

    def xml_cell(ref: str, value: object) -> str:
        if value is None:
            return f'<c r="{ref}" s="1"/>'
        if isinstance(value, str) and shared:
            return cell(ref, index[value], "s")
        return cell(ref, value)

    rows = [
        row(
            number,
            *(xml_cell(f"{letters(column)}{number}", cells[column]) for column in sorted(cells)),
        )
        for number, cells in sorted(grid.items())
    ]
    data = xlsx([("Stock", sheet_xml(*rows))], plain(*texts) if shared else None)

    # when
    read = rows_of(data)

    # then
    expected: list[tuple[int, list[str]]] = []
    for number, cells in sorted(grid.items()):
        present = {c: str(v) for c, v in cells.items() if v is not None and str(v) != ""}
        if present:
            width = max(max(present), len(expected[0][1]) if expected else 0)
            expected.append((number, [present.get(c, "") for c in range(1, width + 1)]))
    assert read == expected


def letters(column: int) -> str:
    name = ""
    while column:
        column, rest = divmod(column - 1, 26)
        name = chr(65 + rest) + name
    return name


def test_unpacked_size_is_what_the_directory_declares_and_leaves_the_stream_in_place():
    # given
    data = xlsx([("Stock", INVENTORY)], plain("store"))
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        declared = sum(info.file_size for info in zipped.infolist())
    stream = io.BytesIO(data)

    # when
    size = unpacked_size(stream)

    # then
    assert size == declared
    assert size > len(data)
    assert stream.tell() == 0
    assert rows_of(stream.getvalue())[0] == (1, ["store", "item", "count"])
