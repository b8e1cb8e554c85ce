"""The paper's training losses and one seeded early-stopping loop, shared by the torch probes.

Losses (section 3 of the paper), chosen by the bank's target kind:

``success_prob``      cross-entropy against the soft target lambda_i (Eq. 7), on a logit;
``preference``        the same soft cross-entropy against p(S > W | x_i) (Eq. 8 / 11);
``marginal_rewards``  squared error summed over the b_max marginal rewards (Eq. 6).
Portfolio (one output per decoder): ``success_prob_per_decoder`` the soft cross-entropy averaged
over the D logits; ``marginal_rewards_per_decoder`` the squared error summed over D * K values.

Used by ``submissions/mlp-probe`` (on cached features) and ``submissions/lora-probe`` (on a
LoRA-adapted LM); importing this module imports torch.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from bench.predictors.base import PROBABILITY_KINDS, TARGET_KINDS


def output_size(target_kind: str, b_max: int) -> int:
    """Number of outputs a probe head needs: b_max for marginal vectors, else 1."""
    return b_max if TARGET_KINDS[target_kind] == "vector" else 1


def target_loss(target_kind: str, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean per-query loss of raw head ``outputs`` against ``targets``.

    Parameters
    ----------
    target_kind : str
    outputs : Tensor, shape (n, 1) or (n, b_max)
        Logits for probabilities, values for marginal rewards.
    targets : Tensor, shape (n,) or (n, b_max)
    """
    if target_kind not in PROBABILITY_KINDS:
        return ((outputs - targets) ** 2).sum(dim=1).mean()  # Eq. 6
    if TARGET_KINDS[target_kind] == "vector":            # one logit per decoder
        return nn.functional.binary_cross_entropy_with_logits(outputs, targets)
    return nn.functional.binary_cross_entropy_with_logits(outputs[:, 0], targets)  # Eq. 7


def outputs_to_predictions(target_kind: str, outputs: torch.Tensor) -> np.ndarray:
    """Head outputs -> predictions: sigmoid for probabilities, identity for marginals."""
    with torch.no_grad():
        if target_kind not in PROBABILITY_KINDS:
            return outputs.double().cpu().numpy()
        if TARGET_KINDS[target_kind] == "vector":
            return torch.sigmoid(outputs).double().cpu().numpy()
        return torch.sigmoid(outputs[:, 0]).double().cpu().numpy()


@contextlib.contextmanager
def seeded_deterministic(seed: int) -> Iterator[None]:
    """Seed torch and switch on deterministic algorithms, restoring the previous setting."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and stopping settings of :func:`fit_early_stopping`."""

    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    max_epochs: int = 200
    patience: int = 10
    max_steps: int | None = None


@dataclass
class TrainingLog:
    """What happened during training, kept on the fitted probe as ``history_``."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1
    steps: int = 0


def fit_early_stopping(
    module: nn.Module,
    batch_loss: Callable[[np.ndarray], torch.Tensor],
    val_loss: Callable[[], float] | None,
    n_fit: int,
    config: TrainConfig,
    seed: int,
    param_groups: list[dict] | None = None,
    verbose: bool = False,
) -> TrainingLog:
    """Train ``module``'s trainable parameters with Adam; keep the epoch with the best val loss.

    Parameters
    ----------
    module : nn.Module
        Its parameters with ``requires_grad`` are optimised (LoRA: only the adapters and head).
    batch_loss : callable
        ``batch_loss(row_indices) -> loss`` over rows ``0..n_fit-1`` of the fit set.
    val_loss : callable or None
        Mean validation loss (computed without gradients); None trains for ``max_epochs``
        (or ``max_steps``) and keeps the last state.
    n_fit : int
    config : TrainConfig
    seed : int
        Seeds the row shuffling (torch's own seed is set by the caller).
    param_groups : list of dict, optional
        Adam parameter groups (e.g. a larger learning rate for a head); default: every
        trainable parameter of ``module`` at ``config.lr``.
    verbose : bool
        Print one line per epoch (losses) to stderr: progress for long runs.
    """
    groups = param_groups or [{"params": [p for p in module.parameters() if p.requires_grad]}]
    optimiser = torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)
    rng = np.random.default_rng(seed)
    log = TrainingLog()
    best, best_state, waited = np.inf, None, 0
    for epoch in range(config.max_epochs):
        module.train()
        order = rng.permutation(n_fit)
        losses = []
        for start in range(0, n_fit, config.batch_size):
            optimiser.zero_grad()
            loss = batch_loss(order[start:start + config.batch_size])
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            log.steps += 1
            if config.max_steps is not None and log.steps >= config.max_steps:
                break
        log.train_loss.append(float(np.mean(losses)))
        if val_loss is not None:
            module.eval()
            current = float(val_loss())
            log.val_loss.append(current)
            if current < best - 1e-7:
                best, waited, log.best_epoch = current, 0, epoch
                best_state = {n: p.detach().clone() for n, p in module.named_parameters()
                              if p.requires_grad}
            else:
                waited += 1
        if verbose:
            val_text = f", val loss {log.val_loss[-1]:.4f}" if log.val_loss else ""
            print(f"epoch {epoch + 1}: train loss {log.train_loss[-1]:.4f}{val_text} "
                  f"({log.steps} steps)", file=sys.stderr, flush=True)
        if (config.max_steps is not None and log.steps >= config.max_steps) or waited >= config.patience:
            break
    if best_state is not None:
        with torch.no_grad():
            named = dict(module.named_parameters())
            for name, value in best_state.items():
                named[name].copy_(value)
    else:
        log.best_epoch = len(log.train_loss) - 1
    module.eval()
    return log

