"""GSM8K hooks: rows ``{question, answer}`` -> reference records.

The gold answer is the text after ``#### `` in the worked solution, with thousands
separators removed (``1,000`` -> ``1000``), as in the official grader.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def final_answer(solution: str) -> str:
    """The gold answer of a GSM8K solution: what follows ``####``, commas removed.

    >>> final_answer("She makes 9 * 2 = $18.\\n#### 1,018")
    '1018'
    """
    _, sep, tail = solution.rpartition("####")
    if not sep:
        raise ValueError(f"GSM8K solution has no '####' answer line: {solution[-80:]!r}")
    return tail.strip().replace(",", "")


def process_docs(rows: list[dict[str, Any]], split: str, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One record per row; ``query_id`` is the line index (``gsm8k-test-00042``), which the
    local files and the hub's ``openai/gsm8k`` share."""
    if filters:
        raise ValueError(f"GSM8K takes no filters, got {sorted(filters)}")
    return [
        {
            "query_id": f"gsm8k-{split}-{i:05d}",
            "question": row["question"],
            "solution": row["answer"],
            "answer": final_answer(row["answer"]),
        }
        for i, row in enumerate(rows)
    ]
