"""humaneval/codegen16b-k100: CodeT's raw samples, the verdict cache (re-verified on a random
subset in the sandbox), hand-checked verdicts, and a byte-identical rebuild."""

import json

import numpy as np
import pytest

from bench.bank import load_bank
from bench.importing import rebuild_differences
from bench.tasks import read_rows
from bench.verify.code_exec import bwrap_problem
from tests.importers.conftest import load_script

imp = load_script("import_codet")
needs_bwrap = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bubblewrap unusable: {bwrap_problem()}")


@pytest.fixture(scope="module")
def samples(root):
    return imp.load_samples(root)


@pytest.fixture(scope="module")
def bank():
    return load_bank("codegen16b-k100", task="humaneval")


def test_raw_samples_as_sources_md_describes(root, samples):
    original, completions = samples
    assert len(completions) == 164 and all(len(c) == 100 for c in completions.values())
    distinct = [len(set(c)) for c in completions.values()]
    # SOURCES.md: 10 to 97 distinct samples per problem (median 80)
    assert (min(distinct), max(distinct), int(np.median(distinct))) == (10, 97, 80)
    codet = {r["task_id"]: r for r in read_rows(root / imp.RAW_DIR / imp.CODET_PROMPTS)}
    # CodeT's prompts drop the docstring examples: 160 of 164 differ from the original ones
    assert sum(codet[t]["prompt"] != original[t] for t in original) == 160


def test_every_sample_has_one_cached_verdict(root, samples, bank):
    original, completions = samples
    verdicts = imp.read_verdicts(root)
    assert verdicts["program_sha256"].is_unique
    keys = {imp.program_sha256(original[t], c) for t, cs in completions.items() for c in cs}
    assert set(verdicts["program_sha256"]) == keys and len(keys) == 12410
    assert set(verdicts["status"]) <= {"passed", "failed", "timed_out", "error"}
    assert ((verdicts["reward"] == 1.0) == (verdicts["status"] == "passed")).all()
    assert len(bank.rewards) == 16400 and (bank.reward_matrix(imp.DECODER).counts == 100).all()


def test_bank_holds_the_original_prompts_and_raw_completions(bank, samples):
    original, completions = samples
    assert bank.queries["prompt"].tolist() == list(original.values())
    first = bank.rewards[bank.rewards["query_id"] == "HumanEval/0"].sort_values("sample")
    assert first["response"].tolist() == completions["HumanEval/0"]


def test_hand_checked_verdicts(bank):
    rewards = bank.rewards.set_index(["query_id", "sample"])
    # HumanEval/0 sample 0 compares every pair (i < j): correct.  Sample 1 compares only
    # neighbours of the UNSORTED list, so [1.0, 2.0, 3.9, 4.0, 5.0, 2.2] with 0.3 (2.0 vs 2.2)
    # is missed: incorrect.
    assert "for j in range(len(numbers))" in rewards.loc[("HumanEval/0", 0), "response"]
    assert rewards.loc[("HumanEval/0", 0), "reward"] == 1.0
    assert "numbers[i + 1]" in rewards.loc[("HumanEval/0", 1), "response"]
    assert rewards.loc[("HumanEval/0", 1), "reward"] == 0.0


@needs_bwrap
def test_random_cached_verdicts_reproduce_in_the_sandbox(root, samples, tmp_path):
    """30 random cached programs, verified again: same reward.  Timeouts are left out: a
    wall-clock verdict depends on the machine's load."""
    from bench.commands.verify import label_file, load_references
    from bench.tasks import load_task

    original, completions = samples
    by_key = {imp.program_sha256(original[t], c): (t, c) for t, cs in completions.items() for c in cs}
    verdicts = imp.read_verdicts(root)
    stable = verdicts[verdicts["status"].isin(["passed", "failed"])]
    chosen = stable.sample(n=30, random_state=np.random.RandomState(20241201))
    assert 0 < (chosen["reward"] == 1.0).sum() < 30
    rows = [{"query_id": by_key[k][0], "sample": by_key[k][1]} for k in chosen["program_sha256"]]
    task = load_task("humaneval")
    out = tmp_path / "labels.jsonl"
    label_file(task, rows, load_references(task, None, None), out, workers=1, chunk_size=8)
    again = [json.loads(line)["reward"] for line in out.read_text().splitlines()]
    assert again == chosen["reward"].tolist()


def test_merge_keys_verdicts_by_the_program_text(root, samples, tmp_path, monkeypatch):
    """A labelled row enters the cache under sha256(original prompt + completion), whatever
    key the row claims; an already cached program is not added twice."""
    original, completions = samples
    fake_root = tmp_path / "root"
    for rel in (imp.RAW_DIR / imp.SAMPLES_FILE, imp.RAW_DIR / imp.CODET_PROMPTS, imp.HUMANEVAL):
        (fake_root / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake_root / rel).write_bytes((root / rel).read_bytes())
    completion = completions["HumanEval/3"][0]
    row = {"query_id": "HumanEval/3", "sample": completion, "program_sha256": "bogus",
           "reward": 1.0, "status": "passed", "detail": "check() passed"}
    assert imp.merge_labelled(fake_root, [row, row]) == 1
    assert imp.merge_labelled(fake_root, [row]) == 0
    cache = imp.read_verdicts(fake_root)
    assert cache["program_sha256"].tolist() == [imp.program_sha256(original["HumanEval/3"], completion)]
    assert len(imp.programs_to_label(fake_root)) == 12410 - 1


def test_pass_rates(bank):
    matrix = bank.reward_matrix(imp.DECODER).rewards
    pass1, pass100 = matrix.mean(), (matrix.max(axis=1) > 0).mean()
    assert bank.manifest["provenance"]["pass_rates"] == {"pass@1": round(pass1, 4), "pass@100": round(pass100, 4)}
    # Nijkamp et al. (2022) report CodeGen-16B-mono pass@100 75.0 (T 0.8) and pass@1 29.3 (at T
    # 0.2; T 0.8 gives less); our sandboxed labels must land in that region, not match it exactly.
    assert 0.15 < pass1 < 0.40 and 0.65 < pass100 < 0.85


def test_rebuild_is_byte_identical(root, tmp_path):
    committed = root / imp.BANK_DIR
    assert rebuild_differences(lambda out: imp.build(root, out), committed, tmp_path / "bank") == []
