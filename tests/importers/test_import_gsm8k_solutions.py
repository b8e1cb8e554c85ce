"""gsm8k/gpt3-6b-175b: the raw file's facts, hand-checked rows, and a byte-identical rebuild."""

import numpy as np
import pytest

from bench.bank import load_bank, split_by_id
from bench.importing import rebuild_differences
from bench.tasks import read_rows
from tests.importers.conftest import load_script

imp = load_script("import_gsm8k_solutions")


@pytest.fixture(scope="module")
def raw(root):
    return read_rows(root / imp.RAW_DIR / imp.RAW_FILE)


@pytest.fixture(scope="module")
def bank():
    return load_bank("gpt3-6b-175b", task="gsm8k")


def test_raw_counts_match_sources_md(raw):
    assert len(raw) == 1319
    # SOURCES.md: correct counts 286, 515, 458 and 742 out of 1,319
    counts = {d: sum(bool(r[d]["is_correct"]) for r in raw) for d in imp.DECODERS}
    assert counts == {"6b_finetuning": 286, "6b_verification": 515, "175b_finetuning": 458,
                      "175b_verification": 742}


def test_bank_means_equal_the_raw_labels(bank, raw):
    assert len(bank.queries) == 1319 and bank.decoders == list(imp.DECODERS)
    for decoder in imp.DECODERS:
        got = bank.reward_matrix(decoder).rewards[:, 0]
        assert np.array_equal(got, [float(r[decoder]["is_correct"]) for r in raw])
    assert bank.reward_matrix("175b_verification").rewards.mean() == pytest.approx(742 / 1319)


def test_hand_checked_rows(bank):
    rewards = bank.rewards.set_index(["query_id", "decoder"])
    # Janet's ducks: 16 - 3 - 4 = 9 eggs, 9 x $2 = $18; only 175b_verification ends with "A: 18"
    assert bank.queries.loc[0, "answer"] == "18"
    row0 = {d: rewards.loc[("gsm8k-test-00000", d), "reward"] for d in imp.DECODERS}
    assert row0 == {"6b_finetuning": 0.0, "6b_verification": 0.0, "175b_finetuning": 0.0,
                    "175b_verification": 1.0}
    assert rewards.loc[("gsm8k-test-00000", "175b_finetuning"), "response"].endswith("A: 4")
    # the robe: 2 + 1 = 3 bolts; 175b_finetuning answered 250
    assert bank.queries.loc[1, "answer"] == "3"
    assert rewards.loc[("gsm8k-test-00001", "175b_finetuning"), "reward"] == 0.0
    assert rewards.loc[("gsm8k-test-00001", "6b_finetuning"), "reward"] == 1.0


def test_ids_and_splits_agree_with_the_other_gsm8k_bank(bank):
    other = load_bank("mixtral-vs-gpt4", task="gsm8k")
    assert bank.queries[["query_id", "split", "prompt"]].equals(other.queries[["query_id", "split", "prompt"]])
    assert all(s == split_by_id(q) for q, s in zip(bank.queries["query_id"], bank.queries["split"]))


def test_manifest_records_costs_and_routing(bank):
    assert bank.manifest["default_routing"] == ["6b_finetuning", "175b_finetuning"] == bank.decoders[:2]
    cost = bank.manifest["cost"]
    assert cost["6b_finetuning"]["value"] == 6 and cost["175b_finetuning"]["value"] == 175
    assert cost["175b_verification"]["value"] == 175 * 100
    assert all(c["source"] for c in cost.values())


def test_rebuild_is_byte_identical(root, tmp_path):
    committed = root / imp.BANK_DIR
    assert rebuild_differences(lambda out: imp.build(root, out), committed, tmp_path / "bank") == []
