"""Throughput of the code sandbox (fork per test) against a fresh interpreter per test.

The reference is how TACO's evaluator runs stdin/stdout programs: ``python program.py`` in a new
process for every test (no sandbox at all, which favours the reference).  Both runs execute the
same programs (TACO's prelude included) on the same tests, and every per-test verdict must agree.

Usage::

    python scripts/bench_sandbox.py [--tests-per-problem 200] [--reference-limit 120]

WARNING: the reference run executes the fixture programs WITHOUT a sandbox; they are the
project's own fixture solutions (tests/data/taco_fixture.jsonl), never model output.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.verify.code_exec import Limits, RunResult, SandboxSession  # noqa: E402
from bench.verify.code_verifier import (  # noqa: E402
    TACO_PREIMPORT,
    outcome_from_run,
    taco_std_program,
)

FIXTURE = ROOT / "tests" / "data" / "taco_fixture.jsonl"


def workload(tests_per_problem: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """(program, [(stdin, expected), ...]) for every stdin/stdout fixture solution, right or wrong.

    Each problem's fixture tests are cycled to ``tests_per_problem`` tests (TACO's README gives
    202.3 test cases per problem on average), so the per-problem sandbox start is amortised as
    it would be on real TACO problems.
    """
    jobs = []
    for line in FIXTURE.read_text().splitlines():
        row = json.loads(line)
        io = json.loads(row["input_output"])
        if io.get("fn_name") is not None:
            continue  # TACO runs call-based tests in-process: no fresh interpreter to compare with
        base = list(zip(io["inputs"], io["outputs"]))
        tests = [base[i % len(base)] for i in range(tests_per_problem)]
        for code in json.loads(row["solutions"]) + row["wrong_solutions"]:
            jobs.append((taco_std_program(code), tests))
    return jobs


def run_sandbox(jobs: list[tuple[str, list[tuple[str, str]]]], timeout: float) -> tuple[list[list[str]], float]:
    """Our way: one sandbox per program, one fork per test.  Per-test outcome kinds, per program."""
    kinds: list[list[str]] = []
    start = time.perf_counter()
    for program, tests in jobs:
        with SandboxSession(program, Limits(), preimport=TACO_PREIMPORT) as session:
            kinds.append([outcome_from_run(session.run_stdio(stdin, timeout), expected).kind
                          for stdin, expected in tests])
    return kinds, time.perf_counter() - start


def run_reference(jobs: list[tuple[str, list[tuple[str, str]]]], timeout: float,
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tests-per-problem", type=int, default=200,
                        help="tests per problem (fixture tests cycled); TACO averages 202.3")
    parser.add_argument("--reference-limit", type=int, default=120, help="tests run by the slow reference")
    parser.add_argument("--timeout", type=float, default=4.0, help="per-test time limit, seconds")
    args = parser.parse_args()
    jobs = workload(args.tests_per_problem)
    per_program = max(1, args.reference_limit // len(jobs))
    ours, t_ours = run_sandbox(jobs, args.timeout)
    ref, t_ref = run_reference(jobs, args.timeout, per_program)
    n_ours, n_ref = sum(map(len, ours)), sum(map(len, ref))
    rate_ours, rate_ref = n_ours / t_ours, n_ref / t_ref
    pairs = [(a, b) for row_o, row_r in zip(ours, ref) for a, b in zip(row_o, row_r)]
    mismatches = sum(a != b for a, b in pairs)
    passed = sum(a == "passed" for a, _ in pairs)
    print(f"programs: {len(jobs)} (fixture solutions, right and wrong), {args.tests_per_problem} tests each")
    print(f"sandbox, fork per test     : {n_ours:5d} tests in {t_ours:7.2f} s = {rate_ours:8.1f} tests/s")
    print(f"fresh interpreter per test : {n_ref:5d} tests in {t_ref:7.2f} s = {rate_ref:8.1f} tests/s")
    print(f"speed-up                   : {rate_ours / rate_ref:.1f}x")
    print(f"verdicts compared          : {len(pairs)} ({passed} passed, {len(pairs) - passed} not), "
          f"disagreeing: {mismatches}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
