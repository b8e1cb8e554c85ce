"""A sample bank as a Hugging Face ``datasets.DatasetDict``, one dataset per split.

For users who train difficulty probes with HF tooling (``Trainer``, ``map``, ``with_format``)::

    from bench.hf import load_bank_dataset
    ds = load_bank_dataset("mixtral-vs-gpt4", task="gsm8k", features=["minilm"])
    ds["train"][0]["rewards"]   # {"<weak decoder>": [1.0], "<strong decoder>": [0.0]}
    ds["test"].with_format("numpy")[:]["features.minilm"]   # (n_test, 384) float32

Columns: every column of ``queries.parquet`` (``query_id``, ``split``, ``prompt``, task fields
such as ``answer``), ``rewards`` (a struct with one list of sample rewards per decoder, in sample
order; an empty list where the bank holds no sample for that (query, decoder): missing, not
zero) and, when asked, ``features.<name>`` (the bank's cached feature row, float32).  The bank is
loaded and validated with :func:`bench.bank.load_bank` (checksums included); nothing is
downloaded.  The training targets of the paper (lambda, p(S > W), marginal rewards) are a
function of the rewards: compute them with :func:`bench.scoring.problem_from_bank`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.bank import SPLITS, load_bank, resolve_bank_dir
from bench.errors import HardbenchError, UnknownNameError


def load_bank_dataset(bank: str | Path | None = None, task: str | None = None, *,
                      features: bool | Sequence[str] = False,
                      decoders: Sequence[str] | None = None):  # -> datasets.DatasetDict
    """Load a bank as a ``datasets.DatasetDict`` keyed by split (``train``, ``val``, ``test``).

    Parameters
    ----------
    bank:
        A bank name under ``tasks/<task>/banks/`` or a bank folder; None: the task's default.
    task:
        The task the bank name belongs to (not needed for a folder).
    features:
        False (default): no features; True: every cached feature matrix; a list: those names.
    decoders:
        The decoders whose rewards go into ``rewards`` (default: all of the bank's, in manifest
        order).

    Raises
    ------
    HardbenchError
        ``datasets`` is not installed (install the ``hf`` extra); unknown bank, feature or
        decoder (the message lists the available ones); any bank validation error.
    """
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - the hf extra is part of `all`
        raise HardbenchError("load_bank_dataset needs the 'datasets' package: "
                             "pip install 'hardbench[hf]'") from err
    loaded = load_bank(resolve_bank_dir(bank, task))
    names = loaded.feature_names if features is True else list(features or [])
    missing = [n for n in names if n not in loaded.feature_names]
    if missing:
        raise UnknownNameError(f"bank {loaded.name!r} has no features {missing}; "
                               f"available: {loaded.feature_names}")
    chosen = list(decoders) if decoders is not None else loaded.decoders
    unknown = [d for d in chosen if d not in loaded.decoders]
    if unknown:
        raise UnknownNameError(f"bank {loaded.name!r} has no decoders {unknown}; "
                               f"decoders: {loaded.decoders}")

    queries = loaded.queries.reset_index(drop=True)
    columns = {c: queries[c].tolist() for c in queries.columns}
    reward_lists = {}
    for decoder in chosen:
        matrix = loaded.reward_matrix(decoder)
        reward_lists[decoder] = [row[:n].tolist() for row, n in zip(matrix.rewards, matrix.counts)]
    columns["rewards"] = [{d: reward_lists[d][i] for d in chosen} for i in range(len(queries))]
    schema = datasets.Features.from_arrow_schema(
        datasets.Dataset.from_pandas(queries, preserve_index=False).data.schema)
    schema["rewards"] = {d: datasets.Sequence(datasets.Value("float64")) for d in chosen}
    matrices = {}
    for name in names:
        matrices[name] = np.asarray(loaded.features(name), dtype=np.float32)
        schema[f"features.{name}"] = datasets.Sequence(datasets.Value("float32"),
                                                       length=matrices[name].shape[1])
    description = (f"hardbench bank {loaded.task}/{loaded.name} ({loaded.setting}, "
                   f"{loaded.reward_kind} rewards; decoders {', '.join(loaded.decoders)}); "
                   f"licence: {loaded.manifest.get('license')}")
    splits = {}
    for split in SPLITS:
        rows = np.flatnonzero(queries["split"].to_numpy() == split)
        if not len(rows):
            continue
        data = {k: [v[i] for i in rows] for k, v in columns.items()}
        for name, matrix in matrices.items():
            data[f"features.{name}"] = matrix[rows]
        splits[split] = datasets.Dataset.from_dict(
            data, info=datasets.DatasetInfo(description=description, features=schema),
            split=datasets.NamedSplit(split))
    return datasets.DatasetDict(splits)
