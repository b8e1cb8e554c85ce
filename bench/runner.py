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
    #: extra read-only folders a code submission may see under bubblewrap (``--allow-path``)
    allow_paths: Sequence[str] = ()


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
    ran: dict[str, Any] = {}
    predictions = run_submission(sub, train_view, test_view, timeout_s=options.timeout_s, bank_dir=bank.path,
                                 allow_paths=options.allow_paths, report=ran)

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
        "isolation": ran["isolation"],
        "versions": package_versions(), "budgets": budgets, "curves": points,
        "summary": summarize(points, test), "intrinsic": intrinsic(test, test_pred, train),
        "allocation_by_bin": allocation_by_bin(curves, test, test_pred),
    }
    path = write_result(result, result_path(task, bank.name, sub.name, options.out_dir))
    return path, result
