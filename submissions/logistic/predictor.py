"""Regularised linear probes on a cached feature matrix (scikit-learn).

``success_prob`` / ``preference``: L2-regularised logistic regression fitted to the *soft*
targets t_i in [0, 1].  scikit-learn's LogisticRegression needs hard labels, so each row is
given twice, labelled 1 with weight t_i and 0 with weight 1 - t_i: the weighted log-loss is
then exactly the soft cross-entropy of the paper's Eq. 7.
``marginal_rewards``: ridge regression on the b_max-vector (the squared error of Eq. 6),
then each vector is made non-negative and non-increasing from j = 2 on.
Portfolio (one output per decoder): ``success_prob_per_decoder`` fits one soft logistic
regression per decoder (the same C for all, chosen on val for the mean over decoders);
``marginal_rewards_per_decoder`` is ridge regression on the D * K vector.

The regularisation strength is picked on the val split (or a seeded 10 % of train) from a
small grid, then the model is refitted on train + val.  Features are standardised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.metrics import soft_cross_entropy
from bench.predictors.base import PROBABILITY_KINDS, TARGET_KINDS
from bench.predictors.common import choose_feature, finish_predictions, fit_val_indices


def _soft_logistic(c: float, x: np.ndarray, t: np.ndarray, seed: int):
    """Logistic regression on soft targets via duplicated rows weighted t and 1 - t."""
    model = make_pipeline(StandardScaler(),
                          LogisticRegression(C=c, max_iter=2000, random_state=seed))
    xx = np.concatenate([x, x])
    yy = np.concatenate([np.ones(len(t), dtype=int), np.zeros(len(t), dtype=int)])
    ww = np.concatenate([t, 1.0 - t])
    model.fit(xx, yy, logisticregression__sample_weight=ww)
    return model


class LogisticProbe:
    """Soft-label logistic regression (probabilities) or ridge regression (marginal vectors).

    Parameters
    ----------
    feature : str, optional
        Feature matrix to read; default: the first of
        :data:`bench.predictors.common.DEFAULT_FEATURES` present in the bank.
    C : float, optional
        Inverse L2 strength of the logistic regression; None picks it from ``C_grid`` on val.
    alpha : float, optional
        Ridge strength for marginal vectors; None picks it from ``alpha_grid`` on val.
    C_grid, alpha_grid : sequence of float
    seed : int, optional
        Overrides the view's seed.
    """

    def __init__(self, feature: str | None = None, C: float | None = None,
                 alpha: float | None = None,
                 C_grid: Sequence[float] = (0.001, 0.01, 0.1, 1.0, 10.0),
                 alpha_grid: Sequence[float] = (0.1, 1.0, 10.0, 100.0, 1000.0),
                 seed: int | None = None) -> None:
        self.feature = feature
        self.C = C
        self.alpha = alpha
        self.C_grid = C_grid
        self.alpha_grid = alpha_grid
        self.seed = seed

    def _make(self, strength: float, x: np.ndarray, t: np.ndarray, seed: int):
        if self.vector_:
            return make_pipeline(StandardScaler(), Ridge(alpha=strength)).fit(x, t)
        if self.multi_:                       # one probability per decoder: one model per column
            return [_soft_logistic(strength, x, t[:, j], seed) for j in range(t.shape[1])]
        return _soft_logistic(strength, x, t, seed)

    def _predict_raw(self, model, x: np.ndarray) -> np.ndarray:
        if self.vector_:
            return model.predict(x)
        if self.multi_:
            return np.stack([m.predict_proba(x)[:, 1] for m in model], axis=1)
        return model.predict_proba(x)[:, 1]

    def _val_loss(self, model, x: np.ndarray, t: np.ndarray) -> float:
        p = self._predict_raw(model, x)
        if self.vector_:
            return float(np.mean(np.sum((p - t) ** 2, axis=1)))
        return soft_cross_entropy(t, p)

    def fit(self, train) -> "LogisticProbe":
        self.feature_ = choose_feature(train.features, self.feature)
        self.target_kind_ = train.target_kind
        self.vector_ = train.target_kind not in PROBABILITY_KINDS        # regression (ridge)
        self.multi_ = not self.vector_ and TARGET_KINDS[train.target_kind] == "vector"
        seed = train.seed if self.seed is None else self.seed
        x = np.asarray(train.features[self.feature_], dtype=np.float64)
        t = np.asarray(train.targets, dtype=np.float64)
        fixed = self.alpha if self.vector_ else self.C
        grid = list(self.alpha_grid if self.vector_ else self.C_grid)
        fit_rows, val_rows = fit_val_indices(train.splits, seed)
        if fixed is not None or len(val_rows) == 0:
            self.strength_ = float(fixed if fixed is not None else grid[len(grid) // 2])
            self.val_losses_ = {}
        elif self.multi_:
            # one C for every decoder, chosen on the mean success probability over decoders
            # (5 fits instead of 5 per decoder; then one fit per decoder)
            mean_t = t.mean(axis=1)
            self.val_losses_ = {
                s: soft_cross_entropy(mean_t[val_rows], _soft_logistic(s, x[fit_rows], mean_t[fit_rows], seed)
                                      .predict_proba(x[val_rows])[:, 1]) for s in grid
            }
            self.strength_ = min(self.val_losses_, key=self.val_losses_.get)
        else:
            self.val_losses_ = {
                s: self._val_loss(self._make(s, x[fit_rows], t[fit_rows], seed), x[val_rows], t[val_rows])
                for s in grid
            }
            self.strength_ = min(self.val_losses_, key=self.val_losses_.get)
        self.model_ = self._make(self.strength_, x, t, seed)
        return self

    def predict(self, test) -> np.ndarray:
        x = np.asarray(test.features[self.feature_], dtype=np.float64)
        return finish_predictions(self._predict_raw(self.model_, x), self.target_kind_)
