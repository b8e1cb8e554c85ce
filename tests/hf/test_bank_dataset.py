"""``load_bank_dataset``: a shipped bank as a ``datasets.DatasetDict``, checked against the
bank's own parquet files (splits, ids, per-decoder reward lists, feature rows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("datasets")

from bench.bank import load_bank, resolve_bank_dir  # noqa: E402
from bench.errors import UnknownNameError  # noqa: E402
from bench.hf import load_bank_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TASK, BANK = "lmsys", "arena-mixtral-vs-gpt4"

pytestmark = pytest.mark.skipif(
    not (ROOT / "tasks" / TASK / "banks" / BANK / "manifest.json").is_file(),
    reason="shipped LMSYS bank missing")


def test_splits_rewards_and_features_match_the_bank() -> None:
    bank = load_bank(resolve_bank_dir(BANK, TASK))
    ds = load_bank_dataset(BANK, task=TASK, features=["minilm"])
    counts = bank.queries["split"].value_counts().to_dict()
    assert {s: len(d) for s, d in ds.items()} == counts
    matrix = bank.features("minilm")
    order = {q: i for i, q in enumerate(bank.queries["query_id"])}
    for split, data in ds.items():
        assert set(data["split"]) == {split}
        for row in data.select(range(min(5, len(data)))):
            i = order[row["query_id"]]
            assert row["prompt"] == bank.queries["prompt"].iloc[i]
            for decoder in bank.decoders:
                expected = bank.rewards[(bank.rewards["query_id"] == row["query_id"])
                                        & (bank.rewards["decoder"] == decoder)]
                expected = expected.sort_values("sample")["reward"].tolist()
                assert row["rewards"][decoder] == expected
            np.testing.assert_array_equal(np.asarray(row["features.minilm"], dtype=np.float32), matrix[i])
    test = ds["test"].with_format("numpy")[:]["features.minilm"]
    assert test.shape == (counts["test"], matrix.shape[1]) and test.dtype == np.float32


def test_defaults_and_errors() -> None:
    ds = load_bank_dataset(resolve_bank_dir(BANK, TASK))  # a folder: no task needed
    assert not any(c.startswith("features.") for c in ds["train"].column_names)
    decoder = load_bank(resolve_bank_dir(BANK, TASK)).decoders[1]
    only = load_bank_dataset(BANK, task=TASK, decoders=[decoder])
    assert list(only["val"][0]["rewards"]) == [decoder]
    with pytest.raises(UnknownNameError, match="no features"):
        load_bank_dataset(BANK, task=TASK, features=["nope"])
    with pytest.raises(UnknownNameError, match="no decoders"):
        load_bank_dataset(BANK, task=TASK, decoders=["nope"])
