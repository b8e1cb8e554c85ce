"""bench.importing: the rebuild comparison sees any changed byte; the train/val rule."""

import hashlib
import json

import pandas as pd

from bench.bank import load_bank, save_bank
from bench.importing import rebuild_differences, train_or_val_by_id
from tests.core.fixtures import fixture_bank


def _resave(source, out, reward_shift=0.0, provenance=None):
    bank = load_bank(source)
    manifest = {k: v for k, v in bank.manifest.items() if k not in ("files", "features", "format")}
    if provenance is not None:
        manifest["provenance"] = provenance
    rewards = bank.rewards.assign(reward=(bank.rewards["reward"] + reward_shift).clip(0, 1))
    return save_bank(out, manifest, bank.queries, rewards)


def test_identical_rebuild_has_no_differences(tmp_path):
    committed = fixture_bank(tmp_path / "bank", n_queries=9, n_samples=2)
    assert rebuild_differences(lambda out: _resave(committed, out), committed, tmp_path / "again") == []


def test_changed_rewards_or_provenance_are_reported(tmp_path):
    committed = fixture_bank(tmp_path / "bank", n_queries=9, n_samples=2)
    diff = rebuild_differences(lambda out: _resave(committed, out, reward_shift=1.0), committed, tmp_path / "a")
    assert diff == ["manifest.json", "rewards.parquet"]
    diff = rebuild_differences(lambda out: _resave(committed, out, provenance={"kind": "other"}), committed,
                               tmp_path / "b")
    assert diff == ["manifest.json"]
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["provenance"] == {"kind": "other"}


def test_train_or_val_by_id_is_the_documented_hash_rule():
    ids = [f"alpacaeval-{i:03d}" for i in range(700)]
    for qid in ids:
        bucket = int(hashlib.sha256(qid.encode()).hexdigest()[:8], 16) % 7
        assert train_or_val_by_id(qid) == ("val" if bucket == 6 else "train")
    share = pd.Series([train_or_val_by_id(q) for q in ids]).eq("val").mean()
    assert 0.10 < share < 0.19   # 1/7 = 0.143
