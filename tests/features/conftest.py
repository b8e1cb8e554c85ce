"""Fixtures for the feature tests: small banks built from real GSM8K questions.

The prompts are the first GSM8K test questions, read from the repository's copy
``tasks/gsm8k/data/test.jsonl`` (MIT, see the LICENSE beside it).  The rewards of these fixture
banks are placeholders (features never read rewards): they exist only because a bank must have
them, and the bank is named ``fixture-...`` to say so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.bank import save_bank
from bench.paths import tasks_root


def gsm8k_questions(n: int) -> list[str]:
    """The first ``n`` questions of the GSM8K test set (the repository's copy)."""
    path = tasks_root() / "gsm8k" / "data" / "test.jsonl"
    with open(path, encoding="utf-8") as handle:
        return [json.loads(next(handle))["question"] for _ in range(n)]


def build_fixture_bank(directory: Path, prompts: list[str]) -> Path:
    """A valid ``hardbench-bank/1`` folder holding ``prompts`` (placeholder rewards, see module doc)."""
    ids = [f"gsm8k-test-{i:04d}" for i in range(len(prompts))]
    queries = pd.DataFrame({"query_id": ids, "split": ["train"] * len(ids), "prompt": prompts})
    rewards = pd.DataFrame({"query_id": ids, "decoder": "fixture-decoder",
                            "sample": [0] * len(ids), "reward": [float(i % 2) for i in range(len(ids))]})
    manifest = {"task": "gsm8k", "name": directory.name, "setting": "best_of_k", "reward": "binary",
                "decoders": ["fixture-decoder"], "provenance": {"note": "test fixture"},
                "license": "MIT (GSM8K questions)", "files": {}}
    return save_bank(directory, manifest, queries, rewards)


@pytest.fixture
def bank8(tmp_path: Path) -> Path:
    """A fixture bank with the first 8 GSM8K test questions."""
    return build_fixture_bank(tmp_path / "fixture-gsm8k-8", gsm8k_questions(8))


@pytest.fixture
def bank21(tmp_path: Path) -> Path:
    """A fixture bank with the first 21 GSM8K test questions (chunks of 5 leave a remainder)."""
    return build_fixture_bank(tmp_path / "fixture-gsm8k-21", gsm8k_questions(21))
