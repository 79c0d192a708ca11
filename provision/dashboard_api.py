"""The dashboard's HTTP API (API Gateway v2): CORS for the site's origin only, a JWT
authorizer trusting the user pool, the proxy integration to inventory_api, its routes and
throttled stage, and the permission for the API to invoke the function."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from provision.aws import Aws, Changes, ignore_missing

ROUTES = ("GET /items", "GET /summary", "GET /items/{store}/{item}/history")
AUTHORIZER = "cognito"
# The stage's limits for the whole API: a dashboard polling every few seconds stays far below.
THROTTLING = {"ThrottlingBurstLimit": 50, "ThrottlingRateLimit": 25.0}


def cors(origin: str) -> dict[str, Any]:
    """The browser may call the API from the site's `origin` only, and only GET."""
    return {
        "AllowOrigins": [origin],
        "AllowMethods": ["GET"],
        "AllowHeaders": ["authorization"],
        "MaxAge": 600,
    }


def jwt_authorizer(issuer: str, audience: Any) -> dict[str, Any]:
    """The authorizer's settings: the pool's access tokens (`issuer`), for its app client."""
    return {
        "AuthorizerType": "JWT",
        "IdentitySource": ["$request.header.Authorization"],
        "JwtConfiguration": {"Issuer": issuer, "Audience": [audience]},
    }


# inventory_api behind Lambda's proxy integration, with API Gateway's version 2.0 event.
PROXY = {"IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0"}


def _pages(call: Callable[..., dict[str, Any]], **request: Any) -> Iterator[dict[str, Any]]:
    """Every Items entry of an apigatewayv2 listing, following NextToken."""
    while True:
        page = call(**request)
        yield from page.get("Items", [])
        if not page.get("NextToken"):
            return
        request["NextToken"] = page["NextToken"]


def cors_as_set(api: dict[str, Any]) -> dict[str, Any]:
    """The API's CORS in cors()' terms (header names come back in any case)."""
    current = api.get("CorsConfiguration") or {}
    have = {key: current.get(key) for key in cors("")}
    have["AllowMethods"] = list(have["AllowMethods"] or [])
    have["AllowHeaders"] = [header.lower() for header in have["AllowHeaders"] or []]
    return have


def stage_as_set(aws: Aws, api_id: str) -> dict[str, Any] | None:
    """The $default stage's settings as provisioning sets them (None: there is no stage)."""
    stage = ignore_missing(
        lambda: aws.client("apigatewayv2").get_stage(ApiId=api_id, StageName="$default"),
        "NotFoundException",
    )
    if stage is None:
        return None
    settings = stage.get("DefaultRouteSettings") or {}
    return {
        "AutoDeploy": stage.get("AutoDeploy"),
        "DefaultRouteSettings": {key: settings.get(key) for key in THROTTLING},
    }


STAGE = {"AutoDeploy": True, "DefaultRouteSettings": THROTTLING}


def route_keys(aws: Aws, api_id: str) -> list[str]:
    """The API's routes, sorted."""
    routes = _pages(aws.client("apigatewayv2").get_routes, ApiId=api_id)
    return sorted(route["RouteKey"] for route in routes)


def find_http_api(aws: Aws, name: str) -> dict[str, Any] | None:
    for api in _pages(aws.client("apigatewayv2").get_apis):
        if api["Name"] == name and api.get("ProtocolType") == "HTTP":
            return api
    return None


def ensure_http_api(aws: Aws, name: str, origin: str, changes: Changes) -> dict[str, Any]:
    """An HTTP API that answers CORS for `origin` only; returns it (ApiId, ApiEndpoint)."""
    gateway = aws.client("apigatewayv2")
    wanted_cors = cors(origin)
    api = find_http_api(aws, name)
    if api is None:
        created: dict[str, Any] = gateway.create_api(
            Name=name,
            ProtocolType="HTTP",
            Description="Inventory dashboard: items and summary behind Cognito",
            CorsConfiguration=wanted_cors,
        )
        changes.record("created", "http api", name)
        return created
    if cors_as_set(api) != wanted_cors:
        gateway.update_api(ApiId=api["ApiId"], CorsConfiguration=wanted_cors)
        changes.record("updated", "http api cors", name)
    return api


def ensure_jwt_authorizer(
    aws: Aws, api_id: str, issuer: str, audience: str, changes: Changes
) -> str:
    """The authorizer that accepts tokens of this pool (issuer) and app client (audience)."""
    gateway = aws.client("apigatewayv2")
    wanted = jwt_authorizer(issuer, audience)
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


def ensure_lambda_integration(
    aws: Aws, api_id: str, function_arn: str, timeout_seconds: int, changes: Changes
) -> str:
    """The proxy integration to the function (payload format 2.0), waiting for it as long as
    the function may run (`timeout_seconds`); returns its id."""
    gateway = aws.client("apigatewayv2")
    for integration in _pages(gateway.get_integrations, ApiId=api_id):
        if integration.get("IntegrationUri") == function_arn and all(
            integration.get(key) == value for key, value in PROXY.items()
        ):
            return str(integration["IntegrationId"])
    created = gateway.create_integration(
        ApiId=api_id,
        IntegrationUri=function_arn,
        **PROXY,
        TimeoutInMillis=timeout_seconds * 1000,
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
    have = stage_as_set(aws, api_id)
    if have is None:
        gateway.create_stage(ApiId=api_id, StageName="$default", **STAGE)
        changes.record("created", "api stage", f"{api_id} $default")
    elif have != STAGE:
        gateway.update_stage(ApiId=api_id, StageName="$default", **STAGE)
        changes.record("updated", "api stage", f"{api_id} $default")


def ensure_api_invoke_permission(
    aws: Aws, function: str, source_arn: str, changes: Changes
) -> None:
    """Let this API, and only it, invoke the function.

    Unlike `functions.ensure_invoke_permission` it replaces a statement naming another source:
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
