"""MATH hooks: rows ``{unique_id, problem, level, type, solution}`` -> reference records.

The gold answer is the content of the last ``\\boxed{}`` (or ``\\fbox{}``) in ``solution``.
``query_id`` is ``unique_id`` (``test/algebra/1.json``, the id PRM800K and MATH-500 use).
Hub copies without ``unique_id`` (``DigitalLearningGmbH/MATH-lighteval``) are matched to it by
problem text, which is identical in both copies; an unmatched problem gets ``math-<sha1>``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from bench.tasks import read_rows

_DATA = Path(__file__).resolve().parent / "data"


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces allowed), or None.

    >>> last_boxed(r"so $\\boxed{\\frac{1}{2}}$, not \\boxed{3}")
    '3'
    >>> last_boxed(r"\\boxed{\\frac{1}{2}}")
    '\\\\frac{1}{2}'
    >>> last_boxed("no answer") is None
    True
    """
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    brace = text.find("{", start)
    if brace < 0:
        # "\boxed 5" (no braces) appears in a few MATH solutions.
        rest = text[start:].split(None, 1)
        return rest[1].split("$")[0].strip() if len(rest) == 2 else None
    depth = 0
    for pos in range(brace, len(text)):
        if text[pos] == "{":
            depth += 1
        elif text[pos] == "}":
            depth -= 1
            if depth == 0:
                return text[brace + 1:pos]
    return None


def problem_key(problem: str) -> str:
    return hashlib.sha1(problem.strip().encode("utf-8")).hexdigest()


@lru_cache(maxsize=4)
def _local_ids(split: str) -> dict[str, str]:
    """problem hash -> unique_id from the shipped copy of ``split`` (empty if none shipped)."""
    for name in (f"{split}.jsonl", f"{split}.jsonl.gz"):
        if (_DATA / name).is_file():
            return {problem_key(r["problem"]): r["unique_id"] for r in read_rows(_DATA / name)}
    return {}


def process_docs(rows: list[dict[str, Any]], split: str, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One record per row with its gold ``answer``; filters: ``levels`` (e.g. ``[5]``) and
    ``types`` (e.g. ``[Algebra]``) keep a subset (both optional)."""
    unknown = set(filters) - {"levels", "types"}
    if unknown:
        raise ValueError(f"MATH filters: unknown {sorted(unknown)}; allowed: levels, types")
    levels = {f"Level {x}" for x in filters.get("levels") or []}
    types = set(filters.get("types") or [])
    records = []
    for row in rows:
        if (levels and row.get("level") not in levels) or (types and row.get("type") not in types):
            continue
        answer = last_boxed(row["solution"])
        if answer is None:
            raise ValueError(f"MATH row {row.get('unique_id', row['problem'][:60])!r} has no \\boxed answer")
        qid = row.get("unique_id") or _local_ids(split).get(problem_key(row["problem"]))
        records.append({
            "query_id": qid or f"math-{problem_key(row['problem'])[:16]}",
            "problem": row["problem"],
            "solution": row["solution"],
            "answer": answer,
            "level": row.get("level"),
            "type": row.get("type"),
        })
    return records
