"""Bootstrap replicates that re-run the allocation (``bench run --reallocate-bootstrap``).

By default (:func:`bench.scoring.replicate_curves`) the allocation computed on the full test
batch is held fixed and only the queries are resampled, so the interval ignores that another
test batch would have been allocated differently and another held-out split would have
given other offline bins.  Here every replicate redraws the test queries *and* the held-out
queries (an independent stream, ``seed + 1``), refits the offline bins on the resampled
held-out split and re-runs every allocation on the resampled test batch.  The point estimate
(row 0) is unchanged.  Cost: one full :func:`bench.scoring.compute_curves` per replicate.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from bench.bootstrap import replicate_indices, resample_counts
from bench.scoring import (
    ADAPTIVE_METHODS,
    CurveSet,
    ReplicateCurves,
    ScoringProblem,
    baseline_method,
    compute_curves,
    replicate_curves,
)


def reallocated_replicates(curves: CurveSet, test: ScoringProblem, heldout: ScoringProblem,
                           test_pred: np.ndarray, heldout_pred: np.ndarray, weights: np.ndarray,
                           seed: int) -> ReplicateCurves:
    """Mean curves per replicate with the allocation re-run inside each (row 0: the sample)."""
    point = replicate_curves(curves, test, weights[:1])
    n_rep = weights.shape[0] - 1
    test_rows = replicate_indices(weights[1:])
    held_rows = replicate_indices(resample_counts(len(heldout.query_ids), n_rep, seed + 1))
    baseline = baseline_method(test.setting)
    means = {m: [v[0]] for m, v in point.means.items()}
    base_at = {m: [v[0]] for m, v in point.baseline_at.items()}
    xs = {m: [np.asarray(v, dtype=np.float64)] for m, v in point.xs.items()}
    weak, strong = [point.weak[0]], [point.strong[0]]
    for r in tqdm(range(n_rep), desc="re-allocating bootstrap replicates", unit="replicate",
                  disable=n_rep < 50, leave=False):
        t, h = test_rows[r], held_rows[r]
        sub = test.subset(t)
        rep = compute_curves(sub, heldout.subset(h), test_pred[t], heldout_pred[h], curves.budgets,
                             n_bins=curves.offline_bins, seed=seed)
        for m in means:
            means[m].append(rep.per_query[m].mean(axis=0))
        for m in base_at:
            base_at[m].append(rep.baseline_at[m].mean(axis=0))
        for m in ADAPTIVE_METHODS:
            xs[m].append(rep.summary_budgets(m))
        xs[baseline].append(rep.realized[baseline])
        weak.append(sub.q_table[:, 0].mean())
        strong.append(sub.q_table[:, -1].mean())
    stack = lambda d: {m: np.vstack(v) for m, v in d.items()}  # noqa: E731
    return ReplicateCurves(curves.budgets, stack(means), stack(base_at), stack(xs), np.array(weak), np.array(strong))
