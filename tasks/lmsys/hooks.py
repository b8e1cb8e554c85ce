"""LMSYS-Chat-1M hooks: conversations -> single-turn chat queries.

Filters (paper, appendix A.3): English only, fewer than 10 turns, not redacted.  The hub rows
carry a boolean ``redacted`` column; copies without it (the shipped 191-conversation sample)
are treated as redacted when any turn contains LMSYS's PII placeholder ``NAME_<n>``, which is
what the dataset's redaction writes in place of names.  The prompt is the conversation's first
user turn (the paper's chat setting answers single queries); ``query_id`` is ``conversation_id``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_FILTER_KEYS = {"languages", "max_turns_exclusive", "drop_redacted"}
_PLACEHOLDER = re.compile(r"\bNAME_\d+\b")


def is_redacted(row: Mapping[str, Any]) -> bool:
    """The row's ``redacted`` flag, or (when absent) whether a ``NAME_<n>`` placeholder occurs."""
    if "redacted" in row and row["redacted"] is not None:
        return bool(row["redacted"])
    return any(_PLACEHOLDER.search(turn.get("content") or "") for turn in row["conversation"])


def process_docs(rows: list[dict[str, Any]], split: str, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Keep rows passing the filters; one record per conversation with its first user turn."""
    unknown = set(filters) - _FILTER_KEYS
    if unknown:
        raise ValueError(f"LMSYS filters: unknown {sorted(unknown)}; allowed: {sorted(_FILTER_KEYS)}")
    languages = set(filters.get("languages") or [])
    max_turns = filters.get("max_turns_exclusive")
    drop_redacted = bool(filters.get("drop_redacted", True))
    records = []
    for row in rows:
        if languages and row.get("language") not in languages:
            continue
        if max_turns is not None and int(row["turn"]) >= int(max_turns):
            continue
        if drop_redacted and is_redacted(row):
            continue
        first = next((t for t in row["conversation"] if t.get("role") == "user"), None)
        if first is None or not (first.get("content") or "").strip():
            continue
        records.append({
            "query_id": str(row["conversation_id"]),
            "prompt": [{"role": "user", "content": first["content"]}],
            "question": first["content"],
            "source_model": row.get("model"),
            "language": row.get("language"),
            "turn": int(row["turn"]),
        })
    return records
