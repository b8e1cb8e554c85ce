"""``bench generate``: a task's prompts + a model -> a scored bank, resumably.

Steps (everything except the engine call is shared by the backends):

1. :func:`plan_run` checks every input before anything is written: the task, ``--n`` against
   the task's ``b_max``, the splits (a split with no prompts is an error), the shard, and the
   output folder (one holding another task's bank, or a run with other settings, is refused).
2. :func:`prepare_prompts` renders each query's prompt: chat prompts through the model's own
   chat template (instruct models), plain text otherwise (base models, completion tasks).
3. :func:`generate_responses` asks the backend for ``n`` samples per query, a batch of queries
   at a time, and appends each finished batch to ``<out>/.generate/part-NNNNNN.parquet``
   (written atomically).  A rerun with the same settings skips the queries already there, so
   ``kill -9`` loses at most the batch in flight.  Sample ``j`` of query ``q`` is seeded by
   ``sample_seed(seed, q, j)``: a resumed run ends with the same samples as an uninterrupted one.
   Each run that generates something appends its backend description (engine, version, thread
   count, ...) to ``.generate/sessions.jsonl``; the manifest lists every session with the
   queries it generated, because samples can depend on engine settings such as the thread count.
4. :func:`finish_bank` scores every sample with the task's verifier and writes the bank
   (format v1 + ``responses.parquet``), then removes ``.generate/``.

Bank splits: when the chosen dataset splits include both ``train`` and ``test`` the bank keeps
them (other names map to ``val``); otherwise each query gets the project's hash split
(:func:`bench.bank.split_by_id`), so a bank from one dataset split can still be scored.
"""

from __future__ import annotations

import datetime as _dt
import errno
import io
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench import __version__
from bench.bank import SPLITS, read_manifest, save_bank, split_by_id
from bench.errors import HardbenchError
from bench.fileio import atomic_write_bytes, atomic_write_json, sha256_file
from bench.generate.base import Backend, Completion, DecodingParams, Request, sample_seed
from bench.tasks import TaskConfig

RUN_FORMAT = "hardbench-generate-run/1"
WORK_DIR = ".generate"
SESSIONS_FILE = "sessions.jsonl"
RESPONSE_COLUMNS = ("query_id", "decoder", "sample", "text", "n_tokens", "finish_reason")


class GenerateError(HardbenchError):
    """``bench generate`` / ``bench merge`` cannot proceed (bad input, foreign output folder, ...)."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based): queries whose position modulo ``count`` is ``index``."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str | None) -> Shard:
        """Parse ``i/N`` (0 <= i < N).

        >>> Shard.parse("1/4")
        Shard(index=1, count=4)
        """
        if text is None:
            return cls()
        index, sep, count = text.partition("/")
        try:
            shard = cls(int(index), int(count))
        except ValueError:
            shard = cls(-1, 0)
        if not sep or shard.count < 1 or not 0 <= shard.index < shard.count:
            raise GenerateError(f"--shard {text!r}: expected i/N with 0 <= i < N (e.g. 0/4)")
        return shard


@dataclass
class RunPlan:
    """Everything a run needs, checked; ``identity`` must match for a resume to reuse work."""

    task: TaskConfig
    out: Path
    decoder: str
    n: int
    params: DecodingParams
    seed: int
    records: list[dict[str, Any]]
    split_rule: str
    identity: dict[str, Any]
    model_provenance: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- planning


def select_records(task: TaskConfig, splits: Sequence[str] | None, limit: int | None,
                   shard: Shard, source: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """The queries of this run (in order) with their bank ``split``, and the split rule used.

    ``limit`` is shared evenly over the chosen dataset splits (the first queries of each), so
    ``--limit 20`` over train and test gives 10 of each.
    """
    from bench.commands.verify import default_splits

    chosen = list(splits or default_splits(task))
    per_split: dict[str, list[dict[str, Any]]] = {}
    for split in chosen:
        records = task.load_queries(split, source)
        if not records:
            raise GenerateError(f"task {task.name!r}: split {split!r} has no prompts (after the "
                                "task's filters); choose another --split")
        per_split[split] = records
    if limit is not None:
        if limit < 1:
            raise GenerateError("--limit must be at least 1")
        share = [limit // len(chosen) + (i < limit % len(chosen)) for i in range(len(chosen))]
        per_split = {s: per_split[s][:k] for s, k in zip(chosen, share)}
    keep_dataset_splits = "train" in chosen and "test" in chosen
    rule = "dataset" if keep_dataset_splits else "hash"
    selected: list[dict[str, Any]] = []
    seen: set[str] = set()
    for split, records in per_split.items():
        for record in records:
            if record["query_id"] in seen:
                continue
            seen.add(record["query_id"])
            bank_split = (split if split in SPLITS else "val") if keep_dataset_splits \
                else split_by_id(record["query_id"])
            selected.append(record | {"split": bank_split, "source_split": split})
    selected = selected[shard.index::shard.count]
    if not selected:
        raise GenerateError(f"no queries selected (splits {chosen}, limit {limit}, shard "
                            f"{shard.index}/{shard.count})")
    return selected, rule


def check_out_folder(out: Path, task: str, identity: Mapping[str, Any]) -> None:
    """Refuse an output folder holding another task's bank, another run, or unrelated files."""
    if not out.exists():
        return
    if not out.is_dir():
        raise GenerateError(f"--out {out}: exists and is not a folder")
    run_file = out / WORK_DIR / "run.json"
    if (out / "manifest.json").is_file():
        manifest = json.loads((out / "manifest.json").read_text())
        if manifest.get("task") != task:
            raise GenerateError(f"--out {out}: holds a bank of task {manifest.get('task')!r}, not "
                                f"{task!r}; choose another folder")
        made = manifest.get("provenance", {}).get("generation", {}).get("identity")
        if made != dict(identity):
            raise GenerateError(f"--out {out}: holds a {task} bank made with other settings; "
                                "choose another folder (or delete it)")
        return
    if run_file.is_file():
        old = json.loads(run_file.read_text())
        if old.get("identity") != dict(identity):
            changed = sorted(k for k in set(old.get("identity", {})) | set(identity)
                             if old.get("identity", {}).get(k) != identity.get(k))
            raise GenerateError(f"--out {out}: holds an unfinished run with other settings "
                                f"(differs in {changed}); rerun with the same settings to resume, "
                                "or choose another folder")
        return
    if any(p.name != WORK_DIR for p in out.iterdir()):
        raise GenerateError(f"--out {out}: not empty and not a bank or a generate run; choose "
                            "an empty or new folder")


# ----------------------------------------------------------------------------- prompts


def user_text(prompt: Any) -> str:
    """The human-readable prompt stored in ``queries.parquet``: text, or the last user turn."""
    if isinstance(prompt, str):
        return prompt
    users = [m["content"] for m in prompt if m.get("role") == "user"]
    return users[-1] if users else "\n\n".join(m["content"] for m in prompt)


def model_input(prompt: Any, backend: Backend, instruct: bool | None) -> tuple[str, str]:
    """The exact text the model sees, and how it was built (``chat-template`` or ``plain``).

    Chat prompts go through the model's chat template when it has one and is an instruct
    model (``instruct`` None: decided by whether the template exists); otherwise the
    messages are joined as plain text (a base model continues the text).
    """
    if isinstance(prompt, str):
        return prompt, "plain"
    if instruct is not False and getattr(backend, "accepts_messages", False):
        return json.dumps(list(prompt), ensure_ascii=False), "server-chat-template"
    if instruct is not False:
        rendered = backend.chat_template_prompt(prompt)
        if rendered is not None:
            return rendered, "chat-template"
    return "\n\n".join(m["content"] for m in prompt) + "\n\n", "plain"


# ----------------------------------------------------------------------------- resume state


def work_dir(out: Path) -> Path:
    return out / WORK_DIR


def read_parts(out: Path) -> pd.DataFrame:
    """Every finished response row of an interrupted run (torn temporary files are ignored)."""
    parts = sorted(work_dir(out).glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in RESPONSE_COLUMNS})
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def record_session(out: Path, first_part: int, backend: Mapping[str, Any] | None,
                   reused_from: Mapping[str, Any] | None = None) -> None:
    """Append one line to ``.generate/sessions.jsonl``: the samples from part ``first_part`` on were
    drawn by ``backend`` (its description), or copied from the bank ``reused_from`` (``backend``
    is then that bank's)."""
    session: dict[str, Any] = {
        "first_part": first_part, "backend": None if backend is None else dict(backend),
        "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    if reused_from is not None:
        session["reused_from"] = dict(reused_from)
    line = json.dumps(session, sort_keys=True)
    path = work_dir(out) / SESSIONS_FILE
    torn = path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(("\n" if torn else "") + line + "\n")   # a torn last line stays on its own
        handle.flush()
        os.fsync(handle.fileno())


def read_sessions(out: Path) -> list[dict[str, Any]]:
    """The generation sessions of a run, each with the number of queries it generated.

    Session ``i`` wrote the parts from its ``first_part`` up to the next session's; a session
    that wrote nothing (killed before its first batch) is left out, and so is a torn line.  Parts
    written before the first recorded session (by a version that kept no log) are one session
    with ``backend`` None, so that the queries always add up.
    """
    path = work_dir(out) / SESSIONS_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    sessions: list[dict[str, Any]] = []
    for line in lines:
        try:
            sessions.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    parts = sorted(work_dir(out).glob("part-*.parquet"))
    first = sessions[0]["first_part"] if sessions else len(parts)
    if first > 0:
        sessions.insert(0, {"first_part": 0, "backend": None, "started": None})
    out_sessions = []
    for i, session in enumerate(sessions):
        end = sessions[i + 1]["first_part"] if i + 1 < len(sessions) else len(parts)
        mine = parts[session["first_part"]:end]
        queries = sum(pd.read_parquet(p, columns=["query_id"])["query_id"].nunique() for p in mine)
        if queries:
            kept = {k: session[k] for k in ("backend", "reused_from") if k in session}
            out_sessions.append(kept | {"started": session["started"], "queries": int(queries)})
    return out_sessions


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression="zstd")
    return buffer.getvalue()


@contextmanager
def disk_errors(what: str) -> Iterator[None]:
    """Turn a full disk (ENOSPC) into one clear error; finished parts stay usable."""
    try:
        yield
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise GenerateError(f"the disk is full while writing {what}; free some space and rerun "
                                "the same command (finished queries are kept)") from err
        raise


def responses_frame(decoder: str, requests: Sequence[Request],
                    completions: Sequence[Sequence[Completion]]) -> pd.DataFrame:
    rows = [{"query_id": r.query_id, "decoder": decoder, "sample": j, "text": c.text,
             "n_tokens": int(c.n_tokens), "finish_reason": c.finish_reason}
            for r, cs in zip(requests, completions) for j, c in enumerate(cs)]
    frame = pd.DataFrame(rows, columns=list(RESPONSE_COLUMNS))
    return frame.astype({"sample": "int64", "n_tokens": "int64"})


# Identity keys that may differ between a bank and a run reusing its samples: they choose which
# queries are generated, not how a query's samples are drawn.
REUSE_MAY_DIFFER = ("limit", "shard", "splits")


def reusable_samples(plan: RunPlan, prompts: Mapping[str, str], bank_dir: Path,
                     skip: set[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Samples of the finished bank ``bank_dir`` that this run would draw itself, and where from
    (:func:`record_session`'s ``reused_from`` and ``backend`` arguments).

    A sample is fixed by (model, engine, decoding settings, seed, query, sample index), so a bank
    generated with the same identity except the query selection (``--limit``, ``--shard``,
    ``--split``) already holds this run's samples for the queries they share: a pilot can grow
    into a bank without regenerating them.  Each shared query must have the same model input and
    all ``n`` samples.  Queries in ``skip`` (already done) are left out.
    """
    bank_dir = Path(bank_dir)
    try:
        manifest = read_manifest(bank_dir)
    except HardbenchError as err:
        raise GenerateError(f"--reuse {bank_dir}: not a finished bank ({err})") from err
    generation = manifest.get("provenance", {}).get("generation", {})
    theirs = generation.get("identity", {})
    differ = sorted(k for k in set(theirs) | set(plan.identity) if k not in REUSE_MAY_DIFFER
                    and theirs.get(k) != plan.identity.get(k))
    if differ:
        raise GenerateError(f"--reuse {bank_dir}: made with other settings (differs in {differ}); only "
                            f"{', '.join(REUSE_MAY_DIFFER)} may differ")
    if not (bank_dir / "responses.parquet").is_file():
        raise GenerateError(f"--reuse {bank_dir}: has no responses.parquet (raw samples) to reuse")
    queries = pd.read_parquet(bank_dir / "queries.parquet", columns=["query_id", "model_input"])
    wanted = {r["query_id"] for r in plan.records} - skip
    shared = queries[queries["query_id"].isin(wanted)]
    changed = [q for q, text in zip(shared["query_id"], shared["model_input"]) if prompts[q] != text]
    if changed:
        raise GenerateError(f"--reuse {bank_dir}: query {changed[0]!r} (and {len(changed) - 1} more) "
                            "was given another model input; its samples cannot be reused")
    responses = pd.read_parquet(bank_dir / "responses.parquet")
    rows = responses[responses["query_id"].isin(set(shared["query_id"]))]
    counts = rows.groupby("query_id")["sample"].agg(lambda s: sorted(s) == list(range(plan.n)))
    if not counts.all():
        raise GenerateError(f"--reuse {bank_dir}: query {counts.index[~counts][0]!r} does not have "
                            f"exactly samples 0..{plan.n - 1}")
    order = {r["query_id"]: i for i, r in enumerate(plan.records)}
    rows = rows.assign(_order=rows["query_id"].map(order)).sort_values(["_order", "sample"])
    frame = rows[list(RESPONSE_COLUMNS)].reset_index(drop=True)
    frame = frame.astype({"sample": "int64", "n_tokens": "int64"})
    # name and checksum only: a local path would tie the manifest to this machine; the reused
    # bank's own sessions say which runs (engine settings) drew the copied samples
    reused_from: dict[str, Any] = {"name": manifest.get("name"),
                                   "manifest_sha256": sha256_file(bank_dir / "manifest.json")}
    if generation.get("sessions"):
        reused_from["sessions"] = generation["sessions"]
    origin = {"reused_from": reused_from, "backend": generation.get("backend")}
    return frame, origin


def generate_responses(plan: RunPlan, backend: Backend, prompts: Mapping[str, str], *,
                       kinds: Mapping[str, str] | None = None, progress: bool = True,
                       reuse: Sequence[Path] = ()) -> pd.DataFrame:
    """Generate what is missing (resuming from ``.generate/``) and return every response row.

    Samples of the banks in ``reuse`` (see :func:`reusable_samples`) are copied in first, each
    bank as one part and one session, so they are not generated again.
    """
    from tqdm import tqdm

    kinds = kinds or {}
    folder = work_dir(plan.out)
    with disk_errors(str(folder)):
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / "run.json", {"format": RUN_FORMAT, "identity": plan.identity})
    done = read_parts(plan.out)
    done_ids = set(done["query_id"])
    samples = len(done)
    next_part = len(list(folder.glob("part-*.parquet")))
    for bank_dir in reuse:
        frame, origin = reusable_samples(plan, prompts, bank_dir, done_ids)
        if frame.empty:
            continue
        with disk_errors(str(folder)):
            record_session(plan.out, next_part, **origin)
            atomic_write_bytes(folder / f"part-{next_part:06d}.parquet", _parquet_bytes(frame))
        next_part += 1
        done_ids |= set(frame["query_id"])
        samples += len(frame)
    todo = [r for r in plan.records if r["query_id"] not in done_ids]
    if todo:
        with disk_errors(str(folder)):
            record_session(plan.out, next_part, backend.describe())
    bar = tqdm(total=len(plan.records), initial=len(plan.records) - len(todo), unit="query",
               desc=f"generate {plan.task.name}", disable=not progress)
    tokens, started = 0, time.monotonic()
    try:
        for start in range(0, len(todo), max(1, backend.batch_queries)):
            chunk = todo[start:start + max(1, backend.batch_queries)]
            requests = [Request(r["query_id"], prompts[r["query_id"]],
                                tuple(sample_seed(plan.seed, r["query_id"], j) for j in range(plan.n)),
                                messages=tuple(r["prompt"]) if kinds.get(r["query_id"]) == "server-chat-template"
                                else None)
                        for r in chunk]
            completions = backend.generate(requests, plan.params)
            frame = responses_frame(plan.decoder, requests, completions)
            with disk_errors(str(folder)):
                atomic_write_bytes(folder / f"part-{next_part:06d}.parquet", _parquet_bytes(frame))
            next_part += 1
            tokens += int(frame["n_tokens"].sum())
            samples += len(frame)
            elapsed = max(time.monotonic() - started, 1e-9)
            bar.set_postfix(samples=samples, tok_s=f"{tokens / elapsed:.1f}")
            bar.update(len(chunk))
    finally:
        bar.close()
    return read_parts(plan.out)


# ----------------------------------------------------------------------------- scoring + bank


def score_responses(task: TaskConfig, responses: pd.DataFrame,
                    references: Mapping[str, Mapping[str, Any]], *, workers: int = 1,
                    progress: bool = True) -> pd.DataFrame:
    """``responses`` with ``reward`` and ``status`` from the task's verifier."""
    from bench.commands.verify import score_texts

    verdicts = score_texts(task, list(responses["text"]),
                           [dict(references[q]) for q in responses["query_id"]],
                           workers=workers, progress=progress)
    scored = responses.copy()
    scored["reward"] = [v[0] for v in verdicts]
    scored["status"] = [v[1] for v in verdicts]
    return scored


def queries_frame(records: Sequence[Mapping[str, Any]], prompts: Mapping[str, str],
                  prompt_kinds: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame({
        "query_id": [r["query_id"] for r in records],
        "split": [r["split"] for r in records],
        "prompt": [user_text(r["prompt"]) for r in records],
        "source_split": [r["source_split"] for r in records],
        "model_input": [prompts[r["query_id"]] for r in records],
        "prompt_format": [prompt_kinds[r["query_id"]] for r in records],
    })


def mean_tokens_cost(responses: pd.DataFrame, decoder: str) -> dict[str, Any]:
    mean = float(responses["n_tokens"].mean()) if len(responses) else 0.0
    return {decoder: {"value": round(mean, 3), "unit": "generated tokens per sample",
                      "source": "measured: mean n_tokens in responses.parquet"}}


def write_bank(out: Path, manifest: dict[str, Any], queries: pd.DataFrame, scored: pd.DataFrame) -> Path:
    """Write the bank: queries, rewards (with status) and the raw responses, checksummed."""
    columns = ["query_id", "decoder", "sample", "reward"] + (["status"] if "status" in scored else [])
    rewards = scored[columns].copy()
    rewards["reward"] = rewards["reward"].astype("float64")
    responses = scored[list(RESPONSE_COLUMNS)].reset_index(drop=True)
    with disk_errors(str(out)):
        return save_bank(out, manifest, queries, rewards,
                         extra_files={"responses.parquet": _parquet_bytes(responses)})


def finish_bank(plan: RunPlan, responses: pd.DataFrame, prompts: Mapping[str, str],
                prompt_kinds: Mapping[str, str], backend_info: Mapping[str, Any], *,
                workers: int = 1, progress: bool = True) -> Path:
    """Score every sample, write the bank folder, delete the resume folder."""
    order = {r["query_id"]: i for i, r in enumerate(plan.records)}
    responses = responses[responses["query_id"].isin(order)].copy()
    responses["_order"] = responses["query_id"].map(order)
    responses = responses.sort_values(["_order", "sample"]).drop(columns="_order").reset_index(drop=True)
    references = {r["query_id"]: r for r in plan.records}
    scored = score_responses(plan.task, responses, references, workers=workers, progress=progress)
    manifest = bank_manifest(plan, scored, backend_info, prompt_kinds, read_sessions(plan.out))
    write_bank(plan.out, manifest, queries_frame(plan.records, prompts, prompt_kinds), scored)
    shutil.rmtree(work_dir(plan.out), ignore_errors=True)
    return plan.out


def verifier_provenance(task: TaskConfig) -> dict[str, Any]:
    return {"name": task.verifier.name, "options": dict(task.verifier.options),
            "task_version": task.version}


def tests_provenance(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the verified tests are, where the task's records say (``tests_source``: TACO's hidden
    unit tests, or its statements' public examples on the offline split); empty otherwise."""
    sources = sorted({str(r["tests_source"]) for r in records if r.get("tests_source")})
    return {"tests_source": sources} if sources else {}


def bank_manifest(plan: RunPlan, scored: pd.DataFrame, backend_info: Mapping[str, Any],
                  prompt_kinds: Mapping[str, str],
                  sessions: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Manifest of a generated bank, with full provenance.

    ``backend`` describes the run that finished the bank; ``sessions`` (when recorded) every run
    that generated samples, with its backend and the number of queries it generated.
    """
    task = plan.task
    formats = sorted(set(prompt_kinds.values()))
    return {
        "task": task.name,
        "name": plan.out.name,
        "setting": "best_of_k",
        "reward": task.reward,
        "decoders": [plan.decoder],
        "default_decoder": plan.decoder,
        "cost": mean_tokens_cost(scored, plan.decoder),
        "license": f"model outputs of {plan.model_provenance.get('id', plan.decoder)} "
                   f"({plan.model_provenance.get('license', 'see the model licence')}); prompts: "
                   f"see tasks/{task.name}/data",
        "provenance": {
            "generation": {
                "identity": plan.identity,
                "model": plan.model_provenance,
                "backend": dict(backend_info),
                **({"sessions": [dict(x) for x in sessions]} if sessions else {}),
                "decoding": plan.params.to_json() | {"n": plan.n},
                "seed": plan.seed,
                "seed_rule": "sample j of query q uses sha256(f'{seed}\\0{q}\\0{j}')[:4] & 0x7fffffff",
                "prompt_format": formats,
                "prompt": {"name": plan.identity.get("prompt", "default"), "kind": task.prompt.kind,
                           "template": task.prompt.template, "system": task.prompt.system},
                "split_rule": plan.split_rule,
                "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "hardbench_version": __version__,
                "n_tokens_rule": "sampled tokens including the final end-of-generation token",
            },
            "verifier": verifier_provenance(task) | tests_provenance(plan.records),
        },
    }


def bank_exists(out: Path) -> bool:
    try:
        read_manifest(out)
    except HardbenchError:
        return False
    return True


def run_generation(plan: RunPlan, make_backend: Callable[[], Backend], instruct: bool | None, *,
                   workers: int = 1, progress: bool = True, reuse: Sequence[Path] = ()) -> Path:
    """Plan -> bank: prompts, resumable generation, scoring.  A finished bank is left as is.

    ``reuse``: finished banks whose samples this run would draw itself (``bench generate --reuse``).
    """
    if bank_exists(plan.out):
        return plan.out
    backend = make_backend()
    try:
        prompts: dict[str, str] = {}
        kinds: dict[str, str] = {}
        for record in plan.records:
            prompts[record["query_id"]], kinds[record["query_id"]] = model_input(
                record["prompt"], backend, instruct)
        responses = generate_responses(plan, backend, prompts, kinds=kinds, progress=progress,
                                       reuse=reuse)
        info = backend.describe()
    finally:
        backend.close()
    return finish_bank(plan, responses, prompts, kinds, info, workers=workers, progress=progress)
