"""Filling a stack's inventory, summary and history tables directly (not through the loader),
consistently with each other and with the shapes of CONTRACTS.md: the dashboard's bench at
100,000 items, and the browser tests' paging and history."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

BATCH = 25  # DynamoDB's limit per BatchWriteItem
WRITERS = 8
SEPARATOR = "\x1f"  # inventory.tracking.SEPARATOR (bench does not import the lambdas)
UPDATED_AT = "2026-12-01T08:00:00.000Z"


@dataclass(frozen=True)
class Tables:
    inventory: str
    summary: str
    history: str


def level(count: int, threshold: int) -> str | None:
    """As inventory.stock.stock_level: "out" at 0, "low" up to the threshold."""
    if count == 0:
        return "out"
    return "low" if count <= threshold else None


def item_rows(store: str, counts: Sequence[int], threshold: int) -> Iterator[dict[str, Any]]:
    """One row per count: item-000000, item-000001, ..."""
    for n, count in enumerate(counts):
        row: dict[str, Any] = {
            "store": {"S": store},
            "item": {"S": f"item-{n:06}"},
            "count": {"N": str(count)},
            "updated_at": {"S": UPDATED_AT},
            "source": {"S": f"s3://seed/{store}.csv"},
        }
        found = level(count, threshold)
        if found:
            row["level"] = {"S": found}
        yield row


def summary_row(store: str, counts: Sequence[int], threshold: int) -> dict[str, Any]:
    levels = [level(count, threshold) for count in counts]
    return {
        "store": {"S": store},
        "items": {"N": str(len(counts))},
        "out_of_stock": {"N": str(levels.count("out"))},
        "low": {"N": str(levels.count("low"))},
        "units": {"N": str(sum(counts))},
        "last_updated": {"S": UPDATED_AT},
    }


def write(dynamodb: Any, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Every row, 25 a BatchWriteItem, on WRITERS threads, retrying what was unprocessed."""

    def one(batch: list[dict[str, Any]]) -> None:
        pending = {table: [{"PutRequest": {"Item": row}} for row in batch]}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    batches = [list(rows[start : start + BATCH]) for start in range(0, len(rows), BATCH)]
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(one, batches))


def seed_store(
    dynamodb: Any,
    tables: Tables,
    store: str,
    counts: Sequence[int],
    threshold: int,
    *,
    with_summary: bool = True,
) -> None:
    """A store with one item per count (item-000000, ...), and its summary item unless the
    stack's track_stock keeps the summary from the stream (`with_summary=False`)."""
    write(dynamodb, tables.inventory, list(item_rows(store, counts, threshold)))
    if with_summary:
        dynamodb.put_item(TableName=tables.summary, Item=summary_row(store, counts, threshold))


def seed_history(
    dynamodb: Any,
    tables: Tables,
    store: str,
    item: str,
    changes: Sequence[tuple[str, int, str]],
    runs_out_in_days: float | None,
) -> None:
    """An item's changes ((ISO time, count, source), oldest first) and its `~latest` item, in
    place of any history it had."""
    key = f"{store}{SEPARATOR}{item}"
    rows: list[dict[str, Any]] = []
    previous: int | None = None
    for sequence, (at, count, source) in enumerate(changes):
        row: dict[str, Any] = {
            "store_item": {"S": key},
            "at": {"S": f"{at}#{sequence:012}"},
            "count": {"N": str(count)},
            "source": {"S": source},
            "expires_at": {"N": "4102444800"},
        }
        if previous is not None:
            row["previous"] = {"N": str(previous)}
        rows.append(row)
        previous = count
    latest: dict[str, Any] = {
        "store_item": {"S": key},
        "at": {"S": "~latest"},
        "forecast_at": {"S": UPDATED_AT},
    }
    if runs_out_in_days is not None:
        latest["runs_out_in_days"] = {"N": str(runs_out_in_days)}
    _forget_history(dynamodb, tables.history, key)
    write(dynamodb, tables.history, [*rows, latest])


def _forget_history(dynamodb: Any, table: str, key: str) -> None:
    """Delete what the history holds for `key` (what a stack's track_stock wrote when the
    item was seeded), so the seeded changes are the item's whole history."""
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="store_item = :key",
        ExpressionAttributeValues={":key": {"S": key}},
        ProjectionExpression="store_item, #at",
        ExpressionAttributeNames={"#at": "at"},
    )
    for page in pages:
        for item in page["Items"]:
            dynamodb.delete_item(TableName=table, Key=item)
