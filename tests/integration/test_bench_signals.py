"""An interrupted benchmark stops what it started: the real `python -m bench`, sent SIGTERM
(as a CI runner or `kill` sends it) once its emulator runs Lambda workers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from provision.aws import wait_until
from provision.emulator import is_our_ministack, stop_process
from tests.integration.support import PATIENCE

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> set[int]:
    """Every process below `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def test_sigterm_stops_the_benchs_emulator_and_its_workers(tmp_path):
    # given a quick benchmark whose emulator has started the functions' workers
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path), "--no-isolate"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    emulator = None
    try:
        assert bench.stderr is not None
        for line in bench.stderr:
            started = re.search(r"MiniStack started on \S+ \(pid (\d+)\)", line)
            if started:
                emulator = int(started.group(1))
            if "1,000 rows" in line:  # after the warm-up uploads: the workers run
                break
        assert emulator is not None, "the bench did not say it started MiniStack"
        workers = _children(emulator)
        assert workers, "no Lambda worker ran under the emulator"

        # when
        bench.send_signal(signal.SIGTERM)

        # then the bench ends, saying so, and nothing it started is left
        rest = bench.communicate(timeout=PATIENCE)[1]
        assert bench.returncode == 128 + signal.SIGTERM
        assert "stopped by SIGTERM" in rest
        wait_until(
            lambda: not any(_alive(pid) for pid in {emulator, *workers}),
            PATIENCE,
            "the emulator and its workers to end",
        )
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        if emulator is not None and is_our_ministack(emulator):
            stop_process(emulator)  # what a failed run of this test would leave behind
