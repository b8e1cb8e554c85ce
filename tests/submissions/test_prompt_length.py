"""The ``prompt-length`` baseline: valid predictions of every target kind, the fitted direction
follows the data, the 1-D soft-label logistic fit is the optimum of its loss (against scipy),
and the submission is listed and runs through ``bench run`` on a shipped bank."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

from bench.cli import main
from bench.predictors.base import check_predictions
from bench.paths import tasks_root

from conftest import SETTINGS, build_views
from test_builtin_probes import load_module, make_predictor

NAME = "prompt-length"


@pytest.mark.parametrize("target_kind", sorted(SETTINGS))
def test_valid_and_deterministic_for_every_target_kind(target_kind: str) -> None:
    train, test, _ = build_views(target_kind)
    first = make_predictor(NAME).fit(train).predict(test)
    second = make_predictor(NAME).fit(train).predict(test)
    checked = check_predictions(first, target_kind, len(test), test.b_max, source=NAME)
    np.testing.assert_array_equal(first, second)
    if target_kind == "marginal_rewards":
        assert np.all(checked[:, 1:] >= 0) and np.all(np.diff(checked[:, 1:], axis=1) <= 1e-12)
    else:
        assert np.all((checked > 0) & (checked < 1))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_direction_is_fitted_from_train(sign: float) -> None:
    """FIXTURE targets that rise (sign +1) or fall (-1) with log prompt length: the predictions
    must follow, ordered like the lengths."""
    train, test, _ = build_views("success_prob")
    module = load_module(NAME)
    x = module.log_length(train.prompts)
    targets = 1 / (1 + np.exp(-sign * 2 * (x - x.mean()) / x.std()))
    predictor = make_predictor(NAME).fit(dataclasses.replace(train, targets=targets))
    pred = predictor.predict(test)
    lengths = module.log_length(test.prompts)
    assert np.sign(np.corrcoef(lengths, pred)[0, 1]) == sign
    order = np.argsort(lengths, kind="stable")
    assert np.all(sign * np.diff(pred[order]) >= -1e-12)


def test_soft_logistic_is_the_optimum_of_its_loss() -> None:
    module = load_module(NAME)
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    t = np.clip(1 / (1 + np.exp(-(0.3 - 1.2 * x))) + rng.normal(scale=0.1, size=200), 0, 1)
    l2 = 1e-3

    def loss(ab: np.ndarray) -> float:
        p = np.clip(1 / (1 + np.exp(-(ab[0] + ab[1] * x))), 1e-12, 1 - 1e-12)
        return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)) + l2 * ab[1] ** 2 / 2)

    ours = np.array(module.fit_soft_logistic(x, t, l2))
    reference = minimize(loss, np.zeros(2), method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert loss(ours) <= loss(reference) + 1e-12


def test_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "submissions"]) == 0
    assert NAME in capsys.readouterr().out


BANK = tasks_root() / "math" / "banks" / "qwen25-math-rm-8"


@pytest.mark.skipif(not (BANK / "manifest.json").is_file(), reason="shipped MATH RM bank missing")
def test_runs_on_a_shipped_marginal_rewards_bank(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--task", "math", "--bank", "qwen25-math-rm-8", "--submission", NAME,
                 "--bootstrap", "20", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "math" / "qwen25-math-rm-8" / f"{NAME}.json").read_text())
    assert result["submission"] == NAME and result["target_kind"] == "marginal_rewards"
