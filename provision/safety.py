"""Keeping a stack's data safe: point-in-time recovery on the inventory table, and log groups
that expire instead of growing for ever. (What holds data, which `destroy` keeps unless asked,
is marked in provision.description.)"""

from __future__ import annotations

from typing import Any

from provision.aws import Aws, Changes

# The retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip


def ensure_point_in_time_recovery(aws: Aws, table: str, changes: Changes) -> None:
    """Continuous backups of `table`: any second of the last 35 days can be restored."""
    found = aws.dynamodb.describe_continuous_backups(TableName=table)
    recovery = found["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
    if recovery.get("PointInTimeRecoveryStatus") != "ENABLED":
        aws.dynamodb.update_continuous_backups(
            TableName=table,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
        changes.record("updated", "table point-in-time recovery", table)


def find_log_group(aws: Aws, name: str) -> dict[str, Any] | None:
    """The log group called exactly `name` (the API looks groups up by prefix)."""
    groups = aws.logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
    return next((group for group in groups if group["logGroupName"] == name), None)


def ensure_log_group(aws: Aws, name: str, retention_days: int, changes: Changes) -> None:
    """The log group `name`, its events deleted after `retention_days`. Made before the
    function first logs, which would otherwise create it with no expiry."""
    if retention_days not in LOG_RETENTION_DAYS:
        raise ValueError(f"log retention of {retention_days} days: CloudWatch Logs takes one of "
                         f"{', '.join(map(str, LOG_RETENTION_DAYS))}")  # fmt: skip
    group = find_log_group(aws, name)
    if group is None:
        aws.logs.create_log_group(logGroupName=name)
        changes.record("created", "log group", name)
    if group is None or group.get("retentionInDays") != retention_days:
        aws.logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)
        changes.record("updated", "log group retention", name)
