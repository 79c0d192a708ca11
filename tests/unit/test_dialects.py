"""The files stores really send: delimiters, encodings, line ends, header aliases, ignored
columns, and every line accounted for (CSV and JSON Lines)."""

from __future__ import annotations

import codecs
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.parsing import (
    MAX_RECORD_CHARS,
    FileRejected,
    Record,
    RecordReader,
    declared_charset,
    read_records,
)
from inventory.validation import StockRow, validate
from tests.unit.loads import load

ROWS = [("Berlin", "Echo Dot", "12"), ("Berlin", "Kindle", "0")]
EXPECTED = [
    Record(2, {"store": "Berlin", "item": "Echo Dot", "count": "12"}),
    Record(3, {"store": "Berlin", "item": "Kindle", "count": "0"}),
]


def reader(data: bytes, name: str = "stores/berlin.csv", charset: str | None = None):
    return read_records(io.BytesIO(data), name, charset)


def read(data: bytes, name: str = "stores/berlin.csv", charset: str | None = None) -> list[Record]:
    return list(reader(data, name, charset))


def rejected(data: bytes, name: str = "stores/berlin.csv", charset: str | None = None) -> str:
    with pytest.raises(FileRejected) as error:
        read(data, name, charset)
    return error.value.reason


def table(delimiter: str, header: str = "store,item,count", end: str = "\n") -> str:
    lines = [header.replace(",", delimiter)] + [delimiter.join(row) for row in ROWS]
    return end.join(lines) + end


# --- Delimiters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        pytest.param(table(";"), "stores/berlin.csv", id="semicolon"),
        pytest.param(table("\t"), "stores/berlin.csv", id="tab-in-csv"),
        pytest.param(table("\t"), "stores/berlin.tsv", id="tsv"),
        pytest.param(table("\t"), "stores/BERLIN.TAB", id="tab"),
        pytest.param(table(","), "stores/berlin.csv", id="comma"),
    ],
)
def test_the_delimiter_is_the_one_the_header_line_uses(text: str, name: str) -> None:
    assert read(text.encode(), name) == EXPECTED


def test_quoted_fields_keep_the_delimiter_in_every_dialect() -> None:
    # given
    data = b'store;item;count\nBerlin;"Echo; 3rd gen";4\n"Ber;lin";Tap;5\n'
    # when
    records = read(data)
    # then
    assert [(r.fields["store"], r.fields["item"]) for r in records] == [
        ("Berlin", "Echo; 3rd gen"),
        ("Ber;lin", "Tap"),
    ]


def test_a_tsv_file_is_read_with_tabs_even_when_its_cells_hold_commas() -> None:
    data = b"store\titem\tcount\nBerlin\tEcho, 3rd gen\t4\n"
    assert read(data, "x.tsv")[0].fields["item"] == "Echo, 3rd gen"


# --- Encodings ----------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_a_bom_loads_like_utf8(codec: str) -> None:
    # given Excel's "Unicode text": UTF-16 with a BOM, tab-separated
    text = "store\titem\tcount\r\nMünchen\tÉcho ☃\t3\r\n"
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(codec, b"")
    data = bom + text.encode(codec)
    # when / then
    assert read(data, "x.txt.csv") == [
        Record(2, {"store": "München", "item": "Écho ☃", "count": "3"})
    ]


def test_a_declared_charset_decodes_the_file() -> None:
    data = "store;item;count\nMünchen;Café – Crème;3\n".encode("windows-1252")
    assert read(data, charset="windows-1252")[0].fields == {
        "store": "München",
        "item": "Café – Crème",
        "count": "3",
    }


def test_a_declared_utf16_without_a_bom_decodes_the_file() -> None:
    data = "store,item,count\nB,x,1\n".encode("utf-16-le")
    assert read(data, charset="UTF-16LE")[0].fields["item"] == "x"


@pytest.mark.parametrize("charset", ["klingon-8", "base64", "rot13", "x" * 300])
def test_an_unknown_declared_charset_is_refused_with_a_reason(charset: str) -> None:
    reason = rejected(b"store,item,count\nB,x,1\n", charset=charset)
    assert "is not a known text encoding" in reason


def test_bytes_that_are_not_the_declared_charset_are_refused() -> None:
    reason = rejected("store,item,count\nMünchen,x,1\n".encode("latin-1"), charset="utf-8")
    assert reason.startswith("the file is not valid utf-8")


def test_undeclared_bytes_that_are_not_utf8_say_how_to_resave() -> None:
    reason = rejected("store,item,count\nMünchen,x,1\n".encode("latin-1"))
    assert "not valid UTF-8" in reason
    assert "CSV UTF-8" in reason
    assert "charset=" in reason


@pytest.mark.parametrize(
    ("content_type", "metadata", "charset"),
    [
        ("text/csv; charset=windows-1252", {}, "windows-1252"),
        ('text/csv;Charset="ISO-8859-1"', {}, "ISO-8859-1"),
        ("text/csv", {}, None),
        (None, {}, None),
        ("text/csv; charset=utf-8", {"charset": "windows-1252"}, "windows-1252"),
        (None, {"Charset": " utf-16 "}, "utf-16"),
        ("text/csv; charset=", {"charset": ""}, None),
    ],
)
def test_the_declared_charset_comes_from_metadata_or_the_content_type(
    content_type: str | None, metadata: dict[str, str], charset: str | None
) -> None:
    assert declared_charset(content_type, metadata) == charset


# --- Line ends ----------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_every_line_end_reads_the_same_records(end: str) -> None:
    assert read(table(",", end=end).encode()) == EXPECTED


def test_mixed_line_ends_keep_line_numbers_right_in_csv() -> None:
    data = b"store,item,count\r\nB,a,1\rB,b,2\nB,c,3\r\n\rB,d,4\r"
    assert [(r.line, r.fields["item"]) for r in read(data)] == [
        (2, "a"),
        (3, "b"),
        (4, "c"),
        (6, "d"),
    ]


def test_mixed_line_ends_keep_line_numbers_right_in_json_lines_and_arrays() -> None:
    rows = [json.dumps({"store": "B", "item": name, "count": 1}) for name in "abc"]
    lines = f"{rows[0]}\r{rows[1]}\r\n\r{rows[2]}\n"
    array = f"[\r{rows[0]},\r\n{rows[1]},\r\r{rows[2]}]\r"
    assert [r.line for r in read(lines.encode(), "x.jsonl")] == [1, 2, 4]
    assert [r.line for r in read(array.encode(), "x.json")] == [2, 3, 5]


# --- Header -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Shop,SKU,Qty",
        " LOCATION , Product , Quantity ",
        "stock,product,location",
        "Item,Store,Stock",
        "store,item,count,Low Stock Threshold",
        "store,item,count,reorder-point",
    ],
)
def test_header_aliases_name_the_canonical_fields(header: str) -> None:
    # given a header using aliases, in any order and case
    names = [cell.strip().lower() for cell in header.split(",")]
    canonical = {
        "shop": "store",
        "location": "store",
        "store": "store",
        "sku": "item",
        "product": "item",
        "item": "item",
        "qty": "count",
        "quantity": "count",
        "stock": "count",
        "count": "count",
        "low stock threshold": "low_stock_threshold",
        "reorder-point": "low_stock_threshold",
    }
    values = {"store": "Berlin", "item": "Echo", "count": "3", "low_stock_threshold": "2"}
    row = ",".join(values[canonical[name]] for name in names)
    # when
    [record] = read(f"{header}\n{row}\n".encode())
    # then the fields carry canonical names only
    assert record.fields == {canonical[name]: values[canonical[name]] for name in names}
    assert record.problem is None


def test_extra_columns_are_ignored_and_listed_in_first_seen_order() -> None:
    # given
    data = b"SKU,Description,store,Price,qty,,Price\nA-1,Echo,Berlin,9.99,3,,1\n"
    records = reader(data)
    # when
    got = list(records)
    # then
    assert got == [Record(2, {"item": "A-1", "store": "Berlin", "count": "3"})]
    assert records.ignored_columns == ["Description", "Price"]


def test_the_ignored_names_listed_are_capped_at_100() -> None:
    extra = ",".join(f"c{i}" for i in range(500))
    data = f"store,item,count,{extra}\nB,x,1,{',' * 499}\n".encode()
    records = reader(data)
    assert len(list(records)) == 1
    assert records.ignored_columns == [f"c{i}" for i in range(100)]


@pytest.mark.parametrize(
    ("header", "twice"),
    [
        ("count,store,item,qty", "count"),
        ("shop,item,count,Store", "store"),
        ("sku,product,count,store", "item"),
    ],
)
def test_a_header_naming_one_field_twice_is_refused(header: str, twice: str) -> None:
    reason = rejected(f"{header}\nB,x,1,2\n".encode())
    assert reason.startswith(f"the header names the column {twice} twice")


# --- Every line accounted for -------------------------------------------------------------


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("name", ["x.csv", "x.jsonl"])
def test_an_overlong_line_is_rejected_alone_whatever_its_line_end(end: str, name: str) -> None:
    # given a line far over the record limit between two good ones
    good = (
        ["B,a,1", "B,b,2"]
        if name == "x.csv"
        else [json.dumps({"store": "B", "item": i, "count": 1}) for i in "ab"]
    )
    head = ["store,item,count"] if name == "x.csv" else []
    long = (
        "B," + "x" * (3 * MAX_RECORD_CHARS) + ",1"
        if name == "x.csv"
        else ('{"store": "B", "item": "' + "x" * (3 * MAX_RECORD_CHARS) + '", "count": 1}')
    )
    data = end.join([*head, good[0], long, good[1]]).encode()
    # when
    records = read(data, name)
    # then
    first = len(head) + 1
    assert [(r.line, r.problem) for r in records] == [
        (first, None),
        (first + 1, f"the line is longer than {MAX_RECORD_CHARS:,} characters"),
        (first + 2, None),
    ]


def test_an_unclosed_quote_is_reported_where_it_opened_with_the_lines_it_swallowed() -> None:
    # given a stray quote on line 3 that nothing closes
    data = b'store,item,count\nB,a,1\nB,"b,2\nB,c,3\nB,d,4\n'
    # when
    records = read(data)
    # then
    assert records[0].problem is None
    assert records[1] == Record(
        3, {}, "a quote opened on line 3 is never closed; lines 3–5 could not be read", 5
    )
    assert records[1].lines == 3


def test_a_quote_that_stays_open_past_the_record_limit_ends_there_and_reading_goes_on() -> None:
    # given a stray quote followed by more than a record's worth of lines, then good ones
    filler = b"B,filler,1\n" * (MAX_RECORD_CHARS // 11 + 10)
    data = b'store,item,count\nB,"a,1\n' + filler + b"B,z,2\n"
    lines = 2 + filler.count(b"\n") + 1
    # when
    records = read(data)
    # then the open quote takes a record's worth of lines, named as a range; the rest load
    first = records[0]
    assert first.line == 2
    assert first.last_line is not None
    assert first.problem is not None
    assert first.problem.startswith("a quote opened on line 2 is not closed within")
    assert f"lines 2–{first.last_line} could not be read" in first.problem
    assert all(r.problem is None for r in records[1:])
    assert records[-1].fields["item"] == "z"
    assert 1 + sum(r.lines for r in records) == lines


def test_the_line_of_the_quote_that_stays_open_is_named() -> None:
    data = b'store,item,count\nB,"a\nb",1,"x\ny\n'
    [record] = read(data)
    assert record.problem == "a quote opened on line 3 is never closed; lines 2–4 could not be read"


def test_blank_lines_are_counted_not_read_as_records() -> None:
    data = b"\nstore,item,count\n\nB,a,1\n,,\n  \r\n\rB,b,2\n\n"
    records = reader(data)
    assert [r.line for r in records] == [4, 8]
    assert records.blank_lines == 5
    jsonl = reader(b'\n{"store": "B", "item": "a", "count": 1}\r\n \r\n', "x.jsonl")
    assert [r.line for r in jsonl] == [2]
    assert jsonl.blank_lines == 2


CELL = st.one_of(
    st.sampled_from(["B", "x", "1", "", " ", '"q"', '"a,b"', '"', '"line\nbreak"', '12" TV']),
    st.text(alphabet='ab,;"\n\r ', max_size=6),
)
ROW = st.lists(CELL, min_size=0, max_size=5).map(",".join)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(ROW, max_size=12),
    ends=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1),
)
def test_every_physical_line_is_the_header_a_record_or_blank(
    rows: list[str], ends: list[str]
) -> None:
    # given a header and arbitrary rows (stray quotes, quoted breaks), with mixed line ends
    text = "store,item,count"
    for index, row in enumerate(rows):
        text += ends[index % len(ends)] + row
    pieces = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    physical = len(pieces) - (pieces[-1] == "")  # a final line end starts no line
    records = reader(text.encode())
    # when
    got: list[Record] = []
    reason = None
    try:
        got.extend(records)
    except FileRejected as error:  # only a file of a header and nothing else
        reason = error.reason
    assert reason in (None, "the file has a header but no data rows")
    # then the header, each record's lines and the blank lines add up to the file's lines
    assert 1 + sum(r.lines for r in got) + records.blank_lines == physical
    assert all(r.line >= 2 for r in got)


# --- JSON ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        '{"store": "B", "item": "x", "count": 1, "count": 0}',
        '{"store": "B", "item": "x", "count": 1, "qty": 0}',
        '{"store": "B", "item": "x", "Stock": 1, "count": 5}',
    ],
)
@pytest.mark.parametrize("name", ["x.jsonl", "x.json"])
def test_a_json_record_naming_count_twice_is_rejected(line: str, name: str) -> None:
    data = (f"[{line}]" if name == "x.json" else line + "\n").encode()
    [record] = read(data, name)
    assert record.problem == "count is given twice"


def test_json_aliases_map_to_canonical_fields_and_unknown_fields_are_listed() -> None:
    records = reader(
        b'{"shop": "B", "SKU": "x", "qty": 3, "price": 9.5, "note": null}\n'
        b'{"store": "B", "item": "y", "count": 1, "reorder_point": 2, "colour": "red"}\n',
        "x.jsonl",
    )
    assert list(records) == [
        Record(1, {"store": "B", "item": "x", "count": 3}),
        Record(2, {"store": "B", "item": "y", "count": 1, "low_stock_threshold": 2}),
    ]
    assert records.ignored_columns == ["price", "note", "colour"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
@pytest.mark.parametrize("name", ["x.jsonl", "x.json"])
def test_non_finite_counts_are_rejected_with_their_name(literal: str, name: str) -> None:
    line = f'{{"store": "B", "item": "x", "count": {literal}}}'
    data = (f"[{line}]" if name == "x.json" else line + "\n").encode()
    [record] = read(data, name)
    assert record.problem == f"count must be a whole number, not {literal}"
    assert json.loads(json.dumps(record.fields)) == record.fields  # strict JSON: a string


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("[" * 30_000 + "]" * 30_000, id="deep-list"),
        pytest.param('{"a":' * 10_000 + "1" + "}" * 10_000, id="deep-object"),
    ],
)
def test_a_deeply_nested_json_line_is_rejected_alone(value: str) -> None:
    # given a nested value within the record limit, then a good line
    line = f'{{"store": "B", "item": "x", "count": {value}}}'
    data = (line + "\n" + '{"store": "B", "item": "y", "count": 1}\n').encode()
    # when
    records = read(data, "x.jsonl")
    # then
    assert len(line) <= MAX_RECORD_CHARS
    assert records[0].problem == "the JSON value is nested too deeply"
    assert isinstance(validate(records[1]), StockRow)


def test_a_reader_is_what_read_records_returns_and_reads_lazily() -> None:
    records = read_records(io.BytesIO(b""), "x.csv")
    assert isinstance(records, RecordReader)
    with pytest.raises(FileRejected):
        list(records)


def test_a_deeply_nested_element_of_a_json_array_is_rejected_alone() -> None:
    # given an array whose second element nests 30,000 deep (within the record limit)
    deep = '{"store": "B", "item": "x", "count": ' + "[" * 30_000 + "]" * 30_000 + "}"
    good = '{"store": "B", "item": "y", "count": 1}'
    data = f'[{good},\n{deep},\n{good}, "[{{\\"]"]'.encode()
    # when
    records = read(data, "x.json")
    # then
    assert [(r.line, r.problem) for r in records] == [
        (1, None),
        (2, "the JSON value is nested too deeply"),
        (3, None),
        (3, "expected a JSON object with store, item and count"),
    ]


# --- Through the loader -------------------------------------------------------------------


def test_the_loader_accounts_for_every_data_line_of_a_spreadsheet_export() -> None:
    # given a semicolon export, CR line ends, aliases, an extra column, blank rows, a stray
    # quote that swallows the lines after it, an overlong line and a repeated key
    lines = [
        "Shop;SKU;Qty;Price",
        "Berlin;Echo;3;9.99",
        "",
        ";;;",
        "Berlin;" + "x" * (2 * MAX_RECORD_CHARS) + ";1;0",
        "Berlin;Tap;0;5",
        "Berlin;Echo;4;9.99",
        'Berlin;"Kindle;2;1',
        "Berlin;Fire;1;1",
    ]
    data = "\r".join(lines).encode()
    # when
    outcome, sink = load(lambda: read_records(io.BytesIO(data), "stores/berlin.csv"))
    # then the data lines (all but the header) are loaded, rejected, duplicate or blank
    assert [(r.store, r.item, r.count) for r in sink] == [
        ("Berlin", "Tap", 0),
        ("Berlin", "Echo", 4),
    ]
    assert (outcome.rows_loaded, outcome.rows_duplicate, outcome.rows_rejected) == (2, 1, 3)
    assert outcome.blank_lines == 2
    assert outcome.lines_read + outcome.blank_lines == len(lines) - 1
    assert outcome.ignored == ["Price"]
