"""The day-to-day commands (`make logs`, `alerts`, `inbox`, `watch`) as a person runs them: a
real process, its output read line by line as it comes, Ctrl-C to stop it."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from provision.aws import wait_until

ROOT = Path(__file__).resolve().parents[2]


class RunningCommand:
    """`python -m <module> <args>` running in the background, its lines collected."""

    def __init__(self, module: str, args: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # its notes and errors, in order with its lines
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float, what: str) -> str:
        """The first line `predicate` holds for, once printed; TimeoutError naming `what`
        and the output so far otherwise (or as soon as the command exits without it)."""

        def printed_or_exited() -> bool:
            return any(predicate(line) for line in self.lines) or self.process.poll() is not None

        try:
            wait_until(printed_or_exited, timeout, what)
        except TimeoutError as error:
            raise TimeoutError(f"{error}; output so far: {self.lines}") from None
        if self.process.poll() is not None:
            self._reader.join(timeout=5)  # the last lines it printed before it exited
        found = [line for line in self.lines if predicate(line)]
        if not found:
            raise AssertionError(f"the command exited before {what}: {self.lines}")
        return found[0]

    def interrupt(self, timeout: float = 10) -> int:
        """Ctrl-C: the exit code, once it has stopped (killed if it has not within `timeout`)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        self._reader.join(timeout=5)
        return code
