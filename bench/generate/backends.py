"""Backend choice: resolve ``--model`` for a backend and build the engine lazily.

Engines are imported only when a run starts, so ``bench generate --help`` and the input
checks never pay for llama.cpp, torch or vLLM.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bench.generate.base import Backend
from bench.generate.models import ResolvedModel, resolve_model
from bench.generate.pipeline import GenerateError


def resolve_for_backend(model: str, backend: str) -> ResolvedModel:
    """The model for ``backend``: openai takes the served model's name as is."""
    if backend == "openai":
        return ResolvedModel(name=model.split("/")[-1].lower(), location=model, kind="served",
                             instruct=True, provenance={"id": model, "source": "openai-compatible server"})
    resolved = resolve_model(model)
    if backend == "llamacpp" and not resolved.is_gguf:
        raise GenerateError(f"--backend llamacpp needs a GGUF model; {model!r} is a {resolved.kind} "
                            "model (use --backend transformers or vllm)")
    return resolved


def backend_factory(backend: str, model: ResolvedModel, options: Mapping[str, Any]) -> Callable[[], Backend]:
    """A zero-argument builder of the engine (called after every input check passed)."""
    if backend == "llamacpp":
        def build() -> Backend:
            from bench.generate.llamacpp import LlamaCppBackend

            return LlamaCppBackend(model.location)
    elif backend == "openai":
        def build() -> Backend:
            from bench.generate.openai_backend import OpenAIBackend

            if not options.get("base_url"):
                raise GenerateError("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1)")
            return OpenAIBackend(str(options["base_url"]), model.location,
                                 concurrency=int(options.get("concurrency") or 8))
    elif backend == "transformers":
        def build() -> Backend:
            from bench.generate.transformers_backend import TransformersBackend

            return TransformersBackend(model)
    elif backend == "vllm":
        def build() -> Backend:
            from bench.generate.vllm_backend import VLLMBackend

            return VLLMBackend(model, tensor_parallel_size=int(options.get("tensor_parallel_size") or 1),
                               distributed_executor_backend=options.get("distributed_executor_backend"),
                               seed=int(options.get("seed") or 0))
    else:
        raise GenerateError(f"unknown backend {backend!r}")
    return build
