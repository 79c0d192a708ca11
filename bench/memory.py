"""Memory and in-process speed of the parsing and validation path, with no AWS calls.

Each run is a fresh interpreter (`python -m bench.memory FILE MODE`) reading a file the parent
wrote, through `read_records` and `load_records` into a sink that drops every row:

- `rss`: peak resident memory (VmHWM, the high-water mark of this interpreter's own memory,
  which unlike ru_maxrss does not carry the forking parent's peak across exec) before and
  after, and rows per second;
- `tracemalloc`: the peak of Python's own allocations (several times slower, so no rate).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.data import InventoryFile

ROOT = Path(__file__).resolve().parent.parent
MODES = ("rss", "tracemalloc")


def peak_rss_kb() -> int:
    """This process's peak resident set so far, in KiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def child(path: Path, mode: str) -> dict[str, Any]:
    """Run the path once over `path` in this interpreter; figures as a dict."""
    sys.path.insert(0, str(ROOT / "lambdas"))
    from inventory.loading import load_records
    from inventory.parsing import read_records

    def drop(row: object) -> None:
        return None

    with path.open("rb") as stream:
        before_kb = peak_rss_kb()
        if mode == "tracemalloc":
            tracemalloc.start()
        started = time.perf_counter()

        def records() -> Any:  # each of the loader's two passes reads the file from the top
            stream.seek(0)
            return read_records(stream, path.name)

        # The file's size, as the handler passes it, bounds the duplicate-key table.
        outcome = load_records(records, drop, path.stat().st_size)
        seconds = time.perf_counter() - started
        figures: dict[str, Any] = {
            "mode": mode,
            "rows_loaded": outcome.rows_loaded,
            "rows_rejected": outcome.rows_rejected,
            "seconds": round(seconds, 3),
        }
        if mode == "tracemalloc":
            figures["peak_traced_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 2)
            tracemalloc.stop()
        else:
            after_kb = peak_rss_kb()
            figures["peak_rss_before_mb"] = round(before_kb / 1024, 1)
            figures["peak_rss_after_mb"] = round(after_kb / 1024, 1)
            figures["growth_mb"] = round((after_kb - before_kb) / 1024, 1)
            figures["rows_per_s"] = round(outcome.rows_loaded / seconds)
    return figures


def run(path: Path, mode: str) -> dict[str, Any]:
    """`child` in a fresh interpreter, so nothing the benchmark holds counts."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.memory", str(path), mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(result.stdout)
    return figures


def measure(
    rows: int, workdir: Path, repeats: int, profile_to: Path | None = None
) -> dict[str, Any]:
    """Write a `rows`-row file (50 stores, 10% zeros), then measure it: the best rate and the
    largest growth of `repeats` RSS runs, and one tracemalloc run; with `profile_to`, also a
    pyinstrument report of one more run there."""
    # Short store names, so a million rows make about 25 MB, the size the issue names.
    inventory = InventoryFile("mem", rows)
    path = workdir / f"memory-{rows}.csv"
    size = inventory.write(path)
    try:
        runs = [run(path, "rss") for _ in range(repeats)]
        traced = run(path, "tracemalloc")
        if profile_to is not None:
            from bench.profile import parse_profile

            profile_to.parent.mkdir(parents=True, exist_ok=True)
            parse_profile(path, profile_to)
    finally:
        path.unlink(missing_ok=True)
    return {
        "rows": rows,
        "file_mb": round(size / 2**20, 1),
        "rows_per_s": max(figures["rows_per_s"] for figures in runs),
        "growth_mb": max(figures["growth_mb"] for figures in runs),
        "peak_traced_mb": traced["peak_traced_mb"],
        "runs": runs + [traced],
    }


def hostile_shapes() -> dict[str, Any]:
    """The loader's tracemalloc peak over each hostile shape (bench.shapes), in a fresh
    interpreter, and the worst of them."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.shapes"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    shapes: dict[str, Any] = json.loads(result.stdout)
    worst = max(shapes, key=lambda shape: shapes[shape]["peak_mb"])
    return {"shapes": shapes, "worst": worst, "worst_peak_mb": shapes[worst]["peak_mb"]}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in MODES:
        print(f"usage: python -m bench.memory FILE {{{'|'.join(MODES)}}}", file=sys.stderr)
        return 2
    print(json.dumps(child(Path(argv[0]), argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
