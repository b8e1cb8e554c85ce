"""``bench list tasks|banks|submissions``: what the project holds, as a readable table.

Examples
--------
    bench list tasks
    bench list banks
    bench list submissions
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import yaml

from bench.paths import submissions_root, tasks_root

HELP = "list tasks, banks or submissions"
WHAT = ("tasks", "banks", "submissions")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=WHAT, help="what to list")


def run(args: argparse.Namespace) -> int:
    listing = {"tasks": task_rows, "banks": bank_rows, "submissions": submission_rows}[args.what]
    headers, rows = listing()
    print(format_table(headers, rows) if rows else f"no {args.what} found")
    return 0


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces, with a dashed rule under the header.

    >>> print(format_table(["a", "bb"], [["xyz", 1]]))
    a    bb
    ---  --
    xyz  1
    """
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def task_rows() -> tuple[list[str], list[list[object]]]:
    """One row per task: the essentials a user picks a task by.  A broken task.yaml is shown
    with its error instead of hiding the others."""
    from bench.errors import HardbenchError
    from bench.tasks import available_tasks, load_task

    headers = ["task", "version", "settings", "b_max", "samples/query", "reward", "verifier",
               "default bank", "hub dataset"]
    rows: list[list[object]] = []
    for name in available_tasks():
        try:
            t = load_task(name)
        except HardbenchError as err:
            rows.append([name, "?", f"ERROR: {err}", "", "", "", "", "", ""])
            continue
        rows.append([t.name, t.version, ",".join(t.settings), t.b_max,
                     t.generation.samples_per_query, t.reward, t.verifier.name,
                     t.default_bank or "-", t.dataset.hub_name or "-"])
    return headers, rows


def bank_rows() -> tuple[list[str], list[list[object]]]:
    """One row per ``tasks/<task>/banks/<bank>/manifest.json``."""
    headers = ["task", "bank", "setting", "reward", "decoders", "default"]
    rows: list[list[object]] = []
    from bench.bank import available_banks

    for task, bank in available_banks():
        manifest_path = tasks_root() / task / "banks" / bank / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            rows.append([task, bank, f"ERROR: {manifest_path}: {err}", "", "", ""])
            continue
        decoders = manifest.get("decoders") or []
        rows.append([task, bank, manifest.get("setting", "?"), manifest.get("reward", "?"),
                     " vs ".join(str(d) for d in decoders), _default_mark(task, bank)])
    return headers, rows


def _default_mark(task: str, bank: str) -> str:
    from bench.errors import HardbenchError
    from bench.tasks import load_task

    try:
        return "yes" if load_task(task).default_bank == bank else ""
    except HardbenchError:
        return "?"


def submission_rows() -> tuple[list[str], list[list[object]]]:
    """One row per ``submissions/<name>/submission.yaml`` (not ``_template``): name, kind, description."""
    from bench.submissions import available_submissions

    headers = ["submission", "kind", "description"]
    rows = [_submission_row(submissions_root() / name / "submission.yaml") for name in available_submissions()]
    return headers, rows


def _submission_row(path: Path) -> list[object]:
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        return [path.parent.name, "?", f"ERROR: {path}: {err}"]
    if not isinstance(meta, dict):
        return [path.parent.name, "?", f"ERROR: {path}: not a mapping"]
    description = " ".join(str(meta.get("description", "")).split())
    if len(description) > 90:
        description = description[:87] + "..."
    return [meta.get("name", path.parent.name), meta.get("kind", "code"), description]
