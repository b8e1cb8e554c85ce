"""Contract and behaviour tests of the built-in submissions (constant, logistic, mlp-probe).

The contract (a ``check_predictor`` in the scikit-learn spirit): for every target kind, fit +
predict returns valid predictions (shape, range, finite), and the same seed gives the same
predictions.  Behaviour: on a fixture whose target is a known function of one feature, the
probes beat the constant predictor; the soft-label logistic regression minimises the soft
cross-entropy of Eq. 7 (checked against scipy).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy.optimize import minimize

from bench.paths import submissions_root
from bench.predictors.base import check_predictions
from bench.predictors.isolation import isolation_mode
from bench.submissions import load_submission, run_submission

from conftest import FEATURE, PORTFOLIO_KINDS, SETTINGS, build_views

IN_PROCESS = ["constant", "logistic", "mlp-probe"]


def load_module(name: str) -> ModuleType:
    """Import ``submissions/<name>/predictor.py`` in-process under a unique module name."""
    file = submissions_root() / name / "predictor.py"
    spec = importlib.util.spec_from_file_location(f"test_submission_{name.replace('-', '_')}", file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_predictor(name: str, **overrides: object) -> object:
    sub = load_submission(name)
    cls = getattr(load_module(name), sub.entry.partition(":")[2])
    return cls(**{**sub.params, **overrides})


@pytest.mark.parametrize("target_kind", sorted(SETTINGS))
@pytest.mark.parametrize("name", IN_PROCESS)
def test_contract_valid_and_deterministic(name: str, target_kind: str) -> None:
    train, test, _ = build_views(target_kind)
    first = make_predictor(name).fit(train).predict(test)
    second = make_predictor(name).fit(train).predict(test)
    checked = check_predictions(first, target_kind, len(test), test.b_max, source=name)
    np.testing.assert_array_equal(first, second)
    if target_kind == "marginal_rewards":  # tidy: non-negative, non-increasing from j = 2
        assert np.all(checked[:, 1:] >= 0) and np.all(np.diff(checked[:, 1:], axis=1) <= 1e-12)


def test_mlp_seed_changes_the_fit() -> None:
    train, test, _ = build_views("success_prob", seed=0)
    other = dataclasses.replace(train, seed=1)
    a = make_predictor("mlp-probe").fit(train).predict(test)
    b = make_predictor("mlp-probe").fit(other).predict(test)
    assert not np.allclose(a, b)


def _learnable(target_kind: str):
    """Fixture: real prompts and fixture features, target a known function of column 0."""
    train, test, _ = build_views(target_kind)
    rng = np.random.default_rng(0)

    def add(view, n):
        signal = rng.normal(size=n).astype(np.float32)
        noise = rng.normal(size=(n, 8)).astype(np.float32)
        feats = {"fixture-signal": np.column_stack([signal, noise])}
        return dataclasses.replace(view, features=feats), signal

    train, s_train = add(train, len(train))
    test, s_test = add(test, len(test))
    lam = lambda s: 1 / (1 + np.exp(-2.5 * s))  # noqa: E731
    if target_kind == "marginal_rewards":
        f = lambda s: np.stack([lam(s) * (1 - lam(s)) ** (j - 1) for j in range(1, 5)], axis=1)  # noqa: E731
    else:
        f = lam
    return dataclasses.replace(train, targets=f(s_train)), test, f(s_test)


def _loss(pred: np.ndarray, truth: np.ndarray) -> float:
    if pred.ndim == 2:
        return float(np.mean(np.sum((pred - truth) ** 2, axis=1)))
    p = np.clip(pred, 1e-7, 1 - 1e-7)
    return float(-np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p)))


@pytest.mark.parametrize("target_kind", ["success_prob", "marginal_rewards"])
@pytest.mark.parametrize("name", ["logistic", "mlp-probe"])
def test_probes_beat_constant_on_a_learnable_signal(name: str, target_kind: str) -> None:
    train, test, truth = _learnable(target_kind)
    probe = _loss(make_predictor(name).fit(train).predict(test), truth)
    const = _loss(make_predictor("constant").fit(train).predict(test), truth)
    best = _loss(truth, truth)  # the "Opt." of the paper's Table 1
    assert probe < best + 0.5 * (const - best), (probe, const, best)


def test_soft_logistic_minimises_eq7() -> None:
    """Duplicated rows weighted t and 1 - t give the minimiser of soft CE + L2 (scipy)."""
    logistic = load_module("logistic")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 2))
    t = rng.uniform(size=40)
    c = 0.7
    model = logistic._soft_logistic(c, x, t, seed=0)
    z = (x - x.mean(axis=0)) / x.std(axis=0)

    def objective(theta: np.ndarray) -> float:
        logits = z @ theta[:2] + theta[2]
        ce = np.sum(t * np.logaddexp(0, -logits) + (1 - t) * np.logaddexp(0, logits))
        return ce + 0.5 * np.sum(theta[:2] ** 2) / c

    theta = minimize(objective, np.zeros(3), method="BFGS", options={"gtol": 1e-10}).x
    expected = 1 / (1 + np.exp(-(z @ theta[:2] + theta[2])))
    np.testing.assert_allclose(model.predict_proba(x)[:, 1], expected, atol=1e-4)


def test_logistic_picks_strength_on_val() -> None:
    train, test, _ = build_views("preference")
    probe = make_predictor("logistic").fit(train)
    assert set(probe.val_losses_) == {0.001, 0.01, 0.1, 1.0, 10.0}
    assert probe.strength_ == min(probe.val_losses_, key=probe.val_losses_.get)
    fixed = make_predictor("logistic", C=0.5).fit(train)
    assert fixed.strength_ == 0.5 and fixed.val_losses_ == {}


@pytest.mark.parametrize("name", IN_PROCESS)
def test_through_the_child_process(name: str) -> None:
    """The honest built-ins run in the child (under the bubblewrap allow-list where it works)
    and give what they give in-process; the report says how the child really ran."""
    train, test, _ = build_views("success_prob")
    report: dict = {}
    out = run_submission(load_submission(name), train, test, timeout_s=180, echo=False, report=report)
    direct = make_predictor(name).fit(train).predict(test)
    np.testing.assert_allclose(out, direct, atol=1e-6)
    assert report["isolation"] == ("bwrap-allowlist" if isolation_mode() == "bwrap" else "process")


def test_probe_without_features_says_how_to_add_them(tmp_path: Path) -> None:
    train, test, _ = build_views("success_prob")
    bare = dataclasses.replace(train, features={})
    with pytest.raises(Exception, match=r"this bank has no features; add some with `bench features"):
        make_predictor("mlp-probe").fit(bare)
    with pytest.raises(Exception, match=rf"feature 'minilm' is not in this bank; available: {FEATURE}"):
        make_predictor("logistic", feature="minilm").fit(train)


@pytest.mark.parametrize("target_kind", PORTFOLIO_KINDS)
@pytest.mark.parametrize("name", [*IN_PROCESS, "prompt-length"])
def test_portfolio_multi_output_contract(name: str, target_kind: str) -> None:
    """One output per decoder (D = 3 here, or D * K marginals): valid, deterministic, and the
    learned probes fit their training targets better than the constant (train mean)."""
    train, test, _ = build_views(target_kind)
    first = make_predictor(name).fit(train).predict(test)
    second = make_predictor(name).fit(train).predict(test)
    checked = check_predictions(first, target_kind, len(test), test.b_max, source=name)
    assert checked.shape == (len(test), train.targets.shape[1])
    np.testing.assert_array_equal(first, second)
    if name != "constant":
        fitted = make_predictor(name).fit(train)
        in_sample = fitted.predict(dataclasses.replace(test, query_ids=train.query_ids, prompts=train.prompts,
                                                       features=train.features))
        t = train.targets
        if target_kind == "success_prob_per_decoder":
            from bench.metrics import soft_cross_entropy
            assert soft_cross_entropy(t, in_sample) < soft_cross_entropy(t, np.broadcast_to(t.mean(axis=0), t.shape))
        else:
            assert np.mean((in_sample - t) ** 2) < np.mean((t - t.mean(axis=0)) ** 2)
