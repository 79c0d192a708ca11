"""`make up` / `make down` as a person meets them: twice in a row, with nothing running, with
the port taken, after a crash, and without Docker. Runs the real module in subprocesses, with a
run folder of its own, so a developer's `make up` is never touched."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from provision.emulator import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    _emulator(tmp_path, "stop")  # whatever a failed test left running


def _emulator(run_dir: Path, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "provision.emulator", *args],
        cwd=ROOT,
        env={**os.environ, "INVENTORY_RUN_DIR": str(run_dir), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_starting_twice_and_stopping_twice_are_harmless(run_dir):
    port = str(free_port())

    # given / when started twice
    first = _emulator(run_dir, "start", "--emulator", "ministack", "--port", port)
    second = _emulator(run_dir, "start", "--emulator", "ministack", "--port", port)

    # then the second start finds it running
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stderr

    # when stopped twice
    stopped = _emulator(run_dir, "stop")
    again = _emulator(run_dir, "stop")

    # then the second stop says there is nothing to stop
    assert (stopped.returncode, again.returncode) == (0, 0)
    assert "ministack stopped" in stopped.stderr
    assert "no emulator is running" in again.stderr


def test_a_taken_port_is_one_clear_sentence_and_a_failure(run_dir):
    # given another program listening on the port
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = str(other.getsockname()[1])

        # when
        result = _emulator(run_dir, "start", "--emulator", "ministack", "--port", port)

    # then
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: port {port} is taken by another program; stop it or set PORT to another port"
    )


@contextmanager
def _another_program() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not MiniStack, leading its own process group as MiniStack does
    (so a `make down` that took it for MiniStack would kill it)."""
    other = subprocess.Popen(["sleep", "120"], start_new_session=True)
    try:
        yield other
    finally:
        other.kill()
        other.wait()


def _record_ministack(run_dir: Path, pid: int) -> None:
    """The records `make up` leaves: which emulator runs, and MiniStack's pid."""
    (run_dir / "emulator").write_text("ministack")
    (run_dir / "ministack.pid").write_text(str(pid))


def test_a_stale_pid_file_is_cleared_and_the_emulator_starts(run_dir):
    # given the records of a MiniStack that died (a pid no process has)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _record_ministack(run_dir, dead.pid)

    # when
    result = _emulator(run_dir, "start", "--emulator", "ministack", "--port", str(free_port()))

    # then it says so in one sentence and starts
    assert result.returncode == 0, result.stderr
    assert f"removed the stale pid file of a MiniStack no longer running ({dead.pid})" in (
        result.stderr
    )
    assert "ministack is running" in result.stderr


def test_a_pid_file_naming_another_program_is_stale_and_stop_leaves_that_program_alone(run_dir):
    with _another_program() as other:
        # given the records name a live process that is not MiniStack (a pid reused after a
        # reboot)
        _record_ministack(run_dir, other.pid)

        # when
        result = _emulator(run_dir, "stop")

        # then the record is removed in one sentence, and the other program still runs
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines() == [
            f"removed the stale pid file of a MiniStack no longer running ({other.pid})",
            "no emulator is running",
        ]
        assert other.poll() is None
        assert not (run_dir / "ministack.pid").exists()
        assert not (run_dir / "emulator").exists()


def test_a_pid_file_naming_another_program_is_stale_and_the_emulator_starts(run_dir):
    with _another_program() as other:
        # given
        _record_ministack(run_dir, other.pid)
        port = str(free_port())

        # when
        result = _emulator(run_dir, "start", "--emulator", "ministack", "--port", port)

        # then
        assert result.returncode == 0, result.stderr
        assert f"removed the stale pid file of a MiniStack no longer running ({other.pid})" in (
            result.stderr
        )
        assert "ministack is running" in result.stderr
        assert other.poll() is None
        assert (run_dir / "ministack.pid").read_text() != str(other.pid)


def test_localstack_without_docker_is_one_clear_sentence_and_a_failure(run_dir):
    # given a machine where no `docker` command exists
    # when
    result = _emulator(
        run_dir,
        "start",
        "--emulator",
        "localstack",
        "--port",
        str(free_port()),
        env={"PATH": str(run_dir)},
    )

    # then
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: EMULATOR=localstack needs a running Docker engine; none answers"
    )
