"""The dashboard API's rules, without DynamoDB: stock status, query parsing, cursors, the
DynamoDB request each listing makes, totals from the summary, and summaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.adapters.reader import items_request
from inventory.dashboard import (
    DEFAULT_LIMIT,
    HISTORY_KEY,
    INDEX_KEY,
    MAX_LIMIT,
    TABLE_KEY,
    BadRequest,
    ItemQuery,
    StoreSummary,
    decode_cursor,
    encode_cursor,
    listing_total,
    parse_history_query,
    parse_item_query,
    stock_status,
    summary_document,
)

THRESHOLD = 5


def table_key(store: str, item: str) -> dict[str, dict[str, str]]:
    return {"store": {"S": store}, "item": {"S": item}}


# ---------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "out"), (1, "low"), (4, "low"), (5, "low"), (6, "ok"), (1_000_000_000, "ok")],
)
def test_status_is_out_at_zero_low_at_or_below_the_threshold_and_ok_above(count, expected):
    # given a threshold of 5
    # when
    status = stock_status(count, THRESHOLD)

    # then
    assert status == expected


def test_a_threshold_of_zero_marks_nothing_low():
    # given / when / then
    assert [stock_status(n, 0) for n in (0, 1, 2)] == ["out", "ok", "ok"]


# ---------------------------------------------------------------- query parsing


def test_an_empty_query_asks_for_the_first_page_of_everything():
    # given / when
    query = parse_item_query("")

    # then
    assert query == ItemQuery(limit=DEFAULT_LIMIT)
    assert DEFAULT_LIMIT == 100


def test_every_parameter_is_read_from_the_raw_query_string():
    # given
    after = {"level": {"S": "low"}, "store": {"S": "Berlin"}, "item": {"S": "Echo Dot"}}
    cursor = encode_cursor(after)

    # when
    query = parse_item_query(f"store=Berlin&status=low&search=Echo%20D&limit=50&next={cursor}")

    # then
    assert query == ItemQuery("Berlin", "low", "Echo D", 50, after)


def test_a_store_name_with_a_comma_stays_one_name():
    # given: API Gateway would join repeated parameters with commas in queryStringParameters
    raw = "store=Smith%2C%20Jones%20%26%20Co"

    # when
    query = parse_item_query(raw)

    # then
    assert query.store == "Smith, Jones & Co"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("colour=red", "unknown query parameter 'colour'"),
        ("store=A&store=B", "'store' is given more than once"),
        ("status=empty", "status must be one of out, low, ok"),
        ("limit=0", f"limit must be a whole number from 1 to {MAX_LIMIT}"),
        (f"limit={MAX_LIMIT + 1}", "limit must be a whole number"),
        ("limit=ten", "limit must be a whole number"),
        ("limit=%EF%BC%95", "limit must be a whole number"),  # a full-width digit five
        ("search=" + "x" * 1025, "search is longer than 1024 characters"),
        ("next=not-a-cursor", "next is not a cursor this listing gave out"),
        ("next=" + encode_cursor(table_key("Berlin", "Echo")) + "&store=Paris", "another store's"),
        ("status=out&next=" + encode_cursor(table_key("A", "x")), "not a cursor"),
        (
            "status=out&next="
            + encode_cursor({"level": {"S": "low"}, "store": {"S": "A"}, "item": {"S": "x"}}),
            "another status's",
        ),
    ],
)
def test_a_query_that_cannot_be_answered_is_refused_with_a_reason(raw, message):
    # given / when
    with pytest.raises(BadRequest) as refused:
        parse_item_query(raw)

    # then
    assert message in str(refused.value)


def test_too_many_parameters_are_refused():
    # given / when / then
    with pytest.raises(BadRequest, match="too many"):
        parse_item_query("&".join(f"q{n}=1" for n in range(50)))


# ---------------------------------------------------------------- cursors


@given(st.text(), st.text())
def test_a_cursor_stands_for_the_key_it_was_made_from(store, item):
    # given
    cursor = encode_cursor(table_key(store, item))

    # when
    key = decode_cursor(cursor, TABLE_KEY)

    # then
    assert key == table_key(store, item)
    assert cursor.isascii()
    assert not set(cursor) & set("=/+")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "e30",  # {}
        "bnVsbA",  # null
        "_w",  # an invalid byte
        encode_cursor({"store": {"S": "a"}}),
        encode_cursor({"store": {"S": "a"}, "item": {"N": "1"}}),
        encode_cursor({"store": {"S": "a"}, "item": {"S": "b", "N": "1"}}),
        encode_cursor({"store": {"S": "a"}, "item": {"S": 1}}),  # type: ignore[dict-item]
        encode_cursor({"store": {"S": "a"}, "item": {"S": "b"}, "x": {"S": "c"}}),
        "A" * 9000,
    ],
)
def test_a_cursor_not_made_for_this_listing_is_refused(cursor):
    # given / when / then
    with pytest.raises(BadRequest, match="not a cursor"):
        decode_cursor(cursor, TABLE_KEY)


def test_each_listing_has_its_own_cursor_shape():
    # given / when / then
    index_key = {"level": {"S": "low"}, "store": {"S": "a"}, "item": {"S": "b"}}
    assert decode_cursor(encode_cursor(index_key), INDEX_KEY) == index_key
    for shape in (INDEX_KEY, HISTORY_KEY):
        with pytest.raises(BadRequest):
            decode_cursor(encode_cursor(table_key("a", "b")), shape)


def test_a_history_query_names_its_item_and_refuses_another_items_cursor():
    # given
    other = encode_cursor({"store_item": {"S": "A\x1fy"}, "at": {"S": "2026"}})
    own = {"store_item": {"S": "A\x1fx"}, "at": {"S": "2026"}}

    # when
    query = parse_history_query("A", "x", f"limit=7&next={encode_cursor(own)}")

    # then
    assert (query.key, query.limit, query.after) == ("A\x1fx", 7, own)
    with pytest.raises(BadRequest, match="another item"):
        parse_history_query("A", "x", f"next={other}")
    with pytest.raises(BadRequest, match="unknown"):
        parse_history_query("A", "x", "store=A")


# ---------------------------------------------------------------- the DynamoDB request


@pytest.mark.parametrize(
    ("query", "index", "key", "filter"),
    [
        (ItemQuery(store="A"), None, "#store = :store", None),
        (
            ItemQuery(store="A", search="Ec"),
            None,
            "#store = :store AND begins_with(#item, :search)",
            None,
        ),
        (ItemQuery(status="low"), "by_level", "#level = :level", None),
        (
            ItemQuery(status="out", store="A"),
            "by_level",
            "#level = :level AND #store = :store",
            None,
        ),
        (
            ItemQuery(status="out", store="A", search="Ec"),
            "by_level",
            "#level = :level AND #store = :store",
            "begins_with(#item, :search)",
        ),
        (
            ItemQuery(status="ok", store="A"),
            None,
            "#store = :store",
            "attribute_not_exists(#level)",
        ),
    ],
)
def test_each_listing_reads_one_index_with_a_key_condition_where_it_can(query, index, key, filter):
    # given / when
    request = items_request("T", query)

    # then
    assert request.get("IndexName") == index
    assert request["KeyConditionExpression"] == key
    assert request.get("FilterExpression") == filter
    assert request["Limit"] == query.limit


@pytest.mark.parametrize("query", [ItemQuery(), ItemQuery(search="Ec"), ItemQuery(status="ok")])
def test_a_listing_of_every_store_is_no_single_request(query):
    # given / when / then: no Scan of the table; the reader walks the stores instead
    with pytest.raises(ValueError, match="a store at a time"):
        items_request("T", query)


# ---------------------------------------------------------------- totals and summary

STORES = [
    StoreSummary("Berlin", 3, 1, 1, 17, "2026-01-02T11:00:00.000+00:00"),
    StoreSummary("Amsterdam", 1, 0, 1, 1, "2026-01-03T08:00:00.000+00:00"),
    StoreSummary("Closed", 0, 0, 0, 0, "2026-01-01T08:00:00.000+00:00"),
]


@pytest.mark.parametrize(
    ("query", "total"),
    [
        (ItemQuery(), 4),
        (ItemQuery(store="Berlin"), 3),
        (ItemQuery(status="out"), 1),
        (ItemQuery(status="low"), 2),
        (ItemQuery(status="ok"), 1),
        (ItemQuery(status="low", store="Amsterdam"), 1),
        (ItemQuery(store="Nowhere"), 0),
        (ItemQuery(search="Echo"), None),
    ],
)
def test_a_listings_total_comes_from_the_summary(query, total):
    # given / when / then
    assert listing_total(query, STORES) == total


def test_the_summary_sums_its_stores_and_lists_them_by_name():
    # given / when
    summary = summary_document(STORES, THRESHOLD)

    # then: the store without items is left out
    assert summary == {
        "low_stock_threshold": 5,
        "totals": {
            "stores": 2,
            "items": 4,
            "out_of_stock": 1,
            "low_stock": 2,
            "units": 18,
            "last_updated": "2026-01-03T08:00:00.000+00:00",
        },
        "stores": [
            {
                "store": "Amsterdam",
                "items": 1,
                "out_of_stock": 0,
                "low_stock": 1,
                "units": 1,
                "last_updated": "2026-01-03T08:00:00.000+00:00",
            },
            {
                "store": "Berlin",
                "items": 3,
                "out_of_stock": 1,
                "low_stock": 1,
                "units": 17,
                "last_updated": "2026-01-02T11:00:00.000+00:00",
            },
        ],
    }


def test_an_empty_table_has_an_empty_summary():
    # given / when
    summary = summary_document([], THRESHOLD)

    # then
    assert summary["totals"] == {
        "stores": 0,
        "items": 0,
        "out_of_stock": 0,
        "low_stock": 0,
        "units": 0,
        "last_updated": None,
    }
    assert summary["stores"] == []
