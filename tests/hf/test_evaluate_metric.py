"""The ``hardbench_allocation`` evaluate module: loaded from its local folder with the hub
switched off, it returns the same result as a real ``bench run`` of the ``constant``
submission on a shipped bank; bad input gets one clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("evaluate")

from bench.bank import load_bank, resolve_bank_dir  # noqa: E402
from bench.errors import HardbenchError  # noqa: E402
from bench.hf import METRIC_PATH  # noqa: E402
from bench.runner import RunOptions, run_benchmark  # noqa: E402
from bench.scoring import problem_from_bank  # noqa: E402
from bench.tasks import load_task  # noqa: E402

TASK, BANK = "math", "qwen25-math-8"
ROOT = Path(__file__).resolve().parents[2]

#: run in a fresh interpreter: evaluate reads HF_EVALUATE_OFFLINE when imported, and HF_HOME
#: points at an empty folder, so nothing can come from a cache or the hub
SCRIPT = """
import json, sys, evaluate
from bench.hf import METRIC_PATH
ids, values = json.load(open(sys.argv[1]))
metric = evaluate.load(METRIC_PATH)
result = metric.compute(query_ids=ids, predictions=values, task=%r, bank=%r, bootstrap=200)
json.dump(result, open(sys.argv[2], "w"))
"""


def constant_predictions() -> tuple[list[str], list[float]]:
    """What the ``constant`` submission predicts: the train-split mean target, for the val and
    test queries (computed as submissions/constant does: mean over the train rows)."""
    config = load_task(TASK)
    problem = problem_from_bank(load_bank(resolve_bank_dir(BANK, TASK)),
                                default_reward=config.default_reward, min_budget=config.min_budget)
    mean = float(problem.targets[problem.splits == "train"].mean(axis=0))
    asked = np.isin(problem.splits, ("val", "test"))
    return [str(i) for i in problem.query_ids[asked]], [mean] * int(asked.sum())


@pytest.mark.skipif(not (ROOT / "tasks" / TASK / "banks" / BANK / "manifest.json").is_file(),
                    reason="shipped MATH bank missing")
def test_equals_bench_run_offline(tmp_path: Path) -> None:
    ids, values = constant_predictions()
    (tmp_path / "in.json").write_text(json.dumps([ids, values]), encoding="utf-8")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_EVALUATE_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               HF_HOME=str(tmp_path / "hf-home"), PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", SCRIPT % (TASK, BANK), str(tmp_path / "in.json"),
                          str(tmp_path / "out.json")], env=env, capture_output=True, text=True,
                         timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    ours = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    _, real = run_benchmark(TASK, "constant", RunOptions(bank=BANK, bootstrap=200,
                                                         out_dir=tmp_path / "results"))
    real = json.loads(json.dumps(real))  # the JSON form both paths produce
    for key in ("summary", "curves", "intrinsic", "allocation_by_bin", "budgets", "n_queries",
                "bank_sha256", "setting", "target_kind"):
        assert ours[key] == real[key], key
    assert ours["submission"] == "evaluate" and ours["isolation"] == "predictions-file"


def test_missing_queries_are_one_clear_error() -> None:
    from bench.hf.hardbench_allocation.hardbench_allocation import score_predictions

    ids, values = constant_predictions()
    with pytest.raises(HardbenchError, match="no prediction for 1 of the"):
        score_predictions(ids[1:], values[1:], task=TASK, bank_dir=resolve_bank_dir(BANK, TASK),
                          bootstrap=10)
    with pytest.raises(HardbenchError, match="query ids but"):
        score_predictions(ids, values[1:], task=TASK, bank_dir=resolve_bank_dir(BANK, TASK))
