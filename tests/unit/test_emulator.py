"""Reading a process's command line, by which `make down` tells its own MiniStack from
another program holding the recorded pid (tests/integration/test_emulator_control.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from provision.emulator import command_line

SLEEPER_CODE = "import time; print('up', flush=True); time.sleep(120)"
SLEEPER_LINE = f"{sys.executable} -c {SLEEPER_CODE}"


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[str]]:
    """A live process that is not MiniStack, returned once it runs its own code.

    Popen returns while the child may still be inside exec, when /proc shows no command line
    yet; the child's first line of output says exec is over.
    """
    process = subprocess.Popen(
        [sys.executable, "-c", SLEEPER_CODE], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "up\n"
        yield process
    finally:
        process.kill()
        process.wait()


def gone_pid() -> int:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="reads /proc, which this OS lacks")
def test_the_command_line_is_read_from_proc(sleeper):
    # given / when
    line = command_line(sleeper.pid)

    # then
    assert line == SLEEPER_LINE


@pytest.mark.skipif(shutil.which("ps") is None, reason="no ps on this machine")
def test_without_proc_the_command_line_is_read_from_ps(sleeper, tmp_path):
    # given a machine without /proc (macOS), as a /proc that is an empty folder
    # when
    line = command_line(sleeper.pid, proc=tmp_path)

    # then
    assert line == SLEEPER_LINE


@pytest.mark.skipif(shutil.which("ps") is None, reason="no ps on this machine")
@pytest.mark.parametrize("proc", [Path("/proc"), None], ids=["proc", "ps"])
def test_a_process_that_has_gone_has_no_command_line(proc, tmp_path):
    # given
    pid = gone_pid()

    # when
    line = command_line(pid, proc=proc or tmp_path)

    # then
    assert line is None
