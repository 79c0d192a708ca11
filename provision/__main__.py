"""python -m provision [up|plan|outputs|destroy|replay-failed|rebuild-summary|template] ...

With no endpoint (flag or AWS_ENDPOINT_URL) it targets real AWS, with the usual profile and
region resolution of boto3.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from botocore.exceptions import BotoCoreError, ClientError

from provision import (
    awslocal,
    dashboard,
    dashboard_users,
    deploy,
    description,
    planner,
    replay,
    summary,
    template,
)
from provision.aws import Changes, GaveUp
from provision.model import People
from provision.stack import DEFAULT_STACK, Settings


def _non_negative_int(text: str) -> int:
    """argparse type: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 0 or more")
    return value


def _days(text: str) -> int:
    """argparse type: a whole number of days, 1 or more."""
    days = _non_negative_int(text)
    if days == 0:
        raise argparse.ArgumentTypeError("keep history 1 day or more")
    return days


def _alert_events(text: str) -> tuple[str, ...]:
    """argparse type: alert event names, comma-separated."""
    events = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    try:
        description.alert_filter(events)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return events


def _settings(args: argparse.Namespace) -> Settings:
    """The settings `up` and `plan` were given; the defaults for the rest."""
    settings = Settings()
    if args.max_file_mb:
        settings = replace(settings, max_file_bytes=args.max_file_mb * 1024 * 1024)
    if args.low_stock_threshold is not None:  # 0 is a choice, not a default
        settings = replace(settings, low_stock_threshold=args.low_stock_threshold)
    if args.no_dashboard:
        settings = replace(settings, dashboard=False)
    if args.alert_events:
        settings = replace(settings, alert_events=args.alert_events)
    if args.history_days:
        settings = replace(settings, history_retention_days=args.history_days)
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provision", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command",
        nargs="?",
        default="up",
        choices=[
            "up",
            "plan",
            "outputs",
            "destroy",
            "replay-failed",
            "rebuild-summary",
            "template",
        ],
    )
    parser.add_argument("--stack", default=DEFAULT_STACK, help="name every resource derives from")
    parser.add_argument("--endpoint-url", help="emulator endpoint (default: $AWS_ENDPOINT_URL)")
    parser.add_argument("--region", help="region (default: the profile's, else us-east-1)")
    parser.add_argument(
        "--destroy", action="store_true", help="plan what destroy would remove (plan)"
    )
    parser.add_argument(
        "--delete-data",
        action="store_true",
        help="destroy also the tables that hold data and the user pool (kept by default)",
    )
    parser.add_argument("--email", help="subscribe this address to the alerts (up, plan)")
    parser.add_argument(
        "--alarm-email", help="subscribe this operator's address to the stack's alarms (up, plan)"
    )
    parser.add_argument(
        "--sms", help="subscribe this phone number (E.164) to the alerts (up, plan)"
    )
    parser.add_argument(
        "--max-file-mb", type=int, help="largest file the loader accepts (up, plan; default 50)"
    )
    parser.add_argument(
        "--low-stock-threshold",
        type=_non_negative_int,
        metavar="N",
        help="the dashboard marks items with N or fewer left as low (up, plan; default 5; 0: none)",
    )
    parser.add_argument(
        "--alert-events",
        type=_alert_events,
        metavar="EVENTS",
        help="the alerts --email and --sms receive, comma-separated: out_of_stock, low_stock "
        "(up, plan; default both; the alerts queue always gets both)",
    )
    parser.add_argument(
        "--history-days",
        type=_days,
        metavar="DAYS",
        help="keep each item's count history this many days (up, plan; default 90)",
    )
    parser.add_argument("--no-dashboard", action="store_true", help="skip the dashboard (up, plan)")
    parser.add_argument(
        "--dashboard-user",
        metavar="NAME",
        help="create this dashboard user (up; password: $DASHBOARD_PASSWORD, else generated "
        "and printed once)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the outputs JSON")
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr)

    if args.command == "template":  # needs no target: account and region are CloudFormation's
        path = template.write(args.stack, _settings(args))
        say(f"wrote {path} and the function zips it names ({path.parent / 'functions'})")
        return 0
    try:
        aws = deploy.connect(args.endpoint_url, args.region)
        stack = deploy.locate(aws, args.stack)
        target = deploy.target_name(aws, stack)
        if args.command == "plan":
            say(f"planning stack {stack.name!r} on {target} ({stack.region}); changing nothing")
            people = People(args.email, args.sms, args.alarm_email)
            if args.destroy:
                the_plan = deploy.plan_destroy(aws, stack, keep_data=not args.delete_data)
            else:
                the_plan = deploy.plan(aws, stack, _settings(args), people, Changes(echo=say))
            for change in the_plan:
                if change.action != "nothing":
                    print(change.line)
            print(planner.summary(the_plan))
        elif args.command == "up":
            settings = _settings(args)
            say(f"provisioning stack {stack.name!r} on {target} ({stack.region})")
            changes = Changes(echo=say)
            result = deploy.up(
                aws, stack, settings, args.email, args.sms, changes, args.alarm_email
            )
            if args.dashboard_user and not result.get("dashboard_url"):
                say(f"--dashboard-user {args.dashboard_user}: ignored, there is no dashboard")
            elif args.dashboard_user:
                password = dashboard_users.password_from_environment()
                generated = dashboard_users.ensure_user(
                    aws, stack, args.dashboard_user, password, changes
                )
                if generated:
                    dashboard_users.announce_password(args.dashboard_user, generated)
            say(f"{len(changes.made)} change(s)" if changes.made else "already up to date")
            hint = awslocal.usage_line(aws.endpoint_url, stack.uploads_bucket)
            if hint:
                say(hint)
            print(json.dumps(result, indent=2))
        elif args.command == "outputs":
            print(json.dumps(deploy.outputs(aws, stack), indent=2))
        elif args.command == "rebuild-summary":
            stores = summary.rebuild(aws, stack)
            say(f"summary of stack {stack.name!r} rebuilt from its table: {stores} store(s)")
        elif args.command == "replay-failed":
            count = replay.replay_failed_loads(aws, stack, say)
            say(f"{count} failed load(s) replayed" if count else "no failed loads to replay")
        else:
            say(f"destroying stack {stack.name!r} on {target} ({stack.region})")
            changes = deploy.destroy(aws, stack, Changes(echo=say), keep_data=not args.delete_data)
            say(f"{len(changes.made)} resource(s) removed" if changes.made else "nothing to remove")
    except (deploy.StackNotFound, LookupError) as error:
        print(f"error: {error}; run `python -m provision up` first", file=sys.stderr)
        return 1
    except (dashboard.DashboardError, GaveUp) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
