"""Estimators against brute-force enumeration of every subset."""

from itertools import combinations

import numpy as np
import pytest

from bench import estimators


def brute_best_of_k(rewards: list[float], b: int) -> float:
    subsets = list(combinations(rewards, b))
    return float(np.mean([max(s) for s in subsets]))


@pytest.mark.parametrize("seed", range(12))
def test_best_of_k_table_matches_subset_enumeration(seed):
    rng = np.random.default_rng(seed)
    n_queries, n_max = 5, 7
    counts = rng.integers(1, n_max + 1, size=n_queries)
    rewards = np.full((n_queries, n_max), np.nan)
    for i, n in enumerate(counts):
        values = rng.normal(size=n) if seed % 2 else rng.integers(0, 3, size=n).astype(float)  # ties too
        rewards[i, :n] = values
    table = estimators.best_of_k_table(rewards, counts, n_max, default_reward=-1.0)
    for i, n in enumerate(counts):
        assert table[i, 0] == -1.0
        for b in range(1, n_max + 1):
            if b <= n:
                assert table[i, b] == pytest.approx(brute_best_of_k(list(rewards[i, :n]), b), abs=1e-12)
            else:
                assert np.isnan(table[i, b])


@pytest.mark.parametrize("n,c", [(1, 0), (1, 1), (5, 0), (5, 5), (6, 2), (10, 3), (16, 1)])
def test_pass_at_k_is_binary_best_of_k(n, c):
    rewards = np.array([[1.0] * c + [0.0] * (n - c)])
    table = estimators.best_of_k_table(rewards, np.array([n]), n)
    for k in range(0, n + 1):
        expected = 0.0 if k == 0 else brute_best_of_k([1.0] * c + [0.0] * (n - c), k)
        assert float(estimators.pass_at_k(n, c, k)) == pytest.approx(expected, abs=1e-12)
        assert table[0, k] == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_edge_cases():
    assert float(estimators.pass_at_k(4, 1, 2)) == 0.5
    assert float(estimators.pass_at_k(5, 4, 2)) == 1.0  # n - c < k: every pair has a success
    with pytest.raises(ValueError):
        estimators.pass_at_k(3, 1, 4)


def test_large_n_is_stable_and_concave():
    rng = np.random.default_rng(1)
    rewards = rng.random((3, 128))
    table = estimators.best_of_k_table(rewards, np.full(3, 128), 128)
    delta = estimators.marginal_rewards(table)
    assert np.all(delta[:, 1:] >= -1e-12)           # more samples never hurt
    assert np.all(np.diff(delta[:, 1:], axis=1) <= 1e-12)  # diminishing returns
    assert table[:, 128] == pytest.approx(rewards.max(axis=1))  # all samples: the max


def test_success_prob_closed_form_and_marginals():
    lam = np.array([0.0, 0.3, 1.0])
    q = estimators.q_from_success_prob(lam, 4)
    assert q[1] == pytest.approx([0.0, 0.3, 0.51, 0.657, 0.7599])
    delta = estimators.marginals_from_success_prob(lam, 4)
    assert np.diff(q, axis=1) == pytest.approx(delta)


def test_preference_probability_matches_pair_loop():
    rng = np.random.default_rng(3)
    strong = np.full((2, 4), np.nan)
    weak = np.full((2, 3), np.nan)
    strong[0, :4], strong[1, :2] = rng.normal(size=4), rng.normal(size=2)
    weak[0, :3], weak[1, :1] = rng.normal(size=3), rng.normal(size=1)
    sc, wc = np.array([4, 2]), np.array([3, 1])
    got = estimators.preference_probability(strong, sc, weak, wc)
    for i in range(2):
        pairs = [1 / (1 + np.exp(-(s - w))) for s in strong[i, :sc[i]] for w in weak[i, :wc[i]]]
        assert got[i] == pytest.approx(np.mean(pairs), abs=1e-12)


def test_fractional_budget_is_mixture_of_floor_and_ceil():
    q = np.array([[0.0, 0.5, 0.7, 0.8]])
    assert estimators.expected_reward(q, np.array([1.25]))[0] == pytest.approx(0.75 * 0.5 + 0.25 * 0.7)
    assert estimators.expected_reward(q, np.array([3.0]))[0] == pytest.approx(0.8)


def test_binary_table_from_success_counts_equals_the_order_statistics_table():
    from bench.estimators import best_of_k_table, binary_best_of_k_table

    rng = np.random.default_rng(11)
    counts = rng.integers(0, 9, size=300)
    rewards = (rng.random((300, 8)) < rng.random((300, 1))).astype(float)
    rewards[np.arange(8)[None, :] >= counts[:, None]] = np.nan
    expected = best_of_k_table(rewards, counts, 10, default_reward=0.25)
    got = binary_best_of_k_table(np.nansum(rewards, axis=1).astype(int), counts, 10, default_reward=0.25)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
