"""Feature extractors: turn a bank's prompts into cached matrices (``features/<name>.npy``, read as float32).

- :mod:`bench.features.base`      the extractor protocol, registry, spec parsing and feature names
- :mod:`bench.features.models`    where models come from (PyPI-shipped local models, folders, hub)
- :mod:`bench.features.minilm`    ``minilm``: all-MiniLM-L6-v2 sentence embeddings
- :mod:`bench.features.lm_hidden` ``lm-last-hidden:<model>``: last-layer state at the last prompt token
- :mod:`bench.features.compute`   resumable, batched computation and recording in the bank

Only ``base`` and ``compute`` are imported here; the model modules (torch, transformers) load
when an extractor is built.
"""

from bench.features.base import (
    EXTRACTORS,
    FeatureExtractionError,
    FeatureExtractor,
    feature_name,
    make_extractor,
    parse_spec,
)
from bench.features.compute import FeatureRun, extract_features

__all__ = [
    "EXTRACTORS",
    "FeatureExtractionError",
    "FeatureExtractor",
    "FeatureRun",
    "extract_features",
    "feature_name",
    "make_extractor",
    "parse_spec",
]
