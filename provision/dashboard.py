"""The inventory dashboard, top to bottom: a Cognito user pool and app client, the
inventory_api function behind an HTTP API whose JWT authorizer trusts only that pool and
client, and the static site (site/ plus its config.json) in its own S3 bucket.

`deploy.up` calls `ensure`, `deploy.destroy` calls `destroy`. On a target without Cognito or
API Gateway v2 (LocalStack's free tier) both say so in one sentence and do nothing.

`make dashboard` is `provision/dashboard_command.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import string
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from provision import packaging, policies
from provision.resources import (
    Aws,
    Changes,
    FunctionSpec,
    delete_bucket,
    delete_function,
    delete_log_group,
    delete_role,
    ensure_function,
    ensure_role,
    error_code,
    ignore_missing,
)
from provision.stack import Settings, Stack

SITE = Path(__file__).resolve().parent.parent / "site"
SITE_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
CONFIG_KEY = "config.json"
ROUTES = ("GET /items", "GET /summary", "GET /items/{store}/{item}/history")
AUTHORIZER = "cognito"
REFRESH_SECONDS = 5
FUNCTION_TIMEOUT = 10
FUNCTION_MEMORY_MB = 256
# Staff sign in once a shift: access tokens live an hour and are refreshed by the page; the
# refresh token ends the session after 12 hours.
TOKEN_VALIDITY: dict[str, Any] = {
    "AccessTokenValidity": 60,
    "IdTokenValidity": 60,
    "RefreshTokenValidity": 12,
    "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "hours"},
}
PASSWORD_POLICY = {
    "MinimumLength": 12,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": False,
    "TemporaryPasswordValidityDays": 7,
}
# The stage's limits for the whole API: a dashboard polling every few seconds stays far below.
THROTTLING = {"ThrottlingBurstLimit": 50, "ThrottlingRateLimit": 25.0}
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


def addresses(aws: Aws, names: Names) -> Addresses:
    """The site over HTTPS on AWS (the S3 website endpoint is HTTP only, and the page asks
    for a password); on an emulator, the endpoint's own origin, path style."""
    region = names.stack.region
    if aws.endpoint_url:
        endpoint = aws.endpoint_url.rstrip("/")
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
    stack: Stack, settings: Settings, role_arn: str, package: bytes, runtime: str
) -> FunctionSpec:
    """inventory_api's code and configuration: the tables it reads, and the threshold at or
    below which it marks an item low unless the item has its own (the page shows both)."""
    return packaging.function_spec(
        Names(stack).function,
        package,
        role_arn,
        runtime,
        FUNCTION_TIMEOUT,
        FUNCTION_MEMORY_MB,
        {
            "TABLE_NAME": stack.table,
            "SUMMARY_TABLE": stack.summary_table,
            "HISTORY_TABLE": stack.history_table,
            "LOW_STOCK_THRESHOLD": str(settings.low_stock_threshold),
        },
    )


def site_policy(stack: Stack, bucket: str) -> dict[str, Any]:
    """Anyone may read the site's own files, and nothing else: no listing, no other keys."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicSiteFiles",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": [
                    f"{stack.bucket_arn(bucket)}/{key}" for key in sorted([*SITE_FILES, CONFIG_KEY])
                ],
            }
        ],
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
    where = addresses(aws, names)

    # Who may sign in: users an administrator creates, through a client with no secret.
    pool_id = ensure_user_pool(aws, names.user_pool, changes)
    client_id = ensure_app_client(aws, pool_id, names.app_client, changes)

    # inventory_api: reads the table, nothing else.
    role_arn = ensure_role(
        aws, names.role, policies.LAMBDA_TRUST, inventory_api_policy(stack, names), changes
    )
    package = packaging.build_zip("inventory_api")
    function_arn = ensure_function(
        aws, inventory_api_function(stack, settings, role_arn, package, runtime), changes
    )

    # The HTTP API: CORS for the site's origin only, every route behind the JWT authorizer.
    api = ensure_http_api(aws, names.api, where.site_origin, changes)
    authorizer_id = ensure_jwt_authorizer(
        aws, api["ApiId"], names.issuer(pool_id), client_id, changes
    )
    integration_id = ensure_lambda_integration(aws, api["ApiId"], function_arn, changes)
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
    where = addresses(aws, names)
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
    pool_id = find_user_pool(aws, names.user_pool)
    if pool_id is not None and keep_users:
        changes.note(f"kept     user pool {names.user_pool} (destroy --delete-data removes it)")
    elif pool_id is not None:
        aws.client("cognito-idp").delete_user_pool(UserPoolId=pool_id)
        changes.record("deleted", "user pool", names.user_pool)
    delete_bucket(aws, names.site_bucket, changes)
    delete_log_group(aws, f"/aws/lambda/{names.function}", changes)


# ---------------------------------------------------------------- Cognito


def find_user_pool(aws: Aws, name: str) -> str | None:
    paginator = aws.client("cognito-idp").get_paginator("list_user_pools")
    for page in paginator.paginate(MaxResults=60):
        for pool in page.get("UserPools", []):
            if pool["Name"] == name:
                return str(pool["Id"])
    return None


def ensure_user_pool(aws: Aws, name: str, changes: Changes) -> str:
    """A pool only administrators add users to, usernames case-insensitive; returns its id."""
    cognito = aws.client("cognito-idp")
    admin_only = {"AllowAdminCreateUserOnly": True}
    pool_id = find_user_pool(aws, name)
    if pool_id is None:
        pool_id = str(
            cognito.create_user_pool(
                PoolName=name,
                Policies={"PasswordPolicy": PASSWORD_POLICY},
                AdminCreateUserConfig=admin_only,
                UsernameConfiguration={"CaseSensitive": False},
                MfaConfiguration="OFF",
            )["UserPool"]["Id"]
        )
        changes.record("created", "user pool", name)
        return pool_id
    pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    policy = pool.get("Policies", {}).get("PasswordPolicy", {})
    have_policy = {key: policy.get(key) for key in PASSWORD_POLICY}
    have_admin = pool.get("AdminCreateUserConfig", {}).get("AllowAdminCreateUserOnly")
    if have_policy != PASSWORD_POLICY or have_admin is not True:
        cognito.update_user_pool(
            UserPoolId=pool_id,
            Policies={"PasswordPolicy": PASSWORD_POLICY},
            AdminCreateUserConfig=admin_only,
            MfaConfiguration="OFF",
        )
        changes.record("updated", "user pool", name)
    return pool_id


def find_app_client(aws: Aws, pool_id: str, name: str) -> str | None:
    paginator = aws.client("cognito-idp").get_paginator("list_user_pool_clients")
    for page in paginator.paginate(UserPoolId=pool_id, MaxResults=60):
        for client in page.get("UserPoolClients", []):
            if client["ClientName"] == name:
                return str(client["ClientId"])
    return None


def _app_client_settings() -> dict[str, Any]:
    return {
        # Username and password straight to Cognito over TLS, then refresh tokens; no secret,
        # since a browser cannot keep one.
        "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"],
        "PreventUserExistenceErrors": "ENABLED",
        "EnableTokenRevocation": True,
        **TOKEN_VALIDITY,
    }


def ensure_app_client(aws: Aws, pool_id: str, name: str, changes: Changes) -> str:
    """The site's app client, without a secret; returns its id."""
    cognito = aws.client("cognito-idp")
    wanted = _app_client_settings()
    client_id = find_app_client(aws, pool_id, name)
    if client_id is None:
        client_id = str(
            cognito.create_user_pool_client(
                UserPoolId=pool_id, ClientName=name, GenerateSecret=False, **wanted
            )["UserPoolClient"]["ClientId"]
        )
        changes.record("created", "app client", name)
        return client_id
    current = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)[
        "UserPoolClient"
    ]
    have = {key: current.get(key) for key in wanted}
    have["ExplicitAuthFlows"] = sorted(have["ExplicitAuthFlows"] or [])
    have["TokenValidityUnits"] = {
        key: (have["TokenValidityUnits"] or {}).get(key)
        for key in TOKEN_VALIDITY["TokenValidityUnits"]
    }
    if have != wanted:
        cognito.update_user_pool_client(
            UserPoolId=pool_id, ClientId=client_id, ClientName=name, **wanted
        )
        changes.record("updated", "app client", name)
    return client_id


# ---------------------------------------------------------------- API Gateway v2


def _pages(call: Callable[..., dict[str, Any]], **request: Any) -> Iterator[dict[str, Any]]:
    """Every Items entry of an apigatewayv2 listing, following NextToken."""
    while True:
        page = call(**request)
        yield from page.get("Items", [])
        if not page.get("NextToken"):
            return
        request["NextToken"] = page["NextToken"]


def find_http_api(aws: Aws, name: str) -> dict[str, Any] | None:
    for api in _pages(aws.client("apigatewayv2").get_apis):
        if api["Name"] == name and api.get("ProtocolType") == "HTTP":
            return api
    return None


def ensure_http_api(aws: Aws, name: str, origin: str, changes: Changes) -> dict[str, Any]:
    """An HTTP API that answers CORS for `origin` only; returns it (ApiId, ApiEndpoint)."""
    gateway = aws.client("apigatewayv2")
    cors = {
        "AllowOrigins": [origin],
        "AllowMethods": ["GET"],
        "AllowHeaders": ["authorization"],
        "MaxAge": 600,
    }
    api = find_http_api(aws, name)
    if api is None:
        created: dict[str, Any] = gateway.create_api(
            Name=name,
            ProtocolType="HTTP",
            Description="Inventory dashboard: items and summary behind Cognito",
            CorsConfiguration=cors,
        )
        changes.record("created", "http api", name)
        return created
    current = api.get("CorsConfiguration") or {}
    have = {key: current.get(key) for key in cors}
    for key in ("AllowMethods", "AllowHeaders"):
        have[key] = [value.lower() if key == "AllowHeaders" else value for value in have[key] or []]
    if have != cors:
        gateway.update_api(ApiId=api["ApiId"], CorsConfiguration=cors)
        changes.record("updated", "http api cors", name)
    return api


def ensure_jwt_authorizer(
    aws: Aws, api_id: str, issuer: str, audience: str, changes: Changes
) -> str:
    """The authorizer that accepts tokens of this pool (issuer) and app client (audience)."""
    gateway = aws.client("apigatewayv2")
    wanted = {
        "AuthorizerType": "JWT",
        "IdentitySource": ["$request.header.Authorization"],
        "JwtConfiguration": {"Issuer": issuer, "Audience": [audience]},
    }
    for authorizer in _pages(gateway.get_authorizers, ApiId=api_id):
        if authorizer["Name"] == AUTHORIZER:
            have = {key: authorizer.get(key) for key in wanted}
            if have != wanted:
                gateway.update_authorizer(
                    ApiId=api_id, AuthorizerId=authorizer["AuthorizerId"], **wanted
                )
                changes.record("updated", "jwt authorizer", api_id)
            return str(authorizer["AuthorizerId"])
    created = gateway.create_authorizer(ApiId=api_id, Name=AUTHORIZER, **wanted)
    changes.record("created", "jwt authorizer", api_id)
    return str(created["AuthorizerId"])


def ensure_lambda_integration(aws: Aws, api_id: str, function_arn: str, changes: Changes) -> str:
    """The proxy integration to the function (payload format 2.0); returns its id."""
    gateway = aws.client("apigatewayv2")
    for integration in _pages(gateway.get_integrations, ApiId=api_id):
        if (
            integration.get("IntegrationType") == "AWS_PROXY"
            and integration.get("IntegrationUri") == function_arn
            and integration.get("PayloadFormatVersion") == "2.0"
        ):
            return str(integration["IntegrationId"])
    created = gateway.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=function_arn,
        PayloadFormatVersion="2.0",
        TimeoutInMillis=FUNCTION_TIMEOUT * 1000,
    )
    changes.record("created", "api integration", api_id)
    return str(created["IntegrationId"])


def ensure_routes(
    aws: Aws, api_id: str, authorizer_id: str, integration_id: str, changes: Changes
) -> None:
    """Exactly ROUTES, each behind the JWT authorizer; any other route is removed."""
    gateway = aws.client("apigatewayv2")
    wanted = {
        "AuthorizationType": "JWT",
        "AuthorizerId": authorizer_id,
        "Target": f"integrations/{integration_id}",
    }
    existing = {route["RouteKey"]: route for route in _pages(gateway.get_routes, ApiId=api_id)}
    for key, found in existing.items():
        if key not in ROUTES:
            gateway.delete_route(ApiId=api_id, RouteId=found["RouteId"])
            changes.record("deleted", "api route", key)
    for key in ROUTES:
        route = existing.get(key)
        if route is None:
            gateway.create_route(ApiId=api_id, RouteKey=key, **wanted)
            changes.record("created", "api route", key)
        elif {name: route.get(name) for name in wanted} != wanted:
            gateway.update_route(ApiId=api_id, RouteId=route["RouteId"], **wanted)
            changes.record("updated", "api route", key)


def ensure_default_stage(aws: Aws, api_id: str, changes: Changes) -> None:
    """The $default stage, deployed automatically, throttled."""
    gateway = aws.client("apigatewayv2")
    stage = ignore_missing(
        lambda: gateway.get_stage(ApiId=api_id, StageName="$default"), "NotFoundException"
    )
    if stage is None:
        gateway.create_stage(
            ApiId=api_id, StageName="$default", AutoDeploy=True, DefaultRouteSettings=THROTTLING
        )
        changes.record("created", "api stage", f"{api_id} $default")
        return
    settings = stage.get("DefaultRouteSettings") or {}
    have = {key: settings.get(key) for key in THROTTLING}
    if stage.get("AutoDeploy") is not True or have != THROTTLING:
        gateway.update_stage(
            ApiId=api_id, StageName="$default", AutoDeploy=True, DefaultRouteSettings=THROTTLING
        )
        changes.record("updated", "api stage", f"{api_id} $default")


def ensure_api_invoke_permission(
    aws: Aws, function: str, source_arn: str, changes: Changes
) -> None:
    """Let this API, and only it, invoke the function.

    Unlike `resources.ensure_invoke_permission` it replaces a statement naming another source:
    a recreated API has a new id.
    """
    statement_id = "apigateway-invoke"
    document = ignore_missing(
        lambda: aws.lambda_.get_policy(FunctionName=function)["Policy"],
        "ResourceNotFoundException",
    )
    statements = json.loads(document)["Statement"] if document else []
    current = next((s for s in statements if s.get("Sid") == statement_id), None)
    if current is not None:
        condition = current.get("Condition", {}).get("ArnLike", {})
        if condition.get("AWS:SourceArn") == source_arn:
            return
        aws.lambda_.remove_permission(FunctionName=function, StatementId=statement_id)
    aws.lambda_.add_permission(
        FunctionName=function,
        StatementId=statement_id,
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=source_arn,
    )
    changes.record("created", "invoke permission", f"{function} for its http api")


# ---------------------------------------------------------------- the site bucket


def ensure_site_bucket(aws: Aws, stack: Stack, bucket: str, changes: Changes) -> None:
    """A bucket served as a website, its site files readable by anyone, encrypted at rest.

    Public ACLs stay blocked; only the bucket policy may grant public reads, and it grants
    s3:GetObject on the site's own keys.
    """
    s3 = aws.s3
    if ignore_missing(lambda: s3.head_bucket(Bucket=bucket), "404", "NoSuchBucket") is None:
        options: dict[str, Any] = {}
        if stack.region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": stack.region}
        s3.create_bucket(Bucket=bucket, **options)
        changes.record("created", "bucket", bucket)
    public_policy_only = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }
    current_block = ignore_missing(
        lambda: s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
        "NoSuchPublicAccessBlockConfiguration",
    )
    if current_block != public_policy_only:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=public_policy_only)
        changes.record("updated", "bucket public access block", bucket)
    rules = ignore_missing(
        lambda: s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"],
        "ServerSideEncryptionConfigurationNotFoundError",
    )
    algorithms = [
        rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
        for rule in (rules or {}).get("Rules", [])
    ]
    if algorithms != ["AES256"]:
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        changes.record("updated", "bucket encryption", bucket)
    website = {"IndexDocument": {"Suffix": "index.html"}}
    current_website = ignore_missing(
        lambda: s3.get_bucket_website(Bucket=bucket), "NoSuchWebsiteConfiguration"
    )
    if (current_website or {}).get("IndexDocument") != website["IndexDocument"]:
        s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=website)
        changes.record("updated", "bucket website", bucket)
    wanted_policy = site_policy(stack, bucket)
    current_policy = ignore_missing(
        lambda: s3.get_bucket_policy(Bucket=bucket)["Policy"], "NoSuchBucketPolicy"
    )
    if current_policy is None or json.loads(current_policy) != wanted_policy:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(wanted_policy))
        changes.record("updated", "bucket policy", bucket)


def site_files(config: dict[str, Any]) -> dict[str, tuple[bytes, str]]:
    """Each key of the site: its bytes and content type."""
    files = {key: ((SITE / key).read_bytes(), kind) for key, kind in SITE_FILES.items()}
    files[CONFIG_KEY] = (
        (json.dumps(config, indent=2, sort_keys=True) + "\n").encode(),
        "application/json; charset=utf-8",
    )
    return files


def upload_site(aws: Aws, bucket: str, config: dict[str, Any], changes: Changes) -> None:
    """Upload each site file whose bytes or headers differ from what is there.

    `no-cache` makes browsers revalidate, so a redeployed page or configuration shows at once.
    """
    for key, (body, content_type) in site_files(config).items():
        head = _head(aws, bucket, key)
        if (
            head is not None
            and head.get("ETag", "").strip('"')
            == hashlib.md5(body, usedforsecurity=False).hexdigest()
            and head.get("ContentType") == content_type
            and head.get("CacheControl") == "no-cache"
        ):
            continue
        aws.s3.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType=content_type, CacheControl="no-cache"
        )
        changes.record("updated", "site file", key)


# ---------------------------------------------------------------- users


def _head(aws: Aws, bucket: str, key: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = ignore_missing(
        lambda: aws.s3.head_object(Bucket=bucket, Key=key)
    )
    return found


def generate_password(length: int = 20) -> str:
    """A random password that meets PASSWORD_POLICY."""
    alphabet = string.ascii_letters + string.digits
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password


def ensure_user(
    aws: Aws, stack: Stack, username: str, password: str | None, changes: Changes
) -> str | None:
    """A dashboard user who can sign in with `password`, or with a generated one.

    Returns the generated password when the user was created with one (the only time it can
    be shown). An existing user keeps their password unless `password` is given and differs.

    Raises:
        DashboardError: the stack has no dashboard.
    """
    names = Names(stack)
    pool_id = find_user_pool(aws, names.user_pool)
    client_id = find_app_client(aws, pool_id, names.app_client) if pool_id else None
    if pool_id is None or client_id is None:
        raise DashboardError(
            f"stack {stack.name!r} has no dashboard here: run `python -m provision up` "
            "without --no-dashboard first"
        )
    cognito = aws.client("cognito-idp")
    existing = ignore_missing(
        lambda: cognito.admin_get_user(UserPoolId=pool_id, Username=username),
        "UserNotFoundException",
    )
    if existing is None:
        generated = generate_password() if password is None else None
        chosen = password or generated or ""
        cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=username,
            TemporaryPassword=chosen,
            MessageAction="SUPPRESS",
        )
        # Permanent at once: the page does not offer the "choose a new password" step.
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username=username, Password=chosen, Permanent=True
        )
        changes.record("created", "dashboard user", username)
        return generated
    if password is not None and not _signs_in(aws, client_id, username, password):
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username=username, Password=password, Permanent=True
        )
        changes.record("updated", "dashboard user password", username)
    return None


def _signs_in(aws: Aws, client_id: str, username: str, password: str) -> bool:
    try:
        result = aws.client("cognito-idp").initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
    except ClientError as error:
        if error_code(error) in (
            "NotAuthorizedException",
            "PasswordResetRequiredException",
            "UserNotConfirmedException",
        ):
            return False
        raise
    return "AuthenticationResult" in result


def list_users(aws: Aws, pool_id: str) -> list[str]:
    paginator = aws.client("cognito-idp").get_paginator("list_users")
    return [
        str(user["Username"])
        for page in paginator.paginate(UserPoolId=pool_id)
        for user in page.get("Users", [])
    ]


def password_from_environment() -> str | None:
    return os.environ.get("DASHBOARD_PASSWORD") or None


def announce_password(username: str, password: str) -> None:
    """Print a generated password, the one time it exists outside Cognito."""
    print(
        f"dashboard user {username!r} created with the password {password} "
        "(shown once: keep it, or set DASHBOARD_PASSWORD and run again to change it)",
        file=sys.stderr,
    )
