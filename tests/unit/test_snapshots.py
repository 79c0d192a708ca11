"""Snapshot times and the order of a store's snapshots."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.snapshots import order_token, snapshot_time, too_far_ahead

# --- snapshot_time ---------------------------------------------------------------------------

LAST_MODIFIED = datetime(2026, 11, 22, 3, 5, 51, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event_time", "snapshot"),
    [
        pytest.param("2026-11-22T03:05:51.839Z", "2026-11-22T03:05:51.839+00:00", id="z-suffix"),
        pytest.param(
            "2026-11-22T03:05:51.839+00:00", "2026-11-22T03:05:51.839+00:00", id="utc-offset"
        ),
        pytest.param(
            "2026-11-22T05:05:51.839+02:00", "2026-11-22T03:05:51.839+00:00", id="east-offset"
        ),
        pytest.param(
            "2026-11-21T22:05:51.839-05:00", "2026-11-22T03:05:51.839+00:00", id="west-offset"
        ),
        pytest.param("2026-11-22T03:05:51Z", "2026-11-22T03:05:51.000+00:00", id="no-millis"),
        pytest.param(
            "2026-11-22T03:05:51.839512Z", "2026-11-22T03:05:51.839+00:00", id="micros-cut"
        ),
        pytest.param(
            "2026-11-22T23:59:59.999-01:00", "2026-11-23T00:59:59.999+00:00", id="next-day"
        ),
    ],
)
def test_snapshot_time_is_the_event_time_in_utc_to_the_millisecond(
    event_time: str, snapshot: str
) -> None:
    # given an S3 event time, written one way or another
    # when
    result = snapshot_time(event_time, LAST_MODIFIED)
    # then
    assert result == snapshot


@pytest.mark.parametrize("event_time", [None, ""], ids=["absent", "empty"])
def test_snapshot_time_without_an_event_time_is_the_objects_last_modified(
    event_time: str | None,
) -> None:
    # given
    # when
    result = snapshot_time(event_time, LAST_MODIFIED)
    # then
    assert result == "2026-11-22T03:05:51.000+00:00"


def test_snapshot_time_converts_a_last_modified_with_an_offset_to_utc() -> None:
    # given
    paris = timezone(timedelta(hours=1))
    last_modified = datetime(2026, 11, 22, 4, 5, 51, 250_000, tzinfo=paris)
    # when
    result = snapshot_time(None, last_modified)
    # then
    assert result == "2026-11-22T03:05:51.250+00:00"


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set the process's local time zone (as a container's TZ would); restored after."""

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        assert (time.timezone != 0) == (zone != "UTC"), "the zone did not take: nothing proved"

    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize(
    ("event_time", "snapshot"),
    [
        pytest.param("2026-11-22T03:05:51.839", "2026-11-22T03:05:51.839+00:00", id="millis"),
        pytest.param("2026-11-22T03:05:51", "2026-11-22T03:05:51.000+00:00", id="seconds"),
        pytest.param("2026-11-22T23:59:59.999", "2026-11-22T23:59:59.999+00:00", id="late"),
    ],
)
def test_snapshot_time_reads_an_event_time_without_a_zone_as_utc(
    event_time: str, snapshot: str, zone: str, local_zone: Callable[[str], None]
) -> None:
    # given: an event time with no offset, and a container whose local zone is `zone`
    local_zone(zone)
    # when
    result = snapshot_time(event_time, LAST_MODIFIED)
    # then: S3 speaks UTC, so the container's zone changes nothing
    assert result == snapshot


def test_snapshot_time_reads_a_last_modified_without_a_zone_as_utc(
    local_zone: Callable[[str], None],
) -> None:
    # given: no event time, a naive Last-Modified, a container east of UTC
    local_zone("Asia/Kolkata")
    # when
    result = snapshot_time(None, datetime(2026, 11, 22, 3, 5, 51, 250_000))
    # then
    assert result == "2026-11-22T03:05:51.250+00:00"


def test_a_naive_event_time_sorts_with_the_same_moment_written_in_utc() -> None:
    # given
    naive, zulu = "2026-11-22T03:05:51.839", "2026-11-22T03:05:51.839Z"
    # when
    results = (snapshot_time(naive, LAST_MODIFIED), snapshot_time(zulu, LAST_MODIFIED))
    # then: one text for one moment, so the claim's condition sees them as equal
    assert results[0] == results[1]


def test_snapshot_times_sort_as_text_in_time_order() -> None:
    # given moments written with different offsets, shuffled
    moments = [
        "2026-11-22T05:05:51.839+02:00",  # 03:05:51.839Z
        "2026-11-22T03:05:51.840Z",
        "2026-11-21T22:05:52-05:00",  # 03:05:52.000Z
        "2026-11-22T03:05:51.838Z",
        "2026-11-22T02:06:00+00:00",
    ]
    # when
    snapshots = [snapshot_time(moment, LAST_MODIFIED) for moment in moments]
    # then: comparing the text (as DynamoDB's condition does) compares the times
    by_text = sorted(range(len(moments)), key=lambda n: snapshots[n])
    by_time = sorted(
        range(len(moments)),
        key=lambda n: datetime.fromisoformat(moments[n].replace("Z", "+00:00")),
    )
    assert by_text == by_time


# --- the order of a store's snapshots ----------------------------------------------------------

NOON = "2026-12-03T12:00:00.000+00:00"


def test_a_later_snapshot_time_orders_after_whatever_the_other_parts() -> None:
    earlier = order_token(NOON, "zzz.csv", "FFFFFFFFFFFFFFFFFF", "v9")
    later = order_token("2026-12-03T12:00:00.001+00:00", "aaa.csv", "00", "v0")
    assert earlier < later


def test_two_files_in_the_same_millisecond_stand_in_one_order_every_time() -> None:
    # given two keys uploaded in the same millisecond
    first = order_token(NOON, "stores/berlin-am.csv", "0055AED6DCD90281E5", None)
    second = order_token(NOON, "stores/berlin-pm.csv", "0055AED6DCD90281E6", None)

    # then they differ, and every delivery of each has the same token
    assert first != second
    assert first == order_token(NOON, "stores/berlin-am.csv", "0055AED6DCD90281E5", None)


@given(
    a=st.text("0123456789ABCDEF", min_size=1, max_size=24),
    b=st.text("0123456789ABCDEF", min_size=1, max_size=24),
)
def test_events_of_one_key_order_as_s3_says_their_sequencers_do(a: str, b: str) -> None:
    # given two sequencers of one key (AWS: right pad the shorter with zeros, then compare)
    width = max(len(a), len(b))
    s3_order = (a.ljust(width, "0") > b.ljust(width, "0")) - (
        a.ljust(width, "0") < b.ljust(width, "0")
    )

    # when
    token_a = order_token(NOON, "k.csv", a, "v1")
    token_b = order_token(NOON, "k.csv", b, "v1")

    # then
    assert ((token_a > token_b) - (token_a < token_b)) == s3_order


def test_a_lower_case_sequencer_orders_as_its_upper_case() -> None:
    assert order_token(NOON, "k.csv", "00ab", None) == order_token(NOON, "k.csv", "00AB", None)


def test_what_is_still_tied_is_ordered_by_version() -> None:
    # given one key's two versions, replayed without sequencers
    one = order_token(NOON, "k.csv", None, "version-1")
    two = order_token(NOON, "k.csv", None, "version-2")
    assert one != two


@pytest.mark.parametrize("sequencer", ["not hex!", "F" * 33])
def test_a_sequencer_that_is_not_s3s_counts_as_none(sequencer: str) -> None:
    assert order_token(NOON, "k.csv", sequencer, "v") == order_token(NOON, "k.csv", None, "v")


@pytest.mark.parametrize(
    ("ahead", "refused"),
    [(timedelta(0), False), (timedelta(minutes=14), False), (timedelta(minutes=16), True)],
)
def test_a_snapshot_time_far_ahead_of_the_clock_is_not_trusted(
    ahead: timedelta, refused: bool
) -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    taken_at = snapshot_time((now + ahead).isoformat(), now)
    assert too_far_ahead(taken_at, now) is refused
