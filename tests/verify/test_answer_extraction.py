"""Answer extraction: last ``\\boxed{}`` and the two GSM8K rules (hand-written fixture responses)."""

from __future__ import annotations

import doctest

import pytest

from bench.errors import TaskConfigError
from bench.verify import answer_extraction
from bench.verify.answer_extraction import (
    GSM8KVerifier,
    extract_gsm8k_strict,
    find_last_boxed,
    find_numbers,
    parse_gold_gsm8k,
)


def test_doctests() -> None:
    assert doctest.testmod(answer_extraction).failed == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"\boxed{1} then \boxed{\frac{a}{b^{2}}}", r"\frac{a}{b^{2}}"),
        (r"$\boxed{\{1,2\}}$", r"\{1,2\}"),
        (r"\fbox{7}", "7"),
        (r"\boxed 5.", "5."),
        (r"answer \boxed{\frac{1}{2}", None),  # truncated response: never closes
        ("no box at all", None),
        (r"\boxed{}", ""),
    ],
)
def test_find_last_boxed(text: str, expected: str | None) -> None:
    assert find_last_boxed(text) == expected


def test_find_numbers_handles_money_thousands_and_signs() -> None:
    assert find_numbers("$1,234.50 and -7, x2, 3.") == ["1234.50", "-7", "3"]


@pytest.mark.parametrize(
    ("response", "strict", "last_two_correct"),
    [
        # hand-written fixtures, gold 18.  Where the rules differ is the point of this table.
        ("16 - 3 - 4 = 9 eggs, 9 * 2 = 18 dollars. #### 18", "18", True),
        ("The answer is 18. Check: 18 - 3 = 15.", "18", False),  # last_two sees 3 and 15
        ("The total is 18 dollars for 2 days.", "2", True),  # strict takes 2, last_two sees 18
        ("I get 17 or maybe 18", "18", True),
        ("I get 18 or maybe 17", "17", True),  # hedging: last_two accepts it, strict does not
        ("#### 18\n(The answer is positive because she earns money.)", "18", True),
        ("The final answer is $18.00.", "18.00", True),
        (r"So the total is \boxed{18}.", "18", True),
        ("Total: 1,800 cents = 18 dollars", "18", True),
        ("No idea.", None, False),
    ],
)
def test_gsm8k_rules(response: str, strict: str | None, last_two_correct: bool) -> None:
    assert extract_gsm8k_strict(response) == strict
    strict_verdict = GSM8KVerifier().verify(response, {"answer": "18"})
    assert strict_verdict.status == ("correct" if strict is not None and float(strict) == 18 else "incorrect")
    last_two = GSM8KVerifier(rule="last_two").verify(response, {"answer": "#### 18"})
    assert (last_two.status == "correct") == last_two_correct
    assert last_two.reward == (1.0 if last_two_correct else 0.0)


def test_rules_differ_both_ways() -> None:
    gold = {"answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72"}
    hedge = "It is either 72 or 70."
    assert GSM8KVerifier(rule="strict").verify(hedge, gold).status == "incorrect"
    assert GSM8KVerifier(rule="last_two").verify(hedge, gold).status == "correct"
    checked = "The answer is 72. Sanity check: 48 + 24 = 72, and 72 - 24 = 48."
    assert GSM8KVerifier(rule="strict").verify(checked, gold).status == "correct"
    assert GSM8KVerifier(rule="last_two").verify(checked, gold).status == "incorrect"


def test_gold_parsing_and_errors() -> None:
    assert parse_gold_gsm8k("work...\n#### 1,000") == "1000"
    assert parse_gold_gsm8k("-3.5") == "-3.5"
    with pytest.raises(TaskConfigError, match="expected one number"):
        parse_gold_gsm8k("#### seventy")
    with pytest.raises(TaskConfigError, match="unknown rule 'loose'"):
        GSM8KVerifier(rule="loose").verify("1", {"answer": "1"})
    with pytest.raises(TaskConfigError, match="no 'answer'"):
        GSM8KVerifier().verify("1", {"gold": "1"})
