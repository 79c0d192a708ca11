"""The developer's loop on a stack `make up` built: the awslocal line it prints, `make logs`
(and alerts, inbox, watch), each run as a person runs it, on an emulator of their own.

The emulator listens on a port of 4611-4619 and keeps its records under /tmp/devloop-run, so
neither a developer's `make up` nor another session's emulator is touched.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from provision import deploy, packaging
from provision.aws import Aws
from provision.emulator import port_in_use
from tests.integration.commands import ROOT, RunningCommand
from tests.integration.conftest import EMULATOR_CREDENTIALS
from tests.integration.support import PATIENCE

PORTS = range(4611, 4620)
RUN_DIRS = Path("/tmp/devloop-run")
EMAIL = "me@example.com"
PHONE = "+15555550100"


@dataclass
class Devloop:
    """A stack `make up` provisioned, and how to run commands against it."""

    stack: str
    endpoint: str
    env: dict[str, str]  # what the Makefile's targets give their commands
    up_output: str
    outputs: dict[str, Any]
    aws: Aws

    def command(self, module: str, *args: str) -> RunningCommand:
        return RunningCommand(module, ["--stack", self.stack, *args], self.env)


def _free_devloop_port() -> int:
    for port in PORTS:
        if not port_in_use(port):
            return port
    pytest.skip(f"every port of {PORTS.start}-{PORTS.stop - 1} is taken")


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def devloop() -> Iterator[Devloop]:
    """`make up`'s two steps, on a MiniStack of this module's own."""
    RUN_DIRS.mkdir(parents=True, exist_ok=True)
    os.environ.update(EMULATOR_CREDENTIALS)  # for this process's own clients, as conftest does
    run_dir = RUN_DIRS / f"it-{uuid.uuid4().hex[:8]}"
    port = _free_devloop_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **EMULATOR_CREDENTIALS,
        "INVENTORY_RUN_DIR": str(run_dir),
        "AWS_ENDPOINT_URL": endpoint,
    }
    started = _run(env, "-m", "provision.emulator", "start", "--emulator", "ministack",
                   "--port", str(port))  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        stack = f"dl-{uuid.uuid4().hex[:6]}"
        up = _run(env, "-m", "provision", "up", "--stack", stack, "--no-dashboard",
                  "--email", EMAIL, "--sms", PHONE)  # fmt: skip
        assert up.returncode == 0, up.stderr
        outputs = json.loads(up.stdout)
        yield Devloop(stack, endpoint, env, up.stderr, outputs, deploy.connect(endpoint))
    finally:
        _run(env, "-m", "provision.emulator", "stop")
        shutil.rmtree(run_dir, ignore_errors=True)  # its pid, marker and MiniStack's log


def test_make_up_prints_an_awslocal_command_that_uploads_to_the_stack(devloop):
    # given the line `make up` printed
    [line] = [line for line in devloop.up_output.splitlines() if line.startswith("awslocal: ")]
    command = line.removeprefix("awslocal: ")

    # when it is run as printed, from a shell that has no endpoint of its own
    shell = {k: v for k, v in devloop.env.items() if not k.startswith("AWS_ENDPOINT_URL")}
    result = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=shell, capture_output=True, text=True, timeout=120
    )

    # then the sample file is in the stack's uploads bucket
    assert result.returncode == 0, result.stderr
    assert f"s3://{devloop.outputs['uploads_bucket']}/" in shlex.split(command)
    devloop.aws.s3.head_object(Bucket=devloop.outputs["uploads_bucket"], Key="berlin.csv")


def test_logs_show_a_failed_load_as_one_line_with_its_exception(devloop):
    snapshots = f"{devloop.stack}-snapshots"
    logs = devloop.command("provision.logs", "--function", "load_inventory")
    try:
        logs.wait_for_line(lambda line: "following the logs of" in line, PATIENCE, "its banner")
        # given the loader's snapshots table is gone, so every load of a file fails
        devloop.aws.dynamodb.delete_table(TableName=snapshots)
        devloop.aws.dynamodb.get_waiter("table_not_exists").wait(
            TableName=snapshots, WaiterConfig={"Delay": 1}
        )
        key = f"broken/{uuid.uuid4().hex[:6]}.csv"

        # when a file is uploaded
        devloop.aws.s3.put_object(
            Bucket=devloop.outputs["uploads_bucket"], Key=key, Body=b"store,item,count\nS,i,1\n"
        )

        # then its failure is one line: the function, ERROR, the message, the file, the error
        line = logs.wait_for_line(
            lambda line: "inventory file failed" in line and key in line,
            PATIENCE,
            "the failed load's line",
        )
        assert line.startswith("load_inventory ")
        assert " ERROR inventory file failed file=s3://" in line
        assert 'exception="ResourceNotFoundException: ' in line
    finally:
        # and Ctrl-C stops it cleanly
        assert logs.interrupt() == 0
        assert not [line for line in logs.lines if line.startswith("Traceback")]
        _run(devloop.env, "-m", "provision", "up", "--stack", devloop.stack, "--no-dashboard",
             "--quiet")  # fmt: skip


def _upload(devloop: Devloop, key: str, rows: str) -> None:
    body = f"store,item,count\n{rows}".encode()
    devloop.aws.s3.put_object(Bucket=devloop.outputs["uploads_bucket"], Key=key, Body=body)


def test_alerts_show_each_alert_as_its_sentence_and_its_json(devloop):
    store = f"Store-{uuid.uuid4().hex[:6]}"
    alerts = devloop.command("provision.messages", "alerts")
    try:
        # when an item of the store runs out
        _upload(devloop, f"{store}/out.csv", f"{store},Widget,0\n")

        # then its alert is shown: the sentence, then the JSON the queue holds
        line = alerts.wait_for_line(lambda line: store in line, PATIENCE, f"{store}'s alert")
        sentence, document = line.split("  ", 1)
        assert sentence == f"{store} is out of stock of Widget"
        assert json.loads(document)["event"] == "out_of_stock"
    finally:
        assert alerts.interrupt() == 0


def test_inbox_shows_what_the_email_and_sms_subscribers_received(devloop):
    store = f"Store-{uuid.uuid4().hex[:6]}"
    inbox = devloop.command("provision.messages", "inbox")
    try:
        # when an item of the store runs low (the people's filter lets every event through)
        _upload(devloop, f"{store}/low.csv", f"{store},Gadget,2\n")

        # then the email, with its subject, and the text message are in the inbox
        email = inbox.wait_for_line(
            lambda line: f"email to {EMAIL}:" in line and store in line, PATIENCE, "the email"
        )
        text = inbox.wait_for_line(
            lambda line: f"sms to {PHONE}:" in line and store in line, PATIENCE, "the SMS"
        )
        assert email.endswith(f"[Low stock] {store} is low on Gadget: 2 left")
        assert text.endswith(f": {store} is low on Gadget: 2 left")
    finally:
        assert inbox.interrupt() == 0


def test_watch_redeploys_only_the_function_whose_code_changed(devloop):
    handler = ROOT / "lambdas" / "check_stock" / "handler.py"
    original = handler.read_text()
    watch = devloop.command("provision.watch")
    try:
        watch.wait_for_line(lambda line: line.startswith("watching "), PATIENCE, "its banner")

        # when check_stock's handler is saved with a change
        handler.write_text(original + "# changed by test_devloop\n")

        # then check_stock runs the new code, and it alone was updated
        watch.wait_for_line(lambda line: "updated check_stock" in line, PATIENCE, "the update")
        configuration = devloop.aws.lambda_.get_function_configuration(
            FunctionName=f"{devloop.stack}-check_stock"
        )
        assert configuration["CodeSha256"] == packaging.code_sha256(
            packaging.build_zip("check_stock")
        )
        assert [line for line in watch.lines if line.startswith("updated ")] == [
            line for line in watch.lines if line.startswith("updated check_stock ")
        ]
    finally:
        handler.write_text(original)
        # and Ctrl-C stops it cleanly
        assert watch.interrupt() == 0
        assert "stopped watching" in watch.lines


def test_make_plan_says_what_up_would_change_and_changes_nothing(devloop):
    # given the stack `make up` built without its dashboard; when `make plan` is run on it
    port = devloop.endpoint.rsplit(":", 1)[-1]
    people = [f"EMAIL={EMAIL}", f"SMS={PHONE}"]
    # as from a person's shell, not from inside `make test` (whose make would say where it is);
    # --silent: a virtualenv older than the requirements is brought up to date first, and
    # make would echo those commands
    shell = {k: v for k, v in devloop.env.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    result = subprocess.run(
        ["make", "--silent", "plan", f"STACK={devloop.stack}", f"PORT={port}", *people],
        cwd=ROOT,
        env=shell,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # then it lists the dashboard, its log group and its alarms to create, and only those
    # (and check_stock's code, if the watch test above left its changed handler deployed)
    assert result.returncode == 0, result.stderr
    *changes, summary = result.stdout.splitlines()
    name = devloop.stack
    watched = f"update   function {name}-check_stock (Source)"
    assert set(changes) - {watched} == {
        f"create   alarm {name}-dashboard-5xx",
        f"create   alarm {name}-inventory_api-errors",
        f"create   dashboard {name}-dashboard",
        f"create   log group /aws/lambda/{name}-inventory_api",
        f"create   user pool {name}-dashboard",
    }
    assert summary == (
        "plan: 5 to create, 1 to update" if watched in changes else "plan: 5 to create"
    )
    # and nothing was made
    pools = devloop.aws.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"]
    assert f"{name}-dashboard" not in [pool["Name"] for pool in pools]
