"""A burst of uploads: every store sends its files at opening time. The seconds from the first
upload to the last alert of many small files, against the same rows in one file."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.data import HEADER, InventoryFile
from bench.measure import Say, measure_load, take_alerts, verify_rows, wait_queued
from bench.stacks import Target
from bench.stats import ratio
from provision.aws import Aws

ROWS_PER_FILE = 100
UPLOADERS = 8  # stores uploading at the same moment


def burst_files(inventory: InventoryFile, rows_per_file: int) -> Iterator[tuple[str, bytes]]:
    """`inventory`'s rows as files of one store each, `rows_per_file` rows a file, the
    stores' files interleaved as a morning's uploads would be: (key, body)."""
    by_store: dict[str, list[str]] = defaultdict(list)
    for store, item, count in inventory.records():
        by_store[store].append(f"{store},{item},{count}\n")
    per_store = [
        [lines[start : start + rows_per_file] for start in range(0, len(lines), rows_per_file)]
        for lines in by_store.values()
    ]
    for number in range(max(len(files) for files in per_store)):
        for store, files in zip(by_store, per_store, strict=True):
            if number < len(files):
                body = HEADER + "".join(files[number])
                yield f"burst/{store}/{number:03d}.csv", body.encode("utf-8")


def measure_burst(
    aws: Aws, target: Target, files: int, window: float, timeout: float, say: Say
) -> dict[str, Any]:
    """`files` files of ROWS_PER_FILE rows from 50 stores, uploaded as fast as UPLOADERS
    stores at once can (the hardest burst; whether it fit in `window` seconds is recorded);
    then one file of the same rows' shape. Seconds from the first upload to the last alert of
    each, their ratio, and whether every alert came exactly once."""
    rows = files * ROWS_PER_FILE
    inventory = InventoryFile(f"{target.prefix}-burst", rows)
    uploads = list(burst_files(inventory, ROWS_PER_FILE))
    started = time.time()

    def put(upload: tuple[str, bytes]) -> None:
        aws.s3.put_object(Bucket=target.uploads_bucket, Key=upload[0], Body=upload[1])

    with ThreadPoolExecutor(max_workers=UPLOADERS) as pool:
        list(pool.map(put, uploads))
    uploaded_s = time.time() - started
    say(f"  burst: {len(uploads):,} files uploaded in {uploaded_s:.1f}s; waiting for the alerts")
    queued = wait_queued(aws, target.alerts_queue_url, inventory.zero_rows, timeout, say)
    taken = take_alerts(aws, target.alerts_queue_url, inventory.store_names, timeout)
    last = max(taken.first_sent.values(), default=queued)
    verify_rows(aws, target.table, inventory, timeout)
    burst = {
        "files": len(uploads),
        "rows": rows,
        "uploaded_s": round(uploaded_s, 3),
        "within_window": uploaded_s <= window,
        "alerts": len(taken.first_sent),
        "duplicate_alerts": taken.duplicates,
        "last_alert_s": round(last - started, 3),
    }
    say(f"  burst: last alert {burst['last_alert_s']:.2f}s after the first upload")
    one = measure_load(aws, target, InventoryFile(f"{target.prefix}-burst1", rows), timeout, say)
    return {
        "burst": burst,
        "one_file": one,
        "ratio": ratio(burst["last_alert_s"], one["last_alert_s"] or 0),
        "window_s": window,
    }
