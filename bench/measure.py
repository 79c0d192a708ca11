"""The measurements that talk to the target: loads, the ceiling, alerts and what they cost.

Every wait is on a condition with a deadline. Polls are spaced by a share of the time already
waited (2%, between 20 and 250 ms), so a poll costs the emulator little while the timing error
stays within a couple of percent. What ends a timing is never a costly check: a load ends when
the loader's invocation ends (its REPORT log line), the ceiling when its last write returns;
that every row is then readable is checked afterwards, outside the timing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from bench.data import HEADER, RUNS_OUT, InventoryFile, latency_rows
from bench.stacks import Target
from bench.stats import ratio
from provision.aws import Aws
from provision.uploads import read_report, s3_event

Say = Callable[[str], None]
_REPORT = re.compile(r"^REPORT RequestId: \S+\s+Duration: ([\d.]+) ms\s+Billed Duration: (\d+) ms")


class BenchTimeout(Exception):
    """A condition the benchmark waited for did not come in time."""


HEARTBEAT_SECONDS = 30  # a progress line this often while a wait goes on


def poll_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    say: Say | None = None,
    reached: Callable[[], str] | None = None,
) -> float:
    """Call `predicate` until it is true; returns the epoch second it first was. With `say`,
    a line every HEARTBEAT_SECONDS tells that the wait goes on.

    Raises:
        BenchTimeout: naming `what` (and, with `reached`, what it had reached), when `timeout`
            seconds pass first.
    """
    started = time.monotonic()
    deadline = started + timeout
    next_heartbeat = started + HEARTBEAT_SECONDS
    while True:
        if predicate():
            return time.time()
        now = time.monotonic()
        if now > deadline:
            so_far = f"; reached {reached()}" if reached else ""
            raise BenchTimeout(f"timed out after {timeout:.0f}s waiting for {what}{so_far}")
        if say is not None and now >= next_heartbeat:
            say(f"    still waiting for {what} ({now - started:.0f}s)")
            next_heartbeat += HEARTBEAT_SECONDS
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


# ---------------------------------------------------------------- when a load ended


def invocation_ended(
    aws: Aws, function: str, since: float, timeout: float, say: Say | None = None
) -> float:
    """The epoch second the first invocation of `function` to end after `since` ended: its
    REPORT log line's timestamp, which Lambda (and MiniStack) stamp as the invocation ends.

    Every write the invocation made had been acknowledged by then, so every row it loaded was
    readable; `verify_rows` checks that afterwards. Polling the log costs the emulator little
    while the load runs (it looks up events by time, and the function's lines arrive at its
    end), where counting rows in the table would compete with the writes it measures.
    """
    group = f"/aws/lambda/{function}"
    ended: list[float] = []

    def reported() -> bool:
        try:
            page = aws.logs.filter_log_events(
                logGroupName=group, startTime=int(since * 1000), filterPattern="REPORT"
            )
        except aws.logs.exceptions.ResourceNotFoundException:
            return False  # the group appears with the function's first invocation
        ended.extend(
            int(event["timestamp"]) / 1000
            for event in page.get("events", [])
            if _REPORT.match(str(event.get("message", "")))
        )
        return bool(ended)

    poll_until(reported, timeout, f"the end of {function}'s invocation", say)
    return min(ended)


def verify_rows(aws: Aws, table: str, inventory: InventoryFile, timeout: float) -> None:
    """Check that every row of `inventory` can be read from `table` (not timed).

    A Query Select=COUNT per store, eight at a time; a store once complete is not asked again.

    Raises:
        BenchTimeout: some rows were still missing at the deadline.
    """
    pending = list(inventory.store_names)

    def all_counted() -> bool:
        counts = list(_SWEEP.map(lambda name: _count(aws, table, name), pending))
        pending[:] = [
            name
            for name, count in zip(pending, counts, strict=True)
            if count < inventory.rows_per_store
        ]
        return not pending

    poll_until(
        all_counted,
        timeout,
        f"every row of {inventory.prefix} in {table}",
        reached=lambda: f"{inventory.stores - len(pending)} of {inventory.stores} stores complete",
    )


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


def write_straight(
    writer: boto3.Session, aws: Aws, table: str, items: list[dict[str, Any]], threads: int
) -> None:
    """BatchWriteItem, 25 a request, from `threads` threads, until nothing is unprocessed."""
    client = writer.client(
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
    writer: boto3.Session,
    aws: Aws,
    table: str,
    inventory: InventoryFile,
    threads: int,
    timeout: float,
) -> dict[str, Any]:
    """Seconds from the first BatchWriteItem until the last one returned, no Lambda involved;
    then (not timed) that every row is readable. `writer` holds the ceiling role's
    credentials, so the emulator checks IAM on each request as it does for the functions."""
    items = ceiling_items(inventory)
    started = time.monotonic()
    write_straight(writer, aws, table, items, threads)
    seconds = time.monotonic() - started
    verify_rows(aws, table, inventory, timeout)
    return _load_figures(inventory, seconds) | {"threads": threads}


def calibrate_threads(
    writer: boto3.Session,
    aws: Aws,
    table: str,
    rows: int,
    candidates: tuple[int, ...],
    repeats: int,
    timeout: float,
    say: Say,
) -> tuple[int, dict[int, float]]:
    """The thread count that writes fastest here (best of `repeats` each); rows/s by count."""
    rates: dict[int, float] = {}
    for threads in candidates:
        rates[threads] = max(
            measure_ceiling(
                writer,
                aws,
                table,
                InventoryFile(f"cal{threads}-{attempt}-r{rows}", rows),
                threads,
                timeout,
            )["rows_per_s"]
            for attempt in range(repeats)
        )
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
    """Upload `inventory`; seconds until the loader's invocation ended, then until its last
    alert reached the queue; then (not timed) that every row is readable.

    `on_queued` is called once every alert is in the queue, before the benchmark drains it.
    With `pause_stream` the target's stream mapping is disabled while the file loads (a
    diagnostic: the loader alone), and enabled again once the loader has finished.
    """
    body = inventory.csv_bytes()
    key = f"bench/{inventory.prefix}.csv"
    if pause_stream:
        set_stream_mapping(aws, target.check_function, enabled=False, timeout=timeout)
    figures = upload_and_wait(aws, target, key, body, timeout, say)
    uploaded_at = figures.pop("uploaded_at")
    say(
        f"  {target.name:8} {inventory.rows:>9,} rows: {figures['seconds']:7.2f}s "
        f"{figures['rows_per_s']:9,.0f} rows/s{' (stream paused)' if pause_stream else ''}; "
        f"waiting for its {inventory.zero_rows:,} alerts"
    )
    if pause_stream:
        set_stream_mapping(aws, target.check_function, enabled=True, timeout=timeout)
    queued = wait_queued(aws, target.alerts_queue_url, inventory.zero_rows, timeout, say)
    figures["alerts_queued_s"] = round(queued - uploaded_at, 3)
    if on_queued is not None:
        on_queued()
    taken = take_alerts(aws, target.alerts_queue_url, inventory.store_names, timeout)
    figures["alerts"] = len(taken.first_sent)
    figures["duplicate_alerts"] = taken.duplicates
    last = max(taken.first_sent.values(), default=None)
    figures["last_alert_s"] = None if last is None else round(last - uploaded_at, 3)
    verify_rows(aws, target.table, inventory, timeout)
    return figures


def measure_late_load(
    aws: Aws, target: Target, rows: int, timeout: float, say: Say
) -> dict[str, Any]:
    """What a late file costs: an older snapshot of the same rows, delivered again after a
    newer one loaded, so every row is written one by one with a condition (and refused).

    Three loads of `rows` rows of the same stores and items: the older file, then the newer
    (both the usual way: the newest snapshot of their stores, BatchWriteItem), then the older
    file's own S3 event once more, as a late or replayed delivery would bring it.
    """
    older = InventoryFile(f"{target.prefix}-late-r{rows}", rows, seed=2)
    newer = InventoryFile(older.prefix, rows, seed=1)
    older_key = f"late/{older.prefix}-older.csv"
    first = upload_and_wait(aws, target, older_key, older.csv_bytes(), timeout, say)
    snapshot = read_report(aws, target.reports_bucket, older_key)["source"]
    second = upload_and_wait(
        aws, target, f"late/{newer.prefix}-newer.csv", newer.csv_bytes(), timeout, say
    )
    event = s3_event(target.uploads_bucket, older_key, snapshot)
    invoked_at = time.time()
    aws.lambda_.invoke(
        FunctionName=target.load_function, InvocationType="Event", Payload=json.dumps(event)
    )
    ended = invocation_ended(aws, target.load_function, invoked_at, timeout, say)
    report = read_report(aws, target.reports_bucket, older_key)
    late = _load_figures(older, ended - invoked_at)
    say(
        f"  late file {rows:>9,} rows: {late['seconds']:7.2f}s {late['rows_per_s']:9,.0f} rows/s"
        f" (the same rows as the newest snapshot: {second['rows_per_s']:,.0f} rows/s)"
    )
    if report["rows_superseded"] != rows:
        raise BenchTimeout(
            f"the late file was not refused row by row: {report['status']}, "
            f"{report['rows_superseded']} of {rows} rows superseded"
        )
    drain(aws, target.alerts_queue_url)  # the newer file's alerts: not part of this figure
    return {
        "rows": rows,
        "late": late | {"status": report["status"], "rows_superseded": report["rows_superseded"]},
        "older_first": first,
        "newer": second,
        "share_of_newest": ratio(late["rows_per_s"], second["rows_per_s"]),
    }


def upload_and_wait(
    aws: Aws, target: Target, key: str, body: bytes, timeout: float, say: Say
) -> dict[str, Any]:
    """Upload one CSV file; its figures once the loader's invocation has ended, and the epoch
    second of the upload (`uploaded_at`)."""
    uploaded_at = time.time()
    aws.s3.put_object(Bucket=target.uploads_bucket, Key=key, Body=body)
    ended = invocation_ended(aws, target.load_function, uploaded_at, timeout, say)
    rows = body.count(b"\n") - 1  # less the header
    seconds = ended - uploaded_at
    return {
        "rows": rows,
        "bytes": len(body),
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds, 1),
        "uploaded_at": uploaded_at,
    }


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


def wait_queued(
    aws: Aws, queue_url: str, expected: int, timeout: float, say: Say | None = None
) -> float:
    """Wait until the queue holds `expected` messages; returns when (epoch seconds)."""
    queued = [0]

    def enough() -> bool:
        attributes = aws.sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        queued[0] = int(attributes.get("ApproximateNumberOfMessages", 0))
        return queued[0] >= expected

    return poll_until(
        enough,
        timeout,
        f"{expected:,} alerts in the queue",
        say,
        reached=lambda: f"{queued[0]:,} alerts",
    )


_SENTENCE = re.compile(r"^(?P<store>.*) is out of stock of (?P<item>.*)$", re.DOTALL)


def alert_key(body: str) -> tuple[str, str] | None:
    """The (store, item) an alert names: the project's JSON, or the lab's sentence."""
    with contextlib.suppress(ValueError):
        document = json.loads(body)
        if isinstance(document, dict) and "store" in document and "item" in document:
            return str(document["store"]), str(document["item"])
    sentence = _SENTENCE.match(body)
    return (sentence["store"], sentence["item"]) if sentence else None


@dataclass
class Alerts:
    """Alerts taken off a queue: the first SentTimestamp of each (store, item), and how many
    more messages named an item already seen."""

    first_sent: dict[tuple[str, str], float] = field(default_factory=dict)
    duplicates: int = 0


def take_alerts(
    aws: Aws, queue_url: str, stores: list[str], timeout: float, expected: int | None = None
) -> Alerts:
    """Take the alerts of `stores` off the queue until `expected` distinct items (default:
    whatever the queue holds of them once it is empty) have arrived."""
    wanted = set(stores)
    taken = Alerts()
    deadline = time.monotonic() + timeout
    while expected is None or len(taken.first_sent) < expected:
        if time.monotonic() > deadline:
            raise BenchTimeout(
                f"only {len(taken.first_sent)} of {expected} alerts of {stores[0]}… arrived"
            )
        batch = _receive(aws, queue_url, wait_seconds=1 if expected is not None else 0)
        if not batch and expected is None:
            break
        for body, sent_at in batch:
            key = alert_key(body)
            if key is None or key[0] not in wanted:
                continue
            if key in taken.first_sent:
                taken.duplicates += 1
            else:
                taken.first_sent[key] = sent_at
    return taken


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


def latency_stores(target: Target, samples: int) -> list[str]:
    """The stores the latency uploads of `target` use: a warm-up, then one a sample."""
    return [f"{target.prefix}-warmup"] + [f"{target.prefix}-lat{i:03d}" for i in range(samples)]


def stock_latency_stores(
    aws: Aws, target: Target, stores: list[str], timeout: float, say: Say
) -> None:
    """One upload with every latency store's items in stock, so each sample later turns an
    item that was there from 5 to 0, as a store's next file would."""
    body = HEADER + "".join(latency_rows(store, runs_out=False) for store in stores)
    upload_and_wait(aws, target, "latency/in-stock.csv", body.encode("utf-8"), timeout, say)


def one_alert(aws: Aws, target: Target, store: str, timeout: float) -> LatencySample:
    """Upload the store's next 100-row file, in which one item runs out; time its alert."""
    body = (HEADER + latency_rows(store, runs_out=True)).encode("utf-8")
    uploaded_at = time.time()
    started = time.monotonic()
    aws.s3.put_object(Bucket=target.uploads_bucket, Key=f"latency/{store}.csv", Body=body)
    deadline = started + timeout
    while time.monotonic() < deadline:
        for message_body, sent_at in _receive(aws, target.alerts_queue_url, wait_seconds=1):
            if alert_key(message_body) == (store, RUNS_OUT):
                return LatencySample(
                    queued_s=sent_at - uploaded_at, received_s=time.monotonic() - started
                )
    raise BenchTimeout(f"no alert for {store} from {target.name} within {timeout:.0f}s")


def measure_latency(
    aws: Aws, targets: list[Target], samples: int, spacing: float, timeout: float, say: Say
) -> dict[str, dict[str, Any]]:
    """`samples` alerts per target, targets taking turns (and turns about who goes first), after
    one warm-up upload each."""
    stores = {target.name: latency_stores(target, samples) for target in targets}
    for target in targets:
        stock_latency_stores(aws, target, stores[target.name], timeout, say)
    results: dict[str, dict[str, Any]] = {
        target.name: {"cold": None, "queued_s": [], "received_s": []} for target in targets
    }
    for target in targets:
        sample = one_alert(aws, target, stores[target.name][0], timeout)
        results[target.name]["cold"] = round(sample.queued_s, 4)
    for index in range(samples):
        order = targets if index % 2 == 0 else list(reversed(targets))
        for target in order:
            sample = one_alert(aws, target, stores[target.name][index + 1], timeout)
            results[target.name]["queued_s"].append(round(sample.queued_s, 4))
            results[target.name]["received_s"].append(round(sample.received_s, 4))
            # Deliberate pacing between uploads ("spaced apart"), not a wait for a condition.
            threading.Event().wait(spacing)
        if (index + 1) % 10 == 0 or index + 1 == samples:
            say(f"  latency: {index + 1}/{samples} samples per pair")
    return results


# ---------------------------------------------------------------- the cost sample


def measure_cost_sample(
    aws: Aws, targets: list[Target], files: int, spacing: float, timeout: float, say: Say
) -> tuple[float, float]:
    """Seed 001's files through both pairs: `files` uploads each of 100 rows of a new store,
    10 of them out of stock, one after another; returns the epoch seconds the sample began and
    ended, the window whose invocations and logs the cost is counted from."""
    since = time.time()
    for index in range(files):
        for target in targets:
            inventory = InventoryFile(f"{target.prefix}-cost{index:03d}", 100, stores=1)
            aws.s3.put_object(
                Bucket=target.uploads_bucket,
                Key=f"cost/{inventory.prefix}.csv",
                Body=inventory.csv_bytes(),
            )
            take_alerts(
                aws, target.alerts_queue_url, inventory.store_names, timeout, inventory.zero_rows
            )
            threading.Event().wait(spacing)  # pacing, as in the latency sample
    say(f"  cost sample: {files} files of 100 rows per pair")
    return since, time.time()


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
