"""The result file, format ``hardbench-result/2`` (a public contract; see docs/result-format.md).

A result carries everything that changes its numbers (task, bank checksum, submission, split,
bootstrap replicates, seed, package versions, training bank) and a one-line sacreBLEU-style
``signature`` built from them, so that tables never mix incomparable rows.  Version 2 adds
intervals for every summary number, paired differences against the baseline, the per-query
predictions, ``decoders`` and ``train_bank``; :func:`read_result` still reads version 1 files
(as v2 without those fields: ``decoders`` and ``train_bank`` null, no intervals).
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import __version__
from bench.errors import ResultFormatError
from bench.fileio import atomic_write_json
from bench.paths import results_root

RESULT_FORMAT = "hardbench-result/2"
#: older formats :func:`read_result` still reads
READABLE_FORMATS = ("hardbench-result/1", RESULT_FORMAT)
REQUIRED_KEYS = ("format", "signature", "task", "bank", "bank_sha256", "submission", "setting",
                 "split", "n_queries", "seed", "bootstrap", "versions", "budgets", "curves",
                 "summary", "intrinsic")


def package_versions() -> dict[str, str]:
    """Versions of what computes the numbers: hardbench, python, numpy, scipy, pandas."""
    versions = {"hardbench": __version__, "python": platform.python_version()}
    for package in ("numpy", "scipy", "pandas"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:  # pragma: no cover - all are dependencies
            versions[package] = "unknown"
    return versions


def signature(task: str, task_version: int, bank_sha256: str, submission: str, split: str, bootstrap: int,
              seed: int, offline_bins: int, *, train_bank: tuple[str, str] | None = None,
              reallocate: bool = False, decoders: str | None = None) -> str:
    """``task:T@vN|bank:<sha8>|sub:S|split:test|boot:N|seed:N|bins:N|v:<hardbench version>``.

    ``|train:<task>/<bank>@<sha8>`` is added before ``v`` for a ``--train-bank`` run (name and
    manifest checksum of the fitting bank) and ``boot:N+realloc`` marks re-allocated replicates.
    A run on a non-default decoder choice appends ``|dec:<setting>:<d1>,<d2>`` (``decoders``),
    so it never shares a leaderboard table with the bank's default run; the default run's
    signature has no ``dec`` part.
    """
    boot = f"{bootstrap}+realloc" if reallocate else f"{bootstrap}"
    train = f"|train:{train_bank[0]}@{train_bank[1][:8]}" if train_bank else ""
    return (f"task:{task}@v{task_version}|bank:{bank_sha256[:8]}|sub:{submission}|split:{split}|boot:{boot}"
            f"|seed:{seed}|bins:{offline_bins}{train}|v:{__version__}" + (f"|dec:{decoders}" if decoders else ""))


def result_path(task: str, bank: str, submission: str, out_dir: Path | None = None,
                train_bank: str | None = None, choice_slug: str | None = None) -> Path:
    """``<out_dir or results/>/<task>/<bank>/<submission>.json``.

    A non-default decoder choice gets ``<submission>@<choice_slug>.json`` (e.g.
    ``constant@Qwen2.5-Math-7B@T0.6.json``, routing ``constant@<weak>--<strong>.json``), and a
    ``--train-bank`` run its own file, ``<submission>.train-<task>-<bank>.json``, so it never
    replaces the in-bank result.
    """
    name = f"{submission}@{choice_slug}" if choice_slug else submission
    if train_bank is not None:
        name = f"{name}.train-{train_bank.replace('/', '-')}"
    return (out_dir or results_root()) / task / bank / f"{name}.json"


def write_result(result: dict[str, Any], path: Path) -> Path:
    """Validate the keys and write atomically (a crash never leaves a half file)."""
    missing = [k for k in REQUIRED_KEYS if k not in result]
    if missing:
        raise ResultFormatError(f"result for {path} lacks keys {missing}")
    atomic_write_json(path, result)
    return path


def read_result(path: Path) -> dict[str, Any]:
    """Read a result file of any readable version, as a v2 dictionary.

    Version 1 files gain ``decoders: null`` (the bank's defaults), ``train_bank: null``,
    ``predictions: null`` and ``summary.ci: null``; their ``format`` field is kept, so a reader
    can tell.  Unknown versions and missing keys are refused.
    """
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ResultFormatError(f"{path}: unreadable result file: {err}") from err
    if not isinstance(result, dict) or result.get("format") not in READABLE_FORMATS:
        got = result.get("format") if isinstance(result, dict) else type(result).__name__
        raise ResultFormatError(f"{path}: format {got!r} is not one of {list(READABLE_FORMATS)}")
    missing = [k for k in REQUIRED_KEYS if k not in result]
    if missing:
        raise ResultFormatError(f"{path}: missing keys {missing}")
    if result["format"] != RESULT_FORMAT:
        for key in ("decoders", "train_bank", "predictions"):
            result.setdefault(key, None)
        result["summary"].setdefault("ci", None)
    return result
