"""The verifier protocol shared by every task.

A verifier scores one sample against one query's reference record (the task loader's row:
gold answer, unit tests, prompt, ...) and returns a :class:`Verdict`.  Verifiers are
constructed with keyword options only (``__init__`` stores them, nothing else) and may
offer a faster ``verify_batch``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

#: statuses a verdict may carry.  ``unsure`` is only for staged verifiers (math stage 1).
STATUSES = (
    "correct",      # math: answer matches gold
    "incorrect",    # math: answer does not match gold
    "unsure",       # math stage 1 could not decide (stage 2, a judge, may)
    "passed",       # code: every test passed
    "failed",       # code: some test failed or the program crashed
    "timed_out",    # code: a test ran past its time limit
    "error",        # the harness could not run the check (reported, counted, never hidden)
    "scored",       # chat: a real-valued reward from a reward model or judge
)


@dataclass(frozen=True)
class Verdict:
    """The outcome of verifying one sample.

    Attributes
    ----------
    reward : float
        1.0 / 0.0 for binary tasks, a real score for chat tasks.
    status : str
        One of :data:`STATUSES`.
    detail : str
        A human-readable reason (extracted answer, failing test, judge's words, ...).
    """

    reward: float
    status: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown verdict status {self.status!r}; expected one of {STATUSES}")


@runtime_checkable
class Verifier(Protocol):
    """Scores samples against a query's reference record."""

    def verify(self, sample: str, reference: Mapping[str, Any]) -> Verdict:  # pragma: no cover
        ...


def verify_batch(
    verifier: Verifier, samples: Sequence[str], references: Sequence[Mapping[str, Any]]
) -> list[Verdict]:
    """Verify many samples, using the verifier's own ``verify_batch`` when it has one."""
    if len(samples) != len(references):
        raise ValueError(f"{len(samples)} samples but {len(references)} references")
    batch = getattr(verifier, "verify_batch", None)
    if callable(batch):
        return list(batch(samples, references))
    return [verifier.verify(s, r) for s, r in zip(samples, references)]
