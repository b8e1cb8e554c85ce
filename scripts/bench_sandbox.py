"""Throughput of the code sandbox against unsandboxed references, side by side on the same programs.

Two workloads, each run both ways in this process, with every verdict compared:

1. **HumanEval-style** (one program, a few asserts): CodeT's CodeGen-16B HumanEval completions
   (the first ``--per-problem`` samples of each of the 164 problems, run after the original
   HumanEval prompt) labelled by :class:`~bench.verify.code_verifier.CodeVerifier` in
   ``--workers`` processes (as ``bench verify`` does), against a reference written like OpenAI
   human-eval's ``check_correctness`` (``human_eval/execution.py``): one forked process per
   sample running prompt + completion + test + ``check(entry_point)``, a ``Manager`` list for
   the result, ``reliability_guard()`` and a 3 s limit, ``--workers`` threads as in its
   ``evaluate_functional_correctness``.  The sandbox is also run with a fresh bubblewrap per
   program (``reuse_sandbox=False``, how it worked before) to show what the reuse buys.
2. **TACO-style** (one program, ~200 stdin/stdout tests): the fixture solutions of
   ``tests/data/taco_fixture.jsonl`` with their tests cycled to ``--tests-per-problem``; one
   sandbox fork per test against TACO's ``python program.py`` per test (a fresh interpreter).

Usage::

    python scripts/bench_sandbox.py [--data ../shared/data] [--per-problem 18] [--workers 2]

WARNING: the references execute programs WITHOUT a sandbox: model-generated HumanEval
completions (CodeT's published samples; human-eval's own guard functions are the only
protection, as in human-eval) and the project's own TACO fixture solutions.  Run it on a
machine you can throw away, or pass ``--skip-reference``.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import gzip
import io
import json
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.verify.code_exec import Limits, RunResult, SandboxSession  # noqa: E402
from bench.verify.code_verifier import (  # noqa: E402
    TACO_PREIMPORT,
    CodeVerifier,
    outcome_from_run,
    taco_std_program,
)

FIXTURE = ROOT / "tests" / "data" / "taco_fixture.jsonl"
CODET_SAMPLES = Path("codet/generated_data/HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl.gz")
CODET_PROBLEMS = Path("codet/dataset/HumanEval_for_code_generation.jsonl")
HUMANEVAL = Path("humaneval/HumanEval.jsonl.gz")
#: human-eval's default per-sample limit (evaluate_functional_correctness(timeout=3.0))
HUMANEVAL_TIMEOUT_S = 3.0


def default_data_dir() -> Path:
    """``../shared/data`` next to the checkout (or one level further up, for worktrees)."""
    for candidate in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "data"


# ---------------------------------------------------------------------------------------------
# HumanEval-style workload
# ---------------------------------------------------------------------------------------------


def _jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def humaneval_workload(data: Path, per_problem: int) -> list[tuple[dict[str, Any], str]]:
    """(original HumanEval record, completion) for the first ``per_problem`` CodeT samples of each
    problem.  CodeT's prompts drop the docstring examples, so they are joined to CodeT's dataset
    file on the prompt, then to the original HumanEval record on ``task_id`` (SOURCES.md)."""
    task_of_prompt = {row["prompt"]: row["task_id"] for row in _jsonl(data / CODET_PROBLEMS)}
    original = {row["task_id"]: row for row in _jsonl(data / HUMANEVAL)}
    jobs = []
    for row in _jsonl(data / CODET_SAMPLES):
        problem = original[task_of_prompt[row["prompt"]]]
        jobs.extend((problem, completion) for completion in row["samples"][:per_problem])
    return jobs


# -- the reference: written like human-eval's execution.py (MIT, OpenAI), trimmed to what runs --


class TimeoutException(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise TimeoutException("Timed out!")

    signal.setitimer(signal.ITIMER_REAL, seconds)
    signal.signal(signal.SIGALRM, handler)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


class WriteOnlyStringIO(io.StringIO):
    def read(self, *args: Any, **kwargs: Any) -> str:
        raise OSError

    def readline(self, *args: Any, **kwargs: Any) -> str:
        raise OSError

    def readlines(self, *args: Any, **kwargs: Any) -> list[str]:
        raise OSError

    def readable(self, *args: Any, **kwargs: Any) -> bool:
        return False


class redirect_stdin(contextlib._RedirectStream):  # type: ignore[type-arg]
    _stream = "stdin"


@contextlib.contextmanager
def swallow_io() -> Iterator[None]:
    stream = WriteOnlyStringIO()
    with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream), redirect_stdin(stream):
        yield


_GUARDED_OS = ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork",
               "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod",
               "fchown", "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir")


def reliability_guard() -> None:
    """human-eval's guard: disable destructive functions (NOT a security sandbox)."""
    faulthandler.disable()
    import builtins
    import shutil

    builtins.exit = None  # type: ignore[assignment]
    builtins.quit = None  # type: ignore[assignment]
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in _GUARDED_OS:
        setattr(os, name, None)
    shutil.rmtree = None  # type: ignore[assignment]
    shutil.move = None  # type: ignore[assignment]
    shutil.chown = None  # type: ignore[assignment]
    subprocess.Popen = None  # type: ignore[assignment,misc]
    builtins.help = None  # type: ignore[assignment]
    for module in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[module] = None  # type: ignore[assignment]


def _unsafe_execute(problem: dict[str, Any], completion: str, timeout: float, result: Any) -> None:
    import shutil

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # a program killed by its time limit inside a C extension aborts noisily
    with tempfile.TemporaryDirectory() as dirname:
        os.chdir(dirname)
        # human-eval keeps rmtree, rmdir and chdir to clean up its temporary folder afterwards
        saved = {name: getattr(os, name, None) for name in _GUARDED_OS}, shutil.rmtree
        reliability_guard()
        program = problem["prompt"] + completion + "\n" + problem["test"] + "\n" + f"check({problem['entry_point']})"
        try:
            with swallow_io(), time_limit(timeout):
                exec(program, {})  # noqa: S102 - WARNING: unsandboxed reference, see module docstring
            result.append("passed")
        except TimeoutException:
            result.append("timed out")
        except BaseException as exc:  # noqa: BLE001
            result.append(f"failed: {exc}")
        for name, value in saved[0].items():
            setattr(os, name, value)
        shutil.rmtree = saved[1]  # type: ignore[assignment]
        os.chdir("/")


def check_correctness(problem: dict[str, Any], completion: str, timeout: float = HUMANEVAL_TIMEOUT_S) -> str:
    """human-eval's ``check_correctness``: a Manager list, one forked process, join with a limit.

    Returns human-eval's outcome string (``passed``, ``timed out`` or ``failed: <error>``), so that
    a verdict that differs from the sandbox's can be explained.
    """
    context = multiprocessing.get_context("fork")
    manager = context.Manager()
    try:
        result = manager.list()
        proc = context.Process(target=_unsafe_execute, args=(problem, completion, timeout, result))
        proc.start()
        proc.join(timeout=timeout + 1)
        if proc.is_alive():
            proc.kill()
        outcome = result[0] if result else "timed out"
    finally:
        manager.shutdown()
    return str(outcome)


def run_humaneval_reference(jobs: Sequence[tuple[dict[str, Any], str]], workers: int) -> tuple[list[str], float]:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        verdicts = list(pool.map(lambda job: check_correctness(*job), jobs))
    return verdicts, time.perf_counter() - start


# -- ours: CodeVerifier in worker processes, as `bench verify` runs it ------------------------

_VERIFIER: CodeVerifier | None = None


def _init_worker(reuse: bool) -> None:
    global _VERIFIER
    _VERIFIER = CodeVerifier(timeout_s=HUMANEVAL_TIMEOUT_S, reuse_sandbox=reuse)


def _verify_chunk(chunk: list[tuple[dict[str, Any], str]]) -> list[str]:
    assert _VERIFIER is not None
    return [_VERIFIER.verify(completion, problem).status for problem, completion in chunk]


def run_humaneval_sandbox(jobs: Sequence[tuple[dict[str, Any], str]], workers: int, reuse: bool,
                          chunk: int = 16) -> tuple[list[str], float]:
    chunks = [list(jobs[i:i + chunk]) for i in range(0, len(jobs), chunk)]
    start = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=_init_worker, initargs=(reuse,)) as pool:
        statuses = [s for part in pool.map(_verify_chunk, chunks) for s in part]
    return statuses, time.perf_counter() - start


def humaneval_benchmark(args: argparse.Namespace) -> int:
    jobs = humaneval_workload(args.data, args.per_problem)
    print(f"HumanEval-style: {len(jobs)} CodeT CodeGen-16B samples (first {args.per_problem} of each of "
          f"{len(jobs) // args.per_problem} problems), {args.workers} workers, {HUMANEVAL_TIMEOUT_S:g} s limit")
    ours, t_ours = run_humaneval_sandbox(jobs, args.workers, reuse=True)
    rate_ours = len(jobs) / t_ours
    print(f"  sandbox, reused per worker       : {t_ours:7.1f} s = {rate_ours:7.1f} programs/s")
    if not args.skip_fresh:
        fresh, t_fresh = run_humaneval_sandbox(jobs, args.workers, reuse=False)
        print(f"  sandbox, fresh bwrap per program : {t_fresh:7.1f} s = {len(jobs) / t_fresh:7.1f} programs/s")
        if fresh != ours:
            print(f"  (reused vs fresh: {sum(a != b for a, b in zip(fresh, ours))} statuses differ)")
    if args.skip_reference:
        return 0
    ref, t_ref = run_humaneval_reference(jobs, args.workers)
    rate_ref = len(jobs) / t_ref
    print(f"  human-eval check_correctness     : {t_ref:7.1f} s = {rate_ref:7.1f} programs/s (no sandbox)")
    print(f"  sandbox / reference throughput   : {rate_ours / rate_ref:.2f}x")
    passed = [s == "passed" for s in ours]
    ref_passed = [outcome == "passed" for outcome in ref]
    differ = [i for i, (a, b) in enumerate(zip(passed, ref_passed)) if a != b]
    print(f"  verdicts: {sum(passed)} passed in the sandbox, {sum(ref_passed)} in the reference; "
          f"{len(jobs) - len(differ)}/{len(jobs)} agree")
    for i in differ[:10]:
        problem, _ = jobs[i]
        print(f"    differs: {problem['task_id']} sample {i}: sandbox {ours[i]}, reference {ref[i][:120]!r}")
    return 1 if differ and not args.allow_disagreement else 0


# ---------------------------------------------------------------------------------------------
# TACO-style workload
# ---------------------------------------------------------------------------------------------


def taco_workload(tests_per_problem: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """(program, [(stdin, expected), ...]) for every stdin/stdout fixture solution, right or wrong.

    Each problem's fixture tests are cycled to ``tests_per_problem`` tests (TACO's README gives
    202.3 test cases per problem on average), so the per-problem sandbox start is amortised as
    it would be on real TACO problems.
    """
    jobs = []
    for line in FIXTURE.read_text().splitlines():
        row = json.loads(line)
        io_spec = json.loads(row["input_output"])
        if io_spec.get("fn_name") is not None:
            continue  # TACO runs call-based tests in-process: no fresh interpreter to compare with
        base = list(zip(io_spec["inputs"], io_spec["outputs"]))
        tests = [base[i % len(base)] for i in range(tests_per_problem)]
        for code in json.loads(row["solutions"]) + row["wrong_solutions"]:
            jobs.append((taco_std_program(code), tests))
    return jobs


def run_taco_sandbox(jobs: list[tuple[str, list[tuple[str, str]]]], timeout: float,
                     reuse: bool = True) -> tuple[list[list[str]], float]:
    """Our way: one sandbox session per program, one fork per test.  Per-test outcome kinds."""
    kinds: list[list[str]] = []
    start = time.perf_counter()
    for program, tests in jobs:
        with SandboxSession(program, Limits(), preimport=TACO_PREIMPORT, reuse=reuse) as session:
            kinds.append([outcome_from_run(session.run_stdio(stdin, timeout), expected).kind
                          for stdin, expected in tests])
    return kinds, time.perf_counter() - start


def run_taco_reference(jobs: list[tuple[str, list[tuple[str, str]]]], timeout: float,
                       per_program: int) -> tuple[list[list[str]], float]:
    """TACO's way: ``python program.py`` per test, on the first ``per_program`` tests of each program."""
    kinds: list[list[str]] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for j, (program, tests) in enumerate(jobs):
            path = Path(tmp) / f"prog{j}.py"
            path.write_text(program)
            row = []
            for stdin, expected in tests[:per_program]:
                try:
                    proc = subprocess.run([sys.executable, str(path)], input=stdin, text=True, capture_output=True,
                                          timeout=timeout, cwd=tmp)
                    run = RunResult("exited", proc.returncode, proc.stdout)
                except subprocess.TimeoutExpired:
                    run = RunResult("timeout", None, "")
                row.append(outcome_from_run(run, expected).kind)
            kinds.append(row)
    return kinds, time.perf_counter() - start


def taco_benchmark(args: argparse.Namespace) -> int:
    jobs = taco_workload(args.tests_per_problem)
    per_program = max(1, args.reference_limit // len(jobs))
    ours, t_ours = run_taco_sandbox(jobs, args.timeout)
    if not args.skip_fresh:
        fresh, t_fresh = run_taco_sandbox(jobs, args.timeout, reuse=False)
    ref, t_ref = run_taco_reference(jobs, args.timeout, per_program)
    n_ours, n_ref = sum(map(len, ours)), sum(map(len, ref))
    rate_ours, rate_ref = n_ours / t_ours, n_ref / t_ref
    pairs = [(a, b) for row_o, row_r in zip(ours, ref) for a, b in zip(row_o, row_r)]
    mismatches = sum(a != b for a, b in pairs)
    passed = sum(a == "passed" for a, _ in pairs)
    print(f"TACO-style: {len(jobs)} programs (fixture solutions, right and wrong), {args.tests_per_problem} tests each")
    print(f"  sandbox, fork per test           : {n_ours:5d} tests in {t_ours:7.2f} s = {rate_ours:8.1f} tests/s")
    if not args.skip_fresh:
        print(f"  same, fresh bwrap per program    : {n_ours:5d} tests in {t_fresh:7.2f} s = "
              f"{n_ours / t_fresh:8.1f} tests/s{'' if fresh == ours else ' (outcomes differ!)'}")
    print(f"  fresh interpreter per test       : {n_ref:5d} tests in {t_ref:7.2f} s = {rate_ref:8.1f} tests/s")
    print(f"  speed-up                         : {rate_ours / rate_ref:.1f}x")
    print(f"  verdicts compared                : {len(pairs)} ({passed} passed, {len(pairs) - passed} not), "
          f"disagreeing: {mismatches}")
    return 1 if mismatches else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_dir(),
                        help="the shared data folder holding codet/ and humaneval/ (default: ../shared/data)")
    parser.add_argument("--per-problem", type=int, default=18,
                        help="CodeT samples per HumanEval problem (18 x 164 = 2,952 programs)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="parallel workers, the same both ways (default: the CPU count)")
    parser.add_argument("--skip-fresh", action="store_true", help="do not time the fresh-bwrap-per-program mode")
    parser.add_argument("--skip-reference", action="store_true", help="run no unsandboxed reference")
    parser.add_argument("--skip-taco", action="store_true", help="only the HumanEval-style workload")
    parser.add_argument("--skip-humaneval", action="store_true", help="only the TACO-style workload")
    parser.add_argument("--allow-disagreement", action="store_true",
                        help="exit 0 even when HumanEval verdicts differ (they are printed either way)")
    parser.add_argument("--tests-per-problem", type=int, default=200,
                        help="TACO-style: tests per problem (fixture tests cycled); TACO averages 202.3")
    parser.add_argument("--reference-limit", type=int, default=120, help="TACO-style: tests run by the slow reference")
    parser.add_argument("--timeout", type=float, default=4.0, help="TACO-style: per-test time limit, seconds")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    print(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at start")
    status = 0
    if not args.skip_humaneval:
        status |= humaneval_benchmark(args)
    if not args.skip_taco and not args.skip_reference:
        status |= taco_benchmark(args)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
