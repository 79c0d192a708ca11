"""What one stream record of the inventory table changes in the summary and the history.
Pure Python, no AWS.

The summary counts, per store, each item's *contribution*: 1 item, its units, 1 if out, 1 if
low. The writer keeps, per item, the contribution it last applied and the stream sequence
number it came from; a record applies (its contribution minus the kept one) only when its
sequence number is newer. So a record delivered again, or an older record delivered after a
newer one, changes nothing, and the aggregates always equal a recount of the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SEPARATOR = "\x1f"  # between store and item in the history key; names never contain it
LATEST = "~latest"  # the history item that sorts after every timestamp
SEQUENCE_WIDTH = 40  # DynamoDB stream sequence numbers have at most 40 digits
MAX_POINTS = 60  # the recent points kept on ~latest for the forecast
COUNTERS = ("items", "units", "out_of_stock", "low")


@dataclass(frozen=True)
class ItemState:
    """An item as one image of the table shows it (None: the item is absent)."""

    count: int
    level: str | None
    updated_at: str
    source: str

    def contribution(self) -> dict[str, int]:
        return {
            "items": 1,
            "units": self.count,
            "out_of_stock": int(self.level == "out"),
            "low": int(self.level == "low"),
        }


NOTHING = dict.fromkeys(COUNTERS, 0)


@dataclass(frozen=True)
class Change:
    """One stream record, read: the item's key, its images, the record's sequence number."""

    store: str
    item: str
    sequence: str  # zero-padded to SEQUENCE_WIDTH, so strings compare as numbers
    old: ItemState | None
    new: ItemState | None

    @property
    def store_item(self) -> str:
        return history_key(self.store, self.item)

    @property
    def count_changed(self) -> bool:
        return self.new is not None and (self.old is None or self.old.count != self.new.count)


def contribution(state: ItemState | None) -> dict[str, int]:
    return state.contribution() if state is not None else dict(NOTHING)


def delta(applied: dict[str, int], new: ItemState | None) -> dict[str, int]:
    """What the store's counters move by when the item's contribution goes from `applied`."""
    wanted = contribution(new)
    return {name: wanted[name] - applied.get(name, 0) for name in COUNTERS}


def sequence_key(sequence_number: str) -> str:
    return sequence_number.zfill(SEQUENCE_WIDTH)


def history_key(store: str, item: str) -> str:
    """The history table's HASH key of an item (its writer here, the dashboard its reader)."""
    return f"{store}{SEPARATOR}{item}"


def change_from_record(record: dict[str, Any]) -> Change:
    """The Change a DynamoDB stream record (Lambda's shape) states."""
    body = record["dynamodb"]
    keys = body["Keys"]
    # An item written by something other than the loader may have no updated_at: its change
    # is then dated when the stream recorded it (Lambda's record always says when).
    recorded = body.get("ApproximateCreationDateTime")
    written_at = (
        datetime.fromtimestamp(float(recorded), UTC).isoformat(timespec="milliseconds")
        if recorded is not None
        else "1970-01-01T00:00:00.000+00:00"
    )
    return Change(
        store=keys["store"]["S"],
        item=keys["item"]["S"],
        sequence=sequence_key(body["SequenceNumber"]),
        old=_state(body.get("OldImage"), written_at),
        new=_state(body.get("NewImage"), written_at),
    )


def _state(image: dict[str, Any] | None, written_at: str) -> ItemState | None:
    if not image:
        return None
    return ItemState(
        count=int(image["count"]["N"]),
        level=image.get("level", {}).get("S"),  # the loader's level; absent is in stock
        updated_at=image.get("updated_at", {}).get("S") or written_at,
        source=image.get("source", {}).get("S", ""),
    )


def add_point(
    points: list[tuple[str, int]], at: str, count: int, limit: int = MAX_POINTS
) -> list[tuple[str, int]]:
    """The recent points with (at, count) added in time order, the oldest dropped past `limit`."""
    kept = sorted({*points, (at, count)})
    return kept[-limit:]


def parse_time(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))
