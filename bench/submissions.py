"""Submissions: a difficulty predictor in ``submissions/<name>/`` and how the harness runs it.

(Minimal in-process version used by the scoring core; the submissions work replaces the
execution with an isolated child process and adds prediction-file submissions.)

A code submission is ``submissions/<name>/submission.yaml`` with ``entry: module:Class``
(module relative to the submission folder) and optional ``params``.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.errors import SubmissionError, UnknownNameError
from bench.paths import submissions_root
from bench.predictors.base import TestView, TrainView, check_predictions


@dataclass(frozen=True)
class Submission:
    """A loaded ``submission.yaml``."""

    name: str
    directory: Path
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)


def available_submissions() -> list[str]:
    return sorted(p.parent.name for p in submissions_root().glob("*/submission.yaml"))


def load_submission(name_or_path: str) -> Submission:
    """Find a submission by name (under ``submissions/``) or by folder path."""
    directory = Path(name_or_path)
    if not (directory / "submission.yaml").is_file():
        directory = submissions_root() / name_or_path
    path = directory / "submission.yaml"
    if not path.is_file():
        raise UnknownNameError(
            f"unknown submission {name_or_path!r}; available: {', '.join(available_submissions())}"
        )
    meta = yaml.safe_load(path.read_text()) or {}
    return Submission(name=str(meta.get("name", directory.name)), directory=directory,
                      kind=str(meta.get("kind", "code")), meta=meta)


def _load_predictor_class(sub: Submission) -> type:
    entry = str(sub.meta.get("entry", "predictor:Predictor"))
    module_name, _, attr = entry.partition(":")
    file = sub.directory / f"{module_name}.py"
    spec = importlib.util.spec_from_file_location(f"hardbench_submission_{sub.name}", file)
    if spec is None or spec.loader is None:
        raise SubmissionError(f"{file}: cannot import")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001 - any import failure is the submission's
        raise SubmissionError(f"{file}: import failed: {type(err).__name__}: {err}") from err
    if not hasattr(module, attr):
        raise SubmissionError(f"{file}: has no attribute {attr!r} (entry {entry!r})")
    return getattr(module, attr)


def run_submission(
    sub: Submission, train: TrainView, test: TestView, *, timeout_s: float | None = None,
    bank_dir: Path | None = None,
) -> np.ndarray:
    """Fit the submission on ``train`` and return validated predictions for ``test``."""
    cls = _load_predictor_class(sub)
    params = dict(sub.meta.get("params") or {})
    try:
        predictor = cls(**params).fit(train)
        raw = predictor.predict(test)
    except Exception as err:  # noqa: BLE001 - report the submission's failure clearly
        raise SubmissionError(f"submission {sub.name!r} failed: {type(err).__name__}: {err}") from err
    return check_predictions(raw, test.target_kind, len(test), test.b_max,
                             source=f"submission {sub.name!r} predict()")
