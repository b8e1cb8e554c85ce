"""TACO comparison rules (hand-checked cases), the TACO fixture end to end, and HumanEval."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from bench.errors import TaskConfigError
from bench.verify._sandbox_runner import CodecError, decode_value, encode_value
from bench.verify.code_exec import bwrap_problem
from bench.verify.code_verifier import (
    CodeVerifier,
    extract_code,
    taco_compare_call,
    taco_compare_stdout,
    taco_process_input_output,
    taco_std_program,
    taco_wrapped_program,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = [json.loads(line) for line in (ROOT / "tests/data/taco_fixture.jsonl").read_text().splitlines()]
HUMANEVAL = ROOT / "tasks/humaneval/data/HumanEval.jsonl.gz"
needs_bwrap = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bubblewrap unusable: {bwrap_problem()}")


# -- stdout comparison: one block of hand-checked cases per TACO rule ---------------------------

@pytest.mark.parametrize(
    ("output", "expected", "passes"),
    [
        # rule 1: equal after strip()
        ("3\n", "3", True),
        ("  a b \n\n", "a b", True),
        ("1 2\n3\n", "1 2\n3", True),
        ("3\n", "4\n", False),
        ("1  2\n", "1 2\n", False),  # inner whitespace matters for rule 1, and rules 3-4 miss it
        # rule 2: every character of the raw output is a number, one per expected line
        ("12", "1\n2", True),
        ("12\n", "1\n2", False),  # the newline character is not a float
        # rule 3: set of character-sets of output tokens == set of token-sets of expected lines
        ("2 1\n", "1\n2\n", True),
        ("ab\n", "a b\n", True),
        ("b a\n", "ab\n", False),
        ("YES\nNO\n", "NO\nYES\n", False),  # multi-character tokens: no reordering allowed
        # rule 4: the same with characters/tokens as floats rounded to 3 decimals
        ("1\n", "1.0004\n", True),
        ("1\n", "1.0\n", True),
        ("1.5\n", "1.5000001\n", False),  # '.' is not a float: TACO has no real float tolerance
        ("0.333\n", "0.3333333\n", False),
    ],
)
def test_taco_compare_stdout(output: str, expected: str, passes: bool) -> None:
    assert taco_compare_stdout(output, expected) is passes


@pytest.mark.parametrize(
    ("result", "expected", "passes"),
    [
        ([3, 2], [[3, 2]], True),  # outputs are stored wrapped in a list
        ((3, 2), [[3, 2]], True),  # a tuple counts as a list
        ([(1, 2), (3, 4)], [[[1, 2], [3, 4]]], True),  # a list of tuples counts as a list of lists
        (5, [5], True),
        (5, 5, True),
        ([3, 2], [[2, 3]], False),
        ("3", [3], False),
        (None, [None], True),
        ({1: 2}, [{1: 2}], True),
        (1.0, [1], True),  # Python equality: 1.0 == 1
        (1.0000001, [1], False),  # no tolerance for call-based results
    ],
)
def test_taco_compare_call(result: object, expected: object, passes: bool) -> None:
    assert taco_compare_call(result, expected) is passes


def test_process_input_output_restores_int_keys() -> None:
    assert taco_process_input_output([{"1": "a", "2": "b"}, 5], [{"3": 1}]) == ([{1: "a", 2: "b"}], [{3: 1}])
    assert taco_process_input_output([1, 2], {"7": 0}) == ([1, 2], [{7: 0}])
    assert taco_process_input_output([{"x": 1}], ["a"]) == ([{"x": 1}], ["a"])  # non-int keys stay


def test_std_program_puts_prelude_after_leading_imports() -> None:
    program = taco_std_program("from __future__ import annotations\nimport os\nprint(1)\n")
    lines = program.split("\n")
    assert lines[:2] == ["from __future__ import annotations", "import os"]
    assert "import numpy as np" in program and program.index("import numpy") < program.index("print(1)")
    compile(program, "p", "exec")


def test_wrapped_program_indents_the_body_into_code() -> None:
    program = taco_wrapped_program("import sys\nn = int(input())\nif n:\n    print(n)\n    return\n")
    assert "def code():\n\tn = int(input())\n\tif n:\n\t    print(n)" in program
    assert program.endswith("\ncode()\n")
    compile(program, "p", "exec")  # a top-level `return` is legal once wrapped


@pytest.mark.parametrize(
    ("sample", "code"),
    [
        ("print(1)\n", "print(1)\n"),
        ("Here:\n```python\nprint(2)\n```\nand ```py\nx\n```", "print(2)\n"),
        ("```\nprint(3)\n```", "print(3)\n"),
        ("```text\nhi\n```\n```Python\nprint(4)\n```", "print(4)\n"),
    ],
)
def test_extract_code(sample: str, code: str) -> None:
    assert extract_code(sample) == code


def test_value_codec_round_trip_and_refusals() -> None:
    value = [1, 2.5, float("inf"), (1, "a"), {3: {4}}, frozenset({1}), b"\x00", 1 + 2j, None, True, "é"]
    assert decode_value(json.loads(json.dumps(encode_value(value)))) == value
    assert type(decode_value(encode_value((1,)))) is tuple
    with pytest.raises(CodecError):
        encode_value(object())
    with pytest.raises(CodecError):
        decode_value({"__eval__": "1"})
    with pytest.raises(CodecError):
        decode_value({"__set__": [[1]]})  # unhashable member


def test_reference_without_known_fields_is_a_clear_error() -> None:
    with pytest.raises(TaskConfigError, match="input_output.*HumanEval"):
        CodeVerifier().verify("print(1)", {"question": "q"})


def test_malformed_input_output_is_an_error_verdict() -> None:
    verdict = CodeVerifier().verify("print(1)", {"input_output": "{not json"})
    assert verdict.status == "error" and verdict.reward == 0.0


# -- end to end on the TACO fixture ---------------------------------------------------------------

@needs_bwrap
@pytest.mark.parametrize("row", FIXTURE, ids=[r["task_id"] for r in FIXTURE])
def test_taco_fixture_solutions_pass_and_wrong_ones_fail(row: dict) -> None:
    verifier = CodeVerifier(timeout_s=4.0)
    for solution in json.loads(row["solutions"]):
        verdict = verifier.verify(solution, row)
        assert (verdict.status, verdict.reward) == ("passed", 1.0), (solution, verdict)
    for wrong in row["wrong_solutions"]:
        verdict = verifier.verify(wrong, row)
        assert verdict.status == "failed" and verdict.reward == 0.0, (wrong, verdict)


@needs_bwrap
def test_each_test_is_checked_not_just_the_first() -> None:
    row = FIXTURE[1]  # the sum problem: 1 2 -> 3, 10 20 -> 30, -5 5 -> 0
    verdict = CodeVerifier().verify("a, b = map(int, input().split())\nprint(a + b if a != 10 else 0)\n", row)
    assert verdict.status == "failed" and verdict.detail.startswith("test 2 of 3")


@needs_bwrap
def test_program_must_load_as_tacos_code_function() -> None:
    """TACO loads the program wrapped in ``def code():`` first; its leading import lines run at load
    time (with no stdin), so a program starting ``import sys; a = input()`` fails there."""
    row = FIXTURE[1]
    verdict = CodeVerifier().verify("import sys; a, b = map(int, input().split())\nprint(a + b)\n", row)
    assert verdict.status == "failed" and "code()" in verdict.detail
    # the same program with the input on its own line passes
    assert CodeVerifier().verify("import sys\na, b = map(int, input().split())\nprint(a + b)\n", row).status == "passed"


@needs_bwrap
def test_exit_and_quit_work_as_in_a_normal_interpreter() -> None:
    row = FIXTURE[1]
    ok = "a, b = map(int, input().split())\nprint(a + b)\nexit()\nprint('after exit')\n"
    assert CodeVerifier().verify(ok, row).status == "passed"
    assert CodeVerifier().verify("print(3)\nquit(2)\n", row).status == "failed"  # exit code 2


@needs_bwrap
def test_timeout_is_reported_as_timed_out() -> None:
    row = FIXTURE[1]
    code = "import time\na, b = map(int, input().split())\nif a == -5:\n    time.sleep(30)\nprint(a + b)\n"
    verdict = CodeVerifier(timeout_s=1.0).verify(code, row)
    assert verdict.status == "timed_out" and verdict.detail.startswith("test 3 of 3")


@needs_bwrap
def test_markdown_sample_and_batch_order() -> None:
    row = FIXTURE[1]
    samples = ["```python\na, b = map(int, input().split())\nprint(a + b)\n```", "print(0)", "```python\nprint(\n```"]
    verdicts = CodeVerifier(workers=2).verify_batch(samples, [row] * 3)
    assert [v.status for v in verdicts] == ["passed", "failed", "failed"]


# -- HumanEval --------------------------------------------------------------------------------

def _humaneval() -> list[dict]:
    with gzip.open(HUMANEVAL, "rt") as handle:
        return [json.loads(line) for line in handle]


@needs_bwrap
def test_humaneval_quick_pass_and_wrong() -> None:
    rows = {r["task_id"]: r for r in _humaneval()}
    verifier = CodeVerifier(timeout_s=4.0)
    for task in ("HumanEval/0", "HumanEval/32", "HumanEval/33", "HumanEval/38"):
        row = rows[task]
        assert verifier.verify(row["canonical_solution"], row).status == "passed", task
    zero = rows["HumanEval/0"]
    assert verifier.verify("    return False\n", zero).status == "failed"
    full = "```python\ndef has_close_elements(numbers, threshold):\n    return any(abs(a - b) < threshold " \
           "for i, a in enumerate(numbers) for b in numbers[i + 1:])\n```"
    assert verifier.verify(full, zero).status == "passed"  # a full function in markdown works too
    assert verifier.verify("    while True:\n        pass\n", zero).status == "timed_out"


@needs_bwrap
@pytest.mark.slow
def test_all_164_humaneval_canonical_solutions_pass() -> None:
    rows = _humaneval()
    assert len(rows) == 164
    verdicts = CodeVerifier(timeout_s=4.0, workers=2).verify_batch([r["canonical_solution"] for r in rows], rows)
    failing = [(r["task_id"], v) for r, v in zip(rows, verdicts) if v.status != "passed"]
    assert failing == []


@needs_bwrap
def test_humaneval_chat_record_runs_against_its_code_prompt_not_the_messages() -> None:
    """Regression: a chat prompt's record has ``prompt`` = the messages; the verifier must run
    the completion after ``code_prompt`` (the stub), or every chat sample fails."""
    from bench.tasks import load_task

    task = load_task("humaneval").with_prompt("chat")
    record = next(r for r in task.load_queries("test") if r["query_id"] == "HumanEval/0")
    assert isinstance(record["prompt"], list)            # messages, not code
    full = ("```python\nfrom typing import List\n\ndef has_close_elements(numbers: List[float], "
            "threshold: float) -> bool:\n    return any(abs(a - b) < threshold for i, a in "
            "enumerate(numbers) for b in numbers[i + 1:])\n")   # cut at the closing fence
    verifier = CodeVerifier(timeout_s=4.0)
    assert verifier.verify(full, record).status == "passed"
    assert verifier.verify(full.replace("< threshold", "> threshold"), record).status == "failed"


def test_extract_code_takes_an_unclosed_fence() -> None:
    """A sample stopped at its closing fence (a stop string) keeps only the code after the opening."""
    assert extract_code("Here it is:\n```python\ndef f():\n    return 1") == "def f():\n    return 1"
    assert extract_code("```py\nx = 1\n```\ntext ```python\ny = 2") == "x = 1\n"   # closed block first
    assert extract_code("def f(): pass") == "def f(): pass"                          # bare code


# -- MBPP -------------------------------------------------------------------------------------

def _mbpp_records() -> list[dict]:
    from bench.tasks import load_task

    task = load_task("mbpp")
    return [r for split in ("train", "validation", "test") for r in task.load_queries(split)]


@needs_bwrap
@pytest.mark.slow
def test_all_427_minus_prompt_split_mbpp_reference_solutions_pass() -> None:
    records = _mbpp_records()
    assert len(records) == 420          # 427 sanitized tasks less the 7 of the few-shot split
    from bench.tasks import load_task

    options = dict(load_task("mbpp").verifier.options)      # the task's own timeout
    verdicts = CodeVerifier(workers=2, **options).verify_batch(
        ["```python\n" + r["reference_code"] + "\n```" for r in records], records)
    assert [(r["query_id"], v) for r, v in zip(records, verdicts) if v.status != "passed"] == []


@needs_bwrap
def test_mbpp_asserts_hand_checked() -> None:
    """MBPP/11 (remove first and last occurrence of a character): a right answer, a wrong one,
    a hang, and a program that exits 0 before its asserts could run."""
    record = next(r for r in _mbpp_records() if r["query_id"] == "MBPP/11")
    assert record["first_test"] == 'assert remove_Occ("hello","l") == "heo"'
    verifier = CodeVerifier(timeout_s=4.0)
    right = ("def remove_Occ(s, ch):\n    i = s.find(ch)\n    if i < 0:\n        return s\n"
             "    s = s[:i] + s[i + 1:]\n    j = s.rfind(ch)\n    return s if j < 0 else s[:j] + s[j + 1:]\n")
    assert verifier.verify(right, record).status == "passed"
    assert verifier.verify("def remove_Occ(s, ch):\n    return s.replace(ch, '', 1)\n", record).status == "failed"
    assert verifier.verify("def remove_Occ(s, ch):\n    while True:\n        pass\n", record).status == "timed_out"
    early_exit = "import os\nos._exit(0)\n"
    verdict = verifier.verify(early_exit, record)
    assert verdict.status == "failed" and "marker" in verdict.detail


# -- TACO test_public: programs written by hand against the statements' own examples -----------

#: task id -> (a correct program, checked by hand against the statement, and a wrong one)
TACO_PUBLIC_PROGRAMS = {
    # a + b for t test cases: 1+5=6, 314+15=329, -99+99=0, 123+987=1110
    697: ("t = int(input())\nfor _ in range(t):\n    a, b = map(int, input().split())\n    print(a + b)\n",
          "t = int(input())\nfor _ in range(t):\n    a, b = map(int, input().split())\n    print(a - b)\n"),
    # k-th smallest divisor or -1: (4,2) -> 1,2,4 -> 2; (5,3) -> -1; (12,5) -> 1,2,3,4,6,12 -> 6.
    # The wrong one forgets the -1 (it prints the last divisor).
    292: ("n, k = map(int, input().split())\nsmall, large = [], []\ni = 1\nwhile i * i <= n:\n"
          "    if n % i == 0:\n        small.append(i)\n        if i != n // i:\n            large.append(n // i)\n"
          "    i += 1\nds = small + large[::-1]\nprint(ds[k - 1] if k <= len(ds) else -1)\n",
          "n, k = map(int, input().split())\nds = [d for d in range(1, n + 1) if n % d == 0]\n"
          "print(ds[min(k, len(ds)) - 1])\n"),
    # how many segments each segment contains (O(n^2) is fine on the examples); the wrong one
    # counts the segments that intersect it
    912: ("n = int(input())\nsegs = [tuple(map(int, input().split())) for _ in range(n)]\n"
          "for l, r in segs:\n    print(sum(1 for a, b in segs if l < a and b < r))\n",
          "n = int(input())\nsegs = [tuple(map(int, input().split())) for _ in range(n)]\n"
          "for l, r in segs:\n    print(sum(1 for a, b in segs if (a, b) != (l, r) and a < r and l < b))\n"),
    # triangles whose multiset of sides occurs once (SAMPLE INPUT whose last line had a trailing space)
    860: ("from collections import Counter\nn = int(input())\n"
          "c = Counter(tuple(sorted(map(int, input().split()))) for _ in range(n))\n"
          "print(sum(1 for v in c.values() if v == 1))\n",
          "n = int(input())\nprint(len({tuple(map(int, input().split())) for _ in range(n)}))\n"),
    # HackerRank's swap case
    24: ("print(input().swapcase())\n", "print(input().upper())\n"),
    # CodeChef, a double-spaced sample undone (input() would read the blank lines otherwise):
    # N = 10^a * 20^b = 2^(a+2b) * 5^(a+b), so with p twos and q fives, b = p - q >= 0 and
    # a = 2q - p >= 0.  200 = 2^3 5^2: Yes; 90: a factor 3: No; 10^12: Yes; 1024 * 10^9 = 2^19 5^9:
    # a = -1: No.  The wrong one only checks that 2 and 5 are the only prime factors.
    660: ("for _ in range(int(input())):\n    n = int(input())\n    p = q = 0\n"
          "    while n % 2 == 0:\n        n //= 2\n        p += 1\n    while n % 5 == 0:\n        n //= 5\n        q += 1\n"
          "    print('Yes' if n == 1 and p >= q and 2 * q >= p else 'No')\n",
          "for _ in range(int(input())):\n    n = int(input())\n    while n % 2 == 0:\n        n //= 2\n"
          "    while n % 5 == 0:\n        n //= 5\n    print('Yes' if n == 1 else 'No')\n"),
}


@pytest.fixture(scope="module")
def taco_public() -> dict[int, dict]:
    from bench.tasks import load_task

    queries = load_task("taco").load_queries("test_public")
    return {int(q["query_id"].removeprefix("taco-test-")): q for q in queries
            if int(q["query_id"].removeprefix("taco-test-")) in TACO_PUBLIC_PROGRAMS}


@needs_bwrap
@pytest.mark.parametrize("task_id", sorted(TACO_PUBLIC_PROGRAMS))
def test_taco_public_examples_pass_a_correct_program_and_fail_a_wrong_one(taco_public, task_id: int) -> None:
    right, wrong = TACO_PUBLIC_PROGRAMS[task_id]
    reference = taco_public[task_id]
    verifier = CodeVerifier(timeout_s=4.0)
    passed = verifier.verify(f"```python\n{right}```", reference)
    assert passed.status == "passed" and passed.reward == 1.0
    assert "public statement examples only, not the hidden tests" in passed.detail
    failed = verifier.verify(f"```python\n{wrong}```", reference)
    assert failed.status == "failed" and failed.reward == 0.0
    assert "not the hidden tests" in failed.detail


def test_hidden_test_verdicts_carry_no_public_examples_note() -> None:
    verdict = CodeVerifier().verify("print(1)", {"input_output": "{not json"})
    assert "public statement examples" not in verdict.detail
    marked = CodeVerifier().verify("print(1)", {"input_output": "{not json", "tests_source": "statement_examples"})
    assert marked.detail.endswith("[public statement examples only, not the hidden tests]")
