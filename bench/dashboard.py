"""The bench's Dashboard section: on a stack of its own, seeded straight into its tables
(bench.seed) with 1,000, 10,000 and 100,000 items, the latency of GET /summary and of the first
GET /items page, signed in as a real Cognito user; and, at the largest size, the first screen
in Chromium (from pressing Enter on the sign-in form to the first page of rows on screen)."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from bench import stats
from bench.seed import Tables, seed_store
from provision import dashboard_users, deploy
from provision.aws import Aws, Changes
from provision.stack import Settings

# A chain of 50 stores at every size (2,000 items each at 100,000), so what grows from one
# size to the next is the items, as the targets ask, not the summary's stores.
CHAIN_STORES = 50
USER = "bench"
PASSWORD = "Bench-Dashboard-Passw0rd"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
THRESHOLD = Settings().low_stock_threshold


def shares(items: int, stores: int) -> list[int]:
    """`items` split between at most `stores` stores, as evenly as it goes."""
    stores = max(1, min(stores, items))
    return [items // stores + (1 if n < items % stores else 0) for n in range(stores)]


def seed_chain(dynamodb: Any, tables: Tables, size: int) -> None:
    """`size` items in CHAIN_STORES stores (store-000, ...), with their summary items. Each
    store grows to its share: its first items are those a smaller size gave it."""
    for number, items in enumerate(shares(size, CHAIN_STORES)):
        seed_store(dynamodb, tables, f"store-{number:03}", counts(number, items), THRESHOLD)


def counts(store_number: int, items: int) -> list[int]:
    """A store's counts: about 1 in 50 out of stock, 1 in 10 low, the rest in stock."""
    return [(store_number * 7 + n * 13) % 100 for n in range(items)]


def sign_in(aws: Aws, client_id: str) -> str:
    """An access token for the bench user, as the page gets one (USER_PASSWORD_AUTH)."""
    answer = aws.client("cognito-idp").initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": USER, "PASSWORD": PASSWORD},
    )
    return str(answer["AuthenticationResult"]["AccessToken"])


def timed_get(url: str, token: str) -> float:
    """Seconds for one signed-in GET, its body read; a non-200 is an error."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (our API)
        json.loads(response.read())
    return time.perf_counter() - started


def measure(
    aws: Aws,
    name: str,
    sizes: Sequence[int],
    samples: int,
    browser: bool,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Deploy a dashboard stack `name`, grow it through `sizes` (items), measure each size;
    the stack is removed at the end."""
    stack = deploy.locate(aws, name)
    changes = Changes()
    say(f"dashboard: deploying {name}")
    # Seeded directly, figures and all (bench.seed): no stream consumer recounts them.
    outputs = deploy.up(aws, stack, Settings(stock_tracking=False), changes=changes)
    results: dict[str, Any] = {"stores": CHAIN_STORES, "samples": samples, "sizes": {}}
    try:
        if not outputs.get("dashboard_url"):
            results["skipped"] = outputs.get("dashboard", {}).get("skipped", "no dashboard")
            return results
        dashboard_users.ensure_user(aws, stack, USER, PASSWORD, Changes())
        token = sign_in(aws, outputs["dashboard"]["app_client_id"])
        api = outputs["dashboard"]["api_url"].rstrip("/")
        tables = Tables(stack.table, stack.summary_table, stack.history_table)
        for size in sorted(sizes):
            started = time.monotonic()
            seed_chain(aws.dynamodb, tables, size)
            say(f"dashboard: {size:,} items seeded in {time.monotonic() - started:.1f} s")
            for url in (f"{api}/summary", f"{api}/items?limit=100"):
                timed_get(url, token)  # a warm function: the figures measure reading
            results["sizes"][str(size)] = {
                "summary": stats.summary(
                    [timed_get(f"{api}/summary", token) for _ in range(samples)]
                ),
                "items": stats.summary(
                    [timed_get(f"{api}/items?limit=100", token) for _ in range(samples)]
                ),
            }
            say(f"dashboard: {size:,} items measured")
        if browser:
            runs = max(3, samples // 10)
            results["first_screen_s"] = first_screen(outputs["dashboard_url"], runs)
            results["first_screen_items"] = max(sizes)
    finally:
        say(f"dashboard: removing {name}")
        deploy.destroy(aws, stack, Changes())
    return results


def first_screen(url: str, runs: int) -> dict[str, float | int]:
    """Seconds from pressing Enter on the sign-in form to the first page of rows and its
    "1–100 of N", in fresh browser contexts."""
    from playwright.sync_api import expect, sync_playwright

    seconds = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            for _ in range(runs):
                context = browser.new_context()
                page = context.new_page()
                page.goto(url)
                page.get_by_label("Username").fill(USER)
                page.get_by_label("Password").fill(PASSWORD)
                started = time.perf_counter()
                page.get_by_label("Password").press("Enter")
                expect(page.locator("#items-body tr").first).to_be_visible(timeout=60_000)
                expect(page.locator("#page-range")).to_contain_text(" of ", timeout=60_000)
                seconds.append(time.perf_counter() - started)
                context.close()
        finally:
            browser.close()
    return stats.summary(seconds)
