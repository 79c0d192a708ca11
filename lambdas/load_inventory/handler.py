"""load_inventory: S3 ObjectCreated -> validate every row -> DynamoDB, and a report per file."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from inventory import settings
from inventory.adapters.clients import client
from inventory.adapters.files import FileStore, StoredFile
from inventory.adapters.redrive import Loader, s3_records
from inventory.adapters.table import Snapshot, StockTable
from inventory.loading import Continuation, LoadOutcome, RefusedEvent, load_records
from inventory.parsing import FileRejected, declared_charset, read_records, text_size
from inventory.report import build_report
from inventory.snapshots import snapshot_time, too_far_ahead

logger = Logger(service="inventory")
metrics = Metrics(namespace="Inventory", service="inventory")
# X-Ray: the handler, and every AWS call the adapters make, as Tracer patches botocore. Not
# the handler's answer (capture_response=False): it is the data, and can outgrow a segment.
tracer = Tracer(service="inventory")

# The end of an invocation is kept for what follows the last row read: writing the rows in
# flight, then the report and the log line. Up to these many seconds each, or these shares of
# a short function timeout.
_FLUSH_MARGIN = (15.0, 0.15)
_FINISH_MARGIN = (10.0, 0.10)


@dataclass(frozen=True)
class TimeBudget:
    """When, on the monotonic clock, this invocation must stop reading and stop writing."""

    stop_reading_at: float
    write_deadline: float
    seconds: float  # what the invocation had when it started

    @classmethod
    def of(cls, context: LambdaContext) -> TimeBudget:
        remaining = context.get_remaining_time_in_millis() / 1000
        write_deadline = time.monotonic() + remaining - _margin(remaining, _FINISH_MARGIN)
        return cls(write_deadline - _margin(remaining, _FLUSH_MARGIN), write_deadline, remaining)

    def reading_is_over(self) -> bool:
        return time.monotonic() >= self.stop_reading_at


def _margin(remaining: float, margin: tuple[float, float]) -> float:
    most, share = margin
    return min(most, remaining * share)


@cache
def file_store() -> FileStore:
    return FileStore(client("s3"), settings.reports_bucket())


@cache
def loader() -> Loader:
    queue = settings.uploads_queue_url()
    return Loader(
        client("lambda"), settings.function_name(), (client("sqs"), queue) if queue else None
    )


@cache
def stock_table() -> StockTable:
    return StockTable(
        client("dynamodb"),
        settings.table_name(),
        settings.snapshots_table(),
        lanes=settings.write_lanes(),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Load every object the event names (S3's, or the uploads queue's). A write failure
    raises, so Lambda retries the event; from the queue, the failed file is retried alone.

    A file that does not fit in what is left of the invocation is loaded in parts: the rest of
    it, and the event's later records, go to a new invocation of this function.
    """
    budget = TimeBudget.of(context)
    records, queued = s3_records(event)
    reports = []
    for index, record in enumerate(records):
        started = time.monotonic()
        try:
            summary, next_part = load_file(record, budget)
        except RefusedEvent as refused:
            # Not retried: the event itself is wrong, and a retry would be refused again.
            bucket, key = _location(record)
            summary, next_part = {"file": f"s3://{bucket}/{key}", "status": "refused"}, None
            logger.error("inventory event refused", extra={**summary, "reason": refused.reason})
            metrics.add_metric(name="EventsRefused", unit=MetricUnit.Count, value=1)
        except Exception:
            # The invocation fails and Lambda retries it; this line says which file and why.
            bucket, key = _location(record)
            logger.exception(
                "inventory file failed",
                extra={"file": f"s3://{bucket}/{key}", "duration_ms": _since(started)},
            )
            if not queued:
                raise
            # From the queue, the file alone gets Lambda's retries, then the failure queue.
            loader().retry_alone(record)
            continue
        reports.append(summary)
        if next_part is not None:
            loader().load_later([next_part, *records[index + 1 :]])
            break
    return {"reports": reports}


def _location(record: dict[str, Any]) -> tuple[str, str]:
    """The bucket and the (URL-decoded) key an S3 event record names."""
    return record["s3"]["bucket"]["name"], unquote_plus(record["s3"]["object"]["key"])


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def load_file(
    record: dict[str, Any], budget: TimeBudget
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Load (the next part of) the upload one S3 event record names.

    Returns a summary and, when the file was not finished, the event record asking for its
    next part. The report is written when the last part ends.

    Raises:
        RefusedEvent: the event claims a snapshot time far ahead of the clock, or a
            continuation the file contradicts.
    """
    started = time.monotonic()
    continuation = Continuation.of(record)
    bucket, key = _location(record)
    version_id = record["s3"]["object"].get("versionId")
    # With versioning, the event names the exact version: a late event reads its own file.
    stored = file_store().open(bucket, key, version_id, settings.max_file_bytes())
    snapshot = _snapshot_of(record, stored)
    source: dict[str, Any] = stored.describe() if stored else {"uri": snapshot.uri}
    source |= {"snapshot_at": snapshot.taken_at, "order": snapshot.order}
    if snapshot.sequencer:
        source["sequencer"] = snapshot.sequencer
    if stored is None:
        outcome = LoadOutcome(file_error=FileRejected("the file was deleted before it was read"))
    else:
        try:
            outcome = _load(stored, snapshot, budget, continuation)
        finally:
            stored.close()
    summary = {
        "file": source["uri"],
        "part": continuation.part,
        "status": outcome.status,
        "rows_loaded": outcome.rows_loaded,
        "rows_rejected": outcome.rows_rejected,
        "rows_duplicate": outcome.rows_duplicate,
        "rows_superseded": outcome.rows_superseded,
        "duration_ms": _since(started),
    }
    if outcome.stopped_after is not None and continuation.is_last_allowed:
        continuation.give_up(outcome, f"of up to {budget.seconds:.0f} s each")
        summary |= {"status": outcome.status, "rows_loaded": outcome.rows_loaded}
    if outcome.stopped_after is not None:
        # The last part's report and metrics cover the whole file.
        summary |= {"status": "continued", "records_done": outcome.stopped_after}
        logger.info("inventory file continues in a new invocation", extra=summary)
        metrics.add_metric(name="FileParts", unit=MetricUnit.Count, value=1)
        return summary, continuation.next_part(record, outcome)
    report = build_report(outcome, source)
    summary |= {
        "report": file_store().write_report(key, snapshot.version_id, snapshot.order, report),
        "file_error": report["file_error"],
    }
    logger.info("inventory file processed", extra=summary)
    metrics.add_metric(name="RowsLoaded", unit=MetricUnit.Count, value=outcome.rows_loaded)
    metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count, value=outcome.rows_rejected)
    metrics.add_metric(name="RowsSuperseded", unit=MetricUnit.Count, value=outcome.rows_superseded)
    metrics.add_metric(name="FilesProcessed", unit=MetricUnit.Count, value=1)
    return summary, None


def _snapshot_of(record: dict[str, Any], stored: StoredFile | None) -> Snapshot:
    """The snapshot an event record names: its file, its time and its place in S3's order.

    Raises:
        RefusedEvent: the event's time is further ahead of the clock than any skew explains.
    """
    bucket, key = _location(record)
    s3_object = record["s3"]["object"]
    snapshot = Snapshot(
        bucket=bucket,
        key=key,
        version_id=stored.version_id if stored else s3_object.get("versionId"),
        taken_at=snapshot_time(
            record.get("eventTime"), stored.last_modified if stored else datetime.now(UTC)
        ),
        sequencer=s3_object.get("sequencer"),
    )
    if too_far_ahead(snapshot.taken_at, datetime.now(UTC)):
        raise RefusedEvent(f"the snapshot time {snapshot.taken_at} is ahead of the clock")
    return snapshot


def _load(
    stored: StoredFile, snapshot: Snapshot, budget: TimeBudget, continuation: Continuation
) -> LoadOutcome:
    limit = settings.max_file_bytes()
    if stored.size > limit:
        return LoadOutcome(
            file_error=FileRejected(
                f"the file is {stored.size:,} bytes; the limit is {limit:,} bytes: split it"
            )
        )
    with stock_table().batch_writer(snapshot, budget.write_deadline) as writer:
        outcome = load_records(
            lambda: read_records(
                stored.reopen(), stored.key, declared_charset(stored.content_type, stored.metadata)
            ),
            writer.put,
            text_size(stored.reopen(), stored.key, stored.size),
            skip=continuation.records_done,
            stop=budget.reading_is_over,
        )
    outcome.supersede(continuation.rows_superseded + writer.superseded)
    for newer in writer.overtaken:
        # It claimed a store while this file was still writing it: load it again so its rows
        # are the ones that stay.
        logger.warning("a newer snapshot overtook this load", extra={"newer": newer.uri})
        loader().load_again(newer)
    return outcome
