"""Prompt length as a difficulty predictor: the trivial baseline every probe must beat.

The only input is ``x = log(1 + len(prompt))`` (characters), standardised with the train split's
mean and spread.  Direction and scale are fitted on the train split only (there is no model
selection, so the val split is not needed):

``success_prob`` / ``preference``
    1-D logistic regression ``sigmoid(a + b x)`` on the soft targets t in [0, 1], fitted by
    Newton's method on the soft cross-entropy (the paper's Eq. 7) with a small L2 penalty on
    ``b`` (``l2``), so predictions are always inside (0, 1).
``marginal_rewards``
    One least-squares line ``a_j + b_j x`` per marginal reward Delta_j (Eq. 6, ridge ``l2`` on
    the slopes), then the vectors are made non-negative and non-increasing from j = 2 on.
Portfolio (one target per decoder)
    ``success_prob_per_decoder``: one such 1-D logistic regression per decoder (column);
    ``marginal_rewards_per_decoder``: one line per value of the D * K vector, left as fitted
    (the allocator makes each decoder's block non-increasing; a tidy over the whole row would
    mix decoders).

It needs no features and does not import hardbench.
"""

from __future__ import annotations

import numpy as np


def log_length(prompts) -> np.ndarray:
    """``log(1 + number of characters)`` of each prompt."""
    return np.log1p(np.array([len(str(p)) for p in prompts], dtype=np.float64))


def fit_soft_logistic(x: np.ndarray, t: np.ndarray, l2: float, iterations: int = 50
                      ) -> tuple[float, float]:
    """Intercept and slope minimising the mean soft cross-entropy of ``sigmoid(a + b x)``
    against targets ``t`` plus ``l2 * b**2 / 2`` (Newton's method; the loss is convex)."""
    mean_t = float(np.clip(t.mean(), 1e-6, 1 - 1e-6))
    a, b = float(np.log(mean_t / (1 - mean_t))), 0.0  # start at the constant predictor
    design = np.column_stack([np.ones_like(x), x])
    penalty = np.diag([0.0, l2])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a + b * x)))
        grad = design.T @ (p - t) / len(x) + penalty @ np.array([a, b])
        weights = p * (1 - p)
        hessian = (design * weights[:, None]).T @ design / len(x) + penalty + 1e-12 * np.eye(2)
        step = np.linalg.solve(hessian, grad)
        a, b = a - float(step[0]), b - float(step[1])
        if float(np.abs(step).max()) < 1e-10:
            break
    return a, b


def fit_lines(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Ridge lines ``y[:, j] ~ a_j + b_j x`` (penalty ``l2`` on the slopes); shape (2, m)."""
    design = np.column_stack([np.ones_like(x), x])
    gram = design.T @ design / len(x) + np.diag([0.0, l2])
    return np.linalg.solve(gram, design.T @ y / len(x))


class PromptLengthPredictor:
    """Difficulty from prompt length alone, direction and scale fitted on train."""

    def __init__(self, l2: float = 1e-3) -> None:
        self.l2 = l2

    def fit(self, train) -> "PromptLengthPredictor":
        in_train = np.asarray(train.splits) == "train"
        rows = in_train if in_train.any() else np.ones(len(in_train), dtype=bool)
        raw = log_length(train.prompts)[rows]
        self.mean_, self.scale_ = float(raw.mean()), float(raw.std()) or 1.0
        x = (raw - self.mean_) / self.scale_
        targets = np.asarray(train.targets, dtype=np.float64)[rows]
        self.target_kind_ = train.target_kind
        self.vector_ = targets.ndim == 2 and self.target_kind_ != "success_prob_per_decoder"
        if self.vector_:
            self.coef_ = fit_lines(x, targets, self.l2)
        elif targets.ndim == 2:     # one success probability per decoder: one logistic per column
            self.coef_ = np.array([fit_soft_logistic(x, np.clip(t, 0.0, 1.0), self.l2) for t in targets.T]).T
        else:
            self.coef_ = np.array(fit_soft_logistic(x, np.clip(targets, 0.0, 1.0), self.l2))
        return self

    def predict(self, test) -> np.ndarray:
        x = (log_length(test.prompts) - self.mean_) / self.scale_
        if self.vector_:
            delta = self.coef_[0][None, :] + x[:, None] * self.coef_[1][None, :]
            if self.target_kind_ == "marginal_rewards" and delta.shape[1] > 1:
                # one decoder: Delta_j >= 0 and non-increasing for j >= 2
                delta[:, 1:] = np.minimum.accumulate(np.maximum(delta[:, 1:], 0.0), axis=1)
            return delta
        if self.coef_.ndim == 2:    # (2, D): a column of probabilities per decoder
            return 1.0 / (1.0 + np.exp(-(self.coef_[0][None, :] + x[:, None] * self.coef_[1][None, :])))
        return 1.0 / (1.0 + np.exp(-(self.coef_[0] + self.coef_[1] * x)))
