"""inventory_api's handler against moto's DynamoDB (the inventory table with its index by_level,
the summary and history tables, shaped as CONTRACTS.md says): routes, filters, cursors, totals,
forecasts, history, and the requests it refuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from inventory.adapters.clients import client
from inventory.dashboard import encode_cursor, stock_status
from inventory.tracking import SEPARATOR
from inventory_api import handler
from tests.unit.fakes import (
    REGION,
    FakeContext,
    create_history_table,
    create_inventory_table,
    create_summary_table,
    use_fake_credentials,
)

TABLE = "inventory-inventory"
SUMMARY = "inventory-summary"
HISTORY = "inventory-history"
UPDATED_AT = "2026-01-01T00:00:00.000+00:00"
THRESHOLD = 5  # the stack's, when LOW_STOCK_THRESHOLD is not set


def access_claims() -> dict[str, str]:
    """The claims API Gateway's JWT authorizer passes on for a Cognito access token."""
    return {
        "sub": "2c5ae741-16ff-4ffe-bc9a-f263121bb328",
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example",
        "token_use": "access",
        "client_id": "exampleclientid",
        "username": "alice",
        "exp": "1795318123",
    }


def http_event(
    route: str,
    query: dict[str, str] | str = "",
    claims: dict[str, str] | None = None,
    path: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for a route behind the JWT authorizer."""
    raw = query if isinstance(query, str) else urlencode(query, quote_via=quote)
    method, route_path = route.split(" ", 1)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": route_path,
        "rawQueryString": raw,
        "headers": {"authorization": "Bearer eyJ..."},
        "requestContext": {
            "http": {"method": method, "path": route_path},
            "authorizer": {"jwt": {"claims": claims or access_claims(), "scopes": None}},
        },
        "isBase64Encoded": False,
    }
    if path is not None:
        event["pathParameters"] = path
    return event


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = handler.lambda_handler(
        event, FakeContext("inventory-inventory_api", remaining_millis=10_000)
    )
    assert response["headers"]["content-type"] == "application/json; charset=utf-8"
    assert response["headers"]["cache-control"] == "no-store"
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_credentials(monkeypatch)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("SUMMARY_TABLE", SUMMARY)
    monkeypatch.setenv("HISTORY_TABLE", HISTORY)
    monkeypatch.delenv("LOW_STOCK_THRESHOLD", raising=False)


def _clear_caches() -> None:
    handler.stock_reader.cache_clear()
    client.cache_clear()


@dataclass
class Stock:
    """Moto's tables, written as the loader and the stream's writers would: an item with its
    `level`, and its store's summary item recounted from what was put."""

    dynamodb: Any
    rows: dict[tuple[str, str], tuple[int, int | None]] = field(default_factory=dict)

    def __call__(
        self, store: str, item: str, count: int, threshold: int | None = None, **extra: str
    ) -> None:
        own = threshold if threshold is not None else THRESHOLD
        raw: dict[str, Any] = {
            "store": {"S": store},
            "item": {"S": item},
            "count": {"N": str(count)},
            "updated_at": {"S": extra.get("updated_at", UPDATED_AT)},
            "source": {"S": f"s3://uploads/{store.lower()}.csv"},
        }
        if threshold is not None:
            raw["low_stock_threshold"] = {"N": str(threshold)}
        if stock_status(count, own) != "ok":
            raw["level"] = {"S": stock_status(count, own)}
        self.dynamodb.put_item(TableName=TABLE, Item=raw)
        self.rows[(store, item)] = (count, threshold)
        self.recount(store, extra.get("updated_at", UPDATED_AT))

    def recount(self, store: str, last_updated: str) -> None:
        counts = [(n, t) for (s, _), (n, t) in self.rows.items() if s == store]
        levels = [stock_status(n, THRESHOLD if t is None else t) for n, t in counts]
        self.dynamodb.put_item(
            TableName=SUMMARY,
            Item={
                "store": {"S": store},
                "items": {"N": str(len(counts))},
                "out_of_stock": {"N": str(levels.count("out"))},
                "low": {"N": str(levels.count("low"))},
                "units": {"N": str(sum(n for n, _ in counts))},
                "last_updated": {"S": last_updated},
            },
        )

    def change(self, store: str, item: str, at: str, count: int, previous: int | None) -> None:
        raw = {
            "store_item": {"S": f"{store}{SEPARATOR}{item}"},
            "at": {"S": at},
            "count": {"N": str(count)},
            "source": {"S": f"s3://uploads/{at[:10]}.csv"},
            "expires_at": {"N": "1900000000"},
        }
        if previous is not None:
            raw["previous"] = {"N": str(previous)}
        self.dynamodb.put_item(TableName=HISTORY, Item=raw)

    def forecast(self, store: str, item: str, days: float | None) -> None:
        raw = {
            "store_item": {"S": f"{store}{SEPARATOR}{item}"},
            "at": {"S": "~latest"},
            "forecast_at": {"S": UPDATED_AT},
        }
        if days is not None:
            raw["runs_out_in_days"] = {"N": str(days)}
        self.dynamodb.put_item(TableName=HISTORY, Item=raw)


@pytest.fixture
def table(aws_env: None) -> Iterator[Stock]:
    """Moto's inventory, summary and history tables, and a Stock to fill them."""
    _clear_caches()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_inventory_table(dynamodb, TABLE, level_index=True)
        create_summary_table(dynamodb, SUMMARY)
        create_history_table(dynamodb, HISTORY)
        yield Stock(dynamodb)
    _clear_caches()


@pytest.fixture
def sample(table: Stock) -> None:
    """The lab's sample stores: Berlin and Calgary."""
    for store, item, count in [
        ("Berlin", "Echo Dot", 12),
        ("Berlin", "Echo Plus", 0),
        ("Berlin", "Amazon Tap", 15),
        ("Calgary", "Echo Dot", 8),
        ("Calgary", "Echo Show", 3),
        ("Calgary", "Amazon Tap", 0),
        ("Calgary", "Fire TV Stick", 5),
    ]:
        table(store, item, count)


def keys(body: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((item["store"], item["item"]) for item in body["items"])


def every_page(query: dict[str, str]) -> tuple[list[tuple[str, str]], int]:
    """Follow `next` from the first page to the last: the keys in order, and the pages."""
    query = dict(query)
    seen: list[tuple[str, str]] = []
    pages = 0
    while True:
        status, body = call(http_event("GET /items", query))
        assert status == 200, body
        assert len(body["items"]) <= int(query.get("limit", 100))
        seen += [(item["store"], item["item"]) for item in body["items"]]
        pages += 1
        if body["next"] is None:
            return seen, pages
        query["next"] = body["next"]


# ---------------------------------------------------------------- GET /items


def test_items_lists_every_row_with_its_status_and_the_total(sample):
    # given the sample rows
    # when
    status, body = call(http_event("GET /items"))

    # then
    assert status == 200
    assert len(body["items"]) == 7
    assert body["next"] is None
    assert body["total"] == 7
    assert body["low_stock_threshold"] == 5
    by_key = {(item["store"], item["item"]): item for item in body["items"]}
    assert by_key[("Berlin", "Echo Plus")] == {
        "store": "Berlin",
        "item": "Echo Plus",
        "count": 0,
        "status": "out",
        "low_stock_threshold": 5,
        "own_threshold": False,
        "updated_at": UPDATED_AT,
        "source": "s3://uploads/berlin.csv",
        "runs_out_in_days": None,
    }
    assert by_key[("Calgary", "Fire TV Stick")]["status"] == "low"
    assert by_key[("Calgary", "Echo Dot")]["status"] == "ok"


def test_items_of_one_store_and_its_total(sample):
    # given / when
    status, body = call(http_event("GET /items", {"store": "Calgary"}))

    # then
    assert status == 200
    assert {item["store"] for item in body["items"]} == {"Calgary"}
    assert len(body["items"]) == 4
    assert body["total"] == 4


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "out"}, [("Berlin", "Echo Plus"), ("Calgary", "Amazon Tap")]),
        ({"status": "low"}, [("Calgary", "Echo Show"), ("Calgary", "Fire TV Stick")]),
        (
            {"status": "ok"},
            [("Berlin", "Amazon Tap"), ("Berlin", "Echo Dot"), ("Calgary", "Echo Dot")],
        ),
        ({"status": "out", "store": "Calgary"}, [("Calgary", "Amazon Tap")]),
        ({"status": "ok", "store": "Calgary"}, [("Calgary", "Echo Dot")]),
    ],
)
def test_items_filtered_by_status_and_their_total(sample, query, expected):
    # given / when
    status, body = call(http_event("GET /items", query))

    # then
    assert status == 200
    assert keys(body) == expected
    assert body["total"] == len(expected)


def test_the_status_filters_read_the_index_not_the_table(table):
    # given an out-of-stock item the index holds, and a row written without `level` (which
    # the index therefore does not hold: the filter reads the index, not the table's counts)
    table("Berlin", "Echo Plus", 0)
    table.dynamodb.put_item(
        TableName=TABLE,
        Item={"store": {"S": "Berlin"}, "item": {"S": "Ghost"}, "count": {"N": "0"}},
    )

    # when
    _, body = call(http_event("GET /items", {"status": "out"}))

    # then
    assert keys(body) == [("Berlin", "Echo Plus")]


def test_an_items_own_threshold_decides_its_status(table):
    # given an item at 8 with its own threshold of 10, and one at 4 with its own of 2
    table("Berlin", "Echo Dot", 8, threshold=10)
    table("Berlin", "Echo Show", 4, threshold=2)

    # when
    _, low = call(http_event("GET /items", {"status": "low"}))
    _, every = call(http_event("GET /items"))

    # then
    assert keys(low) == [("Berlin", "Echo Dot")]
    by_item = {item["item"]: item for item in every["items"]}
    assert by_item["Echo Dot"]["low_stock_threshold"] == 10
    assert by_item["Echo Dot"]["own_threshold"] is True
    assert by_item["Echo Show"]["status"] == "ok"


def test_search_is_a_prefix_of_the_item_within_a_store(sample):
    # given / when
    _, body = call(http_event("GET /items", {"store": "Calgary", "search": "Echo"}))

    # then: a prefix, case as written; no total (unknown without reading)
    assert keys(body) == [("Calgary", "Echo Dot"), ("Calgary", "Echo Show")]
    assert body["total"] is None
    _, lower = call(http_event("GET /items", {"store": "Calgary", "search": "echo"}))
    assert keys(lower) == []
    _, inside = call(http_event("GET /items", {"store": "Calgary", "search": "Dot"}))
    assert keys(inside) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"search": "Echo"}, 4),
        ({"search": "Echo", "status": "out"}, 1),
        ({"search": "Echo", "status": "ok"}, 2),
    ],
)
def test_search_without_a_store_narrows_every_store(sample, query, expected):
    # given / when
    seen, _ = every_page(query)

    # then
    assert len(seen) == expected
    assert all(item.startswith("Echo") for _, item in seen)


def requests_made(operations: list[tuple[str, str]]) -> None:
    """Record each DynamoDB call the API's reader makes: (operation, table)."""

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        operations.append((model.name, params.get("TableName", "")))

    handler.stock_reader()._dynamodb.meta.events.register("before-parameter-build.dynamodb", record)


@pytest.mark.parametrize("query", [{}, {"search": "zebra"}, {"status": "ok"}])
def test_a_listing_of_every_store_queries_the_stores_partitions_never_scans_the_table(table, query):
    # given 40 items in one store, of which only the last is a zebra, and a second store
    for n in range(39):
        table("Big", f"item-{n:02}", 10)
    table("Big", "zebra", 10)
    table("Small", "zebra", 10)
    operations: list[tuple[str, str]] = []
    requests_made(operations)

    # when the first page of 5 is asked for
    _, first = call(http_event("GET /items", {**query, "limit": "5"}))

    # then the page is full (a search finds its matches by key, in store order)
    expected = (
        [("Big", "zebra"), ("Small", "zebra")]
        if "search" in query
        else [("Big", f"item-{n:02}") for n in range(5)]
    )
    assert [(item["store"], item["item"]) for item in first["items"]] == expected
    # and the inventory table was only queried, one store's partition at a time
    assert ("Scan", TABLE) not in operations
    assert ("Query", TABLE) in operations


def test_a_store_the_summary_does_not_know_yet_is_not_listed_until_it_does(table):
    # given an item whose store track_stock has not counted yet
    table.dynamodb.put_item(
        TableName=TABLE,
        Item={"store": {"S": "New"}, "item": {"S": "Echo"}, "count": {"N": "3"}},
    )

    # when / then: the listing of every store walks the summary's stores
    _, body = call(http_event("GET /items"))
    assert body["items"] == []
    assert body["total"] == 0
    # and the store's own listing reads its partition
    _, own = call(http_event("GET /items", {"store": "New"}))
    assert keys(own) == [("New", "Echo")]


@pytest.mark.parametrize(
    "query",
    [{}, {"store": "Big"}, {"status": "low"}, {"status": "low", "store": "Big"}, {"status": "ok"}],
)
@pytest.mark.parametrize("limit", [4, 23, 1])  # 23: a page that ends where a store does
def test_following_next_pages_through_every_item_once_in_order(table, query, limit):
    # given 23 items of one store and 5 of another, half of them low
    for n in range(23):
        table("Big", f"item-{n:02}", 3 if n % 2 else 50)
    for n in range(5):
        table("Small", f"item-{n}", 3 if n % 2 else 50)
    _, everything = call(http_event("GET /items", {**query, "limit": "500"}))
    expected = [(item["store"], item["item"]) for item in everything["items"]]

    # when
    seen, pages = every_page({**query, "limit": str(limit)})

    # then
    assert len(expected) == everything["total"] > 4
    assert seen == expected
    assert pages in (len(expected) // limit + 1, -(-len(expected) // limit))


def test_rows_carry_their_forecast(sample, table):
    # given Berlin's Echo Dot running out in 3.5 days, Calgary's Echo Dot not decreasing
    table.forecast("Berlin", "Echo Dot", 3.5)
    table.forecast("Calgary", "Echo Dot", None)

    # when
    _, body = call(http_event("GET /items"))

    # then
    forecasts = {(item["store"], item["item"]): item["runs_out_in_days"] for item in body["items"]}
    assert forecasts[("Berlin", "Echo Dot")] == 3.5
    assert forecasts[("Calgary", "Echo Dot")] is None
    assert forecasts[("Berlin", "Echo Plus")] is None


@pytest.mark.parametrize(
    "query",
    [
        "status=sold",
        "limit=501",
        "next=garbage",
        "sort=count",
        "q=echo",
        "store=A&store=B",
        # a cursor of the table given to a status listing, and one of another store
        "status=low&next=" + encode_cursor({"store": {"S": "A"}, "item": {"S": "x"}}),
        "store=B&next=" + encode_cursor({"store": {"S": "A"}, "item": {"S": "x"}}),
        "next=" + encode_cursor({"store": {"S": "A"}, "item": {"N": "1"}}),
    ],
)
def test_a_bad_query_is_a_400_that_says_why(sample, query):
    # given / when
    status, body = call(http_event("GET /items", query))

    # then
    assert status == 400
    assert body["message"]


def test_a_name_with_markup_comes_back_as_the_same_text(table):
    # given: the page renders names as text; the API must not change them either
    table("Paris", "<img src=x onerror=alert(1)>", 3)

    # when
    _, body = call(http_event("GET /items"))

    # then
    assert body["items"][0]["item"] == "<img src=x onerror=alert(1)>"


# ---------------------------------------------------------------- GET /summary


def test_summary_sums_the_summary_tables_stores(sample):
    # given / when
    status, body = call(http_event("GET /summary"))

    # then
    assert status == 200
    assert body["totals"] == {
        "stores": 2,
        "items": 7,
        "out_of_stock": 2,
        "low_stock": 2,
        "units": 43,
        "last_updated": UPDATED_AT,
    }
    assert [store["store"] for store in body["stores"]] == ["Berlin", "Calgary"]
    assert body["stores"][1]["out_of_stock"] == 1
    assert body["stores"][1]["low_stock"] == 2


def test_summary_reads_only_the_summary_table(sample, table):
    # given the inventory table gone, and a bookkeeping item of the summary's writer
    table.dynamodb.delete_table(TableName=TABLE)
    table.dynamodb.put_item(TableName=SUMMARY, Item={"store": {"S": "~applied#1"}})

    # when
    status, body = call(http_event("GET /summary"))

    # then
    assert status == 200
    assert body["totals"]["items"] == 7
    assert [store["store"] for store in body["stores"]] == ["Berlin", "Calgary"]


def test_summary_of_an_empty_table(table):
    # given / when
    status, body = call(http_event("GET /summary"))

    # then
    assert status == 200
    assert body["totals"]["items"] == 0
    assert body["stores"] == []


# ---------------------------------------------------------------- GET .../history

HISTORY_ROUTE = "GET /items/{store}/{item}/history"


def history_event(store: str, item: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    return http_event(HISTORY_ROUTE, query or {}, path={"store": store, "item": item})


def test_history_is_newest_first_without_the_forecast_item(table):
    # given Berlin's Echo Dot changed three times, and its forecast
    table("Berlin", "Echo Dot", 4, threshold=6)
    table.change("Berlin", "Echo Dot", "2026-01-01T08:00:00.000Z#100", 20, None)
    table.change("Berlin", "Echo Dot", "2026-01-02T08:00:00.000Z#200", 12, 20)
    table.change("Berlin", "Echo Dot", "2026-01-03T08:00:00.000Z#300", 4, 12)
    table.change("Berlin", "Echo Show", "2026-01-03T08:00:00.000Z#301", 9, 1)
    table.forecast("Berlin", "Echo Dot", 0.5)

    # when
    status, body = call(history_event("Berlin", "Echo Dot"))

    # then
    assert status == 200
    assert [change["count"] for change in body["history"]] == [4, 12, 20]
    assert body["history"][0] == {
        "at": "2026-01-03T08:00:00.000Z",
        "count": 4,
        "previous": 12,
        "source": "s3://uploads/2026-01-03.csv",
    }
    assert body["history"][-1]["previous"] is None
    assert body["runs_out_in_days"] == 0.5
    assert body["forecast_at"] == UPDATED_AT
    assert body["current"]["count"] == 4
    assert body["current"]["low_stock_threshold"] == 6
    assert body["current"]["status"] == "low"
    assert body["next"] is None


def test_history_pages_with_a_cursor(table):
    # given 7 changes
    for day in range(1, 8):
        table.change("Berlin", "Echo Dot", f"2026-01-0{day}T08:00:00.000Z#{day}", day, None)

    # when the pages of 3 are followed
    counts: list[int] = []
    query: dict[str, str] = {"limit": "3"}
    while True:
        status, body = call(history_event("Berlin", "Echo Dot", query))
        assert status == 200
        counts += [change["count"] for change in body["history"]]
        if body["next"] is None:
            break
        query["next"] = body["next"]

    # then every change came once, newest first
    assert counts == [7, 6, 5, 4, 3, 2, 1]


def test_the_history_of_an_unknown_item_is_empty(table):
    # given / when
    status, body = call(history_event("Nowhere", "Nothing"))

    # then
    assert status == 200
    assert body["history"] == []
    assert body["current"] is None
    assert body["runs_out_in_days"] is None


def test_a_history_cursor_of_another_item_is_a_400(table):
    # given
    cursor = encode_cursor(
        {"store_item": {"S": f"Berlin{SEPARATOR}Other"}, "at": {"S": "2026-01-01"}}
    )

    # when
    status, body = call(history_event("Berlin", "Echo Dot", {"next": cursor}))

    # then
    assert status == 400
    assert "another item" in body["message"]


# ---------------------------------------------------------------- refused


@pytest.mark.parametrize(
    "claims",
    [
        {**access_claims(), "token_use": "id"},
        {**access_claims(), "token_use": "refresh"},
        {"sub": "someone"},
    ],
)
def test_a_token_that_is_not_an_access_token_is_a_401(sample, claims):
    # given: the authorizer accepted it (ID tokens carry the client as aud; MiniStack's refresh
    # tokens are signed JWTs), but the page only ever sends access tokens
    event = http_event("GET /items", claims=claims)

    # when
    status, body = call(event)

    # then
    assert status == 401
    assert body == {"message": "Unauthorized"}


def test_an_event_without_authorizer_claims_is_a_401(sample):
    # given: a route someone attached without the authorizer
    event = http_event("GET /items")
    del event["requestContext"]["authorizer"]

    # when
    status, _ = call(event)

    # then
    assert status == 401


def test_an_unknown_route_is_a_404(sample):
    # given / when
    status, _ = call(http_event("DELETE /items"))

    # then
    assert status == 404


def test_a_failure_inside_is_a_500_that_tells_the_caller_nothing(aws_env):
    # given a table that cannot be read
    _clear_caches()
    with Stubber(client("dynamodb")) as stubber:
        stubber.add_client_error(
            "scan",
            service_error_code="AccessDeniedException",
            service_message="User: arn:aws:sts::123456789012:assumed-role/secret is not authorized",
            http_status_code=400,
        )

        # when
        status, body = call(http_event("GET /items"))

    # then
    assert status == 500
    assert body == {"message": "Internal Server Error"}
    _clear_caches()
