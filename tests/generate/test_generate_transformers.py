"""The ``transformers`` backend on the smallest registry model (its GGUF dequantised by transformers)."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")

from bench.generate.base import DecodingParams, Request  # noqa: E402
from bench.generate.models import resolve_model  # noqa: E402
from bench.generate.transformers_backend import TransformersBackend  # noqa: E402

pytestmark = pytest.mark.slow


def test_samples_chat_template_and_seeds() -> None:
    backend = TransformersBackend(resolve_model("smollm2-135m-instruct"))
    prompt = backend.chat_template_prompt([{"role": "user", "content": "What is 2 + 3?"}])
    assert prompt is not None and prompt.rstrip().endswith("<|im_start|>assistant")
    params = DecodingParams(temperature=0.8, top_p=1.0, max_tokens=6, stop=())
    request = Request("q", prompt, (5, 6, 7))
    first = backend.generate([request], params)[0]
    again = backend.generate([request], params)[0]
    assert len(first) == 3 and all(1 <= c.n_tokens <= 6 for c in first)
    assert all(c.finish_reason == ("length" if c.n_tokens == 6 else "stop") for c in first)
    assert [c.text for c in first] == [c.text for c in again]        # seeded per query
    stopped = backend.generate([Request("q", prompt, (5,))],
                               DecodingParams(temperature=0.0, top_p=1.0, max_tokens=6, stop=(" ",)))[0][0]
    assert " " not in stopped.text and stopped.finish_reason == "stop"
