"""What every generation backend shares: decoding parameters, requests, completions, seeds.

A backend turns :class:`Request` objects (one prompt, ``n`` samples, one seed per sample) into
:class:`Completion` lists.  Everything else (prompts, resume, scoring, the bank) is shared in
:mod:`bench.generate.pipeline`, so the CPU tests of one backend cover it for all of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

#: finish reasons a completion may carry.
FINISH_REASONS = ("stop", "length")


@dataclass(frozen=True)
class DecodingParams:
    """Sampling settings shared by every sample of a run (recorded in the manifest)."""

    temperature: float
    top_p: float
    max_tokens: int
    stop: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"stop": list(self.stop)}


@dataclass(frozen=True)
class Request:
    """One prompt to sample ``len(seeds)`` times; ``seeds[j]`` seeds sample ``j``."""

    query_id: str
    prompt: str
    seeds: tuple[int, ...]
    #: chat messages, for backends whose server applies the chat template (``accepts_messages``).
    messages: tuple[Mapping[str, str], ...] | None = None

    @property
    def n(self) -> int:
        return len(self.seeds)


@dataclass(frozen=True)
class Completion:
    """One sample: its text (stop string excluded), generated tokens and why it ended."""

    text: str
    n_tokens: int
    finish_reason: str


class Backend(Protocol):
    """A generation engine.  ``batch_queries`` is how many requests it wants per call."""

    name: str
    batch_queries: int

    def describe(self) -> dict[str, Any]:  # pragma: no cover - protocol
        """Engine name, version and settings, for the manifest."""
        ...

    def chat_template_prompt(self, messages: Sequence[Mapping[str, str]]) -> str | None:  # pragma: no cover
        """The model's own chat template applied to ``messages`` (None: the model has none)."""
        ...

    def generate(self, requests: Sequence[Request], params: DecodingParams) -> list[list[Completion]]:  # pragma: no cover
        """Samples for each request, in order (``len(result[i]) == requests[i].n``)."""
        ...

    def close(self) -> None:  # pragma: no cover
        ...


def sample_seed(seed: int, query_id: str, sample: int) -> int:
    """A 31-bit seed that depends only on (run seed, query, sample index).

    Sampling is thereby reproducible per sample, whatever the batch, the shard or the point
    where an interrupted run resumed.
    """
    digest = hashlib.sha256(f"{seed}\x00{query_id}\x00{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the earliest stop string, and whether one was found.

    >>> cut_at_stop("a = 1\\n```\\nmore", ["```"])
    ('a = 1\\n', True)
    >>> cut_at_stop("no stop", ["```"])
    ('no stop', False)
    """
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
