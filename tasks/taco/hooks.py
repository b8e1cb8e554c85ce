"""TACO hooks: rows of ``BAAI/TACO`` -> reference records with their unit tests.

TACO stores ``input_output`` and ``solutions`` as JSON strings.  ``input_output`` holds
``inputs`` and ``outputs`` (lists, one entry per test) and, for call-based problems, ``fn_name``.
As in the paper (appendix A.2), problems from ``geeksforgeeks`` and ``aizu`` are dropped (the
official evaluator does not support them) and so are problems without a single unit test.
``query_id`` is ``taco-<split>-<row index in the published split>`` (stable: counted before
filtering).  The prompt follows TACO's own generation script (``QUESTION: ... ANSWER:``).

Offline split ``test_public`` (``data/test_public.jsonl.gz``, built by
``scripts/import_taco_public_tests.py``): the same test problems with the worked examples of their
statements as tests (``tests_source: statement_examples``), not TACO's hidden tests.  Those rows
carry ``hub_split`` and ``hub_index``, so a problem keeps the id it has on the hub
(``taco-test-00042``) and a bank made offline can be verified again online with the hidden tests
(``bench verify --split test``).  They hold no ``source`` or ``difficulty`` (TACO's prompt file
lacks them), so ``exclude_sources`` and ``difficulties`` cannot drop any of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_FILTER_KEYS = {"exclude_sources", "min_tests", "difficulties"}
#: what the chat prompt asks for (``${chat_task}``): a program for stdin/stdout problems, the
#: function for call-based ones; one code block either way (the stop string ends it).
CHAT_TASK = {
    False: ("Write a complete program that reads the input from standard input and prints the answer "
            "to standard output. Reply with the whole program in one ```python code block."),
    True: ("Complete the code above: your function is called directly with the arguments (it does not "
           "read standard input). Reply with the complete code in one ```python code block."),
}


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
        hub_id = (row["hub_split"], int(row["hub_index"])) if "hub_index" in row else (split, i)
        records.append({
            "query_id": f"taco-{hub_id[0]}-{hub_id[1]:05d}",
            "question": row["question"],
            "starter_code": row.get("starter_code") or "",
            "fn_name": fn_name,
            "input_output": tests,
            "call_format": "Use Call-Based format" if fn_name else "Use Standard Input format",
            "chat_task": CHAT_TASK[bool(fn_name)],
            "difficulty": row.get("difficulty"),
            "source": row.get("source"),
            "url": row.get("url"),
            # "hidden_tests" (the hub's unit tests) or "statement_examples" (the public examples)
            "tests_source": row.get("tests_source", "hidden_tests"),
        })
    return records
