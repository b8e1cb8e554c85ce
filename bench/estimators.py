"""Exact expected rewards from cached samples: no Monte-Carlo noise.

Vocabulary (the paper's section 2-3): a query x_i has n_i cached samples with rewards; the
expected reward of spending budget b on it is q(x_i, b); the marginal reward is
Delta_ib = q(x_i, b) - q(x_i, b-1).

Best-of-k: q(x, b) is estimated without bias by the mean, over all size-b subsets of the
n cached samples, of the subset's best reward.  With rewards sorted ascending
r_(1) <= ... <= r_(n) this is the order-statistics closed form

    q(x, b) = sum_{k=b}^{n} r_(k) * C(k-1, b-1) / C(n, b)

because r_(k) is the subset maximum in exactly C(k-1, b-1) of the C(n, b) subsets.  For binary
rewards with c successes it reduces to the pass@k estimator 1 - C(n-c, b) / C(n, b) (Chen et
al., 2021).  Budget 0 returns a configurable default reward ("I don't know").

Routing: q(x, weak) and q(x, strong) are the means of each decoder's rewards; the paper's
preference target is p(S > W | x) = E[sigmoid(r_S - r_W)] over all sample pairs (Eq. 8, 11).

All functions are pure numpy over arrays; no I/O.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, gammaln


def pass_at_k(n: np.ndarray | int, c: np.ndarray | int, k: int) -> np.ndarray:
    """Unbiased pass@k: 1 - C(n-c, k) / C(n, k), as a running product (no huge binomials).

    Parameters
    ----------
    n, c : int or array of int
        Samples per query and how many of them are correct (0 <= c <= n).
    k : int
        Samples drawn, 0 <= k <= n.  k = 0 gives 0.

    >>> float(pass_at_k(4, 1, 2))   # 1 - C(3,2)/C(4,2) = 1 - 3/6
    0.5
    """
    n_arr, c_arr = np.broadcast_arrays(np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64))
    if k < 0 or (n_arr < k).any():
        raise ValueError(f"pass@k needs 0 <= k <= n; got k={k}, min n={int(n_arr.min())}")
    if k == 0:
        return np.zeros(n_arr.shape)
    fail = n_arr - c_arr
    # C(fail, k)/C(n, k) = prod_{i=0}^{k-1} (fail - i)/(n - i); zero once fail - i <= 0.
    i = np.arange(k)
    ratios = np.clip(fail[..., None] - i, 0, None) / (n_arr[..., None] - i)
    return 1.0 - np.prod(ratios, axis=-1)


def best_of_k_weights(n: int, b_max: int) -> np.ndarray:
    """Weights W with q(b) = sum_k r_(k) W[k, b] for rewards sorted ascending.

    Returns
    -------
    ndarray of shape (n, b_max + 1)
        ``W[k, b] = C(k, b-1) / C(n, b)`` for the (k+1)-th smallest reward (0-based k) and
        1 <= b <= min(n, b_max); column 0 (budget 0) and columns b > n are zero.
    """
    weights = np.zeros((n, b_max + 1))
    k = np.arange(n)[:, None]
    b = np.arange(1, min(n, b_max) + 1)[None, :]
    valid = k >= b - 1
    log_w = (gammaln(k + 1) - gammaln(b) - gammaln(np.maximum(k - b + 2, 1))
             - (gammaln(n + 1) - gammaln(b + 1) - gammaln(n - b + 1)))
    weights[:, 1:b.shape[1] + 1] = np.where(valid, np.exp(log_w), 0.0)
    return weights


def best_of_k_table(rewards: np.ndarray, counts: np.ndarray, b_max: int,
                    default_reward: float = 0.0) -> np.ndarray:
    """Exact expected best-of-b reward for every query and every budget 0..b_max.

    Parameters
    ----------
    rewards : ndarray, shape (n_queries, n_max)
        Padded per-query rewards (NaN beyond ``counts[i]``).
    counts : ndarray of int, shape (n_queries,)
    b_max : int
    default_reward : float
        q(x, 0): the reward of answering without sampling.

    Returns
    -------
    ndarray, shape (n_queries, b_max + 1)
        ``q[i, b]``; NaN where b > counts[i] (no unbiased estimate exists there).
    """
    n_queries = rewards.shape[0]
    table = np.full((n_queries, b_max + 1), np.nan)
    table[:, 0] = default_reward
    for n in np.unique(counts):
        rows = np.flatnonzero(counts == n)
        if n == 0:
            continue
        ordered = np.sort(rewards[rows, :n], axis=1)
        q = ordered @ best_of_k_weights(int(n), b_max)
        top = min(int(n), b_max)
        table[rows, 1:top + 1] = q[:, 1:top + 1]
    return table


def marginal_rewards(q_table: np.ndarray) -> np.ndarray:
    """Delta[i, j-1] = q(x_i, j) - q(x_i, j-1) for j = 1..b_max (shape (n, b_max))."""
    return np.diff(q_table, axis=1)


def mean_reward(rewards: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean of each query's sample rewards (padded matrix, NaN past ``counts``).

    For binary rewards this is lambda_i = c_i / n_i, the empirical probability that one sample
    succeeds; for routing it is q(x, decoder), the decoder's expected reward.
    """
    return np.nansum(rewards, axis=1) / counts


def q_from_success_prob(lam: np.ndarray, b_max: int, default_reward: float = 0.0) -> np.ndarray:
    """q(x, b) = 1 - (1 - lambda)^b for b >= 1 (the paper's section 3.3); q(x, 0) = default."""
    b = np.arange(b_max + 1)
    table = 1.0 - (1.0 - np.asarray(lam, dtype=np.float64)[:, None]) ** b[None, :]
    table[:, 0] = default_reward
    return table


def marginals_from_success_prob(lam: np.ndarray, b_max: int) -> np.ndarray:
    """Delta_j = lambda (1 - lambda)^(j-1), j = 1..b_max: non-increasing in j."""
    j = np.arange(b_max)
    return np.asarray(lam, dtype=np.float64)[:, None] * (1.0 - np.asarray(lam)[:, None]) ** j[None, :]


def preference_probability(strong: np.ndarray, strong_counts: np.ndarray,
                           weak: np.ndarray, weak_counts: np.ndarray) -> np.ndarray:
    """p(S > W | x) = E[sigmoid(r_S - r_W)] over all (strong sample, weak sample) pairs.

    Exact mean over the n_S * n_W pairs of each query (the paper's Eq. 8 and 11).
    """
    diff = strong[:, :, None] - weak[:, None, :]
    values = expit(diff)
    return np.nansum(values, axis=(1, 2)) / (strong_counts * weak_counts)


def expected_reward(q_table: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """Per-query expected reward of a (possibly fractional) allocation.

    A fractional budget b means: spend floor(b) with probability 1 - frac(b) and
    ceil(b) with probability frac(b).  Its exact expected reward is therefore the linear
    interpolation of q between the two integers; this is how uniform budgets with a
    non-integer mean, and ties at an allocator's threshold, are scored without noise.
    """
    budgets = np.asarray(budgets, dtype=np.float64)
    low = np.floor(budgets).astype(np.int64)
    frac = budgets - low
    rows = np.arange(q_table.shape[0])
    high = np.minimum(low + 1, q_table.shape[1] - 1)
    q_low = q_table[rows, low]
    q_high = np.where(frac > 0, q_table[rows, high], q_low)   # past a query's samples q is NaN
    return q_low + frac * (q_high - q_low)


def binary_best_of_k_table(successes: np.ndarray, counts: np.ndarray, b_max: int,
                           default_reward: float = 0.0) -> np.ndarray:
    """:func:`best_of_k_table` for binary rewards, from the success counts alone.

    q(x, b) = pass@b = 1 - C(n-c, b)/C(n, b) depends only on (n, c), so one small table per
    distinct n is computed with :func:`pass_at_k` and gathered: no per-query sort.  Equal to
    :func:`best_of_k_table` on 0/1 rewards up to rounding (tested); NaN where b > n.
    """
    successes = np.asarray(successes, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    table = np.full((len(counts), b_max + 1), np.nan)
    table[:, 0] = default_reward
    for n in np.unique(counts):
        if n == 0:
            continue
        top = min(int(n), b_max)
        c = np.arange(n + 1)
        lookup = np.stack([pass_at_k(np.full(n + 1, n), c, b) for b in range(1, top + 1)], axis=1)
        rows = np.flatnonzero(counts == n)
        table[rows, 1:top + 1] = lookup[successes[rows]]
    return table
