"""The llamacpp backend's batching of several prompts, and its AMX guard, on the real engine.

SmolLM2-135M-Instruct (the tests' registry model) decodes a few short prompts.  Greedy decoding
makes the check exact: a prompt's samples must be the same whether it is decoded alone or in one
batch with other prompts of other lengths and sample counts, which fails if a sequence reads
another prompt's KV cells, gets the wrong position or the wrong logits row.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

llama_cpp = pytest.importorskip("llama_cpp")

from bench.generate.base import DecodingParams, Request  # noqa: E402
from bench.generate.llamacpp import (  # noqa: E402
    LlamaCppBackend, default_model_params_without_extra_buffers, amx_compiled,
)
from bench.generate.models import REGISTRY, ensure_registry_model  # noqa: E402

pytestmark = pytest.mark.slow

PROMPTS = ("Count from one to ten: one, two,", "The capital of France is",
           "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n")


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    model = ensure_registry_model(REGISTRY["smollm2-135m-instruct"])
    engine = LlamaCppBackend(str(model), n_threads=1)
    yield engine
    engine.close()


def _requests(ns: tuple[int, ...]) -> list[Request]:
    return [Request(f"q{i}", prompt, tuple(range(100 * i, 100 * i + n)))
            for i, (prompt, n) in enumerate(zip(PROMPTS, ns))]


def test_batched_prompts_equal_one_prompt_at_a_time_when_greedy(backend: LlamaCppBackend) -> None:
    params = DecodingParams(temperature=0.0, top_p=1.0, max_tokens=12, stop=())
    requests = _requests((2, 3, 1))
    alone = [backend.generate([request], params)[0] for request in requests]
    together = backend.generate(requests, params)
    assert [len(c) for c in together] == [2, 3, 1]
    assert [[c.text for c in cs] for cs in together] == [[c.text for c in cs] for cs in alone]
    assert [[c.n_tokens for c in cs] for cs in together] == [[c.n_tokens for c in cs] for cs in alone]
    # the three prompts really continue differently (a mix-up would not go unnoticed)
    assert len({cs[0].text for cs in together}) == 3


def test_batched_sampling_keeps_each_sample_its_own_seed_and_limits(backend: LlamaCppBackend) -> None:
    params = DecodingParams(temperature=1.0, top_p=1.0, max_tokens=10, stop=("\n\n",))
    together = backend.generate(_requests((3, 2)), params)
    for completions in together:
        for completion in completions:
            assert 1 <= completion.n_tokens <= 10
            assert completion.finish_reason in {"stop", "length"}
            assert (completion.n_tokens == 10) == (completion.finish_reason == "length") \
                or completion.finish_reason == "stop"
            assert "\n\n" not in completion.text
    # a sample depends on its seed: the same request again gives the same samples
    again = backend.generate(_requests((3,)), params)[0]
    assert [c.text for c in again] == [c.text for c in backend.generate(_requests((3,)), params)[0]]


def test_batch_queries_comes_from_the_environment_and_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    model = ensure_registry_model(REGISTRY["smollm2-135m-instruct"])
    monkeypatch.setenv("HARDBENCH_BATCH_QUERIES", "4")
    engine = LlamaCppBackend(str(model), n_threads=1)
    try:
        assert engine.batch_queries == 4
        assert engine.describe()["batch_queries"] == 4
    finally:
        engine.close()
    monkeypatch.delenv("HARDBENCH_BATCH_QUERIES")
    engine = LlamaCppBackend(str(model), n_threads=1)
    try:
        assert engine.batch_queries == 1 and "batch_queries" not in engine.describe()
    finally:
        engine.close()


def test_amx_is_read_from_the_build_system_info() -> None:
    amx = SimpleNamespace(llama_print_system_info=lambda: b"CPU : AVX2 = 1 | AMX_INT8 = 1 | REPACK = 1 |")
    plain = SimpleNamespace(llama_print_system_info=lambda: b"CPU : AVX2 = 1 | AVX512 = 1 | REPACK = 1 |")
    assert amx_compiled(amx) and not amx_compiled(plain)


def test_extra_buffer_types_are_off_only_while_loading() -> None:
    high_level = llama_cpp.llama
    assert high_level.llama_cpp.llama_model_default_params().use_extra_bufts
    with default_model_params_without_extra_buffers(llama_cpp):
        assert not high_level.llama_cpp.llama_model_default_params().use_extra_bufts
    assert high_level.llama_cpp.llama_model_default_params().use_extra_bufts
