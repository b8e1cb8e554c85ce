"""hh/alpacaeval-helpful: win rates as SOURCES.md states, the HH test split, phi-2's gaps, rebuild."""

import numpy as np
import pandas as pd
import pytest

from bench.bank import load_bank
from bench.importing import rebuild_differences
from bench.tasks import read_rows
from tests.importers.conftest import load_script

imp = load_script("import_alpaca_eval")

# SOURCES.md (alpaca_eval/): win rate % per model
SOURCES_WIN_RATES = {
    "oasst-sft-pythia-12b": 1.8, "falcon-7b-instruct": 2.1, "phi-2": 2.4, "pythia-12b-mix-sft": 2.6,
    "alpaca-7b": 2.6, "falcon-40b-instruct": 3.3, "gemma-2b-it": 3.4, "vicuna-7b-v1.5": 4.8,
    "oasst-rlhf-llama-33b": 6.3, "vicuna-13b-v1.5": 6.7, "gemma-7b-it": 6.9, "Qwen-14B-Chat": 7.5,
    "gpt-3.5-turbo-1106": 9.2, "humpback-llama2-70b": 10.1, "OpenHermes-2.5-Mistral-7B": 10.3,
    "claude-2.1": 15.7, "claude-instant-1.2": 16.1, "claude-2": 17.2, "FuseChat-Llama-3.2-1B-Instruct": 29.9,
    "gpt4_1106_preview": 50.0, "FuseChat-Llama-3.2-3B-Instruct": 51.3, "FuseChat-Llama-3.1-8B-Instruct": 63.3,
    "FuseChat-Qwen-2.5-7B-Instruct": 64.6, "FuseChat-Gemma-2-9B-Instruct": 70.5,
}


@pytest.fixture(scope="module")
def bank():
    return load_bank("alpacaeval-helpful", task="hh")


def test_raw_counts_and_win_rates_match_sources_md(root):
    assert set(imp.MODELS) == set(SOURCES_WIN_RATES)
    for model in imp.MODELS:
        rows = read_rows(root / imp.RAW_DIR / imp.annotation_file(model))
        assert len(rows) == (803 if model == "phi-2" else 805), model
        rate = 100 * (np.mean([r["preference"] for r in rows]) - 1)
        assert round(rate, 1) == SOURCES_WIN_RATES[model], model


def test_win_rates_match_the_upstream_leaderboard(root, bank):
    board = pd.read_csv(root / imp.RAW_DIR / imp.LEADERBOARD, index_col=0)
    means = bank.rewards.groupby("decoder")["reward"].mean()
    for model in imp.MODELS:
        assert 100 * means[model] == pytest.approx(board.loc[model, "win_rate"], abs=1e-6), model


def test_queries_splits_and_missing_samples(bank):
    assert len(bank.queries) == 805 and bank.queries["query_id"].is_unique
    test = bank.queries["split"] == "test"
    assert test.sum() == 129 and (bank.queries.loc[test, "dataset"] == "helpful_base").all()
    assert (bank.queries.loc[~test, "split"].isin(["train", "val"])).all()
    assert bank.decoders[:2] == bank.manifest["default_routing"] == ["gemma-2b-it", "gemma-7b-it"]
    phi = bank.reward_matrix("phi-2")
    assert (phi.counts == 0).sum() == 2 and (phi.counts[phi.counts > 0] == 1).all()
    assert bank.rewards["reward"].between(0, 1).all()


def test_hand_checked_row(bank):
    qid = imp.query_id("What are the names of some famous actors that started their careers on Broadway?")
    query = bank.queries.set_index("query_id").loc[qid]
    assert query["split"] == "test" and query["dataset"] == "helpful_base"
    rewards = bank.rewards.set_index(["query_id", "decoder"])["reward"]
    assert rewards[(qid, "gemma-7b-it")] == pytest.approx(0.0000211125)    # preference 1.0000211125
    assert rewards[(qid, "gemma-2b-it")] == pytest.approx(0.0000098183)    # preference 1.0000098183
    # price_per_example (the annotator's cost) is not a decoder cost: uniform, unknown
    assert bank.manifest["cost"]["gemma-2b-it"] == {"value": 1.0, "unit": "call",
                                                    "source": bank.manifest["cost"]["gemma-7b-it"]["source"]}
    assert bank.manifest["cost"]["gemma-2b-it"]["source"].startswith("unknown")


def test_rebuild_is_byte_identical(root, tmp_path):
    committed = root / imp.BANK_DIR
    assert rebuild_differences(lambda out: imp.build(root, out), committed, tmp_path / "bank") == []
