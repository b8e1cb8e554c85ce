"""The constant predictor: every test query gets the mean target of the train split.

It is the paper's "Avg." baseline (section 4.3): if a probe cannot beat it, the features
carry no usable information about difficulty.  It needs no features and no hardbench import.
"""

from __future__ import annotations

import numpy as np


class ConstantPredictor:
    """Predict the train-split mean of the targets, whatever the query."""

    def __init__(self) -> None:
        pass

    def fit(self, train) -> "ConstantPredictor":
        targets = np.asarray(train.targets, dtype=np.float64)
        in_train = np.asarray(train.splits) == "train"
        self.mean_ = targets[in_train].mean(axis=0) if in_train.any() else targets.mean(axis=0)
        return self

    def predict(self, test) -> np.ndarray:
        n = len(test.query_ids)
        return np.repeat(np.atleast_1d(self.mean_)[None, :], n, axis=0).reshape(
            (n,) + np.shape(self.mean_)
        )
