"""Percentile bootstrap over queries, for every curve point at once.

Each method and budget gives a per-query expected reward (exact, from the bank); the
uncertainty that remains is which queries happened to be in the test set.  A replicate
redraws the n test queries with replacement; all curve points share the same replicates, so
one (replicates x n) count matrix times the (n x points) value matrix gives every
replicate mean in a single matrix product.  Allocations are held fixed across replicates:
the interval is conditional on the allocation computed from the full test batch.
"""

from __future__ import annotations

import numpy as np


def bootstrap_means(values: np.ndarray, n_replicates: int, seed: int) -> np.ndarray:
    """Replicate means of every column of ``values`` (shape (n_queries, n_points)).

    Returns an array of shape (n_replicates, n_points).  Deterministic for a given seed.
    """
    n = values.shape[0]
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_replicates).astype(np.float64)
    return counts @ values / n


def percentile_interval(values: np.ndarray, n_replicates: int, seed: int,
                        level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) percentile-bootstrap bounds of the mean of each column of ``values``.

    With ``n_replicates == 0`` the bounds equal the point estimate (no interval).
    """
    if n_replicates <= 0:
        mean = values.mean(axis=0)
        return mean, mean
    means = bootstrap_means(values, n_replicates, seed)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha], axis=0)
    return low, high
