"""The forecast on constructed histories: least squares over the last 14 days of points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory.forecast import runs_out_in_days

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_a_steady_decline_runs_out_at_its_rate():
    # given 10 a day for 10 days, 30 left now
    points = [(days_ago(10 - day), 130 - 10 * day) for day in range(11)]
    # then
    assert runs_out_in_days(points, NOW) == pytest.approx(3.0)


def test_irregular_intervals_on_a_line_give_its_rate():
    # given 4 a day, sampled at uneven times: 20 left
    points = [(days_ago(age), round(20 + 4 * age)) for age in (9, 8.5, 5, 1.25, 0)]
    # then
    assert runs_out_in_days(points, NOW) == pytest.approx(5.0)


def test_a_restock_in_the_middle_slows_the_forecast_the_fit_is_over_every_point():
    # given two weeks of 10 a day, restocked to the top at day 7: 70 left
    points = [(days_ago(13 - day), 130 - 10 * (day % 7)) for day in range(14)]
    steady = [(days_ago(6 - day), 130 - 10 * day) for day in range(7)]
    # when
    forecast = runs_out_in_days(points, NOW)
    # then the jump up pulls the slope towards 0: later than the decline alone says
    assert forecast is not None
    assert forecast > runs_out_in_days(steady, NOW)  # type: ignore[operator]


@pytest.mark.parametrize(
    "points",
    [
        pytest.param([(days_ago(day), 40) for day in range(5)], id="flat"),
        pytest.param([(days_ago(5 - day), 10 + 3 * day) for day in range(6)], id="rising"),
        pytest.param([(days_ago(1), 40)], id="single-point"),
        pytest.param([], id="no-points"),
        pytest.param([(days_ago(1), 40), (days_ago(1), 20)], id="one-moment"),
        pytest.param([(days_ago(30), 100), (days_ago(20), 50), (days_ago(1), 40)], id="old"),
    ],
)
def test_no_decrease_is_not_decreasing(points):
    assert runs_out_in_days(points, NOW) is None


def test_points_older_than_14_days_do_not_count():
    # given a fast fall long ago, then 2 a day for the last week: 14 left
    old = [(days_ago(40), 1000), (days_ago(30), 500)]
    recent = [(days_ago(7 - day), 28 - 2 * day) for day in range(8)]
    # then
    assert runs_out_in_days(old + recent, NOW) == pytest.approx(7.0)


def test_an_item_already_out_runs_out_now():
    assert runs_out_in_days([(days_ago(2), 10), (days_ago(1), 0)], NOW) == 0.0


@given(
    rate=st.floats(0.5, 100),
    left=st.integers(0, 1000),
    # days ago, distinct at the clock's resolution (1e-38 days apart are one instant)
    ages=st.lists(
        st.integers(0, 13_900_000).map(lambda n: n / 1e6), min_size=2, max_size=20, unique=True
    ),
)
def test_any_exact_decline_runs_out_at_count_over_rate(rate, left, ages):
    # given points exactly on a line falling `rate` a day, `left` at the newest point
    newest = min(ages)
    points = [(days_ago(age), left + rate * (age - newest)) for age in ages]
    # when (counts are whole numbers in the table; the fit does not need them to be)
    forecast = runs_out_in_days(points, NOW)  # type: ignore[arg-type]
    # then
    assert forecast == pytest.approx(left / rate, rel=1e-6, abs=1e-6)
