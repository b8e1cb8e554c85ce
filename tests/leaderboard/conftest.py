"""pytest fixtures for the leaderboard tests: folders of FIXTURE result files (synthetic numbers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from leaderboard_fixtures import write_fixture_results


@pytest.fixture
def fixture_results(tmp_path: Path) -> Path:
    """A fresh folder of FIXTURE result files."""
    return write_fixture_results(tmp_path / "results")


@pytest.fixture(scope="module")
def built_leaderboard(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """The leaderboard built once per test module from the FIXTURE results: (out dir, files)."""
    from bench.leaderboard import build_leaderboard

    root = tmp_path_factory.mktemp("lb")
    results = write_fixture_results(root / "results")
    out = root / "out"
    return out, build_leaderboard(results, out)
