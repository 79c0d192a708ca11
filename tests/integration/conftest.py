"""One emulator and one freshly provisioned stack per test session.

The endpoint is, in order: E2E_ENDPOINT from the environment (a URL, e.g. the emulator
`make up` runs, or `aws` for the account of your profile); a LocalStack container from
testcontainers where a Docker engine runs; MiniStack as a subprocess on a free port otherwise.
The stack is built by the same provisioning code as `make up`, under a unique name, and
destroyed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from provision import deploy
from provision.emulator import (
    MiniStack,
    docker_engine_running,
    free_port,
    stop_process,
    wait_healthy,
)
from provision.resources import Aws
from provision.stack import Settings
from provision.uploads import upload_and_wait_for_report

LOCALSTACK_IMAGE = "localstack/localstack:4.14.0"
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str | None]:
    """The emulator endpoint for this session; None means real AWS."""
    given = os.environ.get("E2E_ENDPOINT")
    if given:
        if given != "aws":
            os.environ.update(EMULATOR_CREDENTIALS)
        yield None if given == "aws" else given
        return
    os.environ.update(EMULATOR_CREDENTIALS)
    if docker_engine_running():
        yield from _localstack()
    else:
        yield from _ministack()


def _localstack() -> Iterator[str]:
    from testcontainers.localstack import LocalStackContainer

    container = (
        LocalStackContainer(image=LOCALSTACK_IMAGE)
        .with_env("SERVICES", "s3,dynamodb,dynamodbstreams,lambda,sns,sqs,iam,sts,logs")
        # LocalStack runs Lambda code in containers of the host's engine.
        .with_volume_mapping("/var/run/docker.sock", "/var/run/docker.sock", "rw")
    )
    with container:
        yield container.get_url()


def _ministack() -> Iterator[str]:
    workdir = Path(tempfile.mkdtemp(prefix="inventory-it-"))
    ministack = MiniStack(free_port(), workdir)
    process = ministack.spawn()
    try:
        wait_healthy(ministack.endpoint, 60, process, ministack.log)
        yield ministack.endpoint
    finally:
        stop_process(process.pid)
        ARTIFACTS.mkdir(exist_ok=True)
        if ministack.log.exists():
            shutil.copy(ministack.log, ARTIFACTS / "ministack.log")
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def aws(endpoint: str | None) -> Aws:
    return deploy.connect(endpoint)


@pytest.fixture(scope="session")
def stack(aws: Aws) -> Iterator[dict[str, Any]]:
    """A fresh stack for this session; its outputs."""
    located = deploy.locate(aws, f"it-{uuid.uuid4().hex[:8]}")
    outputs = deploy.up(aws, located, Settings())
    try:
        yield outputs
    finally:
        deploy.destroy(aws, located)


@dataclass
class AlertInbox:
    """Every alert the stack's SQS queue delivers this session, drained on demand."""

    aws: Aws
    queue_url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float, what: str
    ) -> list[dict[str, Any]]:
        """Long-poll until `predicate(received)` holds; fail saying `what` was awaited."""
        deadline = time.monotonic() + timeout
        while not predicate(self.received):
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}; got {self.received}")
            response = self.aws.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
            )
            for message in response.get("Messages", []):
                self.received.append(
                    {
                        "body": json.loads(message["Body"]),
                        "attributes": {
                            name: value["StringValue"]
                            for name, value in message.get("MessageAttributes", {}).items()
                        },
                    }
                )
                self.aws.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return self.received

    def for_store(self, store: str) -> list[dict[str, Any]]:
        return [alert["body"] for alert in self.received if alert["body"]["store"] == store]


@dataclass
class Pipeline:
    """Drives the stack the way a store and a subscriber would."""

    aws: Aws
    outputs: dict[str, Any]
    inbox: AlertInbox

    def upload(self, key: str, body: bytes) -> dict[str, Any]:
        """Upload a file and return its report, once the loader has written it."""
        return upload_and_wait_for_report(self.aws, self.outputs, key, body)

    def alerts_after_settling(self, store: str, timeout: float = 60) -> list[dict[str, Any]]:
        """All alerts for `store` so far, once every earlier change has gone through the stream.

        A barrier: a marker item of the same store is set to 0 after everything else; the
        stream delivers a store's changes in order, so when the marker's alert arrives, every
        alert the earlier uploads could cause has arrived too.
        """
        marker = f"zz-barrier-{uuid.uuid4().hex[:8]}"
        self.upload(f"barriers/{marker}.csv", f"store,item,count\n{store},{marker},0\n".encode())
        self.inbox.wait_for(
            lambda _: any(alert["item"] == marker for alert in self.inbox.for_store(store)),
            timeout,
            f"the barrier alert {marker} of {store}",
        )
        return [
            alert
            for alert in self.inbox.for_store(store)
            if not alert["item"].startswith("zz-barrier-")
        ]

    def item(self, store: str, item: str) -> dict[str, Any] | None:
        response = self.aws.dynamodb.get_item(
            TableName=self.outputs["table"],
            Key={"store": {"S": store}, "item": {"S": item}},
            ConsistentRead=True,
        )
        found: dict[str, Any] | None = response.get("Item")
        return found


@pytest.fixture(scope="session")
def pipeline(aws: Aws, stack: dict[str, Any]) -> Pipeline:
    return Pipeline(aws, stack, AlertInbox(aws, stack["alerts_queue_url"]))


@pytest.fixture
def store() -> str:
    """A store name of this test's own, so tests never see each other's rows or alerts."""
    return f"Store-{uuid.uuid4().hex[:8]}"
