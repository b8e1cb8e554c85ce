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


# ----------------------------------------------------------------- predictions files, one per decoder
FILE_DECODERS = ["org/small@T0.6", "medium", "large"]        # "/" becomes "_" in file names
FILE_COST = {d: {"value": v, "unit": "B-params", "source": "FIXTURE"}
             for d, v in zip(FILE_DECODERS, (1.5, 7.0, 72.0))}


def _per_decoder_values(query_ids, reward: str, k_max: int, seed: int = 1) -> dict[str, np.ndarray]:
    """FIXTURE predictions per decoder: probabilities, or marginal vectors of length k_max."""
    rng = np.random.default_rng(seed)
    n = len(query_ids)
    if reward == "binary":
        return {d: rng.random(n) for d in FILE_DECODERS}
    return {d: np.sort(rng.normal(0.2, 0.1, size=(n, k_max)), axis=1)[:, ::-1] for d in FILE_DECODERS}


def _write_predictions_submission(folder, task, bank, query_ids, values, decoders):
    import pandas as pd

    from bench.predictors.predictions_file import per_decoder_file_slug

    out = folder / "predictions" / task
    out.mkdir(parents=True)
    (folder / "submission.yaml").write_text(f"name: {folder.name}\nkind: predictions\n")
    order = np.random.default_rng(2).permutation(len(query_ids))        # file rows in any order
    for d in decoders:
        v = values[d][order]
        cols = {"prediction": v} if v.ndim == 1 else {f"delta_{j + 1}": v[:, j] for j in range(v.shape[1])}
        pd.DataFrame({"query_id": np.asarray(query_ids)[order], **cols}).to_parquet(
            out / f"{bank}@{per_decoder_file_slug(d)}.parquet")
    return folder


def _write_table_submission(folder, table: dict[str, list[float]]):
    """A code submission that returns fixed per-query rows (the same numbers as the files)."""
    folder.mkdir()
    (folder / "predictor.py").write_text(
        "import numpy as np\n\n\nclass Table:\n    def __init__(self, table):\n        self.table = table\n\n"
        "    def fit(self, train):\n        return self\n\n    def predict(self, test):\n"
        "        return np.array([self.table[str(q)] for q in test.query_ids], dtype=float)\n")
    (folder / "submission.yaml").write_text(json.dumps({"name": folder.name, "kind": "code",
                                                        "entry": "predictor:Table", "params": {"table": table}}))
    return folder


@pytest.mark.parametrize("reward", ["binary", "real"])
def test_predictions_files_per_decoder_give_the_same_result_as_code(tmp_path, reward):
    """A predictions submission with one file per decoder is scored in the portfolio setting: the
    files are put side by side in decoder order (binary: (n, D) success probabilities; real:
    (n, D * K) marginals) and the curves equal those of a code submission returning the same rows."""
    task = "math" if reward == "binary" else "lmsys"
    bank_dir = fixture_bank(tmp_path / "bank", n_queries=90, n_samples=4, ragged=True, decoders=FILE_DECODERS,
                            cost=FILE_COST, reward=reward, task=task, name="fx")
    problem = portfolio_problem_from_bank(load_bank(bank_dir))
    test_ids = problem.query_ids[problem.splits == "test"]
    values = _per_decoder_values(test_ids, reward, problem.k_max)
    files = _write_predictions_submission(tmp_path / "files-sub", task, "fx", test_ids, values, FILE_DECODERS)
    rows = np.concatenate([values[d].reshape(len(test_ids), -1) for d in FILE_DECODERS], axis=1)
    code = _write_table_submission(tmp_path / "code-sub", {str(q): list(map(float, r)) for q, r in zip(test_ids, rows)})
    options = RunOptions(bank=str(bank_dir), bootstrap=30, out_dir=tmp_path / "out", budgets=[2, 5, 20, 80, 300])
    _, from_files = run_portfolio_benchmark(task, str(files), options)
    _, from_code = run_portfolio_benchmark(task, str(code), options)
    assert from_files["isolation"] == "predictions-file"
    assert from_files["target_kind"] == ("success_prob_per_decoder" if reward == "binary"
                                         else "marginal_rewards_per_decoder")
    assert from_files["curves"] == from_code["curves"]
    assert from_files["summary"]["aiq"] == from_code["summary"]["aiq"]


def test_predictions_files_missing_a_decoder_are_one_clear_error(tmp_path):
    bank_dir = fixture_bank(tmp_path / "bank", n_queries=60, n_samples=3, decoders=FILE_DECODERS, cost=FILE_COST,
                            task="math", name="fx")
    problem = portfolio_problem_from_bank(load_bank(bank_dir))
    test_ids = problem.query_ids[problem.splits == "test"]
    values = _per_decoder_values(test_ids, "binary", problem.k_max)
    sub = _write_predictions_submission(tmp_path / "two-files", "math", "fx", test_ids, values, FILE_DECODERS[:2])
    out = tmp_path / "out"
    with pytest.raises(HardbenchError, match=r"no predictions file for decoder\(s\) large of bank math/fx.*"
                                             r"files for 2 of the 3 decoders.*--decoders"):
        run_portfolio_benchmark("math", str(sub), RunOptions(bank=str(bank_dir), bootstrap=0, out_dir=out))
    assert not out.exists()
    # the decoders it covers work
    path, _ = run_portfolio_benchmark("math", str(sub), RunOptions(bank=str(bank_dir), bootstrap=0, out_dir=out),
                                      decoders=FILE_DECODERS[:2])
    assert path.is_file()


def test_pika_linear_probe_cannot_be_scored_on_other_banks(tmp_path, three_decoder_bank):
    """pika-linear-probe ships files for math/pika-k50 only: elsewhere one error says so."""
    out = tmp_path / "out"
    with pytest.raises(HardbenchError, match=r"no predictions for bank gsm8k/fixture-3 .*cannot be scored on that bank"):
        run_portfolio_benchmark("gsm8k", "pika-linear-probe", RunOptions(bank=str(three_decoder_bank), bootstrap=0,
                                                                          out_dir=out))
    assert not out.exists()


def test_frontier_text_joins_runs_of_consecutive_k():
    import doctest

    import bench.commands.run as run_command

    options = [{"decoder": None, "k": 0}] + [{"decoder": "a", "k": k} for k in (1, 2, 3, 5)] + \
              [{"decoder": "b", "k": 6}, {"decoder": "b", "k": 7}]
    assert run_command._frontier_text(options) == "none x0, a x1-3, a x5, b x6-7"
    assert doctest.testmod(run_command).failed == 0
