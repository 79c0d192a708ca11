"""The summary and history tables, kept from the inventory table's stream.

Per item, the history table's `~latest` item holds what the summary last counted for it
(`applied`, its contribution) and from which stream record (`applied_seq`). Records newer
than that move the store's counters by (the last one's contribution - applied), and write
their history points and the new `~latest`; older or repeated records change nothing
(inventory.tracking).

A batch is applied a store and up to 99 items at a time: one BatchGetItem of their `~latest`
items, BatchWriteItem for the history points (their keys are the records', so writing one
again changes nothing), then one transaction of the conditional `~latest` puts and the
store's summed counter moves. If any `~latest` changed since it was read, the transaction
applies nothing and those items are read again. One transaction per record, as before, kept
a burst of uploads' alerts waiting behind 170 records a second on MiniStack.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from inventory.adapters.table import BATCH_GET_SIZE, BATCH_SIZE, Backoff, batch_get, batch_write
from inventory.forecast import runs_out_in_days
from inventory.tracking import COUNTERS, LATEST, NOTHING, Change, add_point, delta, parse_time

SECONDS_A_DAY = 86_400
# TransactWriteItems holds at most 100 actions: the items' `~latest` puts and the summary.
ITEMS_A_TRANSACTION = 99
_ATTEMPTS = 10  # conflicting writers for one item: only redeliveries racing the same record
_DEFAULT_SECONDS = 60.0  # for callers without a deadline of their own


@dataclass(frozen=True)
class _ItemUpdate:
    """What one item's records newer than its `~latest` write."""

    records: int
    points: list[dict[str, Any]]
    latest_put: dict[str, Any]
    moves: dict[str, int]
    updated_at: str | None


class Tracker:
    def __init__(
        self,
        dynamodb: Any,
        summary_table: str,
        history_table: str,
        retention_days: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dynamodb = dynamodb
        self._summary = summary_table
        self._history = history_table
        self._retention_seconds = retention_days * SECONDS_A_DAY
        self._clock = clock

    def apply(self, change: Change) -> bool:
        """Apply one record once; False when it was applied already (or is older)."""
        return self.apply_batch([change]) == 1

    def apply_batch(self, changes: Iterable[Change], deadline: float | None = None) -> int:
        """Apply each record once, in sequence order per item; how many were new. Throttled
        reads and writes are retried until `deadline` (time.monotonic)."""
        if deadline is None:
            deadline = time.monotonic() + _DEFAULT_SECONDS
        by_item: dict[str, dict[str, Change]] = {}
        for change in changes:
            by_item.setdefault(change.store_item, {})[change.sequence] = change
        by_store: dict[str, list[list[Change]]] = {}
        for records in by_item.values():
            ordered = sorted(records.values(), key=lambda change: change.sequence)
            by_store.setdefault(ordered[0].store, []).append(ordered)
        applied = 0
        for store, items in by_store.items():
            for start in range(0, len(items), ITEMS_A_TRANSACTION):
                chunk = items[start : start + ITEMS_A_TRANSACTION]
                applied += self._apply_items(store, chunk, deadline)
        return applied

    def _apply_items(self, store: str, items: Sequence[list[Change]], deadline: float) -> int:
        """One store's items, each with its records in order, in one transaction."""
        backoff = Backoff(deadline)
        for _ in range(_ATTEMPTS):
            latest = self._latest([records[0].store_item for records in items], deadline)
            updates = [
                update
                for records in items
                if (update := self._update(records, latest.get(records[0].store_item)))
            ]
            if not updates:
                return 0
            points = [point for update in updates for point in update.points]
            for start in range(0, len(points), BATCH_SIZE):
                batch = points[start : start + BATCH_SIZE]
                batch_write(self._dynamodb, self._history, batch, Backoff(deadline))
            try:
                self._transact(store, updates)
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                # Another delivery wrote a ~latest meanwhile (or, on AWS, the transaction was
                # throttled or met another): read them again.
                backoff.wait("the ~latest items' transaction kept being cancelled")
                continue
            self._note_last_updated(store, [update.updated_at for update in updates])
            return sum(update.records for update in updates)
        raise RuntimeError(f"{store}: ~latest items kept changing under {_ATTEMPTS} tries")

    def _latest(self, store_items: list[str], deadline: float) -> dict[str, dict[str, Any]]:
        keys = [{"store_item": {"S": key}, "at": {"S": LATEST}} for key in store_items]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), BATCH_GET_SIZE):
            chunk = keys[start : start + BATCH_GET_SIZE]
            for item in batch_get(self._dynamodb, self._history, chunk, Backoff(deadline)):
                found[item["store_item"]["S"]] = item
        return found

    def _update(self, records: list[Change], latest: dict[str, Any] | None) -> _ItemUpdate | None:
        applied_seq = latest["applied_seq"]["S"] if latest is not None else ""
        fresh = [change for change in records if change.sequence > applied_seq]
        if not fresh:
            return None
        applied = {
            name: int(value["N"])
            for name, value in (latest or {}).get("applied", {"M": {}})["M"].items()
        }
        points = [
            (str(point["L"][0]["S"]), int(point["L"][1]["N"]))
            for point in (latest or {}).get("points", {"L": []})["L"]
        ]
        history = []
        for change in fresh:
            if change.count_changed and change.new is not None:
                points = add_point(points, change.new.updated_at, change.new.count)
                history.append(self._point(change))
        last = fresh[-1]
        moves = delta(applied, last.new)
        updated = [change.new.updated_at for change in fresh if change.new is not None]
        return _ItemUpdate(
            records=len(fresh),
            points=history,
            latest_put=self._latest_put(last, latest, moves, applied, points),
            moves=moves,
            updated_at=max(updated, default=None),
        )

    def _point(self, change: Change) -> dict[str, Any]:
        assert change.new is not None
        item: dict[str, Any] = {
            "store_item": {"S": change.store_item},
            "at": {"S": f"{change.new.updated_at}#{change.sequence}"},
            "count": {"N": str(change.new.count)},
            "source": {"S": change.new.source},
            "expires_at": {"N": str(int(self._clock()) + self._retention_seconds)},
        }
        if change.old is not None:
            item["previous"] = {"N": str(change.old.count)}
        return item

    def _latest_put(
        self,
        change: Change,
        latest: dict[str, Any] | None,
        moves: dict[str, int],
        applied: dict[str, int],
        points: list[tuple[str, int]],
    ) -> dict[str, Any]:
        now_applied = {name: applied.get(name, 0) + moves[name] for name in COUNTERS}
        item: dict[str, Any] = {
            "store_item": {"S": change.store_item},
            "at": {"S": LATEST},
            "applied_seq": {"S": change.sequence},
            "applied": {"M": {name: {"N": str(value)} for name, value in now_applied.items()}},
            "points": {"L": [{"L": [{"S": at}, {"N": str(count)}]} for at, count in points]},
        }
        if points:
            now = parse_time(points[-1][0])
            forecast = runs_out_in_days([(parse_time(at), count) for at, count in points], now)
            item["forecast_at"] = {"S": points[-1][0]}
            if forecast is not None:
                # 4 significant digits, never in exponent form
                item["runs_out_in_days"] = {"N": format(Decimal(f"{forecast:.4g}"), "f")}
        put: dict[str, Any] = {"TableName": self._history, "Item": item}
        if latest is None:
            put["ConditionExpression"] = "attribute_not_exists(applied_seq)"
        else:
            put["ConditionExpression"] = "applied_seq = :read"
            put["ExpressionAttributeValues"] = {":read": latest["applied_seq"]}
        return put

    def _transact(self, store: str, updates: list[_ItemUpdate]) -> None:
        moves = dict(NOTHING)
        for update in updates:
            for name in COUNTERS:
                moves[name] += update.moves[name]
        writes: list[dict[str, Any]] = [{"Put": update.latest_put} for update in updates]
        if any(moves.values()):
            writes.append({"Update": self._summary_update(store, moves)})
        self._dynamodb.transact_write_items(TransactItems=writes)

    def _summary_update(self, store: str, moves: dict[str, int]) -> dict[str, Any]:
        names = [name for name in COUNTERS if moves[name]]
        return {
            "TableName": self._summary,
            "Key": {"store": {"S": store}},
            "UpdateExpression": "ADD " + ", ".join(f"#{name} :{name}" for name in names),
            "ExpressionAttributeNames": {f"#{name}": name for name in names},
            "ExpressionAttributeValues": {f":{name}": {"N": str(moves[name])} for name in names},
        }

    def _note_last_updated(self, store: str, times: list[str | None]) -> None:
        """The store's newest snapshot time: only ever moves forward, so it needs no marker."""
        newest = max((at for at in times if at), default=None)
        if newest is None:
            return
        try:
            self._dynamodb.update_item(
                TableName=self._summary,
                Key={"store": {"S": store}},
                UpdateExpression="SET last_updated = :at",
                ConditionExpression="attribute_not_exists(last_updated) OR last_updated < :at",
                ExpressionAttributeValues={":at": {"S": newest}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
