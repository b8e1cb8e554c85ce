"""The paper's MLP probe: a two-layer MLP on a cached feature matrix (section 3.1).

Input: one feature matrix of the bank (by default the last hidden state of Gemma 3 270M at the
prompt's last token, as in the paper, else MiniLM sentence embeddings), standardised with the
fit rows' statistics.  Output: a logit for ``success_prob``/``preference`` trained with the soft
cross-entropy of Eq. 7, or the b_max marginal rewards trained with the squared error of Eq. 6.
Portfolio setting: one output per decoder (D logits for ``success_prob_per_decoder``, D * K
values for ``marginal_rewards_per_decoder``), the same losses over all outputs.
Adam, mini-batches, early stopping on the bank's val split (or a seeded 10 % of train).
Seeded and deterministic; a few seconds on a CPU for a few thousand queries.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bench.predictors.common import (
    choose_feature,
    finish_predictions,
    fit_val_indices,
    standardize_stats,
)
from bench.predictors.losses import (
    TrainConfig,
    fit_early_stopping,
    output_size,
    outputs_to_predictions,
    seeded_deterministic,
    target_loss,
)


class MLPProbe:
    """Two-layer MLP difficulty probe (scikit-learn style: ``__init__`` only stores).

    Parameters
    ----------
    feature : str, optional
        Feature matrix to read; default: the first of
        :data:`bench.predictors.common.DEFAULT_FEATURES` present in the bank.
    hidden : int
        Width of the hidden layer.
    dropout : float
    lr, weight_decay : float
        Adam settings.
    batch_size, max_epochs, patience : int
        Early stopping: stop after ``patience`` epochs without a better val loss, keep the best.
    seed : int, optional
        Overrides the view's seed.

    Attributes
    ----------
    feature_ : str
    history_ : bench.predictors.losses.TrainingLog
    """

    def __init__(self, feature: str | None = None, hidden: int = 256, dropout: float = 0.2,
                 lr: float = 3e-4, weight_decay: float = 1e-2, batch_size: int = 64,
                 max_epochs: int = 200, patience: int = 10, seed: int | None = None) -> None:
        self.feature = feature
        self.hidden = hidden
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.seed = seed

    def fit(self, train) -> "MLPProbe":
        self.feature_ = choose_feature(train.features, self.feature)
        self.target_kind_ = train.target_kind
        seed = train.seed if self.seed is None else self.seed
        x = np.asarray(train.features[self.feature_], dtype=np.float32)
        y = np.asarray(train.targets, dtype=np.float32)
        fit_rows, val_rows = fit_val_indices(train.splits, seed)
        self.mean_, self.scale_ = standardize_stats(x[fit_rows])
        xs = torch.from_numpy(((x - self.mean_) / self.scale_).astype(np.float32))
        ys = torch.from_numpy(y)
        config = TrainConfig(lr=self.lr, weight_decay=self.weight_decay, batch_size=self.batch_size,
                             max_epochs=self.max_epochs, patience=self.patience)
        with seeded_deterministic(seed):
            self.model_ = nn.Sequential(
                nn.Linear(x.shape[1], self.hidden), nn.ReLU(), nn.Dropout(self.dropout),
                nn.Linear(self.hidden, output_size(train.target_kind, train.b_max)),
            )
            x_fit, y_fit = xs[fit_rows], ys[fit_rows]
            x_val, y_val = xs[val_rows], ys[val_rows]

            def batch_loss(rows: np.ndarray) -> torch.Tensor:
                return target_loss(self.target_kind_, self.model_(x_fit[rows]), y_fit[rows])

            def val_loss() -> float:
                with torch.no_grad():
                    return float(target_loss(self.target_kind_, self.model_(x_val), y_val))

            self.history_ = fit_early_stopping(self.model_, batch_loss,
                                               val_loss if len(val_rows) else None,
                                               len(fit_rows), config, seed)
        return self

    def predict(self, test) -> np.ndarray:
        x = np.asarray(test.features[self.feature_], dtype=np.float32)
        xs = torch.from_numpy(((x - self.mean_) / self.scale_).astype(np.float32))
        self.model_.eval()
        with torch.no_grad():
            raw = outputs_to_predictions(self.target_kind_, self.model_(xs))
        return finish_predictions(raw, self.target_kind_)
