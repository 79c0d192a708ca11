"""Profiles for the figures a target misses (`python -m bench --profile`).

- The emulator, with py-spy, while the project loads its largest file: where the emulator
  process spends its CPU, by service handler (DynamoDB BatchWriteItem, the stream poller, SNS,
  SQS, ...), so a miss can be put down to the emulator or to the code.
- The parsing path, with pyinstrument, over the memory file: where in-process time goes.
"""

from __future__ import annotations

import collections
import re
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SERVICE_FRAME = re.compile(r"^(\w+) \(.*ministack/services/(\w+)\.py")
_CORE_FRAME = re.compile(r"^(\w+) \(.*ministack/core/(\w+)\.py")
_GENERIC = {"handle_request", "_handle_json", "_dispatch"}


def summarise(raw: Iterable[str], top: int = 15) -> list[tuple[str, float]]:
    """Shares of py-spy's raw (collapsed-stack) samples by the first service handler on the
    stack ("dynamodb._batch_write_item"), else the first emulator-core function, else the
    kind of frame (HTTP server, event loop)."""
    shares: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        shares[_bucket(stack.split(";"))] += int(count)
    if not total:
        return []
    return [(name, count / total) for name, count in shares.most_common(top)]


def _bucket(frames: list[str]) -> str:
    core = None
    for frame in frames:
        service = _SERVICE_FRAME.match(frame)
        if service and service.group(1) not in _GENERIC:
            return f"{service.group(2)}.{service.group(1)}"
        found = _CORE_FRAME.match(frame)
        if found and core is None:
            core = f"core.{found.group(2)}.{found.group(1)}"
    if core:
        return core
    joined = ";".join(frames)
    if "hypercorn" in joined:
        return "HTTP server (hypercorn)"
    if "asyncio" in joined:
        return "event loop (asyncio)"
    return "other"


class EmulatorProfile:
    """py-spy sampling the emulator process from creation until `stop()` (inert without a pid)."""

    def __init__(self, pid: int | None, out: Path) -> None:
        self.out = out
        self._spy: subprocess.Popen[bytes] | None = None
        if pid is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            self._spy = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid)]
                + ["--rate", "50", "--format", "raw", "--nonblocking", "--output", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def stop(self) -> None:
        if self._spy is None:
            return
        spy, self._spy = self._spy, None
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()


def parse_profile(path: Path, out: Path) -> None:
    """pyinstrument's text report of one in-process run over the file at `path`."""
    subprocess.run(
        [sys.executable, "-m", "pyinstrument", "--renderer", "text", "--outfile", str(out)]
        + ["-m", "bench.memory", str(path), "rss"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
