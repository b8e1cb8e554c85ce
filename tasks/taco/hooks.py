"""TACO hooks: rows of ``BAAI/TACO`` -> reference records with their unit tests.

TACO stores ``input_output`` and ``solutions`` as JSON strings.  ``input_output`` holds
``inputs`` and ``outputs`` (lists, one entry per test) and, for call-based problems, ``fn_name``.
As in the paper (appendix A.2), problems from ``geeksforgeeks`` and ``aizu`` are dropped (the
official evaluator does not support them) and so are problems without a single unit test.
``query_id`` is ``taco-<split>-<row index in the published split>`` (stable: counted before
filtering).  The prompt follows TACO's own generation script (``QUESTION: ... ANSWER:``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_FILTER_KEYS = {"exclude_sources", "min_tests", "difficulties"}


def parse_tests(raw: Any) -> dict[str, Any]:
    """``input_output`` as a dict ``{inputs, outputs[, fn_name]}``; empty lists when missing.

    >>> parse_tests('{"inputs": ["1\\\\n"], "outputs": ["2\\\\n"]}')["inputs"]
    ['1\\n']
    """
    if raw in (None, ""):
        return {"inputs": [], "outputs": []}
    tests = json.loads(raw) if isinstance(raw, str) else dict(raw)
    tests.setdefault("inputs", [])
    tests.setdefault("outputs", [])
    if len(tests["inputs"]) != len(tests["outputs"]):
        raise ValueError(f"TACO tests: {len(tests['inputs'])} inputs but {len(tests['outputs'])} outputs")
    return tests


def process_docs(rows: list[dict[str, Any]], split: str, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Filters: ``exclude_sources`` (list), ``min_tests`` (int, default 1) and ``difficulties``
    (list of TACO difficulty labels to keep; all when empty)."""
    unknown = set(filters) - _FILTER_KEYS
    if unknown:
        raise ValueError(f"TACO filters: unknown {sorted(unknown)}; allowed: {sorted(_FILTER_KEYS)}")
    exclude = {s.lower() for s in filters.get("exclude_sources") or []}
    min_tests = int(filters.get("min_tests", 1))
    difficulties = set(filters.get("difficulties") or [])
    records = []
    for i, row in enumerate(rows):
        source = str(row.get("source", "")).lower()
        if source in exclude or (difficulties and row.get("difficulty") not in difficulties):
            continue
        tests = parse_tests(row.get("input_output"))
        if len(tests["inputs"]) < min_tests:
            continue
        fn_name = tests.get("fn_name")
        records.append({
            "query_id": f"taco-{split}-{i:05d}",
            "question": row["question"],
            "starter_code": row.get("starter_code") or "",
            "fn_name": fn_name,
            "input_output": tests,
            "call_format": "Use Call-Based format" if fn_name else "Use Standard Input format",
            "difficulty": row.get("difficulty"),
            "source": row.get("source"),
            "url": row.get("url"),
        })
    return records
