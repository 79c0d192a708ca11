"""The out-of-stock rule and the alert it produces. Pure Python, no AWS."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

OUT_OF_STOCK_EVENT = "out_of_stock"


@dataclass(frozen=True, slots=True)
class Alert:
    """An item that has just run out at a store.

    `alert_id` is the id of the stream record the alert came from: the same on every delivery
    of that record, so the sender (and any subscriber) can tell a repeat from a new alert.
    """

    store: str
    item: str
    count: int
    previous_count: int | None
    updated_at: str | None
    source: str | None
    alert_id: str

    def sentence(self) -> str:
        """What an email or SMS subscriber reads."""
        return f"{self.store} is out of stock of {self.item}"

    def document(self) -> str:
        """What a machine subscriber (SQS, Lambda) parses."""
        return json.dumps({"event": OUT_OF_STOCK_EVENT, **asdict(self)}, ensure_ascii=False)

    def attributes(self) -> dict[str, str]:
        """Message attributes, so subscribers can filter by store, item or event."""
        return {"store": self.store, "item": self.item, "event": OUT_OF_STOCK_EVENT}


def went_out_of_stock(old_count: int | None, new_count: int | None) -> bool:
    """True when an item becomes out of stock: it is now 0 and was absent or above 0 before.

    A count written as 0 over 0 is not news, a deleted item (no new count) is not out of stock,
    and any count above 0 is in stock.
    """
    return new_count == 0 and (old_count is None or old_count > 0)


def alert_for_stream_record(record: dict[str, Any]) -> Alert | None:
    """Apply the rule to one DynamoDB stream record (NEW_AND_OLD_IMAGES); None if no alert."""
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    change = record["dynamodb"]
    new_image = change.get("NewImage") or {}
    old_image = change.get("OldImage") or {}
    new_count = _number(new_image.get("count"))
    if not went_out_of_stock(_number(old_image.get("count")), new_count):
        return None
    assert new_count is not None  # went_out_of_stock guarantees it
    return Alert(
        store=_text(new_image["store"]) or "",
        item=_text(new_image["item"]) or "",
        count=new_count,
        previous_count=_number(old_image.get("count")),
        updated_at=_text(new_image.get("updated_at")),
        source=_text(new_image.get("source")),
        alert_id=record["eventID"],
    )


def _number(attribute: dict[str, str] | None) -> int | None:
    if not attribute or "N" not in attribute:
        return None
    return int(attribute["N"])


def _text(attribute: dict[str, str] | None) -> str | None:
    if not attribute or "S" not in attribute:
        return None
    return attribute["S"]
