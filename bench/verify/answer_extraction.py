"""Pull the final answer out of a model response: ``\\boxed{}`` for MATH, numbers for GSM8K.

Two GSM8K rules are offered because they disagree on real responses:

``strict`` (the default)
    The number after the last final-answer marker (``####``, "The answer is", "Final answer:",
    "Answer:", a line starting ``A:``, or a ``\\boxed{}``); if the response has no marker, its last number.
``last_two`` (the paper, appendix B: "we simply extract the last 2 numbers in the model's
    answer and classify an answer as correct if either of them match the ground truth")
    Correct when either of the last two numbers equals the gold number.  It is more lenient:
    ``"18 eggs, so 18 - 3 = 15"`` is correct for gold 18 under ``last_two`` but not ``strict``.

Numbers are compared exactly as decimals (``72``, ``72.0`` and ``72.00`` are equal;
``1,000`` is ``1000``; ``$5`` is ``5``); there is no rounding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from bench.errors import TaskConfigError
from bench.verify.base import Verdict

#: GSM8K rules ``GSM8KVerifier(rule=...)`` accepts.
GSM8K_RULES = ("strict", "last_two")

# A number: optional sign, digits with optional thousands commas, optional decimals.
_NUMBER_RE = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|(?<![\w.])-?\.\d+")
# Final-answer markers, most explicit first.  Each is followed by the answer.
_MARKER_RE = re.compile(
    r"####|the (?:final )?answer is|final answer\s*(?:is)?\s*:?|answer\s*:|^A:",
    flags=re.IGNORECASE | re.MULTILINE,
)


def find_last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), nested braces included.

    ``\\boxed 5`` (no braces, one token) is accepted too.  Returns ``None`` when there is no
    box or the last box's braces never close (a truncated response).

    >>> find_last_boxed(r"so $\\boxed{\\frac{1}{2}}$ and not \\boxed{3}")
    '3'
    >>> find_last_boxed(r"\\boxed{\\frac{a}{b}} done")
    '\\\\frac{a}{b}'
    >>> find_last_boxed("no box") is None
    True
    """
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = start + (len("\\boxed") if text.startswith("\\boxed", start) else len("\\fbox"))
    if i < len(text) and text[i] == " ":
        match = re.match(r" +([^\s$]+)", text[i:])
        return match.group(1) if match else None
    if i >= len(text) or text[i] != "{":
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{" and (j == 0 or text[j - 1] != "\\"):
            depth += 1
        elif text[j] == "}" and (j == 0 or text[j - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None


def find_numbers(text: str) -> list[str]:
    """Every number in ``text``, in order, with thousands commas removed.

    >>> find_numbers("She pays $1,200.50, then -3 and .5 more.")
    ['1200.50', '-3', '.5']
    """
    return [m.group(0).replace(",", "") for m in _NUMBER_RE.finditer(text)]


def extract_gsm8k_strict(text: str) -> str | None:
    """The ``strict`` rule's answer: first number after the last marker followed by a number,
    else the last number of the response.

    >>> extract_gsm8k_strict("3 + 4 = 7 apples. #### 7")
    '7'
    >>> extract_gsm8k_strict("The answer is 12. (Check: 12 - 2 = 10.)")
    '12'
    >>> extract_gsm8k_strict("So she has 5 + 3 = 8")
    '8'
    """
    boxed = find_last_boxed(text)
    if boxed is not None:
        numbers = find_numbers(boxed)
        return numbers[0] if len(numbers) == 1 else None
    markers = list(_MARKER_RE.finditer(text))
    ends = [m.start() for m in markers[1:]] + [len(text)]
    for marker, end in reversed(list(zip(markers, ends))):
        numbers = find_numbers(text[marker.end() : end])
        if numbers:
            return numbers[0]
    numbers = find_numbers(text)
    return numbers[-1] if numbers else None


def parse_gold_gsm8k(answer: str) -> str:
    """The gold number from a GSM8K ``answer`` field (``"... #### 72"``) or a bare number."""
    tail = answer.rsplit("####", 1)[-1]
    numbers = find_numbers(tail)
    if len(numbers) != 1:
        raise TaskConfigError(f"GSM8K gold answer {answer!r}: expected one number after '####'")
    return numbers[0]


def numbers_equal(a: str, b: str) -> bool:
    """Exact decimal equality of two number strings (``'72.0' == '72'``, no rounding)."""
    try:
        return Decimal(a.replace(",", "")) == Decimal(b.replace(",", ""))
    except InvalidOperation:
        return False


class GSM8KVerifier:
    """GSM8K correctness: the response's final number against the gold number.

    Parameters
    ----------
    rule : {"strict", "last_two"}
        ``strict`` (default): the number after the last final-answer marker, else the last
        number.  ``last_two``: the paper's rule, correct if either of the last two numbers in
        the response equals the gold.

    Notes
    -----
    ``reference["answer"]`` is the gold: a bare number or GSM8K's full solution ending in
    ``#### <number>``.  A response with no number is ``incorrect`` with detail "no number".
    """

    def __init__(self, *, rule: str = "strict") -> None:
        self.rule = rule

    def verify(self, sample: str, reference: Mapping[str, Any]) -> Verdict:
        """Score one response; raises :class:`TaskConfigError` on an unknown rule or bad gold."""
        if self.rule not in GSM8K_RULES:
            raise TaskConfigError(f"GSM8KVerifier: unknown rule {self.rule!r}; expected one of {GSM8K_RULES}")
        if "answer" not in reference:
            raise TaskConfigError("GSM8KVerifier: reference has no 'answer' field")
        gold = parse_gold_gsm8k(str(reference["answer"]))
        if self.rule == "strict":
            candidates = [c for c in [extract_gsm8k_strict(sample)] if c is not None]
        else:
            candidates = find_numbers(sample)[-2:]
        if not candidates:
            return Verdict(0.0, "incorrect", f"no number (gold {gold})")
        ok = any(numbers_equal(c, gold) for c in candidates)
        detail = f"extracted {candidates} ({self.rule}), gold {gold}"
        return Verdict(1.0 if ok else 0.0, "correct" if ok else "incorrect", detail)
