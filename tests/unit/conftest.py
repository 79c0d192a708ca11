"""Unit tests never touch the network: any socket but a Unix one fails the test.

Hooks in this conftest apply only to tests under tests/unit, so integration tests keep theirs.
"""

import pytest
import pytest_socket

# The load_inventory handler's fixtures, for every test module of the loader.
from tests.unit.loader_harness import aws, aws_env, lambda_client, log_lines  # noqa: F401


@pytest.hookimpl(trylast=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    pytest_socket.disable_socket(allow_unix_socket=True)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    pytest_socket.enable_socket()
