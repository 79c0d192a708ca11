"""What several handler and adapter tests build alike: moto's account and tables shaped as the
provisioner makes them, the Lambda context a handler is given, and the embedded metrics it
prints."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from provision import dashboard
from provision.aws import Aws
from provision.stack import Stack

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
SENT_ALERTS_TABLE = "inventory-sent-alerts"


def use_fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials moto accepts, and none of the developer's profile or endpoint: boto3 then
    talks to moto's AWS and nothing else."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)  # the general one and every service's (AWS_ENDPOINT_URL_S3)


@contextmanager
def moto_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """An empty moto account, and the clients provisioning uses on it. It cannot host the
    dashboard (moto's Cognito needs joserfc, which the project does not install), so
    provisioning is told so, as an emulator without those services would tell it."""
    use_fake_credentials(monkeypatch)
    monkeypatch.setattr(dashboard, "unsupported_reason", lambda aws: dashboard.UNSUPPORTED)
    with mock_aws():
        yield Aws(boto3.Session(region_name=REGION), None)


def create_sent_alerts_table() -> Any:
    """The sent-alerts table as provisioning makes it (alert_id HASH, on demand), created in
    the moto account of the caller's `mock_aws`; returns the DynamoDB client."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=SENT_ALERTS_TABLE,
        AttributeDefinitions=[{"AttributeName": "alert_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "alert_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


def create_inventory_table(dynamodb: Any, name: str, level_index: bool = False) -> None:
    """The inventory table: store HASH, item RANGE, on demand; with `level_index`, also the
    sparse index by_level (level HASH, store RANGE) of CONTRACTS.md."""
    attributes = ["store", "item", "level"] if level_index else ["store", "item"]
    index = {
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by_level",
                "KeySchema": [
                    {"AttributeName": "level", "KeyType": "HASH"},
                    {"AttributeName": "store", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    }
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "store", "KeyType": "HASH"},
            {"AttributeName": "item", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in attributes],
        BillingMode="PAY_PER_REQUEST",
        **(index if level_index else {}),
    )


def create_summary_table(dynamodb: Any, name: str) -> None:
    """The per-store aggregates of CONTRACTS.md: store HASH, on demand."""
    create_snapshots_table(dynamodb, name)  # the same shape


def create_history_table(dynamodb: Any, name: str) -> None:
    """Each item's changes (CONTRACTS.md): store_item HASH, at RANGE, on demand."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "store_item", "KeyType": "HASH"},
            {"AttributeName": "at", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "store_item", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def create_snapshots_table(dynamodb: Any, name: str) -> None:
    """The newest snapshot loaded per store: store HASH, on demand."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "store", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "store", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@dataclass
class FakeContext:
    """The parts of the Lambda context the handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 256
    remaining_millis: int = 30_000
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


@dataclass
class MetricFlush:
    """One embedded-metric-format document: what Powertools prints when it flushes."""

    namespace: str
    dimensions: dict[str, str]
    units: dict[str, str]
    values: dict[str, list[float]]


def metric_flushes(stdout: str) -> list[MetricFlush]:
    """The EMF documents among the lines a handler printed, in order (log lines are skipped)."""
    flushes: list[MetricFlush] = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" not in document:
            continue
        [directive] = document["_aws"]["CloudWatchMetrics"]
        [dimension_names] = directive["Dimensions"]
        names = [metric["Name"] for metric in directive["Metrics"]]
        flushes.append(
            MetricFlush(
                namespace=directive["Namespace"],
                dimensions={name: document[name] for name in dimension_names},
                units={metric["Name"]: metric["Unit"] for metric in directive["Metrics"]},
                values={name: document[name] for name in names},
            )
        )
    return flushes


def data_tables(stack: Stack) -> tuple[str, ...]:
    """The tables destroy keeps (an expectation written out, not read from the description):
    the inventory, what was loaded and alerted, and the dashboard's figures and history."""
    return (
        stack.table,
        stack.snapshots_table,
        stack.sent_alerts_table,
        stack.summary_table,
        stack.history_table,
    )
