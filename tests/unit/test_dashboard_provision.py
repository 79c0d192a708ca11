"""The dashboard's provisioning, without a target: IAM and bucket policies, addresses, the
LocalStack skip, passwords, the site's files and the function's zip."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from provision import dashboard, dashboard_users
from provision.aws import Aws, Changes
from provision.dashboard import (
    UNSUPPORTED,
    Names,
    addresses,
    inventory_api_function,
    inventory_api_policy,
    site_config,
    unsupported_reason,
)
from provision.dashboard_cognito import PASSWORD_POLICY
from provision.dashboard_site import CONFIG_KEY, SITE, SITE_FILES, site_policy
from provision.dashboard_users import generate_password
from provision.stack import Settings, Stack

STACK = Stack("inventory", "123456789012", "eu-west-1")
NAMES = Names(STACK)


def session() -> boto3.Session:
    return boto3.Session(
        region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    assert policy["Version"] == "2012-10-17"
    return policy["Statement"]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


# ---------------------------------------------------------------- policies


def test_inventory_api_may_only_read_its_tables_and_write_its_logs_and_traces():
    # given
    policy = inventory_api_policy(STACK, NAMES)

    # when
    grants: dict[str, set[str]] = {}
    for statement in statements(policy):
        for action in as_list(statement["Action"]):
            grants.setdefault(action, set()).update(as_list(statement["Resource"]))

    # then
    tables = "arn:aws:dynamodb:eu-west-1:123456789012:table/inventory"
    assert {action: grants[action] for action in grants if action.startswith("dynamodb:")} == {
        "dynamodb:GetItem": {f"{tables}-inventory", f"{tables}-history", f"{tables}-summary"},
        "dynamodb:Query": {
            f"{tables}-inventory",
            f"{tables}-inventory/index/by_level",
            f"{tables}-history",
        },
        "dynamodb:Scan": {f"{tables}-summary"},
        "dynamodb:BatchGetItem": {f"{tables}-history"},
    }
    assert {action for action in grants if not action.startswith("dynamodb:")} == {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    # X-Ray's actions name no resource (provision/policies.py TRACE_WRITE).
    assert grants["xray:PutTraceSegments"] == grants["xray:PutTelemetryRecords"] == {"*"}
    log_group = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/inventory-inventory_api"
    assert all(
        resource.startswith(log_group + ":")
        for action, resources in grants.items()
        if action.startswith("logs:")
        for resource in resources
    )
    assert all(statement["Effect"] == "Allow" for statement in statements(policy))


def test_the_site_bucket_lets_anyone_read_the_site_files_and_nothing_else():
    # given
    policy = site_policy(STACK, NAMES.site_bucket)

    # when
    [statement] = statements(policy)

    # then
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:GetObject"
    bucket = "arn:aws:s3:::inventory-dashboard-123456789012-eu-west-1"
    assert statement["Resource"] == [
        f"{bucket}/{key}" for key in ("app.js", "config.json", "index.html", "style.css")
    ]


def test_parliament_finds_nothing_in_the_dashboard_policies():
    # given
    parliament = pytest.importorskip("parliament")
    documents = {
        "inventory_api role": inventory_api_policy(STACK, NAMES),
        "site bucket": site_policy(STACK, NAMES.site_bucket),
    }

    # when
    findings = [
        f"{name}: {finding.issue}: {finding.detail}"
        for name, document in documents.items()
        for finding in parliament.analyze_policy_string(
            json.dumps(document), include_community_auditors=True
        ).findings
    ]

    # then
    assert findings == []


# ---------------------------------------------------------------- the function


@pytest.mark.parametrize("threshold", [5, 8, 0])
def test_the_function_is_given_its_tables_and_the_low_stock_threshold(threshold):
    # given
    settings = Settings(low_stock_threshold=threshold)

    # when
    spec = inventory_api_function(STACK, settings, "arn:aws:iam::1:role/r", b"zip", "python3.11")

    # then: the handler reads both from its environment
    assert spec.name == "inventory-inventory_api"
    assert spec.configuration()["Environment"] == {
        "Variables": {
            "TABLE_NAME": "inventory-inventory",
            "SUMMARY_TABLE": "inventory-summary",
            "HISTORY_TABLE": "inventory-history",
            "LOW_STOCK_THRESHOLD": str(threshold),
        }
    }


# ---------------------------------------------------------------- addresses


def test_on_aws_the_site_is_served_over_https_and_cognito_is_regional():
    # given
    aws = Aws(session(), None)

    # when
    where = addresses(aws.endpoint_url, NAMES)

    # then
    origin = "https://inventory-dashboard-123456789012-eu-west-1.s3.eu-west-1.amazonaws.com"
    assert where.site_origin == origin
    assert where.site_url == f"{origin}/index.html"
    assert where.cognito_url == "https://cognito-idp.eu-west-1.amazonaws.com/"
    api_endpoint = "https://abc123.execute-api.eu-west-1.amazonaws.com"
    assert where.api_url("abc123", api_endpoint) == api_endpoint


def test_on_an_emulator_everything_is_under_its_endpoint():
    # given
    aws = Aws(session(), "http://127.0.0.1:4566/")

    # when
    where = addresses(aws.endpoint_url, NAMES)

    # then
    assert where.site_origin == "http://127.0.0.1:4566"
    assert where.site_url == (
        "http://127.0.0.1:4566/inventory-dashboard-123456789012-eu-west-1/index.html"
    )
    assert where.cognito_url == "http://127.0.0.1:4566/"
    assert where.api_url("abc123", "http://abc123.execute-api.localhost:4566") == (
        "http://127.0.0.1:4566/_aws/execute-api/abc123"
    )


def test_the_site_configuration_holds_addresses_and_ids_only():
    # given
    where = addresses(None, NAMES)

    # when
    config = site_config(STACK, where, "eu-west-1_pool", "client123", "https://api.example")

    # then
    assert config == {
        "endpointUrl": None,
        "region": "eu-west-1",
        "userPoolId": "eu-west-1_pool",
        "clientId": "client123",
        "cognitoUrl": "https://cognito-idp.eu-west-1.amazonaws.com/",
        "apiUrl": "https://api.example",
        "refreshSeconds": 5,
        "uploadsBucket": "inventory-uploads-123456789012-eu-west-1",
    }


def test_on_an_emulator_the_site_configuration_names_its_endpoint():
    # given: an endpoint as given on the command line, trailing slash and all
    where = addresses("http://127.0.0.1:4566/", NAMES)

    # when
    config = site_config(STACK, where, "eu-west-1_pool", "client123", "http://api.example")

    # then: the page adds it to the upload command it shows
    assert config["endpointUrl"] == "http://127.0.0.1:4566"


def test_names_fit_the_services_limits():
    # given the longest stack name and region
    names = Names(Stack("a" * 20, "123456789012", "ap-southeast-4"))

    # when / then: bucket names are at most 63 characters, function names 64
    assert len(names.site_bucket) <= 63
    assert len(names.function) <= 64


# ---------------------------------------------------------------- where the dashboard is skipped


def localstack_error() -> dict[str, Any]:
    """How LocalStack's free tier answers a Cognito call."""
    return {
        "service_error_code": "InternalFailure",
        "service_message": (
            "The API action 'ListUserPools' for service 'cognito-idp' is either not available "
            "in your current license plan or has not yet been emulated by LocalStack."
        ),
        "http_status_code": 501,
    }


def test_localstack_free_tier_is_recognised_by_its_501():
    # given a target whose Cognito answers as LocalStack's free tier does
    aws = Aws(session(), "http://127.0.0.1:4566")
    cognito = aws.client("cognito-idp")

    with Stubber(cognito) as stubber:
        stubber.add_client_error("list_user_pools", **localstack_error())

        # when
        reason = unsupported_reason(aws)

    # then
    assert reason == UNSUPPORTED


def test_a_target_with_both_services_is_supported():
    # given
    aws = Aws(session(), "http://127.0.0.1:4566")
    with (
        Stubber(aws.client("cognito-idp")) as cognito,
        Stubber(aws.client("apigatewayv2")) as gateway,
    ):
        cognito.add_response("list_user_pools", {"UserPools": []}, {"MaxResults": 1})
        gateway.add_response("get_apis", {"Items": []}, {"MaxResults": "1"})

        # when
        reason = unsupported_reason(aws)

    # then
    assert reason is None


def test_another_error_while_probing_is_not_taken_for_a_missing_service():
    # given
    aws = Aws(session(), "http://127.0.0.1:4566")
    with Stubber(aws.client("cognito-idp")) as cognito:
        cognito.add_client_error(
            "list_user_pools", service_error_code="AccessDenied", http_status_code=403
        )

        # when / then
        with pytest.raises(Exception, match="AccessDenied"):
            unsupported_reason(aws)


def test_aws_itself_is_not_probed():
    # given: no endpoint, and a client that would fail any call
    aws = Aws(session(), None)

    with Stubber(aws.client("cognito-idp")), Stubber(aws.client("apigatewayv2")):
        # when / then: a stubber with no responses raises on any call
        assert unsupported_reason(aws) is None


def test_on_localstack_up_skips_the_dashboard_in_one_sentence():
    # given
    aws = Aws(session(), "http://127.0.0.1:4566")
    said: list[str] = []
    changes = Changes(echo=said.append)
    with Stubber(aws.client("cognito-idp")) as cognito:
        cognito.add_client_error("list_user_pools", **localstack_error())

        # when
        result = dashboard.ensure(aws, STACK, Settings(), "python3.11", changes)

    # then
    assert result == {"dashboard_url": None, "dashboard": {"skipped": UNSUPPORTED}}
    assert said == [UNSUPPORTED]
    assert changes.made == []
    assert ". " not in UNSUPPORTED  # one sentence
    assert "LocalStack" in UNSUPPORTED


def test_no_dashboard_skips_it_without_calling_anything():
    # given: stubbers with no responses fail any call
    aws = Aws(session(), "http://127.0.0.1:4566")
    said: list[str] = []
    with Stubber(aws.client("cognito-idp")), Stubber(aws.client("apigatewayv2")):
        # when
        result = dashboard.ensure(
            aws, STACK, Settings(dashboard=False), "python3.11", Changes(echo=said.append)
        )

    # then
    assert result["dashboard_url"] is None
    assert said == ["dashboard skipped (--no-dashboard)"]


# ---------------------------------------------------------------- users


def test_a_generated_password_meets_the_pool_policy():
    # given / when
    passwords = [generate_password() for _ in range(200)]

    # then
    for password in passwords:
        assert len(password) >= PASSWORD_POLICY["MinimumLength"]
        assert re.search("[a-z]", password)
        assert re.search("[A-Z]", password)
        assert re.search("[0-9]", password)
    assert len(set(passwords)) == len(passwords)


def test_the_password_comes_from_dashboard_password(monkeypatch):
    # given
    monkeypatch.setenv("DASHBOARD_PASSWORD", "Chosen-Passw0rd")

    # when / then
    assert dashboard_users.password_from_environment() == "Chosen-Passw0rd"
    monkeypatch.setenv("DASHBOARD_PASSWORD", "")
    assert dashboard_users.password_from_environment() is None


# ---------------------------------------------------------------- the site


def test_the_site_has_its_files_and_fetches_nothing_from_the_internet():
    # given
    texts = {key: (SITE / key).read_text() for key in SITE_FILES}

    # when: every address the HTML and CSS load
    loaded = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", texts["index.html"])
    loaded += re.findall(r"""url\(\s*["']?([^)"']*)""", texts["style.css"])
    loaded += re.findall(r"@import\s+([^;]+)", texts["style.css"])

    # then: only the site's own files, the in-page anchor and the empty data: icon
    assert sorted(loaded) == ["#main", "app.js", "data:,", "style.css"]
    assert not re.search(r"https?://", texts["app.js"])
    assert CONFIG_KEY not in SITE_FILES  # written by provisioning, per target


def test_the_page_allows_no_inline_script_and_submits_no_form():
    # given
    html = (SITE / "index.html").read_text()

    # when
    [policy] = re.findall(r'http-equiv="Content-Security-Policy"\s+content="([^"]+)"', html)
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}

    # then
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["form-action"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    markup = re.sub(r"<!--.*?-->", "", html, flags=re.S)
    assert "<script>" not in markup  # no inline script
    assert not re.search(r"\son[a-z]+\s*=", markup)  # no inline event handlers


def test_the_script_never_writes_html():
    # given
    script = (SITE / "app.js").read_text()
    code = re.sub(r"//[^\n]*", "", script)  # comments may name what the code must not do

    # when
    sinks = re.findall(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
        r"createContextualFragment|srcdoc|DOMParser",
        code,
    )

    # then
    assert sinks == []
    assert "textContent" in code


def test_every_form_field_has_a_label():
    # given
    html = (SITE / "index.html").read_text()

    # when
    fields = re.findall(r"<(?:input|select)\b[^>]*\bid=\"([^\"]+)\"", html)
    labels = set(re.findall(r'<label for="([^"]+)"', html))

    # then
    assert fields
    assert set(fields) <= labels
