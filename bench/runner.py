"""``bench run``: one submission on one bank -> one result file.

1. load the task config and the bank (validated, checksums checked);
2. reduce the bank to exact expected rewards and training targets (:mod:`bench.scoring`);
3. hand the submission a :class:`TrainView` (train + val, with targets) and a
   :class:`TestView` (val + test inputs, no targets): val predictions fit the offline bins,
   test predictions are scored;
4. compute every method's curve, the bootstrap intervals, the summaries and the
   intrinsic metrics on the test split, and write the result atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.bank import Bank, load_bank, resolve_bank_dir
from bench.errors import HardbenchError
from bench.predictors.base import TestView, TrainView
from bench.results import RESULT_FORMAT, package_versions, result_path, signature, write_result
from bench.scoring import (
    ScoringProblem,
    allocation_by_bin,
    check_budgets,
    compute_curves,
    curve_points,
    default_budgets,
    intrinsic,
    problem_from_bank,
    summarize,
)
from bench.predictors.isolation import isolation_mode
from bench.submissions import load_submission, run_submission
from bench.tasks import load_task


@dataclass(frozen=True)
class RunOptions:
    """Everything ``bench run`` takes besides the task and submission names."""

    bank: str | None = None
    budgets: Sequence[float] | None = None
    bootstrap: int = 1000
    seed: int = 0
    out_dir: Path | None = None
    timeout_s: float | None = None
    n_bins: int = 10


def heldout_split(problem: ScoringProblem) -> str:
    """Where offline bins are fitted: ``val`` if the bank has it, else (in-sample) ``train``."""
    return "val" if (problem.splits == "val").any() else "train"


def build_views(bank: Bank, problem: ScoringProblem, predict_mask: np.ndarray,
                seed: int) -> tuple[TrainView, TestView]:
    """The labelled train+val view, and the unlabelled view of the queries in ``predict_mask``."""
    splits = problem.splits
    fit_mask = np.isin(splits, ("train", "val"))
    features = {name: bank.features(name) for name in bank.feature_names}
    prompts = bank.queries["prompt"].to_numpy()
    common = dict(task=bank.task, bank=bank.name, setting=problem.setting,
                  target_kind=problem.target_kind, b_max=problem.b_max, seed=seed)
    train = TrainView(query_ids=problem.query_ids[fit_mask], splits=splits[fit_mask],
                      prompts=list(prompts[fit_mask]),
                      features={k: v[fit_mask] for k, v in features.items()},
                      targets=problem.targets[fit_mask], **common)
    test = TestView(query_ids=problem.query_ids[predict_mask], prompts=list(prompts[predict_mask]),
                    features={k: v[predict_mask] for k, v in features.items()}, **common)
    return train, test


def _require_splits(problem: ScoringProblem, bank: Bank) -> None:
    present = set(problem.splits)
    if "test" not in present or "train" not in present:
        raise HardbenchError(f"bank {bank.path} needs train and test splits; it has {sorted(present)}")


def run_benchmark(task: str, submission: str, options: RunOptions = RunOptions()) -> tuple[Path, dict[str, Any]]:
    """Score ``submission`` on ``task``'s bank and write the result file; return (path, result)."""
    config = load_task(task)
    bank = load_bank(resolve_bank_dir(options.bank, task))
    if bank.task != task:
        raise HardbenchError(f"bank {bank.path} is for task {bank.task!r}, not {task!r}")
    problem = problem_from_bank(bank, default_reward=config.default_reward, min_budget=config.min_budget)
    _require_splits(problem, bank)
    budgets = check_budgets(problem, options.budgets) if options.budgets else default_budgets(problem)
    sub = load_submission(submission)
    held = heldout_split(problem)
    predict_mask = np.isin(problem.splits, (held, "test"))
    train_view, test_view = build_views(bank, problem, predict_mask, options.seed)
    predictions = run_submission(sub, train_view, test_view, timeout_s=options.timeout_s, bank_dir=bank.path)

    predicted_splits = problem.splits[predict_mask]
    test = problem.subset(problem.splits == "test")
    train = problem.subset(problem.splits == "train")
    heldout = problem.subset(problem.splits == held)
    test_pred = predictions[predicted_splits == "test"]
    heldout_pred = predictions[predicted_splits == held]
    curves = compute_curves(test, heldout, test_pred, heldout_pred, budgets, n_bins=options.n_bins,
                            seed=options.seed)
    points = curve_points(curves, options.bootstrap, options.seed)
    result: dict[str, Any] = {
        "format": RESULT_FORMAT,
        "signature": signature(task, config.version, bank.manifest_sha256, sub.name, "test", options.bootstrap, options.seed,
                               options.n_bins),
        "task": task, "bank": bank.name, "bank_sha256": bank.manifest_sha256,
        "submission": sub.name, "setting": problem.setting, "reward": problem.reward_kind,
        "target_kind": problem.target_kind, "split": "test", "n_queries": int(len(test.query_ids)),
        "seed": options.seed, "bootstrap": options.bootstrap,
        "offline": {"bins": options.n_bins, "fitted_on": held},
        "isolation": isolation_mode() if sub.kind == "code" else "predictions-file",
        "versions": package_versions(), "budgets": budgets, "curves": points,
        "summary": summarize(points, test), "intrinsic": intrinsic(test, test_pred, train),
        "allocation_by_bin": allocation_by_bin(curves, test, test_pred),
    }
    path = write_result(result, result_path(task, bank.name, sub.name, options.out_dir))
    return path, result


# ----------------------------------------------------------------------------- portfolio (issue 9)
# A separate path on purpose: the portfolio setting shares the bank, the submission protocol and
# the bootstrap with the paper's settings, but has its own problem, methods and summary.


def portfolio_result_path(task: str, bank: str, submission: str, slug: str, out_dir: Path | None = None) -> Path:
    """``<out_dir or results/>/<task>/<bank>/<submission>@portfolio-<slug>.json``."""
    return result_path(task, bank, f"{submission}@portfolio-{slug}", out_dir)


def portfolio_slug(decoders: Sequence[str], all_decoders: Sequence[str], cost_unit: str) -> str:
    """``all`` (every decoder of the bank) or a short hash of the chosen list; plus the cost unit
    (characters other than letters, digits, ``.`` and ``_`` become ``-``)."""
    import hashlib
    import re

    chosen = "all" if list(decoders) == list(all_decoders) else \
        hashlib.sha256("\n".join(decoders).encode()).hexdigest()[:8]
    return f"{chosen}-{re.sub(r'[^A-Za-z0-9._]+', '-', cost_unit).strip('-') or 'unit'}"


def run_portfolio_benchmark(task: str, submission: str, options: RunOptions = RunOptions(), *,
                            decoders: Sequence[str] | None = None,
                            cost_unit: str | None = None) -> tuple[Path, dict[str, Any]]:
    """Score ``submission`` in the portfolio setting (many decoders with costs); write the result.

    The submission predicts one target per decoder (``success_prob_per_decoder`` or
    ``marginal_rewards_per_decoder``); :mod:`bench.portfolio` turns the predictions into the
    LP-optimal allocation at every mean cost and scores it with the bank's exact rewards.
    """
    from bench import portfolio

    config = load_task(task)
    bank = load_bank(resolve_bank_dir(options.bank, task))
    if bank.task != task:
        raise HardbenchError(f"bank {bank.path} is for task {bank.task!r}, not {task!r}")
    problem = portfolio.portfolio_problem_from_bank(bank, decoders, default_reward=config.default_reward,
                                                    min_budget=config.min_budget, cost_unit=cost_unit)
    present = set(problem.splits)
    if "test" not in present or "train" not in present:
        raise HardbenchError(f"bank {bank.path} needs train and test splits; it has {sorted(present)}")
    sub = load_submission(submission)
    if sub.kind != "code":
        raise HardbenchError(f"submission {sub.name!r} is a predictions file; the portfolio setting scores "
                             "code submissions only (predictions files hold one target per query)")
    test = problem.subset(problem.splits == "test")
    budgets = (portfolio.check_portfolio_budgets(test, options.budgets) if options.budgets
               else portfolio.default_portfolio_budgets(test))
    fit_mask = np.isin(problem.splits, ("train", "val"))
    predict_mask = problem.splits == "test"
    features = {name: bank.features(name) for name in bank.feature_names}
    prompts = bank.queries["prompt"].to_numpy()
    extra = {"decoders": list(problem.decoders), "costs": [float(c) for c in problem.costs],
             "cost_unit": problem.cost_unit, "k_max": problem.k_max}
    common = dict(task=bank.task, bank=bank.name, setting="portfolio", target_kind=problem.target_kind,
                  b_max=problem.target_width, seed=options.seed, extra=extra)
    train_view = TrainView(query_ids=problem.query_ids[fit_mask], splits=problem.splits[fit_mask],
                           prompts=list(prompts[fit_mask]), features={k: v[fit_mask] for k, v in features.items()},
                           targets=problem.targets[fit_mask], **common)
    test_view = TestView(query_ids=problem.query_ids[predict_mask], prompts=list(prompts[predict_mask]),
                         features={k: v[predict_mask] for k, v in features.items()}, **common)
    test_pred = run_submission(sub, train_view, test_view, timeout_s=options.timeout_s, bank_dir=bank.path)

    curves = portfolio.compute_portfolio_curves(test, test_pred, budgets)
    points, replicates = portfolio.portfolio_curve_points(curves, options.bootstrap, options.seed)
    slug = portfolio_slug(problem.decoders, bank.decoders, problem.cost_unit)
    sig = signature(task, config.version, bank.manifest_sha256, sub.name, "test", options.bootstrap,
                    options.seed, 0)
    result: dict[str, Any] = {
        "format": RESULT_FORMAT,
        "signature": f"{sig}|setting:portfolio-{slug}",
        "task": task, "bank": bank.name, "bank_sha256": bank.manifest_sha256,
        "submission": sub.name, "setting": "portfolio", "reward": problem.reward_kind,
        "target_kind": problem.target_kind, "split": "test", "n_queries": int(len(test.query_ids)),
        "seed": options.seed, "bootstrap": options.bootstrap,
        "decoders": list(problem.decoders), "train_bank": None,
        "costs": {d: {"value": float(c), "unit": problem.cost_unit, "source": problem.cost_sources[d]}
                  for d, c in zip(problem.decoders, problem.costs)},
        "zero_option": problem.allow_zero, "cost_unit_option": cost_unit,
        "isolation": isolation_mode(),
        "versions": package_versions(), "budgets": budgets, "curves": points,
        "summary": portfolio.portfolio_summary(curves, test, replicates),
        "intrinsic": portfolio.portfolio_intrinsic(test, test_pred, problem.subset(problem.splits == "train")),
    }
    path = write_result(result, portfolio_result_path(task, bank.name, sub.name, slug, options.out_dir))
    return path, result
