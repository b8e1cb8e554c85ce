"""Curve summaries and intrinsic metrics on hand-checked numbers."""

import numpy as np
import pytest

from bench import metrics


def test_budget_to_reach_interpolates():
    assert metrics.budget_to_reach([1, 2, 4], [0.5, 0.6, 0.8], 0.7) == pytest.approx(3.0)
    assert metrics.budget_to_reach([1, 2, 4], [0.5, 0.6, 0.8], 0.4) == 1.0
    assert metrics.budget_to_reach([1, 2, 4], [0.5, 0.6, 0.8], 0.9) is None


def test_compute_saved_hand_checked_and_zero_for_identical_curves():
    budgets = [1.0, 2.0, 4.0]
    uniform = [0.5, 0.6, 0.8]
    adaptive = [0.6, 0.8, 0.9]
    saved = metrics.compute_saved(budgets, budgets, adaptive, uniform)
    # uniform(2) = 0.6 is reached by adaptive at B' = 1 -> 50 %; uniform(4) = 0.8 at B' = 2 -> 50 %
    assert [s["saving_pct"] for s in saved] == pytest.approx([0.0, 50.0, 50.0])
    flat = [0.5, 1.0, 1.0]   # saturated baseline: comparing it with itself saves nothing
    assert all(s["saving_pct"] == 0 for s in metrics.compute_saved(budgets, budgets, flat, flat))


def test_a_target_tied_with_a_curve_point_is_reached_there_whatever_the_float_noise():
    """Summation-order noise (a few ulps, as between CPUs) must not move an inverted budget.

    The oracle reaches the baseline's pass@n at a small budget: target == curve point in exact
    arithmetic.  Before the curve grid, which side of the tie the noise fell on decided the
    answer (7.9999985 on one CPU, 7.9999987 on another); now it is the point's x, bitwise.
    """
    rng = np.random.default_rng(0)
    budgets = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    oracle = np.array([0.41, 0.58, 0.67, 0.7213, 0.7213])
    answers = set()
    for _ in range(200):
        noisy = oracle * (1 + rng.integers(-8, 9, size=5) * np.finfo(float).eps)
        target = 0.7213 * (1 + rng.integers(-8, 9) * np.finfo(float).eps)
        answers.add(metrics.reach_budget_rows(budgets, noisy[None], np.array([target]))[0])
    assert answers == {8.0}
    # away from ties the grid changes nothing visible: 0.7 is reached at 4 + 4 * 0.03 / 0.0513
    assert metrics.budget_to_reach(budgets, oracle, 0.7) == pytest.approx(4 + 4 * 0.03 / 0.0513, rel=1e-8)


def test_the_curve_grid_keeps_nan_and_infinities():
    grid = metrics.on_curve_grid(np.array([np.nan, np.inf, -np.inf, 0.1234567891234]))
    assert np.isnan(grid[0]) and grid[1] == np.inf and grid[2] == -np.inf
    assert grid[3] == pytest.approx(0.123456789, abs=1e-15)


def test_area_between_curves_is_mean_difference():
    assert metrics.area_between_curves([0, 2], [0.5, 0.7], [0.5, 0.5]) == pytest.approx(0.1)


def test_apgr_and_pgr_shares():
    shares = [0.0, 0.5, 1.0]
    means = [0.6, 0.85, 0.9]   # weak 0.6, strong 0.9: PGR 0, 5/6, 1
    assert metrics.apgr(shares, means, 0.6, 0.9) == pytest.approx((0 + 5 / 6) / 4 + (5 / 6 + 1) / 4)
    got = metrics.strong_share_for_pgr(shares, means, 0.6, 0.9)
    assert got["50"] == pytest.approx(0.3) and got["80"] == pytest.approx(0.48)


def test_median_accuracy_perfect_constant_and_degenerate():
    t = np.array([0.1, 0.2, 0.8, 0.9])
    assert metrics.median_accuracy(t, t) == 1.0
    assert metrics.median_accuracy(t, -t) == 0.0
    assert metrics.median_accuracy(t, np.zeros(4)) == pytest.approx(0.5)   # random pick of 2 of 4
    assert metrics.median_accuracy(np.array([0.5, 1, 1, 1]), np.array([0.1, 0.9, 0.8, 0.7])) == 1.0
    assert metrics.median_accuracy(np.ones(3), np.arange(3.0)) is None


def test_cross_entropy_losses_and_calibration():
    t = np.array([0.0, 1.0, 0.5])
    assert metrics.soft_cross_entropy(t, t) == pytest.approx(np.log(2) / 3, abs=1e-6)
    bins = metrics.reliability_bins(np.array([0.0, 1.0]), np.array([0.05, 0.95]))
    assert metrics.expected_calibration_error(bins) == pytest.approx(0.05)
    out = metrics.intrinsic_metrics("success_prob", t, np.array([0.1, 0.9, 0.5]), 0.5, t, np.array([0.1, 0.9, 0.5]))
    assert out["loss_opt"] <= out["loss"] <= out["loss_avg"]
    assert out["spearman"] == pytest.approx(1.0)


def test_compute_saved_uses_what_the_baseline_really_spent():
    # ragged bank: uniform asked for 4 but could only spend 3 on average
    saved = metrics.compute_saved([2.0, 4.0], [2.0, 3.0], [0.6, 0.8], [0.6, 0.8], baseline_realized=[2.0, 3.0])
    assert [s["saving_pct"] for s in saved] == pytest.approx([0.0, 0.0])
    assert saved[1]["baseline_budget"] == pytest.approx(3.0)
