"""python -m provision.logs [--stack NAME] [--function FN] [--since 10m]: follow the
functions' CloudWatch Logs as they happen, one line an event (provision.log_lines).

It reads CloudWatch Logs the same way on every target: an emulator (AWS_ENDPOINT_URL) or AWS
itself. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from provision import deploy
from provision.aws import Aws, missing
from provision.log_lines import format_event
from provision.stack import DEFAULT_STACK

POLL_SECONDS = 1.0
# CloudWatch Logs may take seconds to make an event searchable, and an event keeps the time
# it was logged: each poll looks back this far so a late event still shows, once.
LATE_EVENTS_SECONDS = 15
_DURATION = re.compile(r"(\d+)\s*([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> float:
    """Seconds in `30s`, `10m`, `2h`, `1d` (or their sums, `1h30m`); ValueError otherwise."""
    compact = text.strip().replace(" ", "")
    if not compact or _DURATION.sub("", compact):
        raise ValueError(f"SINCE={text!r}: say how long ago, like 30s, 10m, 2h or 1d")
    return float(sum(int(n) * _SECONDS[unit] for n, unit in _DURATION.findall(compact)))


@dataclass
class LogFollower:
    """Polls each function's log group and hands on every event once, oldest first."""

    aws: Aws
    functions: dict[str, str]  # short name -> Lambda name
    start_ms: int
    _seen: dict[tuple[str, str, int, str], int] = field(default_factory=dict)
    _look_back_from: int | None = None  # after the first poll, which starts at start_ms

    def poll(self) -> list[tuple[str, dict[str, Any]]]:
        """The events logged since the last poll: (short name, event), in time order."""
        now_ms = int(time.time() * 1000)
        since = max(self.start_ms, self._look_back_from or self.start_ms)
        self._look_back_from = now_ms - LATE_EVENTS_SECONDS * 1000
        fresh = []
        for short, name in self.functions.items():
            for event in self._events(f"/aws/lambda/{name}", since):
                key = (
                    short,
                    str(event.get("eventId") or event.get("logStreamName", "")),
                    int(event["timestamp"]),
                    str(event.get("message", "")),
                )
                if key not in self._seen:
                    self._seen[key] = key[2]
                    fresh.append((short, event))
        # Forget what has left the look-back window: it is never asked for again.
        self._seen = {key: at for key, at in self._seen.items() if at >= since}
        fresh.sort(key=lambda entry: (entry[1]["timestamp"], entry[1].get("ingestionTime", 0)))
        return fresh

    def _events(self, group: str, since_ms: int) -> Iterable[dict[str, Any]]:
        arguments: dict[str, Any] = {"logGroupName": group, "startTime": since_ms}
        while True:
            try:
                page = self.aws.logs.filter_log_events(**arguments)
            except ClientError as error:
                if missing(error, "ResourceNotFoundException"):
                    return  # not invoked yet: its group appears with its first line
                raise
            yield from page.get("events", [])
            token = page.get("nextToken")
            if not token or token == arguments.get("nextToken"):
                return
            arguments["nextToken"] = token


def follow(
    follower: LogFollower,
    output: TextIO,
    colour: bool,
    keep_going: Callable[[], bool] = lambda: True,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Print each event's line as it arrives, until `keep_going()` is false (or Ctrl-C)."""
    while keep_going():
        for short, event in follower.poll():
            line = format_event(short, int(event["timestamp"]), event.get("message", ""), colour)
            if line is not None:
                print(line, file=output, flush=True)
        sleep(POLL_SECONDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provision.logs", description=__doc__)
    parser.add_argument("--stack", default=DEFAULT_STACK)
    parser.add_argument("--function", default="", help="one function: load_inventory, ...")
    parser.add_argument("--since", default="0s", help="start this long ago: 30s, 10m, 2h, 1d")
    args = parser.parse_args(argv)
    try:
        since_seconds = parse_since(args.since)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        aws = deploy.connect()
        stack = deploy.locate(aws, args.stack)
        functions = deploy.function_names(stack)
        if args.function:
            if args.function not in functions:
                known = ", ".join(functions)
                print(f"error: FN={args.function!r}: choose one of {known}", file=sys.stderr)
                return 2
            functions = {args.function: functions[args.function]}
        target = deploy.target_name(aws, stack)
        print(
            f"following the logs of {', '.join(functions)} on {target} (Ctrl-C stops)",
            file=sys.stderr,
            flush=True,
        )
        start_ms = int((time.time() - since_seconds) * 1000)
        follow(LogFollower(aws, functions, start_ms), sys.stdout, sys.stdout.isatty())
    except KeyboardInterrupt:
        return 0
    except (ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
