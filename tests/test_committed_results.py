"""The committed results and leaderboard are reproducible from the repository."""

import json
import math
from pathlib import Path

import pytest

from bench.paths import results_root
from bench.results import read_result
from bench.runner import RunOptions, run_benchmark, run_portfolio_benchmark

COMMITTED = sorted(results_root().glob("*/*/*.json"))

#: Floats may differ by this much (relative) between machines: numpy's SIMD summation order
#: depends on the CPU (AVX2 vs AVX-512), which moves the last bits of a sum.  Everything else
#: (keys, strings, integers, list lengths, None) must match exactly, and so must every p-value
#: (ties are counted with a tolerance, see ``bench.bootstrap.sign_shares``).
FLOAT_REL_TOLERANCE = 1e-9


def result_differences(fresh: object, committed: object, path: str = "") -> list[str]:
    """Where ``fresh`` and ``committed`` differ: exactly, except floats to FLOAT_REL_TOLERANCE."""
    if isinstance(fresh, dict) and isinstance(committed, dict):
        if sorted(fresh) != sorted(committed):   # result files are written with sorted keys
            return [f"{path}: keys {sorted(fresh)} != {sorted(committed)}"]
        return [d for k in fresh for d in result_differences(fresh[k], committed[k], f"{path}/{k}")]
    if isinstance(fresh, list) and isinstance(committed, list):
        if len(fresh) != len(committed):
            return [f"{path}: length {len(fresh)} != {len(committed)}"]
        return [d for i, (a, b) in enumerate(zip(fresh, committed)) for d in result_differences(a, b, f"{path}[{i}]")]
    if isinstance(fresh, float) and isinstance(committed, float) and not isinstance(fresh, bool):
        if math.isclose(fresh, committed, rel_tol=FLOAT_REL_TOLERANCE, abs_tol=1e-12):
            return []
    elif type(fresh) is type(committed) and fresh == committed:
        return []
    return [f"{path}: {fresh!r} != {committed!r}"]


def test_result_differences_allows_only_last_bit_float_noise():
    committed = {"a": [0.1 + 0.2, 3, "x", None], "p": 0.13}
    assert result_differences({"a": [0.3, 3, "x", None], "p": 0.13}, committed) == []
    assert result_differences({"a": [0.3, 3, "x", None], "p": 0.131}, committed) == ["/p: 0.131 != 0.13"]
    assert result_differences({"a": [0.3, 4, "x", None], "p": 0.13}, committed) == ["/a[1]: 4 != 3"]
    assert result_differences({"a": [0.3, 3, "x"], "p": 0.13}, committed) == ["/a: length 3 != 4"]
    assert result_differences({"a": [0.3, 3, "x", None]}, committed) == [": keys ['a'] != ['a', 'p']"]


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
    assert result_differences(fresh, committed) == []


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
    assert result_differences(fresh, committed) == []
