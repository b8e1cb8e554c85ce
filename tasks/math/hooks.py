"""MATH hooks: rows ``{unique_id, problem, level, type, solution}`` -> reference records.

The gold answer is the content of the last ``\\boxed{}`` (or ``\\fbox{}``) in ``solution``,
found with the verifiers' own :func:`~bench.verify.answer_extraction.find_last_boxed` so gold
and responses are extracted alike (exported here as ``last_boxed`` for the Numina hooks).
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
from bench.verify.answer_extraction import find_last_boxed as last_boxed

_DATA = Path(__file__).resolve().parent / "data"


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
