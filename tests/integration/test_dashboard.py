"""The dashboard's API and site on a real target: who gets in (only a signed-in user of the
stack's pool, with an unexpired, genuinely signed access token), what they get (the uploaded
items), from where (CORS for the site's origin only), and what the site bucket shows."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from provision import (
    dashboard,
    dashboard_api,
    dashboard_cognito,
    dashboard_users,
    deploy,
    description,
)
from provision.aws import Aws, Changes, wait_until
from provision.emulator import enforce_iam_from_environment
from provision.model import People
from provision.stack import Settings
from provision.uploads import upload_and_wait_for_report
from tests.integration.support import PATIENCE, is_ministack, require_dashboard

_PASSWORD = "Integration-Test-1"


@dataclass(frozen=True)
class Dashboard:
    url: str
    api_url: str
    pool_id: str
    client_id: str
    origin: str
    bucket: str


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def http(
    url: str, token: str | None = None, method: str = "GET", headers: dict[str, str] | None = None
) -> Answer:
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw, found = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, found = error.code, error.read(), error.headers
    lowered = {name.lower(): value for name, value in found.items()}
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw
    return Answer(status, lowered, body)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(unb64url(header)), json.loads(unb64url(payload))


def sign_rs256(header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def sign_in(aws: Aws, client_id: str, username: str, password: str) -> dict[str, str]:
    result = aws.client("cognito-idp").initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    tokens: dict[str, str] = result["AuthenticationResult"]
    return tokens


@pytest.fixture(scope="session")
def board(stack: dict[str, Any]) -> Dashboard:
    """The session stack's dashboard; the tests skip where the target has none (and fail so
    under REQUIRE_BROWSER)."""
    require_dashboard(stack)
    details = stack["dashboard"]
    parts = urlsplit(stack["dashboard_url"])
    return Dashboard(
        url=stack["dashboard_url"],
        api_url=details["api_url"],
        pool_id=details["user_pool_id"],
        client_id=details["app_client_id"],
        origin=f"{parts.scheme}://{parts.netloc}",
        bucket=details["site_bucket"],
    )


@pytest.fixture(scope="session")
def user(aws: Aws, stack: dict[str, Any], board: Dashboard) -> tuple[str, str]:
    """A dashboard user of the session's stack: (username, password)."""
    located = deploy.locate(aws, stack["stack"])
    dashboard_users.ensure_user(aws, located, "staff", _PASSWORD, Changes())
    return "staff", _PASSWORD


@pytest.fixture(scope="session")
def tokens(aws: Aws, board: Dashboard, user: tuple[str, str]) -> dict[str, str]:
    return sign_in(aws, board.client_id, *user)


@pytest.fixture
def other_pool(aws: Aws) -> Iterator[dict[str, str]]:
    """A second user pool and app client with a user, as another stack or tenant would have."""
    cognito = aws.client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName=f"other-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    try:
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="other",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(
            UserPoolId=pool_id,
            Username="staff",
            TemporaryPassword=_PASSWORD,
            MessageAction="SUPPRESS",
        )
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username="staff", Password=_PASSWORD, Permanent=True
        )
        yield sign_in(aws, client_id, "staff", _PASSWORD)
    finally:
        cognito.delete_user_pool(UserPoolId=pool_id)


# ---------------------------------------------------------------- 401s


@pytest.mark.parametrize("path", ["/items", "/summary"])
def test_no_token_is_a_401(board, path):
    # given / when
    answer = http(board.api_url + path)

    # then
    assert answer.status == 401


@pytest.mark.parametrize("header", ["Bearer", "Bearer not-a-jwt", "Basic c3RhZmY6cGFzcw=="])
def test_a_malformed_authorization_header_is_a_401(board, header):
    # given / when
    answer = http(board.api_url + "/items", headers={"Authorization": header})

    # then
    assert answer.status == 401


def test_a_forged_token_is_a_401(board, tokens):
    # given: the real token's header and claims, signed with the forger's own key, and the
    # real token with its claims changed under the original signature, and unsigned
    header, claims = jwt_parts(tokens["AccessToken"])
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    resigned = sign_rs256(header, claims, forger)
    original_header, _, original_signature = tokens["AccessToken"].split(".")
    tampered_claims = b64url(json.dumps({**claims, "username": "admin"}).encode())
    tampered = f"{original_header}.{tampered_claims}.{original_signature}"
    unsigned = f"{b64url(json.dumps({**header, 'alg': 'none'}).encode())}.{tampered_claims}."

    # when
    answers = [
        http(board.api_url + "/items", token).status for token in (resigned, tampered, unsigned)
    ]

    # then
    assert answers == [401, 401, 401]
    # and the genuine token works, so it is the forgery being refused
    assert http(board.api_url + "/items", tokens["AccessToken"]).status == 200


def test_an_expired_token_is_a_401(endpoint, board, tokens):
    # given: the real token with `exp` a minute ago, signed with the pool's own key (only an
    # emulator lets a test read it), so expiry is the one thing wrong with it
    key = _emulator_pool_key(endpoint, board.pool_id, tokens["AccessToken"])
    header, claims = jwt_parts(tokens["AccessToken"])
    now = int(time.time())
    expired = sign_rs256(header, {**claims, "iat": now - 3660, "exp": now - 60}, key)
    still_valid = sign_rs256(header, {**claims, "exp": now + 600}, key)

    # when / then: the same key and claims with a future `exp` pass, the past one does not
    assert http(board.api_url + "/items", still_valid).status == 200
    assert http(board.api_url + "/items", expired).status == 401


def _emulator_pool_key(endpoint: str | None, pool_id: str, token: str) -> Any:
    """The private key MiniStack signs the pool's access tokens with.

    Skips where no test can hold the pool's key (AWS; an emulator other than MiniStack). On
    MiniStack the key is a file in its STATE_DIR, so not finding it is a failure: the test
    would otherwise stop proving anything without anyone noticing.
    """
    if endpoint is None:
        pytest.skip("on AWS no test can hold the pool's signing key to mint an expired token")
    if not is_ministack(endpoint):
        pytest.skip(f"{endpoint} is not MiniStack: its pool signing keys cannot be read here")
    state = Path(os.environ.get("STATE_DIR", "/tmp/ministack-state"))
    path = state / "cognito-pool-keys" / f"{pool_id}-access.pem"
    if not path.is_file():
        pytest.fail(
            f"MiniStack's signing key for pool {pool_id} is not at {path}: run the tests with "
            "STATE_DIR set as the emulator's is"
        )
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = base64.b64encode(hashlib.sha256(der).digest()).decode()
    if jwt_parts(token)[0].get("kid") != kid:
        pytest.fail(
            f"the key at {path} is not the one that signed the token: is STATE_DIR another "
            "MiniStack's?"
        )
    return key


def test_a_token_from_another_pool_is_a_401(board, other_pool):
    # given: a genuine sign-in at another pool, access and ID tokens
    # when
    answers = [
        http(board.api_url + "/items", other_pool[kind]).status
        for kind in ("AccessToken", "IdToken")
    ]

    # then
    assert answers == [401, 401]


def test_a_token_of_another_app_client_of_the_same_pool_is_a_401(aws, board, user):
    # given: the right pool and user, through a client the authorizer does not list
    cognito = aws.client("cognito-idp")
    client_id = cognito.create_user_pool_client(
        UserPoolId=board.pool_id,
        ClientName="not-the-site",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    try:
        token = sign_in(aws, client_id, *user)["AccessToken"]

        # when
        answer = http(board.api_url + "/items", token)
    finally:
        cognito.delete_user_pool_client(UserPoolId=board.pool_id, ClientId=client_id)

    # then
    assert answer.status == 401


@pytest.mark.parametrize("kind", ["IdToken", "RefreshToken"])
def test_only_access_tokens_are_accepted(board, tokens, kind):
    # given: an ID token passes the authorizer (its aud is the client), and so does MiniStack's
    # refresh token (a signed JWT there; opaque on AWS); the function refuses both
    # when
    answer = http(board.api_url + "/items", tokens[kind])

    # then
    assert answer.status == 401


# ---------------------------------------------------------------- signed in


def settled_summary(api_url: str, token: str, store: str, items: int) -> dict[str, Any]:
    """GET /summary once it counts `items` items for `store`: track_stock keeps the summary
    from the table's stream, a moment after the loader's report."""
    answers: list[Any] = []

    def counted() -> bool:
        answer = http(f"{api_url}/summary", token)
        assert answer.status == 200, answer.body
        answers.append(answer.body)
        return any(e["store"] == store and e["items"] == items for e in answer.body["stores"])

    wait_until(counted, PATIENCE, f"the summary to count {items} items of {store}")
    summary: dict[str, Any] = answers[-1]
    return summary


def test_a_signed_in_request_returns_the_uploaded_items(pipeline, board, tokens, store):
    # given a store's file with one item out of stock and one low
    pipeline.upload(
        f"{store}/today.csv",
        f"store,item,count\n{store},Echo Dot,12\n{store},Echo Plus,0\n{store},Kindle,5\n".encode(),
    )

    # when
    items = http(f"{board.api_url}/items?{urlencode({'store': store})}", tokens["AccessToken"])
    summary = settled_summary(board.api_url, tokens["AccessToken"], store, items=3)
    [mine] = [entry for entry in summary["stores"] if entry["store"] == store]

    # then
    assert items.status == 200
    assert items.headers["content-type"].startswith("application/json")
    rows = {row["item"]: row for row in items.body["items"]}
    assert {name: (row["count"], row["status"]) for name, row in rows.items()} == {
        "Echo Dot": (12, "ok"),
        "Echo Plus": (0, "out"),
        "Kindle": (5, "low"),
    }
    assert rows["Kindle"]["source"].endswith(f"/{store}/today.csv")
    assert rows["Kindle"]["updated_at"]
    assert items.body["next"] is None
    assert items.body["low_stock_threshold"] == Settings().low_stock_threshold
    assert (mine["items"], mine["out_of_stock"], mine["low_stock"]) == (3, 1, 1)


def test_filters_and_pages_reach_the_function(pipeline, board, tokens, store):
    # given
    rows = "".join(f"{store},item-{n:02},{n}\n" for n in range(7))
    pipeline.upload(f"{store}/many.csv", f"store,item,count\n{rows}".encode())

    # when: the low ones (1..5), two a page
    seen: list[str] = []
    query = {"store": store, "status": "low", "limit": "2"}
    while True:
        answer = http(f"{board.api_url}/items?{urlencode(query)}", tokens["AccessToken"])
        assert answer.status == 200, answer.body
        seen += [row["item"] for row in answer.body["items"]]
        if not answer.body["next"]:
            break
        query["next"] = answer.body["next"]

    # then
    assert sorted(seen) == [f"item-{n:02}" for n in range(1, 6)]
    refused = http(f"{board.api_url}/items?status=sold", tokens["AccessToken"])
    assert refused.status == 400
    assert "status must be one of" in refused.body["message"]


# ---------------------------------------------------------------- CORS and the site


def test_cors_answers_the_site_origin_only(board):
    # given
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }

    # when
    ours = http(
        board.api_url + "/items", method="OPTIONS", headers={"Origin": board.origin, **preflight}
    )
    theirs = http(
        board.api_url + "/items",
        method="OPTIONS",
        headers={"Origin": "https://evil.example", **preflight},
    )

    # then
    assert ours.status in (200, 204)
    assert ours.headers["access-control-allow-origin"] == board.origin
    assert "authorization" in ours.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in theirs.headers


def test_the_site_and_its_configuration_are_served(endpoint, board):
    # given
    base = board.url.rsplit("/", 1)[0]

    # when
    page = http(board.url)
    config = http(f"{base}/config.json")

    # then
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert b"Content-Security-Policy" in page.body
    assert config.status == 200
    assert config.body["apiUrl"] == board.api_url
    assert config.body["userPoolId"] == board.pool_id
    assert config.body["clientId"] == board.client_id
    assert config.body["endpointUrl"] == (endpoint.rstrip("/") if endpoint else None)
    for asset, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        answer = http(f"{base}/{asset}")
        assert answer.status == 200
        assert answer.headers["content-type"].startswith(kind)


def test_the_site_bucket_shows_its_files_and_nothing_else(aws, board):
    # given: another object in the site bucket, which the policy does not name
    if not enforce_iam_from_environment():
        pytest.skip("ENFORCE_IAM=false: the emulator checks no bucket policy")
    base = board.url.rsplit("/", 1)[0]
    aws.s3.put_object(Bucket=board.bucket, Key="private.txt", Body=b"not for the public")

    # when
    other = http(f"{base}/private.txt")
    listing = http(f"{base}/")

    # then
    assert other.status == 403
    assert listing.status == 403


def test_a_site_file_that_differs_is_planned_and_put_back_by_up(aws, stack, board):
    # given the session's stack as provisioned, but its page changed in the bucket
    located = deploy.locate(aws, stack["stack"])
    bucket = stack["dashboard"]["site_bucket"]
    page = aws.s3.get_object(Bucket=bucket, Key="app.js")
    aws.s3.put_object(Bucket=bucket, Key="app.js", Body=b"// not the project's page\n")
    try:
        # when it is planned
        plan = deploy.plan(aws, located, Settings(), People(), Changes())

        # then the dashboard is to be updated, for its site files only
        changed = [change.line for change in plan if change.action != "nothing"]
        assert changed == [f"update   dashboard {dashboard.Names(located).api} (SiteFiles)"]
    finally:
        # when up runs, the page is the project's again and nothing is left to plan
        deploy.up(aws, located, Settings())
    assert aws.s3.get_object(Bucket=bucket, Key="app.js")["Body"].read() == page["Body"].read()
    plan = deploy.plan(aws, located, Settings(), People(), Changes())
    assert [change.line for change in plan if change.action != "nothing"] == []


def test_outputs_report_the_dashboard(aws, stack, board):
    # given / when
    found = deploy.outputs(aws, deploy.locate(aws, stack["stack"]))

    # then
    assert found["dashboard_url"] == board.url
    assert found["dashboard"] == stack["dashboard"]


def test_destroy_removes_the_dashboard(aws, board):
    # given a second dashboard (the rest of its stack is not needed for this)
    located = deploy.locate(aws, f"dash-{uuid.uuid4().hex[:6]}")
    made = dashboard.ensure(aws, located, Settings(), description.RUNTIME, Changes())
    names = dashboard.Names(located)
    assert made["dashboard_url"]

    # when
    dashboard.destroy(aws, located, Changes())

    # then
    assert dashboard_cognito.find_user_pool(aws, names.user_pool) is None
    assert dashboard_api.find_http_api(aws, names.api) is None
    assert names.site_bucket not in [b["Name"] for b in aws.s3.list_buckets()["Buckets"]]
    functions = [f["FunctionName"] for f in aws.lambda_.list_functions()["Functions"]]
    assert names.function not in functions
    assert names.role not in [r["RoleName"] for r in aws.iam.list_roles()["Roles"]]
    # and again is harmless
    again = Changes()
    dashboard.destroy(aws, located, again)
    assert again.made == []


def test_the_command_line_creates_a_user_once_and_prints_the_password_once(
    endpoint, stack, board, aws, capsys, monkeypatch
):
    # given no DASHBOARD_PASSWORD: the password is generated
    from provision.__main__ import main as provision_main
    from provision.dashboard_command import main as dashboard_main

    monkeypatch.delenv("DASHBOARD_PASSWORD", raising=False)
    target = ["--stack", stack["stack"], *(["--endpoint-url", endpoint] if endpoint else [])]
    username = f"cli-{uuid.uuid4().hex[:6]}"

    # when the user is asked for twice
    assert provision_main(["up", *target, "--quiet", "--dashboard-user", username]) == 0
    first = capsys.readouterr()
    assert provision_main(["up", *target, "--quiet", "--dashboard-user", username]) == 0
    second = capsys.readouterr()

    # then the first run printed a password that signs in, the second printed none
    [password] = re.findall(r"created with the password (\S+) ", first.err)
    assert sign_in(aws, board.client_id, username, password)["AccessToken"]
    assert "password" not in second.err
    assert json.loads(second.out)["dashboard_url"] == board.url

    # and `make dashboard` (python -m provision.dashboard_command) prints the address and the users
    assert dashboard_main(target) == 0
    printed = capsys.readouterr().out
    assert f"Dashboard: {board.url}" in printed
    assert username in printed


def test_no_dashboard_says_so_and_changes_nothing(endpoint, stack, capsys):
    # given
    from provision.__main__ import main as provision_main

    target = ["--stack", stack["stack"], *(["--endpoint-url", endpoint] if endpoint else [])]

    # when
    assert provision_main(["up", *target, "--no-dashboard"]) == 0

    # then
    printed = capsys.readouterr()
    assert "dashboard skipped (--no-dashboard)" in printed.err
    assert "already up to date" in printed.err
    assert json.loads(printed.out)["dashboard_url"] is None


def test_low_stock_threshold_reaches_the_function_and_the_api(endpoint, aws, board, monkeypatch):
    # given a stack of its own (the session's keeps the default 5 other tests expect),
    # provisioned from the command line with a threshold of 8
    from provision.__main__ import main as provision_main

    monkeypatch.setenv("DASHBOARD_PASSWORD", _PASSWORD)
    name = f"thr-{uuid.uuid4().hex[:6]}"
    target = ["--stack", name, *(["--endpoint-url", endpoint] if endpoint else [])]
    located = deploy.locate(aws, name)
    try:
        options = ["--quiet", "--low-stock-threshold", "8", "--dashboard-user", "staff"]
        assert provision_main(["up", *target, *options]) == 0
        outputs = deploy.outputs(aws, located)
        store = f"Store-{uuid.uuid4().hex[:8]}"
        upload_and_wait_for_report(
            aws,
            outputs,
            f"{store}/today.csv",
            f"store,item,count\n{store},Eight left,8\n{store},Nine left,9\n".encode(),
        )

        # when
        function = aws.lambda_.get_function_configuration(
            FunctionName=outputs["dashboard"]["function"]
        )
        token = sign_in(aws, outputs["dashboard"]["app_client_id"], "staff", _PASSWORD)
        # (the listing of every store walks the summary's stores: once it counts this one)
        summary = settled_summary(outputs["dashboard"]["api_url"], token["AccessToken"], store, 2)
        items = http(f"{outputs['dashboard']['api_url']}/items", token["AccessToken"])
    finally:
        deploy.destroy(aws, located)

    # then: 8 is low there (it is OK under the default 5), and both routes say the threshold
    assert function["Environment"]["Variables"]["LOW_STOCK_THRESHOLD"] == "8"
    assert items.status == 200, items.body
    assert {row["item"]: row["status"] for row in items.body["items"]} == {
        "Eight left": "low",
        "Nine left": "ok",
    }
    assert items.body["low_stock_threshold"] == 8
    assert summary["low_stock_threshold"] == 8
    assert summary["totals"]["low_stock"] == 1
