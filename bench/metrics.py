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

import numpy as np
from scipy.stats import spearmanr

_EPS = 1e-7


# ----------------------------------------------------------------------------- curves


def budget_to_reach(budgets: Sequence[float], means: Sequence[float], target: float) -> float | None:
    """Smallest budget at which the piecewise-linear curve reaches ``target`` (None if never).

    ``budgets`` must be increasing.  If the first point already reaches the target, its
    budget is returned (no extrapolation below the grid).
    """
    b = np.asarray(budgets, dtype=np.float64)
    m = np.asarray(means, dtype=np.float64)
    tol = 1e-12
    reached = np.flatnonzero(m >= target - tol)
    if reached.size == 0:
        return None
    i = int(reached[0])
    if i == 0:
        return float(b[0])
    b0, b1, m0, m1 = b[i - 1], b[i], m[i - 1], m[i]
    return float(b0 + (b1 - b0) * (target - m0) / (m1 - m0))


def compute_saved(budgets: Sequence[float], method_realized: Sequence[float], method_means: Sequence[float],
                  baseline_means: Sequence[float],
                  baseline_realized: Sequence[float] | None = None) -> list[dict[str, float | None]]:
    """Compute saved at matched quality, per positive baseline budget B.

    The quality to match is the baseline's at B.  ``baseline_budget`` is the smallest budget
    at which the baseline itself reaches it (B, unless the baseline curve is flat there) and
    ``matched_budget`` the method's; saving = 100 * (1 - matched / baseline_budget).  So a
    method identical to the baseline saves exactly 0, even where the curve has saturated.
    ``baseline_realized`` (default: ``budgets``) is what the baseline really spent: less than B
    for queries with fewer than B samples.
    """
    spent = budgets if baseline_realized is None else baseline_realized
    order = np.argsort(method_realized, kind="stable")
    xs = np.asarray(method_realized, dtype=np.float64)[order]
    ys = np.asarray(method_means, dtype=np.float64)[order]
    out: list[dict[str, float | None]] = []
    for budget, target in zip(budgets, baseline_means):
        if budget <= 0:
            continue
        needed = budget_to_reach(spent, baseline_means, float(target))
        matched = budget_to_reach(xs, ys, float(target))
        saving = None if matched is None or not needed else 100.0 * (1.0 - matched / needed)
        out.append({"budget": float(budget), "baseline_budget": needed, "matched_budget": matched,
                    "saving_pct": saving})
    return out


def quality_gain(budgets: Sequence[float], method_means: Sequence[float],
                 baseline_means: Sequence[float]) -> list[dict[str, float]]:
    """method(B) - baseline(B) at every budget of the grid."""
    return [{"budget": float(b), "gain": float(m - u)}
            for b, m, u in zip(budgets, method_means, baseline_means)]


def area_between_curves(budgets: Sequence[float], method_means: Sequence[float],
                        baseline_means: Sequence[float]) -> float:
    """Mean of (method - baseline) over the budget range, by the trapezoid rule."""
    b = np.asarray(budgets, dtype=np.float64)
    diff = np.asarray(method_means, dtype=np.float64) - np.asarray(baseline_means, dtype=np.float64)
    if b.size < 2 or b[-1] == b[0]:
        return float(diff.mean())
    return float(np.trapezoid(diff, b) / (b[-1] - b[0]))


def performance_gap_recovered(means: Sequence[float], weak: float, strong: float) -> np.ndarray:
    """PGR(B) = (method(B) - weak) / (strong - weak)."""
    if strong == weak:
        return np.full(len(means), np.nan)
    return (np.asarray(means, dtype=np.float64) - weak) / (strong - weak)


def apgr(budgets: Sequence[float], means: Sequence[float], weak: float, strong: float) -> float | None:
    """Average performance gap recovered: area under PGR over strong-call shares in [0, 1]."""
    pgr = performance_gap_recovered(means, weak, strong)
    if np.isnan(pgr).any():
        return None
    b = np.asarray(budgets, dtype=np.float64)
    return float(np.trapezoid(pgr, b) / (b[-1] - b[0])) if b[-1] > b[0] else float(pgr.mean())


def strong_share_for_pgr(budgets: Sequence[float], means: Sequence[float], weak: float, strong: float,
                         levels: Sequence[float] = (0.5, 0.8)) -> dict[str, float | None]:
    """Smallest strong-call share reaching each PGR level (RouteLLM's "calls needed")."""
    out: dict[str, float | None] = {}
    for level in levels:
        key = str(int(round(level * 100)))
        out[key] = None if strong == weak else budget_to_reach(budgets, means, weak + level * (strong - weak))
    return out


# ----------------------------------------------------------------------------- intrinsic


def soft_cross_entropy(targets: np.ndarray, predictions: np.ndarray | float) -> float:
    """Mean of -[t log p + (1 - t) log(1 - p)] (Eq. 7), p clipped to [1e-7, 1 - 1e-7]."""
    t = np.asarray(targets, dtype=np.float64)
    p = np.clip(np.broadcast_to(np.asarray(predictions, dtype=np.float64), t.shape), _EPS, 1 - _EPS)
    return float(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))


def squared_error(targets: np.ndarray, predictions: np.ndarray) -> float:
    """Mean over queries of ||Delta_i - Delta_hat_i||^2 (Eq. 6)."""
    t = np.asarray(targets, dtype=np.float64)
    p = np.broadcast_to(np.asarray(predictions, dtype=np.float64), t.shape)
    return float(np.mean(np.sum((t - p) ** 2, axis=1)))


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
