"""What one stack is made of: every name derives from the stack name, so stacks coexist."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_STACK = "inventory"
# The inventory table's sparse index of items that are out or low (attribute `level`).
LEVEL_INDEX = "by_level"
_STACK_NAME = re.compile(r"[a-z][a-z0-9-]{0,19}")


@dataclass(frozen=True)
class Settings:
    """What an operator may tune, with the defaults `make up` uses."""

    max_file_bytes: int = 50 * 1024 * 1024
    load_timeout_seconds: int = 300
    load_memory_mb: int = 1024
    # Far above a batch's usual second: a consumer starved of CPU (a burst of uploads on a
    # laptop) finishes instead of being cut short and retried.
    check_timeout_seconds: int = 120
    check_memory_mb: int = 256
    # Stream side: records per invocation, how often a failing batch is retried, and the age
    # after which a record goes to the failure queue whatever happens (the one bound MiniStack
    # enforces; AWS enforces both).
    # 2,500 a batch lets a bulk load's alerts keep pace with its rows (see the benchmark):
    # smaller batches spent more time starting invocations and looking up sent alerts. (AWS
    # also caps a batch at 6 MB.)
    stream_batch_size: int = 2500
    stream_max_retries: int = 5
    stream_max_record_age_seconds: int = 3600
    # Upload side: S3 events wait in the uploads queue; the loader takes up to
    # `loader_batch_size` of them an invocation, `loader_concurrency` invocations at once.
    # A file that fails there gets Lambda's asynchronous retries (`load_max_retries`), then
    # goes to the failure queue.
    load_max_retries: int = 2
    # At most this many loader invocations at once take from the queue (the mapping's
    # MaximumConcurrency); the function reserves one more (ReservedConcurrentExecutions) for a
    # failed file's retries and replays, and can never run more than that. So
    # a burst of uploads waits its turn in the queue instead of starting an invocation per
    # file. On AWS the loader neither takes the account's shared pool (1,000) from the other
    # functions nor floods the table's throughput; on a 2-core machine four workers keep both
    # cores busy while the stream consumer and the emulator still get CPU. AWS's least for a
    # queue's mapping is 2.
    loader_concurrency: int = 4
    # Ten: the most an SQS mapping takes without a batching window; a burst of 100-row files
    # then costs one invocation per ten files.
    loader_batch_size: int = 10
    # Dashboard: items at or below this count are marked low; `dashboard=False` skips it.
    low_stock_threshold: int = 5
    dashboard: bool = True
    # Stock history: each count change is kept this long (DynamoDB TTL on expires_at).
    history_retention_days: int = 90
    # The functions' log groups drop events older than this (one of CloudWatch's periods).
    log_retention_days: int = 30
    # track_stock keeps the dashboard's summary and history from the stream. A stack that
    # needs neither (a test of the load path) may go without: on MiniStack, which polls a
    # stream's mappings one after the other, the time it takes delays check_stock's alerts.
    stock_tracking: bool = True
    # The alert events email and SMS subscribers get (a FilterPolicy on the `event`
    # attribute); the alerts queue always gets every event.
    alert_events: tuple[str, ...] = ("out_of_stock", "low_stock")


@dataclass(frozen=True)
class Stack:
    """The names and ARNs of one stack in one account and region."""

    name: str
    account: str
    region: str
    partition: str = "aws"

    def __post_init__(self) -> None:
        if not _STACK_NAME.fullmatch(self.name):
            raise ValueError(
                f"stack name {self.name!r}: use 1-20 lowercase letters, digits and '-', "
                "starting with a letter (it becomes part of bucket names)"
            )

    # Buckets are global on AWS: account and region make the names unique.
    @property
    def uploads_bucket(self) -> str:
        return f"{self.name}-uploads-{self.account}-{self.region}"

    @property
    def reports_bucket(self) -> str:
        return f"{self.name}-reports-{self.account}-{self.region}"

    @property
    def table(self) -> str:
        return f"{self.name}-inventory"

    @property
    def snapshots_table(self) -> str:
        return f"{self.name}-snapshots"

    @property
    def sent_alerts_table(self) -> str:
        return f"{self.name}-sent-alerts"

    @property
    def summary_table(self) -> str:
        return f"{self.name}-summary"

    @property
    def history_table(self) -> str:
        return f"{self.name}-history"

    @property
    def topic(self) -> str:
        return f"{self.name}-NoStock"

    @property
    def alerts_queue(self) -> str:
        return f"{self.name}-alerts"

    @property
    def uploads_queue(self) -> str:
        return f"{self.name}-uploads"

    @property
    def load_failures_queue(self) -> str:
        return f"{self.name}-load-failures"

    @property
    def alert_failures_queue(self) -> str:
        return f"{self.name}-alert-failures"

    @property
    def track_failures_queue(self) -> str:
        return f"{self.name}-track-failures"

    @property
    def inbox_queue(self) -> str:
        """On an emulator, a copy of what email and SMS subscribers get (provision.inbox)."""
        return f"{self.name}-inbox"

    @property
    def queues(self) -> tuple[str, ...]:
        return (
            self.alerts_queue,
            self.uploads_queue,
            self.load_failures_queue,
            self.alert_failures_queue,
            self.track_failures_queue,
        )

    @property
    def load_function(self) -> str:
        return f"{self.name}-load_inventory"

    @property
    def check_function(self) -> str:
        return f"{self.name}-check_stock"

    @property
    def track_function(self) -> str:
        return f"{self.name}-track_stock"

    @property
    def track_role(self) -> str:
        return f"{self.name}-track_stock"

    @property
    def load_role(self) -> str:
        return f"{self.name}-load_inventory"

    @property
    def check_role(self) -> str:
        return f"{self.name}-check_stock"

    def arn(self, service: str) -> str:
        """The ARN prefix of a regional service in this account: arn:aws:SERVICE:REGION:ACCOUNT."""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}"

    def bucket_arn(self, bucket: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}"

    def queue_arn(self, queue: str) -> str:
        return f"{self.arn('sqs')}:{queue}"

    def role_arn(self, role: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{role}"

    @property
    def table_arn(self) -> str:
        return f"{self.arn('dynamodb')}:table/{self.table}"

    @property
    def snapshots_table_arn(self) -> str:
        return f"{self.arn('dynamodb')}:table/{self.snapshots_table}"

    @property
    def sent_alerts_table_arn(self) -> str:
        return f"{self.arn('dynamodb')}:table/{self.sent_alerts_table}"

    @property
    def summary_table_arn(self) -> str:
        return f"{self.arn('dynamodb')}:table/{self.summary_table}"

    @property
    def history_table_arn(self) -> str:
        return f"{self.arn('dynamodb')}:table/{self.history_table}"

    @property
    def topic_arn(self) -> str:
        return f"{self.arn('sns')}:{self.topic}"
