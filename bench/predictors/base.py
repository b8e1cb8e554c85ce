"""The predictor protocol: what a submission sees, and what it must return.

A predictor follows the scikit-learn contract, duck-typed (a submission need not import
hardbench)::

    class MyProbe:
        def __init__(self, alpha: float = 1.0, random_state: int = 0): ...   # store only
        def fit(self, train: TrainView) -> "MyProbe": ...                      # learn, return self
        def predict(self, test: TestView) -> np.ndarray: ...                   # one row per query

The *target kind* depends on the bank's setting (the paper's section 3.3):

``success_prob``      binary best-of-k: lambda_i, the probability that one sample succeeds.
                      Targets and predictions have shape ``(n,)`` with values in [0, 1].
``marginal_rewards``  real-reward best-of-k: Delta_i = [q(x_i, j) - q(x_i, j-1)] for
                      j = 1..b_max (Eq. 6).  Shape ``(n, b_max)``, finite.
``preference``        routing: p(S > W | x_i) = E[sigmoid(r_S - r_W)] (Eq. 8 / 11).
                      Shape ``(n,)`` with values in [0, 1].
``success_prob_per_decoder``      portfolio, binary: lambda_id for each of the D decoders
                      (``extra["decoders"]`` in order).  Shape ``(n, D)`` in [0, 1]; loss: soft
                      cross-entropy (Eq. 7) averaged over decoders.
``marginal_rewards_per_decoder``  portfolio, real: each decoder's Delta_1..Delta_K, decoder after
                      decoder.  Shape ``(n, D * K)``; loss: squared error (Eq. 6) summed over all.

For the vector kinds ``b_max`` is the width of one target (b_max, D or D * K).

Labels of test queries never reach a predictor: a :class:`TestView` has no targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from bench.errors import PredictorContractError

#: every target kind, with the shape of one query's target ("scalar" or "vector").
TARGET_KINDS: dict[str, str] = {
    "success_prob": "scalar",
    "marginal_rewards": "vector",
    "preference": "scalar",
    "success_prob_per_decoder": "vector",
    "marginal_rewards_per_decoder": "vector",
}

#: the portfolio's per-decoder target kinds -> the single-decoder kind each column block holds
#: (one ``success_prob`` per decoder, or one ``marginal_rewards`` vector of K per decoder).
PER_DECODER_KINDS: dict[str, str] = {
    "success_prob_per_decoder": "success_prob",
    "marginal_rewards_per_decoder": "marginal_rewards",
}

#: target kinds whose values are probabilities in [0, 1] (soft cross-entropy, sigmoid heads)
PROBABILITY_KINDS: frozenset[str] = frozenset({"success_prob", "preference", "success_prob_per_decoder"})


@dataclass(frozen=True)
class TrainView:
    """Labelled queries a predictor may learn from (the bank's train and val splits).

    Attributes
    ----------
    task, bank : str
        Names, for logging only.
    setting : {"best_of_k", "routing", "portfolio"}
    target_kind : str
        One of :data:`TARGET_KINDS`.
    b_max : int
        Width of a vector target (``marginal_rewards``: b_max; ``success_prob_per_decoder``:
        D; ``marginal_rewards_per_decoder``: D * K); 1 otherwise.
    query_ids : ndarray of str, shape (n,)
    splits : ndarray of str, shape (n,)
        ``"train"`` or ``"val"`` per query: use ``"val"`` for early stopping.
    prompts : list of str, length n
    features : mapping of str to ndarray of shape (n, d)
        The bank's cached feature matrices (float32), by extractor name.
    targets : ndarray, shape (n,) or (n, b_max)
    seed : int
        Seed the predictor should use for any randomness.
    """

    task: str
    bank: str
    setting: str
    target_kind: str
    b_max: int
    query_ids: np.ndarray
    splits: np.ndarray
    prompts: list[str]
    features: Mapping[str, np.ndarray]
    targets: np.ndarray
    seed: int = 0
    extra: Mapping[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.query_ids)


@dataclass(frozen=True)
class TestView:
    """Unlabelled queries to predict: ids, prompts and features only (no targets)."""

    task: str
    bank: str
    setting: str
    target_kind: str
    b_max: int
    query_ids: np.ndarray
    prompts: list[str]
    features: Mapping[str, np.ndarray]
    seed: int = 0
    extra: Mapping[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.query_ids)


@runtime_checkable
class Predictor(Protocol):
    """What a code submission's predictor class implements (duck-typed)."""

    def fit(self, train: TrainView) -> "Predictor":  # pragma: no cover - protocol
        ...

    def predict(self, test: TestView) -> np.ndarray:  # pragma: no cover - protocol
        ...


def expected_prediction_shape(target_kind: str, n_queries: int, b_max: int) -> tuple[int, ...]:
    """Shape a prediction array must have for ``n_queries`` queries of this target kind."""
    if target_kind not in TARGET_KINDS:
        raise PredictorContractError(
            f"unknown target kind {target_kind!r}; expected one of {sorted(TARGET_KINDS)}"
        )
    return (n_queries, b_max) if TARGET_KINDS[target_kind] == "vector" else (n_queries,)


def check_predictions(
    predictions: object, target_kind: str, n_queries: int, b_max: int, source: str = "predict()"
) -> np.ndarray:
    """Validate a predictor's output and return it as a float64 array.

    Raises :class:`PredictorContractError` naming ``source`` when the output has the wrong
    count or shape, is not numeric, holds NaN or inf, or (for probabilities) leaves [0, 1].
    """
    raw = np.asarray(predictions)
    if raw.dtype.kind not in "biuf":
        # str/bytes/object arrays would be coerced silently ("0.5" -> 0.5, Decimal, None...):
        # a predictor must return numbers, so refuse anything that is not a numeric array.
        raise PredictorContractError(
            f"{source} returned predictions of dtype {raw.dtype} ({raw.dtype.kind!r}); "
            "return a numeric array (e.g. np.asarray(values, dtype=float))")
    arr = raw.astype(np.float64)
    shape = expected_prediction_shape(target_kind, n_queries, b_max)
    if TARGET_KINDS[target_kind] == "scalar" and arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != len(shape) or arr.shape[0] != shape[0]:
        raise PredictorContractError(
            f"{source} returned {arr.shape[0] if arr.ndim else 'a scalar'} predictions "
            f"of shape {arr.shape}; expected shape {shape} (one per query)"
        )
    if arr.shape != shape:
        raise PredictorContractError(
            f"{source} returned {target_kind} vectors of length {arr.shape[1]}; "
            f"expected b_max = {b_max} (shape {shape})"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise PredictorContractError(
            f"{source} returned {int(bad.sum())} NaN or infinite values "
            f"(first at row {int(np.argwhere(bad)[0][0])})"
        )
    if target_kind in PROBABILITY_KINDS and ((arr < 0).any() or (arr > 1).any()):
        lo, hi = float(arr.min()), float(arr.max())
        raise PredictorContractError(
            f"{source} returned {target_kind} values outside [0, 1] (min {lo:.4g}, max {hi:.4g})"
        )
    return arr
