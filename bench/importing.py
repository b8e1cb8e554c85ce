"""Helpers shared by the bank importers (``scripts/import_*.py``).

An importer turns raw public model outputs, copied into ``tasks/<task>/data/<source>/`` with
their licence notice, into a bank folder.  Its output must be a pure function of those raw files
(the tests rebuild every imported bank into a temporary folder and compare every file's bytes),
so nothing here reads a clock, a random generator or the machine.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from bench.errors import HardbenchError

#: the split rule of every shipped bank, as the manifests state it (see bench.bank.split_by_id).
SPLIT_RULE = "bench.bank.split_by_id: int(sha256(query_id)[:8], 16) % 10: 0-5 train, 6 val, 7-9 test"


class ImportSourceError(HardbenchError):
    """A raw input file of an importer is missing or does not look as its source documents."""


def train_or_val_by_id(query_id: str) -> str:
    """Train/val split for queries whose test split is fixed by their source: by id hash.

    ``int(sha256(query_id)[:8], 16) % 7``: 0-5 train, 6 val, the same 6 : 1 ratio as
    :func:`bench.bank.split_by_id` has between its train and val buckets.
    """
    bucket = int(hashlib.sha256(query_id.encode("utf-8")).hexdigest()[:8], 16) % 7
    return "val" if bucket == 6 else "train"


def short_hash(text: str, n: int = 12) -> str:
    """The first ``n`` hex digits of the text's sha256: a stable id for an id-less row."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def require_files(folder: Path, names: Iterable[str]) -> None:
    """One clear error naming every raw file the importer needs but cannot find."""
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise ImportSourceError(f"{folder}: missing raw file(s) {missing}; copy them from the "
                                "upstream snapshot first (the importer's --from-upstream option)")


def copy_files(source: Path, target: Path, names: Iterable[str]) -> list[Path]:
    """Copy ``names`` (paths relative to ``source``) byte for byte into ``target``."""
    require_files(source, names)
    written = []
    for name in names:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, destination)
        written.append(destination)
    return written


def rebuild_differences(build: Callable[[Path], Path], committed: Path, scratch: Path) -> list[str]:
    """Rebuild a bank into ``scratch`` and list every file whose bytes differ from ``committed``.

    The committed ``manifest.json`` and ``features/`` are copied in first: features are computed
    by ``bench features`` (minutes of model inference), not by the importer, and ``save_bank``
    keeps them exactly when the rebuilt ``queries.parquet`` is byte-identical, so an empty list
    means every file, manifest included, was reproduced byte for byte.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(committed / "manifest.json", scratch / "manifest.json")
    if (committed / "features").is_dir():
        shutil.copytree(committed / "features", scratch / "features",
                        ignore=shutil.ignore_patterns(".lock", ".partial"))
    build(scratch)
    ignored = {".lock"}
    names = {p.relative_to(committed).as_posix() for p in committed.rglob("*")
             if p.is_file() and p.name not in ignored and ".partial" not in p.parts}
    names |= {p.relative_to(scratch).as_posix() for p in scratch.rglob("*")
              if p.is_file() and p.name not in ignored and ".partial" not in p.parts}
    return sorted(n for n in names
                  if not (committed / n).is_file() or not (scratch / n).is_file()
                  or (committed / n).read_bytes() != (scratch / n).read_bytes())


def importer_main(description: str, upstream_help: str, copy_raw: Callable[[Path, Path], object],
                  build: Callable[[Path, Path], Path], bank_dir: Path) -> None:
    """The command line every ``scripts/import_<source>.py`` shares: ``[--from-upstream DIR] [--out DIR]``.

    ``--from-upstream`` first copies the raw files from an upstream snapshot (``copy_raw(source,
    project_root)``); then ``build(project_root, out)`` writes the bank (default: ``bank_dir``
    under the project root).
    """
    import argparse

    from bench.paths import project_root

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--from-upstream", type=Path, default=None, help=upstream_help)
    parser.add_argument("--out", type=Path, default=None, help="bank folder (default: the shipped one)")
    args = parser.parse_args()
    root = project_root()
    if args.from_upstream is not None:
        copy_raw(args.from_upstream, root)
    print(f"wrote {build(root, args.out or root / bank_dir)}")
