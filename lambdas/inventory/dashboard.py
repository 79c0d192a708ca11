"""What the dashboard's API answers: stock status, item filters, pagination tokens, summaries.

Plain Python, no boto3: the handler passes in a function that reads one page of the table, so
the paging rules here are tested without DynamoDB.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args
from urllib.parse import parse_qs

Status = Literal["out", "low", "ok"]
STATUSES: tuple[Status, ...] = get_args(Status)
Key = tuple[str, str]  # (store, item): the table's primary key

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Items read from the table per request at most: a sparse filter returns a short page and a
# token rather than reading the whole table in one call.
MAX_ITEMS_READ = 5000
READ_PAGE_SIZE = 1000
MAX_SEARCH_CHARS = 1024  # item names are at most 1,024 bytes, so nothing longer can match
_PARAMETERS = ("store", "status", "q", "limit", "next")

# (store or None for every store, start after this key or None, read at most this many)
# -> (the items read, in table order; the key to continue after, None at the end)
ReadPage = Callable[[str | None, Key | None, int], tuple[list["StockItem"], Key | None]]


class BadRequest(Exception):
    """The request cannot be answered as asked; the message says why, for the caller."""


@dataclass(frozen=True)
class StockItem:
    """One row of the inventory table."""

    store: str
    item: str
    count: int
    updated_at: str
    source: str

    @property
    def key(self) -> Key:
        return (self.store, self.item)


def stock_status(count: int, threshold: int) -> Status:
    """Out of stock at 0, low at or below the threshold, ok above it."""
    if count <= 0:
        return "out"
    if count <= threshold:
        return "low"
    return "ok"


@dataclass(frozen=True)
class ItemQuery:
    """GET /items: which items, how many, and where the previous page ended."""

    store: str | None = None
    status: Status | None = None
    search: str | None = None
    limit: int = DEFAULT_LIMIT
    after: Key | None = None

    def matches(self, item: StockItem, threshold: int) -> bool:
        if self.store is not None and item.store != self.store:
            return False
        if self.status is not None and stock_status(item.count, threshold) != self.status:
            return False
        return self.search is None or self.search.casefold() in item.item.casefold()


def parse_item_query(raw_query_string: str) -> ItemQuery:
    """The query of GET /items?store=&status=&q=&limit=&next=.

    Parsed from the raw query string, because API Gateway joins repeated parameters with
    commas in `queryStringParameters`, and store names may contain commas.

    Raises:
        BadRequest: an unknown, repeated or invalid parameter.
    """
    try:
        parsed = parse_qs(
            raw_query_string or "", strict_parsing=False, max_num_fields=len(_PARAMETERS) * 2
        )
    except ValueError:
        raise BadRequest("too many query parameters") from None
    unknown = sorted(set(parsed) - set(_PARAMETERS))
    if unknown:
        raise BadRequest(f"unknown query parameter {unknown[0]!r}; use {', '.join(_PARAMETERS)}")
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise BadRequest(f"query parameter {repeated[0]!r} is given more than once")
    values = {name: found[0] for name, found in parsed.items()}

    status = values.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    search = values.get("q")
    if search is not None and len(search) > MAX_SEARCH_CHARS:
        raise BadRequest(f"q is longer than {MAX_SEARCH_CHARS} characters")
    store = values.get("store")
    after = decode_token(values["next"]) if "next" in values else None
    if after is not None and store is not None and after[0] != store:
        raise BadRequest("next belongs to another store's listing")
    return ItemQuery(
        store=store,
        status=status,
        search=search,
        limit=_limit(values.get("limit")),
        after=after,
    )


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def encode_token(key: Key) -> str:
    """An opaque, URL-safe token for "continue after this key"."""
    raw = json.dumps(list(key), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_token(token: str) -> Key:
    """The key a token from `encode_token` stands for.

    Raises:
        BadRequest: the token was not made by `encode_token`.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeError, ValueError):
        raise BadRequest("next is not a token this API gave out") from None
    if not (isinstance(key, list) and len(key) == 2 and all(isinstance(part, str) for part in key)):
        raise BadRequest("next is not a token this API gave out")
    return (key[0], key[1])


@dataclass(frozen=True)
class ItemPage:
    items: list[StockItem]
    next: Key | None


def find_items(
    read_page: ReadPage,
    query: ItemQuery,
    threshold: int,
    max_items_read: int = MAX_ITEMS_READ,
    read_page_size: int = READ_PAGE_SIZE,
) -> ItemPage:
    """Up to `query.limit` matching items, in table order, and where to continue.

    Reads the table page by page from `query.after` until the page is full, the table ends,
    or `max_items_read` items have been read; `next` is None only at the end of the table.
    The token names the last item looked at, so nothing is skipped or repeated between pages.
    """
    found: list[StockItem] = []
    position = query.after
    items_read = 0
    while True:
        budget = min(read_page_size, max_items_read - items_read)
        items, last_key = read_page(query.store, position, budget)
        items_read += len(items)
        for item in items:
            if query.matches(item, threshold):
                found.append(item)
                if len(found) == query.limit:
                    at_end = last_key is None and item is items[-1]
                    return ItemPage(found, None if at_end else item.key)
        if last_key is None:
            return ItemPage(found, None)
        position = last_key
        if items_read >= max_items_read:
            return ItemPage(found, position)


def item_document(item: StockItem, threshold: int) -> dict[str, Any]:
    return {
        "store": item.store,
        "item": item.item,
        "count": item.count,
        "status": stock_status(item.count, threshold),
        "updated_at": item.updated_at,
        "source": item.source,
    }


def items_document(page: ItemPage, threshold: int) -> dict[str, Any]:
    """The body of GET /items."""
    return {
        "items": [item_document(item, threshold) for item in page.items],
        "next": encode_token(page.next) if page.next is not None else None,
        "low_stock_threshold": threshold,
    }


@dataclass
class _StoreTotals:
    items: int = 0
    out_of_stock: int = 0
    low_stock: int = 0
    units: int = 0
    last_updated: str | None = None

    def add(self, item: StockItem, threshold: int) -> None:
        self.items += 1
        self.units += max(item.count, 0)
        status = stock_status(item.count, threshold)
        self.out_of_stock += status == "out"
        self.low_stock += status == "low"
        if item.updated_at and (self.last_updated is None or item.updated_at > self.last_updated):
            self.last_updated = item.updated_at

    def document(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "out_of_stock": self.out_of_stock,
            "low_stock": self.low_stock,
            "units": self.units,
            "last_updated": self.last_updated,
        }


def summary_document(items: Iterable[StockItem], threshold: int) -> dict[str, Any]:
    """The body of GET /summary: totals, and the same figures per store (sorted by name).

    `low_stock` counts items at or below the threshold but not out of stock, so the two
    figures add up. `last_updated` compares ISO times as text, which orders them when they
    share an offset, as the loader's UTC times do.
    """
    totals = _StoreTotals()
    stores: dict[str, _StoreTotals] = {}
    for item in items:
        totals.add(item, threshold)
        stores.setdefault(item.store, _StoreTotals()).add(item, threshold)
    return {
        "low_stock_threshold": threshold,
        "totals": {"stores": len(stores), **totals.document()},
        "stores": [{"store": name, **stores[name].document()} for name in sorted(stores)],
    }
