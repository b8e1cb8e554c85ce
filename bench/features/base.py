"""Feature extractors: the protocol, the registry, spec parsing and feature names.

An *extractor spec* is what a user types after ``--extractor``: ``family`` or ``family:argument``,
e.g. ``minilm`` or ``lm-last-hidden:gemma3-270m``.  The *feature name* is the file name (without
``.npy``) under the bank's ``features/`` folder and the key in ``manifest["features"]``; it is
derived from the spec by :func:`feature_name` so that it is always a safe file name:

=====================================  ==========================================
spec                                   feature name
=====================================  ==========================================
``minilm``                             ``minilm``
``lm-last-hidden:gemma3-270m``         ``lm-last-hidden--gemma3-270m``
``lm-last-hidden:google/gemma-3-1b-it``  ``lm-last-hidden--google--gemma-3-1b-it``
(any spec) with the chat template      (its name) + ``--chat``
=====================================  ==========================================

Heavy libraries (torch, transformers) are imported only when an extractor is built, as
sacreBLEU does with its tokenizers, so ``bench --help`` stays fast.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from bench.errors import HardbenchError, UnknownNameError


class FeatureExtractionError(HardbenchError):
    """A feature extractor cannot run: model not found, bad option, unavailable device."""


@runtime_checkable
class FeatureExtractor(Protocol):
    """What :func:`bench.features.compute.extract_features` needs from an extractor.

    ``__init__`` only stores its options; the model is loaded on the first :meth:`encode`, so
    building an extractor is free and a fully resumed run never loads a model.
    """

    #: the spec the extractor was built from, e.g. ``"lm-last-hidden:gemma3-270m"``.
    spec: str

    @property
    def name(self) -> str:
        """Feature name (a safe file name), see :func:`feature_name`."""
        ...

    def producer(self) -> dict[str, Any]:
        """JSON-able description of everything that determines the features (recorded in the manifest)."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Features of one batch of texts: float32 array of shape ``(len(texts), dim)``."""
        ...


#: extractor family -> ``"module:Class"``, imported only when used.
EXTRACTORS: dict[str, str] = {
    "minilm": "bench.features.minilm:MiniLMExtractor",
    "lm-last-hidden": "bench.features.lm_hidden:LastHiddenExtractor",
}

#: families whose spec needs an argument after ``:`` (the model).
NEEDS_ARGUMENT: frozenset[str] = frozenset({"lm-last-hidden"})

_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_MAX_SLUG = 100


def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split ``family[:argument]`` and check the family exists and the argument is right.

    Raises
    ------
    UnknownNameError
        Unknown family (with the closest match and the list of families).
    FeatureExtractionError
        A missing or superfluous argument.
    """
    family, sep, argument = spec.strip().partition(":")
    if family not in EXTRACTORS:
        close = difflib.get_close_matches(family, list(EXTRACTORS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownNameError(f"unknown extractor {spec!r}{hint} (extractors: {sorted(EXTRACTORS)}; "
                               "lm-last-hidden takes a model: lm-last-hidden:<model>)")
    if family in NEEDS_ARGUMENT and not argument:
        raise FeatureExtractionError(f"extractor {spec!r} needs a model: {family}:<model>, e.g. "
                                     f"{family}:gemma3-270m")
    if family not in NEEDS_ARGUMENT and sep:
        raise FeatureExtractionError(f"extractor {spec!r}: {family!r} takes no argument after ':'")
    return family, (argument or None)


def slugify(text: str) -> str:
    """A safe, lower-case file-name fragment for ``text``: ``/`` becomes ``--``, other unsafe runs ``-``.

    Long results are cut and suffixed with 8 hex digits of the text's sha256 so they stay unique.

    >>> slugify("google/gemma-3-270m")
    'google--gemma-3-270m'
    >>> slugify("./models/My Model")
    'models--my-model'
    """
    cleaned = text.strip()
    while cleaned.startswith("./"):
        cleaned = cleaned[2:]
    parts = [_UNSAFE.sub("-", part.lower()).strip("-.") for part in cleaned.split("/")]
    slug = "--".join(part for part in parts if part)
    if not slug:
        slug = "model"
    if len(slug) > _MAX_SLUG:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
        slug = f"{slug[:_MAX_SLUG - 9].rstrip('-.')}-{digest}"
    return slug


def feature_name(spec: str, *, chat_template: bool = False) -> str:
    """The feature name an extractor spec writes (see the table in the module docstring).

    >>> feature_name("lm-last-hidden:gemma3-270m")
    'lm-last-hidden--gemma3-270m'
    >>> feature_name("lm-last-hidden:google/gemma-3-1b-it", chat_template=True)
    'lm-last-hidden--google--gemma-3-1b-it--chat'
    """
    family, argument = parse_spec(spec)
    name = family if argument is None else f"{family}--{slugify(argument)}"
    return f"{name}--chat" if chat_template else name


#: Weight and activation types an LM extractor may compute in (``--dtype``); encode returns float32
#: either way (the bank stores it as ``--storage`` says).
LM_DTYPES = ("float32", "bfloat16")


def make_extractor(spec: str, *, device: str = "cpu", chat_template: bool = False,
                   max_tokens: int | None = None, dtype: str = "float32") -> FeatureExtractor:
    """Build the extractor for ``spec`` (no model is loaded yet).

    Parameters
    ----------
    spec : str
        ``minilm`` or ``lm-last-hidden:<model>`` (see :mod:`bench.features.models`).
    device : str
        torch device, ``"cpu"`` (default) or ``"cuda"``/``"cuda:N"``.
    chat_template : bool
        Wrap each prompt as one user turn of the model's chat template (LM extractors only).
    max_tokens : int or None
        Token limit per prompt; ``None`` keeps the extractor's default.
    dtype : str
        What an LM extractor computes in: ``float32`` (default) or ``bfloat16`` (3.4x faster on
        a CPU with AVX512_BF16: Qwen2.5-Coder-0.5B, 4.25 against 1.25 prompts/s here, rows within
        cosine 0.9999 of float32's; ``scripts/bench_features_dtype.py``).  Recorded in the
        feature's producer.
    """
    family, argument = parse_spec(spec)
    module_name, _, class_name = EXTRACTORS[family].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    options: dict[str, Any] = {"device": device}
    if max_tokens is not None:
        if max_tokens < 1:
            raise FeatureExtractionError(f"--max-tokens must be >= 1, got {max_tokens}")
        options["max_tokens"] = max_tokens
    if dtype not in LM_DTYPES:
        raise FeatureExtractionError(f"--dtype must be one of {list(LM_DTYPES)}, got {dtype!r}")
    if family in NEEDS_ARGUMENT:
        return cls(model=argument, chat_template=chat_template, dtype=dtype, **options)
    if dtype != "float32":
        raise FeatureExtractionError(f"extractor {spec!r} computes in float32 only (--dtype is for "
                                     "lm-last-hidden)")
    if chat_template:
        raise FeatureExtractionError(f"extractor {spec!r} has no chat template option "
                                     "(it embeds the prompt text as is)")
    return cls(**options)


def check_device(device: str) -> None:
    """Fail clearly if ``device`` is not a usable torch device (e.g. ``cuda`` without a GPU)."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as err:
        raise FeatureExtractionError(f"--device {device!r} is not a torch device: {err}") from err
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise FeatureExtractionError(f"--device {device!r}: CUDA is not available on this machine")
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise FeatureExtractionError(f"--device {device!r}: MPS is not available on this machine")


def library_versions() -> dict[str, str]:
    """Versions of the libraries that compute features (recorded with every feature matrix)."""
    import torch
    import transformers

    from bench import __version__

    return {"hardbench": __version__, "torch": torch.__version__,
            "transformers": transformers.__version__}
