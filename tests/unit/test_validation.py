"""The rules a record must satisfy to become a stock row."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from inventory.parsing import Record
from inventory.validation import (
    MAX_COUNT,
    MAX_NAME_BYTES,
    Rejection,
    StockRow,
    validate,
    validate_fully,
)


def record(
    store: Any = "Berlin", item: Any = "Echo Dot", count: Any = "3", line: int = 7
) -> Record:
    return Record(line, {"store": store, "item": item, "count": count})


def test_a_plain_row_becomes_a_stock_row_with_its_line_and_key() -> None:
    # given
    plain = record("Berlin", "Echo Dot", "12", line=3)
    # when
    result = validate(plain)
    # then
    assert result == StockRow(3, "Berlin", "Echo Dot", 12)
    assert result.key == ("Berlin", "Echo Dot")


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        ("0", 0),
        ("7", 7),
        (" 7 ", 7),
        ("\t7\r", 7),
        ("007", 7),
        ("+5", 5),
        ("999999999", 999_999_999),
        (str(MAX_COUNT), MAX_COUNT),
        ("0000000012", 12),
        (0, 0),
        (42, 42),
        (MAX_COUNT, MAX_COUNT),
    ],
)
def test_whole_non_negative_counts_are_accepted(count: Any, expected: int) -> None:
    # given
    row = record(count=count)
    # when
    result = validate(row)
    # then
    assert result == StockRow(7, "Berlin", "Echo Dot", expected)


@pytest.mark.parametrize(
    ("count", "reason"),
    [
        ("1.5", "count must be a whole number, not '1.5'"),
        ("1e3", "count must be a whole number, not '1e3'"),
        ("abc", "count must be a whole number, not 'abc'"),
        ("1,000", "count must be a whole number, not '1,000'"),
        ("1 000", "count must be a whole number, not '1 000'"),
        ("0x10", "count must be a whole number, not '0x10'"),
        ("+", "count must be a whole number, not '+'"),
        ("--3", "count must be a whole number, not '--3'"),
        ("٣", "count must be a whole number, not '٣'"),
        ("²", "count must be a whole number, not '²'"),
        ("-3", "count is negative"),
        (" -3 ", "count is negative"),
        ("", "count is empty"),
        ("   ", "count is empty"),
        ("99999999999999999999", f"count is larger than {MAX_COUNT:,}"),
        (str(MAX_COUNT + 1), "count is larger than 1,000,000,000"),
        ("9" * 5000, "count is larger than 1,000,000,000"),
        (-1, "count is negative"),
        (MAX_COUNT + 1, "count is larger than 1,000,000,000"),
        (1.5, "count must be a whole number, not the decimal number 1.5"),
        (True, "count must be a whole number, not true or false"),
        (None, "count must be a whole number, not null"),
        ([1], "count must be a whole number, not a list"),
    ],
)
def test_counts_that_are_not_whole_non_negative_numbers_are_rejected(
    count: Any, reason: str
) -> None:
    # given
    row = record(count=count)
    # when
    result = validate(row)
    # then
    assert result == Rejection(7, reason, row.fields)


@pytest.mark.parametrize(
    "name",
    [
        "Echo Dot, 3rd gen",
        'Echo "Plus"',
        "Echo Plus 🔊",
        "<script>alert(1)</script>",
        '=HYPERLINK("http://evil","x")',
        "+cmd|' /C calc'!A0",
        "@SUM(A1:A9)",
        "-1",
        "'; DROP TABLE stock; --",
        "München Hbf",
        "x" * MAX_NAME_BYTES,
        "€" * (MAX_NAME_BYTES // 3),
    ],
)
def test_names_with_any_printable_text_are_accepted_as_is(name: str) -> None:
    # given
    row = record(store=name, item=name)
    # when
    result = validate(row)
    # then
    assert result == StockRow(7, name, name, 3)


def test_names_are_trimmed_of_surrounding_whitespace() -> None:
    # given
    row = record(store="  Berlin\t", item="\r\nEcho Dot \u3000")
    # when
    result = validate(row)
    # then
    assert result == StockRow(7, "Berlin", "Echo Dot", 3)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("store", "", "store is empty"),
        ("item", "   ", "item is empty"),
        ("item", "\t\n", "item is empty"),
        ("store", "x" * 2048, f"store is longer than {MAX_NAME_BYTES} bytes"),
        ("item", "x" * (MAX_NAME_BYTES + 1), f"item is longer than {MAX_NAME_BYTES} bytes"),
        ("item", "é" * 600, f"item is longer than {MAX_NAME_BYTES} bytes"),
        ("item", "€" * (MAX_NAME_BYTES // 3 + 1), f"item is longer than {MAX_NAME_BYTES} bytes"),
        ("item", "Echo\nDot", "item contains a control character (a line break, tab or NUL)"),
        ("item", "Echo\r\nDot", "item contains a control character (a line break, tab or NUL)"),
        ("store", "Ber\x00lin", "store contains a control character (a line break, tab or NUL)"),
        ("item", "Echo\tDot", "item contains a control character (a line break, tab or NUL)"),
        ("item", "Echo\x1bDot", "item contains a control character (a line break, tab or NUL)"),
        ("item", "Echo\x7fDot", "item contains a control character (a line break, tab or NUL)"),
        ("item", "Echo\x85Dot", "item contains a control character (a line break, tab or NUL)"),
    ],
)
def test_empty_overlong_or_control_character_names_are_rejected(
    field: str, value: str, reason: str
) -> None:
    # given
    row = Record(7, {"store": "Berlin", "item": "Echo Dot", "count": "3"} | {field: value})
    # when
    result = validate(row)
    # then
    assert result == Rejection(7, reason, row.fields)


def test_the_store_is_checked_before_the_item_and_the_item_before_the_count() -> None:
    # given a row that breaks every rule
    row = record(store="", item="\x00", count="x")
    # when
    result = validate(row)
    # then the reason names the first broken rule
    assert isinstance(result, Rejection)
    assert result.reason == "store is empty"


def test_a_record_the_reader_could_not_split_is_rejected_with_the_readers_reason() -> None:
    # given
    broken = Record(9, {"store": "Berlin"}, "missing field: item, count")
    # when
    result = validate(broken)
    # then
    assert result == Rejection(9, "missing field: item, count", {"store": "Berlin"})


# Values a record's field may hold: text of every shape (plain, padded, digits, long, control
# characters), whole numbers, and the other JSON types.
_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=12)
_TEXT = st.one_of(
    st.text(max_size=20),
    st.text(alphabet="0123456789 +-.e\t\n\x00\x85\u3000٣²", max_size=14),
    _DIGITS,
    st.builds(lambda s, pad: pad + s + pad, _DIGITS, st.sampled_from(["", " ", "\t", "\n"])),
    st.builds(lambda n, c: c * n, st.integers(240, 270), st.sampled_from(["x", "é", "€", "😀"])),
    st.builds(lambda n: "x" * n, st.integers(1020, 1030)),
)
_VALUE = st.one_of(
    _TEXT,
    st.integers(min_value=-(10**12), max_value=10**12),
    st.integers(min_value=MAX_COUNT - 2, max_value=MAX_COUNT + 2),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=500, deadline=None)
@given(
    store=_VALUE,
    item=_VALUE,
    count=_VALUE,
    problem=st.one_of(st.none(), st.none(), st.text(max_size=10)),
    line=st.integers(1, 10**6),
)
@example(store="Berlin", item="Echo", count="999999999", problem=None, line=1)
@example(store="Berlin", item="Echo", count="1000000000", problem=None, line=1)
@example(store="x" * 256, item="é" * 256, count="1", problem=None, line=1)
@example(store="😀" * 257, item="Echo", count="1", problem=None, line=1)
@example(store="Berlin", item="Echo\x85", count="1", problem=None, line=1)
# Not printable yet no control character: the fast path must fall back to the exact test.
@example(store="Berlin\u00a0Mitte", item="Echo\u2028Dot", count="1", problem=None, line=1)
@example(store="Berlin", item="Echo\tDot", count="1", problem=None, line=1)
def test_the_fast_path_never_disagrees_with_the_full_rules(
    store: Any, item: Any, count: Any, problem: str | None, line: int
) -> None:
    # given
    row = Record(line, {"store": store, "item": item, "count": count}, problem)
    # when
    fast, full = validate(row), validate_fully(row)
    # then
    assert fast == full


def test_a_zero_padded_count_is_read_by_its_value() -> None:
    # given a count with many leading zeros
    record = Record(2, {"store": "B", "item": "x", "count": "0000000000012"})

    # when
    result = validate(record)

    # then it is 12, not "too large"
    assert result == StockRow(2, "B", "x", 12)


# --- Names that display as nothing or other than they read --------------------------------


def test_names_are_normalised_to_nfc_so_one_name_typed_two_ways_is_one_key() -> None:
    # given "Café" as one precomposed character and as e + combining acute accent
    composed, decomposed = record(item="Caf\u00e9"), record(item="Cafe\u0301")
    # when
    first, second = validate(composed), validate(decomposed)
    # then
    assert isinstance(first, StockRow)
    assert isinstance(second, StockRow)
    assert first.key == second.key == ("Berlin", "Café")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("\u200b", "shows as nothing"),
        ("\u00ad\u200b\u2060", "shows as nothing"),
        ("\ufeff", "shows as nothing"),
        ("\u200b \u200d", "shows as nothing"),
        ("Echo\u202eDot", "bidirectional control character (U+202E)"),
        ("Echo\u2066Dot\u2069", "bidirectional control character (U+2066)"),
        ("Echo\u200fDot", "bidirectional control character (U+200F)"),
        ("Echo\u061cDot", "bidirectional control character (U+061C)"),
        ("Echo\u2028Dot", "line or paragraph separator (U+2028)"),
        ("Echo\u2029Dot", "line or paragraph separator (U+2029)"),
        ("Echo\ue000", "private-use character (U+E000)"),
        ("Echo\U000f0000", "private-use character (U+F0000)"),
        ("Echo\u0378", "unassigned character (U+0378)"),
        ("Echo\uffff", "noncharacter (U+FFFF)"),
        ("Echo\ufdd0", "noncharacter (U+FDD0)"),
        ("Echo\U0010fffe", "noncharacter (U+10FFFE)"),
        ("Echo\x85Dot", "control character"),
    ],
)
@pytest.mark.parametrize("field", ["store", "item"])
def test_names_with_invisible_or_reordering_characters_are_rejected(
    field: str, name: str, reason: str
) -> None:
    # given
    row = record(**{field: name})
    # when
    result = validate(row)
    # then
    assert isinstance(result, Rejection)
    assert result.reason.startswith(field)
    assert reason in result.reason


def test_a_visible_name_with_a_format_character_inside_is_kept() -> None:
    # a soft hyphen or a zero-width joiner inside an emoji sequence is part of real text
    result = validate(record(item="Kinder\u00adgarten 👩\u200d💻"))
    assert result == StockRow(7, "Berlin", "Kinder\u00adgarten 👩\u200d💻", 3)


_FORBIDDEN_CATEGORIES = {"Cc", "Co", "Cn", "Cs", "Zl", "Zp"}
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _is_noncharacter(char: str) -> bool:
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


@settings(max_examples=1000, deadline=None)
@given(name=st.text(max_size=12))
@example(name="Cafe\u0301")
@example(name="\u200b")
@example(name="a\u202e")
def test_any_name_accepted_is_nfc_and_free_of_invisible_and_reordering_characters(
    name: str,
) -> None:
    # given any text as the item's name
    result = validate(record(item=name))
    # then an accepted name is NFC, shows something, and holds none of the forbidden kinds
    if isinstance(result, StockRow):
        accepted = result.item
        assert unicodedata.is_normalized("NFC", accepted)
        assert not any(unicodedata.category(c) in _FORBIDDEN_CATEGORIES for c in accepted)
        assert not any(c in _BIDI or _is_noncharacter(c) for c in accepted)
        assert any(unicodedata.category(c) != "Cf" and not c.isspace() for c in accepted)


# --- A row's own low-stock threshold ------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [("5", 5), (" 0 ", 0), ("", None), ("  ", None), (None, None), (7, 7)],
)
def test_a_rows_threshold_validates_like_a_count_and_blank_means_none(
    threshold: Any, expected: int | None
) -> None:
    row = Record(2, {"store": "B", "item": "x", "count": "3", "low_stock_threshold": threshold})
    assert validate(row) == StockRow(2, "B", "x", 3, expected)


@pytest.mark.parametrize(
    ("threshold", "reason"),
    [
        ("-1", "low_stock_threshold is negative"),
        ("2.5", "low_stock_threshold must be a whole number, not '2.5'"),
        ("1000000001", "low_stock_threshold is larger than 1,000,000,000"),
        (True, "low_stock_threshold must be a whole number, not true or false"),
    ],
)
def test_a_bad_threshold_rejects_the_row_with_its_name(threshold: Any, reason: str) -> None:
    row = Record(2, {"store": "B", "item": "x", "count": "3", "low_stock_threshold": threshold})
    result = validate(row)
    assert isinstance(result, Rejection)
    assert result.reason == reason
