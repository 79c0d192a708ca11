"""The dashboard in a real browser: headless Chromium (the system's, driven by Playwright)
signs in, sees the uploaded data, filters, survives a reload, renders hostile names as text,
and signs out. Screenshots go to test-artifacts/.

Skips when Chromium or Playwright is missing, or the target has no dashboard, unless
REQUIRE_BROWSER is set (as .ci/run does), where that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError

from provision import dashboard_users, deploy
from provision.aws import Aws, Changes, wait_until
from tests.integration.support import PATIENCE, require_dashboard, unavailable

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HOSTILE = "<img src=x onerror=alert(1)>"
PASSWORD = "Browser-Test-Passw0rd"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Long enough for a refresh cycle (5 s) and a load on a machine four times slower than a good
# day; conditions, not sleeps, so a generous deadline costs nothing when the page is quick.
WAIT_MS = 60_000
# As in site/app.js: where the page keeps its session, and how long before expiry it renews.
SESSION_KEY = "inventory-dashboard-session"
REFRESH_MARGIN_MS = 60_000


def _missing(what: str) -> NoReturn:
    unavailable(
        f"{what}; install it to run the browser tests: `apt-get install -y chromium` "
        "(Debian package chromium) and `make venv` (playwright is in requirements-dev.txt)"
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _missing(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def dashboard_user(aws: Aws, stack: dict[str, Any]) -> dict[str, str]:
    """The dashboard and a user who may sign in to it, without uploading anything."""
    require_dashboard(stack)
    located = deploy.locate(aws, stack["stack"])
    dashboard_users.ensure_user(aws, located, "browser", PASSWORD, Changes())
    return {"url": stack["dashboard_url"]}


@pytest.fixture(scope="module")
def site(dashboard_user: dict[str, str], stack: dict[str, Any], pipeline: Any) -> dict[str, str]:
    """The dashboard, a user, and data: the lab's Berlin sample under a store name of this
    module's own (other tests count Berlin's alerts), and a store whose items include a name
    that is HTML."""
    samples = Path(__file__).resolve().parents[2] / "sample-data"
    sample_store = f"Berlin-{uuid.uuid4().hex[:6]}"
    sample = (samples / "berlin.csv").read_bytes().replace(b"Berlin,", f"{sample_store},".encode())
    pipeline.upload(f"browser/{sample_store}.csv", sample)
    store = f"Hostile-{uuid.uuid4().hex[:6]}"
    pipeline.upload(
        f"browser/{store}.csv",
        f'store,item,count\n{store},"{HOSTILE}",3\n{store},Echo Show,0\n'.encode(),
    )
    return {
        "url": stack["dashboard_url"],
        "store": store,
        "sample_store": sample_store,
        "uploads_bucket": stack["uploads_bucket"],
        "client_id": stack["dashboard"]["app_client_id"],
        "endpoint": (stack["endpoint"] or "").rstrip("/"),
    }


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context; fails the test on any console error (CSP violations are) or
    dialog (an injected script's alert would be)."""
    context = browser.new_context(viewport=DESKTOP)
    tab = context.new_page()
    tab.set_default_timeout(WAIT_MS)
    problems: list[str] = []
    tab.on(
        "dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss())
    )
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    tab.problems = problems
    yield tab
    context.close()
    assert problems == []


def sign_in_with_the_keyboard(page: Any, username: str, password: str) -> None:
    """Focus starts in the username field; Tab to the password; Enter submits."""
    from playwright.sync_api import expect

    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")


def sign_in_with_the_mouse(page: Any, username: str, password: str) -> None:
    """Click each field, type, click the button."""
    page.get_by_label("Username").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").click()
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_and_see_the_data(page: Any, site: dict[str, str]) -> None:
    """Open the dashboard, sign in with the keyboard, and wait for its first fetch."""
    from playwright.sync_api import expect

    page.goto(site["url"])
    sign_in_with_the_keyboard(page, "browser", PASSWORD)
    expect(page.locator("#last-fetched")).to_have_text(re.compile(r"^Last fetched "))


def sign_in_with_a_token_about_to_expire(page: Any, site: dict[str, str]) -> None:
    """Sign in, then make the stored token, as far as the page knows, expire in 30 s (inside
    the renewal margin), as after a laptop slept through the renewal timer."""

    sign_in_and_see_the_data(page, site)
    page.evaluate(
        """key => {
            const session = JSON.parse(sessionStorage.getItem(key));
            session.expiresAt = Date.now() + 30000;
            sessionStorage.setItem(key, JSON.stringify(session));
        }""",
        SESSION_KEY,
    )


def stored_session(page: Any) -> dict[str, Any]:
    """The session the page keeps in sessionStorage: tokens, and expiresAt in the page's time."""
    found: dict[str, Any] = json.loads(
        page.evaluate("key => sessionStorage.getItem(key)", SESSION_KEY) or "null"
    )
    return found


def wait_for_stored_access_token(page: Any, token: str) -> None:
    """Until the page has stored `token` (it does so once it has read Cognito's answer)."""
    page.wait_for_function(
        "([key, token]) => (JSON.parse(sessionStorage.getItem(key)) || {}).accessToken === token",
        arg=[SESSION_KEY, token],
        polling=100,
    )


def is_cognito_call(request: Any, action: str, auth_flow: str | None = None) -> bool:
    """True for the page's request to Cognito for `action` (and, for InitiateAuth, the flow)."""
    if request.headers.get("x-amz-target") != f"AWSCognitoIdentityProviderService.{action}":
        return False
    return auth_flow is None or json.loads(request.post_data or "{}").get("AuthFlow") == auth_flow


def is_token_renewal(response: Any) -> bool:
    return is_cognito_call(response.request, "InitiateAuth", "REFRESH_TOKEN_AUTH")


def is_items_request(request: Any) -> bool:
    return urlsplit(request.url).path.endswith("/items")


def bearer_token(request: Any) -> str:
    return str(request.headers.get("authorization", "")).removeprefix("Bearer ")


def renewed_access_token(renewal: Any) -> str:
    """The access token in Cognito's answer to REFRESH_TOKEN_AUTH."""
    return str(renewal.json()["AuthenticationResult"]["AccessToken"])


def rows_of(page: Any, store: str) -> Any:
    return page.locator("#items-body tr").filter(
        has=page.locator("td[data-label=Store]", has_text=re.compile(f"^{re.escape(store)}$"))
    )


def test_sign_in_see_filter_sort_reload_and_sign_out(page, site, pipeline):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)

    # given the sign-in page
    page.goto(site["url"])
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_focused()
    page.screenshot(path=ARTIFACTS / "dashboard-sign-in.png")

    # when a wrong password is tried
    sign_in_with_the_keyboard(page, "browser", "Wrong-Passw0rd-1")

    # then it says so, and stays (Cognito's 400 is expected here, and only here)
    expect(page.get_by_role("alert")).to_have_text("Incorrect username or password.")
    page.problems[:] = [found for found in page.problems if "status of 400" not in found]

    # when the user signs in with the keyboard
    page.get_by_label("Username").fill("")
    page.get_by_label("Username").focus()
    sign_in_with_the_keyboard(page, "browser", PASSWORD)

    # then the uploaded sample data shows, Berlin's zero-count row marked out of stock
    berlin_store = site["sample_store"]
    expect(page.get_by_role("heading", name="Stock levels")).to_be_visible()
    expect(page.locator("#whoami")).to_have_text("browser")
    berlin = rows_of(page, berlin_store)
    expect(berlin).to_have_count(3)
    echo_plus = berlin.filter(has_text="Echo Plus")
    expect(echo_plus.locator(".badge")).to_have_text("Out of stock")
    expect(echo_plus.locator("td[data-label=Count]")).to_have_text("0")
    expect(berlin.filter(has_text="Echo Dot").locator(".badge")).to_have_text("OK")
    expect(page.locator("#last-fetched")).to_have_text(re.compile(r"^Last fetched "))
    expect(page.locator("#card-low-hint")).to_have_text("(≤ 5)")
    expect(page.locator("#threshold-note")).to_contain_text("5 or fewer")
    expect(page.locator("#card-out")).not_to_have_text("–")

    # when filtered by store
    page.get_by_label("Store").select_option(berlin_store)

    # then only Berlin's rows remain, and the filter is in the address
    expect(page.locator("#items-body tr")).to_have_count(3)
    expect(page.locator("#card-items")).to_have_text("3")
    expect(page.locator("#card-out")).to_have_text("1")
    assert f"store={berlin_store}" in page.url
    page.screenshot(path=ARTIFACTS / "dashboard-desktop.png", full_page=True)

    # when sorted by count: highest first, then lowest first
    count_header = page.locator("th[data-sort=count]")
    page.get_by_role("button", name="Count").click()
    expect(count_header).to_have_attribute("aria-sort", "descending")
    expect(page.locator("#items-body tr").first.locator("td[data-label=Count]")).to_have_text("15")
    page.get_by_role("button", name="Count").press("Enter")
    expect(count_header).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("#items-body tr").first).to_contain_text("Echo Plus")

    # when Berlin's stock changes, the page refreshes itself
    pipeline.upload("browser/kindle.csv", f"store,item,count\n{berlin_store},Kindle,2\n".encode())

    # then the new row appears within a refresh cycle and the filter is still Berlin's
    expect(page.locator("#items-body tr").filter(has_text="Kindle")).to_have_count(1)
    expect(page.locator("#items-body tr")).to_have_count(4)
    expect(page.get_by_label("Store")).to_have_value(berlin_store)

    # when the page is reloaded
    page.reload()

    # then the session and the filter survive
    expect(page.get_by_role("heading", name="Stock levels")).to_be_visible()
    expect(page.get_by_label("Store")).to_have_value(berlin_store)
    expect(page.locator("#items-body tr")).to_have_count(4)

    # when the user signs out
    page.get_by_role("button", name="Sign out").click()

    # then the sign-in form is back, the session is gone, and a reload keeps it so
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#dashboard-view")).to_be_hidden()


def test_search_and_status_survive_a_reload_and_the_page_refetches_by_itself(page, site, pipeline):
    from playwright.sync_api import expect

    # given a store of this test's own whose item names carry a tag no other row has
    tag = uuid.uuid4().hex[:6]
    store = f"Lamps-{tag}"
    pipeline.upload(
        f"browser/{store}.csv",
        (
            "store,item,count\n"
            f"{store},Lamp {tag} small,3\n"
            f"{store},Lamp {tag} large,0\n"
            f"{store},Lamp {tag} desk,40\n"
            f"{store},Chair {tag},2\n"
        ).encode(),
    )
    page.goto(site["url"])
    sign_in_with_the_keyboard(page, "browser", PASSWORD)
    expect(page.locator("#last-fetched")).to_have_text(re.compile(r"^Last fetched "))
    rows = page.locator("#items-body tr")
    search = page.get_by_label("Search items")
    status = page.get_by_label("Status")
    page.get_by_label("Store").select_option(store)
    expect(rows_of(page, store)).to_have_count(4)

    # when the start of the lamps' names is typed (a prefix, case as in the names)
    search.press_sequentially(f"Lamp {tag}")

    # then only the three lamps show
    expect(rows.locator("td.item-name")).to_have_text(
        [f"Lamp {tag} desk", f"Lamp {tag} large", f"Lamp {tag} small"]
    )

    # when a status is chosen as well
    status.select_option("low")

    # then only the low lamp is left, and both filters are in the address
    expect(rows.locator("td.item-name")).to_have_text([f"Lamp {tag} small"])
    expect(rows.locator(".badge")).to_have_text(["Low"])
    assert parse_qs(urlsplit(page.url).fragment) == {
        "store": [store],
        "status": ["low"],
        "search": [f"Lamp {tag}"],
    }

    # when the page is reloaded
    page.reload()

    # then the filters are back in their fields, and still choose the same row
    expect(search).to_have_value(f"Lamp {tag}")
    expect(status).to_have_value("low")
    expect(rows.locator("td.item-name")).to_have_text([f"Lamp {tag} small"])

    # when the page refetches by itself (every 5 s), nobody touching it
    last_fetched = page.locator("#last-fetched")
    expect(last_fetched).to_have_text(re.compile(r"^Last fetched "))
    first_fetch = last_fetched.text_content()

    # then "Last fetched" moves on (it shows seconds; expect's own 5 s is one refresh cycle,
    # too tight), and the filters still hold
    expect(last_fetched).not_to_have_text(first_fetch, timeout=WAIT_MS)
    expect(last_fetched).to_have_text(re.compile(r"^Last fetched "))
    expect(search).to_have_value(f"Lamp {tag}")
    expect(rows.locator("td.item-name")).to_have_text([f"Lamp {tag} small"])


@pytest.mark.parametrize(
    ("sign_in", "outline"), [(sign_in_with_the_keyboard, "solid"), (sign_in_with_the_mouse, "none")]
)
def test_focus_shows_after_the_keyboard_and_not_after_the_mouse(page, site, sign_in, outline):
    # given the sign-in page
    from playwright.sync_api import expect

    page.goto(site["url"])

    # when the user signs in, with the keyboard or with the mouse
    sign_in(page, "browser", PASSWORD)

    # then focus moves to the heading either way; its ring shows only for the keyboard user
    title = page.get_by_role("heading", name="Stock levels")
    expect(title).to_be_focused()
    expect(title).to_have_css("outline-style", outline)
    if outline == "solid":
        expect(title).to_have_css("outline-width", "3px")


def test_a_name_that_is_html_shows_as_text_and_runs_nothing(page, site):
    from playwright.sync_api import expect

    # given a signed-in user
    page.goto(site["url"])
    sign_in_with_the_keyboard(page, "browser", PASSWORD)

    # when the hostile store's items are shown
    page.get_by_label("Store").select_option(site["store"])
    rows = page.locator("#items-body tr")
    expect(rows).to_have_count(2)

    # then the name is there, literally, as text; no element was made from it; nothing ran
    hostile = rows.filter(has_text="Echo Show").locator(".badge")
    expect(hostile).to_have_text("Out of stock")
    cell = page.locator("td.item-name", has_text="onerror")
    expect(cell).to_have_text(HOSTILE)
    # (the name is the button that opens the item's history: text inside it, nothing else)
    assert cell.locator("button").evaluate("b => b.innerHTML") == (
        "&lt;img src=x onerror=alert(1)&gt;"
    )
    assert page.locator("#items-body img").count() == 0
    assert page.locator("img").count() == 0
    assert page.problems == []  # no alert dialog, no page error


# ---------------------------------------------------------------- tokens


def test_the_token_is_renewed_before_it_expires_and_the_new_one_is_used(page, site):
    from playwright.sync_api import expect

    # given a signed-in page whose clock the test moves
    page.clock.install()
    sign_in_and_see_the_data(page, site)
    signed_in = stored_session(page)
    # and the tab hidden: the page then stops refetching, which would renew a stale token on
    # its own, so only the renewal timer can act
    page.evaluate(
        "Object.defineProperty(document, 'hidden', { configurable: true, get: () => true })"
    )

    # when the page's time jumps to 5 s past the renewal time (a minute before expiry)
    renewal_due_ms = signed_in["expiresAt"] - page.evaluate("Date.now()") - REFRESH_MARGIN_MS
    assert renewal_due_ms > 0
    with page.expect_response(is_token_renewal) as renewal:
        page.clock.fast_forward(renewal_due_ms + 5_000)

    # then Cognito renewed the tokens before they expired, and the page keeps the new ones
    assert renewal.value.ok
    assert page.evaluate("Date.now()") < signed_in["expiresAt"]
    new_token = renewed_access_token(renewal.value)
    assert new_token != signed_in["accessToken"]
    wait_for_stored_access_token(page, new_token)
    assert stored_session(page)["expiresAt"] > signed_in["expiresAt"]

    # when the tab is shown again, which refetches at once
    with page.expect_request(is_items_request) as next_items:
        page.evaluate(
            "delete document.hidden; document.dispatchEvent(new Event('visibilitychange'))"
        )

    # then that request carries the new token, and the API accepts it
    assert bearer_token(next_items.value) == new_token
    assert next_items.value.response().status == 200
    expect(page.get_by_role("heading", name="Stock levels")).to_be_visible()


def test_a_reload_with_a_token_about_to_expire_renews_it_before_the_first_request(page, site):
    from playwright.sync_api import expect

    # given a signed-in page whose stored token, as far as the page knows, expires in 30 s
    # (inside the renewal margin), as after a laptop slept through the renewal timer
    sign_in_with_a_token_about_to_expire(page, site)
    requests: list[tuple[str, str]] = []  # ("renewal", "") or ("items", its bearer), in order
    page.on(
        "request",
        lambda request: (
            requests.append(("renewal", ""))
            if is_cognito_call(request, "InitiateAuth", "REFRESH_TOKEN_AUTH")
            else requests.append(("items", bearer_token(request)))
            if is_items_request(request)
            else None
        ),
    )

    # when the page is reloaded
    with page.expect_response(is_token_renewal) as renewal:
        page.reload()
    expect(page.locator("#last-fetched")).to_have_text(re.compile(r"^Last fetched "))

    # then it renewed first, and asked for the items with the new token only
    new_token = renewed_access_token(renewal.value)
    assert requests[0] == ("renewal", "")
    assert {token for kind, token in requests if kind == "items"} == {new_token}


def test_a_page_that_slept_past_its_renewal_time_renews_once(page, site):

    # given a signed-in page whose clock the test moves, which counts its renewals
    page.clock.install()
    sign_in_and_see_the_data(page, site)
    signed_in = stored_session(page)
    renewals: list[Any] = []
    page.on(
        "request",
        lambda request: (
            renewals.append(request)
            if is_cognito_call(request, "InitiateAuth", "REFRESH_TOKEN_AUTH")
            else None
        ),
    )

    # when it wakes up past the renewal time: the renewal timer and the refresh's two
    # requests (summary and items) all find the token about to expire at once
    renewal_due_ms = signed_in["expiresAt"] - page.evaluate("Date.now()") - REFRESH_MARGIN_MS
    with page.expect_request(
        lambda request: (
            is_items_request(request) and bearer_token(request) != signed_in["accessToken"]
        )
    ) as next_items:
        page.clock.fast_forward(renewal_due_ms + 5_000)

    # then they shared one renewal, and the requests carry its token
    assert len(renewals) == 1
    assert bearer_token(next_items.value) == renewed_access_token(renewals[0].response())


def test_a_reload_while_cognito_is_unreachable_shows_the_data_once_it_is_back(page, site):
    from playwright.sync_api import expect

    # given a signed-in page whose token is about to expire, and Cognito out of reach
    sign_in_with_a_token_about_to_expire(page, site)

    def unreachable(route: Any) -> None:
        if is_cognito_call(route.request, "InitiateAuth"):
            route.abort("internetdisconnected")
        else:
            route.fallback()

    page.route("**/*", unreachable)

    # when the page is reloaded
    page.reload()

    # then it stays signed in and says it cannot refresh, rather than stopping
    expect(page.get_by_role("heading", name="Stock levels")).to_be_visible()
    expect(page.locator("#refresh-problem")).to_contain_text("Cannot reach the sign-in service")

    # when Cognito can be reached again
    page.unroute("**/*", unreachable)

    # then the next refresh (every 5 s) renews the token and shows the data, without a reload
    expect(page.locator("#last-fetched")).to_have_text(
        re.compile(r"^Last fetched "), timeout=WAIT_MS
    )
    expect(page.locator("#refresh-problem")).to_be_hidden()
    expect(rows_of(page, site["sample_store"]).first).to_be_visible()
    # (the browser logs each refused request as a console error: expected here)
    page.problems[:] = [
        found for found in page.problems if "ERR_INTERNET_DISCONNECTED" not in found
    ]


def test_an_api_401_renews_the_token_and_retries_once_then_signs_out(page, site):
    from playwright.sync_api import expect

    # given a signed-in page
    sign_in_and_see_the_data(page, site)
    signed_in = stored_session(page)
    # and an API that refuses the next request for the items, as it would a token that
    # expired early (a laptop's clock that drifted, say)
    items_tokens: list[str] = []  # the bearer of each request for the items, in order
    refused: list[str] = []

    def refuse_once(route: Any) -> None:
        items_tokens.append(bearer_token(route.request))
        if refused:
            route.fallback()
        else:
            refused.append(bearer_token(route.request))
            route.fulfill(status=401, json={"message": "Unauthorized"})

    page.route("**/items?*", refuse_once)

    # when the page fetches the items (choosing a status fetches at once)
    with page.expect_response(is_token_renewal) as renewal:
        page.get_by_label("Status").select_option("out")

    # then it renewed the token, asked again with the new one, and shows the answer
    new_token = renewed_access_token(renewal.value)
    expect(page.locator("#items-body tr").first.locator(".badge")).to_have_text("Out of stock")
    assert refused == [signed_in["accessToken"]]
    assert items_tokens[:2] == [signed_in["accessToken"], new_token]
    expect(page.get_by_role("heading", name="Stock levels")).to_be_visible()

    # when the API refuses the renewed token too
    page.unroute("**/items?*")
    page.route(
        "**/items?*", lambda route: route.fulfill(status=401, json={"message": "Unauthorized"})
    )
    page.get_by_label("Status").select_option("low")

    # then the session ends, saying so: one renewal and one retry, not a loop
    expect(page.get_by_role("alert")).to_have_text("Your session has ended. Please sign in again.")
    assert stored_session(page) is None
    # (the browser logs each 401 as a console error: expected here, and only here)
    page.problems[:] = [found for found in page.problems if "status of 401" not in found]


def test_sign_out_revokes_the_refresh_token(page, site, aws):
    from playwright.sync_api import expect

    # given a signed-in page, and its refresh token, which still renews tokens
    page.goto(site["url"])
    sign_in_with_the_keyboard(page, "browser", PASSWORD)
    expect(page.get_by_role("heading", name="Stock levels")).to_be_visible()
    refresh_token = stored_session(page)["refreshToken"]
    cognito = aws.client("cognito-idp")

    def renew_with_refresh_token() -> Any:
        return cognito.initiate_auth(
            ClientId=site["client_id"],
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )

    assert renew_with_refresh_token()["AuthenticationResult"]["AccessToken"]

    # when the user signs out
    with page.expect_response(
        lambda response: is_cognito_call(response.request, "RevokeToken")
    ) as revocation:
        page.get_by_role("button", name="Sign out").click()

    # then Cognito accepted the revocation, and refuses that refresh token from then on
    assert revocation.value.ok
    assert json.loads(revocation.value.request.post_data)["Token"] == refresh_token
    with pytest.raises(ClientError) as refused:
        renew_with_refresh_token()
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_phone_width_and_the_empty_table(browser, site):
    from playwright.sync_api import expect

    # given a phone-sized window, and an API that answers as for an empty table
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(site["url"])
        sign_in_with_the_keyboard(page, "browser", PASSWORD)
        expect(page.locator("#items-body tr").first).to_be_visible()

        # then everything fits the width: no sideways scrolling
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=ARTIFACTS / "dashboard-phone.png", full_page=False)

        # when the table is empty
        empty_summary = {
            "low_stock_threshold": 5,
            "totals": {
                "stores": 0,
                "items": 0,
                "out_of_stock": 0,
                "low_stock": 0,
                "units": 0,
                "last_updated": None,
            },
            "stores": [],
        }
        page.route("**/summary", lambda route: route.fulfill(json=empty_summary))
        page.route(
            "**/items?*",
            lambda route: route.fulfill(json={"items": [], "next": None, "low_stock_threshold": 5}),
        )
        page.get_by_label("Status").select_option("out")  # a refresh, now

        # then it says how to upload a file, with the command that works on this target
        expect(page.get_by_role("heading", name="No items yet")).to_be_visible()
        on_emulator = f" --endpoint-url {site['endpoint']}" if site["endpoint"] else ""
        expect(page.locator("#upload-hint")).to_have_text(
            f"aws s3 cp stock.csv s3://{site['uploads_bucket']}/{on_emulator}"
        )
        page.screenshot(path=ARTIFACTS / "dashboard-phone-empty.png")
    finally:
        context.close()


# ---------------------------------------------------------------- paging, history, forecast

PAGED_ITEMS = 250  # two full pages of 100 and a third of 50


def _summary_items(aws: Aws, summary_table: str, store: str) -> int | None:
    item = aws.dynamodb.get_item(TableName=summary_table, Key={"store": {"S": store}}).get("Item")
    return int(item["items"]["N"]) if item and "items" in item else None


@pytest.fixture(scope="module")
def seeded(aws: Aws, stack: dict[str, Any], dashboard_user: dict[str, str]) -> dict[str, str]:
    """A store of 250 items written straight into the inventory table (as the loader would),
    and items' histories with a forecast."""
    from bench.seed import Tables, seed_history, seed_store

    located = deploy.locate(aws, stack["stack"])
    tables = Tables(located.table, located.summary_table, located.history_table)
    store = f"Paged-{uuid.uuid4().hex[:6]}"
    counts = [0 if n % 50 == 0 else 20 + n for n in range(PAGED_ITEMS)]
    counts[7] = 3
    # The stack's track_stock counts the store from the stream; the history goes in after it
    # has, so that its `~latest` items are the seeded ones.
    seed_store(aws.dynamodb, tables, store, counts, threshold=5, with_summary=False)
    wait_until(
        lambda: _summary_items(aws, tables.summary, store) == PAGED_ITEMS,
        PATIENCE,
        f"the summary to count the {PAGED_ITEMS} items of {store}",
    )
    changes = [
        ("2026-11-25T08:00:00.000Z", 40, f"s3://uploads/{store}-1.csv"),
        ("2026-11-27T08:00:00.000Z", 25, f"s3://uploads/{store}-2.csv"),
        ("2026-11-29T08:00:00.000Z", 12, f"s3://uploads/{store}-3.csv"),
        ("2026-12-01T08:00:00.000Z", 3, f"s3://uploads/{store}-4.csv"),
    ]
    seed_history(aws.dynamodb, tables, store, "item-000007", changes, runs_out_in_days=0.3)
    seed_history(aws.dynamodb, tables, store, "item-000003", changes[:1], runs_out_in_days=None)
    seed_history(aws.dynamodb, tables, store, "item-000002", changes[:2], runs_out_in_days=12.4)
    return {"store": store, "url": dashboard_user["url"]}


def test_paging_through_a_store_a_page_at_a_time(page, seeded):
    from playwright.sync_api import expect

    # given a signed-in user
    sign_in_and_see_the_data(page, seeded)
    items_requests: list[str] = []
    page.on("request", lambda r: items_requests.append(r.url) if is_items_request(r) else None)

    # when the seeded store is chosen
    page.get_by_label("Store").select_option(seeded["store"])

    # then the first 100 of 250 show, from one request
    rows = page.locator("#items-body tr")
    expect(page.locator("#page-range")).to_have_text(f"1–100 of {PAGED_ITEMS}")
    expect(rows).to_have_count(100)
    expect(page.get_by_role("button", name="Previous")).to_be_disabled()

    # when the user goes to the next page, and the last
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#page-range")).to_have_text(f"101–200 of {PAGED_ITEMS}")
    expect(rows.first.locator("td.item-name")).to_have_text("item-000100")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#page-range")).to_have_text(f"201–250 of {PAGED_ITEMS}")
    expect(rows).to_have_count(50)
    expect(page.get_by_role("button", name="Next")).to_be_disabled()

    # then every request asked for one page of 100, never more
    assert all(parse_qs(urlsplit(url).query).get("limit") == ["100"] for url in items_requests)

    # when the page refreshes by itself, and the user goes back
    refreshed = len(items_requests)
    expect(page.locator("#last-fetched")).not_to_have_text(
        page.locator("#last-fetched").text_content() or "", timeout=WAIT_MS
    )
    assert len(items_requests) > refreshed
    # the refresh re-read the page on screen (it carries that page's cursor)
    assert "next" in parse_qs(urlsplit(items_requests[-1]).query)
    expect(page.locator("#page-range")).to_have_text(f"201–250 of {PAGED_ITEMS}")
    page.get_by_role("button", name="Previous").click()
    expect(page.locator("#page-range")).to_have_text(f"101–200 of {PAGED_ITEMS}")


def test_an_item_opens_to_its_history_chart_files_and_forecast(page, seeded):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    # given a signed-in user on the seeded store
    sign_in_and_see_the_data(page, seeded)
    page.get_by_label("Store").select_option(seeded["store"])

    # when the item with a history is opened
    page.get_by_role("button", name="item-000007", exact=True).click()

    # then its chart (drawn by the page: an SVG path through four points), the files that
    # changed it newest first, its forecast and its threshold show
    view = page.locator("#item-view")
    expect(view.get_by_role("heading", name=f"item-000007 · {seeded['store']}")).to_be_visible()
    expect(view.locator("#item-forecast")).to_have_text("Runs out in less than a day")
    expect(view.locator("#item-threshold")).to_contain_text("Low at 5 or fewer")
    expect(view.locator("#item-chart circle")).to_have_count(4)
    expect(view.locator("#item-chart path.line")).to_have_attribute("d", re.compile(r"^M.*H.*V"))
    changes = view.locator("#item-changes li")
    expect(changes).to_have_count(4)
    expect(changes.first).to_contain_text("12 → 3")
    expect(changes.first.locator(".source")).to_have_text(f"{seeded['store']}-4.csv")
    expect(changes.last).to_contain_text("new → 40")
    view.screenshot(path=ARTIFACTS / "dashboard-history-chart.png")

    # when an item that is not decreasing is opened
    page.get_by_role("button", name="item-000003", exact=True).click()

    # then it says so
    expect(view.locator("#item-forecast")).to_have_text("Not decreasing")


def test_the_forecast_column_sorts_the_page_soonest_first(page, seeded):
    from playwright.sync_api import expect

    # given the seeded store's first page
    sign_in_and_see_the_data(page, seeded)
    page.get_by_label("Store").select_option(seeded["store"])
    rows = page.locator("#items-body tr")
    expect(rows).to_have_count(100)

    # when sorted by the forecast
    page.get_by_role("button", name="Runs out in").click()

    # then the soonest first, those without a forecast after
    forecasts = rows.locator("td.forecast")
    expect(forecasts.nth(0)).to_have_text("under a day")
    expect(forecasts.nth(1)).to_have_text("12 days")
    expect(forecasts.nth(2)).to_have_text("–")
    expect(rows.nth(0).locator("td.item-name")).to_have_text("item-000007")
