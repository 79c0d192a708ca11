"""The awslocal line `make up` prints: a command that works as printed."""

from __future__ import annotations

import pytest

from provision.awslocal import usage_line

BUCKET = "inventory-uploads-000000000000-us-east-1"


@pytest.mark.parametrize("endpoint", ["http://localhost:4566", "http://127.0.0.1:4566"])
def test_on_awslocals_own_default_the_command_needs_no_endpoint(endpoint):
    assert usage_line(endpoint, BUCKET) == (
        f"awslocal: .venv/bin/awslocal s3 cp sample-data/berlin.csv s3://{BUCKET}/"
    )


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:4610", "https://localhost:4566"])
def test_elsewhere_the_command_names_the_endpoint(endpoint):
    assert usage_line(endpoint, BUCKET) == (
        f"awslocal: AWS_ENDPOINT_URL={endpoint} .venv/bin/awslocal s3 cp "
        f"sample-data/berlin.csv s3://{BUCKET}/"
    )


def test_on_aws_there_is_no_line():
    assert usage_line(None, BUCKET) is None
