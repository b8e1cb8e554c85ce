"""pytest fixtures for the leaderboard tests: folders of FIXTURE result files (synthetic numbers)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# the FIXTURE helpers sit next to this file; make them importable under any --import-mode
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from leaderboard_fixtures import write_fixture_results  # noqa: E402


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
