"""The clients of one target, and what every resource module shares: the record of changes,
errors that mean "missing", retries while IAM propagates, waits.

The resource modules (`storage`, `topics_and_queues`, `functions`) have one function per kind
of resource: make it exist with the given settings, or remove it. Each `ensure_*` is
idempotent: it reads what is there, changes only what differs, and records what it did in
`Changes`, so a second run of provisioning records nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
from botocore.exceptions import ClientError

T = TypeVar("T")


@dataclass
class Changes:
    """What a provisioning run created, updated or deleted, in order."""

    made: list[str] = field(default_factory=list)
    echo: Callable[[str], None] | None = None

    def note(self, line: str) -> None:
        """Say something about the run that is not a change."""
        if self.echo:
            self.echo(line)

    def record(self, action: str, kind: str, name: str) -> None:
        line = f"{action:8} {kind} {name}"
        self.made.append(line)
        if self.echo:
            self.echo(line)


class Aws:
    """The clients of one target: an endpoint (MiniStack, LocalStack) or AWS itself."""

    def __init__(self, session: boto3.Session, endpoint_url: str | None) -> None:
        self.session = session
        self.endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint_url
            )
        return self._clients[service]

    s3 = property(lambda self: self.client("s3"))
    dynamodb = property(lambda self: self.client("dynamodb"))
    sns = property(lambda self: self.client("sns"))
    sqs = property(lambda self: self.client("sqs"))
    iam = property(lambda self: self.client("iam"))
    logs = property(lambda self: self.client("logs"))
    sts = property(lambda self: self.client("sts"))
    lambda_ = property(lambda self: self.client("lambda"))


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def missing(error: ClientError, *codes: str) -> bool:
    """True if `error` says the resource does not exist."""
    return (
        error_code(error) in codes
        or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
    )


def ignore_missing(call: Callable[[], T], *codes: str) -> T | None:
    try:
        return call()
    except ClientError as error:
        if missing(error, *codes):
            return None
        raise


class GaveUp(Exception):
    """A call still failed with a retryable error when its deadline passed."""


@dataclass(frozen=True)
class Patience:
    """How long to keep retrying, and the clock and sleep to do it with (a test's are fake)."""

    timeout: float
    first_delay: float = 0.5
    max_delay: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def retry_while(
    call: Callable[[], T], retryable: Callable[[ClientError], bool], patience: Patience, what: str
) -> T:
    """Call until it stops failing with a retryable error, backing off up to the deadline.

    Raises:
        GaveUp: naming `what` and the last error, if it still failed so at the deadline.
        ClientError: any error that is not retryable, at once.
    """
    deadline = patience.clock() + patience.timeout
    delay = patience.first_delay
    while True:
        try:
            return call()
        except ClientError as error:
            if not retryable(error):
                raise
            remaining = deadline - patience.clock()
            if remaining <= 0:
                raise GaveUp(
                    f"gave up after {patience.timeout:.0f}s waiting for {what}: {error}"
                ) from error
            patience.sleep(min(delay, remaining))  # the last attempt lands on the deadline
            delay = min(delay * 2, patience.max_delay)


# On AWS a new role, or a role's new policy, takes seconds to reach Lambda, which checks it
# whenever a call names the function's role or relies on its permissions. Until then such
# calls fail with InvalidParameterValueException and a message naming the role: "The role
# defined for the function cannot be assumed by Lambda.", "The provided execution role does
# not have permissions to call SendMessage on SQS", "Cannot access stream ... Please ensure
# the role can perform the GetRecords ... Actions on your stream in IAM."
ROLE_PROPAGATION = Patience(timeout=60)


def role_not_ready(error: ClientError) -> bool:
    """True if Lambda refused the call over a role IAM may not have propagated yet."""
    message = str(error.response.get("Error", {}).get("Message", "")).lower()
    return error_code(error) == "InvalidParameterValueException" and "role" in message


def while_role_propagates(call: Callable[[], T], what: str) -> T:
    """`call`, retried while Lambda refuses the role it relies on (see ROLE_PROPAGATION)."""
    return retry_while(
        call, role_not_ready, ROLE_PROPAGATION, f"Lambda to accept the role of {what}"
    )


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    progress: Callable[[], object] | None = None,
) -> None:
    """Poll `predicate` until it is true; raise TimeoutError naming `what` otherwise.

    With `progress`, `timeout` is how long the work may go without advancing: the deadline
    moves on each time `progress()` returns something new (a count of rows, of parts), so a
    slow machine that keeps advancing gets its time and one that stopped fails as soon.
    """
    deadline = time.monotonic() + timeout
    reached = progress() if progress else None
    delay = 0.1
    while not predicate():
        now = progress() if progress else None
        if now != reached:
            reached, deadline = now, time.monotonic() + timeout
        elif time.monotonic() > deadline:
            stalled = f" (stopped at {reached})" if progress else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{stalled}")
        time.sleep(delay)
        delay = min(delay * 2, 2)
