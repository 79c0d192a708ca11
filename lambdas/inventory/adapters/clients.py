"""One boto3 client per service per container, created on first use.

boto3 reads AWS_ENDPOINT_URL itself, so the same code talks to MiniStack, LocalStack or AWS.
Each handler's Powertools Tracer patches botocore, so every call through these clients is an
X-Ray subsegment of the invocation's trace where tracing is on.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Enough pooled connections for the table writer's parallel lanes; "standard" retries also
# cover throttling and transient 5xx errors before the adapters' own retry loops see them.
_CONFIG = Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 3})


@cache
def client(service: str) -> Any:
    """The shared client for `service`, created on first use."""
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]
