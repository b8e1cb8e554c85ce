"""Paired comparisons for the leaderboard's marks: one adapter, kept in one place.

The leaderboard marks a row "significantly better than the baseline" and "... than the row
above" from the bootstrap distribution of a *paired* difference (both sides evaluated on the
same resampled test queries).  Where that difference comes from:

- against the baseline: ``summary.paired_vs_baseline`` of a result file (format v2);
- against another submission: only ``bench.compare`` can compute it (it needs both results'
  per-query predictions); until it exists the mark is shown as unavailable.

:func:`paired_comparison` is the only entry point; wiring ``bench.compare`` in is the one name
:data:`COMPARE_FUNCTION` (and, if its return shape differs, :func:`_as_stats`).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.errors import HardbenchError

#: ``module:function`` of the paired comparison of two result dicts.  The function is called
#: as ``f(a, b)`` (two submissions' results on the same bank, ``a - b``) and returns
#: ``method -> metric -> {"diff", "ci_low", "ci_high", "p_le_0"}`` (the shape of
#: ``summary.paired_vs_baseline``), or directly ``metric -> {...}`` for one method.
COMPARE_FUNCTION = "bench.compare:paired_metrics"
#: two-sided 95 % intervals: "significant" means the interval of the difference excludes 0
LEVEL = 0.95


@dataclass(frozen=True)
class Paired:
    """A paired difference ``a - b`` of one metric: point value, 95 % interval, P(diff <= 0)."""

    diff: float
    ci_low: float | None
    ci_high: float | None
    p_le_0: float | None

    @property
    def verdict(self) -> str:
        """``better`` (interval above 0), ``worse`` (below 0), ``n.s.`` or ``no interval``."""
        if self.ci_low is None or self.ci_high is None:
            return "no interval"
        if self.ci_low > 0:
            return "better"
        if self.ci_high < 0:
            return "worse"
        return "n.s."


def _compare_function() -> Callable[..., Any] | None:
    module_name, _, name = COMPARE_FUNCTION.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    function = getattr(module, name, None)
    return function if callable(function) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _one(value: Any) -> Paired | None:
    """``{"diff", "ci_low", "ci_high", "p_le_0"}`` or ``(diff, low, high, p)`` -> Paired."""
    if isinstance(value, Mapping):
        fields = (value.get("diff"), value.get("ci_low"), value.get("ci_high"), value.get("p_le_0"))
    elif isinstance(value, (list, tuple)) and len(value) == 4:
        fields = tuple(value)
    else:
        return None
    diff, low, high, p = (_number(v) for v in fields)
    if diff is None:
        return None
    return Paired(diff, low, high, p)


def _as_stats(by_method: Any, method: str) -> dict[str, Paired]:
    """``method -> metric -> stats`` (or ``metric -> stats``) -> ``{metric: Paired}``."""
    if not isinstance(by_method, Mapping):
        return {}
    metrics = by_method.get(method, by_method)
    if not isinstance(metrics, Mapping):
        return {}
    out = {}
    for metric, value in metrics.items():
        stat = _one(value)
        if stat is not None:
            out[str(metric)] = stat
    return out


def paired_comparison(a: Mapping[str, Any], b: Mapping[str, Any] | None,
                      method: str = "online") -> dict[str, Paired] | None:
    """Paired bootstrap difference ``a - b`` of every summary metric of ``method``.

    Parameters
    ----------
    a, b:
        Result dicts (the JSON of two result files on the same bank).  ``b=None`` compares
        ``a`` with its own baseline (uniform best-of-k or random routing).
    method:
        The allocation method compared (``online`` by default, the headline's).

    Returns
    -------
    dict or None
        ``{metric: Paired(diff, ci_low, ci_high, p_le_0)}`` with the summary's metric names
        (``apgr``, ``area_between_curves``, ...); None when no paired comparison is available
        (a v1 result against its baseline; two results while ``bench.compare`` is missing).
    """
    if b is None:
        stored = (a.get("summary") or {}).get("paired_vs_baseline")
        return _as_stats(stored, method) if isinstance(stored, Mapping) else None
    compare = _compare_function()
    if compare is None:
        return None
    try:
        return _as_stats(compare(a, b), method)
    except HardbenchError:  # e.g. a v1 file without per-query predictions: no mark
        return None
