"""``bench list tasks|banks|features|submissions``: what the project holds, as a readable table.

Examples
--------
    bench list tasks
    bench list banks                 # one row per (bank, decoder): queries, samples, mean and best reward
    bench list banks --task math
    bench list banks --task math --split test   # the same statistics over the test queries only
    bench list features --task math  # one row per cached feature matrix: dims, storage, size, producer
    bench list submissions
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from bench.paths import submissions_root, tasks_root

HELP = "list tasks, banks, features or submissions"
WHAT = ("tasks", "banks", "features", "submissions")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=WHAT, help="what to list")
    parser.add_argument("--task", default=None, help="banks, features: only this task's banks")
    parser.add_argument("--split", default=None, choices=("train", "val", "test"),   # bench.bank.SPLITS,
                        # spelled out: importing bench.bank here would load pandas for every `bench list`
                        help="banks: mean reward and best of all over this split's queries only")


def run(args: argparse.Namespace) -> int:
    if args.task is not None and args.what not in ("banks", "features"):
        from bench.errors import HardbenchError

        raise HardbenchError(f"--task filters `bench list banks` and `bench list features`; "
                             f"`bench list {args.what}` lists everything")
    if args.split is not None and args.what != "banks":
        from bench.errors import HardbenchError

        raise HardbenchError(f"--split applies to `bench list banks`, not `bench list {args.what}`")
    if args.what == "banks":
        headers, rows = bank_rows(args.task, args.split)
    elif args.what == "features":
        headers, rows = feature_rows(args.task)
    else:
        headers, rows = {"tasks": task_rows, "submissions": submission_rows}[args.what]()
    print(format_table(headers, rows) if rows else _empty_message(args.what, args.task))
    return 0


def _empty_message(what: str, task: str | None) -> str:
    if what == "features" and _selected_banks(task):
        where = f"no bank of task {task} has" if task else "no shipped bank has"
        return f"{where} features: add some with `bench features --bank BANK --extractor minilm`"
    if what in ("banks", "features"):
        from bench.bank import no_bank_message

        if task is not None:
            return no_bank_message(task)
        return "no banks shipped: build one (see README \"Shipped banks\" and \"Bank format\")"
    return f"no {what} found"


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


def bank_rows(task: str | None = None, split: str | None = None) -> tuple[list[str], list[list[object]]]:
    """One row per decoder of every bank under ``tasks/*/banks/`` (or ``task``'s banks).

    Per decoder: its role in the bank's defaults, the queries it has samples of (test ones in
    brackets), samples per query (a range when ragged), its mean reward over those queries
    (the mean of per-query means: the expected reward of one sample) and the mean of per-query
    best rewards over all the query's samples (pass@n for binary rewards: the ceiling best-of-k
    reaches on this bank).  With ``split`` every column is over that split's queries only (e.g.
    to see a decoder that does better on train than on test).  A bank that does not load is
    shown with its error.
    """
    headers = ["task", "bank", "setting", "reward", "decoder", "role", "queries (test)", "samples/query",
               "mean reward", "best of all", "default bank"]
    rows: list[list[object]] = []
    for bank_task, bank in _selected_banks(task):
        rows.extend(_decoder_rows(bank_task, bank, split))
    return headers, rows


def _selected_banks(task: str | None) -> list[tuple[str, str]]:
    """(task, bank) of every shipped bank, or of ``task``'s (an unknown task is one clear error)."""
    from bench.bank import available_banks

    if task is not None:
        from bench.tasks import load_task

        load_task(task)
    return [(t, b) for t, b in available_banks() if task is None or t == task]


def feature_rows(task: str | None = None) -> tuple[list[str], list[list[object]]]:
    """One row per cached feature matrix of every shipped bank (or ``task``'s): its dimension, the
    dtype it is stored in, its size on disk, and what made it (extractor spec, model id), read
    from the manifest without loading the bank.  A manifest that does not read is shown with its error."""
    from bench.errors import HardbenchError

    headers = ["task", "bank", "feature", "dim", "storage", "MiB", "extractor", "model"]
    rows: list[list[object]] = []
    for bank_task, bank in _selected_banks(task):
        directory = tasks_root() / bank_task / "banks" / bank
        try:
            rows.extend([bank_task, bank, *row] for row in _feature_rows_of(directory))
        except (HardbenchError, AttributeError, TypeError) as err:   # a malformed manifest: say so, go on
            rows.append([bank_task, bank, f"ERROR: {err}", "", "", "", "", ""])
    return headers, rows


def _feature_rows_of(directory: Path) -> list[list[object]]:
    """[feature, dim, storage, MiB, extractor, model] of one bank's manifest."""
    from bench.bank import feature_storage, read_manifest

    manifest = read_manifest(directory)
    rows: list[list[object]] = []
    for name, entry in sorted(manifest.get("features", {}).items()):
        path = directory / "features" / f"{name}.npy"
        size = f"{path.stat().st_size / 2**20:.1f}" if path.is_file() else "missing"
        model = entry.get("model", {})
        rows.append([name, entry.get("dim", "?"), feature_storage(manifest, name), size,
                     entry.get("extractor", "?"), model.get("id", "-") if isinstance(model, dict) else model])
    return rows


def _decoder_rows(task: str, bank_name: str, split: str | None = None) -> list[list[object]]:
    from bench.bank import load_bank
    from bench.errors import HardbenchError

    directory = tasks_root() / task / "banks" / bank_name
    try:
        bank = load_bank(directory)
    except HardbenchError as err:
        return [[task, bank_name, f"ERROR: {err}", "", "", "", "", "", "", "", ""]]
    test = bank.split_mask("test")
    chosen = bank.split_mask(split) if split else np.ones(len(test), dtype=bool)
    default = _default_mark(task, bank_name)
    rows = []
    for decoder in bank.decoders:
        matrix = bank.reward_matrix(decoder)
        has = (matrix.counts > 0) & chosen
        means = np.nansum(matrix.rewards[has], axis=1) / matrix.counts[has]
        best = np.nanmax(matrix.rewards[has], axis=1) if has.any() else np.zeros(0)
        low, high = (int(matrix.counts[has].min()), int(matrix.counts[has].max())) if has.any() else (0, 0)
        rows.append([task, bank_name, bank.setting, bank.reward_kind, decoder, _role(bank, decoder),
                     f"{int(has.sum())} ({int((has & test).sum())})", str(low) if low == high else f"{low}-{high}",
                     f"{means.mean():.3f}" if len(means) else "-", f"{best.mean():.3f}" if len(best) else "-",
                     default])
    return rows


def _role(bank: object, decoder: str) -> str:
    """``best-of-k`` / ``weak`` / ``strong`` when the decoder is one of the bank's defaults."""
    roles = []
    if decoder == bank.default_decoder and bank.setting == "best_of_k":
        roles.append("best-of-k")
    pair = bank.default_routing
    if bank.setting == "routing" or bank.manifest.get("default_routing"):
        if pair and decoder == pair[0]:
            roles.append("weak")
        if pair and decoder == pair[1]:
            roles.append("strong")
    return ",".join(roles)


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
