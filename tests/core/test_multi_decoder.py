"""Banks with many decoders: format v2 (reward value counts), decoder choice, missing samples.

Every bank here is a FIXTURE (random rewards written by the test), not model output.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from bench.bank import (
    counts_from_rewards,
    load_bank,
    resolve_bank_dir,
    save_bank,
    save_counts_bank,
    split_by_id,
    split_train_val_by_id,
)
from bench.cli import main
from bench.errors import BankFormatError, HardbenchError
from bench.predictors.predictions_file import predictions_path
from bench.runner import RunOptions, run_benchmark
from bench.scoring import choose_decoders, problem_from_bank
from tests.core.fixtures import fixture_bank

DECODERS = ["small", "medium", "large"]


def multi_decoder_tables(n_queries: int = 45, *, reward: str = "binary", ragged: bool = True,
                         missing: dict[str, set[int]] | None = None, seed: int = 0,
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """FIXTURE queries and long rewards for three decoders; ``missing`` drops (decoder, query) pairs."""
    rng = np.random.default_rng(seed)
    ids = [f"q{i:03d}" for i in range(n_queries)]
    queries = pd.DataFrame({"query_id": ids, "split": np.array(["train", "val", "test"])[np.arange(n_queries) % 3],
                            "prompt": [f"fixture prompt {i}" for i in range(n_queries)]})
    records = []
    for d, decoder in enumerate(DECODERS):
        for i, qid in enumerate(ids):
            if missing and i in missing.get(decoder, set()):
                continue
            n = int(rng.integers(1, 7)) if ragged else 6
            p = rng.random() * (0.5 + 0.25 * d)
            for s in range(n):
                r = float(rng.random() < p) if reward == "binary" else float(np.round(rng.normal(p, 1.0), 1))
                records.append((qid, decoder, s, r))
    rewards = pd.DataFrame.from_records(records, columns=["query_id", "decoder", "sample", "reward"])
    return queries, rewards


def manifest(setting: str = "best_of_k", reward: str = "binary", **extra) -> dict:
    return {"task": "gsm8k", "name": "multi", "setting": setting, "reward": reward, "decoders": DECODERS,
            "provenance": {"kind": "FIXTURE: random rewards for tests"}, "license": "CC0-1.0"} | extra


def both_formats(tmp_path: Path, reward: str = "binary", setting: str = "best_of_k", **kw):
    queries, rewards = multi_decoder_tables(reward=reward, **kw)
    v1 = load_bank(save_bank(tmp_path / "v1", manifest(setting, reward), queries, rewards))
    v2 = load_bank(save_counts_bank(tmp_path / "v2", manifest(setting, reward), queries, counts_from_rewards(rewards)))
    return v1, v2, rewards


# ------------------------------------------------------------------------------ format v2


@pytest.mark.parametrize("reward", ["binary", "real"])
@pytest.mark.parametrize("setting", ["best_of_k", "routing"])
def test_v1_and_v2_give_the_same_estimates(tmp_path, reward, setting):
    v1, v2, _ = both_formats(tmp_path, reward=reward, setting=setting, missing={"large": {4, 7}})
    assert v1.manifest["format"] == "hardbench-bank/1" and v2.manifest["format"] == "hardbench-bank/2"
    assert v1.rewards is not None and v2.counts is not None and v2.rewards is None
    for decoder in DECODERS:
        a, b = v1.reward_matrix(decoder), v2.reward_matrix(decoder)
        np.testing.assert_array_equal(a.counts, b.counts)
        np.testing.assert_array_equal(np.sort(a.rewards, axis=1), b.rewards)   # v2 rows come sorted
    for weak, strong in itertools.permutations(DECODERS, 2):
        for choice_kw in ({"setting": "best_of_k", "decoder": strong}, {"setting": "routing", "weak": weak,
                                                                         "strong": strong}):
            p1 = problem_from_bank(v1, choice=choose_decoders(v1, **choice_kw))
            p2 = problem_from_bank(v2, choice=choose_decoders(v2, **choice_kw))
            np.testing.assert_array_equal(p1.query_ids, p2.query_ids)
            assert p1.dropped == p2.dropped
            if reward == "binary":       # sums of 0/1 are exact in any order
                np.testing.assert_array_equal(p1.q_table, p2.q_table)
                if p1.setting == "best_of_k":
                    np.testing.assert_array_equal(p1.targets, p2.targets)
            if reward == "real" or p1.setting == "routing":   # sigmoid sums: only their order differs
                np.testing.assert_allclose(p1.q_table, p2.q_table, rtol=0, atol=1e-12)
                np.testing.assert_allclose(p1.targets, p2.targets, rtol=0, atol=1e-12)


def test_v1_and_v2_runs_write_the_same_numbers(tmp_path):
    v1, v2, _ = both_formats(tmp_path, ragged=False)
    results = []
    for bank in (v1, v2):
        _, result = run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank.path), bootstrap=50,
                                                                  out_dir=tmp_path / bank.path.name))
        results.append(result)
    for key in ("curves", "summary", "intrinsic", "decoders", "n_queries"):
        assert results[0][key] == results[1][key], key


def test_counts_round_trip_by_hand():
    rewards = pd.DataFrame({"query_id": ["a", "a", "a", "b"], "decoder": ["d", "d", "d", "d"],
                            "sample": [0, 1, 2, 0], "reward": [1.0, 0.0, 1.0, 0.0]})
    counts = counts_from_rewards(rewards)
    assert counts.to_dict("records") == [
        {"query_id": "a", "decoder": "d", "reward": 0.0, "count": 1},
        {"query_id": "a", "decoder": "d", "reward": 1.0, "count": 2},
        {"query_id": "b", "decoder": "d", "reward": 0.0, "count": 1}]


def _rewrite_counts(bank_dir: Path, counts: pd.DataFrame) -> None:
    from bench.bank import _parquet_bytes
    from bench.fileio import sha256_file

    (bank_dir / "counts.parquet").write_bytes(_parquet_bytes(counts))
    m = json.loads((bank_dir / "manifest.json").read_text())
    m["files"]["counts.parquet"] = sha256_file(bank_dir / "counts.parquet")
    (bank_dir / "manifest.json").write_text(json.dumps(m))


V2_CASES = {
    "zero count": (lambda c: c.assign(count=np.where(np.arange(len(c)) == 0, 0, c["count"])), "integers >= 1"),
    "float count": (lambda c: c.assign(count=c["count"].astype(float)), "integers >= 1"),
    "duplicate value": (lambda c: pd.concat([c, c.iloc[:1]]), "duplicate (query_id, decoder, reward)"),
    "binary range": (lambda c: c.assign(reward=0.5), "outside {0, 1}"),
    "unknown decoder": (lambda c: c.assign(decoder="other"), "not in manifest decoders"),
    "unknown query": (lambda c: pd.concat([c, c.iloc[:1].assign(query_id="zzz")]), "'zzz' is not in queries"),
    "query without samples": (lambda c: c[c.query_id != "q000"], "no samples for 1 queries under any decoder"),
    "missing column": (lambda c: c.drop(columns=["count"]), "missing columns ['count']"),
}


@pytest.mark.parametrize("case", sorted(V2_CASES))
def test_bad_v2_bank_is_one_clear_error(tmp_path, case):
    queries, rewards = multi_decoder_tables()
    bank_dir = save_counts_bank(tmp_path / "b", manifest(), queries, counts_from_rewards(rewards))
    corrupt, message = V2_CASES[case]
    _rewrite_counts(bank_dir, corrupt(pd.read_parquet(bank_dir / "counts.parquet")))
    with pytest.raises(BankFormatError) as err:
        load_bank(bank_dir)
    assert message in str(err.value) and str(bank_dir) in str(err.value)


def test_rewriting_a_v1_bank_as_v2_removes_the_long_table(tmp_path):
    queries, rewards = multi_decoder_tables()
    bank_dir = save_bank(tmp_path / "b", manifest(), queries, rewards)
    save_counts_bank(bank_dir, manifest(), queries, counts_from_rewards(rewards))
    assert not (bank_dir / "rewards.parquet").exists()
    assert load_bank(bank_dir).manifest["format"] == "hardbench-bank/2"


@pytest.mark.parametrize("extra,message", [
    ({"default_decoder": "huge"}, "default_decoder 'huge' is not in decoders"),
    ({"default_routing": ["small"]}, "default_routing must be [weak, strong]"),
    ({"default_routing": ["small", "small"]}, "default_routing must be [weak, strong]"),
    ({"default_routing": ["small", "huge"]}, "default_routing must be [weak, strong]"),
])
def test_bad_default_decoders_are_refused(tmp_path, extra, message):
    queries, rewards = multi_decoder_tables()
    with pytest.raises(BankFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        save_bank(tmp_path / "b", manifest(**extra), queries, rewards)


# ------------------------------------------------------------------------------ choosing decoders


def test_defaults_come_from_the_manifest_else_first(tmp_path):
    queries, rewards = multi_decoder_tables()
    plain = load_bank(save_bank(tmp_path / "a", manifest(), queries, rewards))
    assert choose_decoders(plain).decoders == ("small",) and choose_decoders(plain).is_default
    assert choose_decoders(plain, setting="routing").decoders == ("small", "medium")
    assert not choose_decoders(plain, setting="routing").is_default   # not the bank's own setting
    named = load_bank(save_bank(tmp_path / "b", manifest(default_decoder="large",
                                                         default_routing=["medium", "large"]), queries, rewards))
    assert choose_decoders(named).decoders == ("large",) and choose_decoders(named).is_default
    assert choose_decoders(named, decoder="large").is_default
    assert not choose_decoders(named, decoder="small").is_default
    assert choose_decoders(named, setting="routing").decoders == ("medium", "large")
    assert choose_decoders(named, setting="routing", weak="small").decoders == ("small", "large")
    assert choose_decoders(named, setting="routing", weak="small", strong="medium").slug == "small--medium"


@pytest.mark.parametrize("kw,message", [
    ({"decoder": "huge"}, "has no decoder 'huge'"),
    ({"weak": "small"}, "--weak/--strong choose a routing pair"),
    ({"setting": "routing", "decoder": "small"}, "--decoder chooses the best-of-k decoder"),
    ({"setting": "routing", "weak": "large", "strong": "large"}, "both 'large'"),
    ({"setting": "beam"}, "--setting 'beam'"),
])
def test_bad_decoder_choices_are_one_clear_error(tmp_path, kw, message):
    queries, rewards = multi_decoder_tables()
    bank = load_bank(save_bank(tmp_path / "a", manifest(), queries, rewards))
    with pytest.raises(HardbenchError, match=message):
        choose_decoders(bank, **kw)


def test_routing_needs_two_decoders(tmp_path):
    bank = load_bank(fixture_bank(tmp_path / "b"))
    with pytest.raises(HardbenchError, match="routing needs two"):
        choose_decoders(bank, setting="routing")


def test_routing_on_a_best_of_k_bank_by_brute_force(tmp_path):
    """Routing between two decoders of a best-of-k bank: mean rewards and pairwise preference."""
    queries, rewards = multi_decoder_tables(reward="real")
    bank = load_bank(save_bank(tmp_path / "a", manifest(reward="real"), queries, rewards))
    problem = problem_from_bank(bank, choice=choose_decoders(bank, setting="routing", weak="medium",
                                                             strong="large"))
    assert problem.setting == "routing" and problem.target_kind == "preference"
    for i, qid in enumerate(problem.query_ids):
        w = rewards[(rewards.query_id == qid) & (rewards.decoder == "medium")].reward.to_numpy()
        s = rewards[(rewards.query_id == qid) & (rewards.decoder == "large")].reward.to_numpy()
        assert problem.q_table[i] == pytest.approx([w.mean(), s.mean()])
        assert problem.targets[i] == pytest.approx(np.mean([expit(a - b) for a in s for b in w]))


# ------------------------------------------------------------------------------ missing samples


def test_missing_samples_are_dropped_and_counted(tmp_path):
    # splits are i % 3: 0 train, 1 val, 2 test.  q002 (test), q004 and q007 (val) lack "large";
    # q002 and q009 (train) lack "small".
    missing = {"large": {2, 4, 7}, "small": {2, 9}}
    queries, rewards = multi_decoder_tables(missing=missing)
    bank = load_bank(save_bank(tmp_path / "a", manifest(), queries, rewards))
    large = problem_from_bank(bank, choice=choose_decoders(bank, decoder="large"))
    assert large.dropped == {"train": 0, "val": 2, "test": 1}
    assert set(large.query_ids) == set(queries.query_id) - {"q002", "q004", "q007"}
    for i, qid in enumerate(large.query_ids):       # the kept queries' estimates by brute force
        r = rewards[(rewards.query_id == qid) & (rewards.decoder == "large")].reward.to_numpy()
        n, c = len(r), int(r.sum())
        for b in range(1, n + 1):
            fails = len([s for s in itertools.combinations(range(n), b) if r[list(s)].max() == 0])
            assert large.q_table[i, b] == pytest.approx(1 - fails / len(list(itertools.combinations(range(n), b))))
        assert large.targets[i] == pytest.approx(c / n)
    pair = problem_from_bank(bank, choice=choose_decoders(bank, setting="routing", weak="small", strong="large"))
    assert pair.dropped == {"train": 1, "val": 2, "test": 1}
    assert set(pair.query_ids) == set(queries.query_id) - {"q002", "q004", "q007", "q009"}


def test_a_run_reports_dropped_queries_and_a_non_default_choice_gets_its_own_file(tmp_path):
    queries, rewards = multi_decoder_tables(missing={"large": {2, 5}})
    bank_dir = save_bank(tmp_path / "a", manifest(), queries, rewards)
    default_path, default = run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank_dir), bootstrap=20,
                                                                          out_dir=tmp_path / "res"))
    assert default_path == tmp_path / "res" / "gsm8k" / "multi" / "constant.json"
    assert default["decoders"] == ["small"] and "dropped_queries" not in default
    assert "|dec:" not in default["signature"]
    path, result = run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank_dir), bootstrap=20, decoder="large",
                                                                 out_dir=tmp_path / "res"))
    assert path == tmp_path / "res" / "gsm8k" / "multi" / "constant@large.json"
    assert result["decoders"] == ["large"] and result["dropped_queries"] == {"train": 0, "val": 0, "test": 2}
    assert result["n_queries"] == default["n_queries"] - 2
    assert result["signature"].endswith("|dec:best_of_k:large")
    path, result = run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank_dir), bootstrap=20, setting="routing",
                                                                 weak="medium", strong="large",
                                                                 out_dir=tmp_path / "res"))
    assert path.name == "constant@medium--large.json" and result["setting"] == "routing"
    assert result["decoders"] == ["medium", "large"]


def test_a_choice_that_leaves_no_test_query_is_refused(tmp_path):
    tests = set(range(2, 45, 3))
    queries, rewards = multi_decoder_tables(missing={"large": tests})
    bank_dir = save_bank(tmp_path / "a", manifest(), queries, rewards)
    with pytest.raises(HardbenchError, match="after dropping queries that decoder"):
        run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank_dir), decoder="large", out_dir=tmp_path))


def test_cli_decoder_options(tmp_path, capsys):
    queries, rewards = multi_decoder_tables()
    bank_dir = save_bank(tmp_path / "a", manifest(), queries, rewards)
    assert main(["run", "--task", "gsm8k", "--submission", "constant", "--bank", str(bank_dir), "--bootstrap", "10",
                 "--setting", "routing", "--weak", "small", "--strong", "large", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "decoders: small -> large" in out and (tmp_path / "gsm8k" / "multi" / "constant@small--large.json").is_file()
    assert main(["run", "--task", "gsm8k", "--submission", "constant", "--bank", str(bank_dir),
                 "--decoder", "nope", "--out", str(tmp_path)]) == 2
    assert "has no decoder 'nope'" in capsys.readouterr().err


def test_predictions_file_per_decoder_choice(tmp_path):
    folder = tmp_path / "predictions" / "math"
    folder.mkdir(parents=True)
    assert predictions_path(tmp_path, "math", "b", "d1", True) == folder / "b@d1.parquet"
    (folder / "b.parquet").write_bytes(b"")
    assert predictions_path(tmp_path, "math", "b", "d1", True) == folder / "b.parquet"    # default: plain file
    assert predictions_path(tmp_path, "math", "b", "d2", False) == folder / "b@d2.parquet"  # never the plain one
    (folder / "b@d1.parquet").write_bytes(b"")
    assert predictions_path(tmp_path, "math", "b", "d1", True) == folder / "b@d1.parquet"   # specific wins


# ------------------------------------------------------------------------------ splits, --bank


def test_train_val_split_agrees_with_split_by_id():
    ids = [f"train/algebra/{i}.json" for i in range(2000)]
    splits = [split_train_val_by_id(q) for q in ids]
    assert set(splits) == {"train", "val"}
    assert all((s == "val") == (split_by_id(q) == "val") for q, s in zip(ids, splits))
    assert 0.08 < splits.count("val") / len(ids) < 0.12


def test_bank_path_that_does_not_exist_says_so(tmp_path):
    with pytest.raises(BankFormatError, match="no such folder"):
        resolve_bank_dir(str(tmp_path / "nope"), "gsm8k")
    with pytest.raises(BankFormatError, match="not a bank folder"):
        resolve_bank_dir(str(tmp_path), "gsm8k")


def test_task_without_banks_says_what_to_do():
    # numina is the one task that ships no bank (its data is hub-only)
    with pytest.raises(HardbenchError, match="no bank for numina yet") as err:
        resolve_bank_dir(None, "numina")
    assert "bench generate --task numina" in str(err.value) and "[]" not in str(err.value)


def test_leaderboard_keeps_decoder_choices_apart(tmp_path):
    from bench.leaderboard.collect import collect_results, group_results

    queries, rewards = multi_decoder_tables(ragged=False)
    bank_dir = save_bank(tmp_path / "a", manifest(), queries, rewards)
    for kw in ({}, {"decoder": "large"}, {"decoder": "medium"}):
        run_benchmark("gsm8k", "constant", RunOptions(bank=str(bank_dir), bootstrap=10, budgets=[1, 2, 4],
                                                      out_dir=tmp_path / "res", **kw))
    groups = group_results(collect_results(tmp_path / "res"))
    assert len(groups) == 3 and all(len(g.results) == 1 for g in groups)
