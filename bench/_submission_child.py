"""Child-process side of running a code submission (see :mod:`bench.predictors.isolation`).

Usage (by the harness only)::

    python -I -m bench._submission_child <job folder>

Reads ``job.json``, ``train.pkl`` and ``test.pkl`` from the job folder, imports the
submission's entry class (its folder goes first on ``sys.path``, so sibling modules
import), runs ``Class(**params)``, ``fit(train)`` and ``predict(test)``, and writes
``predictions.npy`` (float64, no pickle).  On failure it writes ``error.json`` with a
one-line ``summary`` naming the stage, prints the full traceback, and exits with status 3.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.predictors.isolation import (
    ERROR_FILE,
    EXIT_SUBMISSION_FAILED,
    JOB_FILE,
    PREDICTIONS_FILE,
    TEST_FILE,
    TRAIN_FILE,
)


class StageFailed(Exception):
    """The submission failed in one stage; ``summary`` is the message for the user."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


def _where(tb: traceback.StackSummary, directory: Path) -> str:
    """``(file.py, line N)`` of the innermost frame inside the submission folder, if any."""
    for frame in reversed(tb):
        path = Path(frame.filename)
        if path.is_absolute() and directory in path.parents:
            return f" ({path.relative_to(directory)}, line {frame.lineno})"
    return ""


def _run_stage(stage: str, directory: Path, fn: Callable[[], Any]) -> Any:
    """Call ``fn``; turn any exception (even SystemExit) into :class:`StageFailed`."""
    try:
        return fn()
    except BaseException as err:  # noqa: BLE001 - whatever the submission raised is its failure
        traceback.print_exc()
        where = _where(traceback.extract_tb(err.__traceback__), directory)
        text = str(err).strip().splitlines()
        detail = f": {text[0][:500]}" if text else ""
        if stage == "import":
            summary = f"could not be imported: {type(err).__name__}{detail}{where}"
        else:
            summary = f"failed in {stage}: {type(err).__name__}{detail}{where}"
        raise StageFailed(summary) from err


def _import_entry(directory: Path, entry: str) -> type:
    """Import ``module:Class`` from the submission folder."""
    module_name, _, attr = entry.partition(":")
    file = directory / f"{module_name.replace('.', '/')}.py"
    if not file.is_file():
        raise ImportError(f"entry {entry!r}: {file} does not exist")
    sys.path.insert(0, str(directory))
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    if not hasattr(module, attr):
        raise AttributeError(f"{file.name} has no attribute {attr!r} (entry {entry!r})")
    return getattr(module, attr)


def _as_array(raw: object) -> np.ndarray:
    """The predictions as a float64 array (shape and range are checked by the parent)."""
    try:
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"predict() returned something that is not a numeric array: {err}") from err


def run_job(workdir: Path) -> None:
    """Run the job in ``workdir``; raise :class:`StageFailed` when the submission fails."""
    job = json.loads((workdir / JOB_FILE).read_text())
    directory = Path(job["directory"])
    with open(workdir / TRAIN_FILE, "rb") as fh:
        train = pickle.load(fh)
    with open(workdir / TEST_FILE, "rb") as fh:
        test = pickle.load(fh)
    cls = _run_stage("import", directory, lambda: _import_entry(directory, job["entry"]))
    predictor = _run_stage("__init__", directory, lambda: cls(**job["params"]))
    _run_stage("fit()", directory, lambda: predictor.fit(train))
    raw = _run_stage("predict()", directory, lambda: predictor.predict(test))
    predictions = _run_stage("predict()", directory, lambda: _as_array(raw))
    tmp = workdir / (PREDICTIONS_FILE + ".part")
    with open(tmp, "wb") as fh:
        np.save(fh, predictions, allow_pickle=False)
    os.replace(tmp, workdir / PREDICTIONS_FILE)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``main([job_folder])``; returns the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -I -m bench._submission_child <job folder>", file=sys.stderr)
        return 2
    workdir = Path(args[0])
    try:
        run_job(workdir)
    except StageFailed as failure:
        (workdir / ERROR_FILE).write_text(json.dumps({"summary": failure.summary}))
        return EXIT_SUBMISSION_FAILED
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
