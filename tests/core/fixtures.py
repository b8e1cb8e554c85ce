"""Small synthetic banks for tests.  FIXTURES: random numbers, not model outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.bank import save_bank


def fixture_bank(directory: Path, *, n_queries: int = 60, n_samples: int = 8, reward: str = "binary",
                 setting: str = "best_of_k", ragged: bool = False, seed: int = 0, task: str = "gsm8k",
                 name: str = "fixture", decoders: list[str] | None = None,
                 cost: dict[str, dict] | None = None) -> Path:
    """Write a FIXTURE bank with random rewards and a feature that reveals difficulty."""
    rng = np.random.default_rng(seed)
    ids = [f"q{i:04d}" for i in range(n_queries)]
    splits = np.array(["train", "val", "test"])[np.arange(n_queries) % 3]
    difficulty = rng.random(n_queries)
    queries = pd.DataFrame({"query_id": ids, "split": splits,
                            "prompt": [f"fixture prompt {i}" for i in range(n_queries)]})
    if decoders is None:
        decoders = ["weak", "strong"] if setting == "routing" else ["model"]
    records = []
    for d, decoder in enumerate(decoders):
        for i, qid in enumerate(ids):
            n = int(rng.integers(2, n_samples + 1)) if ragged else n_samples
            for s in range(n):
                p = min(1.0, difficulty[i] + 0.2 * d)
                r = float(rng.random() < p) if reward == "binary" else float(rng.normal(p, 0.3))
                records.append((qid, decoder, s, r))
    rewards = pd.DataFrame.from_records(records, columns=["query_id", "decoder", "sample", "reward"])
    manifest = {"task": task, "name": name, "setting": setting, "reward": reward, "decoders": decoders,
                "provenance": {"kind": "FIXTURE: random rewards for tests"}, "license": "CC0-1.0"}
    if cost is not None:
        manifest["cost"] = cost
    save_bank(directory, manifest, queries, rewards)
    return directory
