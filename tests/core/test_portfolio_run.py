"""`bench run --setting portfolio` on FIXTURE multi-decoder banks: result file, baselines, errors."""

import json

import numpy as np
import pytest

from bench.bank import load_bank
from bench.cli import main
from bench.errors import HardbenchError
from bench.portfolio import decoder_costs, portfolio_problem_from_bank
from bench.runner import RunOptions, run_portfolio_benchmark
from tests.core.fixtures import fixture_bank

DECODERS = ["small", "medium", "large"]
COST = {"small": {"value": 1.5, "unit": "B-params", "source": "FIXTURE"},
        "medium": {"value": 7.0, "unit": "B-params", "source": "FIXTURE"},
        "large": {"value": 72.0, "unit": "B-params", "source": "FIXTURE"}}


@pytest.fixture
def three_decoder_bank(tmp_path):
    return fixture_bank(tmp_path / "bank", n_queries=90, n_samples=4, ragged=True, decoders=DECODERS, cost=COST,
                        name="fixture-3")


@pytest.mark.parametrize("reward", ["binary", "real"])
def test_portfolio_run_writes_a_result_with_every_baseline(tmp_path, reward):
    bank_dir = fixture_bank(tmp_path / "bank", n_queries=90, n_samples=4, ragged=True, decoders=DECODERS,
                            cost=COST, reward=reward, task="math" if reward == "binary" else "lmsys")
    task = "math" if reward == "binary" else "lmsys"
    path, result = run_portfolio_benchmark(task, "constant", RunOptions(bank=str(bank_dir), bootstrap=50,
                                                                        out_dir=tmp_path / "out"))
    assert path.name == "constant@portfolio-all-B-params.json"
    assert json.loads(path.read_text())["decoders"] == DECODERS
    assert result["setting"] == "portfolio" and result["train_bank"] is None
    assert result["costs"]["large"]["value"] == 72.0
    assert result["zero_option"] is (reward == "binary")      # lmsys needs one call (min_budget 1)
    curves = result["curves"]
    assert set(curves) == {"online", "uniform", "random", "best_single", "oracle"}
    for i, budget in enumerate(result["budgets"]):
        oracle = curves["oracle"][i]["mean"]
        for method, points in curves.items():
            assert points[i]["realized_budget"] <= budget + 1e-9 or method in ("uniform", "best_single")
            if points[i]["realized_budget"] <= budget + 1e-9:
                assert points[i]["mean"] <= oracle + 1e-12          # the LP optimum bounds every policy
            assert points[i]["ci_low"] <= points[i]["mean"] <= points[i]["ci_high"]
    summary = result["summary"]
    assert summary["aiq"]["oracle"] >= summary["aiq"]["best_single"] - 1e-12
    assert summary["aiq_vs_best_single"]["oracle"]["ci_low"] is not None


def test_cli_portfolio_with_chosen_decoders_and_uniform_costs(tmp_path, three_decoder_bank, capsys):
    code = main(["run", "--task", "gsm8k", "--submission", "constant", "--bank", str(three_decoder_bank),
                 "--setting", "portfolio", "--decoders", "small", "large", "--cost-unit", "call",
                 "--bootstrap", "20", "--budgets", "0", "0.5", "1", "2", "--out", str(tmp_path / "out")])
    assert code == 0
    out = capsys.readouterr().out
    assert "portfolio over 2 decoders" in out and "AIQ" in out
    files = list((tmp_path / "out" / "gsm8k" / "fixture-3").glob("constant@portfolio-*-call.json"))
    result = json.loads(files[0].read_text())
    assert result["decoders"] == ["small", "large"] and result["budgets"] == [0.0, 0.5, 1.0, 2.0]


def test_costs_come_from_the_manifest_or_default_to_one_call(tmp_path, three_decoder_bank):
    bank = load_bank(three_decoder_bank)
    assert [c.value for c in decoder_costs(bank, DECODERS)] == [1.5, 7.0, 72.0]
    plain = load_bank(fixture_bank(tmp_path / "plain", setting="routing", n_samples=1))
    costs = decoder_costs(plain, plain.decoders)
    assert [(c.value, c.unit, c.source) for c in costs] == [(1.0, "call", "unknown: uniform")] * 2
    with pytest.raises(HardbenchError, match="gives costs in 'B-params', not 'usd'"):
        decoder_costs(bank, DECODERS, "usd")
    with pytest.raises(HardbenchError, match="one of the bank's decoders"):
        portfolio_problem_from_bank(bank, ["small", "nope"])


def test_portfolio_targets_are_each_decoders_setting_target(three_decoder_bank):
    bank = load_bank(three_decoder_bank)
    problem = portfolio_problem_from_bank(bank)
    assert problem.target_kind == "success_prob_per_decoder" and problem.targets.shape == (90, 3)
    for d, name in enumerate(DECODERS):
        m = bank.reward_matrix(name)
        np.testing.assert_allclose(problem.targets[:, d], np.nanmean(m.rewards, axis=1))


def test_bad_portfolio_arguments_are_one_clear_error(tmp_path, three_decoder_bank, capsys):
    args = ["run", "--task", "gsm8k", "--submission", "constant", "--bank", str(three_decoder_bank),
            "--out", str(tmp_path / "out"), "--bootstrap", "0"]
    assert main(args + ["--decoders", "small"]) != 0
    assert "belong to --setting portfolio" in capsys.readouterr().err
    assert main(args + ["--setting", "portfolio", "--decoders", "small", "huge"]) != 0
    assert "one of the bank's decoders" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
