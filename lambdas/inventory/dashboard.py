"""What the dashboard's API answers: stock status, item queries, cursors, summaries, history.

Plain Python, no boto3. A request reads at most one bounded stretch of one index: the inventory
table (a store's partition by Query, every store by Scan), or the sparse index `by_level` for
the status filters; the adapter (inventory.adapters.reader) turns an `ItemQuery` into those
DynamoDB calls. A cursor is DynamoDB's own LastEvaluatedKey, base64url-encoded JSON, checked
on the way back in against the keys that listing can produce.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args
from urllib.parse import parse_qs

from inventory.tracking import history_key

Status = Literal["out", "low", "ok"]
STATUSES: tuple[Status, ...] = get_args(Status)
LEVELS = ("out", "low")  # the statuses the sparse index `by_level` holds
LEVEL_INDEX = "by_level"
RawKey = dict[str, dict[str, str]]  # a DynamoDB key in attribute-value form, strings only

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_SEARCH_CHARS = 1024  # item names are at most 1,024 bytes, so nothing longer can match
MAX_CURSOR_CHARS = 8192
_PARAMETERS = ("store", "status", "search", "limit", "next")
_HISTORY_PARAMETERS = ("limit", "next")
TABLE_KEY = frozenset({"store", "item"})
INDEX_KEY = frozenset({"level", "store", "item"})
HISTORY_KEY = frozenset({"store_item", "at"})


class BadRequest(Exception):
    """The request cannot be answered as asked; the message says why, for the caller."""


@dataclass(frozen=True)
class StockItem:
    """One row of the inventory table; `threshold` is the row's own, None if it gave none."""

    store: str
    item: str
    count: int
    updated_at: str
    source: str
    threshold: int | None = None


def stock_status(count: int, threshold: int) -> Status:
    """Out of stock at 0, low at or below the threshold, ok above it."""
    if count <= 0:
        return "out"
    if count <= threshold:
        return "low"
    return "ok"


@dataclass(frozen=True)
class ItemQuery:
    """GET /items: which items, how many, and where the previous page ended (`after`)."""

    store: str | None = None
    status: Status | None = None
    search: str | None = None
    limit: int = DEFAULT_LIMIT
    after: RawKey | None = None

    @property
    def uses_level_index(self) -> bool:
        return self.status in LEVELS


@dataclass(frozen=True)
class ItemPage:
    items: list[StockItem]
    next: RawKey | None
    forecasts: dict[tuple[str, str], float | None] = field(default_factory=dict)


def _query_values(raw_query_string: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """The parameters of a raw query string, each at most once, none unknown.

    Parsed from the raw query string, because API Gateway joins repeated parameters with
    commas in `queryStringParameters`, and store names may contain commas.
    """
    try:
        parsed = parse_qs(raw_query_string or "", max_num_fields=len(allowed) * 2)
    except ValueError:
        raise BadRequest("too many query parameters") from None
    unknown = sorted(set(parsed) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}; use {', '.join(allowed)}")
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise BadRequest(f"query parameter {repeated[0]!r} is given more than once")
    return {name: found[0] for name, found in parsed.items()}


def parse_item_query(raw_query_string: str) -> ItemQuery:
    """The query of GET /items?store=&status=&search=&limit=&next=.

    Raises:
        BadRequest: an unknown, repeated or invalid parameter, or a cursor that is not one
            this listing gave out.
    """
    values = _query_values(raw_query_string, _PARAMETERS)
    status = values.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    search = values.get("search") or None
    if search is not None and len(search) > MAX_SEARCH_CHARS:
        raise BadRequest(f"search is longer than {MAX_SEARCH_CHARS} characters")
    query = ItemQuery(
        store=values.get("store"),
        status=status,  # checked against STATUSES above
        search=search,
        limit=parse_limit(values.get("limit")),
    )
    if "next" not in values:
        return query
    after = decode_cursor(values["next"], INDEX_KEY if query.uses_level_index else TABLE_KEY)
    if query.store is not None and after["store"]["S"] != query.store:
        raise BadRequest("next belongs to another store's listing")
    if query.uses_level_index and after["level"]["S"] != query.status:
        raise BadRequest("next belongs to another status's listing")
    return ItemQuery(query.store, query.status, query.search, query.limit, after)


def parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def encode_cursor(key: RawKey) -> str:
    """An opaque, URL-safe cursor for "continue after this key" (DynamoDB's own key)."""
    raw = json.dumps(key, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, attributes: frozenset[str]) -> RawKey:
    """The key a cursor from `encode_cursor` stands for, if it has exactly `attributes`, each
    a string.

    Raises:
        BadRequest: the cursor was not made by `encode_cursor` for such a listing.
    """
    refused = BadRequest("next is not a cursor this listing gave out")
    if len(cursor) > MAX_CURSOR_CHARS:
        raise refused
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeError, ValueError):
        raise refused from None
    if not isinstance(key, dict) or set(key) != attributes:
        raise refused
    for value in key.values():
        if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)):
            raise refused
    return key


# ---------------------------------------------------------------- documents


def item_document(item: StockItem, threshold: int, forecast: float | None = None) -> dict[str, Any]:
    own = item.threshold if item.threshold is not None else threshold
    return {
        "store": item.store,
        "item": item.item,
        "count": item.count,
        "status": stock_status(item.count, own),
        "low_stock_threshold": own,
        "own_threshold": item.threshold is not None,
        "updated_at": item.updated_at,
        "source": item.source,
        "runs_out_in_days": forecast,
    }


def items_document(page: ItemPage, threshold: int, total: int | None) -> dict[str, Any]:
    """The body of GET /items; `total`: how many items the listing has, None if unknown."""
    return {
        "items": [
            item_document(item, threshold, page.forecasts.get((item.store, item.item)))
            for item in page.items
        ],
        "next": encode_cursor(page.next) if page.next is not None else None,
        "total": total,
        "low_stock_threshold": threshold,
    }


@dataclass(frozen=True)
class StoreSummary:
    """One store's item of the summary table."""

    store: str
    items: int
    out_of_stock: int
    low: int
    units: int
    last_updated: str | None

    def document(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "out_of_stock": self.out_of_stock,
            "low_stock": self.low,
            "units": self.units,
            "last_updated": self.last_updated,
        }


def summary_document(stores: Iterable[StoreSummary], threshold: int) -> dict[str, Any]:
    """The body of GET /summary: totals (the sum of the stores'), and each store's figures,
    sorted by name.

    `low_stock` counts items at or below their threshold but not out of stock, so the two
    figures add up. `last_updated` compares ISO times as text, which orders them when they
    share an offset, as the loader's UTC times do. Stores without items are left out.
    """
    shown = sorted((store for store in stores if store.items > 0), key=lambda s: s.store)
    times = [store.last_updated for store in shown if store.last_updated]
    totals = {
        "stores": len(shown),
        "items": sum(store.items for store in shown),
        "out_of_stock": sum(store.out_of_stock for store in shown),
        "low_stock": sum(store.low for store in shown),
        "units": sum(store.units for store in shown),
        "last_updated": max(times) if times else None,
    }
    return {
        "low_stock_threshold": threshold,
        "totals": totals,
        "stores": [{"store": store.store, **store.document()} for store in shown],
    }


def listing_total(query: ItemQuery, stores: Iterable[StoreSummary]) -> int | None:
    """How many items a listing has, from the summary; None with a search (unknown without
    reading them)."""
    if query.search is not None:
        return None
    chosen = [store for store in stores if query.store is None or store.store == query.store]
    if query.status == "out":
        return sum(store.out_of_stock for store in chosen)
    if query.status == "low":
        return sum(store.low for store in chosen)
    if query.status == "ok":
        return sum(store.items - store.out_of_stock - store.low for store in chosen)
    return sum(store.items for store in chosen)


# ---------------------------------------------------------------- history


@dataclass(frozen=True)
class HistoryQuery:
    """GET /items/{store}/{item}/history?limit=&next=."""

    store: str
    item: str
    limit: int = DEFAULT_LIMIT
    after: RawKey | None = None

    @property
    def key(self) -> str:
        return history_key(self.store, self.item)


def parse_history_query(store: str, item: str, raw_query_string: str) -> HistoryQuery:
    """Raises BadRequest as `parse_item_query` does."""
    if not store or not item:
        raise BadRequest("the path names no store or no item")
    values = _query_values(raw_query_string, _HISTORY_PARAMETERS)
    limit = parse_limit(values.get("limit"))
    if "next" not in values:
        return HistoryQuery(store, item, limit)
    after = decode_cursor(values["next"], HISTORY_KEY)
    if after["store_item"]["S"] != history_key(store, item):
        raise BadRequest("next belongs to another item's history")
    return HistoryQuery(store, item, limit, after)


@dataclass(frozen=True)
class Change:
    """One change of an item's count, from the history table."""

    at: str  # the table's range key: snapshot time "#" stream sequence number
    count: int
    previous: int | None
    source: str

    def document(self) -> dict[str, Any]:
        return {
            "at": self.at.split("#", 1)[0],
            "count": self.count,
            "previous": self.previous,
            "source": self.source,
        }


@dataclass(frozen=True)
class History:
    changes: list[Change]  # newest first
    next: RawKey | None
    runs_out_in_days: float | None
    forecast_at: str | None


def history_document(
    query: HistoryQuery, current: StockItem | None, history: History, threshold: int
) -> dict[str, Any]:
    """The body of GET /items/{store}/{item}/history."""
    return {
        "store": query.store,
        "item": query.item,
        "current": item_document(current, threshold, history.runs_out_in_days)
        if current is not None
        else None,
        "runs_out_in_days": history.runs_out_in_days,
        "forecast_at": history.forecast_at,
        "history": [change.document() for change in history.changes],
        "next": encode_cursor(history.next) if history.next is not None else None,
        "low_stock_threshold": threshold,
    }
