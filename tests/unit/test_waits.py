"""wait_until: a deadline that a wait for slow but advancing work keeps moving, on a fake
clock (no real time passes)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from provision.aws import wait_until


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """time.monotonic and time.sleep as provision.aws sees them: sleeping advances the clock."""
    state = SimpleNamespace(now=0.0)

    def sleep(seconds: float) -> None:
        state.now += seconds

    monkeypatch.setattr(
        "provision.aws.time", SimpleNamespace(monotonic=lambda: state.now, sleep=sleep)
    )
    return state


def test_without_progress_the_wait_fails_at_its_deadline(clock):
    # given work that never finishes
    # when / then
    with pytest.raises(TimeoutError, match="timed out after 10s waiting for the report"):
        wait_until(lambda: False, 10, "the report")
    assert 10 <= clock.now <= 13


def test_work_that_keeps_advancing_gets_more_than_the_timeout(clock):
    # given work that advances every 8 s and finishes after 100 s
    def parts() -> int:
        return int(clock.now // 8)

    # when: 10 s without advancing would fail
    wait_until(lambda: clock.now >= 100, 10, "the last part", progress=parts)

    # then it waited the whole 100 s
    assert clock.now >= 100


def test_work_that_stops_advancing_fails_a_timeout_after_its_last_step(clock):
    # given work that advances for 30 s, then stops
    def parts() -> int:
        return int(min(clock.now, 30) // 5)

    # when / then: it fails about 10 s after the last step, naming where it stopped
    with pytest.raises(TimeoutError, match=r"the last part \(stopped at 6\)"):
        wait_until(lambda: False, 10, "the last part", progress=parts)
    assert 40 <= clock.now <= 44  # polls are up to 2 s apart
