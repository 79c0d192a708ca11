"""The benchmark's pure parts: percentiles, cost arithmetic, files, the table and the verdicts.

The measurements themselves run in `make bench-quick`; nothing here times anything.
"""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from bench import cost, measure, report, stats
from bench.data import RUNS_OUT, InventoryFile, latency_rows
from bench.stacks import handler_zip
from provision import uploads


def test_percentiles_interpolate_between_ranks_like_numpy():
    # given
    values = [0.4, 0.1, 0.3, 0.2, 1.0]

    # when
    p50, p95, top = (stats.percentile(values, share) for share in (0.5, 0.95, 1.0))

    # then: sorted 0.1 0.2 0.3 0.4 1.0; p95 sits 80% of the way from 0.4 to 1.0
    assert p50 == pytest.approx(0.3)
    assert p95 == pytest.approx(0.88)
    assert top == 1.0


def test_percentile_of_one_value_is_that_value_and_of_none_is_an_error():
    assert stats.percentile([0.25], 0.95) == 0.25
    with pytest.raises(ValueError, match="no values"):
        stats.percentile([], 0.5)
    with pytest.raises(ValueError, match="within"):
        stats.percentile([1.0], 95)


def test_summary_counts_and_averages():
    # when
    summary = stats.summary([1.0, 2.0, 3.0, 4.0])

    # then
    assert summary == {"n": 4, "p50": 2.5, "p95": pytest.approx(3.85), "max": 4.0, "mean": 2.5}


def test_ratio_of_zero_is_none():
    assert stats.ratio(3, 0) is None
    assert stats.ratio(3, 2) == 1.5


def test_gb_seconds_multiply_billed_time_by_memory():
    # given two invocations billed 1,500 ms in all at 512 MB
    # then
    assert cost.gb_seconds([1000, 500], 512) == pytest.approx(0.75)


def test_publish_batch_needs_a_tenth_of_the_requests():
    assert cost.publish_requests(10, batched=True) == 1
    assert cost.publish_requests(11, batched=True) == 2
    assert cost.publish_requests(10, batched=False) == 10


def test_a_month_of_files_is_priced_line_by_line():
    # given one million files (100,000 a day for 10 days), one of each unit a file
    prices = cost.Prices()
    per_file = cost.PerFile(
        s3_puts=1,
        s3_gets=1,
        write_units=1,
        read_units=1,
        lambda_requests=1,
        lambda_gb_seconds=1,
        sns_publishes=1,
        sqs_requests=1,
        log_bytes=1000,
    )

    # when
    month = cost.monthly(per_file, files_per_day=100_000, prices=prices, days=10)

    # then: each line is the price of a million units (a GB of logs)
    assert month["lambda"] == pytest.approx(0.20 + 16.67, abs=0.01)
    assert month["dynamodb"] == pytest.approx(0.625 + 0.125, abs=0.01)
    assert month["s3"] == pytest.approx(5.0 + 0.4)
    assert month["sns"] == 0.5
    assert month["sqs"] == 0.4
    assert month["logs"] == 0.5
    others = sum(value for key, value in month.items() if key != "total")
    assert month["total"] == pytest.approx(others, abs=0.01)


def test_an_inventory_file_has_its_rows_stores_and_zeros():
    # given
    inventory = InventoryFile("t-r1000", 1000)

    # when
    rows = list(csv.DictReader(io.StringIO(inventory.csv_bytes().decode())))

    # then
    assert len(rows) == 1000
    assert {row["store"] for row in rows} == set(inventory.store_names)
    assert sum(row["count"] == "0" for row in rows) == inventory.zero_rows == 100
    assert (rows[-1]["store"], rows[-1]["item"]) == inventory.last_key
    assert inventory.last_key == ("t-r1000-s49", inventory.item(inventory.rows_per_store - 1))
    assert inventory.csv_bytes() == InventoryFile("t-r1000", 1000).csv_bytes()  # deterministic


def test_an_inventory_file_needs_rows_that_divide_among_the_stores():
    with pytest.raises(ValueError, match="divide"):
        InventoryFile("t", 1001)


def test_written_file_has_the_same_bytes(tmp_path):
    # given
    inventory = InventoryFile("t-r500", 500)

    # when
    size = inventory.write(tmp_path / "f.csv")

    # then
    assert (tmp_path / "f.csv").read_bytes() == inventory.csv_bytes()
    assert size == len(inventory.csv_bytes())


def test_a_latency_upload_turns_one_item_that_was_in_stock_to_zero():
    # given the store's rows as stocked before the samples, and its sample upload
    def rows(runs_out: bool) -> list[dict[str, str]]:
        text = "store,item,count\n" + latency_rows("lat-1", runs_out)
        return list(csv.DictReader(io.StringIO(text)))

    before, sample = rows(runs_out=False), rows(runs_out=True)

    # then: the same 100 items; only RUNS_OUT changes, from 5 to 0
    assert len(sample) == 100
    assert [row["item"] for row in before] == [row["item"] for row in sample]
    changed = [(b["item"], b["count"], s["count"]) for b, s in zip(before, sample, strict=True)]
    assert [change for change in changed if change[1] != change[2]] == [(RUNS_OUT, "5", "0")]
    assert all(row["count"] != "0" for row in before)


def test_an_alert_is_keyed_by_store_and_item_in_either_pair_s_format():
    # given the project's JSON and the lab's sentence
    document = '{"event": "out_of_stock", "store": "Berlin", "item": "Echo Plus", "count": 0}'
    sentence = "Berlin is out of stock of Echo Plus"

    # then
    assert measure.alert_key(document) == ("Berlin", "Echo Plus")
    assert measure.alert_key(sentence) == ("Berlin", "Echo Plus")
    assert measure.alert_key("something else") is None


def test_a_late_delivery_carries_the_original_event_time_version_and_sequencer():
    # given the source of the upload's report
    source = {
        "snapshot_at": "2026-01-01T00:00:00.000+00:00",
        "version_id": "v1",
        "sequencer": "0055AED6DCD90281E5",
    }

    # when
    event = uploads.s3_event("b", "late/a b+c.csv", source)

    # then: as S3 encodes keys, with the snapshot time and order it first had
    record = event["Records"][0]
    assert record["eventTime"] == "2026-01-01T00:00:00.000Z"
    assert record["s3"]["object"] == {
        "key": "late/a+b%2Bc.csv",
        "versionId": "v1",
        "sequencer": "0055AED6DCD90281E5",
    }


def test_baseline_zip_holds_only_its_handler_and_is_reproducible():
    # when
    package = handler_zip("load_inventory_lab")

    # then
    assert zipfile.ZipFile(io.BytesIO(package)).namelist() == ["handler.py"]
    assert handler_zip("load_inventory_lab") == package


def test_format_table_aligns_columns():
    # when
    table = report.format_table(["name", "rows/s"], [["a", "1,000"], ["longer", "5"]])

    # then
    assert table.splitlines() == [
        "name    rows/s",
        "------  ------",
        "a        1,000",
        "longer       5",
    ]


def test_format_table_refuses_a_ragged_row():
    with pytest.raises(ValueError, match="cells"):
        report.format_table(["a", "b"], [["1"]])


def results(project_rate: float, last_alert: float) -> dict:
    load = {"rows_per_s": 0.0, "seconds": 1.0}
    return {
        "started": "2026-01-01T00:00:00Z",
        "target": "http://127.0.0.1:1",
        "machine": {
            "cpus": 2,
            "memory_gb": 23.5,
            "python": "3.11.7",
            "ministack": "1.5.33",
            "load_average_start": "1.00 1.00 1.00",
        },
        "ceiling_threads": 4,
        "loads": [
            {
                "rows": 100_000,
                "ceiling": load | {"rows_per_s": 10_000.0},
                "baseline": load | {"rows_per_s": 1_000.0, "seconds": 100.0},
                "project": {
                    "rows_per_s": project_rate,
                    "seconds": 100_000 / project_rate,
                    "last_alert_s": last_alert,
                },
            }
        ],
        "latency": {
            name: {
                "queued": stats.summary(values),
                "received": stats.summary(values),
                "cold": 1.0,
                "samples_queued_s": values,
            }
            for name, values in (("project", [0.1, 0.2]), ("baseline", [0.3, 0.4]))
        },
        "memory": {
            "rows": 1_000_000,
            "file_mb": 25.0,
            "rows_per_s": 250_000,
            "growth_mb": 40.0,
            "peak_traced_mb": 45.0,
            "shapes": {
                "unclosed-quotes": {"file_mb": 1.3, "peak_mb": 2.1, "report_kb": 24.4},
                "thousands-of-huge-rejected-rows": {
                    "file_mb": 25.0,
                    "peak_mb": 10.2,
                    "report_kb": 99.1,
                },
            },
            "worst": "thousands-of-huge-rejected-rows",
            "worst_peak_mb": 10.2,
        },
    }


def test_verdicts_read_each_target_from_the_run():
    # given the project at 90% of the ceiling and 9x the baseline, last alert at 1.2x
    run = results(project_rate=9_000.0, last_alert=100_000 / 9_000 * 1.2)

    # when
    checks = {check["target"]: check["met"] for check in report.verdicts(run)}

    # then
    assert checks == {
        "load_inventory >= 85% of the ceiling at 100,000 rows": True,
        "load_inventory >= 8x the baseline loader at 100,000 rows": True,
        "last alert within 1.5x the last row loaded at 100,000 rows": True,
        "alert latency p50 no worse than the baseline pair's": True,
        "alert latency p95 no worse than the baseline pair's": True,
        "peak growth < 50 MB over 1,000,000 rows": True,
        "the loader's peak < 256 MB over every hostile shape": True,
        "parse and validate >= 300,000 rows/s in-process": False,
    }


def test_verdicts_fail_a_slow_project_and_late_alerts():
    # given
    run = results(project_rate=5_000.0, last_alert=100_000 / 5_000 * 2)

    # when
    checks = {check["target"]: check["met"] for check in report.verdicts(run)}

    # then
    assert not checks["load_inventory >= 85% of the ceiling at 100,000 rows"]
    assert not checks["load_inventory >= 8x the baseline loader at 100,000 rows"]
    assert not checks["last alert within 1.5x the last row loaded at 100,000 rows"]


def test_render_shows_every_section():
    # given
    run = results(project_rate=9_000.0, last_alert=12.0)
    run["targets"] = report.verdicts(run)

    # when
    text = report.render(run)

    # then
    assert "Ingest" in text
    assert "worst: thousands-of-huge-rejected-rows, 10.2 MB" in text
    assert "100,000" in text
    assert "90%" in text
    assert "Alert latency" in text
    assert "250,000 rows/s" in text
    assert "Targets" in text
