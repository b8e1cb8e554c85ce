"""Fixture views for the submission tests: real GSM8K prompts and labels, fixture features.

The 96 rows of ``data/gsm8k_fixture.jsonl`` (see ``data/README.md``) give, per target kind,
a train view (48 train + 16 val rows) and a test view (32 rows).  Targets are derived from
real correctness labels; the ``fixture-bow`` features are a hashed bag of words of the
question, computed here (a fixture, not a model's features).
"""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bench.predictors.base import TestView, TrainView

DATA = Path(__file__).with_name("data") / "gsm8k_fixture.jsonl"
FEATURE = "fixture-bow"
B_MAX = 4
N_TRAIN, N_VAL = 48, 16
SETTINGS = {"success_prob": "best_of_k", "marginal_rewards": "best_of_k", "preference": "routing"}
#: portfolio target kinds: one output per decoder; the three decoders are the fixture's OpenAI
#: samples (4 per query), Mixtral (1) and GPT-4 (1), all real labels
PORTFOLIO_KINDS = ("success_prob_per_decoder", "marginal_rewards_per_decoder")


def load_rows() -> list[dict]:
    with open(DATA) as fh:
        return [json.loads(line) for line in fh]


def bow_features(texts: list[str], dim: int = 32) -> np.ndarray:
    """Fixture features: hashed bag of words (md5 buckets) plus log word count, float32."""
    out = np.zeros((len(texts), dim + 1), dtype=np.float32)
    for i, text in enumerate(texts):
        words = re.findall(r"[a-z0-9]+", text.lower())
        for w in words:
            out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % dim] += 1.0
        out[i, dim] = np.log1p(len(words))
    return out


def fixture_targets(rows: list[dict], target_kind: str) -> np.ndarray:
    """Targets of each kind derived from the real labels (see module docstring)."""
    lam = np.array([np.mean(r["openai_correct"]) for r in rows])
    if target_kind in PORTFOLIO_KINDS:
        per_decoder = np.stack([lam, [float(r["mixtral_correct"]) for r in rows],
                                [float(r["gpt4_correct"]) for r in rows]], axis=1)
        if target_kind == "success_prob_per_decoder":
            return per_decoder
        return np.concatenate([np.stack([p * (1 - p) ** (j - 1) for j in range(1, B_MAX + 1)], axis=1)
                               for p in per_decoder.T], axis=1)
    if target_kind == "success_prob":
        return lam
    if target_kind == "marginal_rewards":  # binary best-of-k: Delta_j = lam (1 - lam)^(j-1)
        return np.stack([lam * (1 - lam) ** (j - 1) for j in range(1, B_MAX + 1)], axis=1)
    diff = np.array([float(r["gpt4_correct"]) - float(r["mixtral_correct"]) for r in rows])
    return 1.0 / (1.0 + np.exp(-diff))  # p(S > W) with binary rewards


def build_views(target_kind: str, seed: int = 0) -> tuple[TrainView, TestView, np.ndarray]:
    """(train view, test view, the test targets kept by the harness) for ``target_kind``."""
    rows = load_rows()
    n_fit = N_TRAIN + N_VAL
    prompts = [r["question"] for r in rows]
    ids = np.array([r["query_id"] for r in rows])
    feats = bow_features(prompts)
    targets = fixture_targets(rows, target_kind)
    b_max = targets.shape[1] if targets.ndim == 2 else 1
    common = dict(task="gsm8k-fixture", bank="fixture", setting=SETTINGS.get(target_kind, "portfolio"),
                  target_kind=target_kind, b_max=b_max, seed=seed)
    train = TrainView(query_ids=ids[:n_fit], splits=np.array(["train"] * N_TRAIN + ["val"] * N_VAL),
                      prompts=prompts[:n_fit], features={FEATURE: feats[:n_fit]},
                      targets=targets[:n_fit], **common)
    test = TestView(query_ids=ids[n_fit:], prompts=prompts[n_fit:],
                    features={FEATURE: feats[n_fit:]}, **common)
    return train, test, targets[n_fit:]


@pytest.fixture(params=sorted(SETTINGS))
def views(request: pytest.FixtureRequest) -> tuple[TrainView, TestView, np.ndarray]:
    """Fixture views for each target kind."""
    return build_views(request.param)


def write_submission(folder: Path, code: str, params: dict | None = None,
                     entry: str = "predictor:Probe") -> Path:
    """Write a small code submission (``predictor.py`` + ``submission.yaml``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "predictor.py").write_text(textwrap.dedent(code))
    meta = {"name": folder.name, "kind": "code", "entry": entry, "params": params or {}}
    (folder / "submission.yaml").write_text(json.dumps(meta))
    return folder
