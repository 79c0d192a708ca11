"""Reading the dashboard's data from DynamoDB: a page of items (a store's partition by Query,
the sparse index `by_level` for a status, the stores' partitions in turn otherwise), the
summary table, and an item's history. Every call reads a bounded number of items, whatever
the table's size."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from inventory.dashboard import (
    LEVEL_INDEX,
    Change,
    History,
    HistoryQuery,
    ItemPage,
    ItemQuery,
    RawKey,
    StockItem,
    StoreSummary,
)
from inventory.tracking import LATEST, history_key

# Reads (each of at most `limit` items) one request may make to fill a page whose filter
# (a search, status=ok) the key cannot express: a short page and a cursor beyond that.
MAX_READS = 4
BATCH_GET_KEYS = 100  # DynamoDB's limit per BatchGetItem
BATCH_GET_ATTEMPTS = 3


class StockReader:
    """One stack's inventory, summary and history tables, read-only."""

    def __init__(
        self, dynamodb: Any, table: str, summary_table: str, history_table: str | None = None
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._summary_table = summary_table
        self._history_table = history_table

    # ------------------------------------------------------------ items

    def items_page(self, query: ItemQuery, stores: Iterable[str] = ()) -> ItemPage:
        """Up to `query.limit` items of the listing after `query.after`, in key order (store,
        then item), and the key to continue after (None at the end).

        A listing of every store without a status reads the `stores` (the summary's) one
        partition after another from the cursor's, rather than a Scan: each read is a Query
        whose search is a key condition, so a page costs the same whatever the table holds
        (on the emulators, a Scan sorts the whole table on every call)."""
        if query.store is not None or query.uses_level_index:
            found, after = self._read(query)
            return ItemPage(found, after, self.forecasts(found))
        found = []
        after = None
        start = query.after["store"]["S"] if query.after is not None else None
        for store in sorted(name for name in set(stores) if start is None or name >= start):
            part = replace(
                query,
                store=store,
                limit=query.limit - len(found),
                after=query.after if store == start else None,
            )
            got, after = self._read(part)
            found += got
            if after is not None:  # the page is full, or this store's reads ran out
                break
            if len(found) == query.limit:
                after = listing_key_of(found[-1])
                break
        return ItemPage(found, after, self.forecasts(found))

    def _read(self, query: ItemQuery) -> tuple[list[StockItem], RawKey | None]:
        """Up to `query.limit` items of one index's listing after `query.after`, in at most
        MAX_READS reads, and the key to continue after (None at the end)."""
        request = items_request(self._table, query)
        found: list[StockItem] = []
        after = query.after
        for _ in range(MAX_READS):
            if after is not None:
                request["ExclusiveStartKey"] = after
            response = self._dynamodb.query(**request)
            raw_items = response.get("Items", [])
            after = response.get("LastEvaluatedKey")
            room = query.limit - len(found)
            if len(raw_items) > room:  # a filtered read can match more than the page holds
                found += [stock_item(raw) for raw in raw_items[:room]]
                after = listing_key(raw_items[room - 1], query)
            else:
                found += [stock_item(raw) for raw in raw_items]
            if after is None or len(found) == query.limit:
                break
        return found, after

    def forecasts(self, items: list[StockItem]) -> dict[tuple[str, str], float | None]:
        """Each item's `runs_out_in_days` from its history's `~latest` item: BatchGetItem,
        100 keys a call. An item without one (no history yet) is absent."""
        if self._history_table is None or not items:
            return {}
        found: dict[tuple[str, str], float | None] = {}
        names = {history_key(item.store, item.item): (item.store, item.item) for item in items}
        keys = [{"store_item": {"S": key}, "at": {"S": LATEST}} for key in names]
        for start in range(0, len(keys), BATCH_GET_KEYS):
            pending: dict[str, Any] = {
                self._history_table: {
                    "Keys": keys[start : start + BATCH_GET_KEYS],
                    "ProjectionExpression": "store_item, runs_out_in_days",
                }
            }
            for _ in range(BATCH_GET_ATTEMPTS):
                response = self._dynamodb.batch_get_item(RequestItems=pending)
                for raw in response.get("Responses", {}).get(self._history_table, []):
                    found[names[raw["store_item"]["S"]]] = _number(raw, "runs_out_in_days")
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
        return found

    # ------------------------------------------------------------ summary

    def summary(self) -> list[StoreSummary]:
        """Every store's item of the summary table (about one per store: a Scan of a few
        small items). Items without an `items` figure are someone's bookkeeping: skipped."""
        paginator = self._dynamodb.get_paginator("scan")
        stores = []
        for page in paginator.paginate(TableName=self._summary_table):
            for raw in page.get("Items", []):
                if "items" in raw:
                    stores.append(store_summary(raw))
        return stores

    # ------------------------------------------------------------ one item

    def item(self, store: str, item: str) -> StockItem | None:
        response = self._dynamodb.get_item(
            TableName=self._table, Key={"store": {"S": store}, "item": {"S": item}}
        )
        return stock_item(response["Item"]) if "Item" in response else None

    def history(self, query: HistoryQuery) -> History:
        """A page of the item's changes, newest first, without its `~latest` item; and the
        forecast that item holds."""
        if self._history_table is None:
            raise RuntimeError("this reader was given no history table")
        request: dict[str, Any] = {
            "TableName": self._history_table,
            "KeyConditionExpression": "#key = :key AND #at < :latest",
            "ExpressionAttributeNames": {"#key": "store_item", "#at": "at"},
            "ExpressionAttributeValues": {":key": {"S": query.key}, ":latest": {"S": LATEST}},
            "ScanIndexForward": False,
            "Limit": query.limit,
        }
        if query.after is not None:
            request["ExclusiveStartKey"] = query.after
        response = self._dynamodb.query(**request)
        changes = [
            Change(
                at=raw["at"]["S"],
                count=int(raw["count"]["N"]),
                previous=_integer(raw, "previous"),
                source=raw.get("source", {}).get("S", ""),
            )
            for raw in response.get("Items", [])
        ]
        latest = self._dynamodb.get_item(
            TableName=self._history_table,
            Key={"store_item": {"S": query.key}, "at": {"S": LATEST}},
        ).get("Item", {})
        return History(
            changes=changes,
            next=response.get("LastEvaluatedKey"),
            runs_out_in_days=_number(latest, "runs_out_in_days"),
            forecast_at=latest.get("forecast_at", {}).get("S"),
        )


def items_request(table: str, query: ItemQuery) -> dict[str, Any]:
    """The Query (without its start key) of a store's or a status's listing."""
    if query.store is None and not query.uses_level_index:
        raise ValueError("a listing of every store is read a store at a time (items_page)")
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    key: list[str] = []
    filters: list[str] = []
    request: dict[str, Any] = {"TableName": table, "Limit": query.limit}
    if query.uses_level_index:
        request["IndexName"] = LEVEL_INDEX
        names["#level"] = "level"
        values[":level"] = {"S": query.status}
        key.append("#level = :level")
    if query.store is not None:
        names["#store"] = "store"
        values[":store"] = {"S": query.store}
        key.append("#store = :store")
    if query.search is not None:
        names["#item"] = "item"
        values[":search"] = {"S": query.search}
        # On the table's own key within a store; a filter on the index.
        (filters if query.uses_level_index else key).append("begins_with(#item, :search)")
    if query.status == "ok":
        names["#level"] = "level"
        filters.append("attribute_not_exists(#level)")
    if filters:
        request["FilterExpression"] = " AND ".join(filters)
    request["ExpressionAttributeNames"] = names
    request["ExpressionAttributeValues"] = values
    request["KeyConditionExpression"] = " AND ".join(key)
    return request


def listing_key(raw: dict[str, Any], query: ItemQuery) -> RawKey:
    """The key DynamoDB would give as LastEvaluatedKey after `raw` in this listing."""
    names = ("level", "store", "item") if query.uses_level_index else ("store", "item")
    return {name: {"S": raw[name]["S"]} for name in names}


def listing_key_of(item: StockItem) -> RawKey:
    """The key of the table after which a listing of every store goes on."""
    return {"store": {"S": item.store}, "item": {"S": item.item}}


def stock_item(raw: dict[str, Any]) -> StockItem:
    """A row in DynamoDB's attribute-value form as a StockItem."""
    return StockItem(
        store=raw["store"]["S"],
        item=raw["item"]["S"],
        count=int(raw["count"]["N"]),
        updated_at=raw.get("updated_at", {}).get("S", ""),
        source=raw.get("source", {}).get("S", ""),
        threshold=_integer(raw, "low_stock_threshold"),
    )


def store_summary(raw: dict[str, Any]) -> StoreSummary:
    return StoreSummary(
        store=raw["store"]["S"],
        items=_integer(raw, "items") or 0,
        out_of_stock=_integer(raw, "out_of_stock") or 0,
        low=_integer(raw, "low") or 0,
        units=_integer(raw, "units") or 0,
        last_updated=raw.get("last_updated", {}).get("S"),
    )


def _integer(raw: dict[str, Any], name: str) -> int | None:
    return int(raw[name]["N"]) if name in raw else None


def _number(raw: dict[str, Any], name: str) -> float | None:
    return float(raw[name]["N"]) if name in raw else None
