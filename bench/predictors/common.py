"""Small helpers the built-in probes share (numpy only: no torch, no scikit-learn).

Submissions may import these (``from bench.predictors.common import choose_feature``) but
need not: a submission only has to follow the protocol in :mod:`bench.predictors.base`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bench.errors import UnknownNameError
from bench.predictors.base import PROBABILITY_KINDS

#: features a probe uses when its ``feature`` param is not set, best first: the paper's
#: last hidden state of a small LM, then a sentence embedding.
DEFAULT_FEATURES: tuple[str, ...] = ("lm-last-hidden--gemma3-270m", "minilm")


def choose_feature(available: Mapping[str, np.ndarray], requested: str | None = None) -> str:
    """The feature matrix a probe should read: ``requested``, else the first default present.

    Raises
    ------
    UnknownNameError
        ``requested`` is not in the bank, or the bank has no features at all (the message
        says how to add some with ``bench features``).
    """
    names = sorted(available)
    if requested:
        if requested not in available:
            raise UnknownNameError(
                f"feature {requested!r} is not in this bank; available: {', '.join(names) or 'none'}"
            )
        return requested
    for name in DEFAULT_FEATURES:
        if name in available:
            return name
    if names:
        return names[0]
    raise UnknownNameError(
        "this bank has no features; add some with `bench features --bank BANK --extractor minilm` "
        "(or lm-last-hidden:gemma3-270m)"
    )


def fit_val_indices(splits: np.ndarray, seed: int, holdout: float = 0.1
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Row indices to fit on and to early-stop/select on.

    The ``"val"`` rows when there are any; otherwise a seeded ``holdout`` share of the
    ``"train"`` rows (at least one row, and at least one row left to fit on).
    """
    splits = np.asarray(splits)
    val = np.flatnonzero(splits == "val")
    fit = np.flatnonzero(splits != "val")
    if len(val) or len(fit) < 2:
        return fit, val
    rng = np.random.default_rng(seed)
    order = rng.permutation(fit)
    n_val = min(max(1, int(round(holdout * len(fit)))), len(fit) - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def standardize_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and scales (std, 1 where a column is constant) of ``x``."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    return mean, np.where(scale > 1e-8, scale, 1.0)


def tidy_marginal_rewards(delta: np.ndarray) -> np.ndarray:
    """Make predicted marginal-reward vectors obey best-of-k's shape.

    For j >= 2, Delta_j = E[max of j rewards] - E[max of j-1] is >= 0 and non-increasing in
    j (diminishing returns, which the greedy allocator relies on).  Delta_1 = E[reward of one
    sample] may have any sign and is left as is.

    >>> tidy_marginal_rewards(np.array([[0.5, 0.1, 0.2, -0.1]]))
    array([[0.5, 0.1, 0.1, 0. ]])
    """
    out = np.array(delta, dtype=np.float64, copy=True)
    if out.ndim == 2 and out.shape[1] > 1:
        out[:, 1:] = np.minimum.accumulate(np.maximum(out[:, 1:], 0.0), axis=1)
    return out


def finish_predictions(raw: np.ndarray, target_kind: str) -> np.ndarray:
    """Clip probabilities into [0, 1] or tidy marginal vectors; float64.

    ``marginal_rewards_per_decoder`` rows hold D vectors side by side: they are returned as
    they are (the portfolio allocator makes each decoder's vector non-increasing).
    """
    if target_kind in PROBABILITY_KINDS:
        return np.clip(np.asarray(raw, dtype=np.float64), 0.0, 1.0)
    if target_kind == "marginal_rewards":
        return tidy_marginal_rewards(raw)
    return np.asarray(raw, dtype=np.float64)
