"""python -m provision.messages alerts|inbox [--stack NAME]: messages as they arrive.

`alerts`: the stack's SQS alerts queue, each alert as its sentence and its JSON.
`inbox`: on an emulator, what its email and SMS subscribers received (provision.inbox),
each as the person reads it. Ctrl-C stops either.

Each takes the messages it shows off its queue, as any reader of a queue does: what it has
shown is not shown again (an alert `make alerts` showed is not in `make demo`'s list).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from provision import deploy, inbox
from provision.alert_text import alert_line, inbox_lines
from provision.aws import Aws
from provision.stack import DEFAULT_STACK, Stack
from provision.topics_and_queues import queue_url


def follow_queue(
    aws: Aws,
    url: str,
    render: Callable[[dict[str, Any]], list[str]],
    output: TextIO,
    keep_going: Callable[[], bool] = lambda: True,
) -> None:
    """Print `render(message)` for each message as it arrives, then delete it; long polls,
    so an idle queue costs a request every few seconds and a new message shows at once."""
    while keep_going():
        response = aws.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5, MessageAttributeNames=["All"]
        )
        for message in response.get("Messages", []):
            for line in render(message):
                print(line, file=output, flush=True)
            aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


Render = Callable[[dict[str, Any]], list[str]]


def run_follower(
    stack_name: str, open_queue: Callable[[Aws, Stack], tuple[str, Render]], missing: str
) -> int:
    """The command-line part `make alerts` and `make inbox` share: find the queue (and how to
    show its messages), say what is followed, follow it until Ctrl-C. `missing`: what to do
    when the stack has no such queue."""
    try:
        aws = deploy.connect()
        stack = deploy.locate(aws, stack_name)
        name, render = open_queue(aws, stack)
        url = queue_url(aws, name)
        if url is None:
            print(f"error: stack {stack.name!r} has no queue {name}: {missing}", file=sys.stderr)
            return 1
        target = deploy.target_name(aws, stack)
        print(f"waiting for messages in {name} on {target} (Ctrl-C stops)", file=sys.stderr)
        follow_queue(aws, url, render, sys.stdout)
    except KeyboardInterrupt:
        return 0
    except (ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def open_inbox(aws: Aws, stack: Stack) -> tuple[str, Render]:
    """The inbox queue, and how to show a notification in it: once for each person
    subscribed when the inbox opens."""
    people = inbox.recipients(aws, stack.topic_arn)
    if not people:
        print("no email or SMS subscriptions: nobody gets these", file=sys.stderr)
    return stack.inbox_queue, lambda message: inbox_lines(message["Body"], people)


def open_alerts(aws: Aws, stack: Stack) -> tuple[str, Render]:
    return stack.alerts_queue, lambda message: [alert_line(message["Body"])]


FOLLOWED = {
    "alerts": (open_alerts, "run `make up` first"),
    "inbox": (open_inbox, "provision the emulator's stack with --email or --sms first"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provision.messages", description=__doc__)
    parser.add_argument("queue", choices=sorted(FOLLOWED))
    parser.add_argument("--stack", default=DEFAULT_STACK)
    args = parser.parse_args(argv)
    open_queue, missing = FOLLOWED[args.queue]
    return run_follower(args.stack, open_queue, missing)


if __name__ == "__main__":
    sys.exit(main())
