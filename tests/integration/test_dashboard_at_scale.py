"""The dashboard at a chain's size, in a real browser: 100,000 items in 50 stores, paged 100 at
a time across stores and by status, with the totals from the summary.

A stack of its own, its tables seeded directly (bench.dashboard.seed_chain, summary included)
and without track_stock: recounting 100,000 seeded stream records would hold up the rest of
the session's alerts on MiniStack, whose one stream poller serves every mapping in turn.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bench.dashboard import CHAIN_STORES, counts, seed_chain, shares
from bench.seed import Tables
from provision import dashboard_users, deploy
from provision.aws import Aws, Changes
from provision.stack import Settings
from tests.integration import test_dashboard_browser as in_the_browser
from tests.integration.support import require_dashboard
from tests.integration.test_dashboard_browser import (
    PASSWORD,
    is_items_request,
    sign_in_with_the_keyboard,
)

# The browser tests' Chromium and their page (which fails a test on any console error).
browser = in_the_browser.browser
page = in_the_browser.page

CHAIN_ITEMS = 100_000


@pytest.fixture(scope="module")
def chain(aws: Aws) -> Iterator[dict[str, Any]]:
    """A dashboard stack of 100,000 items and a user who may sign in to it."""
    located = deploy.locate(aws, f"chain-{uuid.uuid4().hex[:6]}")
    try:
        outputs = deploy.up(aws, located, Settings(stock_tracking=False))
        require_dashboard(outputs)
        dashboard_users.ensure_user(aws, located, "browser", PASSWORD, Changes())
        tables = Tables(located.table, located.summary_table, located.history_table)
        seed_chain(aws.dynamodb, tables, CHAIN_ITEMS)
        yield {"url": outputs["dashboard_url"]}
    finally:
        deploy.destroy(aws, located)


def test_a_chain_of_100000_items_pages_100_at_a_time_across_stores_and_by_status(page, chain):
    from playwright.sync_api import expect

    # given a signed-in user
    items_requests: list[str] = []
    page.on("request", lambda r: items_requests.append(r.url) if is_items_request(r) else None)
    page.goto(chain["url"])
    sign_in_with_the_keyboard(page, "browser", PASSWORD)

    # then the first screen is the first 100 of every store's items, counted by the summary
    rows = page.locator("#items-body tr")
    expect(page.locator("#page-range")).to_have_text(f"1–100 of {CHAIN_ITEMS:,}")
    expect(rows).to_have_count(100)
    expect(rows.first.locator("td.item-name")).to_have_text("item-000000")
    expect(page.get_by_label("Store").locator("option")).to_have_count(CHAIN_STORES + 1)

    # when the user goes to the next page, and back
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#page-range")).to_have_text(f"101–200 of {CHAIN_ITEMS:,}")
    expect(rows.first.locator("td.item-name")).to_have_text("item-000100")
    page.get_by_role("button", name="Previous").click()
    expect(page.locator("#page-range")).to_have_text(f"1–100 of {CHAIN_ITEMS:,}")

    # when the out-of-stock items are chosen: a page of them, out of the summary's count
    page.get_by_label("Status").select_option("out")
    expect(page.locator("#page-range")).to_have_text(f"1–100 of {out_of_stock():,}")
    expect(rows).to_have_count(100)
    expect(rows.locator(".badge-out")).to_have_count(100)

    # then every request asked for one page of 100, never more
    assert items_requests
    assert all(parse_qs(urlsplit(url).query).get("limit") == ["100"] for url in items_requests)


def out_of_stock() -> int:
    """How many of the seeded chain's items are at 0."""
    return sum(
        counts(number, items).count(0)
        for number, items in enumerate(shares(CHAIN_ITEMS, CHAIN_STORES))
    )
