"""The leaderboard's portfolio section, from real `bench run --setting portfolio` results on a
FIXTURE three-decoder bank: ranked table with intervals, cost-quality plot, deterministic."""

import json
import textwrap

import pytest

from bench.leaderboard.build import build_leaderboard
from bench.runner import RunOptions, run_benchmark, run_portfolio_benchmark
from tests.core.fixtures import fixture_bank

COST = {"small": {"value": 1.0, "unit": "B-params", "source": "FIXTURE"},
        "medium": {"value": 7.0, "unit": "B-params", "source": "FIXTURE"},
        "large": {"value": 70.0, "unit": "B-params", "source": "FIXTURE"}}


@pytest.fixture
def results_dir(tmp_path):
    bank = fixture_bank(tmp_path / "bank", n_queries=90, n_samples=3, decoders=list(COST), cost=COST,
                        task="math", name="fixture-3")
    sub = tmp_path / "half"
    sub.mkdir()
    (sub / "predictor.py").write_text(textwrap.dedent("""
        import numpy as np

        class Half:
            def fit(self, train):
                self.width = train.targets.shape[1]
                return self

            def predict(self, test):
                return np.full((len(test.query_ids), self.width), 0.5)
    """))
    (sub / "submission.yaml").write_text(json.dumps({"name": "half", "kind": "code", "entry": "predictor:Half"}))
    out = tmp_path / "results"
    options = RunOptions(bank=str(bank), bootstrap=30, out_dir=out, budgets=[0, 1, 3, 10, 30, 100])
    run_portfolio_benchmark("math", "constant", options)
    run_portfolio_benchmark("math", str(sub), options)
    run_benchmark("math", "constant", RunOptions(bank=str(bank), bootstrap=30, out_dir=out))
    return out


def test_portfolio_section_ranks_submissions_against_the_frontier(tmp_path, results_dir):
    out = tmp_path / "board"
    written = build_leaderboard(results_dir, out)
    text = (out / "LEADERBOARD-portfolio.md").read_text()
    assert "## math / fixture-3: portfolio over 3 decoders" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "AIQ" not in line]
    submissions = [row.split("|")[1].strip() for row in rows]
    assert set(submissions[:2]) == {"constant", "half"}
    assert submissions[2:] == ["*oracle*", "*best_single*", "*uniform*", "*random*"]
    diffs = [float(row.split("|")[4]) for row in rows[:2]]
    assert diffs == sorted(diffs, reverse=True)
    plots = [p for p in written if p.name.startswith("portfolio--") and p.parent.name == "plots"]
    assert plots and all(p.read_bytes()[:4] == b"\x89PNG" for p in plots)
    assert "@portfolio" not in (out / "LEADERBOARD.md").read_text()        # the main tables are unchanged
    again = tmp_path / "again"
    build_leaderboard(results_dir, again)
    assert (again / "LEADERBOARD-portfolio.md").read_bytes() == (out / "LEADERBOARD-portfolio.md").read_bytes()
    assert all((again / p.relative_to(out)).read_bytes() == p.read_bytes() for p in plots)
