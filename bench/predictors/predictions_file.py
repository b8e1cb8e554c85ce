"""Predictions-file submissions: predictions made elsewhere, handed in as a parquet file.

For a predictor trained on your own GPU (e.g. a LoRA probe on a 7B model), hand in
``submissions/<name>/predictions/<task>/<bank>.parquet`` (or, per decoder choice of a
multi-decoder bank, ``<bank>@<decoder>.parquet`` / ``<bank>@<weak>--<strong>.parquet``) with
columns

``query_id``                      the bank's query ids (string);
``prediction``                    for ``success_prob`` and ``preference`` banks, in [0, 1];
``delta_1`` ... ``delta_<b_max>`` for ``marginal_rewards`` banks, finite.

Rules: every asked id must be present exactly once; ids that are not in the bank are an
error (a sign of predictions for another bank); ids of the bank that were not asked for
(e.g. its train split) are ignored.  Other columns are ignored.

Portfolio setting (many decoders): the per-decoder target is assembled from the same files, one
per decoder, ``<bank>@<decoder>.parquet``, each holding that decoder's single-decoder target
(``prediction`` for binary banks, ``delta_1`` ... ``delta_K`` for real ones): see
:func:`read_per_decoder_predictions`.  A decoder without a file is one clear error naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import PredictorContractError
from bench.predictors.base import PER_DECODER_KINDS, TARGET_KINDS, TestView, check_predictions


def prediction_columns(target_kind: str, b_max: int) -> list[str]:
    """The prediction column names a file for this target kind must have."""
    if TARGET_KINDS.get(target_kind) == "vector":
        return [f"delta_{j}" for j in range(1, b_max + 1)]
    return ["prediction"]


def predictions_path(directory: Path, task: str, bank: str, choice_slug: str | None = None,
                     default_choice: bool = True) -> Path:
    """Where a predictions submission keeps its file for (task, bank, decoder choice).

    Predictions for one decoder choice of a multi-decoder bank (e.g. each model's own success
    rate) live in ``predictions/<task>/<bank>@<choice_slug>.parquet`` (the slug as in result
    file names: ``<decoder>`` or ``<weak>--<strong>``).  The bank's default choice also
    accepts the plain ``predictions/<task>/<bank>.parquet``; a non-default choice never falls
    back to it (those predictions are for other decoders).
    """
    folder = directory / "predictions" / task
    plain = folder / f"{bank}.parquet"
    if not choice_slug:
        return plain
    specific = folder / f"{bank}@{choice_slug}.parquet"
    return plain if default_choice and not specific.is_file() and plain.is_file() else specific


def _preview(ids: Iterable[str], limit: int = 3) -> str:
    ids = list(ids)
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > limit else "")


def read_predictions_file(path: Path, test: TestView, bank_ids: Iterable[str]) -> np.ndarray:
    """Read ``path`` and return validated predictions in ``test.query_ids`` order.

    Parameters
    ----------
    path : Path
        The parquet file.
    test : TestView
        The queries asked for (their order is the output order).
    bank_ids : iterable of str
        Every query id of the bank: ids outside it are rejected.

    Raises
    ------
    PredictorContractError
        Missing file or columns, duplicate ids, ids not in the bank, asked ids missing,
        NaN/inf, probabilities outside [0, 1].
    """
    if not path.is_file():
        raise PredictorContractError(
            f"{path}: no predictions file for task {test.task!r}, bank {test.bank!r}"
        )
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise PredictorContractError(f"{path}: cannot read parquet: {err}") from err
    columns = prediction_columns(test.target_kind, test.b_max)
    missing_cols = [c for c in ["query_id", *columns] if c not in frame.columns]
    if missing_cols:
        raise PredictorContractError(
            f"{path}: missing column(s) {', '.join(missing_cols)}; a {test.target_kind} "
            f"bank needs query_id, {', '.join(columns)}"
        )
    ids = frame["query_id"].astype(str)
    dup = ids[ids.duplicated()].unique().tolist()
    if dup:
        raise PredictorContractError(f"{path}: duplicate query_id(s) {_preview(dup)}")
    known = set(map(str, bank_ids))
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise PredictorContractError(
            f"{path}: query_id(s) not in bank {test.bank!r}: {_preview(unknown)}"
        )
    by_id = pd.Series(np.arange(len(ids)), index=ids.to_numpy())
    asked = [str(i) for i in test.query_ids]
    absent = [i for i in asked if i not in by_id.index]
    if absent:
        raise PredictorContractError(
            f"{path}: no prediction for {len(absent)} of the {len(asked)} asked queries: "
            f"{_preview(absent)}"
        )
    rows = by_id.loc[asked].to_numpy()
    text = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])]
    if text:
        raise PredictorContractError(f"{path}: prediction column(s) {text} are not numeric "
                                     f"(dtype {frame[text[0]].dtype}); write them as float columns")
    try:
        values = frame[columns].to_numpy(dtype=np.float64)[rows]
    except (TypeError, ValueError) as err:
        raise PredictorContractError(f"{path}: non-numeric prediction column: {err}") from err
    if TARGET_KINDS[test.target_kind] == "scalar":
        values = values[:, 0]
    return check_predictions(values, test.target_kind, len(asked), test.b_max, source=str(path))


def per_decoder_file_slug(decoder: str) -> str:
    """The file-name part of one decoder's predictions: as in best-of-k result names."""
    from bench.scoring import DecoderChoice  # bench.scoring imports much more; only needed here

    return DecoderChoice("best_of_k", (decoder,), is_default=False).slug


def read_per_decoder_predictions(directory: Path, test: TestView, bank_ids: Iterable[str]) -> np.ndarray:
    """Assemble a portfolio target from one predictions file per decoder.

    For each decoder of ``test.extra["decoders"]`` (in that order) reads
    ``<directory>/predictions/<task>/<bank>@<decoder>.parquet`` as that decoder's single-decoder
    target (``success_prob``: column ``prediction``; ``marginal_rewards``: ``delta_1`` ...
    ``delta_K`` with K = ``test.extra["k_max"]``) and puts the blocks side by side: shape
    ``(n, D)`` or ``(n, D * K)``, the layout of :data:`bench.predictors.base.PER_DECODER_KINDS`.

    Raises
    ------
    PredictorContractError
        A decoder has no file (the message names every such decoder and says how many of the
        asked ones have a file, so the user can pass those with ``--decoders``), the bank has no
        file at all (the submission cannot be scored there), or any file fails the checks of
        :func:`read_predictions_file`.
    """
    if test.target_kind not in PER_DECODER_KINDS:
        raise PredictorContractError(f"{test.target_kind!r} is not a per-decoder target kind; "
                                     f"expected one of {sorted(PER_DECODER_KINDS)}")
    decoders = [str(d) for d in test.extra["decoders"]]
    single_kind = PER_DECODER_KINDS[test.target_kind]
    width = int(test.extra["k_max"]) if TARGET_KINDS[single_kind] == "vector" else 1
    paths = {d: predictions_path(directory, test.task, test.bank, per_decoder_file_slug(d), default_choice=False)
             for d in decoders}
    missing = [d for d, path in paths.items() if not path.is_file()]
    if missing:
        folder = directory / "predictions" / test.task
        if len(missing) == len(decoders) and not any(folder.glob(f"{test.bank}@*.parquet")):
            raise PredictorContractError(
                f"{directory.name}: no predictions for bank {test.task}/{test.bank} (no file "
                f"{folder / (test.bank + '@<decoder>.parquet')}): this submission cannot be scored on that bank")
        raise PredictorContractError(
            f"{directory.name}: no predictions file for decoder(s) {', '.join(missing)} of bank "
            f"{test.task}/{test.bank} (looked for {paths[missing[0]]}); it has files for "
            f"{len(decoders) - len(missing)} of the {len(decoders)} decoders asked. Choose the decoders it covers "
            "with --decoders, or add the missing files")
    ids = list(map(str, bank_ids))
    view = dataclasses.replace(test, target_kind=single_kind, b_max=width)
    blocks = [read_predictions_file(paths[d], view, ids).reshape(len(test), width) for d in decoders]
    return check_predictions(np.concatenate(blocks, axis=1), test.target_kind, len(test), test.b_max,
                             source=f"{directory.name} per-decoder predictions files")
