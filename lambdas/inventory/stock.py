"""The stock rules (levels, running out, running low) and the alerts they produce. Pure Python,
no AWS."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

OUT_OF_STOCK_EVENT = "out_of_stock"
LOW_STOCK_EVENT = "low_stock"
ALERT_EVENTS = (OUT_OF_STOCK_EVENT, LOW_STOCK_EVENT)
OUT, LOW = "out", "low"  # the item attribute `level` (absent: in stock)
DEFAULT_LOW_STOCK_THRESHOLD = 5  # provision.stack.Settings.low_stock_threshold's default


def stock_level(count: int, threshold: int) -> str | None:
    """Return "out" at 0, "low" above 0 and at or below `threshold`, None (in stock) above it."""
    if count == 0:
        return OUT
    if count <= threshold:
        return LOW
    return None


@dataclass(frozen=True, slots=True)
class Alert:
    """An item that has just run out at a store (`event` out_of_stock), or just run low
    (low_stock: `threshold` is the level it fell to or below).

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
    event: str = OUT_OF_STOCK_EVENT
    threshold: int | None = None

    def sentence(self) -> str:
        """What an email or SMS subscriber reads."""
        if self.event == LOW_STOCK_EVENT:
            return f"{self.store} is low on {self.item}: {self.count} left"
        return f"{self.store} is out of stock of {self.item}"

    def document(self) -> str:
        """What a machine subscriber (SQS, Lambda) parses."""
        fields = asdict(self)
        if self.event == OUT_OF_STOCK_EVENT:
            del fields["threshold"]  # out-of-stock documents keep their shape
        return json.dumps(fields, ensure_ascii=False)

    def attributes(self) -> dict[str, str]:
        """Message attributes, so subscribers can filter by store, item or event."""
        return {"store": self.store, "item": self.item, "event": self.event}


def went_out_of_stock(old_count: int | None, new_count: int | None) -> bool:
    """True when an item becomes out of stock: it is now 0 and was absent or above 0 before.

    A count written as 0 over 0 is not news, a deleted item (no new count) is not out of stock,
    and any count above 0 is in stock.
    """
    return new_count == 0 and (old_count is None or old_count > 0)


def went_low(old_count: int | None, new_count: int | None, threshold: int) -> bool:
    """True when an item becomes low: it is now above 0 and at or below `threshold`, and was
    absent or above `threshold` before. Falling from low to 0 is the out-of-stock alert, a
    restock from 0 to a low count is no news, and neither is a move within the low band."""
    return (
        new_count is not None
        and 0 < new_count <= threshold
        and (old_count is None or old_count > threshold)
    )


def alert_for_stream_record(
    record: dict[str, Any], threshold: int = DEFAULT_LOW_STOCK_THRESHOLD
) -> Alert | None:
    """Apply the rules to one DynamoDB stream record (NEW_AND_OLD_IMAGES); None if no alert.

    `threshold` is the stack's; an item's own `low_stock_threshold` overrides it.
    """
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    change = record["dynamodb"]
    new_image = change.get("NewImage") or {}
    old_image = change.get("OldImage") or {}
    new_count = _number(new_image.get("count"))
    old_count = _number(old_image.get("count"))
    own_threshold = _number(new_image.get("low_stock_threshold"))
    if own_threshold is not None:
        threshold = own_threshold
    if went_out_of_stock(old_count, new_count):
        event, alert_threshold = OUT_OF_STOCK_EVENT, None
    elif went_low(old_count, new_count, threshold):
        event, alert_threshold = LOW_STOCK_EVENT, threshold
    else:
        return None
    assert new_count is not None  # both rules guarantee it
    return Alert(
        store=_text(new_image["store"]) or "",
        item=_text(new_image["item"]) or "",
        count=new_count,
        previous_count=old_count,
        updated_at=_text(new_image.get("updated_at")),
        source=_text(new_image.get("source")),
        alert_id=record["eventID"],
        event=event,
        threshold=alert_threshold,
    )


def _number(attribute: dict[str, str] | None) -> int | None:
    if not attribute or "N" not in attribute:
        return None
    return int(attribute["N"])


def _text(attribute: dict[str, str] | None) -> str | None:
    if not attribute or "S" not in attribute:
        return None
    return attribute["S"]
