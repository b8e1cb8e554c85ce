"""The banks we generated ourselves (``scripts/generate_cpu_banks.sh``) are whole and their labels hold.

Every shipped bank with raw responses is checked: checksums, one response per reward row, every
query with all ``n`` samples of each decoder, the features the issue asks for, and a seeded
random subset of samples re-verified now with the task's verifier (in the sandbox for code),
which must give the stored rewards.  Timed-out samples are left out of the re-verification: a
wall-clock timeout depends on the machine's load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.bank import load_bank
from bench.commands.verify import score_texts
from bench.tasks import load_task

ROOT = Path(__file__).resolve().parents[2]
GENERATED = sorted(p.parent for p in ROOT.glob("tasks/*/banks/*/responses.parquet"))
FEATURES = {"minilm", "lm-last-hidden--gemma3-270m", "lm-last-hidden--qwen2.5-coder-0.5b-instruct--chat"}


def _ids(bank_dir: Path) -> str:
    return f"{bank_dir.parents[1].name}/{bank_dir.name}"


def test_the_generated_banks_are_found() -> None:
    names = {_ids(p) for p in GENERATED}
    assert {"humaneval/qwen2.5-coder-0.5b-k20", "humaneval/qwen2.5-coder-0.5b-vs-1.5b",
            "mbpp/qwen2.5-coder-0.5b-k16", "gsm8k/qwen2.5-coder-0.5b-k16"} <= names


@pytest.mark.parametrize("bank_dir", GENERATED, ids=_ids)
def test_bank_is_whole(bank_dir: Path) -> None:
    bank = load_bank(bank_dir)                                    # checksums verified
    responses = pd.read_parquet(bank_dir / "responses.parquet")
    keys = ["query_id", "decoder", "sample"]
    joined = bank.rewards.merge(responses, on=keys, how="outer", validate="one_to_one", indicator=True)
    assert (joined["_merge"] == "both").all()
    generation = bank.manifest["provenance"].get("generation") or {}
    per_decoder = bank.manifest["provenance"].get("decoders") or {bank.decoders[0]: generation}
    for decoder, made in per_decoder.items():
        counts = bank.rewards[bank.rewards["decoder"] == decoder].groupby("query_id")["sample"].nunique()
        assert len(counts) == len(bank.queries) and (counts == made["decoding"]["n"]).all(), decoder
    assert FEATURES <= set(bank.feature_names)
    for name in FEATURES:
        assert bank.features(name).shape[0] == len(bank.queries)
    assert bank.queries["model_input"].str.len().min() > 0


@pytest.mark.parametrize("bank_dir", GENERATED, ids=_ids)
def test_stored_rewards_are_reproduced_by_the_verifier(bank_dir: Path) -> None:
    bank = load_bank(bank_dir)
    task = load_task(bank.task)
    scored = bank.rewards.merge(pd.read_parquet(bank_dir / "responses.parquet"),
                                on=["query_id", "decoder", "sample"])
    scored = scored[scored["status"] != "timed_out"]
    rng = np.random.default_rng(0)
    picked = scored.iloc[np.sort(rng.choice(len(scored), size=min(24, len(scored)), replace=False))]
    source = dict(zip(bank.queries["query_id"], bank.queries["source_split"]))
    records = {r["query_id"]: r for split in sorted(set(source.values()))
               for r in task.load_queries(split)}
    verdicts = score_texts(task, list(picked["text"]), [dict(records[q]) for q in picked["query_id"]],
                           workers=2, progress=False)
    assert [v[0] for v in verdicts] == picked["reward"].tolist()
    assert 0 < picked["reward"].sum() < len(picked)             # the sample holds both verdicts
