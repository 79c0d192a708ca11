"""The dashboard's Cognito user pool, which only administrators add users to, and the site's
app client (no secret: a browser cannot keep one)."""

from __future__ import annotations

from typing import Any

from provision.aws import Aws, Changes

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


# Only administrators add users; usernames are case-insensitive.
USER_POOL = {
    "Policies": {"PasswordPolicy": PASSWORD_POLICY},
    "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
    "UsernameConfiguration": {"CaseSensitive": False},
    "MfaConfiguration": "OFF",
}
# What of USER_POOL can be read back and kept in line (the username's case is fixed at birth).
USER_POOL_AS_SET = {"PasswordPolicy": PASSWORD_POLICY, "AdminCreateUserOnly": True}


def delete_user_pool(aws: Aws, name: str, changes: Changes) -> None:
    pool_id = find_user_pool(aws, name)
    if pool_id is not None:
        aws.client("cognito-idp").delete_user_pool(UserPoolId=pool_id)
        changes.record("deleted", "user pool", name)


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
    pool_id = find_user_pool(aws, name)
    if pool_id is None:
        pool_id = str(cognito.create_user_pool(PoolName=name, **USER_POOL)["UserPool"]["Id"])
        changes.record("created", "user pool", name)
        return pool_id
    if user_pool_as_set(aws, pool_id) != USER_POOL_AS_SET:
        # (The username's case-sensitivity is fixed when a pool is made.)
        updatable = {k: v for k, v in USER_POOL.items() if k != "UsernameConfiguration"}
        cognito.update_user_pool(UserPoolId=pool_id, **updatable)
        changes.record("updated", "user pool", name)
    return pool_id


def find_app_client(aws: Aws, pool_id: str, name: str) -> str | None:
    paginator = aws.client("cognito-idp").get_paginator("list_user_pool_clients")
    for page in paginator.paginate(UserPoolId=pool_id, MaxResults=60):
        for client in page.get("UserPoolClients", []):
            if client["ClientName"] == name:
                return str(client["ClientId"])
    return None


def app_client_settings() -> dict[str, Any]:
    return {
        # Username and password straight to Cognito over TLS, then refresh tokens; no secret,
        # since a browser cannot keep one.
        "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"],
        "PreventUserExistenceErrors": "ENABLED",
        "EnableTokenRevocation": True,
        **TOKEN_VALIDITY,
    }


def app_client_as_set(aws: Aws, pool_id: str, client_id: str) -> dict[str, Any]:
    """The app client's settings, in app_client_settings' terms."""
    current = aws.client("cognito-idp").describe_user_pool_client(
        UserPoolId=pool_id, ClientId=client_id
    )["UserPoolClient"]
    have = {key: current.get(key) for key in app_client_settings()}
    have["ExplicitAuthFlows"] = sorted(have["ExplicitAuthFlows"] or [])
    have["TokenValidityUnits"] = {
        key: (have["TokenValidityUnits"] or {}).get(key)
        for key in TOKEN_VALIDITY["TokenValidityUnits"]
    }
    return have


def user_pool_as_set(aws: Aws, pool_id: str) -> dict[str, Any]:
    """What of the pool provisioning keeps in line: its password policy, and whether only
    administrators add users."""
    pool = aws.client("cognito-idp").describe_user_pool(UserPoolId=pool_id)["UserPool"]
    policy = pool.get("Policies", {}).get("PasswordPolicy", {})
    return {
        "PasswordPolicy": {key: policy.get(key) for key in PASSWORD_POLICY},
        "AdminCreateUserOnly": pool.get("AdminCreateUserConfig", {}).get(
            "AllowAdminCreateUserOnly"
        ),
    }


def ensure_app_client(aws: Aws, pool_id: str, name: str, changes: Changes) -> str:
    """The site's app client, without a secret; returns its id."""
    cognito = aws.client("cognito-idp")
    wanted = app_client_settings()
    client_id = find_app_client(aws, pool_id, name)
    if client_id is None:
        client_id = str(
            cognito.create_user_pool_client(
                UserPoolId=pool_id, ClientName=name, GenerateSecret=False, **wanted
            )["UserPoolClient"]["ClientId"]
        )
        changes.record("created", "app client", name)
        return client_id
    if app_client_as_set(aws, pool_id, client_id) != wanted:
        cognito.update_user_pool_client(
            UserPoolId=pool_id, ClientId=client_id, ClientName=name, **wanted
        )
        changes.record("updated", "app client", name)
    return client_id
