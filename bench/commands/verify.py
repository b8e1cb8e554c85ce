"""``bench verify``: label any model's samples with a task's verifier, in parallel.

Input is JSON lines, one sample per row: ``{"query_id": ..., "sample": "..."}`` (``response``
is accepted for ``sample``; other keys are kept).  Each row is joined with the task's reference
record of that ``query_id`` (gold answer, unit tests, prompt), verified, and written out with
``reward``, ``status`` and ``detail`` added, in input order.

Rows are written to ``<output>.partial`` as chunks finish and the file is renamed to
``<output>`` at the end, so the output is never half-written; ``--resume`` continues from an
interrupted ``.partial`` file.

Examples
--------
    bench verify --task gsm8k --input samples.jsonl --output labeled.jsonl
    bench verify --task math --input samples.jsonl --output labeled.jsonl --workers 4
    bench verify --task taco --split test --input s.jsonl --output l.jsonl --allow-code-execution
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from bench.errors import HardbenchError, UnsafeExecutionError
from bench.tasks import TaskConfig, load_task
from bench.verify.base import Verdict, Verifier, verify_batch
from bench.verify.registry import VERIFIERS, import_target, instantiate

HELP = "label model samples with a task's verifier"
#: keys a sample row may carry its text under, in order of preference.
SAMPLE_KEYS = ("sample", "response")
#: columns this command adds (an input that already has them is relabelled).
LABEL_KEYS = ("reward", "status", "detail")


class SampleFileError(HardbenchError):
    """A samples file (``bench verify --input``) is malformed or does not match the task."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default=None, help="task name (see `bench list tasks`); "
                        "required with --input, defaults to the bank's task with --bank")
    parser.add_argument("--input", type=Path, help="samples, JSON lines")
    parser.add_argument("--output", type=Path, help="labeled samples, JSON lines")
    parser.add_argument("--bank", default=None,
                        help="re-score a generated bank's stored responses (responses.parquet) "
                             "instead of --input; writes a new bank to --out")
    parser.add_argument("--out", type=Path, default=None, help="with --bank: the new bank folder")
    parser.add_argument("--verifier", default=None,
                        help="with --bank: verifier name to use instead of the task's")
    parser.add_argument("--split", action="append", default=None,
                        help="split(s) the query ids come from (repeatable); default: every "
                             "split shipped locally, else every split on the hub")
    parser.add_argument("--source", default=None,
                        help="reference data: 'local', 'hub' or a file in the hub's row format")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes (default: all cores; the task may cap it)")
    parser.add_argument("--chunk-size", type=int, default=32,
                        help="samples per verifier call (default: 32)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from <output>.partial left by an interrupted run")
    parser.add_argument("--verifier-option", action="append", default=[], metavar="KEY=VALUE",
                        help="override one of the task's verifier options (VALUE is YAML, e.g. "
                             "'timeout_s=10' or 'judge={model: x}'); repeatable")
    parser.add_argument("--allow-code-execution", action="store_true",
                        help="required for code tasks: runs model-generated code (sandboxed)")


def run(args: argparse.Namespace) -> int:
    if args.bank is not None:
        from bench.generate.rescore import run_rescore

        return run_rescore(args)
    missing = [flag for flag, value in (("--task", args.task), ("--input", args.input),
                                        ("--output", args.output)) if value is None]
    if missing:
        raise HardbenchError(f"bench verify needs {', '.join(missing)} (or --bank DIR --out DIR2)")
    task = with_verifier_options(load_task(args.task), args.verifier_option)
    check_code_execution(task, args.allow_code_execution)
    if args.workers < 1 or args.chunk_size < 1:
        raise HardbenchError("--workers and --chunk-size must be at least 1")
    rows = read_samples(args.input)
    references = load_references(task, args.split, args.source)
    check_query_ids(rows, references, args.input, task.name)
    counts = label_file(task, rows, references, args.output, workers=args.workers,
                        chunk_size=args.chunk_size, resume=args.resume)
    print(format_summary(counts, args.output))
    return 0


# ------------------------------------------------------------------------------ checks and inputs


def check_code_execution(task: TaskConfig, allowed: bool) -> None:
    """Refuse a task that runs model output unless the caller opted in on the command line."""
    if task.unsafe_code and not allowed:
        raise UnsafeExecutionError(
            f"task {task.name!r} verifies samples by executing model-generated code "
            f"(unsafe_code: true in {task.source_file}); pass --allow-code-execution to run it "
            "(sandboxed with bubblewrap; see docs/code-verifier.md)"
        )


def with_verifier_options(task: TaskConfig, assignments: Sequence[str]) -> TaskConfig:
    """The task with ``KEY=VALUE`` overrides merged into its verifier options.

    >>> from pathlib import Path
    >>> t = with_verifier_options(TaskConfig("t", Path(".")), ["rule=strict", "n=3"])
    >>> dict(t.verifier.options)
    {'rule': 'strict', 'n': 3}
    """
    if not assignments:
        return task
    options = dict(task.verifier.options)
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise HardbenchError(f"--verifier-option {item!r}: expected KEY=VALUE")
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise HardbenchError(f"--verifier-option {item!r}: VALUE is not valid YAML: {err}") from err
    return replace(task, verifier=replace(task.verifier, options=options))


def sample_text(row: Mapping[str, Any], where: str) -> str:
    """The sample text of one row (``sample`` or ``response``)."""
    for key in SAMPLE_KEYS:
        if key in row:
            if not isinstance(row[key], str):
                raise SampleFileError(f"{where}: {key!r} must be a string, got {type(row[key]).__name__}")
            return row[key]
    raise SampleFileError(f"{where}: row has no 'sample' (or 'response') field")


def read_samples(path: Path) -> list[dict[str, Any]]:
    """Read and check the samples file: one JSON object per line with query_id and sample."""
    if not path.is_file():
        raise SampleFileError(f"{path}: no such file")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise SampleFileError(f"{where}: invalid JSON: {err}") from err
            if not isinstance(row, dict):
                raise SampleFileError(f"{where}: expected a JSON object")
            if not isinstance(row.get("query_id"), str):
                raise SampleFileError(f"{where}: 'query_id' must be a string, got {row.get('query_id')!r}")
            sample_text(row, where)
            rows.append(row)
    if not rows:
        raise SampleFileError(f"{path}: no samples")
    return rows


def default_splits(task: TaskConfig) -> list[str]:
    """Every split shipped in the project; when none is, every split the task declares."""
    local = [name for name, s in task.dataset.splits.items() if s.local is not None]
    return local or list(task.dataset.splits)


def load_references(task: TaskConfig, splits: Sequence[str] | None,
                    source: str | None) -> dict[str, dict[str, Any]]:
    """query_id -> reference record, over the chosen splits (first split wins on a repeat)."""
    references: dict[str, dict[str, Any]] = {}
    for split in splits or default_splits(task):
        for record in task.load_queries(split, source):
            references.setdefault(record["query_id"], record)
    return references


def check_query_ids(rows: Sequence[Mapping[str, Any]], references: Mapping[str, Any],
                    path: Path, task: str) -> None:
    """Every sample must name a query the task knows; report the unknown ones up front."""
    unknown = sorted({r["query_id"] for r in rows} - set(references))
    if unknown:
        shown = ", ".join(repr(q) for q in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise SampleFileError(
            f"{path}: {len(unknown)} query_id(s) unknown to task {task!r} (e.g. {shown}); "
            "check --task and --split"
        )


# ------------------------------------------------------------------------------ verification


@dataclass(frozen=True)
class _Job:
    """What a worker needs to build the verifier itself (classes are imported, not pickled)."""

    name: str
    target: str
    options: Mapping[str, Any]


_WORKER_VERIFIER: Verifier | None = None


def _init_worker(job: _Job) -> None:
    global _WORKER_VERIFIER
    _WORKER_VERIFIER = instantiate(import_target(job.target, job.name), job.name, job.options)


def _verify_chunk(chunk: tuple[list[str], list[dict[str, Any]]]) -> list[tuple[float, str, str]]:
    assert _WORKER_VERIFIER is not None, "worker not initialised"
    return [(v.reward, v.status, v.detail) for v in verify_safely(_WORKER_VERIFIER, *chunk)]


def verify_safely(verifier: Verifier, samples: list[str],
                  references: list[dict[str, Any]]) -> list[Verdict]:
    """Verify a chunk; if the verifier raises, retry one by one and record each failure as an
    ``error`` verdict (counted in the summary, never silently scored).

    A :class:`HardbenchError` (bad reference record, missing sandbox, ...) is a problem with the
    set-up, not with one sample: it stops the run with its message.
    """
    try:
        return verify_batch(verifier, samples, references)
    except HardbenchError:
        raise
    except Exception:  # noqa: BLE001 - isolate the failing samples below
        pass
    verdicts = []
    for sample, reference in zip(samples, references):
        try:
            verdicts.append(verifier.verify(sample, reference))
        except HardbenchError:
            raise
        except Exception as err:  # noqa: BLE001 - the harness failed on this sample: say so
            verdicts.append(Verdict(0.0, "error", f"verifier raised {type(err).__name__}: {err}"))
    return verdicts


def _chunks(rows: Sequence[Mapping[str, Any]], references: Mapping[str, dict[str, Any]],
            size: int) -> Iterator[tuple[list[str], list[dict[str, Any]]]]:
    for start in range(0, len(rows), size):
        part = rows[start:start + size]
        yield ([sample_text(r, "") for r in part], [references[r["query_id"]] for r in part])


def _read_partial(partial: Path, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows already labeled by an interrupted run; they must be a prefix of the input."""
    done: list[dict[str, Any]] = []
    with open(partial, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                break  # a torn last line from the interruption: redo it
            i = len(done)
            if (i >= len(rows) or row.get("query_id") != rows[i]["query_id"]
                    or sample_text(row, f"{partial}:{lineno}") != sample_text(rows[i], "")):
                raise SampleFileError(
                    f"{partial}:{lineno}: does not match input row {i + 1}; the input changed "
                    "since the interrupted run (delete the .partial file to start over)"
                )
            done.append(row)
    return done


def label_file(task: TaskConfig, rows: Sequence[Mapping[str, Any]],
               references: Mapping[str, dict[str, Any]], output: Path, *, workers: int,
               chunk_size: int, resume: bool = False) -> Counter[str]:
    """Verify every row and write ``output`` (input order); returns the count per status."""
    from tqdm import tqdm

    if task.verifier.name is None:
        raise HardbenchError(f"{task.source_file}: task {task.name!r} declares no verifier")
    job = _Job(task.verifier.name, VERIFIERS.target(task.verifier.name), dict(task.verifier.options))
    # Build it once here: bad options fail now, with a clear message, not inside a worker.
    instantiate(VERIFIERS.get(job.name), job.name, job.options)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    done = _read_partial(partial, rows) if resume and partial.is_file() else []
    counts: Counter[str] = Counter(str(r.get("status")) for r in done)
    todo = rows[len(done):]
    n_workers = min(workers, task.verifier.max_workers or workers, max(1, -(-len(todo) // chunk_size)))
    with open(partial, "w", encoding="utf-8") as out, \
            tqdm(total=len(rows), initial=len(done), unit="sample", desc=f"verify {task.name}") as bar:
        for row in done:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        results = _run_chunks(job, _chunks(todo, references, chunk_size), n_workers)
        position = 0
        for verdicts in results:
            for reward, status, detail in verdicts:
                labeled = {k: v for k, v in todo[position].items() if k not in LABEL_KEYS}
                labeled.update(reward=reward, status=status, detail=detail)
                out.write(json.dumps(labeled, ensure_ascii=False) + "\n")
                counts[status] += 1
                position += 1
            out.flush()
            bar.update(len(verdicts))
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, output)
    return counts


def _run_chunks(job: _Job, chunks: Iterator[tuple[list[str], list[dict[str, Any]]]],
                workers: int) -> Iterator[list[tuple[float, str, str]]]:
    """Results per chunk, in order: in this process for one worker, else a process pool."""
    if workers <= 1:
        _init_worker(job)
        for chunk in chunks:
            yield _verify_chunk(chunk)
        return
    # ProcessPoolExecutor's workers are not daemonic, so verifiers may start their own child
    # processes (the math verifier's comparison worker, the code sandbox).
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(job,)) as pool:
        yield from pool.map(_verify_chunk, chunks)


def score_texts(task: TaskConfig, texts: Sequence[str], references: Sequence[dict[str, Any]], *,
                workers: int = 1, chunk_size: int = 32,
                progress: bool = True) -> list[tuple[float, str, str]]:
    """(reward, status, detail) of each text against its reference, with the task's verifier.

    The in-memory counterpart of :func:`label_file` (used by ``bench generate`` and
    ``bench verify --bank``); verifier failures are ``error`` verdicts, as there.
    """
    from tqdm import tqdm

    if task.verifier.name is None:
        raise HardbenchError(f"{task.source_file}: task {task.name!r} declares no verifier")
    job = _Job(task.verifier.name, VERIFIERS.target(task.verifier.name), dict(task.verifier.options))
    instantiate(VERIFIERS.get(job.name), job.name, job.options)
    chunks = ((list(texts[i:i + chunk_size]), list(references[i:i + chunk_size]))
              for i in range(0, len(texts), chunk_size))
    n_workers = min(workers, task.verifier.max_workers or workers, max(1, -(-len(texts) // chunk_size)))
    verdicts: list[tuple[float, str, str]] = []
    with tqdm(total=len(texts), unit="sample", desc=f"verify {task.name}", disable=not progress) as bar:
        for chunk_verdicts in _run_chunks(job, chunks, n_workers):
            verdicts.extend(chunk_verdicts)
            bar.update(len(chunk_verdicts))
    return verdicts


def format_summary(counts: Counter[str], output: Path) -> str:
    """``wrote N labeled samples to PATH`` and one line per status with its share."""
    total = sum(counts.values())
    lines = [f"wrote {total} labeled samples to {output}"]
    for status, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {status:<10} {n:>8}  ({100.0 * n / total:.1f}%)")
    return "\n".join(lines)
