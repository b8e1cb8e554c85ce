"""Re-scoring a result from its stored predictions (``bench.runner.rescore_result``).

Banks are FIXTURES (random numbers), not model outputs.
"""

from __future__ import annotations

import json

import pytest

from bench.errors import HardbenchError
from bench.results import read_result
from bench.runner import RunOptions, rescore_result, run_benchmark
from tests.core.fixtures import fixture_bank

#: a submission whose predictions differ on every run: re-scoring must not run it again
UNSEEDED = '''
import numpy as np

class Noise:
    def fit(self, train):
        return self

    def predict(self, test):
        return np.random.default_rng().uniform(0.0, 1.0, len(test.query_ids))
'''


def _unseeded_submission(tmp_path):
    sub = tmp_path / "noise"
    sub.mkdir()
    (sub / "predictor.py").write_text(UNSEEDED)
    (sub / "submission.yaml").write_text("name: noise\nkind: code\nentry: predictor:Noise\n")
    return sub


def _numbers(result: dict) -> dict:
    """The result without what describes the machine (package versions)."""
    return {k: v for k, v in json.loads(json.dumps(result)).items() if k != "versions"}


@pytest.mark.parametrize("setting", ["best_of_k", "routing"])
def test_rescoring_a_result_reproduces_it_from_its_predictions(tmp_path, setting):
    bank = fixture_bank(tmp_path / "b", n_queries=120, setting=setting)
    sub = _unseeded_submission(tmp_path)
    path, ran = run_benchmark("gsm8k", str(sub), RunOptions(bank=str(bank), bootstrap=40, out_dir=tmp_path / "out"))
    _, again = run_benchmark("gsm8k", str(sub), RunOptions(bank=str(bank), bootstrap=40, out_dir=tmp_path / "again"))
    assert again["predictions"] != ran["predictions"]          # the submission really is unseeded
    new_path, rescored = rescore_result(path, tmp_path / "rescored", bank=str(bank), submission=str(sub))
    assert new_path == tmp_path / "rescored" / path.relative_to(tmp_path / "out")
    assert _numbers(rescored) == _numbers(read_result(path))


def test_rescoring_a_transfer_run_keeps_its_fitting_bank(tmp_path):
    a = fixture_bank(tmp_path / "a", n_queries=90, seed=1, name="bank-a")
    b = fixture_bank(tmp_path / "b", n_queries=60, seed=2, name="bank-b")
    sub = _unseeded_submission(tmp_path)
    path, ran = run_benchmark("gsm8k", str(sub), RunOptions(bank=str(b), train_bank=str(a), bootstrap=30,
                                                            out_dir=tmp_path / "out"))
    _, rescored = rescore_result(path, tmp_path / "rescored", bank=str(b), train_bank=str(a),
                                 submission=str(sub))
    assert rescored["train_bank"] == "gsm8k/bank-a"
    assert _numbers(rescored) == _numbers(ran)


def test_rescoring_uses_the_stored_values_and_refuses_other_queries(tmp_path):
    bank = fixture_bank(tmp_path / "b", n_queries=120)
    path, ran = run_benchmark("gsm8k", str(_unseeded_submission(tmp_path)),
                              RunOptions(bank=str(bank), bootstrap=20, out_dir=tmp_path / "out"))
    edited = read_result(path)
    edited["predictions"]["test"]["values"] = [1.0 - v for v in edited["predictions"]["test"]["values"]]
    path.write_text(json.dumps(edited))
    _, rescored = rescore_result(path, tmp_path / "flipped", bank=str(bank), submission=str(tmp_path / "noise"))
    assert rescored["predictions"]["test"]["values"] == edited["predictions"]["test"]["values"]
    assert rescored["summary"] != ran["summary"]

    for key in ("query_ids", "values"):                          # one test query lost
        edited["predictions"]["test"][key] = edited["predictions"]["test"][key][1:]
    path.write_text(json.dumps(edited))
    with pytest.raises(HardbenchError, match="stored test predictions do not cover the bank's test queries"):
        rescore_result(path, tmp_path / "refused", bank=str(bank), submission=str(tmp_path / "noise"))
    assert not (tmp_path / "refused").exists()


def test_rescoring_refuses_a_bank_that_has_changed(tmp_path):
    bank = fixture_bank(tmp_path / "b", n_queries=120)
    path, _ = run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank), bootstrap=10, out_dir=tmp_path / "out"))
    edited = read_result(path)
    edited["bank_sha256"] = "0" * 64
    path.write_text(json.dumps(edited))
    with pytest.raises(HardbenchError, match="has changed since the result was made"):
        rescore_result(path, tmp_path / "refused", bank=str(bank))
