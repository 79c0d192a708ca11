"""A million-row file streams through the reader and the loader in bounded memory.

The load runs in a child process, so its peak RSS (ru_maxrss) is its own and not the test
runner's, which holds whatever earlier tests left behind. This bounds memory, not speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROWS = 1_000_000
CHUNK_ROWS = 50_000
MAX_RSS_GROWTH_KIB = 100 * 1024  # 100 MB
LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"

# Runs in the child: import first, then measure the peak RSS the load adds to that.
LOAD_AND_MEASURE = """
import json, os, resource, sys
sys.path.insert(0, sys.argv[1])
from inventory.loading import load_records
from inventory.parsing import read_records

baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rows = 0

def count(row):
    global rows
    rows += 1

def records():  # each of the loader's two passes reads the file from its first byte
    stream.seek(0)
    return read_records(stream, "stores/million.csv")

with open(sys.argv[2], "rb") as stream:
    size = os.path.getsize(sys.argv[2])  # as the handler passes the object's size
    outcome = load_records(records, count, size)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "rows_in_sink": rows,
    "rows_loaded": outcome.rows_loaded,
    "rows_rejected": outcome.rows_rejected,
    "rows_duplicate": outcome.rows_duplicate,
    "file_error": None if outcome.file_error is None else outcome.file_error.reason,
    "rss_growth_kib": peak - baseline,
}))
"""


def write_million_row_csv(path: Path) -> None:
    """1,000,000 distinct (store, item) rows, about 22 MB, written 50,000 rows at a time."""
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write("store,item,count\n")
        for start in range(0, ROWS, CHUNK_ROWS):
            file.write(
                "".join(
                    f"s{n % 100:03d},item-{n:07d},{n % 1000}\n"
                    for n in range(start, start + CHUNK_ROWS)
                )
            )


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
def test_a_million_row_csv_reaches_the_sink_in_full_within_100_mb_of_memory(tmp_path):
    # given
    path = tmp_path / "million.csv"
    write_million_row_csv(path)
    assert path.stat().st_size > 21_000_000

    # when
    child = subprocess.run(
        [sys.executable, "-c", LOAD_AND_MEASURE, str(LAMBDAS), str(path)],
        capture_output=True,
        text=True,
        timeout=300,  # only so a hang cannot stall the suite; no assertion on time
        check=False,
    )

    # then
    assert child.returncode == 0, child.stderr
    measured = json.loads(child.stdout)
    assert measured["rows_in_sink"] == ROWS
    assert (measured["rows_loaded"], measured["rows_rejected"], measured["rows_duplicate"]) == (
        ROWS,
        0,
        0,
    )
    assert measured["file_error"] is None
    assert 0 <= measured["rss_growth_kib"] < MAX_RSS_GROWTH_KIB
