"""Extractor specs, feature names, model resolution and devices (no model is loaded here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import UnknownNameError
from bench.features.base import (
    FeatureExtractionError,
    check_device,
    feature_name,
    make_extractor,
    parse_spec,
    slugify,
)
from bench.features.compute import SAFE_NAME
from bench.features.lm_hidden import LastHiddenExtractor
from bench.features.minilm import MiniLMExtractor
from bench.features.models import resolve_lm_source


@pytest.mark.parametrize("spec, chat, expected", [
    ("minilm", False, "minilm"),
    ("lm-last-hidden:gemma3-270m", False, "lm-last-hidden--gemma3-270m"),
    ("lm-last-hidden:gemma3-270m", True, "lm-last-hidden--gemma3-270m--chat"),
    ("lm-last-hidden:google/gemma-3-1b-it", False, "lm-last-hidden--google--gemma-3-1b-it"),
    ("lm-last-hidden:Qwen/Qwen2.5-0.5B", False, "lm-last-hidden--qwen--qwen2.5-0.5b"),
    ("lm-last-hidden:./models/My Model v2", False, "lm-last-hidden--models--my-model-v2"),
    ("lm-last-hidden:/abs/path/m.gguf", False, "lm-last-hidden--abs--path--m.gguf"),
])
def test_feature_names(spec: str, chat: bool, expected: str) -> None:
    name = feature_name(spec, chat_template=chat)
    assert name == expected
    assert SAFE_NAME.fullmatch(name)


def test_long_model_names_are_cut_but_stay_distinct() -> None:
    a = slugify("org/" + "x" * 300 + "a")
    b = slugify("org/" + "x" * 300 + "b")
    assert a != b and len(a) <= 100 and len(b) <= 100
    assert SAFE_NAME.fullmatch(a)


def test_parse_spec() -> None:
    assert parse_spec("minilm") == ("minilm", None)
    assert parse_spec("lm-last-hidden:org/model") == ("lm-last-hidden", "org/model")
    with pytest.raises(UnknownNameError, match="did you mean 'minilm'"):
        parse_spec("minlm")
    with pytest.raises(FeatureExtractionError, match="needs a model"):
        parse_spec("lm-last-hidden")
    with pytest.raises(FeatureExtractionError, match="takes no argument"):
        parse_spec("minilm:foo")


def test_make_extractor_stores_options_only() -> None:
    lm = make_extractor("lm-last-hidden:no/such-model-anywhere", device="cpu", chat_template=True,
                        max_tokens=64)
    assert isinstance(lm, LastHiddenExtractor)
    assert (lm.model, lm.chat_template, lm.max_tokens) == ("no/such-model-anywhere", True, 64)
    assert lm.name == "lm-last-hidden--no--such-model-anywhere--chat"
    assert not hasattr(lm, "model_")
    mini = make_extractor("minilm")
    assert isinstance(mini, MiniLMExtractor) and mini.max_tokens == 256
    with pytest.raises(FeatureExtractionError, match="no chat template option"):
        make_extractor("minilm", chat_template=True)
    with pytest.raises(FeatureExtractionError, match="--max-tokens must be >= 1"):
        make_extractor("minilm", max_tokens=0)


def test_resolve_local_sources(tmp_path: Path) -> None:
    gguf = tmp_path / "one" / "m.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    by_file = resolve_lm_source(str(gguf))
    assert (by_file.location, by_file.gguf_file) == (str(gguf.parent.resolve()), "m.gguf")
    by_dir = resolve_lm_source(str(gguf.parent))
    assert by_dir.gguf_file == "m.gguf" and by_dir.pretrained_kwargs() == {"gguf_file": "m.gguf"}
    (tmp_path / "one" / "n.gguf").write_bytes(b"GGUF")
    with pytest.raises(FeatureExtractionError, match="2 .gguf files"):
        resolve_lm_source(str(gguf.parent))
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{}")
    local = resolve_lm_source(str(checkpoint))
    assert local.gguf_file is None and local.description["source"] == "local"
    with pytest.raises(FeatureExtractionError, match="must be a .gguf file"):
        resolve_lm_source(str(checkpoint / "config.json"))
    hub = resolve_lm_source("google/gemma-3-270m")
    assert (hub.location, hub.description["source"]) == ("google/gemma-3-270m", "hub")


def test_unknown_hub_model_offline_is_one_clear_error() -> None:
    extractor = make_extractor("lm-last-hidden:hardbench-test/does-not-exist")
    with pytest.raises(FeatureExtractionError, match="could not load .*does-not-exist"):
        extractor.encode(["hello"])


def test_check_device() -> None:
    import torch

    check_device("cpu")
    with pytest.raises(FeatureExtractionError, match="not a torch device"):
        check_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(FeatureExtractionError, match="CUDA is not available"):
            check_device("cuda")
