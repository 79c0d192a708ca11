"""The inventory dashboard, top to bottom: a Cognito user pool and app client, the
inventory_api function behind an HTTP API whose JWT authorizer trusts only that pool and
client, and the static site (site/ plus its config.json) in its own S3 bucket.

`deploy.up` calls `ensure`, `deploy.destroy` calls `destroy`. On a target without Cognito or
API Gateway v2 (LocalStack's free tier) both say so in one sentence and do nothing.

The parts: the user pool and app client are `provision/dashboard_cognito.py`, the HTTP API
`provision/dashboard_api.py`, the site's bucket and files `provision/dashboard_site.py`; the
users who sign in `provision/dashboard_users.py`.

`make dashboard` is `provision/dashboard_command.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from provision import packaging, policies, tracing
from provision.aws import Aws, Changes, error_code
from provision.dashboard_api import (
    ensure_api_invoke_permission,
    ensure_default_stage,
    ensure_http_api,
    ensure_jwt_authorizer,
    ensure_lambda_integration,
    ensure_routes,
    find_http_api,
)
from provision.dashboard_cognito import (
    delete_user_pool,
    ensure_app_client,
    ensure_user_pool,
    find_app_client,
    find_user_pool,
)
from provision.dashboard_site import ensure_site_bucket, upload_site
from provision.functions import (
    FunctionSpec,
    delete_function,
    delete_log_group,
    delete_role,
    ensure_function,
    ensure_role,
)
from provision.stack import Settings, Stack
from provision.storage import delete_bucket

REFRESH_SECONDS = 5
FUNCTION_TIMEOUT = 10
FUNCTION_MEMORY_MB = 256
UNSUPPORTED = (
    "dashboard skipped: this target has no Cognito user pools or API Gateway v2 "
    "(LocalStack's free tier has neither); use MiniStack or AWS for the dashboard"
)
NOT_WANTED = "dashboard skipped (--no-dashboard)"


class DashboardError(Exception):
    """A sentence for the person at the terminal."""


@dataclass(frozen=True)
class Names:
    """The dashboard's resource names, derived from the stack's like every other name."""

    stack: Stack

    @property
    def user_pool(self) -> str:
        return f"{self.stack.name}-dashboard"

    @property
    def app_client(self) -> str:
        return f"{self.stack.name}-dashboard-web"

    @property
    def site_bucket(self) -> str:
        return f"{self.stack.name}-dashboard-{self.stack.account}-{self.stack.region}"

    @property
    def api(self) -> str:
        return f"{self.stack.name}-dashboard"

    @property
    def function(self) -> str:
        return f"{self.stack.name}-inventory_api"

    @property
    def role(self) -> str:
        return f"{self.stack.name}-inventory_api"

    def issuer(self, pool_id: str) -> str:
        """The `iss` of the pool's tokens (the emulator uses AWS's form too)."""
        return f"https://cognito-idp.{self.stack.region}.amazonaws.com/{pool_id}"

    def api_arn(self, api_id: str) -> str:
        return f"{self.stack.arn('execute-api')}:{api_id}/*"


@dataclass(frozen=True)
class Addresses:
    """Where the browser finds the site, Cognito and the API on this target."""

    site_url: str
    site_origin: str
    cognito_url: str
    endpoint: str | None

    def api_url(self, api_id: str, api_endpoint: str) -> str:
        if self.endpoint is None:
            return api_endpoint
        # The emulator's path form: `<api>.execute-api.localhost` needs a resolver that knows
        # *.localhost, which Safari and Python lack.
        return f"{self.endpoint}/_aws/execute-api/{api_id}"


def addresses(endpoint_url: str | None, names: Names) -> Addresses:
    """The site over HTTPS on AWS (the S3 website endpoint is HTTP only, and the page asks
    for a password); on an emulator (at `endpoint_url`), its own origin, path style."""
    region = names.stack.region
    if endpoint_url:
        endpoint = endpoint_url.rstrip("/")
        parts = urlsplit(endpoint)
        return Addresses(
            site_url=f"{endpoint}/{names.site_bucket}/index.html",
            site_origin=f"{parts.scheme}://{parts.netloc}",
            cognito_url=f"{endpoint}/",
            endpoint=endpoint,
        )
    suffix = "amazonaws.com.cn" if names.stack.partition == "aws-cn" else "amazonaws.com"
    origin = f"https://{names.site_bucket}.s3.{region}.{suffix}"
    return Addresses(
        site_url=f"{origin}/index.html",
        site_origin=origin,
        cognito_url=f"https://cognito-idp.{region}.{suffix}/",
        endpoint=None,
    )


# ---------------------------------------------------------------- documents


def inventory_api_policy(stack: Stack, names: Names) -> dict[str, Any]:
    """Read the inventory table and its indexes, the summary and history tables; write its own
    logs and traces; nothing else."""
    log_group = f"{stack.arn('logs')}:log-group:/aws/lambda/{names.function}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["logs:CreateLogGroup"], "Resource": f"{log_group}:*"},
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group}:log-stream:*",
            },
            {
                "Effect": "Allow",
                # No Scan: a listing of every store queries the stores one at a time.
                "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                "Resource": stack.table_arn,
            },
            *policies.stock_tracking_read_statements(stack),
            policies.TRACE_WRITE,
        ],
    }


def inventory_api_function(
    stack: Stack,
    settings: Settings,
    role_arn: str,
    package: bytes,
    runtime: str,
    endpoint_url: str | None = None,
) -> FunctionSpec:
    """inventory_api's code and configuration on the target at `endpoint_url` (None: AWS)."""
    return packaging.function_spec(
        Names(stack).function,
        package,
        role_arn,
        runtime,
        FUNCTION_TIMEOUT,
        FUNCTION_MEMORY_MB,
        inventory_api_environment(stack, settings, endpoint_url),
    )


def inventory_api_environment(
    stack: Stack, settings: Settings, endpoint_url: str | None
) -> dict[str, str]:
    """The tables inventory_api reads, the threshold at or below which it marks an item low
    unless the item has its own, and its tracing on the target at `endpoint_url`."""
    return {
        "TABLE_NAME": stack.table,
        "SUMMARY_TABLE": stack.summary_table,
        "HISTORY_TABLE": stack.history_table,
        "LOW_STOCK_THRESHOLD": str(settings.low_stock_threshold),
        **tracing.environment(endpoint_url),
    }


def site_config(
    stack: Stack, where: Addresses, pool_id: str, client_id: str, api_url: str
) -> dict[str, Any]:
    """config.json: what the page needs to sign in and call the API, and to show the upload
    command that works on this target (`endpointUrl`: the emulator's, None on AWS). No
    secrets: the app client has none, and ids are not credentials."""
    return {
        "endpointUrl": where.endpoint,
        "region": stack.region,
        "userPoolId": pool_id,
        "clientId": client_id,
        "cognitoUrl": where.cognito_url,
        "apiUrl": api_url,
        "refreshSeconds": REFRESH_SECONDS,
        "uploadsBucket": stack.uploads_bucket,
    }


# ---------------------------------------------------------------- the whole dashboard


def unsupported_reason(aws: Aws) -> str | None:
    """Why this target cannot host the dashboard, or None if it can.

    Only emulators are probed: on AWS both services exist, and an error there is real.
    """
    if not aws.endpoint_url:
        return None
    probes: list[Callable[[], Any]] = [
        lambda: aws.client("cognito-idp").list_user_pools(MaxResults=1),
        lambda: aws.client("apigatewayv2").get_apis(MaxResults="1"),
    ]
    for probe in probes:
        try:
            probe()
        except ClientError as error:
            if _not_offered(error):
                return UNSUPPORTED
            raise
    return None


def _not_offered(error: ClientError) -> bool:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = str(error.response.get("Error", {}).get("Message", "")).lower()
    return (
        status == 501
        or error_code(error) in ("NotImplemented", "NotImplementedException")
        or "license plan" in message
        or "not yet implemented" in message
        or "not yet been emulated" in message
    )


def ensure(
    aws: Aws, stack: Stack, settings: Settings, runtime: str, changes: Changes
) -> dict[str, Any]:
    """Build the dashboard or bring it in line; returns its outputs."""
    if not settings.dashboard:
        return _skipped(NOT_WANTED, changes)
    reason = unsupported_reason(aws)
    if reason:
        return _skipped(reason, changes)
    names = Names(stack)
    where = addresses(aws.endpoint_url, names)

    # Who may sign in: users an administrator creates, through a client with no secret.
    pool_id = ensure_user_pool(aws, names.user_pool, changes)
    client_id = ensure_app_client(aws, pool_id, names.app_client, changes)

    # inventory_api: reads the table, nothing else.
    role_arn = ensure_role(
        aws, names.role, policies.LAMBDA_TRUST, inventory_api_policy(stack, names), changes
    )
    package = packaging.build_zip("inventory_api")
    function_arn = ensure_function(
        aws,
        inventory_api_function(stack, settings, role_arn, package, runtime, aws.endpoint_url),
        changes,
    )

    # The HTTP API: CORS for the site's origin only, every route behind the JWT authorizer.
    api = ensure_http_api(aws, names.api, where.site_origin, changes)
    authorizer_id = ensure_jwt_authorizer(
        aws, api["ApiId"], names.issuer(pool_id), client_id, changes
    )
    integration_id = ensure_lambda_integration(
        aws, api["ApiId"], function_arn, FUNCTION_TIMEOUT, changes
    )
    ensure_routes(aws, api["ApiId"], authorizer_id, integration_id, changes)
    ensure_default_stage(aws, api["ApiId"], changes)
    ensure_api_invoke_permission(aws, names.function, names.api_arn(api["ApiId"]), changes)

    # The site, and the configuration that ties it to this pool and API.
    api_url = where.api_url(api["ApiId"], api["ApiEndpoint"])
    ensure_site_bucket(aws, stack, names.site_bucket, changes)
    upload_site(
        aws,
        names.site_bucket,
        site_config(stack, where, pool_id, client_id, api_url),
        changes,
    )
    return _outputs(names, where, pool_id, client_id, api_url)


def _skipped(reason: str, changes: Changes) -> dict[str, Any]:
    changes.note(reason)
    return {"dashboard_url": None, "dashboard": {"skipped": reason}}


def _outputs(
    names: Names, where: Addresses, pool_id: str, client_id: str, api_url: str
) -> dict[str, Any]:
    return {
        "dashboard_url": where.site_url,
        "dashboard": {
            "site_bucket": names.site_bucket,
            "user_pool_id": pool_id,
            "app_client_id": client_id,
            "api_url": api_url,
            "function": names.function,
        },
    }


def outputs(aws: Aws, stack: Stack) -> dict[str, Any]:
    """The dashboard's addresses, or None values if this stack has none."""
    absent: dict[str, Any] = {"dashboard_url": None, "dashboard": None}
    if unsupported_reason(aws):
        return absent
    names = Names(stack)
    pool_id = find_user_pool(aws, names.user_pool)
    api = find_http_api(aws, names.api)
    if pool_id is None or api is None:
        return absent
    client_id = find_app_client(aws, pool_id, names.app_client)
    if client_id is None:
        return absent
    where = addresses(aws.endpoint_url, names)
    return _outputs(
        names, where, pool_id, client_id, where.api_url(api["ApiId"], api["ApiEndpoint"])
    )


def destroy(aws: Aws, stack: Stack, changes: Changes, keep_users: bool = False) -> None:
    """Remove what `ensure` made; a missing piece is skipped. `keep_users` keeps the user
    pool (its users and their passwords)."""
    if unsupported_reason(aws):
        return
    names = Names(stack)
    api = find_http_api(aws, names.api)
    if api is not None:
        aws.client("apigatewayv2").delete_api(ApiId=api["ApiId"])
        changes.record("deleted", "http api", names.api)
    delete_function(aws, names.function, changes)
    delete_role(aws, names.role, changes)
    if not keep_users:
        delete_user_pool(aws, names.user_pool, changes)
    delete_bucket(aws, names.site_bucket, changes)
    delete_log_group(aws, f"/aws/lambda/{names.function}", changes)
