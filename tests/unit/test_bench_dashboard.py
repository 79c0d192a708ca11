"""The benchmark's Dashboard section, without an emulator: the seeder's tables agree with each
other (moto), the section's flags, and its lines in the report."""

from __future__ import annotations

import boto3
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from bench import __main__ as bench_main
from bench import report
from bench.dashboard import counts, shares
from bench.seed import Tables, seed_history, seed_store
from inventory.adapters.reader import StockReader
from inventory.dashboard import HistoryQuery, ItemQuery, listing_total
from tests.unit.fakes import (
    REGION,
    create_history_table,
    create_inventory_table,
    create_summary_table,
    use_fake_credentials,
)

TABLES = Tables("b-inventory", "b-summary", "b-history")


def test_a_seeded_store_its_summary_and_its_index_agree(monkeypatch):
    # given moto's tables shaped as CONTRACTS.md says
    use_fake_credentials(monkeypatch)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_inventory_table(dynamodb, TABLES.inventory, level_index=True)
        create_summary_table(dynamodb, TABLES.summary)
        create_history_table(dynamodb, TABLES.history)
        reader = StockReader(dynamodb, TABLES.inventory, TABLES.summary, TABLES.history)
        store_counts = counts(3, 260)

        # when a store is seeded, grown to its next size, and an item's history
        seed_store(dynamodb, TABLES, "store-003", store_counts[:100], threshold=5)
        seed_store(dynamodb, TABLES, "store-003", store_counts, threshold=5)
        seed_history(
            dynamodb,
            TABLES,
            "store-003",
            "item-000001",
            [("2026-11-01T00:00:00.000Z", 9, "s3://a"), ("2026-11-02T00:00:00.000Z", 4, "s3://b")],
            2.5,
        )

        # then the summary's figures are those of the rows, and the index holds the out ones
        [summary] = reader.summary()
        assert summary.items == 260
        assert len(reader.items_page(ItemQuery(store="store-003", limit=500)).items) == 260
        assert summary.out_of_stock == store_counts.count(0)
        assert summary.low == sum(1 for n in store_counts if 0 < n <= 5)
        assert summary.units == sum(store_counts)
        out = ItemQuery(status="out", limit=500)
        assert len(reader.items_page(out).items) == listing_total(out, [summary]) > 0
        history = reader.history(HistoryQuery("store-003", "item-000001"))
        assert [change.count for change in history.changes] == [4, 9]
        assert history.changes[0].previous == 9
        assert history.runs_out_in_days == 2.5


def test_the_dashboard_section_is_on_by_default_and_a_flag_skips_it():
    # given / when / then
    assert bench_main.parse([]).dashboard is True
    assert bench_main.parse(["--no-dashboard"]).dashboard is False
    assert bench_main.parse(["--quick"]).dashboard_sizes == [1_000]
    assert bench_main.parse([]).dashboard_sizes == [1_000, 10_000, 100_000]


def test_the_report_shows_the_dashboard_figures():
    # given
    figures = {"n": 50, "p50": 0.0421, "p95": 0.0873, "max": 0.1, "mean": 0.05}
    run = {
        "dashboard": {
            "sizes": {"100000": {"summary": figures, "items": figures}},
            "first_screen_s": {"n": 5, "p50": 1.234, "p95": 1.5, "max": 1.6, "mean": 1.3},
            "first_screen_items": 100_000,
        }
    }

    # when
    text = "\n".join(report.dashboard_lines(run))

    # then
    assert "Dashboard" in text
    assert "100,000" in text
    assert "GET /summary" in text
    assert "GET /items (first 100)" in text
    assert "  42  " in text  # p50 in ms
    assert "  87" in text  # p95 in ms
    assert "First screen in Chromium at 100,000 items: p50 1.23 s" in text
    assert report.dashboard_lines({}) == []


@given(st.integers(1, 200_000), st.integers(1, 60))
def test_a_size_is_shared_between_the_chains_stores_as_evenly_as_it_goes(items, stores):
    # given / when
    split = shares(items, stores)

    # then
    assert sum(split) == items
    assert len(split) == min(items, stores)
    assert max(split) - min(split) <= 1


def test_the_dashboard_targets_are_300_ms_and_one_and_a_half_times_the_smallest_size():
    # given p95s of 20 ms at 1,000 items, and at 100,000 items 29 ms (summary) and 31 ms (items)
    def figures(p95: float) -> dict[str, float]:
        return {"n": 50, "p50": p95 / 2, "p95": p95, "max": p95, "mean": p95}

    run = {
        "dashboard": {
            "sizes": {
                "1000": {"summary": figures(0.020), "items": figures(0.020)},
                "100000": {"summary": figures(0.029), "items": figures(0.031)},
            }
        }
    }

    # when
    checks = {check["target"]: check["met"] for check in report.verdicts(run)}

    # then
    assert checks == {
        "GET /summary p95 <= 300 ms at 100,000 items": True,
        "GET /summary p95 at 100,000 items <= 1.5x at 1,000": True,
        "GET /items p95 <= 300 ms at 100,000 items": True,
        "GET /items p95 at 100,000 items <= 1.5x at 1,000": False,
    }
    assert report.dashboard_verdicts({}) == []
