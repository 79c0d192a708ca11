"""The summary and history tables, kept from the inventory table's stream.

Per item, the history table's `~latest` item holds what the summary last counted for it
(`applied`, its contribution) and from which stream record (`applied_seq`). A record newer
than that moves the store's counters by (its contribution - applied), writes its history
point and the new `~latest` in one transaction, conditional on `~latest` being unchanged
since it was read; an older or repeated record changes nothing (inventory.tracking).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from inventory.forecast import runs_out_in_days
from inventory.tracking import COUNTERS, LATEST, Change, add_point, delta, parse_time

SECONDS_A_DAY = 86_400
_ATTEMPTS = 10  # conflicting writers for one item: only redeliveries racing the same record


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
        for _ in range(_ATTEMPTS):
            latest = self._latest(change.store_item)
            if latest is not None and latest["applied_seq"]["S"] >= change.sequence:
                return False
            try:
                self._write(change, latest)
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                continue  # another delivery wrote ~latest meanwhile: read it again
            self._note_last_updated(change)
            return True
        raise RuntimeError(f"{change.store_item}: ~latest kept changing under {_ATTEMPTS} tries")

    def _latest(self, store_item: str) -> dict[str, Any] | None:
        answer = self._dynamodb.get_item(
            TableName=self._history,
            Key={"store_item": {"S": store_item}, "at": {"S": LATEST}},
            ConsistentRead=True,
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def _write(self, change: Change, latest: dict[str, Any] | None) -> None:
        applied = {
            name: int(value["N"])
            for name, value in (latest or {}).get("applied", {"M": {}})["M"].items()
        }
        moves = delta(applied, change.new)
        points = [
            (str(point["L"][0]["S"]), int(point["L"][1]["N"]))
            for point in (latest or {}).get("points", {"L": []})["L"]
        ]
        writes: list[dict[str, Any]] = []
        if change.count_changed and change.new is not None:
            points = add_point(points, change.new.updated_at, change.new.count)
            writes.append({"Put": {"TableName": self._history, "Item": self._point(change)}})
        writes.append({"Put": self._latest_put(change, latest, moves, applied, points)})
        if any(moves.values()):
            writes.append({"Update": self._summary_update(change.store, moves)})
        self._dynamodb.transact_write_items(TransactItems=writes)

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

    def _summary_update(self, store: str, moves: dict[str, int]) -> dict[str, Any]:
        names = [name for name in COUNTERS if moves[name]]
        return {
            "TableName": self._summary,
            "Key": {"store": {"S": store}},
            "UpdateExpression": "ADD " + ", ".join(f"#{name} :{name}" for name in names),
            "ExpressionAttributeNames": {f"#{name}": name for name in names},
            "ExpressionAttributeValues": {f":{name}": {"N": str(moves[name])} for name in names},
        }

    def _note_last_updated(self, change: Change) -> None:
        """The store's newest snapshot time: only ever moves forward, so it needs no marker."""
        if change.new is None or not change.new.updated_at:
            return
        try:
            self._dynamodb.update_item(
                TableName=self._summary,
                Key={"store": {"S": change.store}},
                UpdateExpression="SET last_updated = :at",
                ConditionExpression="attribute_not_exists(last_updated) OR last_updated < :at",
                ExpressionAttributeValues={":at": {"S": change.new.updated_at}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
