"""The hand-checkable examples in the leaderboard modules' docstrings hold."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["bench.leaderboard.collect", "bench.leaderboard.tables", "bench.portfolio"])
def test_doctests(module: str) -> None:
    outcome = doctest.testmod(importlib.import_module(module))
    assert outcome.attempted > 0 and outcome.failed == 0
