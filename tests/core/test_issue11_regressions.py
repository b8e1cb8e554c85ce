"""Regression tests for bugs 1, 2, 3, 5 and 8 of issue 11 ("Numbers a researcher can trust").

Each test goes through the public entry points (``run_benchmark``, ``bench run``) and the
result file, so it runs unchanged against hardbench 0.1.0, where it fails.  Banks and
predictions here are FIXTURES (random numbers), not model outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.bank import load_bank
from bench.cli import main
from bench.estimators import expected_reward
from bench.runner import RunOptions, run_benchmark
from bench.scoring import problem_from_bank
from tests.core.fixtures import fixture_bank


def predictions_submission(folder: Path, bank_dir: Path, values: np.ndarray | None = None, seed: int = 0) -> Path:
    """A FIXTURE predictions-file submission: the bank's own targets plus noise (or ``values``)."""
    bank = load_bank(bank_dir)
    problem = problem_from_bank(bank)
    rng = np.random.default_rng(seed)
    if values is None:
        values = np.clip(problem.targets + rng.normal(0, 0.1, size=problem.targets.shape), 0, 1)
    values = np.asarray(values, dtype=np.float64)
    columns = {"prediction": values} if values.ndim == 1 else {f"delta_{j + 1}": values[:, j]
                                                                for j in range(values.shape[1])}
    frame = pd.DataFrame({"query_id": problem.query_ids, **columns})
    path = folder / "predictions" / bank.task / f"{bank.name}.parquet"
    path.parent.mkdir(parents=True)
    frame.to_parquet(path)
    (folder / "submission.yaml").write_text(f"name: {folder.name}\nkind: predictions\n")
    return folder


def test_bug1_offline_area_and_gain_compare_at_realised_budgets(tmp_path):
    bank_dir = fixture_bank(tmp_path / "bank", n_queries=300, n_samples=8, reward="binary")
    sub = predictions_submission(tmp_path / "noisy", bank_dir)
    budgets = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0]
    _, result = run_benchmark("gsm8k", str(sub), RunOptions(bank=str(bank_dir), budgets=budgets, bootstrap=0,
                                                             out_dir=tmp_path / "out"))
    offline = result["curves"]["offline"]
    realised = np.array([p["realized_budget"] for p in offline])
    assert np.abs(realised - budgets).max() > 0.05          # offline misses its targets here
    problem = problem_from_bank(load_bank(bank_dir))
    test = problem.subset(problem.splits == "test")
    # brute force: uniform best-of-k spending exactly the realised mean budget (no ragged caps)
    uniform_there = np.array([expected_reward(test.q_table, np.full(len(test.query_ids), r)).mean()
                              for r in realised])
    gain = np.array([p["mean"] for p in offline]) - uniform_there
    area = np.trapezoid(gain, realised) / (realised[-1] - realised[0])
    assert result["summary"]["area_between_curves"]["offline"] == pytest.approx(area, abs=1e-12)
    got_gain = [p["gain"] for p in result["summary"]["quality_gain"]["offline"]]
    assert got_gain == pytest.approx(gain, abs=1e-12)


def test_bug2_compute_saved_has_intervals_and_noise_is_marked(tmp_path, capsys):
    bank_dir = fixture_bank(tmp_path / "bank", n_queries=75, n_samples=8, reward="real", seed=3)
    rng = np.random.default_rng(1)
    problem = problem_from_bank(load_bank(bank_dir))
    noise = rng.random(problem.targets.shape)                # uninformative marginal vectors
    sub = predictions_submission(tmp_path / "noise", bank_dir, values=-np.sort(-noise, axis=1))
    code = main(["run", "--task", "gsm8k", "--submission", str(sub), "--bank", str(bank_dir), "--bootstrap", "300",
                 "--out", str(tmp_path / "out")])
    assert code == 0
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "out/gsm8k/fixture/noise.json").read_text())
    saved_ci = result["summary"]["ci"]["compute_saved"]["online"]
    points = result["summary"]["compute_saved"]["online"]
    noisy = [p["budget"] for p, c in zip(points, saved_ci)
             if c["saving_pct"] is not None and p["budget"] in (2, 4, 8)
             and (c["saving_pct"][0] is None or c["saving_pct"][0] <= 0)
             and (c["saving_pct"][1] is None or c["saving_pct"][1] >= 0)]
    assert noisy, "an uninformative predictor on 25 test queries should have a saving interval holding 0"
    online_row = next(line for line in out.splitlines() if line.startswith("online "))
    assert online_row.count("n.s.") >= len(noisy)


def test_bug3_no_bootstrap_writes_null_intervals_and_prints_none(tmp_path, capsys):
    bank_dir = fixture_bank(tmp_path / "bank", n_queries=60)
    code = main(["run", "--task", "gsm8k", "--submission", "constant", "--bank", str(bank_dir), "--bootstrap", "0",
                 "--budgets", "0", "1", "2", "--out", str(tmp_path / "out")])
    assert code == 0
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "out/gsm8k/fixture/constant.json").read_text())
    for curve in result["curves"].values():
        assert all(p["ci_low"] is None and p["ci_high"] is None for p in curve)
    assert "95%" not in out and "0 replicates" not in out and "[" not in out


def test_bug5_oracle_is_monotone_and_dominates(tmp_path):
    bank_dir = fixture_bank(tmp_path / "bank", n_queries=240, setting="routing", reward="real", seed=2)
    _, result = run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank_dir), bootstrap=0,
                                                              out_dir=tmp_path / "out"))
    oracle = np.array([p["mean"] for p in result["curves"]["oracle"]])
    assert np.all(np.diff(oracle) >= -1e-12), oracle
    for method in ("online", "offline", "random"):
        assert np.all(oracle >= np.array([p["mean"] for p in result["curves"][method]]) - 1e-12)
    assert result["summary"]["apgr"]["oracle"] >= max(result["summary"]["apgr"][m] for m in ("online", "random"))


def test_bug8_offline_bins_follow_the_validation_size(tmp_path):
    bank_dir = fixture_bank(tmp_path / "bank", n_queries=21)          # 7 val queries, like the MATH bank
    with pytest.warns(UserWarning, match="1 bin"):
        _, result = run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank_dir), bootstrap=0, n_bins=10,
                                                                  out_dir=tmp_path / "out"))
    assert result["offline"]["bins"] == 1
    assert result["offline"]["bins_requested"] == 10
    assert "|bins:1|" in result["signature"]
