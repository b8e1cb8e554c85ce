"""Sample banks: per query, many cached responses' rewards, plus cached features.

Format ``hardbench-bank/1`` (a public contract; see README "Bank format"): a folder with

- ``manifest.json``   format, task, name, setting, reward, decoders, cost, provenance,
                      license, ``files`` (name -> sha256 of every data file), ``features``
- ``queries.parquet`` ``query_id`` (str, unique), ``split`` (train/val/test), ``prompt``, ...
- ``rewards.parquet`` long format: ``query_id``, ``decoder``, ``sample`` (int), ``reward``
- ``features/<name>.npy`` optional float32 matrices, rows in ``queries.parquet`` order

Everything is validated in :func:`load_bank`; every failure is one :class:`BankFormatError`
naming the file and the problem.  Code past this module trusts a :class:`Bank`.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator, Mapping, Sequence
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
SETTINGS = ("best_of_k", "routing")
REWARD_KINDS = ("binary", "real")
SPLITS = ("train", "val", "test")
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
        Number of samples per query (ragged banks allowed).
    """

    rewards: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class Bank:
    """A validated sample bank.  Build it with :func:`load_bank`."""

    path: Path
    manifest: dict[str, Any]
    queries: pd.DataFrame
    rewards: pd.DataFrame
    manifest_sha256: str
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
            self._matrices[decoder] = _pad_rewards(self.queries["query_id"], self.rewards, decoder)
        return self._matrices[decoder]

    def features(self, name: str) -> np.ndarray:
        """Load ``features/<name>.npy`` (float32, one row per query)."""
        if name not in self.manifest.get("features", {}):
            raise UnknownNameError(f"bank {self.name!r} has no features {name!r}; "
                                   f"available: {self.feature_names}")
        return np.load(self.path / "features" / f"{name}.npy")


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


def split_by_id(query_id: str) -> str:
    """The shipped banks' deterministic split: 60 % train, 10 % val, 30 % test by id hash.

    ``int(sha256(query_id)[:8], 16) % 10``: 0-5 train, 6 val, 7-9 test.  It depends on the id
    alone, so a query keeps its split when a bank grows or is rebuilt.
    """
    bucket = int(hashlib.sha256(query_id.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "train" if bucket < 6 else ("val" if bucket == 6 else "test")


# ----------------------------------------------------------------------------- resolving


def resolve_bank_dir(bank: str | Path | None, task: str | None = None) -> Path:
    """Turn ``--bank`` into a folder: an existing path, or a bank name under ``tasks/<task>/banks/``.

    With ``bank=None`` the task's ``default_bank`` is used.
    """
    if bank is not None and Path(bank).joinpath("manifest.json").is_file():
        return Path(bank)
    if task is None:
        raise BankFormatError(f"{bank}: no manifest.json there; pass a bank folder, or --task "
                              "with a bank name")
    from bench.tasks import load_task  # local import: tasks may import heavy task code

    config = load_task(task)
    name = bank if bank is not None else config.default_bank
    if name is None:
        raise UnknownNameError(f"task {task!r} has no default bank; pass --bank")
    directory = config.directory / "banks" / str(name)
    if not (directory / "manifest.json").is_file():
        known = sorted(p.parent.name for p in (config.directory / "banks").glob("*/manifest.json"))
        raise UnknownNameError(f"task {task!r} has no bank {name!r}; available: {known}")
    return directory


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
    if fmt != BANK_FORMAT:
        raise BankFormatError(f"{path}: unsupported format {fmt!r}; this hardbench reads {BANK_FORMAT!r}")
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
    return manifest


def _verify_checksums(directory: Path, manifest: Mapping[str, Any]) -> None:
    files = manifest["files"]
    for required in ("queries.parquet", "rewards.parquet"):
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
    if not pd.api.types.is_numeric_dtype(rewards["reward"]) or pd.api.types.is_bool_dtype(rewards["reward"]):
        raise BankFormatError(f"{path}: column 'reward' must be numeric, got {rewards['reward'].dtype}")
    values = rewards["reward"].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        bad = rewards[~np.isfinite(values)].iloc[0]
        raise BankFormatError(f"{path}: NaN or infinite reward (query_id {bad['query_id']!r}, "
                              f"decoder {bad['decoder']!r}, sample {bad['sample']})")
    if manifest["reward"] == "binary" and not np.isin(values, (0.0, 1.0)).all():
        bad = rewards[~np.isin(values, (0.0, 1.0))].iloc[0]
        raise BankFormatError(f"{path}: binary bank has reward {bad['reward']!r} outside {{0, 1}} "
                              f"(query_id {bad['query_id']!r})")
    unknown_decoders = sorted(set(rewards["decoder"]) - set(manifest["decoders"]))
    if unknown_decoders:
        raise BankFormatError(f"{path}: decoder(s) {unknown_decoders} not in manifest decoders "
                              f"{manifest['decoders']}")
    known_ids = set(queries["query_id"])
    unknown_ids = rewards.loc[~rewards["query_id"].isin(known_ids), "query_id"]
    if len(unknown_ids):
        raise BankFormatError(f"{path}: query_id {unknown_ids.iloc[0]!r} is not in queries.parquet")
    dup = rewards.duplicated(["query_id", "decoder", "sample"])
    if dup.any():
        row = rewards[dup].iloc[0]
        raise BankFormatError(f"{path}: duplicate (query_id, decoder, sample) "
                              f"({row['query_id']!r}, {row['decoder']!r}, {row['sample']})")
    for decoder in manifest["decoders"]:
        have = set(rewards.loc[rewards["decoder"] == decoder, "query_id"])
        missing = known_ids - have
        if missing:
            raise BankFormatError(f"{path}: decoder {decoder!r} has no samples for "
                                  f"{len(missing)} queries (e.g. {sorted(missing)[0]!r})")


def _validate_features(directory: Path, manifest: Mapping[str, Any], n_queries: int) -> None:
    features = manifest.get("features", {})
    if not isinstance(features, dict):
        raise BankFormatError(f"{directory / 'manifest.json'}: features must be an object")
    for name in features:
        rel = f"features/{name}.npy"
        if rel not in manifest["files"]:
            raise BankFormatError(f"{directory / 'manifest.json'}: feature {name!r} has no "
                                  f"checksum entry {rel!r} in files")
        array = np.load(directory / rel, mmap_mode="r")
        if array.dtype != np.float32 or array.ndim != 2 or array.shape[0] != n_queries:
            raise BankFormatError(f"{directory / rel}: expected float32 of shape ({n_queries}, d), "
                                  f"got {array.dtype} {array.shape}")


def load_bank(bank: str | Path, task: str | None = None, *, verify_checksums: bool = True) -> Bank:
    """Load and validate a bank folder (or a bank name of ``task``)."""
    directory = resolve_bank_dir(bank, task)
    manifest = read_manifest(directory)
    if verify_checksums:
        _verify_checksums(directory, manifest)
    queries = _read_parquet(directory / "queries.parquet")
    validate_queries(directory / "queries.parquet", queries)
    rewards = _read_parquet(directory / "rewards.parquet")
    validate_rewards(directory / "rewards.parquet", rewards, queries, manifest)
    _validate_features(directory, manifest, len(queries))
    return Bank(path=directory, manifest=manifest, queries=queries.reset_index(drop=True),
                rewards=rewards, manifest_sha256=sha256_file(directory / "manifest.json"))


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
    """Write a bank folder (atomically per file), fill in ``files`` checksums, validate it.

    ``extra_files`` (name -> bytes) are written and checksummed alongside, e.g. the raw
    samples ``responses.parquet`` of a generated bank; v1 loaders check and otherwise ignore them.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = dict(manifest)
    manifest["format"] = BANK_FORMAT
    blobs = {name: _parquet_bytes(frame.reset_index(drop=True))
             for name, frame in (("queries.parquet", queries), ("rewards.parquet", rewards))}
    for name, data in (extra_files or {}).items():
        if name in blobs or "/" in name or name.startswith(".") or name == "manifest.json":
            raise BankFormatError(f"extra bank file {name!r} is not allowed")
        blobs[name] = bytes(data)
    files = {name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()}
    manifest.setdefault("features", {})
    files |= _features_to_keep(directory, manifest, files["queries.parquet"])
    for name, data in blobs.items():
        atomic_write_bytes(directory / name, data)
    manifest["files"] = dict(sorted(files.items()))
    atomic_write_json(directory / "manifest.json", manifest)
    load_bank(directory)
    return directory


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
    for rel in kept:
        name = rel[len("features/"):-len(".npy")]
        if name in old.get("features", {}):
            manifest["features"].setdefault(name, old["features"][name])
    manifest["features"] = dict(sorted(manifest["features"].items()))
    return kept


def write_features(bank_dir: Path, name: str, matrix: np.ndarray, producer: Mapping[str, Any]) -> Path:
    """Add ``features/<name>.npy`` to a bank and record it in the manifest.

    ``matrix`` must have one float row per query, in ``queries.parquet`` order; it is stored
    as float32.  ``producer`` (model, extractor, options, ...) is recorded under
    ``manifest["features"][name]`` and the ``files`` checksums are rewritten.
    """
    bank_dir = Path(bank_dir)
    if not name or "/" in name or name.startswith(".") or ":" in name:
        raise BankFormatError(f"feature name {name!r} is not a safe file name")
    n_queries = len(read_queries(bank_dir))
    array = np.asarray(matrix)
    if array.ndim != 2 or array.shape[0] != n_queries:
        raise BankFormatError(f"features {name!r}: expected shape ({n_queries}, d), got {array.shape}")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise BankFormatError(f"features {name!r}: contains NaN or infinite values")
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    data = buffer.getvalue()
    rel = f"features/{name}.npy"
    (bank_dir / "features").mkdir(exist_ok=True)
    with _manifest_lock(bank_dir):   # two writers on one bank must not lose each other's entry
        manifest = read_manifest(bank_dir)
        atomic_write_bytes(bank_dir / rel, data)
        manifest.setdefault("features", {})[name] = dict(producer) | {"dim": int(array.shape[1])}
        manifest["features"] = dict(sorted(manifest["features"].items()))
        manifest["files"][rel] = hashlib.sha256(data).hexdigest()
        manifest["files"] = dict(sorted(manifest["files"].items()))
        atomic_write_json(bank_dir / "manifest.json", manifest)
    return bank_dir / rel


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
