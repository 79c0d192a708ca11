"""The measurements that talk to the target: loads, the ceiling, alerts and what they cost.

Every wait is on a condition with a deadline. Polls are spaced by a share of the time already
waited (2%, between 20 and 250 ms), so a poll costs the emulator little while the timing error
stays within a couple of percent.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config

from bench.data import InventoryFile, latency_file
from bench.stacks import Target
from provision.resources import Aws

Say = Callable[[str], None]
_REPORT = re.compile(r"^REPORT RequestId: \S+\s+Duration: ([\d.]+) ms\s+Billed Duration: (\d+) ms")


class BenchTimeout(Exception):
    """A condition the benchmark waited for did not come in time."""


def poll_until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Call `predicate` until it is true; returns the monotonic time it first was.

    Raises:
        BenchTimeout: naming `what`, when `timeout` seconds pass first.
    """
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if predicate():
            return time.monotonic()
        now = time.monotonic()
        if now > deadline:
            raise BenchTimeout(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(min(0.25, max(0.02, 0.02 * (now - started))))


# ---------------------------------------------------------------- CPU of the emulator


_WORKER = re.compile(r"ministack-lambda-(.+)-[a-z0-9_]{8}/_worker")


@dataclass
class CpuMeter:
    """CPU seconds used by a local emulator process and, by function, by the Lambda workers it
    runs as its children. Inert (pid None) when the target is remote."""

    pid: int | None
    _ticks: float = field(default_factory=lambda: float(os.sysconf("SC_CLK_TCK")))

    def sample(self) -> dict[str, float]:
        """CPU seconds so far: "emulator", and each worker's function name."""
        if self.pid is None:
            return {}
        used = {"emulator": self._cpu(self.pid)}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and self._parent(int(entry)) == self.pid:
                name = self._function(int(entry))
                used[name] = used.get(name, 0.0) + self._cpu(int(entry))
        return used

    @contextmanager
    def measure(self, into: dict[str, Any]) -> Iterator[None]:
        """Adds "cpu_s" to `into`: CPU seconds used during the block, by process. Workers that
        exited during the block are missed, so the worker figures are lower bounds."""
        before = self.sample()
        try:
            yield
        finally:
            if self.pid is not None:
                into["cpu_s"] = self.since(before)

    def since(self, before: dict[str, float]) -> dict[str, float]:
        """CPU seconds used since `before` (a `sample()`), by process."""
        return {
            name: round(used - before.get(name, 0.0), 2)
            for name, used in self.sample().items()
            if used - before.get(name, 0.0) >= 0.01
        }

    def _fields(self, pid: int) -> list[str]:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return []

    def _cpu(self, pid: int) -> float:
        fields = self._fields(pid)
        return (int(fields[11]) + int(fields[12])) / self._ticks if fields else 0.0

    def _parent(self, pid: int) -> int | None:
        fields = self._fields(pid)
        return int(fields[1]) if fields else None

    def _function(self, pid: int) -> str:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                match = _WORKER.search(cmdline.read().decode(errors="replace"))
        except OSError:
            match = None
        return f"worker {match.group(1)}" if match else "other children"


# ---------------------------------------------------------------- rows readable


def wait_rows_readable(aws: Aws, table: str, inventory: InventoryFile, timeout: float) -> float:
    """Wait until every row of `inventory` can be read from `table`; returns when (monotonic).

    First, one BatchGetItem a poll of each store's last row (cheap); then Query Select=COUNT
    for each store still short of its rows, eight at a time, until none is. A store once
    complete is not asked again: rows of a file are only ever added.
    """
    last_item = inventory.item(inventory.rows_per_store - 1)
    keys = [{"store": {"S": store}, "item": {"S": last_item}} for store in inventory.store_names]

    def last_rows_there() -> bool:
        found = 0
        for start in range(0, len(keys), 100):
            response = aws.dynamodb.batch_get_item(
                RequestItems={
                    table: {
                        "Keys": keys[start : start + 100],
                        "ConsistentRead": True,
                        "ProjectionExpression": "#store",
                        "ExpressionAttributeNames": {"#store": "store"},
                    }
                }
            )
            found += len(response.get("Responses", {}).get(table, []))
        return found == len(keys)

    poll_until(last_rows_there, timeout, f"the last rows of {inventory.prefix} in {table}")
    pending = list(inventory.store_names)

    def all_counted() -> bool:
        counts = list(_SWEEP.map(lambda name: _count(aws, table, name), pending))
        pending[:] = [
            name
            for name, count in zip(pending, counts, strict=True)
            if count < inventory.rows_per_store
        ]
        return not pending

    return poll_until(all_counted, timeout, f"every row of {inventory.prefix} in {table}")


_SWEEP = ThreadPoolExecutor(8, thread_name_prefix="count")


def _count(aws: Aws, table: str, store: str) -> int:
    total = 0
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#store = :store",
        "ExpressionAttributeNames": {"#store": "store"},
        "ExpressionAttributeValues": {":store": {"S": store}},
        "Select": "COUNT",
        "ConsistentRead": True,
    }
    while True:
        page = aws.dynamodb.query(**request)
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return total
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# ---------------------------------------------------------------- the ceiling


def ceiling_items(inventory: InventoryFile) -> list[dict[str, Any]]:
    """The file's rows as the project's loader writes them (same attributes)."""
    source = {"S": f"s3://bench/{inventory.prefix}.csv"}
    updated_at = {"S": "2026-01-01T00:00:00.000+00:00"}
    return [
        {
            "store": {"S": store},
            "item": {"S": item},
            "count": {"N": str(count)},
            "source": source,
            "updated_at": updated_at,
        }
        for store, item, count in inventory.records()
    ]


def write_straight(aws: Aws, table: str, items: list[dict[str, Any]], threads: int) -> None:
    """BatchWriteItem, 25 a request, from `threads` threads, until nothing is unprocessed."""
    client = aws.session.client(
        "dynamodb",
        endpoint_url=aws.endpoint_url,
        config=Config(max_pool_connections=threads + 4, retries={"mode": "standard"}),
    )
    batches = [items[start : start + 25] for start in range(0, len(items), 25)]

    def write(batch: list[dict[str, Any]]) -> None:
        request: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in batch]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(threads, thread_name_prefix="ceiling") as pool:
        for _ in pool.map(write, batches):
            pass


def measure_ceiling(
    aws: Aws, table: str, inventory: InventoryFile, threads: int, timeout: float
) -> dict[str, Any]:
    """Seconds from the first BatchWriteItem until every row is readable (same check as the
    loaders), with no Lambda involved."""
    items = ceiling_items(inventory)
    started = time.monotonic()
    write_straight(aws, table, items, threads)
    done = wait_rows_readable(aws, table, inventory, timeout)
    return _load_figures(inventory, done - started) | {"threads": threads}


def calibrate_threads(
    aws: Aws, table: str, rows: int, candidates: tuple[int, ...], timeout: float, say: Say
) -> tuple[int, dict[int, float]]:
    """The thread count that writes fastest here; rows/s by thread count."""
    rates: dict[int, float] = {}
    for threads in candidates:
        inventory = InventoryFile(f"cal{threads}-r{rows}", rows)
        rates[threads] = measure_ceiling(aws, table, inventory, threads, timeout)["rows_per_s"]
        say(f"  ceiling calibration: {threads:2} threads {rates[threads]:8,.0f} rows/s")
    best = max(rates, key=lambda threads: rates[threads])
    return best, rates


# ---------------------------------------------------------------- loads through a pipeline


def measure_load(
    aws: Aws,
    target: Target,
    inventory: InventoryFile,
    timeout: float,
    say: Say,
    on_queued: Callable[[], None] | None = None,
    pause_stream: bool = False,
) -> dict[str, Any]:
    """Upload `inventory`; seconds until every row is readable, then until its last alert.

    `on_queued` is called once every alert is in the queue, before the benchmark drains it.
    With `pause_stream` the target's stream mapping is disabled while the file loads (a
    diagnostic: the loader alone), and enabled again once every row is readable.
    """
    body = inventory.csv_bytes()
    key = f"bench/{inventory.prefix}.csv"
    if pause_stream:
        set_stream_mapping(aws, target.check_function, enabled=False, timeout=timeout)
    uploaded_at = time.time()
    started = time.monotonic()
    aws.s3.put_object(Bucket=target.uploads_bucket, Key=key, Body=body)
    done = wait_rows_readable(aws, target.table, inventory, timeout)
    figures = _load_figures(inventory, done - started)
    say(
        f"  {target.name:8} {inventory.rows:>9,} rows: {figures['seconds']:7.2f}s "
        f"{figures['rows_per_s']:9,.0f} rows/s{' (stream paused)' if pause_stream else ''}; "
        f"waiting for its {inventory.zero_rows:,} alerts"
    )
    if pause_stream:
        set_stream_mapping(aws, target.check_function, enabled=True, timeout=timeout)
    queued = wait_queued(aws, target.alerts_queue_url, inventory.zero_rows, timeout)
    figures["alerts_queued_s"] = round(queued - started, 3)
    if on_queued is not None:
        on_queued()
    sent = take_alerts(
        aws, target.alerts_queue_url, f"{inventory.prefix}-s", inventory.zero_rows, timeout
    )
    figures["alerts"] = len(sent)
    figures["last_alert_s"] = round(max(sent) - uploaded_at, 3) if sent else None
    return figures


def set_stream_mapping(aws: Aws, function: str, enabled: bool, timeout: float) -> None:
    """Enable or disable the function's event source mappings; wait until they say so."""
    mappings = aws.lambda_.list_event_source_mappings(FunctionName=function)
    uuids = [str(mapping["UUID"]) for mapping in mappings["EventSourceMappings"]]
    wanted = "Enabled" if enabled else "Disabled"
    for mapping_uuid in uuids:
        aws.lambda_.update_event_source_mapping(UUID=mapping_uuid, Enabled=enabled)
    poll_until(
        lambda: all(
            aws.lambda_.get_event_source_mapping(UUID=mapping_uuid)["State"] == wanted
            for mapping_uuid in uuids
        ),
        timeout,
        f"the stream mapping of {function} to be {wanted.lower()}",
    )


def _load_figures(inventory: InventoryFile, seconds: float) -> dict[str, Any]:
    return {
        "rows": inventory.rows,
        "bytes": sum(len(line) for line in inventory.lines()),
        "seconds": round(seconds, 3),
        "rows_per_s": round(inventory.rows / seconds, 1),
    }


def wait_queued(aws: Aws, queue_url: str, expected: int, timeout: float) -> float:
    """Wait until the queue holds `expected` messages; returns when (monotonic)."""

    def enough() -> bool:
        attributes = aws.sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0)) >= expected

    return poll_until(enough, timeout, f"{expected} alerts in the queue")


def take_alerts(
    aws: Aws, queue_url: str, marker: str, expected: int, timeout: float
) -> list[float]:
    """Take `expected` alerts whose body contains `marker` off the queue; their SentTimestamp
    (epoch seconds), which is when each reached the queue."""
    sent: list[float] = []
    deadline = time.monotonic() + timeout
    while len(sent) < expected:
        if time.monotonic() > deadline:
            raise BenchTimeout(f"only {len(sent)} of {expected} alerts of {marker}* arrived")
        for body, timestamp in _receive(aws, queue_url, wait_seconds=1):
            if marker in body:
                sent.append(timestamp)
    return sent


def _receive(aws: Aws, queue_url: str, wait_seconds: int) -> list[tuple[str, float]]:
    """One receive of up to 10 messages, deleted at once: (body, SentTimestamp in seconds)."""
    messages = aws.sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["SentTimestamp"],
    ).get("Messages", [])
    if messages:
        aws.sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(messages)
            ],
        )
    return [
        (str(message["Body"]), int(message["Attributes"]["SentTimestamp"]) / 1000)
        for message in messages
    ]


def drain(aws: Aws, queue_url: str) -> int:
    """Empty the queue (strays from an earlier step); returns how many messages it held."""
    removed = 0
    while batch := _receive(aws, queue_url, wait_seconds=0):
        removed += len(batch)
    return removed


# ---------------------------------------------------------------- alert latency


@dataclass
class LatencySample:
    queued_s: float  # PutObject to the alert's SentTimestamp in the queue
    received_s: float  # PutObject to the benchmark holding the message (long-poll included)


def one_alert(aws: Aws, target: Target, label: str, timeout: float) -> LatencySample:
    """Upload a 100-row file of a new store in which one item runs out; time its alert."""
    zero_item = f"zero-{uuid.uuid4().hex[:12]}"
    body = latency_file(f"{target.prefix}-{label}", zero_item)
    uploaded_at = time.time()
    started = time.monotonic()
    aws.s3.put_object(Bucket=target.uploads_bucket, Key=f"latency/{label}.csv", Body=body)
    deadline = started + timeout
    while time.monotonic() < deadline:
        for message_body, sent_at in _receive(aws, target.alerts_queue_url, wait_seconds=1):
            if zero_item in message_body:
                return LatencySample(
                    queued_s=sent_at - uploaded_at, received_s=time.monotonic() - started
                )
    raise BenchTimeout(f"no alert for {zero_item} from {target.name} within {timeout:.0f}s")


def measure_latency(
    aws: Aws, targets: list[Target], samples: int, spacing: float, timeout: float, say: Say
) -> tuple[dict[str, dict[str, Any]], float]:
    """`samples` alerts per target, targets taking turns (and turns about who goes first), after
    one warm-up upload each; returns the samples by target, and the epoch second the warm-up
    ended (where the cost window starts)."""
    results: dict[str, dict[str, Any]] = {
        target.name: {"cold": None, "queued_s": [], "received_s": []} for target in targets
    }
    for target in targets:
        sample = one_alert(aws, target, "warmup", timeout)
        results[target.name]["cold"] = round(sample.queued_s, 4)
    warm_from = time.time()
    for index in range(samples):
        order = targets if index % 2 == 0 else list(reversed(targets))
        for target in order:
            sample = one_alert(aws, target, f"lat{index:03d}", timeout)
            results[target.name]["queued_s"].append(round(sample.queued_s, 4))
            results[target.name]["received_s"].append(round(sample.received_s, 4))
            # Deliberate pacing between uploads ("spaced apart"), not a wait for a condition.
            threading.Event().wait(spacing)
        if (index + 1) % 10 == 0 or index + 1 == samples:
            say(f"  latency: {index + 1}/{samples} samples per pair")
    return results, warm_from


# ---------------------------------------------------------------- invocations and logs


def invocations(
    aws: Aws, function: str, since: float, until: float, expected: int, timeout: float
) -> dict[str, Any]:
    """The function's invocations between two epoch seconds, from its REPORT log lines: count,
    billed milliseconds each, and the bytes its log group took in."""
    group = f"/aws/lambda/{function}"
    found: dict[str, Any] = {}

    def read() -> bool:
        billed: list[int] = []
        log_bytes = 0
        request: dict[str, Any] = {
            "logGroupName": group,
            "startTime": int(since * 1000),
            "endTime": int(until * 1000) + 1,
        }
        while True:
            page = aws.logs.filter_log_events(**request)
            for event in page.get("events", []):
                message = str(event.get("message", ""))
                log_bytes += len(message.encode("utf-8")) + 26  # AWS bills 26 bytes of overhead
                match = _REPORT.match(message)
                if match:
                    billed.append(int(match.group(2)))
            if not page.get("nextToken"):
                break
            request["nextToken"] = page["nextToken"]
        found.update(invocations=len(billed), billed_ms=billed, log_bytes=log_bytes)
        return len(billed) >= expected

    # A count short of `expected` is still what was counted; the caller shows it.
    with contextlib.suppress(BenchTimeout):
        poll_until(read, timeout, f"{expected} REPORT lines of {function}")
    return found
