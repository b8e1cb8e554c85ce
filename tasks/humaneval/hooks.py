"""HumanEval hooks: rows ``{task_id, prompt, entry_point, canonical_solution, test}`` -> records.

``query_id`` is ``task_id`` (``HumanEval/0``).  The model sees the function signature and
docstring (``prompt``) and completes it; the code verifier runs ``check(candidate)`` from ``test``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def process_docs(rows: list[dict[str, Any]], split: str, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One record per problem (HumanEval takes no filters)."""
    if filters:
        raise ValueError(f"HumanEval takes no filters, got {sorted(filters)}")
    return [
        {
            "query_id": row["task_id"],
            "code_prompt": row["prompt"],
            "entry_point": row["entry_point"],
            "test": row["test"],
            "canonical_solution": row["canonical_solution"],
        }
        for row in rows
    ]
