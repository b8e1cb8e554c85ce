"""MBPP hooks: rows ``{task_id, prompt, code, test_imports, test_list}`` (the sanitized set) ->
reference records.

MBPP's README splits tasks by id: 1-10 prompt (few-shot), 11-510 test, 511-600 validation,
601-974 train.  The local file holds all 427 sanitized tasks; each split keeps its id range (a
hub split is already one range, so the filter changes nothing there).

The model sees the description and the first test (the usual MBPP prompt: the test fixes the
function's name and signature); the verifier runs every test (``test_list``, the shown one
included, as in MBPP's own evaluation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: MBPP's split of task ids (google-research mbpp/README.md), inclusive ranges.
SPLIT_IDS: dict[str, tuple[int, int]] = {
    "prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}


def in_split(task_id: int, split: str) -> bool:
    """Whether MBPP task ``task_id`` belongs to ``split`` by MBPP's id ranges.

    >>> in_split(11, "test"), in_split(600, "validation"), in_split(601, "validation")
    (True, True, False)
    """
    if split not in SPLIT_IDS:
        raise ValueError(f"MBPP has splits {sorted(SPLIT_IDS)}, not {split!r}")
    low, high = SPLIT_IDS[split]
    return low <= task_id <= high


def process_docs(rows: list[dict[str, Any]], split: str, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One record per task of ``split``; ``query_id`` is ``MBPP/<task_id>``."""
    if filters:
        raise ValueError(f"MBPP takes no filters, got {sorted(filters)}")
    records = []
    for row in rows:
        task_id = int(row["task_id"])
        if not in_split(task_id, split):
            continue
        tests = [str(t) for t in row["test_list"]]
        if not tests:
            raise ValueError(f"MBPP task {task_id} has no tests")
        description = row.get("prompt", row.get("text"))   # sanitized: prompt; full set: text
        imports = row.get("test_imports") or []
        setup = "\n".join([*imports, row.get("test_setup_code") or ""]).strip()
        records.append({
            "query_id": f"MBPP/{task_id}",
            "description": str(description).strip(),
            "first_test": tests[0],
            "test_list": tests,
            "test_setup": setup,
            "reference_code": row["code"],
        })
    return records
