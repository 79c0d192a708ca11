"""The integration suite's rule for a target that lacks the dashboard: skip saying why, except
under REQUIRE_BROWSER (.ci/run), where the dashboard tests must run and a skip is a failure."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from provision.dashboard import UNSUPPORTED
from tests.integration.support import require_dashboard

WITHOUT_DASHBOARD = {"dashboard_url": None, "dashboard": {"skipped": UNSUPPORTED}}


def outcome_of(call: Callable[[], None]) -> tuple[str, str]:
    """How pytest would end a test that makes this call: passed, skipped or failed, and why.

    Caught here, not left to pytest.raises, because an unexpected skip would skip this test
    too instead of failing it.
    """
    try:
        call()
    except pytest.skip.Exception as skipped:
        return "skipped", str(skipped.msg)
    except pytest.fail.Exception as failed:
        return "failed", str(failed.msg)
    return "passed", ""


def test_a_target_without_a_dashboard_skips_saying_why(monkeypatch):
    # given a local run
    monkeypatch.delenv("REQUIRE_BROWSER", raising=False)

    # when
    outcome = outcome_of(lambda: require_dashboard(WITHOUT_DASHBOARD))

    # then
    assert outcome == ("skipped", f"the target has no dashboard: {UNSUPPORTED}")


def test_under_require_browser_a_target_without_a_dashboard_fails_saying_why(monkeypatch):
    # given CI, where the dashboard tests must run
    monkeypatch.setenv("REQUIRE_BROWSER", "1")

    # when
    outcome = outcome_of(lambda: require_dashboard(WITHOUT_DASHBOARD))

    # then
    assert outcome == (
        "failed",
        f"REQUIRE_BROWSER is set but the target has no dashboard: {UNSUPPORTED}",
    )


def test_a_target_with_a_dashboard_goes_on(monkeypatch):
    # given
    monkeypatch.setenv("REQUIRE_BROWSER", "1")
    with_dashboard = {"dashboard_url": "http://127.0.0.1:4566/site/index.html", "dashboard": {}}

    # when
    outcome = outcome_of(lambda: require_dashboard(with_dashboard))

    # then
    assert outcome == ("passed", "")
