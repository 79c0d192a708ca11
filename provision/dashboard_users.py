"""The people who sign in to a stack's dashboard: creating one (with a password given or
generated), changing a password, listing them."""

from __future__ import annotations

import os
import secrets
import string
import sys

from botocore.exceptions import ClientError

from provision.aws import Aws, Changes, error_code, ignore_missing
from provision.dashboard import DashboardError, Names
from provision.dashboard_cognito import find_app_client, find_user_pool
from provision.stack import Stack


def generate_password(length: int = 20) -> str:
    """A random password that meets dashboard_cognito.PASSWORD_POLICY."""
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
