"""The line `make up` prints to show how to reach the stack with awslocal by hand.

awslocal (awscli-local, pinned in requirements-dev.txt) sends every command to
$AWS_ENDPOINT_URL, else to http://localhost:4566, with test credentials and us-east-1 when
the environment has none. So the line names the endpoint only when the emulator is elsewhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit

AWSLOCAL = ".venv/bin/awslocal"
SAMPLE_FILE = "sample-data/berlin.csv"
_AWSLOCAL_DEFAULT_PORT = 4566
_LOOPBACK_NAMES = ("localhost", "127.0.0.1")


def usage_line(endpoint: str | None, uploads_bucket: str) -> str | None:
    """`awslocal: <a command that uploads a sample file>`; None on AWS, where it has no use."""
    if not endpoint:
        return None
    command = f"{AWSLOCAL} s3 cp {SAMPLE_FILE} s3://{uploads_bucket}/"
    if not _awslocal_default(endpoint):
        command = f"AWS_ENDPOINT_URL={endpoint} {command}"
    return f"awslocal: {command}"


def _awslocal_default(endpoint: str) -> bool:
    parts = urlsplit(endpoint)
    return (
        parts.scheme == "http"
        and parts.hostname in _LOOPBACK_NAMES
        and (parts.port or 80) == _AWSLOCAL_DEFAULT_PORT
    )
