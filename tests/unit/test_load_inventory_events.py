"""load_inventory against moto: events it refuses, files that tie on their snapshot time, and a
file that would need more invocations than a file may have."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inventory import loading
from inventory.snapshots import order_token
from load_inventory import handler
from tests.unit.loader_harness import (
    EVENT_TIME,
    SNAPSHOT_AT,
    counts,
    event_of,
    loader_context,
    report_for,
    run_until_done,
    s3_put_event,
    s3_record,
    table_items,
    upload,
)


def _no_report(aws, key: str) -> bool:
    listed = aws.s3.list_objects_v2(Bucket="inventory-reports-000000000000-us-east-1")
    return not [o for o in listed.get("Contents", []) if o["Key"].startswith(key)]


def test_an_event_time_far_ahead_of_the_clock_is_refused_without_a_write_or_a_retry(aws, log_lines):
    # given an upload whose event claims a time an hour from now: it would outrank every
    # honest snapshot of its store until that hour has passed
    upload(aws, "stores/berlin.csv", b"store,item,count\nberlin,apples,0\n")
    ahead = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    # when
    result = handler.lambda_handler(
        event_of(s3_record("stores/berlin.csv", event_time=ahead)), loader_context()
    )

    # then: refused (the handler returns, so Lambda does not retry), nothing written
    assert [r["status"] for r in result["reports"]] == ["refused"]
    assert counts(aws) == {}
    assert _no_report(aws, "stores/berlin.csv")
    [line] = [line for line in log_lines() if line.get("message") == "inventory event refused"]
    assert "ahead of the clock" in line["reason"]


def test_a_time_within_the_clock_skew_allowance_loads(aws):
    # given an event time a minute ahead (clocks differ by that much)
    upload(aws, "stores/berlin.csv", b"store,item,count\nberlin,apples,4\n")
    ahead = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    # when
    handler.lambda_handler(
        event_of(s3_record("stores/berlin.csv", event_time=ahead)), loader_context()
    )

    # then
    assert counts(aws) == {("berlin", "apples"): 4}


def test_a_continuation_past_the_files_last_record_is_refused_and_changes_nothing(aws):
    # given a loaded file
    upload(aws, "stores/berlin.csv", b"store,item,count\nberlin,apples,3\nberlin,pears,0\n")
    handler.lambda_handler(s3_put_event("stores/berlin.csv"), loader_context())
    before, report = table_items(aws), report_for(aws, "stores/berlin.csv")

    # when an event claims a part starting after records the file does not have
    forged = {
        **s3_record("stores/berlin.csv"),
        "inventoryContinuation": {"part": 2, "recordsDone": 50, "rowsWritten": 50},
    }
    result = handler.lambda_handler(event_of(forged), loader_context())

    # then
    assert [r["status"] for r in result["reports"]] == ["refused"]
    assert table_items(aws) == before
    assert report_for(aws, "stores/berlin.csv") == report


TIED_FILES = {
    "stores/berlin-a.csv": b"store,item,count\nberlin,apples,0\nberlin,pears,2\n",
    "stores/berlin-b.csv": b"store,item,count\nberlin,apples,5\nberlin,figs,1\n",
}


@pytest.mark.parametrize("first", sorted(TIED_FILES))
def test_two_files_of_one_store_in_the_same_millisecond_end_the_same_in_either_order(
    aws, lambda_client, first
):
    # given two files of one store that S3 received in the same millisecond
    versions = {key: upload(aws, key, body) for key, body in TIED_FILES.items()}
    second = next(key for key in TIED_FILES if key != first)

    # when they are loaded in either order, then each delivered again
    for key in (first, second):
        run_until_done(lambda_client, s3_put_event(key))
    settled = table_items(aws)
    for key in (first, second):
        run_until_done(lambda_client, s3_put_event(key))

    # then the file with the greater order token holds the rows both name, whichever was
    # loaded first, and delivering either again changes nothing
    winner = max(TIED_FILES, key=lambda k: order_token(SNAPSHOT_AT, k, "0", versions[k]))
    expected_apples = 0 if winner.endswith("-a.csv") else 5
    assert counts(aws) == {
        ("berlin", "apples"): expected_apples,
        ("berlin", "pears"): 2,
        ("berlin", "figs"): 1,
    }
    assert table_items(aws)[("berlin", "apples")]["source"]["S"].endswith(winner)
    assert table_items(aws) == settled


def test_a_file_unfinished_after_its_last_allowed_part_ends_with_a_report_naming_the_line(
    aws, lambda_client, monkeypatch
):
    # given a loader allowed two parts, each stopping after 1,000 records, and a 2,500-row file
    monkeypatch.setattr(loading, "MAX_PARTS", 2)
    rows = "".join(f"oslo,item-{n},{n}\n" for n in range(1, 2501))
    upload(aws, "stores/oslo.csv", f"store,item,count\n{rows}".encode())

    # when
    handled = run_until_done(lambda_client, s3_put_event("stores/oslo.csv"))

    # then: no third invocation; what was written stays; the rest is counted, not lost
    assert len(handled) == 2
    assert len(counts(aws)) == 2000
    report = report_for(aws, "stores/oslo.csv")
    assert report["status"] == "partially_loaded"
    assert (report["rows_loaded"], report["rows_not_reached"]) == (2000, 500)
    assert report["lines_read"] == 2500
    assert "did not finish loading in 2 invocations" in report["file_error"]["reason"]
    assert report["file_error"]["line"] == 2002  # the first row not written (header is line 1)


def test_the_report_records_the_event_time_and_the_order_it_was_loaded_in(aws):
    # given
    upload(aws, "stores/berlin.csv", b"store,item,count\nberlin,apples,3\n")

    # when
    handler.lambda_handler(s3_put_event("stores/berlin.csv"), loader_context())

    # then: what a redelivery needs to be ordered as the original was
    source = report_for(aws, "stores/berlin.csv")["source"]
    assert source["snapshot_at"] == EVENT_TIME.replace("Z", "+00:00")
    assert source["sequencer"] == "0"
    assert source["order"].startswith(SNAPSHOT_AT)
