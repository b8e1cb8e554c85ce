"""The shipped default bank reproduces the cache's own facts over all 1,319 GSM8K queries."""

import numpy as np
import pandas as pd
import pytest

from bench.allocation import allocate_greedy
from bench.bank import load_bank
from bench.estimators import expected_reward, marginal_rewards
from bench.paths import project_root
from bench.scoring import problem_from_bank


@pytest.fixture(scope="module")
def bank():
    return load_bank("mixtral-vs-gpt4", task="gsm8k")


def test_bank_matches_routellm_csv(bank):
    csv = pd.read_csv(project_root() / "tasks/gsm8k/data/routellm/gsm8k_responses.csv", dtype=str,
                      keep_default_na=False)
    assert len(bank.queries) == len(csv) == 1319
    assert bank.queries["prompt"].tolist() == csv["prompt"].tolist()
    for decoder in bank.decoders:
        got = bank.reward_matrix(decoder).rewards[:, 0]
        assert np.array_equal(got, (csv[decoder] == "True").to_numpy(dtype=float))


def test_cache_facts_over_all_queries(bank):
    problem = problem_from_bank(bank)
    weak, strong = problem.q_table[:, 0], problem.q_table[:, 1]
    assert round(100 * weak.mean(), 1) == 63.8
    assert round(100 * strong.mean(), 1) == 85.7
    oracle = allocate_greedy(marginal_rewards(problem.q_table), 0.5 * len(weak), problem.caps)
    assert oracle.mean() == pytest.approx(0.5)
    assert round(100 * expected_reward(problem.q_table, oracle).mean(), 1) == 92.9


def test_split_is_deterministic_by_id(bank):
    import hashlib

    for qid, split in zip(bank.queries["query_id"], bank.queries["split"]):
        bucket = int(hashlib.sha256(qid.encode()).hexdigest()[:8], 16) % 10
        assert split == ("train" if bucket < 6 else "val" if bucket == 6 else "test")
