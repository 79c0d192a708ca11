"""The dashboard as CloudFormation: the user pool (retained: it holds the users) and the site's
app client, inventory_api behind the HTTP API (JWT authorizer, proxy integration, routes,
throttled stage, the permission to invoke), and the site bucket. Every setting is the one the
reconciler applies (provision.dashboard_cognito, dashboard_api, dashboard_site), read from the
same constants. All of it is conditional on the template's `Dashboard` parameter.

What CloudFormation cannot do is upload the site's files, whose config.json carries the pool's
and the API's ids: `python -m provision up` on the same stack does (its plan then finds the
rest as the template made it and lists the site files only).
"""

from __future__ import annotations

from typing import Any

from provision import dashboard
from provision.dashboard_api import AUTHORIZER, PROXY, jwt_authorizer
from provision.dashboard_cognito import USER_POOL
from provision.dashboard_site import PUBLIC_POLICY_ONLY, WEBSITE, site_policy
from provision.model import Resource
from provision.stack import Stack
from provision.template_resources import RENDERERS, logical_id, retained

CONDITION = "WithDashboard"
KINDS = ("user_pool", "dashboard")


def render(stack: Stack, resource: Resource) -> dict[str, Any]:
    """The template's resources for the description's `user_pool` or `dashboard`."""
    rendered = (
        _user_pool(stack, resource) if resource.kind == "user_pool" else _parts(stack, resource)
    )
    if resource.kind == "dashboard":
        names = dashboard.Names(stack)
        role = Resource("role", names.role, resource.properties["Role"])
        function = Resource("function", names.function, resource.properties["Function"])
        rendered |= RENDERERS["role"](stack, role) | RENDERERS["function"](stack, function)
    return {key: {**body, "Condition": CONDITION} for key, body in rendered.items()}


def outputs(stack: Stack) -> dict[str, Any]:
    """`provision outputs`' dashboard keys, flattened in CamelCase."""
    names, ids = dashboard.Names(stack), _ids(stack)
    values = {
        "DashboardUrl": dashboard.addresses(None, names).site_url,
        "DashboardSiteBucket": {"Ref": ids["site"]},
        "DashboardUserPoolId": {"Ref": ids["pool"]},
        "DashboardAppClientId": {"Ref": ids["client"]},
        "DashboardApiUrl": {"Fn::GetAtt": [ids["api"], "ApiEndpoint"]},
        "DashboardFunction": names.function,
    }
    return {key: {"Value": value, "Condition": CONDITION} for key, value in values.items()}


def _ids(stack: Stack) -> dict[str, str]:
    names = dashboard.Names(stack)
    return {
        "pool": logical_id(stack, "user_pool", names.user_pool),
        "client": logical_id(stack, "app_client", names.app_client),
        "api": logical_id(stack, "http_api", names.api),
        "function": logical_id(stack, "function", names.function),
        "site": logical_id(stack, "bucket", names.site_bucket),
    }


def _user_pool(stack: Stack, resource: Resource) -> dict[str, Any]:
    body = {
        "Type": "AWS::Cognito::UserPool",
        "Properties": {"UserPoolName": resource.name, **USER_POOL},
    }
    return {_ids(stack)["pool"]: retained(resource, body)}


def _parts(stack: Stack, board: Resource) -> dict[str, Any]:
    names, ids, wanted = dashboard.Names(stack), _ids(stack), board.properties
    api = {"Ref": ids["api"]}
    settings = {key: value for key, value in wanted["AppClient"].items() if key != "Name"}
    client = {
        "Type": "AWS::Cognito::UserPoolClient",
        "Properties": {
            "UserPoolId": {"Ref": ids["pool"]},
            "ClientName": wanted["AppClient"]["Name"],
            "GenerateSecret": False,
            **settings,
        },
    }
    http_api = {
        "Type": "AWS::ApiGatewayV2::Api",
        "Properties": {
            "Name": names.api,
            "ProtocolType": "HTTP",
            "Description": "Inventory dashboard: items and summary behind Cognito",
            "CorsConfiguration": wanted["Cors"],
        },
    }
    issuer = names.issuer(f"${{{ids['pool']}}}")
    authorizer = {
        "Type": "AWS::ApiGatewayV2::Authorizer",
        "Properties": {
            "ApiId": api,
            "Name": AUTHORIZER,
            **jwt_authorizer(issuer, {"Ref": ids["client"]}),
        },
    }
    integration = {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {
            "ApiId": api,
            "IntegrationUri": {"Fn::GetAtt": [ids["function"], "Arn"]},
            "TimeoutInMillis": dashboard.FUNCTION_TIMEOUT * 1000,
            **PROXY,
        },
    }
    routes = {
        ids["api"] + logical_id(stack, "route", key): {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": api,
                "RouteKey": key,
                "AuthorizationType": "JWT",
                "AuthorizerId": {"Ref": ids["api"] + "Authorizer"},
                "Target": {"Fn::Sub": f"integrations/${{{ids['api']}Integration}}"},
            },
        }
        for key in wanted["Routes"]
    }
    stage = {
        "Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {
            "ApiId": api,
            "StageName": "$default",
            **wanted["Stage"],
        },
    }
    permission = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "FunctionName": {"Ref": ids["function"]},
            "Action": "lambda:InvokeFunction",
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": names.api_arn(f"${{{ids['api']}}}"),
        },
    }
    site = {
        "Type": "AWS::S3::Bucket",
        "Properties": {
            "BucketName": names.site_bucket,
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": PUBLIC_POLICY_ONLY,
            "WebsiteConfiguration": {"IndexDocument": WEBSITE["IndexDocument"]["Suffix"]},
        },
    }
    site_bucket_policy = {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": ids["site"]},
            "PolicyDocument": site_policy(stack, names.site_bucket),
        },
    }
    return {
        ids["client"]: client,
        ids["api"]: http_api,
        ids["api"] + "Authorizer": authorizer,
        ids["api"] + "Integration": integration,
        **routes,
        ids["api"] + "Stage": stage,
        ids["function"] + "ApiPermission": permission,
        ids["site"]: site,
        ids["site"] + "Policy": site_bucket_policy,
    }
