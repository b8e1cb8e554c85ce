"""Intervals for every summary number (result format v2), checked against brute-force resampling.

Banks and predictions are FIXTURES (random numbers), not model outputs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench import metrics
from bench.bank import load_bank
from bench.bootstrap import replicate_indices, resample_counts, split_replicates
from bench.paths import results_root
from bench.results import read_result
from bench.runner import RunOptions, run_benchmark
from bench.scoring import (
    baseline_rewards,
    compute_curves,
    problem_from_bank,
    replicate_curves,
    summary_replicates,
    uniform_target_for_spend,
)
from tests.core.fixtures import fixture_bank


def _split(problem, rng_seed=0):
    test, held = problem.subset(problem.splits == "test"), problem.subset(problem.splits == "val")
    rng = np.random.default_rng(rng_seed)
    noisy = lambda p: np.clip(p.targets + rng.normal(0, 0.15, size=p.targets.shape), 0, 1)  # noqa: E731
    return test, held, noisy(test), noisy(held)


@pytest.mark.parametrize("setting", ["routing", "best_of_k"])
def test_replicate_summaries_equal_brute_force_resampling(tmp_path, setting):
    bank = load_bank(fixture_bank(tmp_path / "b", n_queries=150, setting=setting, reward="binary"))
    test, held, test_pred, held_pred = _split(problem_from_bank(bank))
    budgets = [0.0, 0.25, 0.5, 0.75, 1.0] if setting == "routing" else [1.0, 2.0, 4.0, 8.0]
    curves = compute_curves(test, held, test_pred, held_pred, budgets, n_bins=4)
    n = len(test.query_ids)
    weights = np.vstack([np.ones((1, n)), resample_counts(n, 5, seed=7)])
    tree = summary_replicates(replicate_curves(curves, test, weights), setting)
    base = "random" if setting == "routing" else "uniform"
    for r, rows in enumerate(replicate_indices(weights[1:]), start=1):
        mean = {m: v[rows].mean(axis=0) for m, v in curves.per_query.items()}
        base_at = {m: v[rows].mean(axis=0) for m, v in curves.baseline_at.items()}
        for m in ("online", "offline", "oracle"):
            x = curves.summary_budgets(m)
            assert tree["area_between_curves"][m][r] == pytest.approx(
                metrics.area_between_curves(x, mean[m], base_at[m]), abs=1e-12)
            if setting == "routing":
                weak, strong = test.q_table[rows, 0].mean(), test.q_table[rows, 1].mean()
                assert tree["apgr"][m][r] == pytest.approx(metrics.apgr(x, mean[m], weak, strong), abs=1e-12)
            else:
                saved = metrics.compute_saved(budgets, x, mean[m], mean[base], curves.realized[base])
                got = [p["saving_pct"][r] for p in tree["compute_saved"][m]]
                want = [-np.inf if s["saving_pct"] is None and s["matched_budget"] is None else s["saving_pct"]
                        for s in saved]
                assert got == pytest.approx(want, abs=1e-9)


def test_uniform_spend_is_inverted_through_ragged_caps(tmp_path):
    caps = np.array([2, 4, 8, 8])
    spend = np.array([1.0, 3.5, 5.5])
    t = uniform_target_for_spend(caps, spend)
    assert np.minimum(t[:, None], caps[None, :]).mean(axis=1) == pytest.approx(spend)
    bank = load_bank(fixture_bank(tmp_path / "b", n_queries=60, ragged=True))
    test = problem_from_bank(bank).subset(problem_from_bank(bank).splits == "test")
    base = baseline_rewards(test, np.array([1.5]))
    target = uniform_target_for_spend(test.caps, np.array([1.5]))[0]
    from bench.estimators import expected_reward

    assert base[:, 0] == pytest.approx(expected_reward(test.q_table, np.minimum(target, test.caps)))


def test_every_summary_number_has_an_interval(tmp_path):
    bank_dir = fixture_bank(tmp_path / "b", n_queries=120, reward="real")
    _, result = run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank_dir), bootstrap=200,
                                                              out_dir=tmp_path / "out"))
    result = json.loads(json.dumps(result))
    summary, ci = result["summary"], result["summary"]["ci"]

    def walk(point, bounds, where):
        if isinstance(point, dict):
            for key, value in point.items():
                if key in ("ci", "paired_vs_baseline", "baseline") or (key in ("budget", "realized_budget")):
                    continue
                walk(value, bounds[key], f"{where}.{key}")
        elif isinstance(point, list):
            for i, value in enumerate(point):
                walk(value, bounds[i], f"{where}[{i}]")
        elif point is not None:
            assert isinstance(bounds, list) and len(bounds) == 2, where

    walk(summary, ci, "summary")
    for key in ("loss", "loss_avg", "loss_opt", "median_accuracy"):
        low, high = result["intrinsic"]["ci"][key]
        assert low <= high
    # the constant predictor's loss equals Avg's in every replicate
    assert result["intrinsic"]["ci"]["loss"] == pytest.approx(result["intrinsic"]["ci"]["loss_avg"])


def test_paired_vs_baseline_of_a_constant_predictor_is_zero(tmp_path):
    bank_dir = fixture_bank(tmp_path / "b", n_queries=120, setting="routing")
    _, result = run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank_dir), bootstrap=200,
                                                              out_dir=tmp_path / "out"))
    paired = result["summary"]["paired_vs_baseline"]
    for metric in ("apgr", "area_between_curves", "gain@0.5"):
        entry = paired["online"][metric]
        assert entry["diff"] == pytest.approx(0, abs=1e-12) and entry["p_le_0"] == 1.0
    assert paired["oracle"]["apgr"]["p_le_0"] == 0.0 and paired["oracle"]["apgr"]["ci_low"] > 0


def test_split_replicates_nulls_and_never_reached():
    tree = {"a": np.array([1.0, 0.5, 1.5, 1.0]), "never": np.array([np.inf] * 4), "budget": 2.0, "name": "x"}
    point, ci = split_replicates(tree, has_replicates=True)
    assert point == {"a": 1.0, "never": None, "budget": 2.0, "name": "x"}
    assert ci["never"] == [None, None] and ci["budget"] == 2.0 and "name" not in ci
    _, none = split_replicates(tree, has_replicates=False)
    assert none["a"] is None


def test_version_1_results_still_read():
    committed = sorted(results_root().glob("*/*/*.json"))
    assert committed
    for path in committed:
        result = read_result(path)
        if result["format"] == "hardbench-result/1":
            assert result["decoders"] is None and result["train_bank"] is None and result["summary"]["ci"] is None


def test_intrinsic_replicates_equal_the_table1_functions_on_resampled_queries():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(4)
    targets = rng.random(80)
    preds = np.clip(targets + rng.normal(0, 0.2, 80), 0, 1)
    weights = np.vstack([np.ones((1, 80)), resample_counts(80, 6, seed=1)])
    reps = metrics.intrinsic_replicates("success_prob", targets, preds, 0.5, targets, preds, weights)
    for r, rows in enumerate(replicate_indices(weights[1:]), start=1):
        t, p = targets[rows], preds[rows]
        assert reps["loss"][r] == pytest.approx(metrics.soft_cross_entropy(t, p))
        assert reps["loss_avg"][r] == pytest.approx(metrics.soft_cross_entropy(t, 0.5))
        assert reps["spearman"][r] == pytest.approx(spearmanr(p, t).statistic)
        assert reps["median_accuracy"][r] == pytest.approx(metrics.median_accuracy(t, p))
        assert reps["ece"][r] == pytest.approx(metrics.expected_calibration_error(metrics.reliability_bins(t, p)))
    assert reps["loss"][0] == pytest.approx(metrics.soft_cross_entropy(targets, preds))


def _ranked_per_resample(indices, t, p):
    """Reference: rank every resample (scipy rankdata) and call median_accuracy on every row."""
    from scipy.stats import rankdata

    ra, rb = rankdata(p[indices], axis=1), rankdata(t[indices], axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (ra * rb).sum(axis=1) / np.sqrt((ra ** 2).sum(axis=1) * (rb ** 2).sum(axis=1))
    accuracy = [metrics.median_accuracy(t[rows], p[rows]) for rows in indices]
    return rho, np.array([np.nan if a is None else a for a in accuracy])


@pytest.mark.parametrize("n, ties, chunk", [(2, 1, None), (7, 0, None), (60, 1, None), (61, 2, None),
                                            (400, 1, 1000), (901, 0, 5000)])
def test_rank_metrics_from_one_sort_equal_ranking_every_resample_bit_for_bit(monkeypatch, n, ties, chunk):
    """Spearman and median accuracy from one sort per score (rank_metric_replicates) are the
    same floats as rankdata and median_accuracy on each resample: ties, odd/even n, a median
    that is the maximum (ties=2), undefined rows, several chunks of replicates."""
    if chunk:
        monkeypatch.setattr(metrics, "_CHUNK_ELEMENTS", chunk)
    rng = np.random.default_rng(n)
    t = rng.beta(0.5, 1.5, n)
    p = np.clip(t + rng.normal(0, 0.15, n), 0, 1)
    if ties == 1:
        t, p = np.round(t, 1), np.round(p, 1)
    elif ties == 2:
        t, p = np.round(t), np.round(p * 2) / 2
    weights = np.vstack([np.ones((1, n)), resample_counts(n, 40, seed=3)])
    indices = replicate_indices(weights)
    rho, accuracy = _ranked_per_resample(indices, t, p)
    got = metrics.rank_metric_replicates(weights, t, p)
    assert np.array_equal(got["spearman"], rho, equal_nan=True)
    assert np.array_equal(got["median_accuracy"], accuracy, equal_nan=True)


def test_replicate_indices_list_each_query_as_often_as_drawn():
    counts = np.vstack([np.ones((1, 50)), resample_counts(50, 30, seed=2), np.r_[50, np.zeros(49)][None, :]])
    reference = np.repeat(np.tile(np.arange(50), len(counts)), counts.astype(np.int64).ravel()).reshape(len(counts), 50)
    assert np.array_equal(replicate_indices(counts), reference)
    with pytest.raises(ValueError):
        replicate_indices(np.array([[1.0, 2.0]]))
