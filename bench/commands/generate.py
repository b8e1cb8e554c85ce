"""``bench generate``: make a bank for a task from a model (llama.cpp on CPU, vLLM on GPUs, ...).

Examples
--------
    bench generate --task gsm8k --model qwen2.5-coder-0.5b-instruct --limit 20 --n 4 --out /tmp/b
    bench generate --task humaneval --model qwen2.5-coder-0.5b-instruct --n 20 \\
        --allow-code-execution --out tasks/humaneval/banks/qwen2.5-coder-0.5b-k20
    bench generate --task gsm8k --model Qwen/Qwen2.5-7B-Instruct --backend vllm --n 16 \\
        --shard 0/4 --out shards/0      # then: bench merge shards/* --out bank
    bench generate --task gsm8k --model qwen2.5-coder-0.5b-instruct --limit 200 --n 4 \\
        --reuse pilot --out bank        # a --limit 20 pilot's samples are not drawn again

A run is resumable: rerun the same command after an interruption.  See docs/generate.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from bench.generate.pipeline import GenerateError, Shard

HELP = "generate a bank: sample a model on a task's prompts and score every sample"
BACKENDS = ("llamacpp", "vllm", "transformers", "openai")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="task name (see `bench list tasks`)")
    parser.add_argument("--model", required=True,
                        help="registry name (see docs/generate.md), a local .gguf file or "
                             "checkpoint folder, or a hub id (online); for --backend openai the "
                             "served model's name")
    parser.add_argument("--backend", choices=BACKENDS, default="llamacpp",
                        help="generation engine (default: llamacpp, CPU)")
    parser.add_argument("--out", required=True, type=Path, help="bank folder to write")
    parser.add_argument("--split", action="append", default=None,
                        help="dataset split(s) to sample (repeatable); default: every split "
                             "shipped with the task")
    parser.add_argument("--source", default=None,
                        help="task data: 'local', 'hub' or a file in the hub's row format")
    parser.add_argument("--limit", type=int, default=None,
                        help="at most this many queries, shared evenly over the splits")
    parser.add_argument("--n", type=int, default=None,
                        help="samples per query (default: the task's samples_per_query; at "
                             "most its b_max)")
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--stop", action="append", default=None,
                        help="stop string (repeatable; replaces the task's)")
    parser.add_argument("--prompt", default=None, metavar="NAME",
                        help="which of the task's prompts to use: 'default' (its `prompt:`) or a "
                             "name under `prompts:` (default: `chat` for an instruct model when "
                             "the task has one, else `prompt:`)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--shard", default=None, metavar="i/N",
                        help="generate only shard i of N (0-based); join shards with bench merge")
    parser.add_argument("--reuse", action="append", default=[], type=Path, metavar="BANK",
                        help="a finished bank made with the same settings except --limit/--shard/"
                             "--split (e.g. a pilot): its samples of the queries this run shares "
                             "with it are copied, not generated again (repeatable)")
    parser.add_argument("--decoder", default=None,
                        help="decoder name in the bank (default: the model's name)")
    parser.add_argument("--features", nargs="*", default=[], metavar="NAME",
                        help="feature extractors to compute for the new bank (e.g. minilm, "
                             "lm-last-hidden:qwen2.5-coder-0.5b-instruct)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="verifier processes (default: all cores)")
    parser.add_argument("--allow-code-execution", action="store_true",
                        help="required for code tasks: the verifier runs model-generated code")
    parser.add_argument("--base-url", default=None,
                        help="openai backend: server URL (e.g. http://127.0.0.1:8000/v1)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="openai backend: requests in flight (default 8)")
    parser.add_argument("--tensor-parallel-size", type=int, default=1, help="vllm backend")
    parser.add_argument("--distributed-executor-backend", default=None, choices=("mp", "ray"),
                        help="vllm backend: 'ray' for a multi-node cluster")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from bench.commands.verify import check_code_execution
    from bench.generate.backends import backend_factory, resolve_for_backend
    from bench.generate.pipeline import run_generation
    from bench.generate.plan import check_n, decoding_params, plan_run
    from bench.tasks import load_task

    base_task = load_task(args.task)
    check_code_execution(base_task, args.allow_code_execution)
    shard = Shard.parse(args.shard)
    task = base_task.with_prompt(args.prompt)   # an unknown name fails here, before a model is fetched
    # cheap checks first: a bad --n or decoding value fails before a model is fetched
    check_n(task, args.n)
    decoding_params(task, temperature=args.temperature, top_p=args.top_p,
                    max_tokens=args.max_tokens, stop=args.stop)
    model = resolve_for_backend(args.model, args.backend)
    prompt_name = args.prompt or default_prompt_name(base_task, model.instruct)
    task = base_task.with_prompt(prompt_name)
    plan = plan_run(task, model, args.backend, out=args.out, n=args.n, temperature=args.temperature,
                    top_p=args.top_p, max_tokens=args.max_tokens, stop=args.stop, seed=args.seed,
                    splits=args.split, limit=args.limit, shard=shard, source=args.source,
                    decoder=args.decoder, prompt_name=prompt_name or "default")
    options: dict[str, Any] = {"base_url": args.base_url, "concurrency": args.concurrency,
                               "tensor_parallel_size": args.tensor_parallel_size,
                               "distributed_executor_backend": args.distributed_executor_backend,
                               "seed": args.seed}
    if args.workers < 1:
        raise GenerateError("--workers must be at least 1")
    out = run_generation(plan, backend_factory(args.backend, model, options), model.instruct,
                         workers=args.workers, progress=not args.no_progress, reuse=args.reuse)
    for spec in args.features:
        _add_features(out, spec, progress=not args.no_progress)
    print(summary(out))
    return 0


def default_prompt_name(task: Any, instruct: bool | None) -> str | None:
    """``chat`` for an instruct model when the task declares a chat prompt, else the default."""
    return "chat" if instruct and "chat" in task.prompts else None


def _add_features(bank_dir: Path, spec: str, *, progress: bool) -> None:
    from bench.features import extract_features, make_extractor

    extract_features(bank_dir, make_extractor(spec), progress=progress)


def summary(out: Path) -> str:
    """One paragraph: queries, samples, mean reward, tokens."""
    import pandas as pd

    from bench.bank import load_bank

    bank = load_bank(out)
    responses = pd.read_parquet(out / "responses.parquet")
    rewards = bank.rewards["reward"]
    return (f"wrote bank {out}: {len(bank.queries)} queries "
            f"({dict(bank.queries['split'].value_counts().sort_index())}), {len(rewards)} samples, "
            f"mean reward {rewards.mean():.3f}, {int(responses['n_tokens'].sum())} generated tokens")
