"""``--reallocate-bootstrap`` and ``--train-bank`` (generalization runs).

Banks are FIXTURES (random numbers), not model outputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.bank import load_bank
from bench.bootstrap import replicate_indices, replicate_weights, resample_counts
from bench.errors import HardbenchError
from bench.reallocate import reallocated_replicates
from bench.runner import RunOptions, run_benchmark
from bench.scoring import compute_curves, problem_from_bank
from tests.core.fixtures import fixture_bank


def _problem(tmp_path, setting):
    problem = problem_from_bank(load_bank(fixture_bank(tmp_path / "b", n_queries=150, setting=setting)))
    test, held = problem.subset(problem.splits == "test"), problem.subset(problem.splits == "val")
    rng = np.random.default_rng(0)
    return test, held, np.clip(test.targets + rng.normal(0, .2, len(test.targets)), 0, 1), \
        np.clip(held.targets + rng.normal(0, .2, len(held.targets)), 0, 1)


@pytest.mark.parametrize("setting", ["routing", "best_of_k"])
def test_each_replicate_reallocates_on_its_own_resampled_batch(tmp_path, setting):
    test, held, test_pred, held_pred = _problem(tmp_path, setting)
    budgets = [0.0, 0.3, 0.6, 1.0] if setting == "routing" else [1.0, 2.0, 4.0]
    curves = compute_curves(test, held, test_pred, held_pred, budgets, n_bins=3, seed=5)
    weights = replicate_weights(len(test.query_ids), 4, seed=5)
    reps = reallocated_replicates(curves, test, held, test_pred, held_pred, weights, seed=5)
    assert reps.means["online"][0] == pytest.approx(curves.per_query["online"].mean(axis=0))
    held_rows = replicate_indices(resample_counts(len(held.query_ids), 4, 6))
    for r, rows in enumerate(replicate_indices(weights[1:]), start=1):
        # the online allocation of the resampled batch spends exactly B per resampled query
        assert reps.xs["online"][r] == pytest.approx(budgets)
        alone = compute_curves(test.subset(rows), held.subset(held_rows[r - 1]), test_pred[rows],
                               held_pred[held_rows[r - 1]], budgets, n_bins=3, seed=5)
        for m in ("online", "offline", "oracle"):
            assert reps.means[m][r] == pytest.approx(alone.per_query[m].mean(axis=0))
        # a held-fixed allocation would give another curve for online: the batch changed
    assert not np.allclose(reps.means["offline"][1:], reps.means["offline"][:1])


def test_reallocated_run_keeps_point_estimates_and_is_marked(tmp_path):
    bank_dir = fixture_bank(tmp_path / "b", n_queries=150, setting="routing")
    _, fixed = run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank_dir), bootstrap=60, out_dir=tmp_path / "f"))
    _, moved = run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank_dir), bootstrap=60, out_dir=tmp_path / "m",
                                                             reallocate_bootstrap=True))
    assert moved["summary"]["apgr"] == fixed["summary"]["apgr"]
    assert moved["bootstrap_allocation"] == "reallocated" and fixed["bootstrap_allocation"] == "fixed"
    assert "|boot:60+realloc|" in moved["signature"]


def _two_banks(tmp_path, setting_b="best_of_k"):
    a = fixture_bank(tmp_path / "a", n_queries=90, seed=1, name="bank-a")
    b = fixture_bank(tmp_path / "b", n_queries=60, seed=2, name="bank-b", setting=setting_b)
    return a, b


def test_train_bank_fits_on_one_bank_and_scores_on_the_other(tmp_path):
    a, b = _two_banks(tmp_path)
    path, result = run_benchmark("gsm8k", "constant", RunOptions(bank=str(b), train_bank=str(a), bootstrap=50,
                                                                 out_dir=tmp_path / "out"))
    assert path.name == "constant.train-gsm8k-bank-a.json"
    assert result["train_bank"] == "gsm8k/bank-a" and result["bank"] == "bank-b"
    assert result["train_bank_sha256"] == load_bank(a).manifest_sha256
    assert "|train:gsm8k/bank-a@" in result["signature"]
    assert result["predictions"]["heldout"]["bank"] == "bank-a"
    assert result["n_queries"] == 20                                  # bank b's test split
    # the constant predicts bank A's train mean: its loss is the Avg. loss, computed with A's mean
    a_problem = problem_from_bank(load_bank(a))
    held_values = np.array(result["predictions"]["test"]["values"])
    assert held_values == pytest.approx(a_problem.targets[a_problem.splits == "train"].mean())
    assert result["intrinsic"]["loss"] == pytest.approx(result["intrinsic"]["loss_avg"])
    _, in_bank = run_benchmark("gsm8k", "constant", RunOptions(bank=str(b), bootstrap=50, out_dir=tmp_path / "out"))
    assert in_bank["train_bank"] is None and "|train:" not in in_bank["signature"]


def test_train_bank_refuses_another_setting(tmp_path):
    a, b = _two_banks(tmp_path, setting_b="routing")
    with pytest.raises(HardbenchError, match="same setting and target kind"):
        run_benchmark("gsm8k", "constant", RunOptions(bank=str(b), train_bank=str(a), out_dir=tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_train_bank_refuses_a_feature_missing_on_a_bank(tmp_path):
    a, b = _two_banks(tmp_path)
    sub = tmp_path / "probe"
    sub.mkdir()
    (sub / "predictor.py").write_text("class Predictor:\n    def __init__(self, feature):\n        pass\n")
    (sub / "submission.yaml").write_text("name: probe\nkind: code\nentry: predictor:Predictor\n"
                                         "params: {feature: minilm}\n")
    with pytest.raises(HardbenchError, match="uses feature 'minilm', which gsm8k/bank-a and gsm8k/bank-b lack"):
        run_benchmark("gsm8k", str(sub), RunOptions(bank=str(b), train_bank=str(a), out_dir=tmp_path / "out"))
