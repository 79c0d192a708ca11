"""An .xlsx upload through read_records: the first sheet reads like a CSV (header row with the
same names and aliases, rows numbered as Excel shows them), and the load accounts for it."""

from __future__ import annotations

import io

import pytest

from inventory.parsing import FileRejected, read_records, text_size
from tests.unit.loads import load
from tests.unit.workbooks import cell, row, sheet_xml, xlsx


def _sheet(*rows: tuple[int, tuple[object, ...]]) -> bytes:
    columns = "ABCDEFGH"
    body = [
        row(number, *(cell(f"{columns[at]}{number}", v) for at, v in enumerate(values)))
        for number, values in rows
    ]
    return xlsx([("Stock", sheet_xml(*body))])


def _records(data: bytes, name: str = "stores/lyon.xlsx") -> list:
    return list(read_records(io.BytesIO(data), name))


def test_the_first_sheet_loads_with_aliases_in_any_order_and_extra_columns_ignored() -> None:
    # given a sheet as a store exports it: aliases, another order, a price column
    data = _sheet(
        (1, ("SKU", "Qty", "Price", "Shop")),
        (2, ("Echo", 5, 19.99, "Lyon")),
        (3, ("Kindle", 0, 89.5, "Lyon")),
    )
    # when
    reader = read_records(io.BytesIO(data), "stores/LYON.XLSX")
    records = list(reader)
    # then
    assert [(r.line, r.fields) for r in records] == [
        (2, {"item": "Echo", "count": "5", "store": "Lyon"}),
        (3, {"item": "Kindle", "count": "0", "store": "Lyon"}),
    ]
    assert reader.ignored_columns == ["Price"]


def test_rows_keep_excels_numbers_and_empty_rows_between_count_as_blank() -> None:
    # given a header on row 1 and rows 2, 5 and 6 (rows 3 and 4 empty)
    data = _sheet(
        (1, ("store", "item", "count")),
        (2, ("Lyon", "Echo", 1)),
        (5, ("Lyon", "Tap", 2.5)),
        (6, ("Lyon", "Dot", 3)),
    )
    # when
    outcome, sink = load(lambda: read_records(io.BytesIO(data), "stores/lyon.xlsx"))
    # then: a fractional count is rejected at its row, the others load, every row counted
    assert [(r.item, r.count) for r in sink] == [("Echo", 1), ("Dot", 3)]
    assert [(r.line, r.reason) for r in outcome.rejections] == [
        (5, "count must be a whole number, not '2.5'")
    ]
    assert (outcome.blank_lines, outcome.lines_read) == (2, 3)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_sheet((1, ("store", "item", "qty", "count")), (2, ("L", "E", 1, 2))), "twice"),
        (_sheet((1, ("store", "item")), (2, ("L", "E"))), "missing count"),
        (
            _sheet(
                (1, ("store", "item", "count")),
            ),
            "no data rows",
        ),
        (xlsx([("Stock", sheet_xml())]), "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "password"),
        (b"store,item,count\nL,E,1\n", "ZIP"),
    ],
    ids=["column-twice", "missing-column", "header-only", "empty-sheet", "ole2", "not-zip"],
)
def test_a_workbook_that_cannot_load_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    # when
    with pytest.raises(FileRejected) as refused:
        _records(data)
    # then
    assert reason.lower() in refused.value.reason.lower()


def test_a_row_with_text_past_the_header_is_rejected_alone_but_empty_cells_there_are_not() -> None:
    # given
    body = sheet_xml(
        row(1, cell("A1", "store"), cell("B1", "item"), cell("C1", "count")),
        row(2, cell("A2", "L"), cell("B2", "Echo"), cell("C2", 1), cell("E2", "note")),
        row(3, cell("A3", "L"), cell("B3", "Tap"), cell("C3", 2), cell("E3", "")),
    )
    # when
    records = _records(xlsx([("Stock", body)]))
    # then
    assert [(r.line, r.problem is None) for r in records] == [(2, False), (3, True)]
    assert "too many columns" in (records[0].problem or "")


def test_a_workbook_bounds_its_rows_by_what_it_unpacks_to_and_other_files_by_their_size() -> None:
    # given a sheet of short numeric rows, which deflate to about 12 bytes a row
    rows = [(1, ("store", "item", "count"))] + [(n, (1, n, 1)) for n in range(2, 3002)]
    data = _sheet(*rows)
    # when
    bound = text_size(io.BytesIO(data), "stores/lyon.xlsx", len(data))
    # then: the bound is the sheet's text, several times the file; a CSV's is its own size
    assert bound > 5 * len(data)
    assert text_size(io.BytesIO(b"a,b,c\n"), "stores/lyon.csv", 6) == 6
