"""The chunked, resumable computation (`bench.features.compute`), with a cheap exact extractor.

``LetterCounts`` is a test double with a known answer: row i is the letter histogram of prompt i,
so every expected matrix can be computed independently in the test.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.bank import load_bank, read_queries
from bench.features.base import FeatureExtractionError
from bench.features.compute import extract_features, partial_dir
from bench.fileio import sha256_file


class LetterCounts:
    """Row = counts of a..z in the text (26 floats); records every batch it encodes."""

    spec = "letter-counts"
    name = "letter-counts"

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.batches: list[list[str]] = []

    def producer(self) -> dict[str, Any]:
        return {"extractor": self.spec, "version": self.version}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return np.array([expected_row(t) for t in texts], dtype=np.float32)


def expected_row(text: str) -> list[float]:
    lower = text.lower()
    return [float(lower.count(chr(c))) for c in range(ord("a"), ord("z") + 1)]


class Interrupt(Exception):
    """Simulated crash (e.g. the job is killed) after a chunk."""


def interrupt_after(index: int):
    def hook(chunk: int) -> None:
        if chunk == index:
            raise Interrupt(f"stopped after chunk {chunk}")
    return hook


def test_full_run_writes_matrix_in_query_order_and_records_it(bank21: Path) -> None:
    extractor = LetterCounts()
    run = extract_features(bank21, extractor, chunk_size=5, batch_size=2, progress=False)
    prompts = read_queries(bank21)["prompt"].tolist()
    matrix = np.load(run.path)
    assert run.name == "letter-counts" and run.shape == (21, 26)
    assert run.chunks_total == 5 and run.chunks_reused == 0
    assert matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix, np.array([expected_row(p) for p in prompts], dtype=np.float32))
    # batches never cross chunk boundaries: 5 chunks of sizes 5,5,5,5,1 -> batches 2,2,1 x4 + 1,
    # and within a chunk prompts are batched shortest first
    assert [len(b) for b in extractor.batches] == [2, 2, 1] * 4 + [1]
    for c in range(4):
        lengths = [len(t) for b in extractor.batches[3 * c:3 * c + 3] for t in b]
        assert lengths == sorted(len(p) for p in prompts[5 * c:5 * c + 5])
    bank = load_bank(bank21)  # checksums were rewritten: the bank still verifies
    assert bank.feature_names == ["letter-counts"]
    assert bank.manifest["features"]["letter-counts"] == {"extractor": "letter-counts", "version": 1, "dim": 26}
    np.testing.assert_array_equal(bank.features("letter-counts"), matrix)
    assert not (bank21 / "features" / ".partial").exists()


def test_interrupted_run_resumes_and_equals_uninterrupted_run(bank21: Path, tmp_path: Path) -> None:
    reference = extract_features(bank21, LetterCounts(), chunk_size=5, batch_size=3, progress=False,
                                 name="reference")
    first = LetterCounts()
    with pytest.raises(Interrupt):
        extract_features(bank21, first, chunk_size=5, batch_size=3, progress=False,
                         after_chunk=interrupt_after(1))
    folder = partial_dir(bank21, "letter-counts")
    assert sorted(p.name for p in folder.iterdir()) == ["chunk-00000.npy", "chunk-00001.npy", "state.json"]
    assert "letter-counts" not in json.loads((bank21 / "manifest.json").read_text())["features"]

    second = LetterCounts()
    run = extract_features(bank21, second, chunk_size=5, batch_size=3, progress=False)
    assert run.chunks_reused == 2
    prompts = read_queries(bank21)["prompt"].tolist()
    assert sorted(t for batch in second.batches for t in batch) == sorted(prompts[10:])  # only the unfinished rows
    assert sha256_file(run.path) == sha256_file(reference.path)
    assert not folder.exists()
    load_bank(bank21)


def test_changed_settings_discard_partial_results(bank21: Path) -> None:
    with pytest.raises(Interrupt):
        extract_features(bank21, LetterCounts(version=1), chunk_size=5, progress=False,
                         after_chunk=interrupt_after(0))
    # a different producer (e.g. another model revision) must not reuse version-1 chunks
    again = LetterCounts(version=2)
    run = extract_features(bank21, again, chunk_size=5, progress=False)
    assert run.chunks_reused == 0
    assert sum(len(b) for b in again.batches) == 21


def test_changed_chunk_size_discards_partial_results(bank21: Path) -> None:
    with pytest.raises(Interrupt):
        extract_features(bank21, LetterCounts(), chunk_size=5, progress=False,
                         after_chunk=interrupt_after(1))
    run = extract_features(bank21, LetterCounts(), chunk_size=7, progress=False)
    assert (run.chunks_total, run.chunks_reused) == (3, 0)


def test_corrupt_chunk_is_recomputed(bank21: Path) -> None:
    with pytest.raises(Interrupt):
        extract_features(bank21, LetterCounts(), chunk_size=5, progress=False,
                         after_chunk=interrupt_after(1))
    (partial_dir(bank21, "letter-counts") / "chunk-00001.npy").write_bytes(b"truncated")
    again = LetterCounts()
    run = extract_features(bank21, again, chunk_size=5, progress=False)
    assert run.chunks_reused == 1
    prompts = read_queries(bank21)["prompt"].tolist()
    np.testing.assert_array_equal(np.load(run.path), np.array([expected_row(p) for p in prompts]))


def test_existing_feature_needs_overwrite(bank8: Path) -> None:
    extract_features(bank8, LetterCounts(), progress=False)
    with pytest.raises(FeatureExtractionError, match="already has features 'letter-counts'.*--overwrite"):
        extract_features(bank8, LetterCounts(), progress=False)
    run = extract_features(bank8, LetterCounts(version=3), progress=False, overwrite=True)
    assert load_bank(bank8).manifest["features"][run.name]["version"] == 3


class WrongRows(LetterCounts):
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return super().encode(texts)[:-1]


class NotFinite(LetterCounts):
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = super().encode(texts)
        out[0, 0] = np.nan
        return out


@pytest.mark.parametrize("broken, message", [(WrongRows, r"returned shape \(2, 26\) for 3 texts"),
                                             (NotFinite, "NaN or infinite")])
def test_broken_extractor_output_is_refused(bank8: Path, broken: type, message: str) -> None:
    with pytest.raises(FeatureExtractionError, match=message):
        extract_features(bank8, broken(), batch_size=3, progress=False)


def test_bad_sizes_and_unsafe_names_are_refused(bank8: Path) -> None:
    with pytest.raises(FeatureExtractionError, match="must be >= 1"):
        extract_features(bank8, LetterCounts(), chunk_size=0, progress=False)
    for bad in ("a:b", "../x", ".hidden", "a/b"):
        with pytest.raises(FeatureExtractionError, match="not a safe file name"):
            extract_features(bank8, LetterCounts(), name=bad, progress=False)
    assert not (bank8 / "features").exists()


class FailsToLoad(LetterCounts):
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise FeatureExtractionError("model not found")


def test_failure_before_the_first_chunk_leaves_the_bank_untouched(bank8: Path) -> None:
    manifest = (bank8 / "manifest.json").read_bytes()
    with pytest.raises(FeatureExtractionError, match="model not found"):
        extract_features(bank8, FailsToLoad(), progress=False)
    assert not (bank8 / "features").exists()
    assert (bank8 / "manifest.json").read_bytes() == manifest


def test_float16_storage_is_applied_when_the_matrix_is_written(bank21: Path) -> None:
    """--storage float16: chunks stay float32 (resumption is unchanged), the bank's file is float16."""
    run = extract_features(bank21, LetterCounts(), chunk_size=5, batch_size=2, progress=False,
                           storage="float16")
    assert np.load(run.path).dtype == np.float16
    bank = load_bank(bank21)
    assert bank.feature_storage("letter-counts") == "float16"
    prompts = read_queries(bank21)["prompt"].tolist()   # small counts: exact in float16
    np.testing.assert_array_equal(bank.features("letter-counts"),
                                  np.array([expected_row(p) for p in prompts], dtype=np.float32))
    with pytest.raises(FeatureExtractionError, match="storage 'float64'"):
        extract_features(bank21, LetterCounts(), storage="float64", name="other", progress=False)


def test_overwrite_keeps_the_replaced_features_storage_unless_told(bank21: Path) -> None:
    first = extract_features(bank21, LetterCounts(), chunk_size=5, progress=False, storage="float16")
    assert first.storage == "float16"
    again = extract_features(bank21, LetterCounts(version=2), chunk_size=5, progress=False, overwrite=True)
    assert again.storage == "float16" and np.load(again.path).dtype == np.float16
    told = extract_features(bank21, LetterCounts(version=3), chunk_size=5, progress=False, overwrite=True,
                            storage="float32")
    assert told.storage == "float32" and load_bank(bank21).feature_storage("letter-counts") == "float32"
    fresh = extract_features(bank21, LetterCounts(), chunk_size=5, progress=False, name="other")
    assert fresh.storage == "float32"
