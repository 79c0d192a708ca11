"""The benchmark's burst of uploads, and a run that outlives a slow measurement."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest

from bench import measure, report
from bench.__main__ import overdue
from bench.burst import burst_files
from bench.data import InventoryFile
from bench.measure import BenchTimeout
from tests.unit.test_bench import results


def test_a_burst_is_the_files_rows_as_small_files_of_one_store_each():
    # given 500 rows over 50 stores
    inventory = InventoryFile("b", 500)

    # when cut in files of 5 rows
    files = list(burst_files(inventory, 5))

    # then 100 files, two a store, each of one store, holding every row once
    assert len(files) == 100
    rows = []
    for key, body in files:
        header, *lines = body.decode().splitlines()
        assert header == "store,item,count"
        assert len(lines) == 5
        assert {line.split(",")[0] for line in lines} == {key.split("/")[1]}
        rows += lines
    expected = [f"{store},{item},{count}" for store, item, count in inventory.records()]
    assert Counter(rows) == Counter(expected)
    # and the stores take turns, as a morning's uploads would come
    assert [key.split("/")[1] for key, _ in files[:3]] == ["b-s00", "b-s01", "b-s02"]


def test_a_measurement_over_its_deadline_is_recorded_and_the_run_goes_on():
    # given
    run: dict = {}
    said: list[str] = []

    # when the first measurement times out and the second does not
    with overdue(run, "loads of 100,000 rows", 900, said.append):
        raise BenchTimeout("only 9,000 of 10,000 alerts of p-s00… arrived")
    with overdue(run, "late file", 900, said.append):
        run["late_file"] = {"rows": 1}

    # then the first is recorded with what it reached, and the second ran
    assert run["overdue"] == [
        {
            "section": "loads of 100,000 rows",
            "over_s": 900,
            "reached": "only 9,000 of 10,000 alerts of p-s00… arrived",
        }
    ]
    assert run["late_file"] == {"rows": 1}
    assert "going on" in said[0]


def test_overdue_lets_other_errors_through():
    with pytest.raises(ValueError, match="a bug"), overdue({}, "burst", 1, lambda _: None):
        raise ValueError("a bug is not a slow machine")


def _with_burst(ratio: float) -> dict:
    run = results(project_rate=9_000.0, last_alert=12.0)
    one = {"last_alert_s": 10.0, "alerts": 10_000, "duplicate_alerts": 0}
    run["burst"] = {
        "burst": {
            "files": 1_000,
            "rows": 100_000,
            "uploaded_s": 20.0,
            "alerts": 10_000,
            "duplicate_alerts": 0,
            "last_alert_s": 10.0 * ratio,
        },
        "one_file": one,
        "ratio": ratio,
        "window_s": 60,
    }
    run["overdue"] = [{"section": "alert latency", "over_s": 900, "reached": "5 of 30"}]
    return run


def test_the_burst_target_is_three_times_one_file():
    # given / when
    def met(ratio: float) -> bool:
        [check] = [c for c in report.verdicts(_with_burst(ratio)) if "burst" in c["target"]]
        return bool(check["met"])

    # then
    assert met(2.9)
    assert not met(3.1)


def test_render_shows_the_burst_and_what_ran_over():
    # given
    run = _with_burst(2.5)

    # when
    text = report.render(run)

    # then
    assert "Burst: 1,000 files of 100 rows from 50 stores" in text
    assert "ratio: 2.50x" in text
    assert "Over their deadline" in text
    assert "over 900 s" in text
    assert "5 of 30" in text


def test_a_wait_past_its_deadline_says_what_it_had_reached(monkeypatch):
    # given a clock that jumps a minute at each look
    clock = iter(range(0, 10_000, 60))
    fake = SimpleNamespace(monotonic=lambda: float(next(clock)), sleep=lambda _: None)
    monkeypatch.setattr(measure, "time", fake)

    # when / then
    with pytest.raises(BenchTimeout, match=r"waiting for 10,000 alerts.*; reached 9,000 alerts"):
        measure.poll_until(lambda: False, 90, "10,000 alerts", reached=lambda: "9,000 alerts")
