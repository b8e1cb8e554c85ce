"""Compute a feature matrix for a bank in resumable chunks and record it in the bank.

The bank's prompts (``queries.parquet``'s ``prompt`` column, in file order) are split into
chunks of ``chunk_size`` rows; each chunk is encoded in batches of ``batch_size`` (prompts of
similar length batched together to save padding, rows put back in order) and saved as
``features/.partial/<name>/chunk-XXXXX.npy`` as soon as it is done.  ``state.json`` beside the
chunks records what they belong to: the sha256 of ``queries.parquet``, the extractor spec, the
chunk size and the extractor's ``producer()`` description.  A rerun with the same state skips
the chunks already on disk; a rerun with anything different discards them and starts over.
When every chunk is done the matrix is assembled, written with :func:`bench.bank.write_features`
(which records it in ``manifest.json`` and rewrites the checksums) and the partial folder is
deleted.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.bank import FEATURE_STORAGE, feature_storage, read_manifest, read_queries, write_features
from bench.features.base import FeatureExtractionError, FeatureExtractor
from bench.fileio import atomic_write_bytes, atomic_write_json, sha256_file

PARTIAL_FORMAT = "hardbench-features-partial/1"
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class FeatureRun:
    """What :func:`extract_features` did.

    Attributes
    ----------
    name : str
        Feature name written (``features/<name>.npy``).
    path : Path
        The written ``.npy`` file.
    shape : tuple of int
        ``(n_queries, dim)``.
    chunks_total, chunks_reused : int
        Number of chunks, and how many were found finished from an interrupted run.
    storage : str
        The dtype the matrix was stored in (``float32`` or ``float16``).
    """

    name: str
    path: Path
    shape: tuple[int, int]
    chunks_total: int
    chunks_reused: int
    storage: str


def partial_dir(bank_dir: Path, name: str) -> Path:
    """Folder holding the finished chunks of an unfinished run."""
    return Path(bank_dir) / "features" / ".partial" / name


def _chunk_path(folder: Path, index: int) -> Path:
    return folder / f"chunk-{index:05d}.npy"


def _load_chunk(path: Path, rows: int) -> np.ndarray | None:
    """A finished chunk, or None if it is missing or not the expected float32 ``(rows, d)`` matrix."""
    if not path.is_file():
        return None
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if matrix.dtype != np.float32 or matrix.ndim != 2 or matrix.shape[0] != rows:
        return None
    return matrix


def _discard_stale_partial(folder: Path, state: dict[str, Any], progress: bool) -> None:
    """Delete ``folder`` unless its ``state.json`` equals ``state`` (finished chunks are then reused)."""
    if not folder.exists():
        return
    state_path = folder / "state.json"
    try:
        previous = json.loads(state_path.read_text()) if state_path.is_file() else None
    except json.JSONDecodeError:
        previous = None
    if previous == state:
        return
    if progress and previous is not None:
        print(f"{folder}: partial results are for different inputs or settings; starting over",
              file=sys.stderr)
    shutil.rmtree(folder)


def _save_chunk(folder: Path, index: int, matrix: np.ndarray, state: dict[str, Any]) -> None:
    """Save one finished chunk; the folder and its ``state.json`` are created with the first one."""
    if not (folder / "state.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / "state.json", state)
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(matrix, dtype=np.float32), allow_pickle=False)
    atomic_write_bytes(_chunk_path(folder, index), buffer.getvalue())


def _remove_partial(bank_dir: Path, folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    parent = Path(bank_dir) / "features" / ".partial"
    if parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()


def extract_features(bank_dir: Path, extractor: FeatureExtractor, *, chunk_size: int = 256,
                     batch_size: int = 16, name: str | None = None, overwrite: bool = False,
                     progress: bool = True, storage: str | None = None,
                     after_chunk: Callable[[int], None] | None = None) -> FeatureRun:
    """Encode every prompt of a bank with ``extractor`` and add the matrix to the bank.

    Parameters
    ----------
    bank_dir : Path
        The bank folder.
    extractor : FeatureExtractor
        See :func:`bench.features.base.make_extractor`.
    chunk_size : int
        Prompts per saved chunk (the unit of resumption).
    batch_size : int
        Prompts per forward pass.
    name : str or None
        Feature name; defaults to ``extractor.name``.
    overwrite : bool
        Replace a feature of the same name already in the bank (otherwise that is an error).
    progress : bool
        Show a tqdm progress bar (prompts done) on stderr.
    storage : str or None
        The dtype written to the bank: ``float32``, or ``float16`` for half the bytes (see
        :func:`bench.bank.write_features`); None: the replaced feature's storage with
        ``overwrite``, else float32.  Chunks are float32 either way, so it does not change what a
        resumed run reuses.
    after_chunk : callable or None
        Called with the chunk index after each newly computed chunk is saved (a hook for
        monitoring; the tests use it to simulate an interruption).

    Returns
    -------
    FeatureRun
    """
    from tqdm import tqdm

    bank_dir = Path(bank_dir)
    if storage is not None and storage not in FEATURE_STORAGE:   # refused before hours of encoding
        raise FeatureExtractionError(f"storage {storage!r} is not one of {list(FEATURE_STORAGE)}")
    if chunk_size < 1 or batch_size < 1:
        raise FeatureExtractionError(f"chunk size and batch size must be >= 1, got {chunk_size} "
                                     f"and {batch_size}")
    name = name or extractor.name
    if not SAFE_NAME.fullmatch(name):
        raise FeatureExtractionError(f"feature name {name!r} is not a safe file name (letters, digits, "
                                     "'.', '_', '-'; not starting with '.' or '-')")
    manifest = read_manifest(bank_dir)
    if name in manifest.get("features", {}) and not overwrite:
        raise FeatureExtractionError(f"{bank_dir}: already has features {name!r}; pass --overwrite "
                                     "to recompute them")
    if storage is None:
        storage = feature_storage(manifest, name) if name in manifest.get("features", {}) else "float32"
    prompts = read_queries(bank_dir)["prompt"].tolist()
    n_chunks = -(-len(prompts) // chunk_size)
    state = {"format": PARTIAL_FORMAT, "name": name, "spec": extractor.spec,
             "queries_sha256": sha256_file(bank_dir / "queries.parquet"),
             "n_queries": len(prompts), "chunk_size": chunk_size, "producer": extractor.producer()}
    folder = partial_dir(bank_dir, name)
    _discard_stale_partial(folder, state, progress)

    chunks: list[np.ndarray | None] = [
        _load_chunk(_chunk_path(folder, c), len(prompts[c * chunk_size:(c + 1) * chunk_size]))
        for c in range(n_chunks)]
    reused = sum(chunk is not None for chunk in chunks)
    done_rows = sum(len(chunk) for chunk in chunks if chunk is not None)
    with tqdm(total=len(prompts), initial=done_rows, unit="prompt", desc=name, file=sys.stderr,
              disable=not progress, dynamic_ncols=True) as bar:
        for c in range(n_chunks):
            if chunks[c] is not None:
                continue
            chunks[c] = _encode_chunk(extractor, prompts[c * chunk_size:(c + 1) * chunk_size],
                                      batch_size, bar.update)
            _save_chunk(folder, c, chunks[c], state)
            if after_chunk is not None:
                after_chunk(c)
    matrix = (np.concatenate([chunk for chunk in chunks if chunk is not None]) if chunks
              else np.zeros((0, 0), dtype=np.float32))
    path = write_features(bank_dir, name, matrix, state["producer"], storage=storage)
    _remove_partial(bank_dir, folder)
    return FeatureRun(name=name, path=path, shape=(int(matrix.shape[0]), int(matrix.shape[1])),
                      chunks_total=n_chunks, chunks_reused=reused, storage=storage)


def _encode_chunk(extractor: FeatureExtractor, texts: list[str], batch_size: int,
                  advance: Callable[[int], Any]) -> np.ndarray:
    """Encode one chunk in batches of similar length (less padding), rows back in input order.

    Batching by length only changes which prompts share a batch; extractors are batch-independent
    (up to float32 rounding), and the order is deterministic (stable sort on character count).
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    parts = []
    for start in range(0, len(order), batch_size):
        parts.append(_check_batch(extractor, [texts[i] for i in order[start:start + batch_size]]))
        advance(len(parts[-1]))
    out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
    out[order] = np.concatenate(parts)
    return out


def _check_batch(extractor: FeatureExtractor, texts: list[str]) -> np.ndarray:
    """Encode one batch and check the extractor kept its contract (rows, 2-d, finite)."""
    out = np.asarray(extractor.encode(texts), dtype=np.float32)
    if out.ndim != 2 or out.shape[0] != len(texts):
        raise FeatureExtractionError(f"extractor {extractor.spec!r} returned shape {out.shape} for "
                                     f"{len(texts)} texts")
    if not np.isfinite(out).all():
        raise FeatureExtractionError(f"extractor {extractor.spec!r} returned NaN or infinite values")
    return out
