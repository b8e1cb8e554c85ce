"""``bench run``: one submission on one bank -> one result file.

1. load the task config and the bank (validated, checksums checked), and the bank the
   predictor is fitted on when it differs (``--train-bank``: generalization runs);
2. reduce the banks to exact expected rewards and training targets (:mod:`bench.scoring`);
3. hand the submission a :class:`TrainView` (train + val of the fitting bank, with targets) and
   a :class:`TestView` (its held-out split + the scored bank's test split, no targets):
   held-out predictions fit the offline bins, test predictions are scored;
4. compute every method's curve, the bootstrap intervals of every number, the summaries, the
   paired differences against the baseline and the intrinsic metrics on the test split, and
   write the result (with the predictions, for paired comparisons) atomically.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.allocation import offline_bin_count
from bench.bank import Bank, load_bank, resolve_bank_dir
from bench.errors import HardbenchError, HardbenchWarning
from bench.predictors.base import TestView, TrainView
from bench.results import RESULT_FORMAT, package_versions, result_path, signature, write_result
from bench.scoring import (
    DecoderChoice,
    ScoringProblem,
    allocation_by_bin,
    check_budgets,
    choose_decoders,
    default_budgets,
    problem_from_bank,
    score,
)
from bench.submissions import Submission, load_submission, run_submission
from bench.tasks import load_task


@dataclass(frozen=True)
class RunOptions:
    """Everything ``bench run`` takes besides the task and submission names.

    ``train_bank``: fit on this bank's train/val and score on ``bank``'s test split.
    ``reallocate_bootstrap``: re-run the allocation inside every bootstrap replicate.
    """

    bank: str | None = None
    budgets: Sequence[float] | None = None
    bootstrap: int = 1000
    seed: int = 0
    out_dir: Path | None = None
    timeout_s: float | None = None
    n_bins: int = 10
    train_bank: str | None = None
    reallocate_bootstrap: bool = False
    setting: str | None = None        # score a multi-decoder bank in the other setting
    decoder: str | None = None        # best-of-k decoder (default: the bank's default_decoder)
    weak: str | None = None           # routing pair (default: the bank's default_routing)
    strong: str | None = None
    #: extra read-only folders a code submission may see under bubblewrap (``--allow-path``)
    allow_paths: Sequence[str] = ()


@dataclass(frozen=True)
class LoadedBank:
    """A bank, its scoring problem, and where each problem row sits in the bank.

    ``bank_rows[i]`` is the bank row of problem row ``i``: the problem may lack queries that a
    chosen decoder has no sample of, so prompts and features are aligned by id.
    """

    bank: Bank
    problem: ScoringProblem
    bank_rows: np.ndarray

    def rows(self, *splits: str) -> np.ndarray:
        return np.isin(self.problem.splits, splits)

    def prompts(self) -> np.ndarray:
        return self.bank.queries["prompt"].to_numpy()[self.bank_rows]

    def features(self, name: str) -> np.ndarray:
        return self.bank.features(name)[self.bank_rows]


def heldout_split(problem: ScoringProblem) -> str:
    """Where offline bins are fitted: ``val`` if the bank has it, else (in-sample) ``train``."""
    return "val" if (problem.splits == "val").any() else "train"


def load_scoring_bank(bank: str | None, task: str,
                      options: RunOptions | None = None) -> tuple[LoadedBank, DecoderChoice]:
    """Load a bank (name under ``task`` or folder) and reduce it with its own task's settings,
    for the decoders ``options`` choose (``--setting/--decoder/--weak/--strong``; default: the
    bank's own setting and default decoders)."""
    options = options or RunOptions()
    loaded = load_bank(resolve_bank_dir(bank, task))
    config = load_task(loaded.task)
    choice = choose_decoders(loaded, setting=options.setting, decoder=options.decoder, weak=options.weak,
                             strong=options.strong)
    problem = problem_from_bank(loaded, default_reward=config.default_reward, min_budget=config.min_budget,
                                choice=choice)
    rows = pd.Index(loaded.queries["query_id"]).get_indexer(problem.query_ids)
    return LoadedBank(loaded, problem, rows), choice


def shared_features(fit: Bank, scored: Bank) -> list[str]:
    """Feature matrices both banks have with the same width (all of them when one bank is used)."""
    if fit is scored:
        return list(scored.feature_names)
    return [n for n in fit.feature_names
            if n in scored.feature_names and fit.features(n).shape[1] == scored.features(n).shape[1]]


def labelled_view(source: LoadedBank, mask: np.ndarray, features: list[str], seed: int) -> TrainView:
    """The train (+val) queries of the fitting bank, with their targets."""
    bank, problem = source.bank, source.problem
    return TrainView(task=bank.task, bank=bank.name, setting=problem.setting, target_kind=problem.target_kind,
                     b_max=problem.b_max, seed=seed, query_ids=problem.query_ids[mask], splits=problem.splits[mask],
                     prompts=list(source.prompts()[mask]),
                     features={k: source.features(k)[mask] for k in features}, targets=problem.targets[mask])


def unlabelled_view(parts: list[tuple[LoadedBank, np.ndarray]], scored: LoadedBank, features: list[str],
                    seed: int) -> TestView:
    """Queries to predict, concatenated over (bank, mask) parts: ids, prompts, features, no targets."""
    problem = scored.problem
    return TestView(
        task=scored.bank.task, bank=scored.bank.name, setting=problem.setting, target_kind=problem.target_kind,
        b_max=problem.b_max, seed=seed,
        query_ids=np.concatenate([p.problem.query_ids[m] for p, m in parts]),
        prompts=[str(x) for p, m in parts for x in p.prompts()[m]],
        features={k: np.concatenate([p.features(k)[m] for p, m in parts]) for k in features})


def _require_splits(problem: ScoringProblem, bank: Bank, needed: tuple[str, ...] = ("train", "test")) -> None:
    missing = [s for s in needed if s not in set(problem.splits)]
    if missing:
        lost = {k: v for k, v in problem.dropped.items() if v}
        why = (f" after dropping queries that decoder(s) {list(problem.decoders)} have no sample of "
               f"({lost})" if lost else "")
        raise HardbenchError(f"bank {bank.path} needs the split(s) {missing}; it has "
                             f"{sorted(set(problem.splits))}{why}")


def check_transfer(fit: LoadedBank, scored: LoadedBank, sub: Submission) -> list[str]:
    """Refuse a ``--train-bank`` run that cannot be scored; return what was dropped (warnings)."""
    a, b = fit.problem, scored.problem
    name_a, name_b = f"{fit.bank.task}/{fit.bank.name}", f"{scored.bank.task}/{scored.bank.name}"
    if (a.setting, a.target_kind) != (b.setting, b.target_kind):
        raise HardbenchError(f"--train-bank {name_a} is {a.setting}/{a.target_kind} but --bank {name_b} is "
                             f"{b.setting}/{b.target_kind}: a predictor transfers only between banks of the "
                             "same setting and target kind")
    if a.target_kind == "marginal_rewards" and a.b_max != b.b_max:
        raise HardbenchError(f"--train-bank {name_a} predicts {a.b_max} marginal rewards but --bank {name_b} "
                             f"needs {b.b_max}: use banks with the same samples per query")
    if sub.kind != "code":
        raise HardbenchError(f"submission {sub.name!r} is a predictions file (fitted by its author); "
                             "--train-bank needs a code submission that the harness fits")
    shared = shared_features(fit.bank, scored.bank)
    wanted = sub.params.get("feature")
    if wanted is not None and wanted not in shared:
        lacking = [n for n, lb in ((name_a, fit), (name_b, scored)) if wanted not in lb.bank.feature_names]
        raise HardbenchError(f"submission {sub.name!r} uses feature {wanted!r}, which "
                             + (f"{' and '.join(lacking)} lack(s)" if lacking else "has different widths on the two banks")
                             + f"; add it with `bench features --bank BANK --extractor ...` (shared: {shared or 'none'})")
    dropped = sorted((set(fit.bank.feature_names) | set(scored.bank.feature_names)) - set(shared))
    return [f"--train-bank: features {dropped} are not on both banks (same width) and were not handed to the "
            "submission"] if dropped else []


def _predictions_record(ids: np.ndarray, values: np.ndarray, **where: str) -> dict[str, Any]:
    return {**where, "query_ids": [str(i) for i in ids], "values": np.asarray(values, dtype=np.float64).tolist()}


def replayed_predictions(replay: dict[str, Any], heldout_ids: np.ndarray, test_ids: np.ndarray,
                         fit_bank: str, scored_bank: str) -> tuple[np.ndarray, np.ndarray]:
    """(held-out, test) predictions stored in a result, in the order of these queries.

    ``bench compare``'s alignment (:func:`bench.compare.aligned_predictions`): every query must
    have its stored prediction, and the records must name the banks they were made on.
    """
    from bench.compare import aligned_predictions

    stored = replay.get("predictions") or {}
    out = []
    for part, ids, bank in (("heldout", heldout_ids, fit_bank), ("test", test_ids, scored_bank)):
        record = stored.get(part)
        if record is None or record.get("bank") != bank:
            raise HardbenchError(f"the result has no stored {part} predictions for bank {bank!r} to score again")
        out.append(aligned_predictions(ids, record, part))
    return out[0], out[1]


def run_benchmark(task: str, submission: str, options: RunOptions = RunOptions(), *,
                  replay: dict[str, Any] | None = None) -> tuple[Path, dict[str, Any]]:
    """Score ``submission`` on ``task``'s bank and write the result file; return (path, result).

    ``replay``: a result of this submission whose stored predictions are scored again instead of
    running the submission (:func:`rescore_result`); its isolation record is kept.
    """
    if options.bootstrap < 0:
        raise HardbenchError(f"--bootstrap {options.bootstrap}: give a number of replicates >= 0 (0: no intervals)")
    scored, choice = load_scoring_bank(options.bank, task, options)
    if scored.bank.task != task:
        raise HardbenchError(f"bank {scored.bank.path} is for task {scored.bank.task!r}, not {task!r}")
    fit = load_scoring_bank(options.train_bank, task, options)[0] if options.train_bank else scored
    transfer = fit is not scored
    sub = load_submission(submission)
    notes = check_transfer(fit, scored, sub) if transfer else []
    _require_splits(fit.problem, fit.bank, ("train",))
    _require_splits(scored.problem, scored.bank, ("test",) if transfer else ("train", "test"))
    problem = scored.problem
    budgets = check_budgets(problem, options.budgets) if options.budgets else default_budgets(problem)
    held = heldout_split(fit.problem)
    held_mask, test_mask = fit.rows(held), scored.rows("test")
    n_bins = offline_bin_count(int(held_mask.sum()), options.n_bins)
    if n_bins < options.n_bins:
        notes.append(f"offline allocation: {n_bins} bin(s) instead of {options.n_bins}: the {held} split has "
                     f"{int(held_mask.sum())} queries and each bin needs at least 10 (see docs/result-format.md)")
    features = shared_features(fit.bank, scored.bank)
    train_view = labelled_view(fit, fit.rows("train", "val"), features, options.seed)
    if transfer:
        test_view = unlabelled_view([(fit, held_mask), (scored, test_mask)], scored, features, options.seed)
    else:
        test_view = unlabelled_view([(scored, held_mask | test_mask)], scored, features, options.seed)
    ran: dict[str, Any] = {}
    if replay is not None:
        for key, loaded in (("bank_sha256", scored), ("train_bank_sha256", fit if transfer else None)):
            if loaded is not None and replay.get(key) != loaded.bank.manifest_sha256:
                raise HardbenchError(f"bank {loaded.bank.name!r} has changed since the result was made ({key} "
                                     f"{str(replay.get(key))[:8]} -> {loaded.bank.manifest_sha256[:8]}): its "
                                     "predictions may not be what the submission gives now; run it again")
        heldout_pred, test_pred = replayed_predictions(replay, fit.problem.query_ids[held_mask],
                                                       problem.query_ids[test_mask], fit.bank.name, scored.bank.name)
        ran["isolation"] = replay["isolation"]
    else:
        predictions = run_submission(sub, train_view, test_view, timeout_s=options.timeout_s,
                                     bank_dir=scored.bank.path, choice_slug=choice.slug,
                                     default_choice=choice.is_default, allow_paths=options.allow_paths, report=ran)
        if transfer:
            heldout_pred, test_pred = predictions[:int(held_mask.sum())], predictions[int(held_mask.sum()):]
        else:
            splits = problem.splits[held_mask | test_mask]
            heldout_pred, test_pred = predictions[splits == held], predictions[splits == "test"]
    for note in notes:
        warnings.warn(note, HardbenchWarning, stacklevel=2)

    test = problem.subset(test_mask)
    heldout, train = fit.problem.subset(held_mask), fit.problem.subset(fit.rows("train"))
    scores = score(test, heldout, train, test_pred, heldout_pred, budgets, n_bins=n_bins, seed=options.seed,
                   n_bootstrap=options.bootstrap, reallocate=options.reallocate_bootstrap)
    bank = scored.bank
    train_bank = f"{fit.bank.task}/{fit.bank.name}" if transfer else None
    result: dict[str, Any] = {
        "format": RESULT_FORMAT,
        "signature": signature(task, load_task(task).version, bank.manifest_sha256, sub.name, "test",
                               options.bootstrap, options.seed, n_bins,
                               train_bank=(train_bank, fit.bank.manifest_sha256) if transfer else None,
                               reallocate=options.reallocate_bootstrap,
                               decoders=None if choice.is_default else f"{choice.setting}:{','.join(choice.decoders)}"),
        "task": task, "bank": bank.name, "bank_sha256": bank.manifest_sha256,
        "submission": sub.name, "setting": problem.setting, "reward": problem.reward_kind,
        "target_kind": problem.target_kind, "split": "test", "n_queries": int(len(test.query_ids)),
        "decoders": list(choice.decoders), "train_bank": train_bank,
        "train_bank_sha256": fit.bank.manifest_sha256 if transfer else None,
        "seed": options.seed, "bootstrap": options.bootstrap,
        "bootstrap_allocation": "reallocated" if options.reallocate_bootstrap else "fixed",
        "offline": {"bins": n_bins, "bins_requested": options.n_bins, "fitted_on": held,
                    "n_fitted_on": int(held_mask.sum())},
        "isolation": ran["isolation"],
        "versions": package_versions(), "budgets": budgets, "curves": scores.points,
        "summary": scores.summary, "intrinsic": scores.intrinsic,
        "allocation_by_bin": allocation_by_bin(scores.curves, test, test_pred),
        "predictions": {"test": _predictions_record(test.query_ids, test_pred, bank=bank.name),
                        "heldout": _predictions_record(heldout.query_ids, heldout_pred, bank=fit.bank.name,
                                                       split=held)},
        "warnings": notes,
    }
    if any(problem.dropped.values()):   # queries a chosen decoder has no sample of (see README)
        result["dropped_queries"] = problem.dropped
    path = write_result(result, result_path(task, bank.name, sub.name, options.out_dir, train_bank,
                                            None if choice.is_default else choice.slug))
    return path, result


def rescore_result(path: Path, out_dir: Path | None = None, *, bank: str | None = None,
                   train_bank: str | None = None, submission: str | None = None) -> tuple[Path, dict[str, Any]]:
    """Score a result's stored predictions again with this harness's scoring; write it back.

    For a change in scoring (allocators, bootstrap, summaries) that leaves every submission's
    predictions as they are: the submission is not run again (lora-probe's CPU fine-tune takes
    20 minutes a bank), so the predictions, and the isolation they ran under, are the committed
    ones.  Everything the run was made with (bank, fitting bank, decoders, budgets, bins,
    replicates, seed) is read from the result; the bank must still give the same queries.
    ``out_dir`` (default: the results folder the file lies in) receives ``<task>/<bank>/<file>``;
    ``bank`` / ``train_bank`` / ``submission`` (a name or folder) replace those named in the
    result (the submission is loaded only for its name and kind, never run).
    """
    from bench.results import read_result

    committed = read_result(path)
    if committed.get("setting") == "portfolio":
        raise HardbenchError(f"{path}: portfolio results keep no predictions; run the submission again "
                             "(bench run --setting portfolio)")
    choice: dict[str, Any] = {}
    if "|dec:" in committed["signature"]:          # a non-default decoder choice (see results.signature)
        decoders = committed["decoders"]
        choice = ({"setting": "best_of_k", "decoder": decoders[0]} if committed["setting"] == "best_of_k"
                  else {"setting": "routing", "weak": decoders[0], "strong": decoders[1]})
    fitted_on = committed.get("train_bank")
    train_bank = train_bank or (fitted_on.split("/", 1)[1] if fitted_on else None)
    options = RunOptions(bank=bank or committed["bank"], budgets=committed["budgets"], bootstrap=committed["bootstrap"],
                         seed=committed["seed"], n_bins=committed["offline"].get("bins_requested",
                                                                                committed["offline"]["bins"]),
                         train_bank=train_bank,
                         reallocate_bootstrap=committed.get("bootstrap_allocation") == "reallocated",
                         out_dir=out_dir or Path(path).resolve().parents[2], **choice)
    return run_benchmark(committed["task"], submission or committed["submission"], options, replay=committed)


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
    sub = load_submission(submission)   # a predictions file: one file per decoder (predictions_file.py)
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
    ran: dict[str, Any] = {}
    test_pred = run_submission(sub, train_view, test_view, timeout_s=options.timeout_s, bank_dir=bank.path,
                               allow_paths=options.allow_paths, report=ran)

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
        "isolation": ran["isolation"],
        "versions": package_versions(), "budgets": budgets, "curves": points,
        "summary": portfolio.portfolio_summary(curves, test, replicates),
        "intrinsic": portfolio.portfolio_intrinsic(test, test_pred, problem.subset(problem.splits == "train")),
    }
    path = write_result(result, portfolio_result_path(task, bank.name, sub.name, slug, options.out_dir))
    return path, result
