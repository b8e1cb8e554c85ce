"""Allocators: turn (predicted) marginal rewards into a budget per query (the paper's section 3.2).

Every allocator returns a float vector ``b`` of per-query budgets with the *fractional*
semantics of :func:`bench.estimators.expected_reward`: a query with b = 2.25 gets 3 samples
with probability 0.25 and 2 otherwise.  This makes non-integer mean budgets exact (the
mean of ``b`` is exactly the requested budget) and breaks ties without arbitrary choices.

- :func:`allocate_greedy`   online allocation: solve Eq. 5 for a batch.  Greedy on
  non-increasing marginals is exact; it is computed as a threshold search, fully vectorized.
- :class:`OfflineBinPolicy` offline allocation: bins of predicted difficulty fitted on a
  held-out split, one budget per bin, applied to each test query independently.
- :func:`allocate_uniform`  the same budget for everyone (best-of-k with k = B; for routing,
  random routing with probability B).

Routing is the special case of one unit per query (budget 0 = weak, 1 = strong): routing
the top B fraction by predicted preference is ``allocate_greedy`` with one column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: units sampled to bracket the allocation threshold (only affects speed, never the result)
_SAMPLE_UNITS = 200_000

#: Significant bits of a marginal that the greedy allocators compare (of 53): see :func:`quantize_marginals`.
MARGINAL_BITS = 40


def quantize_marginals(delta: np.ndarray) -> np.ndarray:
    """``delta`` rounded to :data:`MARGINAL_BITS` significant bits (relative 1e-12), so ties are ties.

    Two marginals that are equal in exact arithmetic (pass@b differences of different success
    counts coincide; a BLAS product gives equal rows unequal last bits) come out equal or one
    unit in the last place apart depending on the CPU's SIMD paths.  The greedy shares tied
    units fractionally, so that last bit moved budget between queries and changed the
    bootstrap intervals from one machine to the next.  Rounding is monotone (non-increasing
    rows stay so), exact in IEEE arithmetic, and keeps 0, NaN and infinities.
    """
    mantissa, exponent = np.frexp(np.asarray(delta, dtype=np.float64))
    return np.ldexp(np.round(np.ldexp(mantissa, MARGINAL_BITS)), exponent - MARGINAL_BITS)


def allocate_uniform(n_queries: int, budget: float, caps: np.ndarray | None = None) -> np.ndarray:
    """Budget ``budget`` for every query, capped at ``caps`` (samples available)."""
    b = np.full(n_queries, float(budget))
    return b if caps is None else np.minimum(b, caps)


def _count_at_least(delta: np.ndarray, avail: np.ndarray, threshold: float, strict: bool) -> np.ndarray:
    """Per row, how many of the first ``avail`` (non-increasing) entries are >= (or >) threshold.

    A vectorized binary search over columns: log2(n_columns) gathers of one value per row.
    """
    n_rows, n_cols = delta.shape
    flat = delta.ravel()
    row_start = np.arange(n_rows, dtype=np.int64) * n_cols
    lo = np.zeros(n_rows, dtype=np.int64)
    hi = avail.astype(np.int64).copy()
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) >> 1
        values = flat.take(row_start + np.minimum(mid, n_cols - 1))
        ok = ((values > threshold) if strict else (values >= threshold)) & active
        lo = np.where(ok, mid + 1, lo)
        hi = np.where(active & ~ok, mid, hi)


def _split_at_threshold(delta: np.ndarray, avail: np.ndarray, k: int,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per row, units strictly above the k-th largest available value, and units equal to it.

    Exact.  A uniform random sample of units brackets the k-th largest value; two counts
    find every row's units above and inside the bracket; only units inside it are gathered
    and partitioned.  If the bracket misses (rare), it widens; finally it uses every unit.
    """
    n_units = int(avail.sum())
    n_rows = delta.shape[0]
    sample_size = min(_SAMPLE_UNITS, n_units)
    ends = np.cumsum(avail)
    unit = np.sort(rng.integers(0, n_units, size=sample_size))
    rows = np.searchsorted(ends, unit, side="right")
    cols = unit - (ends[rows] - avail[rows])
    sample = np.sort(delta[rows, cols])[::-1]
    rank_fraction = k / n_units
    margin = 4.0 / np.sqrt(sample_size) + 2.0 / sample_size
    for attempt in range(4):
        if attempt == 3:
            top, bottom = np.inf, -np.inf
        else:
            top = sample[max(int((rank_fraction - margin) * sample_size), 0)]
            bottom = sample[min(int(np.ceil((rank_fraction + margin) * sample_size)), sample_size - 1)]
            if rank_fraction - margin <= 0:
                top = np.inf
            if rank_fraction + margin >= 1:
                bottom = -np.inf
        above = _count_at_least(delta, avail, top, strict=True)
        through = _count_at_least(delta, avail, bottom, strict=False)
        if above.sum() < k <= through.sum():
            break
        margin *= 4
    lengths = through - above
    row_idx = np.repeat(np.arange(n_rows), lengths)
    offsets = np.arange(row_idx.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    values = delta[row_idx, np.repeat(above, lengths) + offsets]
    kk = k - int(above.sum())
    threshold = np.partition(values, values.size - kk)[values.size - kk]
    strictly = above + np.bincount(row_idx[values > threshold], minlength=n_rows)
    tied = np.bincount(row_idx[values == threshold], minlength=n_rows)
    return strictly, tied


def allocate_greedy(
    delta: np.ndarray,
    total_budget: float,
    caps: np.ndarray | None = None,
    *,
    min_budget: int = 0,
    seed: int = 0,
    at_most: bool = False,
) -> np.ndarray:
    """Online allocation: maximise sum_i q_i(b_i) s.t. sum_i b_i = total_budget (Eq. 5).

    Units are taken in order of decreasing marginal reward; among equal marginals (equal to
    40 significant bits, :func:`quantize_marginals`), lower levels first (so equal rows get
    equal budgets) and the last tied level is shared fractionally.  For non-increasing rows
    this is the exact optimum of the integer program whenever ``total_budget`` is an integer,
    and of its natural fractional relaxation otherwise.  For many budgets on the same
    marginals use :class:`GreedyAllocator` (same result, the shared work done once).

    Parameters
    ----------
    delta : ndarray, shape (n_queries, b_max)
        (Predicted) marginal rewards; rows must be non-increasing.
    total_budget : float
        B * n_queries: the units to spend.  All of it is spent (up to the caps).
    caps : ndarray of int, shape (n_queries,), optional
        Most units each query may get (its sample count); default b_max.
    min_budget : int
        Units every query gets first (chat needs b >= 1).
    seed : int
        Seeds the sampler that brackets the threshold (speed only: the result is exact).
    at_most : bool
        Spend *at most* ``total_budget``: units whose marginal reward is <= 0 are never
        bought (the optimum of sum_i b_i <= total_budget).  The oracle uses it so that its
        curve is monotone in B, as an upper bound must be (issue 11, bug 5).

    Returns
    -------
    ndarray of float, shape (n_queries,)
    """
    return GreedyAllocator(delta, caps, min_budget=min_budget, seed=seed).allocate(total_budget, at_most=at_most)


class GreedyAllocator:
    """:func:`allocate_greedy` on one marginal matrix, at any number of total budgets.

    What does not depend on the budget is done once and kept: the diminishing-returns check,
    the count of units worth buying (``at_most``) and, with ``sort_units``, every available
    unit sorted, so that each budget's threshold is read off the sorted units instead of
    being sampled and partitioned (:func:`_split_at_threshold`), and :meth:`allocate_many`
    counts every row's units around all budgets' thresholds at once.  Both ways find the
    same threshold and therefore the same allocation (tested); sorting pays from a few
    budgets on, sampling for one budget on a huge matrix.
    """

    def __init__(self, delta: np.ndarray, caps: np.ndarray | None = None, *, min_budget: int = 0, seed: int = 0,
                 sort_units: bool = False) -> None:
        delta = quantize_marginals(delta)
        n_rows, n_cols = delta.shape
        caps = np.full(n_rows, n_cols, dtype=np.int64) if caps is None else np.minimum(caps, n_cols).astype(np.int64)
        self._n_rows, self._seed, self._sort_units = n_rows, seed, sort_units
        self._base: np.ndarray | None = None
        self._rest: GreedyAllocator | None = None
        if min_budget > 0:
            # every query first gets min(cap, min_budget); the rest is the greedy on the other columns
            self._base = np.minimum(caps, min_budget)
            if n_cols > min_budget:
                self._rest = GreedyAllocator(delta[:, min_budget:], caps - self._base, seed=seed,
                                             sort_units=sort_units)
            return
        _check_non_increasing(delta, caps)
        self._delta, self._caps = delta, caps
        self._cap_total = caps.sum()
        self._worth_buying: np.ndarray | None = None
        self._units: np.ndarray | None = None

    def allocate(self, total_budget: float, *, at_most: bool = False) -> np.ndarray:
        """Per-query budgets spending ``total_budget`` (at most, with ``at_most``): see :func:`allocate_greedy`."""
        return self.allocate_many([total_budget], at_most=at_most)[0]

    def allocate_many(self, total_budgets: Sequence[float], *, at_most: bool = False) -> np.ndarray:
        """:meth:`allocate` at each total budget: shape (n_budgets, n_queries).

        With ``sort_units`` the thresholds of all budgets are read off the sorted units and
        every row's counts around all of them come from one histogram (:meth:`_counts_around`).
        """
        totals = np.asarray(total_budgets, dtype=np.float64).reshape(-1)
        if self._base is not None:
            if self._rest is None:
                return self._base + np.zeros((len(totals), self._n_rows))
            return self._base + self._rest.allocate_many(totals - self._base.sum(), at_most=at_most)
        delta, caps = self._delta, self._caps
        if (totals < -1e-9).any():
            raise ValueError(f"total budget {totals[totals < -1e-9][0]} is below the minimum budget")
        out = np.zeros((len(totals), self._n_rows))
        pending: list[tuple[int, int]] = []            # (budget index, units to buy) left to the threshold
        for i, total in enumerate(totals):
            total = max(float(total), 0.0)
            if at_most:
                if self._worth_buying is None:
                    self._worth_buying = _count_at_least(delta, caps, 0.0, strict=True)
                if total >= self._worth_buying.sum():
                    out[i] = self._worth_buying
                    continue
            if total >= self._cap_total:
                out[i] = caps
                continue
            k = int(np.ceil(total - 1e-9))
            if k > 0:                  # else within rounding of 0: nothing (1e-12 used to fail in the partition)
                pending.append((i, k))
        units = self._sorted_units() if self._sort_units and pending else None
        if units is None:
            for i, k in pending:
                above, tied = _split_at_threshold(delta, caps, k, np.random.default_rng(self._seed))
                out[i] = above + _share_tied_levels(tied, max(float(totals[i]), 0.0) - above.sum())
            return out
        thresholds = units[units.size - np.array([k for _, k in pending])]    # the k-th largest available unit
        above, through = self._counts_around(thresholds, strict=True), self._counts_around(thresholds, strict=False)
        for (i, _), row_above, row_through in zip(pending, above, through):
            left = max(float(totals[i]), 0.0) - row_above.sum()
            out[i] = row_above + _share_tied_levels(row_through - row_above, left)
        return out

    def _sorted_units(self) -> np.ndarray | None:
        """Every available unit's marginal, ascending (None if one is NaN: then sample as before)."""
        if self._units is None:
            available = np.arange(self._delta.shape[1])[None, :] < self._caps[:, None]
            self._unit_values = self._delta[available]                       # row by row
            self._unit_rows = np.repeat(np.arange(self._n_rows, dtype=np.int64), self._caps)
            units = np.sort(self._unit_values)
            self._units = units if not np.isnan(units[-1:]).any() else np.empty(0)
        return self._units if self._units.size else None

    def _counts_around(self, thresholds: np.ndarray, strict: bool) -> np.ndarray:
        """Per threshold and row, the available units > (or >=) it: shape (P, n_rows).

        Each unit is placed among the sorted thresholds once (how many it exceeds); a histogram
        per row summed from the top gives every count.  Equal to the per-row binary search of
        :func:`_count_at_least` on non-increasing rows, for all thresholds at a fraction of its cost.
        """
        n_thresholds = len(thresholds)
        order = np.argsort(thresholds, kind="stable")
        level = np.searchsorted(thresholds[order], self._unit_values, side="left" if strict else "right")
        hist = np.bincount(self._unit_rows * (n_thresholds + 1) + level,
                           minlength=self._n_rows * (n_thresholds + 1)).reshape(self._n_rows, n_thresholds + 1)
        from_top = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]        # units at level >= l, per row
        counts = np.empty((n_thresholds, self._n_rows), dtype=np.int64)
        counts[order] = from_top[:, 1:].T                           # exceeding sorted threshold k: level > k
        return counts


def _check_non_increasing(delta: np.ndarray, caps: np.ndarray) -> None:
    """The greedy is exact only for diminishing returns: refuse rows that increase."""
    increasing = delta[:, 1:] > delta[:, :-1]
    if not increasing.any():
        return
    increasing &= np.arange(1, delta.shape[1])[None, :] < caps[:, None]
    if increasing.any():
        row = int(np.argwhere(increasing)[0][0])
        raise ValueError(f"marginal rewards must be non-increasing along the budget (row {row} is not); "
                         "apply np.minimum.accumulate(delta, axis=1) first")


def _share_tied_levels(tied: np.ndarray, units: float) -> np.ndarray:
    """Spread ``units`` over tied units level by level; the last level gets a fraction."""
    extra = np.zeros(tied.shape[0])
    level = 1
    while units > 1e-12:
        eligible = tied >= level
        n_eligible = int(eligible.sum())
        if n_eligible == 0:
            break
        share = min(1.0, units / n_eligible)
        extra[eligible] += share
        units -= share * n_eligible
        level += 1
    return extra


#: held-out queries per offline bin: fewer makes each bin's budget the noise of a handful of queries
MIN_HELDOUT_PER_BIN = 10


def offline_bin_count(n_heldout: int, requested: int) -> int:
    """Offline bins to fit: ``requested``, but at most one per ``MIN_HELDOUT_PER_BIN`` held-out queries.

    At least 1 (one bin = the same budget for every query).  E.g. 149 val queries -> 10 bins,
    24 -> 2, 7 -> 1.  The runner warns when this is fewer than requested (issue 11, bug 8).
    """
    return max(1, min(int(requested), int(n_heldout) // MIN_HELDOUT_PER_BIN))


@dataclass(frozen=True)
class OfflineBinPolicy:
    """Offline allocation: a fixed budget per bin of a scalar difficulty score.

    Attributes
    ----------
    edges : ndarray
        Inner bin edges over the score (``np.searchsorted(edges, s, side="right")`` gives the bin).
    budgets : ndarray
        Budget of each bin (fractional semantics), len(edges) + 1 entries.
    """

    edges: np.ndarray
    budgets: np.ndarray

    def apply(self, scores: np.ndarray, caps: np.ndarray | None = None) -> np.ndarray:
        """Budget of each query from its bin; each query is handled independently."""
        b = self.budgets[np.searchsorted(self.edges, scores, side="right")]
        return b if caps is None else np.minimum(b, caps)


def fit_offline_bins(
    scores: np.ndarray,
    q_table: np.ndarray,
    budget: float,
    n_bins: int = 10,
    *,
    min_budget: int = 0,
) -> OfflineBinPolicy:
    """Fit bins on a held-out split and solve Eq. 5 with one budget per bin.

    Parameters
    ----------
    scores : ndarray, shape (m,)
        The predictor's scalar difficulty score on the held-out queries (higher = more
        benefit expected from the first unit, e.g. predicted lambda or p(S > W)).
    q_table : ndarray, shape (m, b_max + 1)
        The held-out queries' expected rewards from the bank (their labels are part of the
        training data, not the test set).  NaN beyond a query's samples is treated as
        "no further gain".
    budget : float
        Mean budget B per query.
    n_bins : int
        Number of quantile bins (fewer when scores tie).

    Notes
    -----
    With a budget vector per bin, the gain of raising bin k from level j to j+1 is the bin's
    mean marginal at j per unit of budget; the bins' mean curves are concave, so the greedy
    over (bin, level) pairs, weighted by bin size, solves the problem exactly (the last
    pair fractionally).  For many budgets use :class:`OfflineBinFitter` (same result).
    """
    return OfflineBinFitter(scores, q_table, n_bins, min_budget=min_budget, sort_units=False).fit(budget)


class OfflineBinFitter:
    """:func:`fit_offline_bins` at any number of budgets: bins and their mean curves are built once.

    The bin edges, sizes and mean marginals do not depend on the budget; only the greedy over
    (bin, level) pairs does, and it runs on a :class:`GreedyAllocator` that sorts the units once.
    """

    def __init__(self, scores: np.ndarray, q_table: np.ndarray, n_bins: int = 10, *, min_budget: int = 0,
                 sort_units: bool = True) -> None:
        quantiles = np.quantile(scores, np.linspace(0, 1, n_bins + 1)[1:-1])
        self.edges = np.unique(quantiles)
        bins = np.searchsorted(self.edges, scores, side="right")
        n_bin = len(self.edges) + 1
        filled = _fill_forward(q_table)
        sizes = np.bincount(bins, minlength=n_bin).astype(np.float64)
        mean_q = np.zeros((n_bin, q_table.shape[1]))
        np.add.at(mean_q, bins, filled)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_q = np.where(sizes[:, None] > 0, mean_q / np.maximum(sizes[:, None], 1), 0.0)
        mean_delta = np.minimum.accumulate(np.diff(mean_q, axis=1), axis=1)
        # A bin is a block of identical queries: allocate units of "one level for the whole bin",
        # costing its size.  Weighting by size turns it into the per-query greedy on repeated rows.
        repeated = np.repeat(mean_delta, sizes.astype(np.int64), axis=0)
        self._greedy = GreedyAllocator(repeated, min_budget=min_budget, sort_units=sort_units)
        self._sizes = sizes
        self._starts = np.concatenate([[0], np.cumsum(sizes.astype(np.int64))[:-1]])

    def fit(self, budget: float) -> OfflineBinPolicy:
        """The policy with mean budget ``budget`` per held-out query."""
        return self.fit_many([budget])[0]

    def fit_many(self, budgets: Sequence[float]) -> list[OfflineBinPolicy]:
        """:meth:`fit` at each budget (one greedy call for all of them)."""
        per_query = self._greedy.allocate_many(np.asarray(budgets, dtype=np.float64) * self._sizes.sum())
        return [OfflineBinPolicy(edges=self.edges,
                                 budgets=np.array([row[s:s + int(z)].mean() if z > 0 else float(budget)
                                                   for s, z in zip(self._starts, self._sizes)]))
                for budget, row in zip(budgets, per_query)]


def _fill_forward(q_table: np.ndarray) -> np.ndarray:
    """Replace NaN (budgets beyond a query's samples) by the last defined value."""
    filled = q_table.copy()
    for j in range(1, filled.shape[1]):
        missing = np.isnan(filled[:, j])
        filled[missing, j] = filled[missing, j - 1]
    return filled
