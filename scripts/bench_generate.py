"""Generation throughput: ``bench generate``'s llama.cpp path against raw llama-cpp-python.

Both sides sample the same prompts (GSM8K test questions in the model's chat template), with
the same model, temperature, token limit and per-sample seeds, in the same process:

- **raw**: llama-cpp-python's low-level API written out below (one prompt per batch, its ``n``
  samples as ``n`` sequences sharing the prompt's KV cache): the best this engine offers.
- **harness**: :func:`bench.generate.pipeline.generate_responses` (prompts, seeds, batching,
  the resumable part files on disk, the progress bookkeeping); verification excluded.

Tokens/s = generated tokens / wall time (model loading excluded on both sides).  Both must
generate the same number of tokens (same seeds, same sampler chain): the script checks it.
Also printed: the harness's tokens/s for 1, 4, 8, 16 samples per prompt, and the one-sequence
baseline (n = 1) that batching is compared with.

Usage::

    python scripts/bench_generate.py [--model qwen2.5-coder-0.5b-instruct] [--prompts 4]
        [--max-tokens 64] [--n 1 4 8 16]
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.generate.base import DecodingParams, sample_seed  # noqa: E402
from bench.generate.llamacpp import LlamaCppBackend  # noqa: E402
from bench.generate.models import resolve_model  # noqa: E402
from bench.generate.pipeline import RunPlan, generate_responses, model_input  # noqa: E402
from bench.tasks import load_task  # noqa: E402


def raw_batched(backend: LlamaCppBackend, prompts: list[str], n: int, params: DecodingParams,
                seeds: list[list[int]]) -> int:
    """Generated tokens of plain llama-cpp-python batched decoding (independent of the harness)."""
    lib = backend.lib
    model = backend.llm._model.model
    vocab = lib.llama_model_get_vocab(model)
    cparams = lib.llama_context_default_params()
    cparams.n_ctx = 1024 + n * params.max_tokens
    cparams.n_batch = 2048
    cparams.n_seq_max = n
    cparams.n_threads = cparams.n_threads_batch = backend.n_threads
    cparams.kv_unified = True
    ctx = lib.llama_init_from_model(model, cparams)
    batch = lib.llama_batch_init(2048, 0, n)
    total = 0
    try:
        for prompt, prompt_seeds in zip(prompts, seeds):
            tokens = backend.llm.tokenize(prompt.encode(), add_bos=True, special=True)
            lib.llama_memory_clear(lib.llama_get_memory(ctx), True)
            for i, t in enumerate(tokens):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = t, i, n
                for s in range(n):
                    batch.seq_id[i][s] = s
                batch.logits[i] = i == len(tokens) - 1
            batch.n_tokens = len(tokens)
            assert lib.llama_decode(ctx, batch) == 0
            samplers = []
            for seed in prompt_seeds:
                chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
                lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(params.temperature))
                lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(seed))
                samplers.append(chain)
            index = [len(tokens) - 1] * n
            counts = [0] * n
            live = list(range(n))
            buf = ctypes.create_string_buffer(64)
            while live:
                step = []
                for s in live:
                    token = lib.llama_sampler_sample(samplers[s], ctx, index[s])
                    counts[s] += 1
                    if lib.llama_vocab_is_eog(vocab, token) or counts[s] >= params.max_tokens:
                        continue
                    lib.llama_token_to_piece(vocab, token, buf, 64, 0, False)
                    step.append((s, token))
                live = [s for s, _ in step]
                for i, (s, token) in enumerate(step):
                    batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, len(tokens) + counts[s] - 1, 1
                    batch.seq_id[i][0] = s
                    batch.logits[i] = True
                    index[s] = i
                batch.n_tokens = len(step)
                if step:
                    assert lib.llama_decode(ctx, batch) == 0
            total += sum(counts)
            for chain in samplers:
                lib.llama_sampler_free(chain)
    finally:
        lib.llama_batch_free(batch)
        lib.llama_free(ctx)
    return total


def harness(backend: LlamaCppBackend, records: list[dict], n: int, params: DecodingParams,
            prompts: dict[str, str]) -> int:
    """Generated tokens of the harness's resumable generation loop (to a temporary bank folder)."""
    task = load_task("gsm8k")
    with tempfile.TemporaryDirectory() as folder:
        plan = RunPlan(task=task, out=Path(folder) / "bank", decoder="bench", n=n, params=params, seed=0,
                       records=records, split_rule="hash", identity={"bench": n})
        responses = generate_responses(plan, backend, prompts, progress=False)
    return int(responses["n_tokens"].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--n", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--compare-n", type=int, default=8, help="n of the raw-vs-harness comparison")
    args = parser.parse_args()

    backend = LlamaCppBackend(resolve_model(args.model).location)
    task = load_task("gsm8k")
    records = [r | {"split": "test", "source_split": "test"} for r in task.load_queries("test")[:args.prompts]]
    prompts = {r["query_id"]: model_input(r["prompt"], backend, True)[0] for r in records}
    params = DecodingParams(temperature=0.7, top_p=1.0, max_tokens=args.max_tokens, stop=())
    print(f"model {args.model}, {args.prompts} GSM8K prompts, max {args.max_tokens} tokens, "
          f"T 0.7, {backend.n_threads} threads, llama-cpp-python {backend.lib.__version__}")

    n = args.compare_n
    seeds = [[sample_seed(0, r["query_id"], j) for j in range(n)] for r in records]
    harness(backend, records[:1], 1, params, prompts)          # warm-up (page cache, threads)
    start = time.perf_counter()
    raw_tokens = raw_batched(backend, [prompts[r["query_id"]] for r in records], n, params, seeds)
    raw_s = time.perf_counter() - start
    start = time.perf_counter()
    harness_tokens = harness(backend, records, n, params, prompts)
    harness_s = time.perf_counter() - start
    if raw_tokens != harness_tokens:
        print(f"WARNING: token counts differ (raw {raw_tokens}, harness {harness_tokens}); "
              "the comparison is per token")
    raw_rate, harness_rate = raw_tokens / raw_s, harness_tokens / harness_s
    print(f"n={n}: raw llama-cpp-python {raw_rate:.1f} tok/s ({raw_tokens} tokens, {raw_s:.1f} s); "
          f"harness {harness_rate:.1f} tok/s ({harness_tokens} tokens, {harness_s:.1f} s); "
          f"harness/raw = {harness_rate / raw_rate:.1%} (target >= 90%)")

    rates = {}
    for k in args.n:
        start = time.perf_counter()
        tokens = harness(backend, records, k, params, prompts)
        rates[k] = tokens / (time.perf_counter() - start)
        print(f"harness, n={k:>2} samples per prompt: {rates[k]:.1f} tok/s ({tokens} tokens)"
              + (f", {rates[k] / rates[1]:.2f}x n=1" if 1 in rates else ""))
    backend.close()


if __name__ == "__main__":
    main()
