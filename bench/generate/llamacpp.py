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
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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


def import_llama_cpp() -> Any:
    """The ``llama_cpp`` module, or a HardbenchError that says how to install it."""
    try:
        import llama_cpp
    except ImportError as err:
        raise HardbenchError("the llamacpp backend needs llama-cpp-python: "
                             "pip install 'hardbench[llamacpp]' (it compiles llama.cpp, ~5 min)") from err
    return llama_cpp


def amx_compiled(lib: Any) -> bool:
    """Whether this llama.cpp build uses Intel AMX on this CPU (``AMX_INT8 = 1`` in its system info).

    A build made with ``-march=native`` on a Sapphire-Rapids-class CPU repacks the weights into
    an AMX buffer, and its AMX matrix multiply segfaults on the first decode of our Q4_K_M models
    (seen here with llama-cpp-python 0.3.36; llama.cpp issue 20824).
    """
    info = lib.llama_print_system_info()
    text = info.decode("utf-8", errors="replace") if isinstance(info, bytes) else str(info)
    return "AMX_INT8 = 1" in text


@contextmanager
def default_model_params_without_extra_buffers(lib: Any) -> Iterator[None]:
    """While active, ``Llama(...)`` loads with ``use_extra_bufts = False`` (no AMX/repack buffers).

    ``Llama`` takes its model parameters from ``llama_model_default_params()`` and exposes no
    argument for this field, so the default is swapped while the block runs: for one load in
    :func:`load_llama`, for the server's whole life in :mod:`bench.generate.llamacpp_server`.
    """
    import llama_cpp.llama as high_level

    original = high_level.llama_cpp.llama_model_default_params

    def patched() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    high_level.llama_cpp.llama_model_default_params = patched
    try:
        yield
    finally:
        high_level.llama_cpp.llama_model_default_params = original


@contextmanager
def amx_safe_loading(lib: Any, what: str) -> Iterator[bool]:
    """While active, ``Llama(...)`` loads safely on this build; yields whether extra buffers are off.

    On an AMX build (:func:`amx_compiled`) it warns once, naming ``what`` is loaded that way, and
    turns extra buffer types off (:func:`default_model_params_without_extra_buffers`); on any
    other build it changes nothing.  :func:`load_llama` wraps one load in it, the server of
    :mod:`bench.generate.llamacpp_server` its whole life.
    """
    if not amx_compiled(lib):
        yield False
        return
    warnings.warn("this llama-cpp-python build uses Intel AMX, whose matrix multiply segfaults on "
                  f"Q4_K_M models (llama.cpp issue 20824): {what} without extra buffer types (no AMX "
                  "or repacking; correct, somewhat slower)", stacklevel=4)
    with default_model_params_without_extra_buffers(lib):
        yield True


def load_llama(model_path: str, **kwargs: Any) -> tuple[Any, bool]:
    """``llama_cpp.Llama(model_path, **kwargs)``, made safe on builds that would use AMX.

    Returns the model and whether extra buffer types were turned off.  On an AMX build they are
    (with a warning): the weights stay in plain CPU buffers instead of being repacked, which is
    correct and somewhat slower (Qwen2.5-Coder-0.5B, 16 samples per batch: 87 tokens/s on the
    2-core development machine, against about 100 with repacked weights on a CPU without AMX).
    A llama.cpp build without AMX (``-DGGML_NATIVE=OFF`` with the AVX flags set by hand) would
    keep the repacked buffers; not tried here.
    """
    lib = import_llama_cpp()
    with amx_safe_loading(lib, "loading the weights") as extra_buffers_off:
        return lib.Llama(model_path=model_path, **kwargs), extra_buffers_off


#: environment variable: prompts decoded together per batch (default 1).
BATCH_QUERIES_ENV = "HARDBENCH_BATCH_QUERIES"


class LlamaCppBackend:
    """Batched sampling with llama-cpp-python: ``batch_queries`` prompts' samples per batch.

    ``batch_queries`` defaults to 1 (one prompt's ``n`` samples per batch, as every bank shipped
    before it existed was made).  More fills the batch when ``n`` is small: on 2 CPU cores the
    decode rate grows with the number of sequences decoded together up to about 16.  A sample's
    tokens can differ slightly with the batch's make-up (as with the thread count), so the
    setting is recorded in the backend description when it is not 1.
    """

    name = "llamacpp"

    def __init__(self, model_path: str, *, n_threads: int | None = None,
                 batch_queries: int | None = None) -> None:
        self.lib = import_llama_cpp()
        self.model_path = model_path
        self.batch_queries = batch_queries or int(os.environ.get(BATCH_QUERIES_ENV, 0) or 1)
        if self.batch_queries < 1:
            raise HardbenchError(f"{BATCH_QUERIES_ENV} must be a positive integer")
        # one thread per physical core we may run on (llama.cpp's own default; hyperthreads only
        # slow it down); on a busy machine 1 thread is fastest (llama.cpp's threads spin at every
        # barrier): set HARDBENCH_THREADS.
        self.n_threads = (n_threads or int(os.environ.get("HARDBENCH_THREADS", 0))
                          or physical_cores())
        self.llm, self.extra_buffers_off = load_llama(model_path, n_ctx=256, n_batch=256,
                                                      n_threads=self.n_threads, verbose=False)
        self.vocab = self.lib.llama_model_get_vocab(self.llm._model.model)
        self._ctx: Any = None
        self._ctx_size = (0, 0)   # (n_ctx, n_seq_max)

    # ------------------------------------------------------------------ metadata

    def describe(self) -> dict[str, Any]:
        description = {"name": self.name, "engine": "llama-cpp-python", "version": self.lib.__version__,
                       "n_threads": self.n_threads, "kv_cache": "prompt shared by the n samples"}
        if self.extra_buffers_off:
            description["extra_buffer_types"] = False
        if self.batch_queries != 1:
            description["batch_queries"] = self.batch_queries
        return description

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
        """Every request's ``n`` samples, the requests' sequences decoded together as one batch."""
        return self._generate_batch(list(requests), params)

    def _generate_batch(self, requests: list[Request], params: DecodingParams) -> list[list[Completion]]:
        """Sample ``requests`` together: sequence ``first[r] + j`` is sample j of request r.

        Each prompt is decoded once for all of its samples (they share its KV cells); its
        samples' first tokens are drawn from its last logits at once, since the next decode
        overwrites them.  Then every step decodes the newest token of every unfinished sample
        of every request in one ``llama_decode`` call.
        """
        lib = self.lib
        prompts = [self.tokenize(request.prompt) for request in requests]
        first = [sum(request.n for request in requests[:r]) for r in range(len(requests))]
        n_seq = sum(request.n for request in requests)
        owner = [r for r, request in enumerate(requests) for _ in range(request.n)]
        prompt_cells = sum(len(prompt) for prompt in prompts)
        n_ctx = max(prompt_cells, _PROMPT_ALLOWANCE * len(requests)) + n_seq * params.max_tokens + 8
        ctx = self._context(n_ctx, n_seq)
        lib.llama_memory_clear(lib.llama_get_memory(ctx), True)
        n_batch = min(self._ctx_size[0], 2048)
        widest = max(request.n for request in requests)
        batch = lib.llama_batch_init(max(min(max(len(p) for p in prompts), n_batch), n_seq), 0, widest)
        samplers = [self._sampler(params, seed) for request in requests for seed in request.seeds]
        pieces: list[list[bytes]] = [[] for _ in range(n_seq)]
        n_tokens = [0] * n_seq
        finish: list[str | None] = [None] * n_seq
        pending: list[int | None] = [None] * n_seq

        def advance(seq: int, output: int) -> None:
            """Draw sample ``seq``'s next token from the logits at batch row ``output``."""
            token = lib.llama_sampler_sample(samplers[seq], ctx, output)
            n_tokens[seq] += 1
            pending[seq] = None
            if lib.llama_vocab_is_eog(self.vocab, token):
                finish[seq] = "stop"
                return
            pieces[seq].append(self._piece(token))
            if params.stop:
                text = b"".join(pieces[seq]).decode("utf-8", errors="ignore")
                if cut_at_stop(text, params.stop)[1]:
                    finish[seq] = "stop"
                    return
            if n_tokens[seq] >= params.max_tokens:
                finish[seq] = "length"
                return
            pending[seq] = token

        try:
            for r, (request, prompt) in enumerate(zip(requests, prompts)):
                # the prompt, in chunks of n_batch tokens; each token belongs to all its n sequences
                for start in range(0, len(prompt), n_batch):
                    chunk = prompt[start:start + n_batch]
                    for i, token in enumerate(chunk):
                        batch.token[i] = token
                        batch.pos[i] = start + i
                        batch.n_seq_id[i] = request.n
                        for j in range(request.n):
                            batch.seq_id[i][j] = first[r] + j
                        batch.logits[i] = start + i == len(prompt) - 1
                    batch.n_tokens = len(chunk)
                    self._decode(ctx, batch)
                for j in range(request.n):
                    advance(first[r] + j, batch.n_tokens - 1)
            while True:
                step = [seq for seq in range(n_seq) if pending[seq] is not None]
                if not step:
                    break
                for i, seq in enumerate(step):
                    batch.token[i] = pending[seq]
                    batch.pos[i] = len(prompts[owner[seq]]) + n_tokens[seq] - 1
                    batch.n_seq_id[i] = 1
                    batch.seq_id[i][0] = seq
                    batch.logits[i] = True
                batch.n_tokens = len(step)
                self._decode(ctx, batch)
                for i, seq in enumerate(step):
                    advance(seq, i)
        finally:
            for sampler in samplers:
                lib.llama_sampler_free(sampler)
            lib.llama_batch_free(batch)
        completions: list[list[Completion]] = [[] for _ in requests]
        for seq in range(n_seq):
            text, _ = cut_at_stop(b"".join(pieces[seq]).decode("utf-8", errors="replace"), params.stop)
            completions[owner[seq]].append(Completion(text=text, n_tokens=n_tokens[seq],
                                                      finish_reason=str(finish[seq])))
        return completions

    def _decode(self, ctx: Any, batch: Any) -> None:
        code = self.lib.llama_decode(ctx, batch)
        if code != 0:
            raise HardbenchError(f"llama_decode failed with code {code} (context too small or "
                                 "out of memory); lower --n or --max-tokens")
