"""Submissions: a difficulty predictor in ``submissions/<name>/`` and how the harness runs it.

A submission folder holds ``submission.yaml``::

    name: mlp-probe
    authors: [Jane Doe]
    description: Two-layer MLP on LM hidden states.
    kind: code                  # or: predictions
    entry: predictor:MLPProbe   # code only: <module relative to the folder>:<class>
    params: {hidden: 256}       # code only: keyword arguments of the class

``kind: code`` runs ``Class(**params).fit(train)`` then ``.predict(test)`` in an isolated
child process (:mod:`bench.predictors.isolation`); ``kind: predictions`` reads
``predictions/<task>/<bank>.parquet`` (:mod:`bench.predictors.predictions_file`).
Either way the predictions are validated with :func:`~bench.predictors.base.check_predictions`
and come back in the order of ``test.query_ids``.  Folders whose name starts with ``_``
(the template) are not listed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from bench.errors import SubmissionError, UnknownNameError
from bench.paths import submissions_root
from bench.predictors.base import PER_DECODER_KINDS, TestView, TrainView, check_predictions
from bench.predictors.isolation import ChildJob, isolation_mode, run_isolated
from bench.predictors.predictions_file import (
    predictions_path,
    read_per_decoder_predictions,
    read_predictions_file,
)

#: the two ways to hand in a predictor.
SUBMISSION_KINDS: tuple[str, ...] = ("code", "predictions")

_ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

__all__ = ["SUBMISSION_KINDS", "Submission", "available_submissions", "isolation_mode",
           "load_submission", "run_submission"]


@dataclass(frozen=True)
class Submission:
    """A loaded and validated ``submission.yaml``.

    Attributes
    ----------
    name : str
    directory : Path
        The submission folder.
    kind : {"code", "predictions"}
    meta : dict
        The whole YAML mapping (authors, description, ...).
    entry : str or None
        ``module:Class`` for code submissions.
    params : dict
        Keyword arguments for the class.
    """

    name: str
    directory: Path
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    entry: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def available_submissions() -> list[str]:
    """Names of the submission folders under ``submissions/`` (not ``_``-prefixed ones)."""
    return sorted(p.parent.name for p in submissions_root().glob("*/submission.yaml")
                  if not p.parent.name.startswith("_"))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        meta = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise SubmissionError(f"{path}: invalid YAML: {err}") from err
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise SubmissionError(f"{path}: expected a mapping, got {type(meta).__name__}")
    return meta


def load_submission(name_or_path: str) -> Submission:
    """Find a submission by name (under ``submissions/``) or by folder path, and validate it.

    Raises
    ------
    UnknownNameError
        No such submission (the message lists the available ones).
    SubmissionError
        ``submission.yaml`` is malformed: bad YAML, unknown ``kind``, bad ``entry`` or
        ``params``, or the entry module missing.
    """
    directory = Path(name_or_path)
    if not (directory / "submission.yaml").is_file():
        directory = submissions_root() / name_or_path
    path = directory / "submission.yaml"
    if not path.is_file():
        raise UnknownNameError(
            f"unknown submission {name_or_path!r}; available: {', '.join(available_submissions())}"
        )
    meta = _read_yaml(path)
    kind = str(meta.get("kind", "code"))
    if kind not in SUBMISSION_KINDS:
        raise SubmissionError(f"{path}: kind {kind!r}; expected one of {', '.join(SUBMISSION_KINDS)}")
    params = meta.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise SubmissionError(f"{path}: params must be a mapping of names to values")
    try:
        json.dumps(params)
    except (TypeError, ValueError) as err:
        raise SubmissionError(f"{path}: params must be plain YAML values (numbers, strings, "
                              f"lists, mappings): {err}") from err
    entry = None
    if kind == "code":
        entry = str(meta.get("entry", "predictor:Predictor"))
        if not _ENTRY.match(entry):
            raise SubmissionError(f"{path}: entry {entry!r}; expected 'module:Class'")
        module_file = directory / f"{entry.partition(':')[0].replace('.', '/')}.py"
        if not module_file.is_file():
            raise SubmissionError(f"{path}: entry {entry!r} but {module_file} does not exist")
    return Submission(name=str(meta.get("name", directory.name)), directory=directory.resolve(),
                      kind=kind, meta=meta, entry=entry, params=dict(params))


def _bank_query_ids(train: TrainView, test: TestView, bank_dir: Path | None) -> np.ndarray:
    """Every query id of the bank: from its ``queries.parquet`` when given, else the views'."""
    queries = Path(bank_dir) / "queries.parquet" if bank_dir is not None else None
    if queries is not None and queries.is_file():
        return pd.read_parquet(queries, columns=["query_id"])["query_id"].astype(str).to_numpy()
    return np.concatenate([np.asarray(train.query_ids, dtype=str),
                           np.asarray(test.query_ids, dtype=str)])


def run_submission(
    sub: Submission, train: TrainView, test: TestView, *, timeout_s: float | None = None,
    bank_dir: Path | None = None, echo: bool = True, choice_slug: str | None = None,
    default_choice: bool = True, allow_paths: Sequence[str | os.PathLike[str]] = (),
    report: dict[str, Any] | None = None,
) -> np.ndarray:
    """Fit the submission on ``train`` and return validated predictions for ``test``.

    Parameters
    ----------
    sub : Submission
    train : TrainView
        Labelled train (and val) queries.
    test : TestView
        The queries to predict (may be val and test together); no targets.
    timeout_s : float, optional
        Wall-clock limit for a code submission (import, fit and predict); no limit if None.
    bank_dir : Path, optional
        The bank's folder: hidden from a code submission under bubblewrap.
    echo : bool
        Show a code submission's output on stderr.
    choice_slug, default_choice : str, bool
        The decoder choice scored (:class:`bench.scoring.DecoderChoice`): a predictions file
        is looked up per choice (see :func:`~bench.predictors.predictions_file.predictions_path`).
    allow_paths : sequence of paths
        Extra folders a code submission may read under bubblewrap (``bench run --allow-path``).
    report : dict, optional
        Filled with ``"isolation"``: how the submission really ran (``bwrap-allowlist``,
        ``process``, ``predictions-file``).

    Returns
    -------
    ndarray, shape (len(test),) or (len(test), b_max)
        float64 predictions in ``test.query_ids`` order.

    Raises
    ------
    SubmissionError
        The submission could not be imported or run, raised, crashed or timed out.
    PredictorContractError
        Its predictions have the wrong count/shape/ids, NaN/inf, or leave [0, 1].
    """
    if sub.kind == "predictions":
        if report is not None:
            report["isolation"] = "predictions-file"
        bank_ids = _bank_query_ids(train, test, bank_dir)
        if test.target_kind in PER_DECODER_KINDS:   # portfolio: one file per decoder, side by side
            return read_per_decoder_predictions(sub.directory, test, bank_ids)
        path = predictions_path(sub.directory, test.task, test.bank, choice_slug, default_choice)
        return read_predictions_file(path, test, bank_ids)
    assert sub.entry is not None  # load_submission guarantees it for code submissions
    job = ChildJob(name=sub.name, directory=sub.directory, entry=sub.entry, params=sub.params)
    raw = run_isolated(job, train, test, timeout_s=timeout_s, bank_dir=bank_dir, echo=echo,
                       allow_paths=allow_paths, report=report)
    return check_predictions(raw, test.target_kind, len(test), test.b_max,
                             source=f"submission {sub.name!r} predict()")
