"""Allocators against an exact integer program (scipy.optimize.milp) and a brute-force sort."""

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from bench import estimators
from bench.allocation import GreedyAllocator, OfflineBinFitter, allocate_greedy, allocate_uniform, fit_offline_bins


def concave_rows(rng, n, j, quantize=False):
    delta = -np.sort(-rng.random((n, j)), axis=1)
    return np.round(delta * 4) / 4 if quantize else delta


def exact_optimum(delta, caps, total, integral=True):
    """max sum c_ij delta_ij  s.t.  sum c = total, c_ij <= c_i,j-1, 0 <= c <= 1, j < cap_i."""
    n, j = delta.shape
    var = [(i, k) for i in range(n) for k in range(caps[i])]
    index = {key: v for v, key in enumerate(var)}
    if not var:
        return 0.0
    c = -np.array([delta[i, k] for i, k in var])
    rows, lb, ub = [np.ones(len(var))], [total], [total]
    for (i, k), v in index.items():
        if k > 0:
            row = np.zeros(len(var))
            row[v], row[index[(i, k - 1)]] = 1, -1
            rows.append(row), lb.append(-np.inf), ub.append(0)
    res = milp(c, constraints=LinearConstraint(np.array(rows), lb, ub), bounds=Bounds(0, 1),
               integrality=np.ones(len(var)) if integral else np.zeros(len(var)))
    assert res.success
    return -res.fun


def objective(delta, b):
    q = np.concatenate([np.zeros((delta.shape[0], 1)), np.cumsum(delta, axis=1)], axis=1)
    return estimators.expected_reward(q, b).sum()


@pytest.mark.parametrize("seed", range(30))
def test_greedy_matches_integer_program(seed):
    rng = np.random.default_rng(seed)
    n, j = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    delta = concave_rows(rng, n, j, quantize=seed % 3 == 0)   # some instances full of ties
    caps = rng.integers(0, j + 1, size=n)
    total = int(rng.integers(0, caps.sum() + 1))
    b = allocate_greedy(delta, total, caps)
    assert b.sum() == pytest.approx(total)
    assert np.all(b >= 0) and np.all(b <= caps)
    assert objective(delta, b) == pytest.approx(exact_optimum(delta, caps, total), abs=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_fractional_budget_matches_linear_relaxation(seed):
    rng = np.random.default_rng(100 + seed)
    n, j = 4, 4
    delta = concave_rows(rng, n, j, quantize=True)
    caps = np.full(n, j)
    total = float(rng.uniform(0, n * j))
    b = allocate_greedy(delta, total, caps)
    assert b.sum() == pytest.approx(total)
    assert objective(delta, b) == pytest.approx(exact_optimum(delta, caps, total, integral=False), abs=1e-9)


def test_equal_rows_get_uniform_budgets():
    delta = np.tile(estimators.marginals_from_success_prob(np.array([0.3]), 8), (10, 1))
    b = allocate_greedy(delta, 10 * 2.5, np.full(10, 8))
    assert b == pytest.approx(np.full(10, 2.5))


def test_min_budget_is_given_first():
    rng = np.random.default_rng(0)
    delta = concave_rows(rng, 6, 5)
    b = allocate_greedy(delta, 6 * 2, np.full(6, 5), min_budget=1)
    assert np.all(b >= 1) and b.sum() == pytest.approx(12)


def test_large_instance_matches_sorting_reference():
    """Exercises the sampled threshold bracket: 5,000 x 64 units, more than the sample."""
    rng = np.random.default_rng(7)
    delta = concave_rows(rng, 5000, 64)
    caps = rng.integers(0, 65, size=5000)
    total = 100_000
    b = allocate_greedy(delta, total, caps, seed=3)
    rows, cols = np.nonzero(np.arange(64)[None, :] < caps[:, None])
    order = np.argsort(-delta[rows, cols], kind="stable")[:total]
    reference = np.bincount(rows[order], minlength=5000)
    assert np.array_equal(b, reference)


@pytest.mark.parametrize("seed", range(12))
def test_allocator_with_sorted_units_equals_sampled_greedy_at_every_budget(seed):
    """GreedyAllocator(sort_units=True) reads each threshold off the sorted units (12,000 x 40: more than the
    200,000 units sampled: the bracket is really sampled); the result is
    bit-identical to allocate_greedy (sampled bracket) for ties, caps, min_budget and at_most."""
    rng = np.random.default_rng(300 + seed)
    n, j = (12000, 40) if seed % 4 == 0 else (int(rng.integers(1, 40)), int(rng.integers(1, 9)))
    delta = concave_rows(rng, n, j, quantize=seed % 2 == 1) - (0.5 if seed % 3 == 0 else 0.0)
    caps = rng.integers(0, j + 1, size=n)
    min_budget = int(seed % 5 == 2)
    allocator = GreedyAllocator(delta, caps, min_budget=min_budget, seed=seed, sort_units=True)
    low = np.minimum(caps, min_budget).sum()
    totals = np.r_[low, low + 1e-12, rng.uniform(low, caps.sum(), 15), np.round(rng.uniform(low, caps.sum(), 5)),
                   caps.sum(), caps.sum() + 3.5]
    for at_most in (False, True):
        many = allocator.allocate_many(totals, at_most=at_most)
        for total, row in zip(totals, many):
            expected = allocate_greedy(delta, total, caps, min_budget=min_budget, seed=seed, at_most=at_most)
            got = allocator.allocate(total, at_most=at_most)
            assert got.dtype == expected.dtype and np.array_equal(got, expected), (total, at_most)
            assert np.array_equal(row, expected), (total, at_most)


def test_offline_bin_fitter_equals_fit_offline_bins_at_every_budget():
    rng = np.random.default_rng(11)
    lam = np.round(rng.beta(0.5, 1.5, size=400), 2)                 # ties in the scores
    q = estimators.q_from_success_prob(lam, 16)
    q[:40, 9:] = np.nan                                              # ragged: fewer samples
    fitter = OfflineBinFitter(lam, q, 10, min_budget=1)
    budgets = np.r_[1.0, rng.uniform(1, 16, 10), 16.0]
    for budget, many in zip(budgets, fitter.fit_many(budgets)):
        expected = fit_offline_bins(lam, q, budget, 10, min_budget=1)
        for got in (fitter.fit(budget), many):
            assert np.array_equal(got.edges, expected.edges) and np.array_equal(got.budgets, expected.budgets)


def test_uniform_caps_ragged_queries():
    assert allocate_uniform(3, 4.0, np.array([2, 8, 4])) == pytest.approx([2, 4, 4])


def test_offline_bins_constant_scores_give_uniform():
    rng = np.random.default_rng(0)
    q = np.concatenate([np.zeros((50, 1)), np.cumsum(concave_rows(rng, 50, 8) / 8, axis=1)], axis=1)
    policy = fit_offline_bins(np.full(50, 0.4), q, 3.0, n_bins=5)
    assert policy.apply(np.array([0.1, 0.4, 0.9])) == pytest.approx([3.0, 3.0, 3.0])


def test_offline_bins_favour_queries_that_gain_more():
    lam = np.r_[np.full(30, 0.9), np.full(30, 0.1)]
    q = estimators.q_from_success_prob(lam, 16)
    policy = fit_offline_bins(lam, q, 4.0, n_bins=2)
    easy, hard = policy.apply(np.array([0.9, 0.1]))
    assert (easy + hard) / 2 == pytest.approx(4.0)
    assert hard > easy
    assert estimators.expected_reward(q, policy.apply(lam)).mean() > estimators.expected_reward(q, np.full(60, 4.0)).mean()


def exact_optimum_at_most(delta, caps, total):
    """max sum c_ij delta_ij  s.t.  sum c <= total (integer program, scipy milp)."""
    n, j = delta.shape
    var = [(i, k) for i in range(n) for k in range(caps[i])]
    if not var:
        return 0.0
    index = {key: v for v, key in enumerate(var)}
    rows, lb, ub = [np.ones(len(var))], [-np.inf], [total]
    for (i, k), v in index.items():
        if k > 0:
            row = np.zeros(len(var))
            row[v], row[index[(i, k - 1)]] = 1, -1
            rows.append(row), lb.append(-np.inf), ub.append(0)
    res = milp(-np.array([delta[i, k] for i, k in var]), constraints=LinearConstraint(np.array(rows), lb, ub),
               bounds=Bounds(0, 1), integrality=np.ones(len(var)))
    assert res.success
    return -res.fun


@pytest.mark.parametrize("seed", range(20))
def test_at_most_greedy_matches_integer_program_with_negative_marginals(seed):
    """Issue 11, bug 5: the oracle buys no unit that lowers the reward, so spends at most B."""
    rng = np.random.default_rng(seed)
    n, j = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    delta = concave_rows(rng, n, j) - 0.5                    # some marginals are negative
    caps = rng.integers(0, j + 1, size=n)
    total = int(rng.integers(0, caps.sum() + 1))
    b = allocate_greedy(delta, total, caps, at_most=True)
    assert b.sum() <= total + 1e-9
    assert objective(delta, b) == pytest.approx(exact_optimum_at_most(delta, caps, total), abs=1e-9)
    if total > 0:
        grow = [objective(delta, allocate_greedy(delta, t, caps, at_most=True)) for t in range(total + 1)]
        assert np.all(np.diff(grow) >= -1e-12)               # monotone in the budget


def test_offline_bin_count_follows_the_heldout_size():
    """Issue 11, bug 8: at most one bin per 10 held-out queries, at least one."""
    from bench.allocation import offline_bin_count

    assert [offline_bin_count(n, 10) for n in (0, 7, 24, 99, 149, 1000)] == [1, 1, 2, 9, 10, 10]
    assert offline_bin_count(1000, 3) == 3


def test_marginals_one_unit_in_the_last_place_apart_are_a_tie():
    """Equal-in-exact-arithmetic marginals come out 1 ulp apart on some CPUs: they must share."""
    close = np.array([[0.3], [np.nextafter(0.3, 1.0)], [0.1]])
    assert close[0, 0] != close[1, 0]
    np.testing.assert_array_equal(allocate_greedy(close, 1.0), [0.5, 0.5, 0.0])
    # a real difference (1e-9 relative) is still a difference
    apart = np.array([[0.3], [0.3 * (1 + 1e-9)], [0.1]])
    np.testing.assert_array_equal(allocate_greedy(apart, 1.0), [0.0, 1.0, 0.0])


def test_quantize_marginals_is_monotone_and_keeps_special_values():
    from bench.allocation import MARGINAL_BITS, quantize_marginals

    rng = np.random.default_rng(3)
    x = np.sort(np.concatenate([rng.normal(0, 1, 5000), rng.normal(0, 1e-9, 500), [0.0, -0.0]]))
    q = quantize_marginals(x)
    assert (np.diff(q) >= 0).all()
    assert np.abs(q - x).max() <= np.abs(x).max() * 2.0 ** -MARGINAL_BITS
    np.testing.assert_array_equal(quantize_marginals(-x), -q)
    special = quantize_marginals(np.array([np.nan, np.inf, -np.inf, 0.0, 1.0, 0.5]))
    assert np.isnan(special[0])
    np.testing.assert_array_equal(special[1:], [np.inf, -np.inf, 0.0, 1.0, 0.5])
