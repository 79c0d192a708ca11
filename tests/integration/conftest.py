"""One emulator and one freshly provisioned stack per test session.

The endpoint is, in order: E2E_ENDPOINT from the environment (a URL, e.g. the emulator
`make up` runs, or `aws` for the account of your profile); a LocalStack container from
testcontainers where a Docker engine runs; MiniStack as a subprocess on a free port otherwise.
The stack is built by the same provisioning code as `make up`, under a unique name, and
destroyed at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from provision import deploy
from provision.aws import Aws
from provision.emulator import (
    MiniStack,
    docker_engine_running,
    enforce_iam_from_environment,
    free_port,
    stop_process,
    wait_healthy,
)
from provision.stack import Settings
from tests.integration.support import PATIENCE, AlertInbox, Pipeline

LOCALSTACK_IMAGE = "localstack/localstack:4.14.0"
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


# Tests that break a stack of their own (fixtures that deploy one) spend most of their time
# waiting on the emulator's retries. Under `make test` (pytest-xdist, two workers) they form
# one group and the tests of the shared session stack another, so each group has a worker, an
# emulator and a core of its own, and the unit tests fill in beside them.
OWN_STACK_FIXTURES = {"isolated", "fragile", "brief", "chain", "from_template"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)
            own_stack = OWN_STACK_FIXTURES & set(getattr(item, "fixturenames", ()))
            item.add_marker(pytest.mark.xdist_group("own-stacks" if own_stack else "shared-stack"))


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
    from testcontainers.community.localstack import LocalStackContainer

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
    ministack = MiniStack(free_port(), workdir, enforce_iam_from_environment())
    process = ministack.spawn()
    try:
        wait_healthy(ministack.endpoint, PATIENCE, process, ministack.log)
        yield ministack.endpoint
    finally:
        stop_process(process.pid)
        ARTIFACTS.mkdir(exist_ok=True)
        if ministack.log.exists():
            # One emulator per xdist worker: one log each.
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            shutil.copy(ministack.log, ARTIFACTS / f"ministack-{worker}.log")
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


@pytest.fixture(scope="session")
def pipeline(aws: Aws, stack: dict[str, Any]) -> Pipeline:
    return Pipeline(aws, stack, AlertInbox(aws, stack["alerts_queue_url"]))


@pytest.fixture
def store() -> str:
    """A store name of this test's own, so tests never see each other's rows or alerts."""
    return f"Store-{uuid.uuid4().hex[:8]}"
