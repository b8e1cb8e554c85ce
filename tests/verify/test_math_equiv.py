"""Stage-1 math equivalence: the hand-checked pair table, the timeout worker, the verifier."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bench.verify.base import Verdict
from bench.verify.math_equiv import ComparisonWorker, MathVerifier, compare_answers, normalize_latex

PAIRS_FILE = Path(__file__).parent.parent / "data" / "math_pairs.tsv"


def load_pairs() -> list[tuple[str, str, str, str, str]]:
    lines = [line.rstrip("\n") for line in PAIRS_FILE.read_text(encoding="utf-8").splitlines()]
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    assert rows[0] == ["answer", "gold", "truth", "expected", "note"]
    return [tuple(row) for row in rows[1:]]  # type: ignore[misc]


PAIRS = load_pairs()


def test_table_is_large_and_well_formed() -> None:
    assert len(PAIRS) >= 60
    assert all(len(row) == 5 for row in PAIRS)
    assert {row[2] for row in PAIRS} == {"equivalent", "different"}
    assert {row[3] for row in PAIRS} == {"correct", "incorrect", "unsure"}
    assert len({(row[0], row[1]) for row in PAIRS}) == len(PAIRS)


@pytest.mark.parametrize(("answer", "gold", "truth", "expected", "note"), PAIRS, ids=[row[4] for row in PAIRS])
def test_pair(answer: str, gold: str, truth: str, expected: str, note: str) -> None:
    status, reason = compare_answers(answer, gold)
    if truth == "different":
        assert status != "correct", f"FALSE POSITIVE ({note}): {reason}"
    else:
        assert status != "incorrect", f"false negative that would skip the judge ({note}): {reason}"
    assert status == expected, reason
    assert compare_answers(gold, answer)[0] == status, "comparison must be symmetric"


def test_zero_false_positives_over_the_whole_table() -> None:
    positives = [(a, g) for a, g, truth, _, _ in PAIRS if truth == "different" and compare_answers(a, g)[0] == "correct"]
    assert positives == []


def test_the_papers_four_false_negatives_are_correct() -> None:
    for answer, gold in [(r"\frac{25}{2}", "12.5"), ("x=2", "2"), ("-0.5", r"-\frac{1}{2}"), ("11.00", "11")]:
        assert compare_answers(answer, gold)[0] == "correct"


@pytest.mark.parametrize(
    ("answer", "gold", "expected"),
    [
        ("10^{100}+1", "10^{100}", "incorrect"),  # a relative tolerance would call these equal
        (r"\frac{1}{2}", r"\frac{1}{2}+10^{-80}", "incorrect"),  # not 6 digits, not 50 digits
        (r"\sqrt{5+2\sqrt{6}}", r"\sqrt2+\sqrt3", "correct"),  # nested root, proven to 200 digits
        ("3.14159265358979323846264338327950288419716939937510", r"\pi", "unsure"),
        (r"\pi", "3.15", "incorrect"),
        ('__import__("os").system("true")', "1", "unsure"),  # never evaluated as Python
        ("2\\frac{1}{2}", "2.5", "correct"),
    ],
)
def test_precision_and_safety(answer: str, gold: str, expected: str) -> None:
    assert compare_answers(answer, gold)[0] == expected


def test_normalisation_keeps_units_percent_and_spaces_between_digits() -> None:
    assert normalize_latex(r"$50\%$") == r"50\%"
    assert normalize_latex(r"5 \mbox{ cm }") == r"5\text{cm}"
    assert normalize_latex("2 3") == "2 3"
    assert normalize_latex(r"\left[ 1 ,\! 2 \right)") == "[1,2)"


@pytest.fixture(scope="module")
def worker() -> ComparisonWorker:
    w = ComparisonWorker()
    yield w
    w.close()


def test_worker_times_out_on_a_hanging_expression_and_recovers(worker: ComparisonWorker) -> None:
    assert worker.compare("0.5", r"\frac12", timeout_s=30) == ("correct", "exactly equal")
    start = time.monotonic()
    status, reason = worker.compare("9^{9^{9^{9}}}", "1", timeout_s=1.0)  # sympy computes 9^(9^9^9)
    assert status == "unsure" and "timed out" in reason
    assert time.monotonic() - start < 10
    assert worker.compare("11.00", "11", timeout_s=30)[0] == "correct"  # a fresh child answers


def test_worker_from_threads(worker: ComparisonWorker) -> None:
    results: dict[int, str] = {}

    def check(k: int) -> None:
        results[k] = worker.compare(str(k), f"{k}.0", timeout_s=30)[0]

    threads = [threading.Thread(target=check, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {k: "correct" for k in range(6)}


def test_verifier_extracts_the_last_box(worker: ComparisonWorker) -> None:
    verifier = MathVerifier(worker=worker, timeout_s=30)
    good = verifier.verify(r"First \boxed{3}, no wait: $\boxed{\frac{25}{2}}$.", {"answer": "12.5"})
    assert good == Verdict(1.0, "correct", "stage 1: exactly equal")
    bad = verifier.verify(r"\boxed{13}", {"answer": r"\boxed{12.5}"})
    assert (bad.reward, bad.status) == (0.0, "incorrect")
    unboxed = verifier.verify("the answer is 12.5", {"answer": "12.5"})
    assert (unboxed.reward, unboxed.status) == (0.0, "unsure")
    assert "no \\boxed{}" in unboxed.detail


def test_verifier_without_judge_scores_unsure_as_zero(worker: ComparisonWorker) -> None:
    verdict = MathVerifier(worker=worker, timeout_s=30).verify(r"\boxed{0.5}", {"answer": r"50\%"})
    assert (verdict.reward, verdict.status) == (0.0, "unsure")


def test_worker_survives_a_fork(worker: ComparisonWorker) -> None:
    """A forked process (a ProcessPoolExecutor worker) must not share the parent's child."""
    import multiprocessing

    assert worker.compare("1", "1.0", timeout_s=30)[0] == "correct"  # parent's child is running
    parent_child = worker._process
    _FORKED["worker"] = worker  # inherited by the forked pool process, not pickled
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        status, child_pid = pool.apply(_compare_in_fork)
    assert status == "incorrect" and child_pid != parent_child.pid  # the fork started its own child
    assert worker._process is parent_child and worker.compare("2", "2.0", timeout_s=30)[0] == "correct"


_FORKED: dict[str, ComparisonWorker] = {}


def _compare_in_fork() -> tuple[str, int]:
    worker = _FORKED["worker"]
    status = worker.compare("2", "3", timeout_s=30)[0]
    return status, worker._process.pid


def test_doctests() -> None:
    import doctest

    from bench.verify import math_equiv

    assert doctest.testmod(math_equiv).failed == 0
