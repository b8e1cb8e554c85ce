"""Code verifier: TACO's official evaluator semantics (and HumanEval), run in the sandbox.

A sample passes when every unit test passes.  Programs run in :mod:`bench.verify.code_exec`'s
bubblewrap sandbox, which receives only the program and the test inputs; outputs come back raw
and are compared here, outside the sandbox, with the rules of TACO's ``metrics/testing_util.py``
(FlagOpen/TACO).  Every rule and every deliberate difference is listed in ``docs/code-verifier.md``.

WARNING: verifying a sample executes model-generated code (see :mod:`bench.verify.code_exec`).
"""

from __future__ import annotations

import json
import secrets
import math
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bench.errors import TaskConfigError
from bench.verify.base import Verdict
from bench.verify.code_exec import CallResult, Limits, RunResult, SandboxError, SandboxSession

#: the imports TACO's evaluator puts in front of every program (``synthesize_std_code`` /
#: ``synthesize_cb_code`` in TACO's testing_util.py); programs may rely on them.
TACO_PRELUDE = (
    "import sys\nimport time\nimport itertools\nfrom itertools import accumulate, product, permutations, combinations\n"
    "import collections\nfrom collections import Counter, OrderedDict, deque, defaultdict, ChainMap\n"
    "from functools import lru_cache\nimport math\nfrom math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2\n"
    "import fractions\nfrom typing import List, Tuple\nimport numpy as np\nimport random\nimport heapq\nfrom heapq import *\n"
)
#: modules the sandbox runner imports once, before forking, so each test starts warm.
TACO_PREIMPORT = ("itertools", "collections", "functools", "math", "fractions", "typing", "numpy", "random", "heapq")

#: appended to the verdict detail of a record whose tests are its statement's examples.
PUBLIC_EXAMPLES_NOTE = "public statement examples only, not the hidden tests"

_OPEN_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\n")
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)


def extract_code(sample: str) -> str:
    """The program in a sample: the first fenced ``python``/``py`` block, else the first fenced
    block, else what follows an opening fence that never closes (a sample cut at the closing
    fence by a stop string, or at the token limit), else the whole sample (TACO's own
    generations are bare code)."""
    blocks = _FENCE.findall(sample)
    for lang, body in blocks:
        if lang.lower() in ("python", "py", "python3"):
            return body
    if blocks:
        return blocks[0][1]
    unclosed = _OPEN_FENCE.search(sample)
    if unclosed:   # generation stopped at the closing fence (a stop string) or ran out of tokens
        return sample[unclosed.end():]
    return sample


# ---------------------------------------------------------------------------------------------
# TACO's output comparison (stdin/stdout programs)
# ---------------------------------------------------------------------------------------------


def _nonblank_lines(text: str) -> list[str]:
    """TACO: ``split("\\n")``, drop empty lines, strip each (a line of spaces survives as "")."""
    return [line.strip() for line in text.split("\n") if line]


def taco_compare_stdout(output: str, expected: str) -> bool:
    """Whether a program's stdout passes against the expected output, as TACO decides.

    TACO's ``compare_std_results`` receives two strings, and only these rules can fire
    (its other branches test ``isinstance(output, list)``, which a string never is):

    1. ``output.strip() == expected.strip()``.
    2. Every *character* of the raw output parses as a float (so: only digits, no newline) and the
       expected output's non-blank stripped lines are as many numbers, ``np.allclose`` to them.
    3. The set of character-sets of the output's whitespace tokens equals the set of token-sets
       of the expected output's non-blank lines (so ``"2 1"`` passes for ``"1\\n2"``).
    4. As rule 3 with every character / token read as a float rounded to 3 decimals.

    Rules 2-4 are TACO quirks (it iterates a string as if it were a list of lines); they are
    reproduced so verdicts match the official evaluator.  See docs/code-verifier.md.
    """
    if output.strip() == expected.strip():
        return True
    lines = _nonblank_lines(expected)
    try:
        got = [float(ch) for ch in output]
        want = [float(line) for line in lines]
        if len(got) == len(want) and np.allclose(got, want):
            return True
    except ValueError:
        pass
    line_sets = [frozenset(line.split()) for line in lines]
    tokens = {tok for tok in output.split() if tok}
    if {frozenset(tok) for tok in tokens} == set(line_sets):
        return True
    try:
        got_r = {frozenset(round(float(ch), 3) for ch in tok) for tok in tokens}
        want_r = {frozenset(round(float(t), 3) for t in line) for line in line_sets}
        return got_r == want_r
    except ValueError:
        return False


def taco_compare_call(result: Any, expected: Any) -> bool:
    """Whether a call-based result passes, as TACO's ``execute_cb_code`` decides.

    A tuple result becomes a list; it passes if it equals ``expected``, or ``expected[0]`` when
    ``expected`` is a non-empty list (TACO stores outputs wrapped in a list), or, when its first
    item is a tuple, if the list of its items as lists equals ``expected[0]``.
    """
    if isinstance(result, tuple):
        result = list(result)
    try:
        ok = bool(result == expected)
        if isinstance(expected, list) and expected:
            ok = ok or bool(result == expected[0])
    except Exception:  # noqa: BLE001 - TACO counts a failing comparison as a failure
        return False
    try:
        if isinstance(result[0], tuple):
            ok = ok or [list(x) for x in result] == expected[0]
    except Exception:  # noqa: BLE001 - TACO ignores errors of this optional rule
        pass
    return ok


def taco_process_input_output(inputs: Any, outputs: Any) -> tuple[Any, Any]:
    """TACO's ``process_input_output``: JSON turned integer dict keys into strings; undo it.

    A first argument that is a dict becomes ``[{int(k): v}]`` (only that argument is kept, as in
    TACO); an expected dict, or a list whose first item is a dict, becomes ``[{int(k): v}]``.
    Keys that are not integers leave the value unchanged.
    """
    try:
        if isinstance(inputs[0], dict):
            inputs = [{int(k): v for k, v in inputs[0].items()}]
    except (TypeError, ValueError, IndexError, KeyError):
        pass
    try:
        if isinstance(outputs, dict):
            outputs = [{int(k): v for k, v in outputs.items()}]
    except (TypeError, ValueError):
        pass
    try:
        if isinstance(outputs[0], dict):
            outputs = [{int(k): v for k, v in outputs[0].items()}]
    except (TypeError, ValueError, IndexError, KeyError):
        pass
    return inputs, outputs


def _is_import_line(line: str) -> int:
    """TACO's line kinds: 2 for an ``import *`` line, 1 for an import, 0 for anything else."""
    if "import *" in line:
        return 2
    if line.startswith("from ") or line.startswith("import "):
        return 1
    return 0


def taco_std_program(code: str) -> str:
    """The script TACO runs: leading import lines, then the prelude, then the rest."""
    out: list[str] = []
    started = False
    for line in code.split("\n"):
        if not started and _is_import_line(line) == 0:
            out.append(TACO_PRELUDE + "\nstdin = sys.stdin\nstdout = sys.stdout")
            started = True
        out.append(line)
    return "\n".join(out) + "\n"


def taco_wrapped_program(code: str) -> str:
    """TACO's fallback when every test exits with code 1: the body wrapped in ``def code():``."""
    lines = code.split("\n")
    kinds = [_is_import_line(line) for line in lines]
    star_imports = "\n".join(line.lstrip("\t") for line, kind in zip(lines, kinds) if kind == 2)
    out = ""
    started = False
    for line, kind in zip(lines, kinds):
        if kind == 0 and not started:
            out += TACO_PRELUDE + star_imports + "\nstdin = sys.stdin\nstdout = sys.stdout\n"
            out += f"def code():\n\t{line}\n"
            started = True
        elif kind < 2:
            out += ("\t" if started else "") + f"{line}\n"
    return out + "\ncode()\n"


# ---------------------------------------------------------------------------------------------
# test outcomes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestOutcome:
    """One test's outcome: ``kind`` is passed, wrong, timeout, crash or error."""

    kind: str
    detail: str = ""


def outcome_from_run(run: RunResult, expected: str, *, from_file: bool = False) -> TestOutcome:
    if run.status == "timeout":
        return TestOutcome("timeout", "ran past the time limit")
    if run.status == "output_limit":
        return TestOutcome("crash", "output exceeded the cap")
    if run.status == "sandbox_died":
        return TestOutcome("crash", "the sandbox runner died")
    if run.returncode != 0:
        return TestOutcome("crash", f"exit code {run.returncode}")
    produced = run.output_file if from_file else run.stdout
    if produced is None:
        return TestOutcome("crash", "no output.txt written")
    if taco_compare_stdout(produced, expected):
        return TestOutcome("passed")
    return TestOutcome("wrong", "wrong answer")


def _outcome_from_call(call: CallResult, expected: Any) -> TestOutcome:
    if call.status == "timeout":
        return TestOutcome("timeout", "ran past the time limit")
    if call.status != "ok":
        return TestOutcome("crash", f"{call.status}: {call.detail}".strip(": "))
    if taco_compare_call(call.value, expected):
        return TestOutcome("passed")
    return TestOutcome("wrong", "wrong answer")


def _verdict(outcomes: Sequence[TestOutcome], n_tests: int) -> Verdict:
    """passed iff all ``n_tests`` passed; else the first non-passing test names the status."""
    for i, outcome in enumerate(outcomes):
        if outcome.kind != "passed":
            status = "timed_out" if outcome.kind == "timeout" else "failed"
            return Verdict(0.0, status, f"test {i + 1} of {n_tests}: {outcome.detail}")
    if len(outcomes) < n_tests:
        return Verdict(0.0, "failed", f"only {len(outcomes)} of {n_tests} tests ran")
    return Verdict(1.0, "passed", f"{n_tests} tests passed")


class CandidateError(Exception):
    """The candidate function raised, timed out or crashed (HumanEval tests then fail)."""

    def __init__(self, result: CallResult) -> None:
        super().__init__(f"{result.status}: {result.detail}")
        self.result = result


# ---------------------------------------------------------------------------------------------
# the verifier
# ---------------------------------------------------------------------------------------------


class CodeVerifier:
    """Runs a program's unit tests in the sandbox: TACO (``input_output``) or HumanEval records.

    Parameters
    ----------
    timeout_s : float
        Wall-clock limit per test (TACO's ``TIMEOUT = 4``); for HumanEval, per candidate call
        and for loading the program.
    memory_mb : int
        Address-space limit (RLIMIT_AS) of each test's process, in MiB.
    allow_unsafe : bool
        Run without bubblewrap if it is missing.  Only on a throw-away machine.
    workers : int
        Samples verified in parallel by :meth:`verify_batch` (one sandbox each).
    limits : Limits or None
        Full resource limits; ``memory_mb`` overrides its memory field.  None: defaults.
    reuse_sandbox : bool
        Keep each worker's sandbox for the next program (reset in between) instead of starting
        bubblewrap for every program; False only to measure what that start-up costs.
    """

    def __init__(self, timeout_s: float = 4.0, memory_mb: int = 2048, allow_unsafe: bool = False,
                 workers: int = 1, limits: Limits | None = None, reuse_sandbox: bool = True) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.allow_unsafe = allow_unsafe
        self.workers = workers
        self.limits = limits
        self.reuse_sandbox = reuse_sandbox

    def _session(self, program: str, preimport: tuple[str, ...] = ()) -> SandboxSession:
        """A sandbox session for ``program`` with this verifier's limits."""
        return SandboxSession(program, self._limits(), allow_unsafe=self.allow_unsafe, preimport=preimport,
                              reuse=self.reuse_sandbox)

    def _limits(self) -> Limits:
        base = self.limits or Limits()
        cpu = max(base.cpu_s, math.ceil(self.timeout_s) + 1)
        return Limits(memory_mb=self.memory_mb, cpu_s=cpu, nproc=base.nproc, fsize_mb=base.fsize_mb,
                      nofile=base.nofile, output_mb=base.output_mb, tmp_mb=base.tmp_mb)

    def verify(self, sample: str, reference: Mapping[str, Any]) -> Verdict:
        """Score one sample: reward 1.0 only when every test passes."""
        code = extract_code(sample)
        try:
            if "input_output" in reference:
                verdict = self._verify_taco(code, reference["input_output"])
                if reference.get("tests_source") == "statement_examples":
                    # TACO's test_public split: say that these are the statement's worked examples
                    verdict = replace(verdict, detail=f"{verdict.detail} [{PUBLIC_EXAMPLES_NOTE}]")
                return verdict
            if "test_list" in reference:
                return self._verify_asserts(code, reference)
            if ("code_prompt" in reference or "prompt" in reference) and \
                    all(k in reference for k in ("test", "entry_point")):
                return self._verify_humaneval(code, reference)
        except SandboxError as exc:  # the harness could not run the check: counted, not hidden
            return Verdict(0.0, "error", str(exc)[:500])
        raise TaskConfigError(
            "code reference record has neither 'input_output' (TACO) nor 'test_list' (MBPP) nor "
            "'code_prompt' (or 'prompt'), 'test' and 'entry_point' (HumanEval); its fields are "
            f"{sorted(reference)}"
        )

    def verify_batch(self, samples: Sequence[str], references: Sequence[Mapping[str, Any]]) -> list[Verdict]:
        """Verify many samples, ``workers`` sandboxes at a time, results in input order."""
        if len(samples) != len(references):
            raise ValueError(f"{len(samples)} samples but {len(references)} references")
        if self.workers <= 1:
            return [self.verify(s, r) for s, r in zip(samples, references)]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(self.verify, samples, references))

    # -- TACO --------------------------------------------------------------------------------

    def _verify_taco(self, code: str, input_output: Any) -> Verdict:
        try:
            in_outs = json.loads(input_output) if isinstance(input_output, str) else dict(input_output)
            raw_inputs, raw_outputs = in_outs["inputs"], in_outs["outputs"]
            if len(raw_inputs) != len(raw_outputs) or not raw_inputs:
                raise ValueError(f"{len(raw_inputs)} inputs but {len(raw_outputs)} outputs")
        except (ValueError, TypeError, KeyError) as exc:
            return Verdict(0.0, "error", f"malformed input_output: {exc}")
        pairs = [taco_process_input_output(i, o) for i, o in zip(raw_inputs, raw_outputs)]
        fn_name = in_outs.get("fn_name")
        if fn_name is None:
            return self._taco_stdio(code, pairs)
        return self._taco_call(code, str(fn_name), pairs)

    @staticmethod
    def _as_text(value: Any) -> str:
        return "\n".join(value) if isinstance(value, list) else str(value)

    def _taco_stdio_pass(self, program: str, pairs: Sequence[tuple[Any, Any]],
                         compile_check: str | None = None) -> list[TestOutcome]:
        outcomes: list[TestOutcome] = []
        with self._session(program, TACO_PREIMPORT) as session:
            if compile_check is not None:
                # TACO first loads the program wrapped in `def code():` as a module (running its
                # leading import lines) and gives up on the program if that fails; same here,
                # but inside the sandbox.
                loaded = session.open_module(self.timeout_s, source=compile_check, require="code")
                session.close_module()
                if loaded.status != "ok":
                    kind = "timeout" if loaded.status == "timeout" else "crash"
                    return [TestOutcome(kind, f"program does not load as TACO's code(): {loaded.detail}")]
            for inputs, outputs in pairs:
                stdin, expected = self._as_text(inputs), self._as_text(outputs)
                run = session.run_stdio(stdin, self.timeout_s)
                outcome = outcome_from_run(run, expected)
                if outcome.kind == "crash" and run.status == "exited":
                    # TACO's second fallback: the program may read input.txt / write output.txt
                    retry = session.run_stdio(stdin, self.timeout_s, files=True)
                    if retry.status == "exited" and retry.returncode == 0:
                        outcome = outcome_from_run(retry, expected, from_file=True)
                outcomes.append(outcome)
                # stop at the first failure, unless every test so far exited with code 1 (TACO
                # then retries the whole problem with the program wrapped in a function)
                if outcome.kind != "passed" and not all(o.detail == "exit code 1" for o in outcomes):
                    break
        return outcomes

    def _taco_stdio(self, code: str, pairs: Sequence[tuple[Any, Any]]) -> Verdict:
        wrapped = taco_wrapped_program(code)
        compile_check = wrapped[: -len("\ncode()\n")]
        outcomes = self._taco_stdio_pass(taco_std_program(code), pairs, compile_check)
        if len(outcomes) == len(pairs) and all(o.detail == "exit code 1" for o in outcomes):
            # TACO: when every test exits with code 1, run the program wrapped in `def code():`
            outcomes = self._taco_stdio_pass(wrapped, pairs)
        return _verdict(outcomes, len(pairs))

    def _taco_call(self, code: str, fn_name: str, pairs: Sequence[tuple[Any, Any]]) -> Verdict:
        program = TACO_PRELUDE + code
        outcomes: list[TestOutcome] = []
        with self._session(program, TACO_PREIMPORT) as session:
            loaded = session.open_module(self.timeout_s)
            if loaded.status != "ok":
                return Verdict(0.0, "timed_out" if loaded.status == "timeout" else "failed",
                               f"program did not load: {loaded.status} {loaded.detail}".strip())
            for inputs, outputs in pairs:
                if not isinstance(inputs, list):
                    inputs = [inputs]
                call = session.call(fn_name, inputs, self.timeout_s, solution_class="class Solution" in program)
                outcomes.append(_outcome_from_call(call, outputs))
                if outcomes[-1].kind != "passed":
                    break
        return _verdict(outcomes, len(pairs))

    # -- MBPP --------------------------------------------------------------------------------

    def _verify_asserts(self, code: str, reference: Mapping[str, Any]) -> Verdict:
        """MBPP's protocol: the program, the test setup and every ``assert`` line, run as one
        program in the sandbox; it passes when it exits 0 *after* the last assert.

        The last line prints a random marker drawn for this run: a program that ends the
        process early (``sys.exit(0)`` or ``os._exit(0)`` at import) exits 0 without printing
        it, and fails.  Unlike HumanEval's check (run here, with the function called through
        the sandbox), the assert lines run inside the sandbox, as in MBPP's own evaluation:
        asserts on objects the program defines (classes, generators) need that.
        """
        marker = f"mbpp-all-asserts-passed-{secrets.token_hex(16)}"
        tests = "\n".join(str(t) for t in reference["test_list"])
        program = f"{code}\n\n{reference.get('test_setup') or ''}\n{tests}\nprint({marker!r})\n"
        with self._session(program) as session:
            run = session.run_stdio("", self.timeout_s)
        if run.status == "timeout":
            return Verdict(0.0, "timed_out", f"the program and its asserts took over {self.timeout_s:g} s")
        if run.status != "exited":
            return Verdict(0.0, "failed", f"program ended with status {run.status}")
        if run.returncode != 0:
            return Verdict(0.0, "failed", f"exit code {run.returncode} (an assert failed or the program raised)")
        if marker not in run.stdout:
            return Verdict(0.0, "failed", "exited 0 before the asserts ran (no end marker)")
        return Verdict(1.0, "passed", f"all {len(reference['test_list'])} asserts passed")

    # -- HumanEval ---------------------------------------------------------------------------

    def _verify_humaneval(self, code: str, reference: Mapping[str, Any]) -> Verdict:
        """Run HumanEval's ``check(candidate)`` HERE, with ``candidate`` a proxy into the sandbox.

        The test code (trusted, from the task data) never enters the sandbox, so the program can
        neither read the expected values nor tamper with the assertions; it only answers calls.
        """
        # the function stub the completion belongs to: ``code_prompt`` (the task's records keep
        # it there, since ``prompt`` is what the model saw, which for a chat prompt is messages)
        prompt = str(reference.get("code_prompt", reference.get("prompt")))
        entry = str(reference["entry_point"])
        with self._session(prompt + code) as session:
            loaded = session.open_module(self.timeout_s, module_name="solution")
            if loaded.status != "ok":
                return Verdict(0.0, "timed_out" if loaded.status == "timeout" else "failed",
                               f"program did not load: {loaded.status} {loaded.detail}".strip())

            def candidate(*args: Any, **kwargs: Any) -> Any:
                result = session.call(entry, args, self.timeout_s, kwargs=kwargs)
                if result.status != "ok":
                    raise CandidateError(result)
                return result.value

            namespace: dict[str, Any] = {"__name__": "humaneval_check"}
            try:
                exec(prompt, namespace)  # trusted task data: helpers such as `poly` used by tests
                namespace[entry] = candidate  # tests may name the function itself (HumanEval/33)
                exec(str(reference["test"]), namespace)
                namespace["check"](candidate)
            except CandidateError as exc:
                status = "timed_out" if exc.result.status == "timeout" else "failed"
                return Verdict(0.0, status, f"candidate call: {exc}"[:500])
            except AssertionError:
                return Verdict(0.0, "failed", "a test assertion failed")
            except Exception as exc:  # noqa: BLE001 - any error in check() is a failed test
                return Verdict(0.0, "failed", f"{type(exc).__name__}: {exc}"[:500])
        return Verdict(1.0, "passed", "check() passed")


__all__ = ["CodeVerifier", "TACO_PRELUDE", "extract_code", "outcome_from_run", "taco_compare_call", "taco_compare_stdout",
           "taco_process_input_output", "taco_std_program", "taco_wrapped_program"]
