"""`provision rebuild-summary`: the summary table recounted from the inventory table, for a
stack that had items before track_stock existed, or after a bug.

The counters are those track_stock keeps (inventory.tracking), so both agree. Each item's
`~latest` history item is re-based too: what the summary now counts for it, keeping the
sequence number it had. A stream record newer than that then moves the counters from the
recount to its own state (nothing, when the scan already saw it), an older one is skipped.
Run it while no upload is loading: track_stock's additions during the rebuild may be
overwritten (run it again once the load is done).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from inventory.tracking import COUNTERS, LATEST, SEPARATOR, ItemState, contribution, sequence_key
from provision.aws import Aws, ignore_missing
from provision.stack import Stack


def recount(items: Iterator[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[Any]]:
    """Per-store figures (counters and last_updated) of these table items (DynamoDB shape),
    and each item's (store_item, contribution)."""
    stores: dict[str, dict[str, Any]] = {}
    contributions = []
    for item in items:
        state = ItemState(
            count=int(item["count"]["N"]),
            level=item.get("level", {}).get("S"),
            updated_at=item.get("updated_at", {}).get("S", ""),
            source=item.get("source", {}).get("S", ""),
        )
        store = item["store"]["S"]
        figures = stores.setdefault(store, {**dict.fromkeys(COUNTERS, 0), "last_updated": ""})
        for name, value in contribution(state).items():
            figures[name] += value
        figures["last_updated"] = max(figures["last_updated"], state.updated_at)
        contributions.append((f"{store}{SEPARATOR}{item['item']['S']}", contribution(state)))
    return stores, contributions


def rebuild(aws: Aws, stack: Stack) -> int:
    """Rewrite the summary from a scan of the table; returns how many stores it holds."""
    dynamodb = aws.dynamodb
    for table in (stack.table, stack.summary_table, stack.history_table):
        if not _exists(dynamodb, table):
            raise LookupError(f"stack {stack.name!r} has no table {table}")
    stores, contributions = recount(_scan(dynamodb, stack.table))
    counted = dict(contributions)
    # Items gone from the table count for nothing now.
    for latest in _scan(dynamodb, stack.history_table, LATEST):
        counted.setdefault(latest["store_item"]["S"], contribution(None))
    for store_item, applied in counted.items():
        dynamodb.update_item(
            TableName=stack.history_table,
            Key={"store_item": {"S": store_item}, "at": {"S": LATEST}},
            UpdateExpression="SET applied = :applied, applied_seq = "
            "if_not_exists(applied_seq, :zero)",
            ExpressionAttributeValues={
                ":applied": {"M": {name: {"N": str(value)} for name, value in applied.items()}},
                ":zero": {"S": sequence_key("0")},
            },
        )
    for old in _scan(dynamodb, stack.summary_table):
        if old["store"]["S"] not in stores:
            dynamodb.delete_item(TableName=stack.summary_table, Key={"store": old["store"]})
    for store, figures in stores.items():
        item = {name: {"N": str(figures[name])} for name in COUNTERS}
        if figures["last_updated"]:
            item["last_updated"] = {"S": figures["last_updated"]}
        dynamodb.put_item(TableName=stack.summary_table, Item={"store": {"S": store}, **item})
    return len(stores)


def _exists(dynamodb: Any, table: str) -> bool:
    def describe() -> Any:
        return dynamodb.describe_table(TableName=table)

    return ignore_missing(describe, "ResourceNotFoundException") is not None


def _scan(dynamodb: Any, table: str, at: str | None = None) -> Iterator[dict[str, Any]]:
    """Every item of `table`; with `at`, only the history items at that sort key."""
    only: dict[str, Any] = {}
    if at is not None:
        only = {
            "FilterExpression": "#at = :at",
            "ExpressionAttributeNames": {"#at": "at"},
            "ExpressionAttributeValues": {":at": {"S": at}},
        }
    pages = dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True, **only)
    for page in pages:
        yield from page.get("Items", [])
