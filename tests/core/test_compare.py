"""Paired comparison (``bench compare``): re-scoring from stored predictions on the same replicates.

Banks and predictions are FIXTURES (random numbers), not model outputs.
"""

from __future__ import annotations

import json
import shutil

import pytest

from bench.cli import main
from bench.compare import compare_results
from bench.errors import HardbenchError, ResultFormatError
from bench.runner import RunOptions, run_benchmark
from tests.core.fixtures import fixture_bank
from tests.core.test_issue11_regressions import predictions_submission


@pytest.fixture()
def two_results(tmp_path):
    bank_dir = fixture_bank(tmp_path / "bank", n_queries=240, setting="routing", reward="binary")
    options = RunOptions(bank=str(bank_dir), bootstrap=300, out_dir=tmp_path / "out")
    good = predictions_submission(tmp_path / "good", bank_dir, seed=1)
    _, first = run_benchmark("gsm8k", str(good), options)
    _, second = run_benchmark("gsm8k", "constant", options)
    return bank_dir, json.loads(json.dumps(first)), json.loads(json.dumps(second))


def test_point_differences_match_the_stored_summaries(two_results):
    bank_dir, first, second = two_results
    c = compare_results(first, second, bank=str(bank_dir))
    for m in ("online", "offline"):
        assert c.values["first"][m]["apgr"] == pytest.approx(first["summary"]["apgr"][m], abs=1e-12)
        want = first["summary"]["area_between_curves"][m] - second["summary"]["area_between_curves"][m]
        assert c.diff[m]["area_between_curves"]["diff"] == pytest.approx(want, abs=1e-12)
    assert set(c.diff) == {"online", "offline"}
    assert c.verdict("online", "apgr") == "first"            # the informed predictor beats the constant
    assert c.diff["online"]["apgr"]["p_le_0"] < 0.025 and c.diff["online"]["apgr"]["ci_low"] > 0


def test_pairing_cancels_query_difficulty(two_results, tmp_path):
    """A copy of the same predictions: every replicate difference is exactly 0 (unpaired intervals would not be)."""
    bank_dir, first, _ = two_results
    twin = dict(first, submission="twin")
    c = compare_results(first, twin, bank=str(bank_dir))
    for metrics in c.diff.values():
        for d in metrics.values():
            assert d["diff"] == 0 and d["ci_low"] == 0 and d["ci_high"] == 0
            assert d["p_le_0"] == 1 and d["p_ge_0"] == 1
    assert c.verdict("online", "apgr") is None
    low, high = first["summary"]["ci"]["apgr"]["online"]
    assert high - low > 0.01                                 # while each side alone is uncertain


def test_unpairable_results_are_refused(two_results, tmp_path):
    bank_dir, first, second = two_results
    with pytest.raises(HardbenchError, match="differ in \\['bank_sha256'\\]"):
        compare_results(first, dict(second, bank_sha256="0" * 64), bank=str(bank_dir))
    old = dict(second, format="hardbench-result/1", predictions=None)
    with pytest.raises(ResultFormatError, match="re-run it with hardbench >= 0.2.0"):
        compare_results(first, old, bank=str(bank_dir))


def test_cli_compare_reads_a_results_folder(two_results, tmp_path, capsys):
    bank_dir, first, second = two_results
    out = tmp_path / "out" / "gsm8k" / "fixture"
    code = main(["compare", "--task", "gsm8k", "--bank", str(bank_dir), "--results", str(tmp_path / "out"),
                 "good", "constant", "--bootstrap", "200"])
    assert code == 0
    text = capsys.readouterr().out
    assert "good - constant, paired on the same 80 test queries (200 bootstrap replicates" in text
    assert "good better" in text
    shutil.rmtree(out)
    assert main(["compare", "--task", "gsm8k", "--bank", str(bank_dir), "--results", str(tmp_path / "out"),
                 "good", "constant"]) == 2
    assert "run `bench run --task gsm8k --submission good" in capsys.readouterr().err


def test_transfer_results_compare_with_the_fitting_banks_own_decoders():
    """Regression: a --train-bank result fitted on a bank whose decoders differ from the scored
    bank's (GSM8K Mixtral->GPT-4 fitting, GPT-3 6B->175B scored) failed to re-score ("bank
    'mixtral-vs-gpt4' has no decoder '6b_finetuning'"); the difference recomputed from the
    stored predictions must equal the stored summaries' difference."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "results/gsm8k/gpt3-6b-175b"
    first, second = (json.loads((folder / f"{sub}.train-gsm8k-mixtral-vs-gpt4.json").read_text())
                     for sub in ("logistic", "mlp-probe"))
    comparison = compare_results(first, second, n_bootstrap=50)
    stored = first["summary"]["apgr"]["online"] - second["summary"]["apgr"]["online"]
    assert comparison.diff["online"]["apgr"]["diff"] == pytest.approx(stored, abs=1e-12)
