"""The committed results and leaderboard are reproducible from the repository."""

import json
from pathlib import Path

import pytest

from bench.paths import results_root
from bench.results import read_result
from bench.runner import RunOptions, run_benchmark, run_portfolio_benchmark

COMMITTED = sorted(results_root().glob("*/*/*.json"))


def test_results_are_committed_for_every_shipped_bank():
    from bench.bank import available_banks

    have = {(p.parent.parent.name, p.parent.name) for p in COMMITTED}
    assert set(available_banks()) <= have


@pytest.mark.parametrize("path", [p for p in COMMITTED if p.stem == "constant"], ids=lambda p: p.parent.name)
def test_rerunning_a_committed_result_reproduces_it(tmp_path, path: Path):
    committed = read_result(path)
    bins = committed["offline"].get("bins_requested", committed["offline"]["bins"])   # v2: what was asked
    options = RunOptions(bank=committed["bank"], bootstrap=committed["bootstrap"], seed=committed["seed"],
                         budgets=committed["budgets"], n_bins=bins, out_dir=tmp_path)
    _, fresh = run_benchmark(committed["task"], committed["submission"], options)
    fresh = json.loads(json.dumps(fresh))
    for key in ("versions", "isolation"):   # the machine, not the numbers
        committed.pop(key), fresh.pop(key)
    assert fresh == committed


def test_rebuilding_the_leaderboard_reproduces_the_committed_files(tmp_path):
    from bench.leaderboard import build_leaderboard

    build_leaderboard(results_root(), tmp_path)
    for name in ("LEADERBOARD.md", "leaderboard.csv", "site/index.html"):
        assert (tmp_path / name).read_bytes() == (results_root() / name).read_bytes(), name
    committed_plots = sorted(p.name for p in (results_root() / "plots").glob("*.png"))
    assert sorted(p.name for p in (tmp_path / "plots").glob("*.png")) == committed_plots


@pytest.mark.parametrize("path", [p for p in COMMITTED if p.stem.startswith("constant@portfolio-")],
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_rerunning_a_committed_portfolio_result_reproduces_it(tmp_path, path: Path):
    committed = read_result(path)
    options = RunOptions(bank=committed["bank"], bootstrap=committed["bootstrap"], seed=committed["seed"],
                         budgets=committed["budgets"], out_dir=tmp_path)
    _, fresh = run_portfolio_benchmark(committed["task"], committed["submission"], options,
                                       decoders=committed["decoders"], cost_unit=committed["cost_unit_option"])
    fresh = json.loads(json.dumps(fresh))
    for key in ("versions", "isolation"):   # the machine, not the numbers
        committed.pop(key), fresh.pop(key)
    assert fresh == committed
