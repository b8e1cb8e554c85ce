"""hardbench_allocation: score a difficulty predictor's per-query predictions on a sample bank.

An ``evaluate`` metric module for users who train probes in their own loops::

    import evaluate, bench.hf
    metric = evaluate.load(bench.hf.METRIC_PATH)   # a local folder: no hub access
    result = metric.compute(query_ids=ids, predictions=values,
                            task="gsm8k", bank="mixtral-vs-gpt4")
    result["summary"]["apgr"]["online"]

It returns exactly the result ``bench run`` writes (``summary``, ``curves``, ``intrinsic``,
``signature``, ...): the predictions are handed to ``bench run``'s own code as a
predictions-file submission, so both paths share every line of scoring.

Inputs: one prediction per query of the bank's ``test`` split and of its held-out split
(``val``; it fits the offline bins), keyed by ``query_ids``; other ids of the bank are ignored,
ids not in the bank are an error.  ``predictions`` are floats in [0, 1] (``success_prob``,
``preference``) or lists of ``b_max`` floats (``marginal_rewards``).

What it does NOT do: run your code in the isolated sandbox (you computed the predictions, with
whatever access you had: nothing stops them from using labels), check that you trained only on
the train split, or publish anything to a leaderboard (``bench leaderboard`` reads result files;
write one with ``bench run`` for that).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import datasets
import evaluate
import numpy as np
import pandas as pd
import yaml

from bench.bank import load_bank, resolve_bank_dir
from bench.errors import HardbenchError
from bench.predictors.predictions_file import prediction_columns, predictions_path
from bench.runner import RunOptions, run_benchmark
from bench.scoring import target_kind_of

_DESCRIPTION = __doc__
_CITATION = """\
@article{damani2024learning,
  title={Learning How Hard to Think: Input-Adaptive Allocation of LM Computation},
  author={Damani, Mehul and Shenfeld, Idan and Peng, Andi and Bobu, Andreea and Andreas, Jacob},
  year={2024}
}
"""
_KWARGS_DESCRIPTION = """
Args:
    query_ids: list of str, the bank's query ids (test and val splits at least).
    predictions: list of float in [0, 1] (success_prob, preference) or of lists of b_max floats
        (marginal_rewards), one per id.
    task: str, the hardbench task (e.g. "gsm8k").
    bank: str, a bank name under tasks/<task>/banks/ or a bank folder (default: the task's).
    budgets: list of float, optional (default: bench run's grid).
    bootstrap: int, bootstrap replicates (default 1000); seed: int (default 0);
    bins: int, offline bins (default 10); submission: str, the name recorded (default "evaluate").
Returns:
    dict: the result bench run writes (format, signature, summary, curves, intrinsic, ...).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class HardbenchAllocation(evaluate.Metric):
    """Exact expected-reward scoring of adaptive allocation from per-query predictions."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({"predictions": datasets.Value("float64"),
                                   "query_ids": datasets.Value("string")}),
                datasets.Features({"predictions": datasets.Sequence(datasets.Value("float64")),
                                   "query_ids": datasets.Value("string")}),
            ],
            reference_urls=["https://arxiv.org/abs/2410.04707"],
        )

    def _compute(self, predictions: list[Any], query_ids: list[str], task: str | None = None,
                 bank: str | None = None, budgets: list[float] | None = None,
                 bootstrap: int = 1000, seed: int = 0, bins: int = 10,
                 submission: str = "evaluate") -> dict[str, Any]:
        if task is None:
            raise HardbenchError("hardbench_allocation needs task=... (e.g. task='gsm8k')")
        bank_dir = resolve_bank_dir(bank, task)
        return score_predictions(query_ids, predictions, task=task, bank_dir=bank_dir,
                                 budgets=budgets, bootstrap=bootstrap, seed=seed, bins=bins,
                                 submission=submission)


def score_predictions(query_ids: list[str], predictions: list[Any], *, task: str, bank_dir: Path,
                      budgets: list[float] | None = None, bootstrap: int = 1000, seed: int = 0,
                      bins: int = 10, submission: str = "evaluate") -> dict[str, Any]:
    """Score predictions through ``bench run`` (a predictions-file submission in a temporary
    folder); returns the result dict ``bench run`` writes.  Nothing is written elsewhere."""
    bank_obj = load_bank(bank_dir)
    kind = target_kind_of(bank_obj.setting, bank_obj.reward_kind)
    values = np.asarray([np.asarray(p, dtype=np.float64) for p in predictions])
    if len(query_ids) != len(values):
        raise HardbenchError(f"{len(query_ids)} query ids but {len(values)} predictions")
    with tempfile.TemporaryDirectory(prefix="hardbench-evaluate-") as tmp:
        folder = Path(tmp) / submission
        folder.mkdir()
        (folder / "submission.yaml").write_text(
            yaml.safe_dump({"name": submission, "kind": "predictions"}), encoding="utf-8")
        b_max = values.shape[1] if values.ndim == 2 else 1
        columns = prediction_columns(kind, b_max)
        frame = pd.DataFrame(values.reshape(len(values), -1), columns=columns)
        frame.insert(0, "query_id", [str(i) for i in query_ids])
        path = predictions_path(folder, bank_obj.task, bank_obj.name)
        path.parent.mkdir(parents=True)
        frame.to_parquet(path, index=False)
        options = RunOptions(bank=str(bank_dir), budgets=budgets, bootstrap=bootstrap, seed=seed,
                             out_dir=Path(tmp) / "results", n_bins=bins)
        _, result = run_benchmark(task, str(folder), options)
    return result
