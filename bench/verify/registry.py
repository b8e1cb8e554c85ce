"""Verifier registry: names used in ``task.yaml`` -> verifier classes, imported lazily.

Entries are ``"module:Class"`` strings, so ``bench list`` or a math task never imports torch
for the chat reward models.  Registering a name twice raises; looking up an unknown name
raises :class:`UnknownNameError` listing the options and the closest match.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from bench.errors import HardbenchError, TaskConfigError, UnknownNameError
from bench.verify.base import Verifier


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest option, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class VerifierRegistry:
    """Name -> ``"module:Class"`` placeholders (or classes), resolved on first use."""

    def __init__(self) -> None:
        self._entries: dict[str, str | type] = {}

    def register(self, name: str, target: str | type) -> None:
        """Add ``name``; a string target must look like ``"package.module:Class"``."""
        if name in self._entries:
            raise ValueError(f"verifier {name!r} is already registered ({self._entries[name]!r})")
        if isinstance(target, str) and target.count(":") != 1:
            raise ValueError(f"verifier {name!r}: target {target!r} is not 'module:Class'")
        self._entries[name] = target

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests register temporary verifiers)."""
        self._entries.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def target(self, name: str) -> str:
        """The ``"module:Class"`` path of ``name`` (what a worker process imports)."""
        entry = self._lookup(name)
        return entry if isinstance(entry, str) else f"{entry.__module__}:{entry.__qualname__}"

    def get(self, name: str) -> type:
        """The verifier class registered as ``name``, imported now."""
        entry = self._lookup(name)
        return entry if isinstance(entry, type) else import_target(entry, name)

    def _lookup(self, name: str) -> str | type:
        if name not in self._entries:
            raise UnknownNameError(
                f"unknown verifier {name!r}{did_you_mean(name, self._entries)}; "
                f"available: {', '.join(self.names())}"
            )
        return self._entries[name]


def import_target(target: str, name: str = "") -> type:
    """Import ``"module:Class"``; failures become a :class:`HardbenchError` naming the verifier."""
    module_name, _, attr = target.partition(":")
    label = f"verifier {name!r} ({target})" if name else f"verifier {target}"
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise HardbenchError(f"{label}: cannot import {module_name}: {err}") from err
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise HardbenchError(f"{label}: {module_name} has no class {attr!r}")
    return cls


#: the project's verifiers.  Names are what ``task.yaml`` puts under ``verifier.name``.
VERIFIERS = VerifierRegistry()
VERIFIERS.register("math_equiv", "bench.verify.math_equiv:MathVerifier")
VERIFIERS.register("gsm8k_answer", "bench.verify.answer_extraction:GSM8KVerifier")
VERIFIERS.register("code_tests", "bench.verify.code_verifier:CodeVerifier")
VERIFIERS.register("reward_model", "bench.verify.chat_rewards:RewardModelScorer")
VERIFIERS.register("llm_judge", "bench.verify.chat_rewards:JudgeScorer")


def build_verifier(name: str, options: Mapping[str, Any] | None = None) -> Verifier:
    """Instantiate verifier ``name`` with its keyword ``options`` (as a task declares them)."""
    return instantiate(VERIFIERS.get(name), name, options)


def instantiate(cls: type, name: str, options: Mapping[str, Any] | None) -> Verifier:
    """``cls(**options)``; a bad option becomes a :class:`TaskConfigError` naming the verifier."""
    try:
        verifier = cls(**dict(options or {}))
    except TypeError as err:
        raise TaskConfigError(f"verifier {name!r}: bad options {dict(options or {})!r}: {err}") from err
    if not callable(getattr(verifier, "verify", None)):
        raise TaskConfigError(f"verifier {name!r}: {cls.__name__} has no verify() method")
    return verifier
