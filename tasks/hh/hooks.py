"""Anthropic HH-RLHF hooks: ``{chosen, rejected}`` pairs -> the shared prompt.

The prompt is the common prefix of ``chosen`` and ``rejected`` up to and including the last
``"\\n\\nAssistant:"`` in it: the dialogue before the final assistant reply that the two
completions disagree on.  It is given both as HH text (``prompt_text``, what HH-trained reward
models read) and as chat messages (``prompt``).  ``query_id`` is ``hh-`` + the first 16 hex
digits of sha1(prompt_text); pairs that share a prompt keep the first.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from typing import Any

_ASSISTANT = "\n\nAssistant:"
_TURN = re.compile(r"\n\n(Human|Assistant):")


def shared_prompt(chosen: str, rejected: str) -> str:
    """The common prefix of the two dialogues, cut after its last ``\\n\\nAssistant:``.

    >>> shared_prompt("\\n\\nHuman: hi\\n\\nAssistant: hello", "\\n\\nHuman: hi\\n\\nAssistant: go away")
    '\\n\\nHuman: hi\\n\\nAssistant:'
    """
    common = os.path.commonprefix([chosen, rejected])
    cut = common.rfind(_ASSISTANT)
    if cut < 0:
        raise ValueError(f"HH pair shares no '\\n\\nAssistant:' prefix: {common[:80]!r}")
    return common[: cut + len(_ASSISTANT)]


def to_messages(prompt_text: str) -> list[dict[str, str]]:
    """Split HH text into chat turns, dropping the empty final assistant turn.

    >>> to_messages("\\n\\nHuman: hi\\n\\nAssistant: yo\\n\\nHuman: bye\\n\\nAssistant:")
    [{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'yo'}, {'role': 'user', 'content': 'bye'}]
    """
    parts = _TURN.split(prompt_text)
    messages = []
    for speaker, content in zip(parts[1::2], parts[2::2]):
        role = "user" if speaker == "Human" else "assistant"
        messages.append({"role": role, "content": content.strip()})
    if messages and messages[-1]["role"] == "assistant" and not messages[-1]["content"]:
        messages.pop()
    return messages


def process_docs(rows: list[dict[str, Any]], split: str, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One record per distinct prompt (HH takes no filters)."""
    if filters:
        raise ValueError(f"HH takes no filters, got {sorted(filters)}")
    records: dict[str, dict[str, Any]] = {}
    for row in rows:
        text = shared_prompt(row["chosen"], row["rejected"])
        qid = "hh-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
        records.setdefault(qid, {
            "query_id": qid,
            "prompt": to_messages(text),
            "prompt_text": text,
            "chosen": row["chosen"][len(text):].strip(),
            "rejected": row["rejected"][len(text):].strip(),
        })
    return list(records.values())
