"""When an item runs out at its recent rate. Pure Python, no AWS.

The rate is the least-squares slope of the item's count over time, fitted to its points of
the last 14 days (a point: a snapshot time and the count it stated). A slope at or above 0 is
"not decreasing" (None); otherwise the item runs out in current count / -slope days.
"""

from __future__ import annotations

from datetime import datetime, timedelta

WINDOW = timedelta(days=14)
SECONDS_A_DAY = 86_400.0


def runs_out_in_days(points: list[tuple[datetime, int]], now: datetime) -> float | None:
    """Days until the count reaches 0 at the slope of the last 14 days' points; None when
    there are fewer than 2 such points (at distinct times) or the count is not decreasing."""
    recent = sorted((at, count) for at, count in points if at >= now - WINDOW)
    if len(recent) < 2:
        return None
    start = recent[0][0]
    xs = [(at - start).total_seconds() / SECONDS_A_DAY for at, _ in recent]
    ys = [float(count) for _, count in recent]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None  # every point at one moment: no rate to read
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    if slope >= 0:
        return None
    return recent[-1][1] / -slope
