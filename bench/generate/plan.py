"""Check a ``bench generate`` request and turn it into a :class:`RunPlan` (nothing written)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.generate.base import DecodingParams
from bench.generate.models import ResolvedModel
from bench.generate.pipeline import GenerateError, RunPlan, Shard, check_out_folder, select_records
from bench.tasks import TaskConfig


def decoding_params(task: TaskConfig, *, temperature: float | None, top_p: float | None,
                    max_tokens: int | None, stop: Sequence[str] | None) -> DecodingParams:
    """The task's decoding defaults with the command line's overrides, checked."""
    gen = task.generation
    params = DecodingParams(
        temperature=gen.temperature if temperature is None else float(temperature),
        top_p=gen.top_p if top_p is None else float(top_p),
        max_tokens=gen.max_tokens if max_tokens is None else int(max_tokens),
        stop=tuple(gen.stop if stop is None else stop))
    if params.temperature < 0:
        raise GenerateError(f"--temperature {params.temperature}: must be >= 0")
    if not 0 < params.top_p <= 1:
        raise GenerateError(f"--top-p {params.top_p}: must be in (0, 1]")
    if params.max_tokens < 1:
        raise GenerateError(f"--max-tokens {params.max_tokens}: must be >= 1")
    if any(not s for s in params.stop):
        raise GenerateError("--stop: stop strings must not be empty")
    return params


def check_n(task: TaskConfig, n: int | None) -> int:
    """``--n`` (default: the task's samples_per_query), at least 1 and at most the task's b_max."""
    n = task.generation.samples_per_query if n is None else n
    if n < 1:
        raise GenerateError(f"--n {n}: must be at least 1")
    if task.b_max is not None and n > task.b_max:
        raise GenerateError(f"--n {n} is beyond task {task.name!r}'s limit b_max = {task.b_max} "
                            f"(set in {task.source_file}); use --n {task.b_max} or less")
    return n


def plan_run(task: TaskConfig, model: ResolvedModel, backend: str, *, out: Path, n: int | None,
             temperature: float | None, top_p: float | None, max_tokens: int | None,
             stop: Sequence[str] | None, seed: int, splits: Sequence[str] | None,
             limit: int | None, shard: Shard, source: str | None,
             decoder: str | None, prompt_name: str = "default") -> RunPlan:
    """Every check of a run, in the order a user fixes them; raises before anything is written."""
    n = check_n(task, n)
    params = decoding_params(task, temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop)
    records, rule = select_records(task, splits, limit, shard, source)
    decoder = decoder or model.name
    identity = {
        "task": task.name, "task_version": task.version, "model": model.provenance.get("sha256")
        or model.location, "backend": backend, "decoder": decoder, "n": n,
        "decoding": params.to_json(), "seed": seed, "splits": sorted({r["source_split"] for r in records}),
        "limit": limit, "shard": [shard.index, shard.count], "source": source,
    }
    if prompt_name != "default":   # (absent for the default prompt: older banks' identities stay valid)
        identity["prompt"] = prompt_name
    check_out_folder(Path(out), task.name, identity)
    return RunPlan(task=task, out=Path(out), decoder=decoder, n=n, params=params, seed=seed,
                   records=records, split_rule=rule, identity=identity,
                   model_provenance=dict(model.provenance))
