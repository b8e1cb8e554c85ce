"""Bank loading: every malformed bank is one clear BankFormatError naming the file."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.bank import load_bank, save_bank, write_features
from bench.errors import BankFormatError
from bench.scoring import problem_from_bank
from tests.core.fixtures import fixture_bank


@pytest.fixture()
def bank_dir(tmp_path: Path) -> Path:
    return fixture_bank(tmp_path / "bank", n_queries=12, n_samples=4)


def rewrite(bank_dir: Path, queries=None, rewards=None, manifest_update=None):
    """Re-save a bank with changed tables, bypassing save_bank's own validation."""
    from bench.bank import _parquet_bytes
    from bench.fileio import sha256_file

    manifest = json.loads((bank_dir / "manifest.json").read_text())
    for name, frame in (("queries.parquet", queries), ("rewards.parquet", rewards)):
        if frame is not None:
            (bank_dir / name).write_bytes(_parquet_bytes(frame))
            manifest["files"][name] = sha256_file(bank_dir / name)
    manifest.update(manifest_update or {})
    (bank_dir / "manifest.json").write_text(json.dumps(manifest))


def test_fixture_bank_loads(bank_dir):
    bank = load_bank(bank_dir)
    assert len(bank.queries) == 12
    matrix = bank.reward_matrix("model")
    assert matrix.rewards.shape == (12, 4) and (matrix.counts == 4).all()


def test_ragged_bank_pads_with_nan(tmp_path):
    bank = load_bank(fixture_bank(tmp_path / "b", ragged=True, n_samples=6))
    m = bank.reward_matrix("model")
    for i, n in enumerate(m.counts):
        assert not np.isnan(m.rewards[i, :n]).any() and np.isnan(m.rewards[i, n:]).all()


def _q(bank_dir):
    return pd.read_parquet(bank_dir / "queries.parquet")


def _r(bank_dir):
    return pd.read_parquet(bank_dir / "rewards.parquet")


CASES = {
    "checksum": (lambda d: (d / "queries.parquet").write_bytes((d / "queries.parquet").read_bytes() + b"x"),
                 "sha256 mismatch"),
    "missing column": (lambda d: rewrite(d, queries=_q(d).drop(columns=["prompt"])), "missing columns ['prompt']"),
    "duplicate id": (lambda d: rewrite(d, queries=pd.concat([_q(d), _q(d).iloc[:1]])), "duplicate query_id"),
    "unknown split": (lambda d: rewrite(d, queries=_q(d).assign(split="dev")), "unknown split"),
    "nan reward": (lambda d: rewrite(d, rewards=_r(d).assign(reward=np.where(np.arange(len(_r(d))) == 3, np.nan, 1.0))),
                   "NaN or infinite reward"),
    "binary range": (lambda d: rewrite(d, rewards=_r(d).assign(reward=0.5)), "outside {0, 1}"),
    "sample dtype": (lambda d: rewrite(d, rewards=_r(d).assign(sample=_r(d)["sample"].astype(float))),
                     "'sample' must be integers"),
    "unknown decoder": (lambda d: rewrite(d, rewards=_r(d).assign(decoder="other")), "not in manifest decoders"),
    "unknown query": (lambda d: rewrite(d, rewards=pd.concat([_r(d), _r(d).iloc[:1].assign(query_id="zzz")])),
                      "'zzz' is not in queries.parquet"),
    "query without samples": (lambda d: rewrite(d, rewards=_r(d)[_r(d).query_id != "q0000"]), "no samples for 1"),
    "duplicate sample": (lambda d: rewrite(d, rewards=pd.concat([_r(d), _r(d).iloc[:1]])), "duplicate (query_id"),
    "format version": (lambda d: rewrite(d, manifest_update={"format": "hardbench-bank/9"}), "unsupported format"),
    "bad setting": (lambda d: rewrite(d, manifest_update={"setting": "beam"}), "setting 'beam'"),
    "missing file": (lambda d: (d / "rewards.parquet").unlink(), "listed in manifest.json but missing"),
    "bad json": (lambda d: (d / "manifest.json").write_text("{"), "invalid JSON"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_bank_is_one_clear_error(bank_dir, case):
    corrupt, message = CASES[case]
    corrupt(bank_dir)
    with pytest.raises(BankFormatError) as err:
        load_bank(bank_dir)
    assert message in str(err.value)
    assert str(bank_dir) in str(err.value)


def test_write_features_records_and_checks(bank_dir):
    write_features(bank_dir, "emb", np.ones((12, 3)), {"extractor": "test"})
    bank = load_bank(bank_dir)
    assert bank.features("emb").dtype == np.float32 and bank.features("emb").shape == (12, 3)
    assert bank.manifest["features"]["emb"]["dim"] == 3
    with pytest.raises(BankFormatError, match="expected shape"):
        write_features(bank_dir, "bad", np.ones((11, 3)), {})
    with pytest.raises(BankFormatError, match="safe file name"):
        write_features(bank_dir, "a:b", np.ones((12, 3)), {})
    np.save(bank_dir / "features" / "emb.npy", np.ones((12, 3), dtype=np.float32) * 2)
    with pytest.raises(BankFormatError, match="sha256 mismatch"):
        load_bank(bank_dir)


def test_routing_bank_needs_two_decoders(tmp_path):
    q = pd.DataFrame({"query_id": ["a"], "split": ["test"], "prompt": ["p"]})
    r = pd.DataFrame({"query_id": ["a"], "decoder": ["w"], "sample": [0], "reward": [1.0]})
    manifest = {"task": "t", "name": "n", "setting": "routing", "reward": "binary", "decoders": ["w"],
                "provenance": {}, "license": "x"}
    with pytest.raises(BankFormatError, match="at least two decoders"):
        save_bank(tmp_path / "b", manifest, q, r)


def test_rebuilding_with_same_queries_keeps_features(bank_dir):
    write_features(bank_dir, "emb", np.ones((12, 3)), {"extractor": "test"})
    bank = load_bank(bank_dir)
    manifest = {k: v for k, v in bank.manifest.items() if k not in ("files", "features")}
    save_bank(bank_dir, manifest, bank.queries, bank.rewards.assign(reward=0.0))
    again = load_bank(bank_dir)
    assert again.feature_names == ["emb"] and again.manifest["features"]["emb"]["extractor"] == "test"
    changed = bank.queries.assign(prompt="new prompt")
    save_bank(bank_dir, manifest, changed, bank.rewards)
    assert load_bank(bank_dir).feature_names == []   # rows may no longer match: dropped


def test_a_decoder_may_lack_queries_and_scoring_drops_them(tmp_path):
    """A routing decoder may lack a query (a missing sample, e.g. a failed judge grade): the
    bank loads, and scoring a pair that includes it drops that query and counts it."""
    bank_dir = fixture_bank(tmp_path / "b", setting="routing", reward="real", n_queries=9, n_samples=2)
    rewards = _r(bank_dir)
    extra = rewards[(rewards.decoder == "strong") & (rewards.query_id != "q0003")].assign(decoder="third")
    rewrite(bank_dir, rewards=pd.concat([rewards, extra]),
            manifest_update={"decoders": ["weak", "strong", "third"]})
    bank = load_bank(bank_dir)
    third = bank.reward_matrix("third")
    assert third.counts.tolist() == [2, 2, 2, 0, 2, 2, 2, 2, 2]
    assert np.isnan(third.rewards[3]).all()
    rewrite(bank_dir, manifest_update={"default_routing": ["weak", "third"]})
    problem = problem_from_bank(load_bank(bank_dir))
    assert "q0003" not in set(problem.query_ids) and len(problem.query_ids) == 8
    assert sum(problem.dropped.values()) == 1
