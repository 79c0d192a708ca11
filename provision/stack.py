"""What one stack is made of: every name derives from the stack name, so stacks coexist."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_STACK = "inventory"
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
    # S3 side: Lambda's asynchronous retries before the event goes to the failure queue.
    load_max_retries: int = 2
    # Dashboard: items at or below this count are marked low; `dashboard=False` skips it.
    low_stock_threshold: int = 5
    dashboard: bool = True


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
    def load_failures_queue(self) -> str:
        return f"{self.name}-load-failures"

    @property
    def alert_failures_queue(self) -> str:
        return f"{self.name}-alert-failures"

    @property
    def queues(self) -> tuple[str, ...]:
        return (self.alerts_queue, self.load_failures_queue, self.alert_failures_queue)

    @property
    def load_function(self) -> str:
        return f"{self.name}-load_inventory"

    @property
    def check_function(self) -> str:
        return f"{self.name}-check_stock"

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
