"""`make dashboard`: print the dashboard's address and who can sign in, creating a user first
if asked."""

from __future__ import annotations

import argparse
import sys

from botocore.exceptions import BotoCoreError, ClientError

from provision import dashboard, dashboard_users, deploy
from provision.aws import Changes
from provision.stack import DEFAULT_STACK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m provision.dashboard_command",
        description="Print the dashboard's address and how to sign in.",
    )
    parser.add_argument("--stack", default=DEFAULT_STACK)
    parser.add_argument("--endpoint-url", help="emulator endpoint (default: $AWS_ENDPOINT_URL)")
    parser.add_argument("--region")
    parser.add_argument(
        "--user", help="create this user first (password: $DASHBOARD_PASSWORD, else generated)"
    )
    args = parser.parse_args(argv)
    try:
        aws = deploy.connect(args.endpoint_url, args.region)
        stack = deploy.locate(aws, args.stack)
        reason = dashboard.unsupported_reason(aws)
        if reason:
            print(reason, file=sys.stderr)
            return 1
        if args.user:
            generated = dashboard_users.ensure_user(
                aws, stack, args.user, dashboard_users.password_from_environment(), Changes()
            )
            if generated:
                dashboard_users.announce_password(args.user, generated)
        found = dashboard.outputs(aws, stack)
        if not found["dashboard_url"]:
            raise dashboard.DashboardError(
                f"stack {stack.name!r} has no dashboard here: run `make up` (or "
                "`python -m provision up`) first"
            )
        users = dashboard_users.list_users(aws, found["dashboard"]["user_pool_id"])
    except dashboard.DashboardError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Dashboard: {found['dashboard_url']}")
    if users:
        print(f"Sign in as one of: {', '.join(users)}.")
        print("Another user: make dashboard DASHBOARD_USER=name (DASHBOARD_PASSWORD=... to choose")
        print("the password; otherwise one is generated and printed once).")
    else:
        print("No users yet: make dashboard DASHBOARD_USER=name creates one, with the password")
        print("in DASHBOARD_PASSWORD or a generated one printed once (12+ characters, upper and")
        print("lower case and a digit).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
