"""Percentile bootstrap over queries, for every curve point and every summary number at once.

Each method and budget gives a per-query expected reward (exact, from the bank); the
uncertainty that remains is which queries happened to be in the test set.  A replicate
redraws the n test queries with replacement, as a row of counts (how often each query was
drawn).  All numbers share the same replicates: a (replicates x n) weight matrix times the
(n x points) value matrix gives every replicate's mean curve in one matrix product, and every
summary (APGR, compute saved, area, gain) is then a vectorised function of those mean curves.

Row 0 of :func:`replicate_weights` is the sample itself (all counts 1), so the point estimate
and the replicates go through exactly the same code.  By default allocations are held fixed
across replicates (the interval is conditional on the allocation computed from the full test
batch); :mod:`bench.reallocate` re-runs them inside each replicate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

LEVEL = 0.95

#: Replicate differences within this of zero count as ties in :func:`sign_shares`.  A difference
#: that is exactly zero in exact arithmetic (two methods that agree on a resample) comes out as
#: +-1e-17 or 0 depending on the CPU's summation order (numpy's SIMD paths differ between
#: AVX2 and AVX-512 machines), which would flip a replicate between "<= 0" and "> 0" and make a
#: p-value differ across machines at the third decimal.  Every metric we test is a mean of
#: rewards or a percentage, for which 1e-9 is far below any real difference.
TIE_TOLERANCE = 1e-9


def resample_counts(n: int, n_replicates: int, seed: int) -> np.ndarray:
    """How often each of ``n`` queries is drawn in each replicate: shape (n_replicates, n).

    Deterministic for a given seed; every consumer (curves, summaries, ``bench compare``) that
    uses the same (n, n_replicates, seed) sees the same resampled queries.
    """
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_replicates).astype(np.float64)


def replicate_weights(n: int, n_replicates: int, seed: int) -> np.ndarray:
    """Row 0: the sample (all ones); rows 1..R: :func:`resample_counts`.  Shape (1 + R, n)."""
    return np.vstack([np.ones((1, n)), resample_counts(n, n_replicates, seed)])


def replicate_indices(counts: np.ndarray) -> np.ndarray:
    """Each replicate as the list of drawn query indices (sorted): shape (R, n).

    Position t of a row holds the query whose copies cover t, i.e. the number of queries whose
    copies all end at or before t: a bincount of the copies' end positions summed along the row
    (``np.repeat`` with a count per query copies element by element and is about 2x slower).
    """
    n_rows, n = counts.shape
    ends = np.cumsum(counts.astype(np.int64), axis=1)
    if ends.size and (ends[:, -1] != n).any():
        raise ValueError("every row of counts must sum to the number of queries")
    flat_ends = (ends + (n + 1) * np.arange(n_rows, dtype=np.int64)[:, None]).ravel()
    ended = np.bincount(flat_ends, minlength=n_rows * (n + 1)).reshape(n_rows, n + 1)[:, :n]
    return np.cumsum(ended, axis=1)


def bootstrap_means(values: np.ndarray, n_replicates: int, seed: int) -> np.ndarray:
    """Replicate means of every column of ``values`` (shape (n_queries, n_points)): (R, n_points)."""
    n = values.shape[0]
    return resample_counts(n, n_replicates, seed) @ values / n


def interval(replicates: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0.  NaN replicates (undefined) are left out; +-inf stays.

    An infinite bound means "never reached" in that tail (e.g. a PGR level a replicate never
    attains); :func:`split_replicates` writes it as null.
    """
    alpha = (1.0 - level) / 2.0
    with np.errstate(invalid="ignore"):
        low, high = np.nanquantile(replicates, [alpha, 1.0 - alpha], axis=0)
        if np.isnan(low).any() or np.isnan(high).any():   # interpolating between infinities
            near_low, near_high = np.nanquantile(replicates, [alpha, 1.0 - alpha], axis=0, method="nearest")
            low, high = np.where(np.isnan(low), near_low, low), np.where(np.isnan(high), near_high, high)
    return low, high


def percentile_interval(values: np.ndarray, n_replicates: int, seed: int,
                        level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) percentile-bootstrap bounds of the mean of each column of ``values``.

    With ``n_replicates == 0`` the bounds equal the point estimate (callers that write
    results use :func:`split_replicates`, which writes null instead).
    """
    if n_replicates <= 0:
        mean = values.mean(axis=0)
        return mean, mean
    return interval(bootstrap_means(values, n_replicates, seed), level)


def sign_shares(differences: np.ndarray) -> tuple[float, float]:
    """(share <= 0, share >= 0) of replicate ``differences``, ties (:data:`TIE_TOLERANCE`) in both.

    NaN replicates must be removed by the caller.  Identical sides give (1.0, 1.0).
    """
    d = np.asarray(differences, dtype=float)
    tie = np.abs(d) <= TIE_TOLERANCE
    return float(((d < 0) | tie).mean()), float(((d > 0) | tie).mean())


def finite_or_none(value: float) -> float | None:
    """A JSON-ready number: None for NaN and infinities."""
    return float(value) if np.isfinite(value) else None


def _map_tree(tree: Any, leaf: Callable[[np.ndarray], Any], keep_plain: bool) -> Any:
    if isinstance(tree, dict):
        out = {k: _map_tree(v, leaf, keep_plain) for k, v in tree.items()}
        return out if keep_plain else {k: v for k, v in out.items() if v is not _DROP}
    if isinstance(tree, list):
        return [_map_tree(v, leaf, keep_plain) for v in tree]
    if isinstance(tree, np.ndarray):
        return leaf(tree)
    if keep_plain or isinstance(tree, (int, float)) and not isinstance(tree, bool):
        return tree          # identifiers (a budget) stay; strings are dropped from intervals
    return _DROP


_DROP = object()


def split_replicates(tree: Any, has_replicates: bool, level: float = LEVEL) -> tuple[Any, Any]:
    """(point, ci) from a tree whose estimate leaves are arrays of shape (1 + R,).

    ``point`` replaces each array by its row 0 (None where not finite); ``ci`` has the same
    nesting with each array replaced by ``[low, high]`` over rows 1..R (a bound is None where
    it is infinite, i.e. never reached), or by None when there are no replicates.  Plain
    numbers (identifiers such as a budget) are kept in both; strings only in ``point``.
    """
    point = _map_tree(tree, lambda a: finite_or_none(a[0]), keep_plain=True)

    def bounds(a: np.ndarray) -> list[float | None] | None:
        if not has_replicates or np.isnan(a[1:]).all():
            return None
        low, high = interval(a[1:], level)
        return [finite_or_none(low), finite_or_none(high)]

    return point, _map_tree(tree, bounds, keep_plain=False)
