"""Reading stock rows from the DynamoDB table for the dashboard: one store by Query, every
store by Scan."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from inventory.dashboard import Key, StockItem

_STORE = {"#store": "store"}


class StockReader:
    """The inventory table of one stack, read-only."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table_name = table_name

    def read_page(
        self, store: str | None, after: Key | None, limit: int
    ) -> tuple[list[StockItem], Key | None]:
        """Up to `limit` rows after `after`, of `store` or of every store; and the key to
        continue after, None at the end of the table (a `dashboard.ReadPage`)."""
        request: dict[str, Any] = {"TableName": self._table_name, "Limit": limit}
        if after is not None:
            request["ExclusiveStartKey"] = {"store": {"S": after[0]}, "item": {"S": after[1]}}
        if store is None:
            response = self._dynamodb.scan(**request)
        else:
            response = self._dynamodb.query(
                KeyConditionExpression="#store = :store",
                ExpressionAttributeNames=_STORE,
                ExpressionAttributeValues={":store": {"S": store}},
                **request,
            )
        items = [stock_item(raw) for raw in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return items, (last["store"]["S"], last["item"]["S"]) if last else None

    def every_item(self) -> Iterator[StockItem]:
        """Every row of the table, page by page."""
        paginator = self._dynamodb.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table_name):
            for raw in page.get("Items", []):
                yield stock_item(raw)


def stock_item(raw: dict[str, Any]) -> StockItem:
    """A row in DynamoDB's attribute-value form as a StockItem."""
    return StockItem(
        store=raw["store"]["S"],
        item=raw["item"]["S"],
        count=int(raw["count"]["N"]),
        updated_at=raw.get("updated_at", {}).get("S", ""),
        source=raw.get("source", {}).get("S", ""),
    )
