"""The terms a stack is described in (provision.description): resources, the references
between them, and what of the target and its people shapes the stack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Ref:
    """A value resource `kind` `name` has once it exists: its Arn, Url, StreamArn or Id."""

    kind: str
    name: str
    attribute: str


@dataclass(frozen=True)
class Resource:
    """One resource: what it is, its name on the target, and the settings it must have.
    `keeps_data`: destroy keeps it unless asked (`--delete-data`); the template retains it.
    `part`: the optional part of the stack it belongs to ("dashboard"), which the template
    makes conditional."""

    kind: str
    name: str
    properties: dict[str, Any] = field(hash=False)
    keeps_data: bool = False
    part: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Target:
    """What of the target shapes the stack: an emulator's plain-HTTP endpoint gets no TLS-only
    bucket policy (it would refuse its own functions) and gets the inbox queue standing in for
    email and SMS (no emulator keeps those)."""

    endpoint_url: str | None = None
    dashboard_supported: bool = True

    @property
    def tls(self) -> bool:
        return not (self.endpoint_url or "").startswith("http://")

    @property
    def emulator(self) -> bool:
        return self.endpoint_url is not None


@dataclass(frozen=True)
class People:
    """Who is subscribed: to the alerts (email, SMS) and to the alarms (an operator)."""

    email: str | None = None
    sms: str | None = None
    alarm_email: str | None = None
