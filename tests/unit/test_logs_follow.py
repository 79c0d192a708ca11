"""`make logs`' follower: every event once, oldest first, across the functions' groups, and
the SINCE= durations it takes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from provision.logs import LogFollower, parse_since


class FakeLogs:
    """filter_log_events over groups held in memory, paged two events at a time."""

    def __init__(self) -> None:
        self.groups: dict[str, list[dict[str, Any]]] = {}

    def filter_log_events(self, **arguments: Any) -> dict[str, Any]:
        group = arguments["logGroupName"]
        if group not in self.groups:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "no group"}},
                "FilterLogEvents",
            )
        matching = [e for e in self.groups[group] if e["timestamp"] >= arguments["startTime"]]
        offset = int(arguments.get("nextToken", 0))
        page: dict[str, Any] = {"events": matching[offset : offset + 2]}
        if offset + 2 < len(matching):
            page["nextToken"] = str(offset + 2)
        return page


class FakeAws:
    def __init__(self) -> None:
        self.logs = FakeLogs()


def _event(at_ms: int, message: str) -> dict[str, Any]:
    return {"logStreamName": "s", "timestamp": at_ms, "message": message}


def _follower(aws: FakeAws, start_ms: int) -> LogFollower:
    functions = {"load_inventory": "st-load_inventory", "check_stock": "st-check_stock"}
    return LogFollower(aws, functions, start_ms)  # type: ignore[arg-type]


def test_each_event_is_handed_on_once_in_time_order_across_functions():
    now = int(time.time() * 1000)
    aws = FakeAws()
    aws.logs.groups["/aws/lambda/st-load_inventory"] = [_event(now, "a"), _event(now + 2, "c")]
    aws.logs.groups["/aws/lambda/st-check_stock"] = [_event(now + 1, "b")]
    follower = _follower(aws, now - 1000)

    first = follower.poll()
    aws.logs.groups["/aws/lambda/st-check_stock"].append(_event(now + 3, "d"))
    second = follower.poll()

    assert [(name, event["message"]) for name, event in first] == [
        ("load_inventory", "a"),
        ("check_stock", "b"),
        ("load_inventory", "c"),
    ]
    assert [(name, event["message"]) for name, event in second] == [("check_stock", "d")]


def test_an_event_that_becomes_searchable_late_still_shows_once():
    now = int(time.time() * 1000)
    aws = FakeAws()
    aws.logs.groups["/aws/lambda/st-load_inventory"] = [_event(now, "on time")]
    follower = _follower(aws, now - 1000)
    follower.poll()

    # logged before the last poll, searchable only after it
    aws.logs.groups["/aws/lambda/st-load_inventory"].insert(0, _event(now - 500, "late"))

    assert [event["message"] for _, event in follower.poll()] == ["late"]
    assert follower.poll() == []


def test_events_before_the_start_are_not_shown_and_missing_groups_are_no_error():
    now = int(time.time() * 1000)
    aws = FakeAws()
    aws.logs.groups["/aws/lambda/st-load_inventory"] = [_event(now - 60_000, "old")]

    assert _follower(aws, now - 1000).poll() == []
    assert [e["message"] for _, e in _follower(aws, now - 120_000).poll()] == ["old"]


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1h30m", 5400)]
)
def test_since_takes_seconds_minutes_hours_and_days(text, seconds):
    assert parse_since(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "5y", "-5m"])
def test_since_refuses_anything_else_in_one_sentence(text):
    with pytest.raises(ValueError, match="say how long ago"):
        parse_since(text)
