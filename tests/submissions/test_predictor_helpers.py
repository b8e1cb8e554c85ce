"""Shared probe helpers: feature choice, val split, tidying, the paper's losses, early stopping."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import bench.predictors.common as common
from bench.errors import UnknownNameError
from bench.predictors.common import choose_feature, fit_val_indices, tidy_marginal_rewards

torch = pytest.importorskip("torch")
from bench.predictors.losses import TrainConfig, fit_early_stopping, target_loss  # noqa: E402


def test_doctests() -> None:
    assert doctest.testmod(common).failed == 0


def test_choose_feature_order() -> None:
    x = np.zeros((2, 1))
    assert choose_feature({"minilm": x, "lm-last-hidden--gemma3-270m": x}) == "lm-last-hidden--gemma3-270m"
    assert choose_feature({"minilm": x, "zzz": x}) == "minilm"
    assert choose_feature({"zzz": x, "aaa": x}) == "aaa"
    assert choose_feature({"zzz": x, "minilm": x}, "zzz") == "zzz"
    with pytest.raises(UnknownNameError, match="feature 'nope' is not in this bank; available: minilm"):
        choose_feature({"minilm": x}, "nope")


def test_fit_val_indices() -> None:
    splits = np.array(["train", "val", "train", "val", "train"])
    fit, val = fit_val_indices(splits, seed=0)
    assert fit.tolist() == [0, 2, 4] and val.tolist() == [1, 3]
    only_train = np.array(["train"] * 20)
    fit, val = fit_val_indices(only_train, seed=0)
    assert len(val) == 2 and len(fit) == 18 and not set(fit) & set(val)
    assert fit_val_indices(only_train, seed=0)[1].tolist() == val.tolist()  # seeded
    assert fit_val_indices(only_train, seed=1)[1].tolist() != val.tolist()
    fit, val = fit_val_indices(np.array(["train"]), seed=0)
    assert fit.tolist() == [0] and val.tolist() == []


def test_tidy_marginal_rewards_cases() -> None:
    delta = np.array([[-0.2, 0.3, 0.4, -0.1, 0.05], [0.9, 0.05, 0.01, 0.0, 0.0]])
    out = tidy_marginal_rewards(delta)
    np.testing.assert_allclose(out, [[-0.2, 0.3, 0.3, 0.0, 0.0], [0.9, 0.05, 0.01, 0.0, 0.0]])


def test_losses_match_the_paper_by_hand() -> None:
    logits = torch.tensor([[0.0], [2.0]])
    lam = torch.tensor([0.25, 1.0])
    p = 1 / (1 + np.exp(-np.array([0.0, 2.0])))
    eq7 = -np.mean([0.25 * np.log(p[0]) + 0.75 * np.log(1 - p[0]), np.log(p[1])])
    assert float(target_loss("success_prob", logits, lam)) == pytest.approx(eq7, rel=1e-6)
    assert float(target_loss("preference", logits, lam)) == pytest.approx(eq7, rel=1e-6)
    pred = torch.tensor([[0.5, 0.1], [0.0, 0.0]])
    delta = torch.tensor([[0.25, 0.1], [0.5, 0.5]])
    eq6 = np.mean([0.25 ** 2, 0.5 ** 2 + 0.5 ** 2])  # summed over j, averaged over queries
    assert float(target_loss("marginal_rewards", pred, delta)) == pytest.approx(eq6, rel=1e-6)


def test_early_stopping_keeps_the_best_epoch() -> None:
    """Fit y = x on noisy train rows; val rows disagree, so val loss rises at some point."""
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    x = torch.linspace(-1, 1, 32)[:, None]
    y_fit = 3 * x[:, 0]
    x_val, y_val = x[:8], -1 * x[:8, 0]  # the val rows want the opposite slope

    def batch_loss(rows: np.ndarray) -> torch.Tensor:
        return ((model(x[rows])[:, 0] - y_fit[rows]) ** 2).mean()

    def val_loss() -> float:
        with torch.no_grad():
            return float(((model(x_val)[:, 0] - y_val) ** 2).mean())

    log = fit_early_stopping(model, batch_loss, val_loss, 32,
                             TrainConfig(lr=0.05, batch_size=8, max_epochs=50, patience=3), seed=0)
    assert log.best_epoch == int(np.argmin(log.val_loss))
    assert len(log.val_loss) == log.best_epoch + 1 + 3  # stopped after 3 epochs without progress
    assert val_loss() == pytest.approx(min(log.val_loss))  # the best state was restored
