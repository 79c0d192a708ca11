"""`python -m provision up`'s options reach the Settings it provisions with, without a target."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from provision import __main__ as cli
from provision import deploy
from provision.aws import Aws
from provision.stack import Settings, Stack


@pytest.fixture
def provisioned(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The Settings each `up` would provision with; nothing is contacted."""
    seen: list[Settings] = []

    def up(aws: Any, stack: Stack, settings: Settings, *args: Any) -> dict[str, Any]:
        seen.append(settings)
        return {"dashboard_url": None}

    monkeypatch.setattr(deploy, "connect", lambda *args: Aws(boto3.Session(), None))
    monkeypatch.setattr(
        deploy, "locate", lambda aws, name: Stack(name, "123456789012", "eu-west-1")
    )
    monkeypatch.setattr(deploy, "up", up)
    return seen


@pytest.mark.parametrize(("argument", "threshold"), [("8", 8), ("0", 0)])
def test_low_stock_threshold_sets_the_setting(provisioned, argument, threshold):
    # given / when
    code = cli.main(["up", "--quiet", "--low-stock-threshold", argument])

    # then: 0 too, which marks nothing low, is taken as given and not as "unset"
    assert code == 0
    assert [settings.low_stock_threshold for settings in provisioned] == [threshold]


def test_without_the_option_the_threshold_is_the_default_5(provisioned):
    # given / when
    assert cli.main(["up", "--quiet"]) == 0

    # then
    assert [settings.low_stock_threshold for settings in provisioned] == [5]


@pytest.mark.parametrize("argument", ["-1", "five", "2.5"])
def test_a_threshold_that_is_not_a_whole_number_0_or_more_is_refused(provisioned, capsys, argument):
    # given / when
    with pytest.raises(SystemExit) as exit_:
        cli.main(["up", "--low-stock-threshold", argument])

    # then: nothing was provisioned, and the error names the option
    assert exit_.value.code == 2
    assert "--low-stock-threshold" in capsys.readouterr().err
    assert provisioned == []
