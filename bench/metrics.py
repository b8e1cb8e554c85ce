"""Curve summaries and the predictor's intrinsic quality.

Curve summaries compare an adaptive method's curve with the non-adaptive baseline
(uniform best-of-k, or random routing):

- compute saved at matched quality: for each baseline budget B, the smallest budget B' at
  which the method's curve (linear between points) reaches the baseline's quality at B;
  saving = 100 * (1 - B'/B) (the paper's headline "x % less compute");
- quality gain at equal budget: method(B) - baseline(B);
- area between curves: the mean of method - baseline over the budget range (trapezoid);
- routing (as RouteLLM reports them): APGR, the area under the performance-gap-recovered
  curve PGR(B) = (method(B) - weak) / (strong - weak) for B in [0, 1], and the strong-call
  share needed to reach 50 % and 80 % PGR.

Intrinsic metrics (the paper's Table 1) score predictions against the test targets: the
loss (soft-target cross-entropy, Eq. 7, for probabilities; squared error summed over the
vector, Eq. 6, for marginal rewards) against Avg. (the train-mean constant) and Opt. (a
perfect predictor), above/below-median accuracy, Spearman correlation, and for probabilities
the expected calibration error with its reliability bins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata, spearmanr

from bench.bootstrap import replicate_indices

_EPS = 1e-7


# ----------------------------------------------------------------------------- curves
#
# The ``*_rows`` functions take one curve per row (a bootstrap replicate's mean curve) and
# return one value per row; the scalar functions are their one-row special cases.  x values
# (budgets) are either shared, shape (P,), or per row, shape (R, P).  "Never reached" is
# +inf for a budget and -inf for a saving; NaN means undefined (e.g. strong == weak).


def _take(a: np.ndarray, index: np.ndarray) -> np.ndarray:
    return np.take_along_axis(a, index[:, None], axis=1)[:, 0]


#: Grid (in reward units) to which a curve's values and the target are rounded before the curve is
#: inverted: see :func:`reach_budget_rows`.
CURVE_GRID = 1e-9


def on_curve_grid(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to a multiple of :data:`CURVE_GRID` (NaN and infinities kept).

    Curve means are sums over queries (a bootstrap replicate's are a matrix product), and their
    last bits depend on the CPU's summation order (AVX2 vs AVX-512, the BLAS kernel): up to about
    1e-12 on a bank of 12,500 queries.  Rounded to 1e-9, values that are equal in exact
    arithmetic come out bitwise equal on every machine, unless one lies within that noise of a
    rounding boundary (a chance of order 1e-5).  1e-9 is far below any reward's resolution
    (binary rewards, 1-10 judge grades, reward-model scores) and below every printed digit.
    """
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.round(values / CURVE_GRID) * CURVE_GRID


def reach_budget_rows(xs: np.ndarray, means: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per row, the smallest x at which the piecewise-linear curve reaches ``targets`` (+inf if never).

    ``xs`` must be non-decreasing along each row.  If the first point already reaches the
    target its x is returned (no extrapolation below the grid).

    The means and targets are compared and interpolated on :func:`on_curve_grid`.  Inverting a
    curve is ill-conditioned where it is flat: when the target equals a curve point in exact
    arithmetic (an oracle that reaches pass@n at a small budget, where pass@n is the baseline's
    quality at its largest budget), float noise of 1e-16 decided whether that point "reached"
    it, and the interpolated x moved by 1e-7 between CPUs (``math/pika-k50``'s committed
    result, re-run on an AMD CPU).  On the grid such a tie is a tie everywhere: the point's x.
    """
    means = on_curve_grid(np.atleast_2d(means))
    xs = np.broadcast_to(np.asarray(xs, dtype=np.float64), means.shape)
    targets = on_curve_grid(np.asarray(targets, dtype=np.float64).reshape(-1))
    reached = means >= targets[:, None]
    first = reached.argmax(axis=1)
    prev = np.maximum(first - 1, 0)
    b0, b1, m0, m1 = _take(xs, prev), _take(xs, first), _take(means, prev), _take(means, first)
    with np.errstate(invalid="ignore", divide="ignore"):
        inside = b0 + (b1 - b0) * (targets - m0) / (m1 - m0)
    out = np.where(first == 0, b1, inside)
    return np.where(reached.any(axis=1), out, np.inf)


def budget_to_reach(budgets: Sequence[float], means: Sequence[float], target: float) -> float | None:
    """Smallest budget at which the piecewise-linear curve reaches ``target`` (None if never)."""
    value = reach_budget_rows(np.asarray(budgets, float), np.asarray(means, float)[None, :], np.array([target]))[0]
    return float(value) if np.isfinite(value) else None


def _sorted_rows(xs: np.ndarray, means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order each row's points by x (offline's realised budgets need not be sorted)."""
    xs = np.broadcast_to(np.asarray(xs, dtype=np.float64), means.shape)
    order = np.argsort(xs, axis=1, kind="stable")
    return np.take_along_axis(xs, order, axis=1), np.take_along_axis(means, order, axis=1)


def compute_saved_rows(budgets: Sequence[float], method_x: np.ndarray, method_means: np.ndarray,
                       baseline_means: np.ndarray, baseline_x: np.ndarray) -> list[dict[str, Any]]:
    """Compute saved at matched quality per positive grid budget B, one value per row.

    The quality to match is the baseline's at B (row-wise).  ``baseline_budget`` is the
    smallest x at which the baseline reaches it, ``matched_budget`` the method's (its curve
    over its realised budgets); saving = 100 * (1 - matched / baseline_budget): -inf when the
    method never matches, NaN when the baseline budget is 0.
    """
    xs, ys = _sorted_rows(method_x, np.atleast_2d(method_means))
    base = np.atleast_2d(baseline_means)
    out: list[dict[str, Any]] = []
    for j, budget in enumerate(budgets):
        if budget <= 0:
            continue
        target = base[:, j]
        needed = reach_budget_rows(baseline_x, base, target)
        matched = reach_budget_rows(xs, ys, target)
        with np.errstate(invalid="ignore", divide="ignore"):
            saving = np.where(needed > 0, 100.0 * (1.0 - matched / needed), np.nan)
        out.append({"budget": float(budget), "baseline_budget": needed, "matched_budget": matched,
                    "saving_pct": saving})
    return out


def compute_saved(budgets: Sequence[float], method_realized: Sequence[float], method_means: Sequence[float],
                  baseline_means: Sequence[float],
                  baseline_realized: Sequence[float] | None = None) -> list[dict[str, float | None]]:
    """One-curve :func:`compute_saved_rows`: floats, None where never matched or undefined.

    ``baseline_realized`` (default: ``budgets``) is what the baseline really spent: less than B
    for queries with fewer than B samples.  A method identical to the baseline saves exactly 0.
    """
    spent = np.asarray(budgets if baseline_realized is None else baseline_realized, dtype=np.float64)
    rows = compute_saved_rows(budgets, np.asarray(method_realized, float), np.asarray(method_means, float)[None],
                              np.asarray(baseline_means, float)[None], spent)
    return [{k: (v if k == "budget" else (float(v[0]) if np.isfinite(v[0]) else None)) for k, v in r.items()}
            for r in rows]


def trapezoid_mean_rows(xs: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row, the mean of a piecewise-linear function over [x_min, x_max] (trapezoid rule)."""
    xs, values = _sorted_rows(xs, np.atleast_2d(np.asarray(values, dtype=np.float64)))
    width = xs[:, -1] - xs[:, 0]
    area = np.trapezoid(values, xs, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(width > 0, area / np.where(width > 0, width, 1.0), values.mean(axis=1))


def area_between_curves(budgets: Sequence[float], method_means: Sequence[float],
                        baseline_means: Sequence[float]) -> float:
    """Mean of (method - baseline) over the budget range, by the trapezoid rule.

    Both curves must be evaluated at the same budgets (for offline: its realised budgets,
    the baseline interpolated there; see :func:`bench.scoring.compute_curves`).
    """
    diff = np.asarray(method_means, dtype=np.float64) - np.asarray(baseline_means, dtype=np.float64)
    return float(trapezoid_mean_rows(np.asarray(budgets, float), diff[None])[0])


def quality_gain(budgets: Sequence[float], method_means: Sequence[float],
                 baseline_means: Sequence[float]) -> list[dict[str, float]]:
    """method(B) - baseline(B) at every budget of the grid."""
    return [{"budget": float(b), "gain": float(m - u)}
            for b, m, u in zip(budgets, method_means, baseline_means)]


def performance_gap_recovered(means: Sequence[float], weak: float, strong: float) -> np.ndarray:
    """PGR(B) = (method(B) - weak) / (strong - weak)."""
    if strong == weak:
        return np.full(len(means), np.nan)
    return (np.asarray(means, dtype=np.float64) - weak) / (strong - weak)


def apgr_rows(xs: np.ndarray, means: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> np.ndarray:
    """Per row, the area under PGR over the strong-call shares (NaN where strong == weak)."""
    gap = np.asarray(strong, dtype=np.float64) - np.asarray(weak, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        pgr = (np.atleast_2d(means) - np.asarray(weak, float)[:, None]) / np.where(gap == 0, np.nan, gap)[:, None]
    return trapezoid_mean_rows(xs, pgr)


def apgr(budgets: Sequence[float], means: Sequence[float], weak: float, strong: float) -> float | None:
    """Average performance gap recovered: area under PGR over strong-call shares in [0, 1]."""
    value = apgr_rows(np.asarray(budgets, float), np.asarray(means, float)[None], np.array([weak]),
                      np.array([strong]))[0]
    return None if np.isnan(value) else float(value)


def strong_share_rows(xs: np.ndarray, means: np.ndarray, weak: np.ndarray, strong: np.ndarray,
                      levels: Sequence[float] = (0.5, 0.8)) -> dict[str, np.ndarray]:
    """Per row and PGR level, the smallest strong-call share reaching it (+inf never, NaN if no gap)."""
    weak, strong = np.asarray(weak, dtype=np.float64), np.asarray(strong, dtype=np.float64)
    xs, ys = _sorted_rows(xs, np.atleast_2d(means))
    out: dict[str, np.ndarray] = {}
    for level in levels:
        share = reach_budget_rows(xs, ys, weak + level * (strong - weak))
        out[str(int(round(level * 100)))] = np.where(strong == weak, np.nan, share)
    return out


def strong_share_for_pgr(budgets: Sequence[float], means: Sequence[float], weak: float, strong: float,
                         levels: Sequence[float] = (0.5, 0.8)) -> dict[str, float | None]:
    """Smallest strong-call share reaching each PGR level (RouteLLM's "calls needed")."""
    rows = strong_share_rows(np.asarray(budgets, float), np.asarray(means, float)[None], np.array([weak]),
                             np.array([strong]), levels)
    return {k: (float(v[0]) if np.isfinite(v[0]) else None) for k, v in rows.items()}


# ----------------------------------------------------------------------------- intrinsic


def cross_entropy_terms(targets: np.ndarray, predictions: np.ndarray | float) -> np.ndarray:
    """Per query -[t log p + (1 - t) log(1 - p)] (Eq. 7), p clipped to [1e-7, 1 - 1e-7]."""
    t = np.asarray(targets, dtype=np.float64)
    p = np.clip(np.broadcast_to(np.asarray(predictions, dtype=np.float64), t.shape), _EPS, 1 - _EPS)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def soft_cross_entropy(targets: np.ndarray, predictions: np.ndarray | float) -> float:
    """Mean of :func:`cross_entropy_terms` over queries."""
    return float(np.mean(cross_entropy_terms(targets, predictions)))


def squared_error_terms(targets: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Per query ||Delta_i - Delta_hat_i||^2 (Eq. 6)."""
    t = np.asarray(targets, dtype=np.float64)
    p = np.broadcast_to(np.asarray(predictions, dtype=np.float64), t.shape)
    return np.sum((t - p) ** 2, axis=1)


def squared_error(targets: np.ndarray, predictions: np.ndarray) -> float:
    """Mean over queries of ||Delta_i - Delta_hat_i||^2 (Eq. 6)."""
    return float(np.mean(squared_error_terms(targets, predictions)))


def median_accuracy(target_scores: np.ndarray, predicted_scores: np.ndarray) -> float | None:
    """Agreement on "above the median" between targets and predictions.

    A query is positive if its target is above the targets' median.  The predictor labels
    as positive the same number of queries, those it ranks highest; ties in the ranking
    are broken at random and the *expected* accuracy is returned, so a constant predictor
    scores exactly what random guessing of that many positives would.  When the median is
    also the maximum, "at or above the median" is positive; None if all targets are equal.
    """
    t = np.asarray(target_scores, dtype=np.float64)
    p = np.asarray(predicted_scores, dtype=np.float64)
    positive = t > np.median(t)
    if not positive.any():            # the median is the maximum (heavy ties): use >=
        positive = t >= np.median(t)
    m = int(positive.sum())
    if m in (0, len(t)):
        return None
    order = np.argsort(-p, kind="stable")
    threshold = p[order[m - 1]] if m > 0 else np.inf
    above = p > threshold
    tied = p == threshold
    take = (m - int(above.sum())) / max(int(tied.sum()), 1) if m > 0 else 0.0
    chosen = above.astype(np.float64) + take * tied
    correct = chosen * positive + (1 - chosen) * ~positive
    return float(correct.mean())


def reliability_bins(targets: np.ndarray, predictions: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    """Equal-width bins of the predicted probability: count, mean prediction, mean target."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges, predictions, side="right") - 1, 0, n_bins - 1)
    out = []
    for k in range(n_bins):
        mask = index == k
        count = int(mask.sum())
        out.append({
            "bin_low": float(edges[k]), "bin_high": float(edges[k + 1]), "count": count,
            "mean_pred": float(predictions[mask].mean()) if count else None,
            "mean_target": float(targets[mask].mean()) if count else None,
        })
    return out


def expected_calibration_error(bins: list[dict[str, float]]) -> float:
    """sum_b (n_b / n) |mean_pred_b - mean_target_b| over the reliability bins."""
    total = sum(b["count"] for b in bins)
    return float(sum(b["count"] / total * abs(b["mean_pred"] - b["mean_target"])
                     for b in bins if b["count"]))


def intrinsic_metrics(target_kind: str, targets: np.ndarray, predictions: np.ndarray,
                      train_mean: np.ndarray | float, target_scores: np.ndarray,
                      predicted_scores: np.ndarray) -> dict[str, object]:
    """The paper's Table 1 for one predictor on the test split (see the module docstring)."""
    probability = target_kind in ("success_prob", "preference")
    if probability:
        loss_name = "cross_entropy"
        loss = soft_cross_entropy(targets, predictions)
        loss_avg = soft_cross_entropy(targets, float(train_mean))
        loss_opt = soft_cross_entropy(targets, targets)
        bins = reliability_bins(np.asarray(targets, float), np.asarray(predictions, float))
        ece: float | None = expected_calibration_error(bins)
    else:
        loss_name = "mse"
        loss = squared_error(targets, predictions)
        loss_avg = squared_error(targets, np.asarray(train_mean)[None, :])
        loss_opt = 0.0
        bins, ece = [], None
    if np.ptp(predicted_scores) == 0 or np.ptp(target_scores) == 0:
        rho: float | None = None
    else:
        rho = float(spearmanr(predicted_scores, target_scores).statistic)
    return {
        "target_kind": target_kind, "loss_name": loss_name, "loss": loss, "loss_avg": loss_avg,
        "loss_opt": loss_opt, "median_accuracy": median_accuracy(target_scores, predicted_scores),
        "spearman": rho, "ece": ece, "reliability": bins,
    }


# ----------------------------------------------------------------------------- intrinsic, bootstrapped


def loss_terms(target_kind: str, targets: np.ndarray, predictions: np.ndarray,
               train_mean: np.ndarray | float) -> dict[str, np.ndarray]:
    """Per-query terms of ``loss``, ``loss_avg`` and ``loss_opt``: their means are the Table-1 losses."""
    if target_kind in ("success_prob", "preference"):
        return {"loss": cross_entropy_terms(targets, predictions),
                "loss_avg": cross_entropy_terms(targets, float(train_mean)),
                "loss_opt": cross_entropy_terms(targets, targets)}
    return {"loss": squared_error_terms(targets, predictions),
            "loss_avg": squared_error_terms(targets, np.asarray(train_mean)[None, :]),
            "loss_opt": np.zeros(len(targets))}


#: elements (replicates x queries) handled at once by the resampled rank statistics (bounds memory)
_CHUNK_ELEMENTS = 1 << 16


class _SortedScores:
    """One score vector sorted once, for order statistics and ranks of any resample of it.

    A resample is a row of copy counts per query; the cumulative counts along the sorted order
    give every order statistic (a value of ``scores``, no arithmetic) and every tie group's
    average rank (exact half-integers), so no resample is sorted.
    """

    def __init__(self, scores: np.ndarray) -> None:
        self.order = np.argsort(scores, kind="stable")
        self.sorted = scores[self.order]
        first = np.r_[True, self.sorted[1:] != self.sorted[:-1]]              # tie groups in sorted order
        self.group_last = np.r_[np.flatnonzero(first)[1:] - 1, len(scores) - 1]
        self.group_of = np.empty(len(scores), dtype=np.int64)
        self.group_of[self.order] = np.cumsum(first) - 1

    def cumulative(self, counts: np.ndarray) -> np.ndarray:
        """Per row of copy counts, the copies at or below each sorted position: shape (R, n)."""
        return np.cumsum(np.take(counts, self.order, axis=1), axis=1)

    def kth_smallest(self, cumulative: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Per row, the k-th smallest (1-based) resampled score."""
        return self.sorted[(cumulative < np.asarray(k)[:, None]).sum(axis=1)]

    def ranks_at(self, cumulative: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """``scipy.stats.rankdata(scores[indices], axis=1)`` (ties averaged): the same numbers."""
        through = np.take(cumulative, self.group_last, axis=1)                 # copies up to each group's end
        before = np.hstack([np.zeros((len(cumulative), 1)), through[:, :-1]])
        group_rank = before + (through - before + 1) / 2
        return np.take_along_axis(group_rank, self.group_of[indices], axis=1)


def rank_metric_replicates(weights: np.ndarray, target_scores: np.ndarray, predicted_scores: np.ndarray,
                           *, spearman: bool = True) -> dict[str, np.ndarray]:
    """Spearman correlation and :func:`median_accuracy` on each row's resampled queries.

    Row r of ``weights`` draws query i ``weights[r, i]`` times.  Both metrics are computed on
    the row's copies in query order (:func:`bench.bootstrap.replicate_indices`), exactly as
    ``spearmanr`` and :func:`median_accuracy` on ``scores[rows]`` would (bit-identical, tested),
    but from one sort of each score shared by both metrics (:class:`_SortedScores`) instead of
    a sort per replicate and metric.  NaN where a metric is undefined (a constant side, all
    targets equal); ``spearman=False`` leaves Spearman out (NaN).
    """
    t = np.asarray(target_scores, dtype=np.float64)
    p = np.asarray(predicted_scores, dtype=np.float64)
    if np.isnan(t).any() or np.isnan(p).any():          # keep the reference NaN semantics
        return _rank_metric_reference(replicate_indices(weights), t, p, spearman)
    n = len(t)
    out = {"spearman": np.full(len(weights), np.nan), "median_accuracy": np.empty(len(weights))}
    sorted_t, sorted_p = _SortedScores(t), _SortedScores(p)
    step = max(1, _CHUNK_ELEMENTS // max(n, 1))
    for start in range(0, len(weights), step):
        rows = slice(start, start + step)
        counts = weights[rows]
        indices = replicate_indices(counts)
        cumulative_t, cumulative_p = sorted_t.cumulative(counts), sorted_p.cumulative(counts)
        if spearman:
            ra, rb = sorted_p.ranks_at(cumulative_p, indices), sorted_t.ranks_at(cumulative_t, indices)
            out["spearman"][rows] = _centred_correlation(ra, rb)
        # median accuracy, as median_accuracy() does it on each row of copies
        middle = sorted_t.kth_smallest(cumulative_t, np.full(len(counts), n // 2 + 1))
        if n % 2 == 0:                                   # np.median: the mean of the two middle values
            middle = (sorted_t.kth_smallest(cumulative_t, np.full(len(counts), n // 2)) + middle) / 2
        t_rows, p_rows = t[indices], p[indices]
        positive = t_rows > middle[:, None]
        none_above = ~positive.any(axis=1)               # the median is the maximum (heavy ties): use >=
        positive[none_above] = t_rows[none_above] >= middle[none_above, None]
        m = positive.sum(axis=1)
        threshold = sorted_p.kth_smallest(cumulative_p, np.clip(n - m + 1, 1, n))   # the m-th largest
        above, tied = p_rows > threshold[:, None], p_rows == threshold[:, None]
        take = (m - above.sum(axis=1)) / np.maximum(tied.sum(axis=1), 1)
        chosen = above.astype(np.float64) + take[:, None] * tied
        correct = chosen * positive + (1 - chosen) * ~positive
        out["median_accuracy"][rows] = np.where((m == 0) | (m == n), np.nan, correct.mean(axis=1))
    return out


def _centred_correlation(ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    """Per row, the Pearson correlation of two rank rows (in place: the rows are centred)."""
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra * rb).sum(axis=1) / np.sqrt((ra ** 2).sum(axis=1) * (rb ** 2).sum(axis=1))


def _rank_metric_reference(indices: np.ndarray, t: np.ndarray, p: np.ndarray, spearman: bool) -> dict[str, np.ndarray]:
    """:func:`rank_metric_replicates` by ranking every resample (rankdata; any input, NaN included)."""
    rho = (_centred_correlation(rankdata(p[indices], axis=1), rankdata(t[indices], axis=1)) if spearman
           else np.full(len(indices), np.nan))
    accuracy = [median_accuracy(t[idx], p[idx]) for idx in indices]
    return {"spearman": rho, "median_accuracy": np.array([np.nan if a is None else a for a in accuracy])}


def ece_rows(weights: np.ndarray, targets: np.ndarray, predictions: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Expected calibration error per row of query weights (bootstrap counts), vectorised.

    sum_b |sum_{i in b} w_i (p_i - t_i)| / sum_i w_i: the same bins as :func:`reliability_bins`.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges, predictions, side="right") - 1, 0, n_bins - 1)
    onehot = np.zeros((len(predictions), n_bins))
    onehot[np.arange(len(predictions)), index] = np.asarray(predictions, float) - np.asarray(targets, float)
    return np.abs(weights @ onehot).sum(axis=1) / weights.sum(axis=1)


def intrinsic_replicates(target_kind: str, targets: np.ndarray, predictions: np.ndarray,
                         train_mean: np.ndarray | float, target_scores: np.ndarray,
                         predicted_scores: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Every Table-1 number per row of ``weights`` (row 0 = the sample, then bootstrap replicates).

    Losses and ECE are weighted means (one matrix product); Spearman and median accuracy are
    vectorised over replicates from one sort of each score (no sort per replicate).
    """
    n = len(targets)
    out = {k: weights @ v / n for k, v in loss_terms(target_kind, targets, predictions, train_mean).items()}
    counts = np.vstack([np.ones((1, n)), weights[1:]])       # row 0: the sample itself
    constant = np.ptp(predicted_scores) == 0 or np.ptp(target_scores) == 0
    out.update(rank_metric_replicates(counts, target_scores, predicted_scores, spearman=not constant))
    if target_kind in ("success_prob", "preference"):
        out["ece"] = ece_rows(weights, targets, predictions)
    return out
