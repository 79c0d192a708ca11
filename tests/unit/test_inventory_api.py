"""inventory_api's handler against moto's DynamoDB: routes, filters, pagination, summary, and
the requests it refuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from inventory.adapters.clients import client
from inventory.adapters.reader import StockReader
from inventory.dashboard import StockItem
from inventory_api import handler
from tests.unit.fakes import REGION, FakeContext, create_inventory_table

TABLE = "inventory-inventory"
UPDATED_AT = "2026-01-01T00:00:00.000+00:00"


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
    route: str, query: dict[str, str] | str = "", claims: dict[str, str] | None = None
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for a route behind the JWT authorizer."""
    raw = query if isinstance(query, str) else urlencode(query, quote_via=quote)
    method, path = route.split(" ", 1)
    return {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": raw,
        "headers": {"authorization": "Bearer eyJ..."},
        "requestContext": {
            "http": {"method": method, "path": path},
            "authorizer": {"jwt": {"claims": claims or access_claims(), "scopes": None}},
        },
        "isBase64Encoded": False,
    }


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = handler.lambda_handler(
        event, FakeContext("inventory-inventory_api", remaining_millis=10_000)
    )
    assert response["headers"]["content-type"] == "application/json; charset=utf-8"
    assert response["headers"]["cache-control"] == "no-store"
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.delenv("LOW_STOCK_THRESHOLD", raising=False)


def _clear_caches() -> None:
    handler.stock_reader.cache_clear()
    client.cache_clear()


@pytest.fixture
def table(aws_env: None) -> Iterator[Any]:
    """Moto's inventory table, and a function to put rows in it."""
    _clear_caches()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_inventory_table(dynamodb, TABLE)

        def put(store: str, item: str, count: int, updated_at: str = UPDATED_AT) -> None:
            dynamodb.put_item(
                TableName=TABLE,
                Item={
                    "store": {"S": store},
                    "item": {"S": item},
                    "count": {"N": str(count)},
                    "updated_at": {"S": updated_at},
                    "source": {"S": f"s3://uploads/{store.lower()}.csv"},
                },
            )

        yield put
    _clear_caches()


@pytest.fixture
def sample(table: Any) -> None:
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


# ---------------------------------------------------------------- GET /items


def test_items_lists_every_row_with_its_status(sample):
    # given the sample rows
    # when
    status, body = call(http_event("GET /items"))

    # then
    assert status == 200
    assert len(body["items"]) == 7
    assert body["next"] is None
    assert body["low_stock_threshold"] == 5
    by_key = {(item["store"], item["item"]): item for item in body["items"]}
    assert by_key[("Berlin", "Echo Plus")] == {
        "store": "Berlin",
        "item": "Echo Plus",
        "count": 0,
        "status": "out",
        "updated_at": UPDATED_AT,
        "source": "s3://uploads/berlin.csv",
    }
    assert by_key[("Calgary", "Fire TV Stick")]["status"] == "low"
    assert by_key[("Calgary", "Echo Dot")]["status"] == "ok"


def test_items_filters_by_store(sample):
    # given / when
    status, body = call(http_event("GET /items", {"store": "Calgary"}))

    # then
    assert status == 200
    assert {item["store"] for item in body["items"]} == {"Calgary"}
    assert len(body["items"]) == 4


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ("out", [("Berlin", "Echo Plus"), ("Calgary", "Amazon Tap")]),
        ("low", [("Calgary", "Echo Show"), ("Calgary", "Fire TV Stick")]),
        ("ok", [("Berlin", "Amazon Tap"), ("Berlin", "Echo Dot"), ("Calgary", "Echo Dot")]),
    ],
)
def test_items_filters_by_status(sample, wanted, expected):
    # given / when
    status, body = call(http_event("GET /items", {"status": wanted}))

    # then
    assert status == 200
    assert keys(body) == expected


def test_items_searches_item_names_and_combines_filters(sample):
    # given / when
    status, body = call(http_event("GET /items", {"store": "Calgary", "q": "ECHO"}))

    # then
    assert status == 200
    assert keys(body) == [("Calgary", "Echo Dot"), ("Calgary", "Echo Show")]


def test_the_threshold_comes_from_the_function_settings(sample, monkeypatch):
    # given a stack with a threshold of 8
    monkeypatch.setenv("LOW_STOCK_THRESHOLD", "8")

    # when
    _, body = call(http_event("GET /items", {"status": "low"}))

    # then: Calgary's Echo Dot (8) is low now
    assert body["low_stock_threshold"] == 8
    assert ("Calgary", "Echo Dot") in keys(body)


@pytest.mark.parametrize("store", [None, "Big"])
def test_following_next_pages_through_every_item_once(table, store):
    # given 23 items of one store and 5 of another
    for n in range(23):
        table("Big", f"item-{n:02}", n)
    for n in range(5):
        table("Small", f"item-{n}", n)
    query = {"limit": "4"} | ({"store": store} if store else {})

    # when
    seen: list[tuple[str, str]] = []
    pages = 0
    while True:
        status, body = call(http_event("GET /items", query))
        assert status == 200
        assert len(body["items"]) <= 4
        seen += [(item["store"], item["item"]) for item in body["items"]]
        pages += 1
        if body["next"] is None:
            break
        query["next"] = body["next"]

    # then
    expected = 23 if store else 28
    assert len(seen) == expected
    assert len(set(seen)) == expected
    assert pages in (expected // 4 + 1, (expected + 3) // 4)


@pytest.mark.parametrize(
    "query",
    ["status=sold", "limit=5000", "next=garbage", "sort=count", "store=A&store=B"],
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


def test_summary_counts_per_store_and_in_total(sample):
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


def test_summary_of_an_empty_table(table):
    # given / when
    status, body = call(http_event("GET /summary"))

    # then
    assert status == 200
    assert body["totals"]["items"] == 0
    assert body["stores"] == []


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


# ---------------------------------------------------------------- the reader adapter


def test_the_reader_queries_one_store_and_scans_for_all(aws_env):
    # given a stubbed DynamoDB client
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    reader = StockReader(dynamodb, TABLE)
    row = {
        "store": {"S": "Berlin"},
        "item": {"S": "Echo Dot"},
        "count": {"N": "12"},
        "updated_at": {"S": UPDATED_AT},
        "source": {"S": "s3://uploads/berlin.csv"},
    }
    last = {"store": {"S": "Berlin"}, "item": {"S": "Echo Dot"}}

    with Stubber(dynamodb) as stubber:
        stubber.add_response(
            "query",
            {"Items": [row], "LastEvaluatedKey": last},
            {
                "TableName": TABLE,
                "Limit": 1,
                "KeyConditionExpression": "#store = :store",
                "ExpressionAttributeNames": {"#store": "store"},
                "ExpressionAttributeValues": {":store": {"S": "Berlin"}},
            },
        )
        stubber.add_response(
            "scan",
            {"Items": []},
            {"TableName": TABLE, "Limit": 10, "ExclusiveStartKey": last},
        )

        # when
        one_store = reader.read_page("Berlin", None, 1)
        everything = reader.read_page(None, ("Berlin", "Echo Dot"), 10)

        # then
        stubber.assert_no_pending_responses()
    assert one_store == (
        [StockItem("Berlin", "Echo Dot", 12, UPDATED_AT, "s3://uploads/berlin.csv")],
        ("Berlin", "Echo Dot"),
    )
    assert everything == ([], None)


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
