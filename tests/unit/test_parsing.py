"""Reading inventory files: CSV with a header, a JSON array, JSON Lines."""

from __future__ import annotations

import codecs
import gzip
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import unquote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.parsing import MAX_RECORD_CHARS, FileRejected, Record, read_records
from inventory.validation import Rejection, StockRow, validate

EVENTS = Path(__file__).resolve().parent.parent / "events"

SEED_CSV = b"store,item,count\nBerlin,Amazon Tap,15\nBerlin,Echo Dot,12\nBerlin,Echo Plus,0\n"
SEED_RECORDS = [
    Record(2, {"store": "Berlin", "item": "Amazon Tap", "count": "15"}),
    Record(3, {"store": "Berlin", "item": "Echo Dot", "count": "12"}),
    Record(4, {"store": "Berlin", "item": "Echo Plus", "count": "0"}),
]
SHANGHAI = [
    {"store": "Shanghai", "item": "Echo Dot", "count": 42},
    {"store": "Shanghai", "item": "Echo Plus", "count": 0},
    {"store": "Shanghai", "item": "Kindle", "count": 7},
]
NOT_AN_OBJECT = "expected a JSON object with store, item and count"


class _Trickle:
    """A stream whose read(n) returns at most 7 bytes at a time, like a slow network body."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int | None = -1) -> bytes:
        return self._data.read(7 if size is None or size < 0 else min(size, 7))


def trickle(data: bytes) -> BinaryIO:
    """A trickling stream; read_records takes anything with read(n), as an S3 StreamingBody."""
    return cast(BinaryIO, _Trickle(data))


def read(data: bytes, name: str = "stores/berlin.csv") -> list[Record]:
    return list(read_records(io.BytesIO(data), name))


def read_until_rejected(data: bytes, name: str) -> tuple[list[Record], FileRejected]:
    produced: list[Record] = []
    with pytest.raises(FileRejected) as rejected:
        produced.extend(read_records(io.BytesIO(data), name))  # keeps what came before
    return produced, rejected.value


def csv_row(line: int, store: str, item: str, count: str) -> Record:
    return Record(line, {"store": store, "item": item, "count": count})


def json_lines(*values: Any) -> bytes:
    return "".join(json.dumps(value) + "\n" for value in values).encode()


# --- CSV ---------------------------------------------------------------------------------


def test_the_seed_sample_gives_one_record_per_row_numbered_by_file_line() -> None:
    # given
    data = SEED_CSV
    # when
    records = read(data)
    # then
    assert records == SEED_RECORDS


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(SEED_CSV.replace(b"store,item,count", b"Store,ITEM,Count"), id="mixed-case"),
        pytest.param(SEED_CSV.replace(b"store,item,count", b" store , item ,count "), id="padded"),
        pytest.param(codecs.BOM_UTF8 + SEED_CSV, id="utf8-bom"),
        pytest.param(SEED_CSV.replace(b"\n", b"\r\n"), id="crlf"),
        pytest.param(SEED_CSV.replace(b"\n", b"\r"), id="cr"),
        pytest.param(SEED_CSV.rstrip(b"\n"), id="no-final-newline"),
        pytest.param(
            b"count,item,store\n15,Amazon Tap,Berlin\n12,Echo Dot,Berlin\n0,Echo Plus,Berlin\n",
            id="columns-reordered",
        ),
        pytest.param(
            b'"item","store","count"\n"Amazon Tap","Berlin","15"\n'
            b'"Echo Dot","Berlin","12"\n"Echo Plus","Berlin","0"\n',
            id="all-quoted-reordered",
        ),
    ],
)
def test_csv_layout_variants_read_the_same_records(data: bytes) -> None:
    # given a file that differs from the seed sample only in layout
    # when
    records = read(data)
    # then
    assert records == SEED_RECORDS


@pytest.mark.parametrize(
    ("row", "item", "last_line"),
    [
        (b'Berlin,"Echo Dot, 3rd gen",4', "Echo Dot, 3rd gen", None),
        (b'Berlin,"Echo ""Plus""",4', 'Echo "Plus"', None),
        (b'Berlin,"",4', "", None),
        (b'Berlin,"Echo\nDot",4', "Echo\nDot", 3),
        # Every line end reads as LF, inside quotes too (a name with one is rejected anyway).
        (b'Berlin,"Echo\r\nDot",4', "Echo\nDot", 3),
        (b'Berlin,"Echo\rDot",4', "Echo\nDot", 3),
        (b'Berlin,"12"" TV",4', '12" TV', None),
        (b'Berlin,12" TV,4', '12" TV', None),
    ],
)
def test_quoted_csv_fields_keep_commas_quotes_and_newlines(
    row: bytes, item: str, last_line: int | None
) -> None:
    # given
    data = b"store,item,count\n" + row + b"\n"
    # when
    records = read(data)
    # then
    assert records == [Record(2, {"store": "Berlin", "item": item, "count": "4"}, None, last_line)]


def test_a_newline_inside_a_quoted_name_is_read_then_rejected_by_validation() -> None:
    # given
    data = b'store,item,count\nBerlin,"Echo\nDot",4\n'
    # when
    [record] = read(data)
    result = validate(record)
    # then
    assert isinstance(result, Rejection)
    assert result.line == 2
    assert "control character" in result.reason


def test_blank_lines_are_skipped_but_still_counted_in_line_numbers() -> None:
    # given
    data = b"\nstore,item,count\n\nBerlin,Echo Dot,1\n\n\r\n\nBerlin,Echo Plus,2\n\n"
    # when
    records = read(data)
    # then
    assert records == [
        csv_row(4, "Berlin", "Echo Dot", "1"),
        csv_row(8, "Berlin", "Echo Plus", "2"),
    ]


def test_line_numbers_stay_right_after_multi_line_quoted_fields() -> None:
    # given
    data = (
        b"store,item,count\n"
        b'Berlin,"Echo\nDot\nPlus",1\n'
        b"Berlin,Kindle,2\n"
        b'"Ber\r\nlin",Fire TV,3\r\n'
        b"Berlin,Echo Show,4\n"
    )
    # when
    records = read(data)
    # then
    assert [record.line for record in records] == [2, 5, 6, 8]
    assert records[1] == csv_row(5, "Berlin", "Kindle", "2")
    assert records[3] == csv_row(8, "Berlin", "Echo Show", "4")


@pytest.mark.parametrize(
    ("header", "row", "fields", "problem"),
    [
        ("store,item,count", "Berlin,Echo,1,extra", {}, "too many columns: expected 3, found 4"),
        ("store,item,count", "Berlin,Echo,1,", {}, "too many columns: expected 3, found 4"),
        (
            "store,item,count",
            "Berlin,Echo",
            {"store": "Berlin", "item": "Echo"},
            "missing field: count",
        ),
        ("store,item,count", "Berlin", {"store": "Berlin"}, "missing field: item, count"),
        ("count,store,item", "3,Berlin", {"count": "3", "store": "Berlin"}, "missing field: item"),
    ],
)
def test_a_row_of_the_wrong_width_is_carried_as_a_problem(
    header: str, row: str, fields: dict[str, str], problem: str
) -> None:
    # given
    data = f"{header}\n{row}\nBerlin,Kindle,5\n".encode()
    # when
    records = read(data)
    # then
    assert records[0] == Record(2, fields, problem)
    assert records[1].problem is None
    assert records[1].line == 3


def test_a_one_megabyte_line_is_rejected_alone_and_the_next_row_is_read() -> None:
    # given
    data = b"store,item,count\nBerlin," + b"x" * 1_000_000 + b",1\nBerlin,Echo Dot,2\n"
    # when
    records = read(data)
    # then
    assert records == [
        Record(2, {}, f"the line is longer than {MAX_RECORD_CHARS:,} characters"),
        csv_row(3, "Berlin", "Echo Dot", "2"),
    ]


@pytest.mark.parametrize(
    ("data", "reason", "line"),
    [
        pytest.param(b"", "the file is empty", None, id="empty"),
        pytest.param(
            b"store,item,count\n", "the file has a header but no data rows", 1, id="header-only"
        ),
        pytest.param(
            b"\nstore,item,count\r\n\r\n\n",
            "the file has a header but no data rows",
            2,
            id="header-and-blank-lines",
        ),
        pytest.param(b" \n\n  \n", "the file has no header and no rows", None, id="blank"),
        pytest.param(
            b"where,what,how many\nBerlin,Echo,1\n",
            "the header must name the columns store, item, count (in any order",
            1,
            id="unknown-header",
        ),
        pytest.param(
            b"where,what,how many\nBerlin,Echo,1\n",
            "missing store, item, count in 'where,what,how many'",
            1,
            id="unknown-header-names-what-is-missing",
        ),
        pytest.param(
            b"store,item,count,qty\nBerlin,Echo,1,9\n",
            "the header names the column count twice ('count' and 'qty')",
            1,
            id="count-twice-through-an-alias",
        ),
        pytest.param(
            b"store,item\nBerlin,Echo\n", "the header must name the columns", 1, id="no-count"
        ),
        pytest.param(
            b"store;item\nBerlin;Echo Dot\n", "missing count in 'store;item'", 1, id="no-count-semi"
        ),
        pytest.param(
            b"Berlin,Echo Dot,1\n",
            "missing store, item, count in 'Berlin,Echo Dot,1'",
            1,
            id="no-header-at-all",
        ),
        pytest.param(
            b'"store,item,count\nBerlin,Echo Dot,1\n',
            "the header line has a quote that is never closed",
            1,
            id="unclosed-quote-in-header",
        ),
        pytest.param(
            b"store," + b"x" * MAX_RECORD_CHARS + b",count\nBerlin,Echo Dot,1\n",
            f"the header line is longer than {MAX_RECORD_CHARS:,} characters",
            1,
            id="overlong-header",
        ),
    ],
)
def test_a_csv_without_a_usable_header_or_rows_is_rejected(
    data: bytes, reason: str, line: int | None
) -> None:
    # given a file that cannot be read as inventory
    # when
    with pytest.raises(FileRejected) as rejected:
        read(data)
    # then
    assert reason in rejected.value.reason
    assert rejected.value.line == line


def _zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("berlin.csv", data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(SEED_CSV.decode().encode("utf-16-be"), "NUL bytes", id="utf-16-no-bom"),
        pytest.param(SEED_CSV.decode().encode("utf-32"), "UTF-32", id="utf-32-bom"),
        pytest.param(
            "store,item,count\nMünchen,Echo Dot,1\n".encode("latin-1"),
            "not valid UTF-8 (byte 0xfc at offset 18)",
            id="latin-1",
        ),
        pytest.param(b"store,item,count\nBerlin,Echo\x00Dot,1\n", "NUL bytes", id="nul"),
        pytest.param(gzip.compress(SEED_CSV, mtime=0), "gzip-compressed", id="gzip"),
        pytest.param(_zip(SEED_CSV), "ZIP archive", id="zip"),
        pytest.param(
            json.dumps(SHANGHAI).encode(), "named .csv but contains JSON", id="json-array"
        ),
        pytest.param(json_lines(*SHANGHAI), "named .csv but contains JSON", id="json-lines"),
        pytest.param(
            codecs.BOM_UTF8 + b"\n  " + json.dumps(SHANGHAI).encode(),
            "named .csv but contains JSON",
            id="json-after-bom-and-space",
        ),
    ],
)
def test_a_file_that_is_not_utf8_csv_is_rejected_with_a_reason_naming_the_problem(
    data: bytes, reason: str
) -> None:
    # given bytes that are not a UTF-8 CSV
    # when
    with pytest.raises(FileRejected) as rejected:
        read(data, "stores/berlin.csv")
    # then
    assert reason in rejected.value.reason


def test_bad_utf8_past_the_sniffed_window_rejects_the_file_after_the_rows_before_it() -> None:
    # given a Latin-1 byte well past the first 64 KB
    good_rows = b"Berlin,Echo Dot,1\n" * 5000
    data = b"store,item,count\n" + good_rows + "Berlin,Café,1\n".encode("latin-1")
    # when
    produced, rejected = read_until_rejected(data, "stores/berlin.csv")
    # then
    assert rejected.reason == "the file is not valid UTF-8 (byte 0xe9)"
    assert 0 < len(produced) <= 5000
    assert all(record.problem is None for record in produced)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("stores/berlin.txt", "unsupported file type '.txt'"),
        ("stores/berlin.ods", "unsupported file type '.ods'"),
        ("stores/berlin.csv.gz", "unsupported file type '.gz'"),
        ("stores/berlin", "unsupported file type '(no extension)'"),
        ("stores/.csv", "unsupported file type '(no extension)'"),
    ],
)
def test_an_unsupported_extension_is_rejected(name: str, reason: str) -> None:
    # given
    data = SEED_CSV
    # when
    with pytest.raises(FileRejected) as rejected:
        read(data, name)
    # then
    assert rejected.value.reason.startswith(reason)
    assert ".csv, .tsv, .xlsx, .json or .jsonl" in rejected.value.reason


@pytest.mark.parametrize("name", ["BERLIN.CSV", "stores/berlin.Csv", "a.b/berlin.csv"])
def test_the_extension_is_matched_case_insensitively_on_the_last_suffix(name: str) -> None:
    # given
    data = SEED_CSV
    # when
    records = read(data, name)
    # then
    assert records == SEED_RECORDS


def test_the_decoded_key_of_the_recorded_s3_upload_is_read_as_csv() -> None:
    # given the key of a real S3 event, which S3 sends URL-encoded
    event = json.loads((EVENTS / "s3_put.json").read_text())
    key = unquote_plus(event["Records"][0]["s3"]["object"]["key"])
    # when
    records = read(SEED_CSV, key)
    # then
    assert key == "stores/berlin day+1.csv"
    assert records == SEED_RECORDS


def test_csv_read_through_a_trickling_stream_gives_the_same_records() -> None:
    # given
    data = (
        codecs.BOM_UTF8
        + b"\r\n  \r\nItem , Store,COUNT\r\n"
        + b'"Echo\r\nDot",Berlin,1\r\n"Echo ""Plus"", 2nd gen",Berlin,2\r\n'
        + b"Kindle,Berlin\r\n"
        + "Échos ☃,München,3\r\n".encode()
    )
    # when
    trickled = list(read_records(trickle(data), "stores/berlin.csv"))
    # then
    assert trickled == read(data)
    assert trickled == [
        Record(4, {"store": "Berlin", "item": "Echo\nDot", "count": "1"}, None, 5),
        csv_row(6, "Berlin", 'Echo "Plus", 2nd gen', "2"),
        Record(7, {"item": "Kindle", "store": "Berlin"}, "missing field: count"),
        csv_row(8, "München", "Échos ☃", "3"),
    ]


def test_json_named_csv_is_recognised_through_a_trickling_stream() -> None:
    # given JSON whose first significant byte lies past the first 7-byte read
    data = b"\n" * 20 + json.dumps(SHANGHAI).encode()
    # when
    with pytest.raises(FileRejected) as rejected:
        list(read_records(trickle(data), "stores/shanghai.csv"))
    # then
    assert "named .csv but contains JSON" in rejected.value.reason


# --- JSON --------------------------------------------------------------------------------


def test_a_json_array_of_objects_gives_one_record_per_element_numbered_by_line() -> None:
    # given
    data = ("[\n" + ",\n".join(json.dumps(value) for value in SHANGHAI) + "\n]\n").encode()
    # when
    records = read(data, "stores/shanghai.json")
    # then
    assert records == [Record(2, SHANGHAI[0]), Record(3, SHANGHAI[1]), Record(4, SHANGHAI[2])]


def test_a_compact_json_array_puts_every_record_on_line_one() -> None:
    # given
    data = json.dumps(SHANGHAI, separators=(",", ":")).encode()
    # when
    records = read(data, "stores/shanghai.json")
    # then
    assert records == [Record(1, value) for value in SHANGHAI]


@pytest.mark.parametrize("name", ["stores/shanghai.jsonl", "stores/shanghai.ndjson"])
def test_json_lines_give_one_record_per_line(name: str) -> None:
    # given
    data = json_lines(*SHANGHAI)
    # when
    records = read(data, name)
    # then
    assert records == [Record(1, SHANGHAI[0]), Record(2, SHANGHAI[1]), Record(3, SHANGHAI[2])]


def test_a_json_file_starting_with_an_object_is_read_as_json_lines() -> None:
    # given
    data = codecs.BOM_UTF8 + b"\r\n" + json_lines(*SHANGHAI).replace(b"\n", b"\r\n") + b"\r\n"
    # when
    records = read(data, "stores/shanghai.json")
    # then
    assert records == [Record(2, SHANGHAI[0]), Record(3, SHANGHAI[1]), Record(4, SHANGHAI[2])]


WRAPPED = {"items": SHANGHAI}


@pytest.mark.parametrize(
    ("data", "line"),
    [
        pytest.param(json.dumps(WRAPPED, indent=2).encode(), 1, id="pretty-printed"),
        pytest.param(json.dumps(WRAPPED).encode(), 1, id="one-line"),
        pytest.param(json.dumps(WRAPPED).encode() + b"\n\n", 1, id="one-line-then-blank-lines"),
        pytest.param(json.dumps(SHANGHAI[0], indent=2).encode(), 1, id="one-record-pretty"),
        pytest.param(
            codecs.BOM_UTF8 + b"\r\n\r\n" + json.dumps(WRAPPED, indent=4).encode(),
            3,
            id="bom-crlf-pretty",
        ),
        pytest.param(
            json.dumps({"items": [SHANGHAI[0]] * 2000}).encode(), 1, id="one-line-over-64k"
        ),
    ],
)
def test_a_json_file_that_is_one_object_is_rejected_with_one_reason(data: bytes, line: int):
    # given a .json file holding one object where an array or one object a line belongs
    # when
    produced, rejected = read_until_rejected(data, "stores/shanghai.json")
    # then one file-level reason that says what to upload instead, and no row of it
    assert produced == []
    assert rejected.reason == (
        "the file is a single JSON object; expected an array of objects "
        '([{"store": ..., "item": ..., "count": ...}, ...]) or one object per line'
    )
    assert rejected.line == line


def test_a_json_file_of_one_complete_record_on_one_line_loads_it() -> None:
    # given
    data = json_lines(SHANGHAI[0])
    # when
    records = read(data, "stores/shanghai.json")
    # then
    assert records == [Record(1, SHANGHAI[0])]


def test_json_lines_in_a_json_file_whose_first_object_names_no_field_are_read_by_line() -> None:
    # given a first line that names no field, followed by records
    data = json_lines({"ean": "A-1"}, SHANGHAI[1])
    # when
    records = read(data, "stores/shanghai.json")
    # then the first is a rejected row, not the whole file
    assert records == [
        Record(1, {}, "missing field: store, item, count"),
        Record(2, SHANGHAI[1]),
    ]


def test_a_json_file_whose_first_line_is_broken_mid_line_rejects_that_row_only() -> None:
    # given
    data = b'{"store": Shanghai}\n' + json_lines(SHANGHAI[1])
    # when
    records = read(data, "stores/shanghai.json")
    # then
    assert records == [Record(1, {}, "invalid JSON: Expecting value"), Record(2, SHANGHAI[1])]


def test_a_jsonl_file_is_read_line_by_line_even_when_its_first_line_is_cut_short() -> None:
    # given a .jsonl file, which promises one object a line, with a broken first line
    data = b'{"store": "Shanghai",\n' + json_lines(SHANGHAI[1])
    # when
    records = read(data, "stores/shanghai.jsonl")
    # then that line is a rejected row and the next one loads
    assert records == [
        Record(1, {}, "invalid JSON: Expecting property name enclosed in double quotes"),
        Record(2, SHANGHAI[1]),
    ]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            ("\n\n\n  [\n" + ",\n".join(json.dumps(v, indent=2) for v in SHANGHAI) + "]").encode(),
            id="array",
        ),
        pytest.param(b"\n" * 9 + json_lines(*SHANGHAI), id="json-lines"),
        pytest.param(codecs.BOM_UTF8 + json.dumps(SHANGHAI).encode(), id="bom-array"),
    ],
)
def test_json_read_through_a_trickling_stream_gives_the_same_records(data: bytes) -> None:
    # given a stream that returns at most 7 bytes a read
    stream = trickle(data)
    # when
    trickled = list(read_records(stream, "stores/shanghai.json"))
    # then
    assert trickled == read(data, "stores/shanghai.json")
    assert [record.fields for record in trickled] == SHANGHAI


def test_a_json_array_longer_than_the_read_chunk_keeps_every_record_and_line() -> None:
    # given an array several times the reader's 64 K-character chunk
    values = [{"store": "Berlin", "item": f"Echo {n} ☃", "count": n} for n in range(5000)]
    data = ("[\n" + ",\n".join(json.dumps(value) for value in values) + "\n]\n").encode()
    # when
    records = read(data, "stores/berlin.json")
    # then
    assert [record.fields for record in records] == values
    assert [record.line for record in records] == list(range(2, 5002))


@pytest.mark.parametrize("offset", range(-6, 3))
def test_a_number_straddling_the_read_chunk_boundary_is_read_whole(offset: int) -> None:
    # given a top-level number that ends just before, on, or after the 64 K-character chunk end
    number = "1.5e+3"
    padding = " " * (64 * 1024 - 1 - len(number) + offset)
    data = ("[" + padding + number + ',{"store":"B","item":"E","count":1}]').encode()
    # when
    records = read(data, "stores/berlin.json")
    # then
    assert records == [
        Record(1, {}, NOT_AN_OBJECT),
        Record(1, {"store": "B", "item": "E", "count": 1}),
    ]


@pytest.mark.parametrize(
    "element", [1, 1.5, "Berlin,Echo,1", None, True, ["Berlin", "Echo", 1], []]
)
def test_an_element_that_is_not_an_object_is_carried_as_a_problem(element: Any) -> None:
    # given
    data = json.dumps([element, SHANGHAI[0]]).encode()
    # when
    records = read(data, "stores/shanghai.json")
    # then
    assert records == [Record(1, {}, NOT_AN_OBJECT), Record(1, SHANGHAI[0])]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"store": "S", "item": "I"}, "missing field: count"),
        ({"count": 1}, "missing field: store, item"),
        ({}, "missing field: store, item, count"),
    ],
)
def test_json_objects_with_missing_fields_are_carried_as_problems(
    value: dict[str, Any], problem: str
) -> None:
    # given
    data = json_lines(value)
    # when
    [record] = read(data, "stores/shanghai.jsonl")
    # then
    assert record == Record(1, value, problem)


@pytest.mark.parametrize(
    ("count", "reason"),
    [
        (1.5, "count must be a whole number, not the decimal number 1.5"),
        (2.0, "count must be a whole number, not the decimal number 2.0"),
        (True, "count must be a whole number, not true or false"),
        (None, "count must be a whole number, not null"),
        ([3], "count must be a whole number, not a list"),
        ({"n": 3}, "count must be a whole number, not an object"),
        (-1, "count is negative"),
    ],
)
def test_a_json_count_of_the_wrong_type_is_rejected_by_validation(count: Any, reason: str) -> None:
    # given
    data = json_lines({"store": "Shanghai", "item": "Echo Dot", "count": count})
    # when
    [record] = read(data, "stores/shanghai.jsonl")
    result = validate(record)
    # then
    assert result == Rejection(1, reason, record.fields)


@pytest.mark.parametrize(
    ("store", "item", "expected"),
    [
        (1042, "Echo Dot", ("1042", "Echo Dot")),
        ("Shanghai", 4000123, ("Shanghai", "4000123")),
        (0, -7, ("0", "-7")),
    ],
)
def test_whole_numbers_as_json_names_are_accepted_as_text(
    store: Any, item: Any, expected: tuple[str, str]
) -> None:
    # given
    data = json_lines({"store": store, "item": item, "count": 3})
    # when
    [record] = read(data, "stores/shanghai.jsonl")
    result = validate(record)
    # then
    assert result == StockRow(1, *expected, 3)


@pytest.mark.parametrize(
    ("store", "reason"),
    [
        (1.5, "store must be text, not the decimal number 1.5"),
        (True, "store must be text, not bool"),
        (None, "store must be text, not null"),
        (["Shanghai"], "store must be text, not a list"),
    ],
)
def test_other_json_types_as_names_are_rejected(store: Any, reason: str) -> None:
    # given
    data = json_lines({"store": store, "item": "Echo Dot", "count": 3})
    # when
    [record] = read(data, "stores/shanghai.jsonl")
    result = validate(record)
    # then
    assert isinstance(result, Rejection)
    assert result.reason == reason


def test_an_invalid_json_line_is_rejected_while_the_other_lines_load() -> None:
    # given
    data = (
        json_lines(SHANGHAI[0])
        + b'{"store": "Shanghai", "item": "Echo Plus", "count": 0\n'
        + b"\n"
        + b"not json at all\n"
        + json_lines(SHANGHAI[2])
    )
    # when
    records = read(data, "stores/shanghai.jsonl")
    # then
    assert records == [
        Record(1, SHANGHAI[0]),
        Record(2, {}, "invalid JSON: Expecting ',' delimiter"),
        Record(4, {}, "invalid JSON: Expecting value"),
        Record(5, SHANGHAI[2]),
    ]


def test_a_json_line_longer_than_the_record_limit_is_rejected_alone() -> None:
    # given
    huge = {"store": "Shanghai", "item": "x" * 1_000_000, "count": 1}
    data = json_lines(huge, SHANGHAI[1])
    # when
    records = read(data, "stores/shanghai.jsonl")
    # then
    assert records == [
        Record(1, {}, f"the line is longer than {MAX_RECORD_CHARS:,} characters"),
        Record(2, SHANGHAI[1]),
    ]


@pytest.mark.parametrize(
    ("hostile", "problem"),
    [
        pytest.param(
            '{"store": "S", "item": "I", "count": ' + "9" * 5000 + "}",
            "a number in the JSON value has too many digits",
            id="5000-digit-number",
        ),
        pytest.param(
            '{"store": "S", "item": "I", "count": ' + "[" * 5000 + "]" * 5000 + "}",
            "the JSON value is nested too deeply",
            id="nested-5000-deep",
        ),
        pytest.param(
            '{"store": "S", "item": "Echo \\ud800", "count": 1}',
            "the record contains an unpaired surrogate escape (\\ud800-\\udfff)",
            id="lone-surrogate-value",
        ),
        pytest.param(
            '{"store": "S", "item": "I", "count": 1, "\\udfff": 1}',
            "the record contains an unpaired surrogate escape (\\ud800-\\udfff)",
            id="lone-surrogate-key",
        ),
    ],
)
def test_a_json_line_that_python_cannot_hold_as_text_is_rejected_alone(
    hostile: str, problem: str
) -> None:
    # given
    data = json_lines(SHANGHAI[0]) + hostile.encode() + b"\n" + json_lines(SHANGHAI[1])
    # when
    records = read(data, "stores/shanghai.jsonl")
    # then
    assert records == [Record(1, SHANGHAI[0]), Record(2, {}, problem), Record(3, SHANGHAI[1])]


@pytest.mark.parametrize(
    ("escaped", "text"),
    [("\\ud83d\\ude00", "\U0001f600"), ("\\\\ud800", "\\ud800"), ("\\u00e9", "é")],
)
def test_escapes_that_spell_real_text_are_kept(escaped: str, text: str) -> None:
    # given
    data = ('{"store": "S", "item": "Echo ' + escaped + '", "count": 1}\n').encode()
    # when
    [record] = read(data, "stores/shanghai.jsonl")
    # then
    assert record == Record(1, {"store": "S", "item": "Echo " + text, "count": 1})


@pytest.mark.parametrize(
    ("hostile", "reason"),
    [
        pytest.param("9" * 5000, "a number in the JSON value has too many digits", id="digits"),
        pytest.param("[" * 5000, "the JSON value is nested too deeply", id="nesting"),
    ],
)
def test_a_json_array_element_python_cannot_hold_rejects_the_rest_of_the_file(
    hostile: str, reason: str
) -> None:
    # given
    data = ("[" + json.dumps(SHANGHAI[0]) + ",\n" + hostile + "]").encode()
    # when
    produced, rejected = read_until_rejected(data, "stores/shanghai.json")
    # then
    assert produced == [Record(1, SHANGHAI[0])]
    assert rejected.reason == reason
    assert rejected.line == 2


@pytest.mark.parametrize(
    ("tail", "reason", "line"),
    [
        pytest.param("", "the JSON array is not closed with ']'", 3, id="unclosed"),
        pytest.param("\n", "the JSON array is not closed with ']'", 4, id="unclosed-newline"),
        pytest.param(
            ',\n{"store": "S", "item": ',
            "invalid JSON: Expecting value",
            4,
            id="truncated-object",
        ),
        pytest.param(
            '\n{"store": "S", "item": "I", "count": 1}]',
            "invalid JSON after the value ending on line 4",
            4,
            id="missing-comma",
        ),
    ],
)
def test_a_broken_json_array_is_rejected_after_the_elements_before_the_break(
    tail: str, reason: str, line: int
) -> None:
    # given
    data = ("[\n" + json.dumps(SHANGHAI[0]) + ",\n" + json.dumps(SHANGHAI[1]) + tail).encode()
    # when
    produced, rejected = read_until_rejected(data, "stores/shanghai.json")
    # then
    assert produced == [Record(2, SHANGHAI[0]), Record(3, SHANGHAI[1])]
    assert rejected.reason.startswith(reason)
    assert rejected.line == line


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"[]", "x.json", "the JSON array is empty"),
        (b" [ \n\n ] ", "x.json", "the JSON array is empty"),
        (b"\n\n", "x.json", "the file is named .json but is not JSON"),
        (b"\n\n", "x.jsonl", "the file is named .jsonl but is not JSON"),
        (SEED_CSV, "x.json", "the file is named .json but is not JSON"),
        (SEED_CSV, "x.jsonl", "the file is named .jsonl but is not JSON"),
        (b"", "x.jsonl", "the file is empty"),
        (b"[", "x.json", "the JSON array is not closed with ']'"),
        (b"[,]", "x.json", "invalid JSON: Expecting value"),
        (gzip.compress(json_lines(*SHANGHAI), mtime=0), "x.jsonl", "the file is gzip-compressed"),
        (b"\xef\xbb\xbf", "x.json", "the file is named .json but is not JSON"),
    ],
)
def test_a_json_file_without_records_is_rejected(data: bytes, name: str, reason: str) -> None:
    # given a file that holds no records
    # when
    with pytest.raises(FileRejected) as rejected:
        read(data, name)
    # then
    assert rejected.value.reason.startswith(reason)


# --- Properties --------------------------------------------------------------------------

NAMES = ["stores/x.csv", "stores/x.json", "stores/x.jsonl"]
PREFIXES = {
    "stores/x.csv": "store,item,count\n",
    "stores/x.json": "[\n",
    "stores/x.jsonl": '{"store": "S", "item": "I", "count": 1}\n',
}


def consume(records: Iterator[Record]) -> list[Record] | str:
    try:
        return list(records)
    except FileRejected as rejected:
        return f"rejected: {rejected.reason}"


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_are_read_or_rejected_never_crash(name: str, data: bytes) -> None:
    # given arbitrary bytes under a supported name
    # when
    outcome = consume(read_records(io.BytesIO(data), name))
    # then no exception but FileRejected escaped, and every record is well formed
    if isinstance(outcome, list):
        assert all(isinstance(record, Record) and record.line >= 1 for record in outcome)


TEXT_LINES = st.lists(
    st.one_of(
        st.text(max_size=80),
        st.text(alphabet=',"\r\n[]{}:0123456789 abc\\', max_size=80),
        st.sampled_from(['{"store": "S", "item": "I", "count": 1}', "Berlin,Echo,1", "]", ","]),
    ),
    max_size=20,
)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=300, deadline=None)
@given(lines=TEXT_LINES)
def test_a_valid_start_then_arbitrary_text_lines_are_read_or_rejected(
    name: str, lines: list[str]
) -> None:
    # given a valid start followed by arbitrary lines of text
    data = (PREFIXES[name] + "\n".join(lines)).encode()
    # when
    outcome = consume(read_records(io.BytesIO(data), name))
    # then no exception but FileRejected escaped, and every record is validated without error
    if isinstance(outcome, list):
        for record in outcome:
            assert isinstance(validate(record), StockRow | Rejection)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=100, deadline=None)
@given(lines=TEXT_LINES)
def test_how_the_stream_splits_its_reads_never_changes_the_outcome(
    name: str, lines: list[str]
) -> None:
    # given the same bytes from a whole-buffer stream and from a trickling one
    data = (PREFIXES[name] + "\n".join(lines)).encode()
    # when
    whole = consume(read_records(io.BytesIO(data), name))
    trickled = consume(read_records(trickle(data), name))
    # then
    assert trickled == whole


def test_rows_of_empty_cells_are_skipped_like_blank_lines() -> None:
    # given a spreadsheet export with empty rows between and after the data
    data = b"store,item,count\nBerlin,Echo,1\n,,\n,,\nBerlin,Tap,2\n,,\n"

    # when
    records = read(data)

    # then only the two data rows are records, with their own line numbers
    assert [(r.line, r.fields["item"]) for r in records] == [(2, "Echo"), (5, "Tap")]


def test_a_row_of_spaces_is_a_record_so_its_rejection_is_reported() -> None:
    # given / when
    records = read(b"store,item,count\n , , \nBerlin,Tap,2\n")

    # then it is read (validation will say "store is empty"), not silently skipped
    assert [r.line for r in records] == [2, 3]
    assert isinstance(validate(records[0]), Rejection)


def test_content_after_the_closing_bracket_of_a_json_array_rejects_the_file() -> None:
    # given an array followed by more data that would otherwise be ignored
    data = b'[{"store": "B", "item": "x", "count": 1}]\n{"store": "B", "item": "y", "count": 2}\n'

    # when
    records, rejected = read_until_rejected(data, "stock.json")

    # then the array's rows came through and the rest is named, not dropped
    assert [r.fields["item"] for r in records] == ["x"]
    assert "after the closing ']'" in rejected.reason


def test_whitespace_after_the_closing_bracket_is_fine() -> None:
    # given / when
    records = read(b'[{"store": "B", "item": "x", "count": 1}]\n\n  \n', "stock.json")

    # then
    assert len(records) == 1


def test_a_jsonl_file_that_is_not_json_names_its_own_extension() -> None:
    # given / when
    with pytest.raises(FileRejected) as rejected:
        read(b"store,item,count\nB,x,1\n", "stock.jsonl")

    # then
    assert rejected.value.reason.startswith("the file is named .jsonl but is not JSON")
