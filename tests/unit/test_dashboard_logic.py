"""The dashboard API's rules, without DynamoDB: stock status, query parsing, pagination tokens,
paging through a table, and summaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.dashboard import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    BadRequest,
    ItemQuery,
    Key,
    StockItem,
    decode_token,
    encode_token,
    find_items,
    items_document,
    parse_item_query,
    stock_status,
    summary_document,
)

THRESHOLD = 5


def stock(store: str, item: str, count: int, updated_at: str = "2026-01-01T00:00:00.000+00:00"):
    return StockItem(store, item, count, updated_at, f"s3://uploads/{store}.csv")


class FakeTable:
    """Rows in key order, read the way DynamoDB pages a Query or a Scan."""

    def __init__(self, items: list[StockItem]) -> None:
        self.items = sorted(items, key=lambda item: item.key)
        self.reads: list[tuple[str | None, Key | None, int]] = []

    def read_page(
        self, store: str | None, after: Key | None, limit: int
    ) -> tuple[list[StockItem], Key | None]:
        self.reads.append((store, after, limit))
        rows = [item for item in self.items if store is None or item.store == store]
        if after is not None:
            rows = [item for item in rows if item.key > after]
        page = rows[:limit]
        # Like DynamoDB, a page that reached the limit has a LastEvaluatedKey even when nothing
        # follows it.
        return page, (page[-1].key if len(page) == limit else None)


def every_page(table: FakeTable, query: ItemQuery, **options: int) -> list[list[StockItem]]:
    pages = []
    while True:
        page = find_items(table.read_page, query, THRESHOLD, **options)
        pages.append(page.items)
        if page.next is None:
            return pages
        query = ItemQuery(query.store, query.status, query.search, query.limit, page.next)


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


def test_every_parameter_is_read_from_the_raw_query_string():
    # given
    token = encode_token(("Berlin", "Echo Dot"))

    # when
    query = parse_item_query(f"store=Berlin&status=low&q=echo%20d&limit=50&next={token}")

    # then
    assert query == ItemQuery("Berlin", "low", "echo d", 50, ("Berlin", "Echo Dot"))


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
        ("q=" + "x" * 1025, "q is longer than 1024 characters"),
        ("next=not-a-token", "next is not a token this API gave out"),
        ("next=" + encode_token(("Berlin", "Echo")) + "&store=Paris", "another store's"),
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


# ---------------------------------------------------------------- tokens


@given(st.text(), st.text())
def test_a_token_stands_for_the_key_it_was_made_from(store, item):
    # given
    token = encode_token((store, item))

    # when
    key = decode_token(token)

    # then
    assert key == (store, item)
    assert token.isascii()
    assert not set(token) & set("=/+")


@pytest.mark.parametrize(
    "token",
    ["", "!!!", "e30", "WyJhIl0", "WzEsMl0", "WyJhIiwiYiIsImMiXQ", "bnVsbA", "_w"],
)
def test_a_token_not_made_by_the_api_is_refused(token):
    # given: {}, ["a"], [1,2], ["a","b","c"], null, an invalid byte...
    # when / then
    with pytest.raises(BadRequest):
        decode_token(token)


# ---------------------------------------------------------------- paging


def test_a_page_holds_the_matching_items_in_key_order_and_the_token_of_the_last():
    # given
    table = FakeTable([stock("B", f"item-{n:02}", n) for n in range(10)])

    # when
    page = find_items(table.read_page, ItemQuery(status="low", limit=3), THRESHOLD)

    # then: counts 1..5 are low
    assert [item.item for item in page.items] == ["item-01", "item-02", "item-03"]
    assert page.next == ("B", "item-03")


def test_the_last_page_has_no_token():
    # given
    table = FakeTable([stock("B", f"item-{n}", n) for n in range(3)])

    # when
    page = find_items(table.read_page, ItemQuery(limit=3), THRESHOLD)

    # then
    assert len(page.items) == 3
    assert page.next is None


def test_a_store_filter_reads_only_that_store():
    # given
    table = FakeTable([stock("A", "x", 1), stock("B", "y", 2), stock("C", "z", 3)])

    # when
    page = find_items(table.read_page, ItemQuery(store="B"), THRESHOLD)

    # then
    assert [item.key for item in page.items] == [("B", "y")]
    assert {store for store, _, _ in table.reads} == {"B"}


def test_search_ignores_case_and_matches_anywhere_in_the_item_name():
    # given
    table = FakeTable([stock("A", "Echo Dot", 1), stock("A", "Fire TV", 2), stock("B", "ECHO", 3)])

    # when
    page = find_items(table.read_page, ItemQuery(search="echo"), THRESHOLD)

    # then
    assert [item.key for item in page.items] == [("A", "Echo Dot"), ("B", "ECHO")]


def test_a_sparse_filter_stops_after_the_read_budget_with_a_token_to_continue():
    # given: 100 items, only the last one out of stock
    table = FakeTable([stock("A", f"{n:03}", 0 if n == 99 else 10) for n in range(100)])

    # when
    first = find_items(
        table.read_page, ItemQuery(status="out"), THRESHOLD, max_items_read=30, read_page_size=10
    )

    # then: an empty page after 30 reads, and the token resumes where reading stopped
    assert first.items == []
    assert first.next == ("A", "029")
    assert len(table.reads) == 3
    pages = every_page(table, ItemQuery(status="out"), max_items_read=30, read_page_size=10)
    assert [item.item for page in pages for item in page] == ["099"]


@given(
    counts=st.lists(st.integers(min_value=0, max_value=12), max_size=40),
    stores=st.integers(min_value=1, max_value=3),
    limit=st.integers(min_value=1, max_value=7),
    read_page_size=st.integers(min_value=1, max_value=9),
    max_items_read=st.integers(min_value=1, max_value=20),
    status=st.sampled_from([None, "out", "low", "ok"]),
    store=st.sampled_from([None, "S0", "S1"]),
)
def test_following_the_tokens_returns_every_match_once_in_order(
    counts, stores, limit, read_page_size, max_items_read, status, store
):
    # given
    items = [stock(f"S{n % stores}", f"item-{n:02}", count) for n, count in enumerate(counts)]
    table = FakeTable(items)
    query = ItemQuery(store=store, status=status, limit=limit)

    # when
    pages = every_page(table, query, read_page_size=read_page_size, max_items_read=max_items_read)

    # then
    returned = [item for page in pages for item in page]
    expected = [item for item in table.items if query.matches(item, THRESHOLD)]
    assert returned == expected
    assert all(len(page) <= limit for page in pages)


def test_the_items_document_carries_status_token_and_threshold():
    # given
    table = FakeTable([stock("A", "x", 0), stock("A", "y", 9)])
    page = find_items(table.read_page, ItemQuery(limit=1), THRESHOLD)

    # when
    document = items_document(page, THRESHOLD)

    # then
    assert document == {
        "items": [
            {
                "store": "A",
                "item": "x",
                "count": 0,
                "status": "out",
                "updated_at": "2026-01-01T00:00:00.000+00:00",
                "source": "s3://uploads/A.csv",
            }
        ],
        "next": encode_token(("A", "x")),
        "low_stock_threshold": THRESHOLD,
    }


# ---------------------------------------------------------------- summary


def test_the_summary_counts_items_per_store_and_in_total():
    # given
    items = [
        stock("Berlin", "Echo Dot", 12, "2026-01-02T10:00:00.000+00:00"),
        stock("Berlin", "Echo Plus", 0, "2026-01-02T11:00:00.000+00:00"),
        stock("Berlin", "Kindle", 5, "2026-01-01T09:00:00.000+00:00"),
        stock("Amsterdam", "Echo Dot", 1, "2026-01-03T08:00:00.000+00:00"),
    ]

    # when
    summary = summary_document(items, THRESHOLD)

    # then
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
