"""NuminaMath-CoT hooks: rows ``{source, problem, solution, messages}`` -> reference records.

As in the paper (appendix A.1), multiple-choice problems are dropped.  A problem counts as
multiple choice when its gold answer is a bare option letter (``B``, ``\\text{(C)}``,
``\\textbf{(D)}``) or its statement lists options A to D (``(A)``, ``A:``, ``A.``, ``\\textbf{(A)}``).
Rows without a ``\\boxed{}`` answer cannot be verified and are dropped too.  Numina has no id
column: ``query_id`` is ``numina-`` + the first 16 hex digits of sha1(source, problem); a repeated
(source, problem) pair keeps its first row.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from bench.tasks import task_hooks

_FILTER_KEYS = {"drop_multiple_choice", "exclude_sources", "include_sources"}
#: option markers: "(A)", "\textbf{(A)}", "A:", "A." or "A．" followed by a space or a digit/$.
_OPTION = re.compile(r"\(([A-E])\)|\b([A-E])\s*[:：.．](?=\s|\$|\d|\\)")
_LETTER_ANSWER = re.compile(r"^\(?([A-E])\)?$")
_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}")


def answer_letter(answer: str) -> str | None:
    """The option letter if ``answer`` is nothing but one (``'\\textbf{(B)}'`` -> ``'B'``).

    >>> answer_letter(r"\\textbf{(B)}"), answer_letter("C"), answer_letter("12")
    ('B', 'C', None)
    """
    text = answer
    for _ in range(3):
        text = _WRAPPERS.sub(r"\1", text)
    text = text.replace(" ", "").replace("\\", "").strip()
    m = _LETTER_ANSWER.match(text)
    return m.group(1) if m else None


def is_multiple_choice(problem: str, answer: str | None) -> bool:
    """True when the gold answer is an option letter or options A-D are listed in ``problem``.

    >>> is_multiple_choice("Which is prime? A: 4  B: 6  C: 7  D: 9", "C")
    True
    >>> is_multiple_choice("Find $x$ if $2x = 6$.", "3")
    False
    """
    if answer is not None and answer_letter(answer) is not None:
        return True
    letters = {a or b for a, b in _OPTION.findall(problem)}
    return {"A", "B", "C", "D"} <= letters


def query_id(source: str, problem: str) -> str:
    digest = hashlib.sha1(f"{source}\n{problem.strip()}".encode("utf-8")).hexdigest()
    return f"numina-{digest[:16]}"


def process_docs(rows: list[dict[str, Any]], split: str, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Filter and build records.  Filters: ``drop_multiple_choice`` (bool), ``exclude_sources``
    and ``include_sources`` (lists of ``source`` values; the paper's Numina->MATH transfer
    experiment excluded ``math``)."""
    unknown = set(filters) - _FILTER_KEYS
    if unknown:
        raise ValueError(f"Numina filters: unknown {sorted(unknown)}; allowed: {sorted(_FILTER_KEYS)}")
    last_boxed = task_hooks("math").last_boxed
    exclude = set(filters.get("exclude_sources") or [])
    include = set(filters.get("include_sources") or [])
    drop_mc = bool(filters.get("drop_multiple_choice", True))
    records: dict[str, dict[str, Any]] = {}
    for row in rows:
        source = row.get("source", "")
        if source in exclude or (include and source not in include):
            continue
        answer = last_boxed(row["solution"])
        if answer is None or (drop_mc and is_multiple_choice(row["problem"], answer)):
            continue
        qid = query_id(source, row["problem"])
        records.setdefault(qid, {
            "query_id": qid,
            "problem": row["problem"],
            "solution": row["solution"],
            "answer": answer,
            "source": source,
        })
    return list(records.values())
