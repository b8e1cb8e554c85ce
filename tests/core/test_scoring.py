"""Scoring: curves against Monte-Carlo simulation, method invariants, the result file and the CLI."""

import json

import numpy as np
import pytest

from bench.bank import load_bank
from bench.bootstrap import percentile_interval
from bench.cli import main
from bench.errors import HardbenchError
from bench.estimators import expected_reward
from bench.runner import RunOptions, run_benchmark
from bench.scoring import compute_curves, problem_from_bank
from tests.core.fixtures import fixture_bank


def test_exact_expected_reward_agrees_with_monte_carlo(tmp_path):
    bank = load_bank(fixture_bank(tmp_path / "b", n_queries=30, n_samples=6, reward="real"))
    problem = problem_from_bank(bank)
    rng = np.random.default_rng(0)
    budgets = rng.uniform(0, 6, size=30)
    exact = expected_reward(problem.q_table, budgets).mean()
    rewards = bank.reward_matrix("model").rewards
    draws = []
    for _ in range(4000):
        total = 0.0
        for i, b in enumerate(budgets):
            k = int(np.floor(b)) + int(rng.random() < b - np.floor(b))
            total += rewards[i, rng.choice(6, size=k, replace=False)].max() if k else 0.0
        draws.append(total / 30)
    draws = np.array(draws)
    half_width = 2.58 * draws.std() / np.sqrt(len(draws))
    assert abs(draws.mean() - exact) < half_width


@pytest.mark.parametrize("reward,setting", [("binary", "best_of_k"), ("real", "best_of_k"), ("binary", "routing"),
                                            ("real", "routing")])
def test_oracle_dominates_and_constant_equals_baseline(tmp_path, reward, setting):
    bank = load_bank(fixture_bank(tmp_path / "b", n_queries=90, reward=reward, setting=setting))
    problem = problem_from_bank(bank)
    test, held = problem.subset(problem.splits == "test"), problem.subset(problem.splits == "val")
    train_mean = problem.targets[problem.splits == "train"].mean(axis=0)
    const = np.repeat(np.atleast_1d(train_mean)[None, :], len(test.query_ids), axis=0).reshape(
        (len(test.query_ids),) + np.shape(train_mean))
    held_const = const[:1].repeat(len(held.query_ids), axis=0)
    budgets = [0.0, 0.5, 1.0] if setting == "routing" else [0.0, 1.0, 2.5, 4.0, 8.0]
    curves = compute_curves(test, held, const, held_const, budgets)
    base = "random" if setting == "routing" else "uniform"
    means = {m: v.mean(axis=0) for m, v in curves.per_query.items()}
    assert np.all(means["oracle"] >= means[base] - 1e-12)
    assert np.all(means["oracle"] >= means["online"] - 1e-12)
    if reward == "binary" or setting == "routing":
        # equal predictions tie everywhere: the online allocation is the uniform one
        assert means["online"] == pytest.approx(means[base])
    for m in curves.realized:
        if m not in ("offline", "oracle"):
            assert curves.realized[m] == pytest.approx(budgets)
    assert np.all(curves.realized["oracle"] <= np.array(budgets) + 1e-12)   # at most B (issue 11, bug 5)


def test_bootstrap_interval_coverage():
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(200):
        values = (rng.random((150, 1)) < 0.7).astype(float)
        low, high = percentile_interval(values, 400, seed=trial)
        covered += low[0] <= 0.7 <= high[0]
    assert 0.89 <= covered / 200 <= 0.99


def test_run_writes_result_and_cli_prints_table(tmp_path, capsys):
    bank_dir = fixture_bank(tmp_path / "bank", n_queries=60, reward="binary")
    code = main(["run", "--task", "gsm8k", "--submission", "constant", "--bank", str(bank_dir),
                 "--bootstrap", "50", "--budgets", "0", "1", "2", "4", "--out", str(tmp_path / "out")])
    assert code == 0
    out = capsys.readouterr().out
    assert "online" in out and "uniform" in out and "oracle" in out
    result = json.loads((tmp_path / "out/gsm8k/fixture/constant.json").read_text())
    assert result["format"] == "hardbench-result/2"
    assert result["budgets"] == [0.0, 1.0, 2.0, 4.0]
    assert set(result["curves"]) == {"online", "offline", "uniform", "oracle", "oracle-exact"}
    for point in result["curves"]["online"]:
        assert point["ci_low"] <= point["mean"] <= point["ci_high"]
    assert result["intrinsic"]["loss"] == pytest.approx(result["intrinsic"]["loss_avg"])
    assert result["allocation_by_bin"]["bins"] == ["easy", "medium", "hard"]


def test_bad_budgets_are_a_clear_error(tmp_path, capsys):
    bank_dir = fixture_bank(tmp_path / "bank", n_queries=30)
    code = main(["run", "--task", "gsm8k", "--submission", "constant", "--bank", str(bank_dir),
                 "--budgets", "99", "--out", str(tmp_path / "out")])
    assert code == 2
    assert "outside" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_result_write_is_atomic(tmp_path, monkeypatch):
    bank_dir = fixture_bank(tmp_path / "bank", n_queries=30)
    import os

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank_dir), bootstrap=10, out_dir=tmp_path / "out"))
    leftovers = list((tmp_path / "out").rglob("*")) if (tmp_path / "out").exists() else []
    assert not [p for p in leftovers if p.is_file()]


def test_default_bank_run_reproducible(tmp_path):
    _, first = run_benchmark("gsm8k", "constant", RunOptions(bootstrap=200, out_dir=tmp_path / "a"))
    _, second = run_benchmark("gsm8k", "constant", RunOptions(bootstrap=200, out_dir=tmp_path / "b"))
    a = (tmp_path / "a/gsm8k/mixtral-vs-gpt4/constant.json").read_bytes()
    b = (tmp_path / "b/gsm8k/mixtral-vs-gpt4/constant.json").read_bytes()
    assert a == b
    assert first["setting"] == "routing" and first["n_queries"] == 417


def test_wrong_task_for_bank(tmp_path):
    bank_dir = fixture_bank(tmp_path / "bank", n_queries=30, task="math")
    with pytest.raises(HardbenchError, match="is for task 'math'"):
        run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank_dir), bootstrap=0, out_dir=tmp_path))
