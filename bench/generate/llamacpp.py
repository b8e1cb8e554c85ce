"""The ``llamacpp`` backend (CPU default): llama-cpp-python's low-level API, n samples as one batch.

The prompt is decoded once with every one of its ``n`` sequence ids attached to each prompt
token, so the samples share the prompt's KV cache; then each step decodes the next token of
every unfinished sample in one ``llama_decode`` call (llama.cpp's "batched" example).  Each
sample has its own sampler chain (top-p, temperature, then a draw seeded by
:func:`bench.generate.base.sample_seed`), so a sample depends on its own seed only, not on the
order in which queries are run or resumed.

The high-level ``Llama`` object is used only to load the model and read its metadata (chat
template, special tokens); it has no ``n > 1`` and is about 2x slower per sample.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.errors import HardbenchError
from bench.generate.base import Completion, DecodingParams, Request, cut_at_stop

#: prompt tokens assumed when sizing the context before the first prompt is seen.
_PROMPT_ALLOWANCE = 1024


def physical_cores(sysfs: Path = Path("/sys/devices/system/cpu")) -> int:
    """Physical cores among the CPUs this process may run on (hyperthread siblings count once).

    Read from Linux's CPU topology (``cpuN/topology/thread_siblings_list``); where that is not
    available, half the logical CPUs (llama-cpp-python's own default), at least 1.
    """
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = list(range(os.cpu_count() or 2))
    try:
        cores = {(sysfs / f"cpu{cpu}" / "topology" / "thread_siblings_list").read_text().strip()
                 for cpu in allowed}
    except OSError:
        return max(1, len(allowed) // 2)
    return max(1, len(cores))


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as err:
        raise HardbenchError("the llamacpp backend needs llama-cpp-python: "
                             "pip install 'hardbench[llamacpp]' (it compiles llama.cpp, ~5 min)") from err
    return llama_cpp


class LlamaCppBackend:
    """Batched sampling with llama-cpp-python; ``batch_queries`` = 1 (one prompt per batch)."""

    name = "llamacpp"
    batch_queries = 1

    def __init__(self, model_path: str, *, n_threads: int | None = None) -> None:
        self.lib = _import_llama_cpp()
        self.model_path = model_path
        # one thread per physical core we may run on (llama.cpp's own default; hyperthreads only
        # slow it down); on a busy machine 1 thread is fastest (llama.cpp's threads spin at every
        # barrier): set HARDBENCH_THREADS.
        self.n_threads = (n_threads or int(os.environ.get("HARDBENCH_THREADS", 0))
                          or physical_cores())
        self.llm = self.lib.Llama(model_path=model_path, n_ctx=256, n_batch=256, n_threads=self.n_threads,
                                  verbose=False)
        self.vocab = self.lib.llama_model_get_vocab(self.llm._model.model)
        self._ctx: Any = None
        self._ctx_size = (0, 0)   # (n_ctx, n_seq_max)

    # ------------------------------------------------------------------ metadata

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "engine": "llama-cpp-python", "version": self.lib.__version__,
                "n_threads": self.n_threads, "kv_cache": "prompt shared by the n samples"}

    def chat_template_prompt(self, messages: Sequence[Mapping[str, str]]) -> str | None:
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        model = self.llm._model
        eos, bos = self.llm.token_eos(), self.llm.token_bos()
        formatter = Jinja2ChatFormatter(template=template,
                                        eos_token=model.token_get_text(eos) if eos != -1 else "",
                                        bos_token=model.token_get_text(bos) if bos != -1 else "")
        return formatter(messages=[dict(m) for m in messages]).prompt

    def tokenize(self, prompt: str) -> list[int]:
        """Prompt tokens; BOS is added unless the (chat-templated) text already starts with it."""
        bos = self.llm.token_bos()
        bos_text = self.llm._model.token_get_text(bos) if bos != -1 else ""
        add_bos = not (bos_text and prompt.startswith(bos_text))
        return self.llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)

    # ------------------------------------------------------------------ decoding

    def _context(self, n_ctx: int, n_seq: int) -> Any:
        """A context with room for ``n_ctx`` cells and ``n_seq`` sequences (recreated if too small)."""
        have_ctx, have_seq = self._ctx_size
        if self._ctx is not None and have_ctx >= n_ctx and have_seq >= n_seq:
            return self._ctx
        self._free_context()
        lib = self.lib
        params = lib.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = min(n_ctx, 2048)
        params.n_ubatch = min(n_ctx, 512)
        params.n_seq_max = n_seq
        params.n_threads = self.n_threads
        params.n_threads_batch = self.n_threads
        params.kv_unified = True       # the n samples share one prompt: one buffer is best
        params.no_perf = True
        ctx = lib.llama_init_from_model(self.llm._model.model, params)
        if not ctx:
            raise HardbenchError(f"llama.cpp could not create a context of {n_ctx} tokens x {n_seq} sequences")
        self._ctx, self._ctx_size = ctx, (n_ctx, n_seq)
        return ctx

    def _free_context(self) -> None:
        if self._ctx is not None:
            self.lib.llama_free(self._ctx)
            self._ctx = None

    def close(self) -> None:
        self._free_context()
        self.llm.close()

    def _piece(self, token: int) -> bytes:
        buffer = ctypes.create_string_buffer(64)
        n = self.lib.llama_token_to_piece(self.vocab, token, buffer, 64, 0, False)
        if n < 0:
            buffer = ctypes.create_string_buffer(-n)
            n = self.lib.llama_token_to_piece(self.vocab, token, buffer, -n, 0, False)
        return buffer.raw[:n]

    def _sampler(self, params: DecodingParams, seed: int) -> Any:
        lib = self.lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if params.temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        if params.top_p < 1.0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(params.top_p, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(params.temperature))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(seed))
        return chain

    def generate(self, requests: Sequence[Request], params: DecodingParams) -> list[list[Completion]]:
        return [self._generate_one(request, params) for request in requests]

    def _generate_one(self, request: Request, params: DecodingParams) -> list[Completion]:
        lib = self.lib
        n = request.n
        prompt = self.tokenize(request.prompt)
        n_ctx = len(prompt) + n * params.max_tokens + 8
        ctx = self._context(max(n_ctx, _PROMPT_ALLOWANCE + n * params.max_tokens), n)
        lib.llama_memory_clear(lib.llama_get_memory(ctx), True)
        n_batch = min(self._ctx_size[0], 2048)
        batch = lib.llama_batch_init(max(min(len(prompt), n_batch), n), 0, n)
        samplers = [self._sampler(params, seed) for seed in request.seeds]
        try:
            # prompt, in chunks of n_batch tokens; each token belongs to all n sequences
            for start in range(0, len(prompt), n_batch):
                chunk = prompt[start:start + n_batch]
                for i, token in enumerate(chunk):
                    batch.token[i] = token
                    batch.pos[i] = start + i
                    batch.n_seq_id[i] = n
                    for s in range(n):
                        batch.seq_id[i][s] = s
                    batch.logits[i] = start + i == len(prompt) - 1
                batch.n_tokens = len(chunk)
                self._decode(ctx, batch)
            output_index = [batch.n_tokens - 1] * n
            pieces: list[list[bytes]] = [[] for _ in range(n)]
            n_tokens = [0] * n
            finish: list[str | None] = [None] * n
            text_cache = [""] * n
            while True:
                step = []
                for s in range(n):
                    if finish[s] is not None:
                        continue
                    token = lib.llama_sampler_sample(samplers[s], ctx, output_index[s])
                    n_tokens[s] += 1
                    if lib.llama_vocab_is_eog(self.vocab, token):
                        finish[s] = "stop"
                        continue
                    pieces[s].append(self._piece(token))
                    if params.stop:
                        text_cache[s] = b"".join(pieces[s]).decode("utf-8", errors="ignore")
                        if cut_at_stop(text_cache[s], params.stop)[1]:
                            finish[s] = "stop"
                            continue
                    if n_tokens[s] >= params.max_tokens:
                        finish[s] = "length"
                        continue
                    step.append((s, token))
                if not step:
                    break
                for i, (s, token) in enumerate(step):
                    batch.token[i] = token
                    batch.pos[i] = len(prompt) + n_tokens[s] - 1
                    batch.n_seq_id[i] = 1
                    batch.seq_id[i][0] = s
                    batch.logits[i] = True
                    output_index[s] = i
                batch.n_tokens = len(step)
                self._decode(ctx, batch)
        finally:
            for sampler in samplers:
                lib.llama_sampler_free(sampler)
            lib.llama_batch_free(batch)
        completions = []
        for s in range(n):
            text, _ = cut_at_stop(b"".join(pieces[s]).decode("utf-8", errors="replace"), params.stop)
            completions.append(Completion(text=text, n_tokens=n_tokens[s], finish_reason=str(finish[s])))
        return completions

    def _decode(self, ctx: Any, batch: Any) -> None:
        code = self.lib.llama_decode(ctx, batch)
        if code != 0:
            raise HardbenchError(f"llama_decode failed with code {code} (context too small or "
                                 "out of memory); lower --n or --max-tokens")
