"""lmsys/arena-bench-15: grades per model as SOURCES.md states, failed grades missing, rebuild."""

import numpy as np
import pytest

from bench.bank import load_bank
from bench.importing import rebuild_differences
from bench.tasks import read_rows
from tests.importers.conftest import load_script

imp = load_script("import_arena_bench")

# SOURCES.md (arena_hard/): judged models with their mean score over parsed grades
SOURCES_MEANS = {
    "llama-13b": 1.48, "palm-2-chat-bison-001": 3.25, "mistralai/Mistral-7B-Instruct-v0.1": 3.57,
    "Llama-2-70b-chat": 4.35, "vicuna-33b-v1.3": 4.40, "openchat_3.5": 5.09, "Starling-LM-7B-alpha": 5.48,
    "claude-instant-1": 6.19, "claude-1": 6.22, "claude-2.1": 6.44, "mistralai/Mixtral-8x7B-Instruct-v0.1": 6.54,
    "gpt-3.5-turbo-1106": 6.68, "gpt-3.5-turbo": 6.76, "gpt-4-0314": 8.55, "gpt-4-1106-preview": 8.87,
}


@pytest.fixture(scope="module")
def grades(root):
    return imp.read_grades(root / imp.RAW_DIR)


@pytest.fixture(scope="module")
def bank():
    return load_bank("arena-bench-15", task="lmsys")


def test_raw_files_match_sources_md(root, grades):
    assert len(read_rows(root / imp.RAW_DIR / "question.jsonl")) == 300
    assert set(grades) == set(SOURCES_MEANS)
    for model, by_id in grades.items():
        assert len(by_id) == 300
        parsed = [g for g in by_id.values() if g is not None]
        assert round(float(np.mean(parsed)), 2) == pytest.approx(SOURCES_MEANS[model], abs=0.006), model


def test_failed_grades_are_missing_samples_not_zeros(bank, grades):
    weak, strong = bank.decoders[:2]
    assert (weak, strong) == ("mistralai/Mistral-7B-Instruct-v0.1", "mistralai/Mixtral-8x7B-Instruct-v0.1")
    # hand-checked: Mistral's grades of these two prompts did not parse, so the prompts are dropped
    ids = set(bank.queries["query_id"])
    assert not ids & {"042dff3d83d74a30820826451d9085b7", "36dfe5892168468286583482b0dc9020"}
    dropped = {q for q in grades[weak] if grades[weak][q] is None or grades[strong][q] is None}
    assert len(bank.queries) == 300 - len(dropped) == 294
    assert bank.rewards["reward"].between(1, 10).all()
    for model, by_id in grades.items():
        rows = bank.rewards[bank.rewards["decoder"] == model]
        assert len(rows) == sum(by_id[q] is not None for q in ids)
        assert rows["reward"].mean() == pytest.approx(np.mean([by_id[q] for q in ids if by_id[q] is not None]))
    palm = bank.reward_matrix("palm-2-chat-bison-001")
    assert (palm.counts == 0).sum() == 5 and np.isnan(palm.rewards[palm.counts == 0]).all()


def test_hand_checked_grades(bank):
    rewards = bank.rewards.set_index(["query_id", "decoder"])["reward"]
    # the straight-line question: judged "Rating: [[7]]" for Mistral, "[[10]]" for Mixtral
    q = "66c00ddde3dc4128a14d6afd5e899342"
    assert rewards[(q, "mistralai/Mistral-7B-Instruct-v0.1")] == 7.0
    assert rewards[(q, "mistralai/Mixtral-8x7B-Instruct-v0.1")] == 10.0
    assert bank.queries.set_index("query_id").loc[q, "prompt"].startswith("What is the  equation of straight line")


def test_rebuild_is_byte_identical(root, tmp_path):
    committed = root / imp.BANK_DIR
    assert rebuild_differences(lambda out: imp.build(root, out), committed, tmp_path / "bank") == []
