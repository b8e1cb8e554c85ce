"""Sample banks: per query, many cached responses' rewards, plus cached features.

Format ``hardbench-bank/1`` (a public contract; see README "Bank format"): a folder with

- ``manifest.json``   format, task, name, setting, reward, decoders, cost, provenance,
                      license, ``files`` (name -> sha256 of every data file), ``features``;
                      optional ``default_decoder`` and ``default_routing`` ([weak, strong])
- ``queries.parquet`` ``query_id`` (str, unique), ``split`` (train/val/test), ``prompt``, ...
- ``rewards.parquet`` long format: ``query_id``, ``decoder``, ``sample`` (int), ``reward``
- ``features/<name>.npy`` optional float32 matrices, rows in ``queries.parquet`` order

Format ``hardbench-bank/2`` is the same folder with ``counts.parquet`` in place of
``rewards.parquet``: per (query, decoder) the *reward value counts* (``query_id``,
``decoder``, ``reward``, ``count``), one row per distinct reward value.  Every estimator is
invariant to the order of a query's samples, so this loses nothing they use and stores a
16-decoder x 12,500-query x 50-sample binary bank in 200k rows instead of 10 M.  Both
formats load into the same :class:`RewardMatrix` (v2 rows hold the samples sorted ascending).

Feature files follow their own version, the manifest's optional ``features_format``: absent (or
``hardbench-features/1``) means every ``features/<name>.npy`` is float32; ``hardbench-features/2``
means each feature's entry names its ``storage``, ``float32`` or ``float16`` (half the bytes for
the large hidden-state matrices), and the npy has that dtype.  :meth:`Bank.features` returns
float32 either way, so code past this module never sees the storage dtype.

A (query, decoder) pair without samples is *missing*, not zero: banks may be ragged per
query and decoder; only a query with no sample of any decoder is an error.

Everything is validated in :func:`load_bank`; every failure is one :class:`BankFormatError`
naming the file and the problem.  Code past this module trusts a :class:`Bank`.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import BankFormatError, UnknownNameError
from bench.fileio import atomic_write_bytes, atomic_write_json, sha256_file
from bench.paths import tasks_root

BANK_FORMAT = "hardbench-bank/1"
#: long-format rewards; compact reward value counts (see the module docstring)
BANK_FORMAT_V2 = "hardbench-bank/2"
BANK_FORMATS = (BANK_FORMAT, BANK_FORMAT_V2)
#: the samples file of each format version
SAMPLES_FILE = {BANK_FORMAT: "rewards.parquet", BANK_FORMAT_V2: "counts.parquet"}
SETTINGS = ("best_of_k", "routing")
REWARD_KINDS = ("binary", "real")
#: feature files: every matrix float32 (the default when the manifest names no features_format)
FEATURES_FORMAT = "hardbench-features/1"
#: feature files: each matrix's dtype is its manifest entry's ``storage`` (see the module docstring)
FEATURES_FORMAT_V2 = "hardbench-features/2"
FEATURES_FORMATS = (FEATURES_FORMAT, FEATURES_FORMAT_V2)
#: the dtypes a v2 feature may be stored in; :meth:`Bank.features` always returns float32
FEATURE_STORAGE = ("float32", "float16")
SPLITS = ("train", "val", "test")
#: manifest keys that describe a bank's files rather than its samples: a bank built from another
#: (merged, re-scored) drops them, and writing it fills them in again
FILE_MANIFEST_KEYS = ("files", "features", "features_format", "format")
MANIFEST_REQUIRED = ("format", "task", "name", "setting", "reward", "decoders", "provenance",
                     "license", "files")


@dataclass(frozen=True)
class RewardMatrix:
    """One decoder's rewards as a padded matrix.

    Attributes
    ----------
    rewards : ndarray of float64, shape (n_queries, n_max)
        Row i holds query i's sample rewards in the first ``counts[i]`` columns, NaN after.
    counts : ndarray of int64, shape (n_queries,)
        Number of samples per query (ragged banks allowed; 0 = missing for this decoder).
    """

    rewards: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class Bank:
    """A validated sample bank.  Build it with :func:`load_bank`.

    ``rewards`` is the long table of a v1 bank (None for v2); ``counts`` the reward value
    counts of a v2 bank (None for v1).  Read samples through :meth:`reward_matrix`.
    """

    path: Path
    manifest: dict[str, Any]
    queries: pd.DataFrame
    rewards: pd.DataFrame | None
    manifest_sha256: str
    counts: pd.DataFrame | None = None
    _matrices: dict[str, RewardMatrix] = field(default_factory=dict, repr=False, compare=False)

    @property
    def task(self) -> str:
        return str(self.manifest["task"])

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def setting(self) -> str:
        return str(self.manifest["setting"])

    @property
    def reward_kind(self) -> str:
        return str(self.manifest["reward"])

    @property
    def decoders(self) -> list[str]:
        return list(self.manifest["decoders"])

    @property
    def default_decoder(self) -> str:
        """Best-of-k's decoder when none is chosen: ``default_decoder``, else the first."""
        return str(self.manifest.get("default_decoder") or self.decoders[0])

    @property
    def default_routing(self) -> list[str]:
        """Routing's [weak, strong] when none is chosen: ``default_routing``, else the first two.

        Empty for a one-decoder bank (it cannot be scored as routing)."""
        pair = self.manifest.get("default_routing")
        if pair:
            return [str(d) for d in pair]
        return self.decoders[:2] if len(self.decoders) > 1 else []

    @property
    def feature_names(self) -> list[str]:
        return sorted(self.manifest.get("features", {}))

    def split_mask(self, *splits: str) -> np.ndarray:
        """Boolean mask over queries (in bank order) of the given splits."""
        return self.queries["split"].isin(splits).to_numpy()

    def reward_matrix(self, decoder: str) -> RewardMatrix:
        """The padded reward matrix of one decoder, rows in ``queries`` order (cached)."""
        if decoder not in self.decoders:
            raise UnknownNameError(f"bank {self.name!r} has no decoder {decoder!r}; "
                                   f"decoders: {self.decoders}")
        if decoder not in self._matrices:
            if self.counts is not None:
                matrix = _expand_counts(self.queries["query_id"], self.counts, decoder)
            else:
                matrix = _pad_rewards(self.queries["query_id"], self.rewards, decoder)
            self._matrices[decoder] = matrix
        return self._matrices[decoder]

    def features(self, name: str) -> np.ndarray:
        """Load ``features/<name>.npy`` as float32, one row per query (a float16 file is cast:
        exactly, every float16 value is a float32 value)."""
        if name not in self.manifest.get("features", {}):
            raise UnknownNameError(f"bank {self.name!r} has no features {name!r}; "
                                   f"available: {self.feature_names}")
        return np.load(self.path / "features" / f"{name}.npy").astype(np.float32, copy=False)

    def feature_storage(self, name: str) -> str:
        """The dtype ``features/<name>.npy`` is stored in on disk: ``float32`` or ``float16``."""
        return feature_storage(self.manifest, name)


def _pad_rewards(query_ids: pd.Series, rewards: pd.DataFrame, decoder: str) -> RewardMatrix:
    rows = rewards[rewards["decoder"] == decoder]
    index = pd.Index(query_ids)
    qi = index.get_indexer(rows["query_id"])
    counts = np.bincount(qi, minlength=len(index)).astype(np.int64)
    order = np.lexsort((rows["sample"].to_numpy(), qi))
    qi_sorted = qi[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    col = np.arange(len(qi_sorted)) - starts[qi_sorted]
    matrix = np.full((len(index), max(int(counts.max(initial=0)), 1)), np.nan)
    matrix[qi_sorted, col] = rows["reward"].to_numpy(dtype=np.float64)[order]
    return RewardMatrix(rewards=matrix, counts=counts)


def _expand_counts(query_ids: pd.Series, counts: pd.DataFrame, decoder: str) -> RewardMatrix:
    """A v2 bank's value counts as a padded matrix: each row's samples sorted ascending."""
    rows = counts[counts["decoder"] == decoder]
    index = pd.Index(query_ids)
    qi = index.get_indexer(rows["query_id"])
    values = rows["reward"].to_numpy(dtype=np.float64)
    repeats = rows["count"].to_numpy(dtype=np.int64)
    order = np.lexsort((values, qi))
    qi_rep = np.repeat(qi[order], repeats[order])
    value_rep = np.repeat(values[order], repeats[order])
    per_query = np.bincount(qi_rep, minlength=len(index)).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(per_query)[:-1]])
    col = np.arange(len(qi_rep)) - starts[qi_rep]
    matrix = np.full((len(index), max(int(per_query.max(initial=0)), 1)), np.nan)
    matrix[qi_rep, col] = value_rep
    return RewardMatrix(rewards=matrix, counts=per_query)


def counts_from_rewards(rewards: pd.DataFrame) -> pd.DataFrame:
    """Long rewards (v1) -> reward value counts (v2), sorted by (query_id, decoder, reward)."""
    grouped = rewards.groupby(["query_id", "decoder", "reward"], sort=True).size()
    return grouped.rename("count").reset_index().astype({"count": "int64"})


def split_by_id(query_id: str) -> str:
    """The shipped banks' deterministic split: 60 % train, 10 % val, 30 % test by id hash.

    ``int(sha256(query_id)[:8], 16) % 10``: 0-5 train, 6 val, 7-9 test.  It depends on the id
    alone, so a query keeps its split when a bank grows or is rebuilt.
    """
    bucket = _id_bucket(query_id)
    return "train" if bucket < 6 else ("val" if bucket == 6 else "test")


def split_train_val_by_id(query_id: str) -> str:
    """For banks whose source fixes the test set: the rest splits by the same hash bucket.

    Bucket 6 (:func:`split_by_id`'s val bucket) -> ``val``, every other bucket -> ``train``:
    about 10 % val, 90 % train, and a query that is val under :func:`split_by_id` is val here.
    """
    return "val" if _id_bucket(query_id) == 6 else "train"


def _id_bucket(query_id: str) -> int:
    return int(hashlib.sha256(query_id.encode("utf-8")).hexdigest()[:8], 16) % 10


# ----------------------------------------------------------------------------- resolving


def resolve_bank_dir(bank: str | Path | None, task: str | None = None) -> Path:
    """Turn ``--bank`` into a folder: an existing path, or a bank name under ``tasks/<task>/banks/``.

    With ``bank=None`` the task's ``default_bank`` is used.
    """
    if bank is not None and Path(bank).joinpath("manifest.json").is_file():
        return Path(bank)
    if bank is not None and (_looks_like_path(str(bank)) or Path(bank).exists()):
        where = Path(bank)
        if not where.exists():
            raise BankFormatError(f"{bank}: no such folder; pass an existing bank folder, or a bank "
                                  "name (see `bench list banks`)")
        raise BankFormatError(f"{bank}: not a bank folder (no manifest.json there); see README "
                              "\"Bank format\"")
    if task is None:
        raise BankFormatError(f"{bank}: no manifest.json there; pass a bank folder, or --task "
                              "with a bank name")
    from bench.tasks import load_task  # local import: tasks may import heavy task code

    config = load_task(task)
    name = bank if bank is not None else config.default_bank
    known = sorted(p.parent.name for p in (config.directory / "banks").glob("*/manifest.json"))
    if not known:
        raise UnknownNameError(no_bank_message(task))
    if name is None:
        raise UnknownNameError(f"task {task!r} has no default bank; pass --bank (one of: {', '.join(known)})")
    directory = config.directory / "banks" / str(name)
    if not (directory / "manifest.json").is_file():
        raise UnknownNameError(f"task {task!r} has no bank {name!r}; available: {', '.join(known)}")
    return directory


def no_bank_message(task: str) -> str:
    """What to say when a task has no bank yet, and what to do about it (the task's own
    ``no_bank`` text when it has one, e.g. data that only the hub has)."""
    from bench.tasks import load_task  # local import, as in resolve_bank_dir

    note = load_task(task).no_bank
    if note:
        return f"no bank for {task} yet: {note.strip()}"
    return (f"no bank for {task} yet: make one with `bench generate --task {task} --model MODEL --out DIR` "
            "(see README \"Make your own bank\"), or label your own samples with `bench verify`; then pass "
            "--bank DIR")


def _looks_like_path(text: str) -> bool:
    """``--bank`` is a path (not a bank name) when it has a separator or starts with ``.``/``~``."""
    return "/" in text or "\\" in text or text.startswith((".", "~"))


def available_banks() -> list[tuple[str, str]]:
    """(task, bank) for every bank shipped under ``tasks/*/banks/``."""
    return sorted((p.parent.parent.parent.name, p.parent.name)
                  for p in tasks_root().glob("*/banks/*/manifest.json"))


# ----------------------------------------------------------------------------- loading


def read_manifest(directory: Path) -> dict[str, Any]:
    """Read and check ``manifest.json`` (format version, required keys, enumerations)."""
    path = directory / "manifest.json"
    if not path.is_file():
        raise BankFormatError(f"{path}: missing (not a bank folder)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BankFormatError(f"{path}: invalid JSON: {err}") from err
    if not isinstance(manifest, dict):
        raise BankFormatError(f"{path}: expected a JSON object")
    fmt = manifest.get("format")
    if fmt not in BANK_FORMATS:
        raise BankFormatError(f"{path}: unsupported format {fmt!r}; this hardbench reads "
                              f"{' and '.join(map(repr, BANK_FORMATS))}")
    missing = [k for k in MANIFEST_REQUIRED if k not in manifest]
    if missing:
        raise BankFormatError(f"{path}: missing keys {missing}")
    if manifest["setting"] not in SETTINGS:
        raise BankFormatError(f"{path}: setting {manifest['setting']!r} is not one of {SETTINGS}")
    if manifest["reward"] not in REWARD_KINDS:
        raise BankFormatError(f"{path}: reward {manifest['reward']!r} is not one of {REWARD_KINDS}")
    decoders = manifest["decoders"]
    if not isinstance(decoders, list) or not decoders or len(set(decoders)) != len(decoders):
        raise BankFormatError(f"{path}: decoders must be a non-empty list of distinct names")
    if manifest["setting"] == "routing" and len(decoders) < 2:
        raise BankFormatError(f"{path}: a routing bank needs at least two decoders (weak, strong)")
    if not isinstance(manifest["files"], dict):
        raise BankFormatError(f"{path}: files must map file name -> sha256")
    _check_default_decoders(path, manifest)
    return manifest


def _check_default_decoders(path: Path, manifest: Mapping[str, Any]) -> None:
    """``default_decoder`` names a decoder; ``default_routing`` two distinct ones (contract 1)."""
    decoders = manifest["decoders"]
    default = manifest.get("default_decoder")
    if default is not None and default not in decoders:
        raise BankFormatError(f"{path}: default_decoder {default!r} is not in decoders {decoders}")
    pair = manifest.get("default_routing")
    if pair is not None and (not isinstance(pair, list) or len(pair) != 2 or len(set(pair)) != 2
                             or any(d not in decoders for d in pair)):
        raise BankFormatError(f"{path}: default_routing must be [weak, strong], two distinct names "
                              f"from decoders {decoders}; got {pair!r}")


def _verify_checksums(directory: Path, manifest: Mapping[str, Any]) -> None:
    files = manifest["files"]
    for required in ("queries.parquet", SAMPLES_FILE[manifest["format"]]):
        if required not in files:
            raise BankFormatError(f"{directory / 'manifest.json'}: files lacks {required!r}")
    for name, expected in sorted(files.items()):
        path = directory / name
        if not path.is_file():
            raise BankFormatError(f"{path}: listed in manifest.json but missing")
        actual = sha256_file(path)
        if actual != expected:
            raise BankFormatError(f"{path}: sha256 mismatch (manifest {expected[:12]}..., "
                                  f"file {actual[:12]}...): the file changed or is corrupt")


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises many types; report them as one
        raise BankFormatError(f"{path}: unreadable parquet: {err}") from err


def _require_columns(path: Path, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BankFormatError(f"{path}: missing columns {missing} (has {list(frame.columns)})")


def validate_queries(path: Path, queries: pd.DataFrame) -> None:
    """Schema, dtypes, unique ids and known splits of ``queries.parquet``."""
    _require_columns(path, queries, ("query_id", "split", "prompt"))
    for column in ("query_id", "split", "prompt"):
        if not pd.api.types.is_string_dtype(queries[column]) or queries[column].isna().any():
            raise BankFormatError(f"{path}: column {column!r} must be non-null strings")
    dup = queries["query_id"][queries["query_id"].duplicated()]
    if len(dup):
        raise BankFormatError(f"{path}: duplicate query_id {dup.iloc[0]!r} ({len(dup)} duplicates)")
    unknown = sorted(set(queries["split"]) - set(SPLITS))
    if unknown:
        raise BankFormatError(f"{path}: unknown split(s) {unknown}; expected {list(SPLITS)}")


def validate_rewards(path: Path, rewards: pd.DataFrame, queries: pd.DataFrame,
                     manifest: Mapping[str, Any]) -> None:
    """Schema, dtypes, NaN, reward range and id coverage of ``rewards.parquet``."""
    _require_columns(path, rewards, ("query_id", "decoder", "sample", "reward"))
    if not pd.api.types.is_integer_dtype(rewards["sample"]):
        raise BankFormatError(f"{path}: column 'sample' must be integers, got {rewards['sample'].dtype}")
    _check_reward_values(path, rewards, queries, manifest,
                         lambda bad: f"decoder {bad['decoder']!r}, sample {bad['sample']}")
    dup = rewards.duplicated(["query_id", "decoder", "sample"])
    if dup.any():
        row = rewards[dup].iloc[0]
        raise BankFormatError(f"{path}: duplicate (query_id, decoder, sample) "
                              f"({row['query_id']!r}, {row['decoder']!r}, {row['sample']})")
    _require_some_samples(path, rewards, queries)


def _check_reward_values(path: Path, table: pd.DataFrame, queries: pd.DataFrame, manifest: Mapping[str, Any],
                         where: Callable[[pd.Series], str]) -> None:
    """Checks shared by v1 ``rewards.parquet`` and v2 ``counts.parquet``: numeric finite rewards
    (in {0, 1} for binary banks), decoders named in the manifest, query ids in queries.parquet.
    ``where(row)`` names a bad row beyond its query id in the NaN message."""
    if not pd.api.types.is_numeric_dtype(table["reward"]) or pd.api.types.is_bool_dtype(table["reward"]):
        raise BankFormatError(f"{path}: column 'reward' must be numeric, got {table['reward'].dtype}")
    values = table["reward"].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        bad = table[~np.isfinite(values)].iloc[0]
        raise BankFormatError(f"{path}: NaN or infinite reward (query_id {bad['query_id']!r}, {where(bad)})")
    if manifest["reward"] == "binary" and not np.isin(values, (0.0, 1.0)).all():
        bad = table[~np.isin(values, (0.0, 1.0))].iloc[0]
        raise BankFormatError(f"{path}: binary bank has reward {bad['reward']!r} outside {{0, 1}} "
                              f"(query_id {bad['query_id']!r})")
    unknown_decoders = sorted(set(table["decoder"].unique()) - set(manifest["decoders"]))
    if unknown_decoders:
        raise BankFormatError(f"{path}: decoder(s) {unknown_decoders} not in manifest decoders "
                              f"{manifest['decoders']}")
    index = pd.Index(queries["query_id"].to_numpy(dtype=object))
    unknown = index.get_indexer(table["query_id"].to_numpy(dtype=object)) < 0
    if unknown.any():
        raise BankFormatError(f"{path}: query_id {table['query_id'][unknown].iloc[0]!r} is not in "
                              "queries.parquet")


def _require_some_samples(path: Path, samples: pd.DataFrame, queries: pd.DataFrame) -> None:
    """Every query has a sample of at least one decoder (a missing (query, decoder) is allowed)."""
    known = pd.Index(queries["query_id"].to_numpy(dtype=object))
    hits = known.get_indexer(pd.unique(samples["query_id"].to_numpy(dtype=object)))
    has = np.zeros(len(known), dtype=bool)
    has[hits[hits >= 0]] = True
    without = queries.loc[~has, "query_id"]
    if len(without):
        raise BankFormatError(f"{path}: no samples for {len(without)} queries under any decoder "
                              f"(e.g. {without.iloc[0]!r}); drop them from queries.parquet")


def validate_counts(path: Path, counts: pd.DataFrame, queries: pd.DataFrame,
                    manifest: Mapping[str, Any]) -> None:
    """Schema, dtypes, NaN, reward range and id coverage of a v2 bank's ``counts.parquet``."""
    _require_columns(path, counts, ("query_id", "decoder", "reward", "count"))
    for column in ("query_id", "decoder"):
        if not pd.api.types.is_string_dtype(counts[column]) or counts[column].isna().any():
            raise BankFormatError(f"{path}: column {column!r} must be non-null strings")
    if not pd.api.types.is_integer_dtype(counts["count"]) or (counts["count"] < 1).any():
        raise BankFormatError(f"{path}: column 'count' must be integers >= 1 (a missing sample is "
                              "a missing row, not a zero count)")
    _check_reward_values(path, counts, queries, manifest, lambda bad: f"decoder {bad['decoder']!r}")
    dup = counts.duplicated(["query_id", "decoder", "reward"])
    if dup.any():
        row = counts[dup].iloc[0]
        raise BankFormatError(f"{path}: duplicate (query_id, decoder, reward) "
                              f"({row['query_id']!r}, {row['decoder']!r}, {row['reward']!r}): "
                              "one row per distinct reward value")
    _require_some_samples(path, counts, queries)


def features_format(manifest: Mapping[str, Any]) -> str:
    """The bank's features format: its ``features_format``, format 1 when it names none."""
    return str(manifest.get("features_format", FEATURES_FORMAT))


def feature_storage(manifest: Mapping[str, Any], name: str) -> str:
    """The on-disk dtype of feature ``name``: its entry's ``storage`` under features format 2,
    float32 under format 1 (where every feature is float32)."""
    if features_format(manifest) == FEATURES_FORMAT:
        return "float32"
    return str(manifest["features"][name].get("storage"))


def _validate_features(directory: Path, manifest: Mapping[str, Any], n_queries: int) -> None:
    features = manifest.get("features", {})
    where = directory / "manifest.json"
    if not isinstance(features, dict):
        raise BankFormatError(f"{where}: features must be an object")
    fmt = features_format(manifest)
    if fmt not in FEATURES_FORMATS:
        raise BankFormatError(f"{where}: unsupported features_format {fmt!r}; this hardbench reads "
                              f"{' and '.join(map(repr, FEATURES_FORMATS))}")
    for name, entry in features.items():
        rel = f"features/{name}.npy"
        if not isinstance(entry, dict):
            raise BankFormatError(f"{where}: feature {name!r} must be an object describing what made it, "
                                  f"got {type(entry).__name__}")
        if rel not in manifest["files"]:
            raise BankFormatError(f"{where}: feature {name!r} has no checksum entry {rel!r} in files")
        storage = feature_storage(manifest, name)
        if storage not in FEATURE_STORAGE:
            what = "has no storage" if entry.get("storage") is None else f"has storage {storage!r}"
            raise BankFormatError(f"{where}: feature {name!r} {what}; under features_format {fmt!r} each "
                                  f"feature names one of {list(FEATURE_STORAGE)}")
        array = np.load(directory / rel, mmap_mode="r")
        if array.dtype != np.dtype(storage):
            raise BankFormatError(f"{directory / rel}: stored as {array.dtype}, but the manifest declares "
                                  f"{storage} (features_format {fmt!r})")
        if array.ndim != 2 or array.shape[0] != n_queries:
            raise BankFormatError(f"{directory / rel}: expected {storage} of shape ({n_queries}, d), "
                                  f"got {array.dtype} {array.shape}")


def load_bank(bank: str | Path, task: str | None = None, *, verify_checksums: bool = True) -> Bank:
    """Load and validate a bank folder (or a bank name of ``task``)."""
    directory = resolve_bank_dir(bank, task)
    manifest = read_manifest(directory)
    if verify_checksums:
        _verify_checksums(directory, manifest)
    queries = _read_parquet(directory / "queries.parquet")
    validate_queries(directory / "queries.parquet", queries)
    rewards = counts = None
    if manifest["format"] == BANK_FORMAT_V2:
        counts = _read_parquet(directory / "counts.parquet")
        validate_counts(directory / "counts.parquet", counts, queries, manifest)
    else:
        rewards = _read_parquet(directory / "rewards.parquet")
        validate_rewards(directory / "rewards.parquet", rewards, queries, manifest)
    _validate_features(directory, manifest, len(queries))
    return Bank(path=directory, manifest=manifest, queries=queries.reset_index(drop=True),
                rewards=rewards, counts=counts, manifest_sha256=sha256_file(directory / "manifest.json"))


def read_queries(bank_dir: Path) -> pd.DataFrame:
    """Validated ``queries.parquet`` of a bank, without loading rewards."""
    path = Path(bank_dir) / "queries.parquet"
    queries = _read_parquet(path)
    validate_queries(path, queries)
    return queries


# ----------------------------------------------------------------------------- writing


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression="zstd")
    return buffer.getvalue()


def save_bank(directory: Path, manifest: Mapping[str, Any], queries: pd.DataFrame,
              rewards: pd.DataFrame, extra_files: Mapping[str, bytes] | None = None) -> Path:
    """Write a v1 bank folder (atomically per file), fill in ``files`` checksums, validate it.

    ``extra_files`` (name -> bytes) are written and checksummed alongside, e.g. the raw
    samples ``responses.parquet`` of a generated bank; loaders check and otherwise ignore them.
    """
    return _write_bank(directory, manifest, BANK_FORMAT,
                       {"queries.parquet": queries, "rewards.parquet": rewards}, extra_files)


def _write_bank(directory: Path, manifest: Mapping[str, Any], fmt: str,
                tables: Mapping[str, pd.DataFrame], extra_files: Mapping[str, bytes] | None = None) -> Path:
    """Write the tables (and extra files) and the manifest of a bank of format ``fmt``, then
    load it to validate."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = dict(manifest)
    manifest["format"] = fmt
    blobs = {name: _parquet_bytes(frame.reset_index(drop=True)) for name, frame in tables.items()}
    for name, data in (extra_files or {}).items():
        if name in blobs or "/" in name or name.startswith(".") or name == "manifest.json":
            raise BankFormatError(f"extra bank file {name!r} is not allowed")
        blobs[name] = bytes(data)
    files = {name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()}
    manifest.setdefault("features", {})
    files |= _features_to_keep(directory, manifest, files["queries.parquet"])
    for name, data in blobs.items():
        atomic_write_bytes(directory / name, data)
    for other in SAMPLES_FILE.values():   # a bank rewritten in the other format: drop the stale file
        if other not in blobs and (directory / other).is_file():
            (directory / other).unlink()
    manifest["files"] = dict(sorted(files.items()))
    atomic_write_json(directory / "manifest.json", manifest)
    load_bank(directory)
    return directory


def save_counts_bank(directory: Path, manifest: Mapping[str, Any], queries: pd.DataFrame,
                     counts: pd.DataFrame) -> Path:
    """Write a v2 bank (``counts.parquet``: reward value counts) atomically, and validate it.

    ``counts`` has columns ``query_id``, ``decoder``, ``reward``, ``count`` (see
    :func:`counts_from_rewards` to convert a long v1 table); rows are written sorted by
    (query_id, decoder, reward) so the same samples always give the same bytes.
    """
    table = (counts[["query_id", "decoder", "reward", "count"]]
             .astype({"reward": "float64", "count": "int64"})
             .sort_values(["query_id", "decoder", "reward"], kind="stable"))
    return _write_bank(directory, manifest, BANK_FORMAT_V2,
                       {"queries.parquet": queries, "counts.parquet": table})


def _features_to_keep(directory: Path, manifest: dict[str, Any], queries_sha256: str) -> dict[str, str]:
    """When a bank is rebuilt with the same queries, keep the feature files it already has.

    Features are rows in ``queries.parquet`` order, so they stay valid exactly when that
    file's bytes are unchanged; their manifest entries are carried over into ``manifest``.
    """
    old_path = directory / "manifest.json"
    if not old_path.is_file():
        return {}
    try:
        old = json.loads(old_path.read_text())
    except json.JSONDecodeError:
        return {}
    if old.get("files", {}).get("queries.parquet") != queries_sha256:
        return {}
    kept = {k: v for k, v in old.get("files", {}).items()
            if k.startswith("features/") and (directory / k).is_file()}
    manifest.pop("features_format", None)   # the kept files' format is the old manifest's, not the caller's
    old_v2 = features_format(old) == FEATURES_FORMAT_V2
    for rel in kept:
        name = rel[len("features/"):-len(".npy")]
        if name in old.get("features", {}):
            entry = manifest["features"].setdefault(name, old["features"][name])
            if old_v2:   # the kept file is stored as the old manifest says
                entry["storage"] = old["features"][name].get("storage")
    if old_v2 and kept:
        manifest["features_format"] = FEATURES_FORMAT_V2
        for entry in manifest["features"].values():
            entry.setdefault("storage", "float32")
    manifest["features"] = dict(sorted(manifest["features"].items()))
    return kept


def write_features(bank_dir: Path, name: str, matrix: np.ndarray, producer: Mapping[str, Any], *,
                   storage: str = "float32") -> Path:
    """Add ``features/<name>.npy`` to a bank and record it in the manifest.

    ``matrix`` must have one finite float row per query, in ``queries.parquet`` order.  It is
    stored as ``storage``: float32, or float16 for half the bytes (relative rounding at most
    2**-11 in float16's normal range, below a bfloat16 forward pass's own 2**-8; values beyond
    +-65504 are refused).  ``producer`` (model, extractor, options, ...) is recorded under
    ``manifest["features"][name]`` and the ``files`` checksums are rewritten.  A float16
    feature moves the bank to features format 2 (see the module docstring); float32 features
    of a format-1 bank leave it at format 1, byte for byte as before.
    """
    bank_dir = Path(bank_dir)
    if not name or "/" in name or name.startswith(".") or ":" in name:
        raise BankFormatError(f"feature name {name!r} is not a safe file name")
    if storage not in FEATURE_STORAGE:
        raise BankFormatError(f"features {name!r}: storage {storage!r} is not one of {list(FEATURE_STORAGE)}")
    n_queries = len(read_queries(bank_dir))
    array = np.asarray(matrix)
    if array.ndim != 2 or array.shape[0] != n_queries:
        raise BankFormatError(f"features {name!r}: expected shape ({n_queries}, d), got {array.shape}")
    if not np.isfinite(array).all():
        raise BankFormatError(f"features {name!r}: contains NaN or infinite values")
    with np.errstate(over="ignore"):
        array = array.astype(storage)
    if not np.isfinite(array).all():
        hint = "; store them as float32" if storage == "float16" else ""
        raise BankFormatError(f"features {name!r}: values beyond {storage}'s range "
                              f"(|x| > {float(np.finfo(storage).max):g}){hint}")
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    data = buffer.getvalue()
    rel = f"features/{name}.npy"
    (bank_dir / "features").mkdir(exist_ok=True)
    with _manifest_lock(bank_dir):   # two writers on one bank must not lose each other's entry
        manifest = read_manifest(bank_dir)
        atomic_write_bytes(bank_dir / rel, data)
        entry = {k: v for k, v in producer.items() if k != "storage"} | {"dim": int(array.shape[1])}
        _record_storage(manifest, entry, storage)
        manifest.setdefault("features", {})[name] = entry
        manifest["features"] = dict(sorted(manifest["features"].items()))
        manifest["files"][rel] = hashlib.sha256(data).hexdigest()
        manifest["files"] = dict(sorted(manifest["files"].items()))
        atomic_write_json(bank_dir / "manifest.json", manifest)
    return bank_dir / rel


def _record_storage(manifest: dict[str, Any], entry: dict[str, Any], storage: str) -> None:
    """Record a new feature entry's storage: nothing for float32 under features format 1; else
    the bank is (or moves to) format 2, where every entry names its storage (the existing ones,
    all float32 under format 1, get ``"storage": "float32"``)."""
    if features_format(manifest) == FEATURES_FORMAT:
        if storage == "float32":
            return
        for other in manifest.get("features", {}).values():
            other.setdefault("storage", "float32")
    manifest["features_format"] = FEATURES_FORMAT_V2
    entry["storage"] = storage


def feature_producer(manifest: Mapping[str, Any], name: str) -> dict[str, Any]:
    """What made feature ``name``, as :func:`write_features` takes it: its manifest entry without
    the fields ``write_features`` derives itself (``dim``, ``storage``)."""
    return {k: v for k, v in manifest["features"][name].items() if k not in ("dim", "storage")}


def recast_features(bank_dir: Path, name: str, storage: str) -> Path:
    """Store a bank's feature ``name`` in another dtype (e.g. float32 -> float16), keeping its
    producer record: the values are the stored ones, rounded, not recomputed."""
    bank = load_bank(bank_dir)
    matrix = bank.features(name)   # an unknown name is one clear UnknownNameError
    return write_features(bank_dir, name, matrix, feature_producer(bank.manifest, name), storage=storage)


@contextmanager
def _manifest_lock(bank_dir: Path) -> Iterator[None]:
    """An exclusive advisory lock (``features/.lock``) around a manifest read-modify-write."""
    import fcntl

    with open(bank_dir / "features" / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
