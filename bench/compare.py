"""Paired comparison of two submissions on the same bank (``bench compare``; the leaderboard's marks).

Two results are *pairable* when everything in their signature but the submission agrees:
the task, the bank (manifest checksum), the split, the decoders, the training bank and the
offline bins.  Both are re-scored from the predictions stored in their v2 result files on the
*same* resampled test queries (:func:`bench.bootstrap.replicate_weights` of one (n, R, seed)),
so the bootstrap distribution of the *difference* of each headline metric is paired: query
difficulty, which moves both submissions together, cancels.

API (stable; the leaderboard calls it)::

    from bench.compare import compare_results, compare_files

    c = compare_results(first_result, second_result, n_bootstrap=None, seed=None)
    c.diff["online"]["apgr"]      # {"diff": x, "ci_low": l, "ci_high": h, "p_le_0": p, "p_ge_0": q}
    c.verdict("online", "apgr")   # "first", "second" or None (not significant at the 5 % level)
    c.values["first"]["online"]   # metric -> point value of the first submission (same for "second")

Differences are first - second, for the methods ``online`` and ``offline`` (the oracle and the
baseline do not depend on the submission).  ``p_le_0`` is the share of replicates where
first - second <= 0 (below 0.025: the first is better on more than 97.5 % of resamples),
``p_ge_0`` the share where it is >= 0.  Metrics are those of
:func:`bench.scoring.headline_replicates` (``apgr``, ``area_between_curves``, ``gain@B``,
``compute_saved@B``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import HardbenchError, ResultFormatError
from bench.results import RESULT_FORMAT, read_result
from bench.scoring import Scored, paired_summary, score

#: result fields that must agree for two results to be compared
PAIRED_FIELDS: tuple[str, ...] = ("task", "bank", "bank_sha256", "setting", "split", "decoders", "train_bank",
                                  "train_bank_sha256", "budgets", "n_queries")


#: the methods that depend on the submission (the oracle and the baseline do not)
COMPARED_METHODS: tuple[str, ...] = ("online", "offline")


@dataclass(frozen=True)
class Comparison:
    """The paired comparison of ``first`` against ``second`` (differences are first - second).

    Attributes
    ----------
    values : {"first": {method: {metric: value}}, "second": ...}
        Each side's point value of every headline metric, re-scored from its predictions.
    diff : {method: {metric: {"diff", "ci_low", "ci_high", "p_le_0"}}}
        The paired difference: point value, 95 % percentile interval and share of replicates
        where it is <= 0 (all but ``diff`` null when ``n_bootstrap`` is 0).
    """

    task: str
    bank: str
    setting: str
    first: str
    second: str
    n_queries: int
    n_bootstrap: int
    seed: int
    values: dict[str, dict[str, dict[str, float | None]]]
    diff: dict[str, dict[str, dict[str, float | None]]]

    def verdict(self, method: str, metric: str, alpha: float = 0.05) -> str | None:
        """``"first"`` or ``"second"`` when that side is better on all but alpha/2 of the replicates, else None."""
        d = self.diff[method][metric]
        if d["p_le_0"] is None:
            return None
        if d["p_le_0"] < alpha / 2:
            return "first"
        return "second" if d["p_ge_0"] < alpha / 2 else None


def check_pairable(first: dict[str, Any], second: dict[str, Any]) -> None:
    """Refuse results that cannot be paired (other bank, decoders, training bank, ...) or lack predictions."""
    for result in (first, second):
        if result.get("format") != RESULT_FORMAT or not result.get("predictions"):
            raise ResultFormatError(
                f"result of {result.get('submission')!r} is {result.get('format')!r} without stored predictions; "
                f"re-run it with hardbench >= 0.2.0 (`bench run`) to compare it")
    differ = [k for k in PAIRED_FIELDS if first.get(k) != second.get(k)]
    if first["offline"]["bins"] != second["offline"]["bins"]:
        differ.append("offline.bins")
    if differ:
        raise HardbenchError(f"results of {first['submission']!r} and {second['submission']!r} differ in "
                             f"{differ}: only runs on the same bank with the same options can be paired")


@functools.lru_cache(maxsize=8)
def _bank(task: str, bank: str, sha256: str, setting: str | None = None,
          decoders: tuple[str, ...] = ()) -> Any:
    """The bank reduced for the setting and decoders a result was scored with."""
    from bench.runner import RunOptions, load_scoring_bank

    if setting == "routing" and len(decoders) == 2:
        options = RunOptions(setting=setting, weak=decoders[0], strong=decoders[1])
    elif setting == "best_of_k" and len(decoders) == 1:
        options = RunOptions(setting=setting, decoder=decoders[0])
    else:
        options = RunOptions(setting=setting)
    loaded, _ = load_scoring_bank(bank, task, options)
    if loaded.bank.manifest_sha256 != sha256:
        raise HardbenchError(f"bank {task}/{bank} changed since the result was written "
                             f"({loaded.bank.manifest_sha256[:8]} != {sha256[:8]}); re-run both submissions")
    return loaded


def _train_bank(result: dict[str, Any]) -> Any:
    """The bank a transfer result's predictor was fitted on, reduced as ``bench run`` did.

    ``bench run --train-bank`` reduces both banks with the same options: decoders named on the
    command line, else each bank's own defaults.  The result records the scored bank's decoders
    only, so the fitting bank gets them when it has them, and its own defaults otherwise (a run
    naming decoders the fitting bank lacks would have failed).
    """
    task, _, name = str(result["train_bank"]).partition("/")
    decoders = tuple(result.get("decoders") or ())
    try:
        return _bank(task, name, result["train_bank_sha256"], result.get("setting"), decoders)
    except HardbenchError:   # e.g. "bank 'x' has no decoder 'y'"; a real problem recurs below
        return _bank(task, name, result["train_bank_sha256"], result.get("setting"))


def aligned_predictions(ids: np.ndarray, record: dict[str, Any], what: str) -> np.ndarray:
    """The stored predictions in the order of ``ids`` (the bank's order)."""
    position = {str(q): i for i, q in enumerate(record["query_ids"])}
    missing = [q for q in ids if str(q) not in position]
    if missing or len(position) != len(ids):
        raise ResultFormatError(f"stored {what} predictions do not cover the bank's {what} queries "
                                f"({len(missing)} missing); re-run the submission")
    values = np.asarray(record["values"], dtype=np.float64)
    return values[[position[str(q)] for q in ids]]


def rescore(result: dict[str, Any], n_bootstrap: int, seed: int, bank: str | Path | None = None) -> Scored:
    """Score a v2 result again from its stored predictions (same code path as ``bench run``).

    ``bank``: the scored bank's name or folder (default: the result's bank under its task).
    """
    scored = _bank(result["task"], str(bank or result["bank"]), result["bank_sha256"], result.get("setting"),
                   tuple(result.get("decoders") or ()))
    fit = scored
    if result.get("train_bank"):
        fit = _train_bank(result)
    held = result["predictions"]["heldout"]["split"]
    test = scored.problem.subset(scored.rows("test"))
    heldout = fit.problem.subset(fit.rows(held))
    train = fit.problem.subset(fit.rows("train"))
    return score(test, heldout, train, aligned_predictions(test.query_ids, result["predictions"]["test"], "test"),
                 aligned_predictions(heldout.query_ids, result["predictions"]["heldout"], held), result["budgets"],
                 n_bins=result["offline"]["bins"], seed=seed, n_bootstrap=n_bootstrap,
                 reallocate=result.get("bootstrap_allocation") == "reallocated")


def compare_results(first: dict[str, Any], second: dict[str, Any], *, n_bootstrap: int | None = None,
                    seed: int | None = None, bank: str | Path | None = None) -> Comparison:
    """Paired bootstrap comparison of two pairable v2 results (see the module docstring).

    ``n_bootstrap`` and ``seed`` default to the first result's; ``bank`` (name or folder)
    to the results' bank under their task.  The bank must still have the checksum the results
    recorded.  Raises :class:`HardbenchError` for results that cannot be paired.
    """
    check_pairable(first, second)
    n_bootstrap = int(first["bootstrap"] if n_bootstrap is None else n_bootstrap)
    seed = int(first["seed"] if seed is None else seed)
    a, b = rescore(first, n_bootstrap, seed, bank), rescore(second, n_bootstrap, seed, bank)
    methods = [m for m in a.headline if m in COMPARED_METHODS]
    diffs = {m: {k: a.headline[m][k] - b.headline[m][k] for k in a.headline[m]} for m in methods}
    point = lambda h: {m: {k: (float(v[0]) if np.isfinite(v[0]) else None) for k, v in ms.items()}  # noqa: E731
                       for m, ms in h.items()}
    return Comparison(task=first["task"], bank=first["bank"], setting=first["setting"],
                      first=first["submission"], second=second["submission"], n_queries=int(first["n_queries"]),
                      n_bootstrap=n_bootstrap, seed=seed,
                      values={"first": point({m: a.headline[m] for m in methods}),
                              "second": point({m: b.headline[m] for m in methods})},
                      diff=paired_summary(diffs, n_bootstrap > 0))


def compare_files(first: Path, second: Path, **options: Any) -> Comparison:
    """:func:`compare_results` on two result files."""
    return compare_results(read_result(Path(first)), read_result(Path(second)), **options)


def paired_metrics(first: dict[str, Any], second: dict[str, Any]) -> dict[str, dict[str, dict[str, float | None]]]:
    """``method -> metric -> {diff, ci_low, ci_high, p_le_0}`` of ``first - second``: the shape
    of ``summary.paired_vs_baseline``, for the leaderboard's "vs row above" mark
    (:mod:`bench.leaderboard.paired`)."""
    return compare_results(first, second).diff
