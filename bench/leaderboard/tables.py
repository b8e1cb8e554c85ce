"""Leaderboard tables: one allocation table and one predictor table per group, as Markdown,
plain text and CSV.

A :class:`Table` is plain data (columns, rows of values with their 95 % intervals);
:mod:`bench.leaderboard.site` renders the same objects as sortable HTML.  Markdown and plain
text go through ``tabulate``.

Rows are ranked by the setting's headline metric (:data:`HEADLINE`: APGR online for routing,
the area between the online and uniform curves for best-of-k), and carry two paired marks
(:mod:`bench.leaderboard.paired`): against the baseline and against the row above.  The numbers are read from the result files' ``summary`` and
``intrinsic`` sections and never recomputed, with one documented exception: when a routing
result does not store the ``random`` baseline's APGR and strong shares (docs/result-format.md
lists only the adaptive methods), the ``random`` row is summarised from its curve with the
same formulas (:func:`pgr_area`, :func:`share_for_pgr`).

Formatting is fixed (no locale, fixed decimals) and rows are sorted, so the output is
byte-for-byte reproducible.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tabulate import tabulate

from bench.bootstrap import TIE_TOLERANCE
from bench.leaderboard.collect import CurvePoint, Group, Result
from bench.leaderboard.paired import Paired, paired_comparison

#: how a column's values are displayed: decimals in Markdown/HTML (CSV keeps 6 significant)
ColumnKind = Literal["text", "rank", "reward", "pct", "share", "loss", "stat"]
DECIMALS: dict[str, int] = {"rank": 0, "reward": 3, "pct": 1, "share": 3, "loss": 4, "stat": 3}
#: preferred reference budgets, used when at least two of them are on the grid
PREFERRED_BUDGETS: dict[str, tuple[float, ...]] = {
    "best_of_k": (4.0, 8.0, 16.0),
    "routing": (0.2, 0.5, 0.8),
}
MISSING = "—"
#: a section with fewer test queries than this is flagged as too small to rank
MIN_QUERIES_TO_RANK = 100

Value = float | str | None
#: a 95 % interval ``(low, high)``; None where the result file stores none
Interval = tuple[float, float] | None


@dataclass(frozen=True)
class Headline:
    """The metric a setting's rows are ranked by: column key, summary path, label."""

    key: str
    metric: str  # the summary (and paired_vs_baseline) metric name
    label: str
    meaning: str


#: routing: APGR of the online allocation; best-of-k: area between the online and uniform
#: curves (mean quality gain over the budget range; compute saved at one budget is often
#: undefined or noise on small banks, so it is shown but not ranked by)
HEADLINE: dict[str, Headline] = {
    "routing": Headline("apgr_online", "apgr", "APGR online",
                        "area under the performance-gap-recovered curve of the online routing"),
    "best_of_k": Headline("abc_online", "area_between_curves", "ABC online",
                          "area between the online and uniform curves (mean gain over the budgets)"),
}


@dataclass(frozen=True)
class Column:
    """One table column: CSV key, display label, value kind and a one-line meaning."""

    key: str
    label: str
    kind: ColumnKind
    help: str


@dataclass(frozen=True)
class Row:
    """One row: a submission, or a reference (``oracle``, ``uniform``, ``random``).

    ``intervals[key]`` is the 95 % interval of ``values[key]``: a key that is absent has no
    interval by nature (a text, a rank, a value that is 0 by definition); a key mapped to None
    has one in principle that this result file does not store (format v1, ``--bootstrap 0``).
    """

    name: str
    is_reference: bool
    values: dict[str, Value]
    intervals: dict[str, Interval] = field(default_factory=dict)


@dataclass(frozen=True)
class Table:
    """A titled table of one group."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]


# --------------------------------------------------------------------------- formatting


def format_value(value: Value, kind: ColumnKind) -> str:
    """Display form of a value: fixed decimals per kind, ``—`` for missing."""
    if value is None:
        return MISSING
    if isinstance(value, str):
        return value
    if kind == "text":
        return str(value)
    text = f"{value:.{DECIMALS[kind]}f}"
    return "0" + text[2:] if text.startswith("-0") and set(text[2:]) <= {".", "0"} else text


def format_cell(value: Value, kind: ColumnKind, interval: Interval, has_interval: bool) -> str:
    """A value with its interval: ``0.641 [0.598, 0.683]``; ``0.641 [—]`` when the interval is
    not stored; the bare value where no interval applies.

    >>> format_cell(0.6412, "stat", (0.598, 0.6831), True)
    '0.641 [0.598, 0.683]'
    >>> format_cell(0.6412, "stat", None, True)
    '0.641 [—]'
    >>> format_cell(None, "stat", None, True)
    '—'
    """
    text = format_value(value, kind)
    if not has_interval or value is None or isinstance(value, str):
        return text
    if interval is None:
        return f"{text} [{MISSING}]"
    return f"{text} [{format_value(interval[0], kind)}, {format_value(interval[1], kind)}]"


def format_csv_value(value: Value) -> str:
    """CSV form: 6 significant digits, empty for missing."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    text = f"{value:.6g}"
    return "0" if text == "-0" else text


def format_budget(budget: float) -> str:
    """``4`` for 4.0, ``0.5`` for 0.5: budgets in column names."""
    return f"{budget:g}"


# --------------------------------------------------------------------------- reference budgets


def reference_budgets(setting: str, budgets: Sequence[float], count: int = 3) -> tuple[float, ...]:
    """The two or three budgets the table reports point metrics at.

    The preferred ones (4, 8, 16 samples; 20 %, 50 %, 80 % strong calls) when at least two
    are on the grid; otherwise ``count`` evenly spaced positive budgets of the grid.

    >>> reference_budgets("best_of_k", [1, 2, 4, 8, 16, 32])
    (4.0, 8.0, 16.0)
    >>> reference_budgets("best_of_k", [1, 2, 3])
    (1.0, 2.0, 3.0)
    """
    grid = sorted(float(b) for b in budgets if b > 0)
    preferred = tuple(b for b in PREFERRED_BUDGETS[setting] if b in grid)
    if len(preferred) >= 2:
        return preferred
    if len(grid) <= count:
        return tuple(grid)
    picks = sorted({round(i * (len(grid) - 1) / (count - 1)) for i in range(count)})
    return tuple(grid[i] for i in picks)


# --------------------------------------------------------------------------- PGR (random row)


def pgr(mean: float, weak: float, strong: float) -> float | None:
    """Performance gap recovered ``(mean - weak) / (strong - weak)``; None if strong == weak."""
    if strong == weak:
        return None
    return (mean - weak) / (strong - weak)


def pgr_area(curve: Sequence[CurvePoint], weak: float, strong: float) -> float | None:
    """Mean PGR over the realized-budget range (trapezoid rule divided by the range): APGR.

    >>> pts = [CurvePoint(b, b, 0.5 + 0.5 * b, 0, 1) for b in (0.0, 0.5, 1.0)]
    >>> pgr_area(pts, 0.5, 1.0)
    0.5
    """
    if strong == weak or len(curve) < 2:
        return None
    ys = [(p.mean - weak) / (strong - weak) for p in curve]
    xs = [p.realized_budget for p in curve]
    if xs[-1] == xs[0]:
        return sum(ys) / len(ys)
    area = sum((xs[i + 1] - xs[i]) * (ys[i] + ys[i + 1]) / 2 for i in range(len(xs) - 1))
    return area / (xs[-1] - xs[0])


def share_for_pgr(curve: Sequence[CurvePoint], weak: float, strong: float,
                  level: float) -> float | None:
    """Smallest realized strong-call share (linearly interpolated) at which PGR reaches ``level``.

    >>> pts = [CurvePoint(b, b, 0.5 + 0.5 * b, 0, 1) for b in (0.0, 0.5, 1.0)]
    >>> share_for_pgr(pts, 0.5, 1.0, 0.8)
    0.8
    """
    previous: tuple[float, float] | None = None
    for p in curve:
        value = pgr(p.mean, weak, strong)
        if value is None:
            return None
        if value >= level - 1e-12:
            if previous is None or value == previous[1]:
                return p.realized_budget
            x0, y0 = previous
            return x0 + (level - y0) * (p.realized_budget - x0) / (value - y0)
        previous = (p.realized_budget, value)
    return None


# --------------------------------------------------------------------------- intervals


def _interval(leaf: Any) -> Interval:
    """``[low, high]`` of two finite numbers -> tuple; anything else (null, missing) -> None."""
    if isinstance(leaf, (list, tuple)) and len(leaf) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in leaf):
        return (float(leaf[0]), float(leaf[1]))
    return None


def _walk(tree: Any, path: Sequence[str | int]) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(tree, list) or not 0 <= step < len(tree):
                return None
        elif not isinstance(tree, Mapping) or step not in tree:
            return None
        tree = tree[step]
    return tree


def summary_interval(result: Result, *path: str | int) -> Interval:
    """The interval of ``summary.<path>`` from ``summary.ci`` (same nesting), or None."""
    return _interval(_walk(result.summary_ci, path))


def _budget_index(result: Result, metric: str, method: str, budget: float) -> int | None:
    """Index of ``budget`` in the per-budget list ``summary.<metric>.<method>``."""
    entries = _walk(result.raw.get("summary"), (metric, method))
    if not isinstance(entries, list):
        return None
    return next((i for i, e in enumerate(entries)
                 if isinstance(e, Mapping) and e.get("budget") == budget), None)


def budget_interval(result: Result, metric: str, method: str, budget: float, leaf: str) -> Interval:
    """The interval of ``summary.<metric>.<method>[budget].<leaf>`` (e.g. a gain at B)."""
    index = _budget_index(result, metric, method, budget)
    return None if index is None else summary_interval(result, metric, method, index, leaf)


def _curve_interval(point: CurvePoint) -> Interval:
    if point.ci_low is None or point.ci_high is None:
        return None
    return (point.ci_low, point.ci_high)


# --------------------------------------------------------------------------- table builders


def _point_at(curve: Sequence[CurvePoint], budget: float) -> CurvePoint:
    return next(p for p in curve if p.budget == budget)


RANK_COLUMN = Column("rank", "#", "rank", "rank by the headline metric (submissions only)")
SUBMISSION_COLUMN = Column("submission", "submission", "text", "submission name, or a reference row")
MARK_COLUMNS: tuple[Column, ...] = (
    Column("vs_baseline", "vs baseline", "text",
           "paired bootstrap difference of the headline metric against the baseline on the same "
           "resampled queries: better / worse when its 95 % interval excludes 0, else n.s.; "
           "p = share of replicates with difference <= 0"),
    Column("vs_above", "vs row above", "text",
           "the same paired test against the submission ranked just above"),
)


def allocation_columns(group: Group) -> tuple[Column, ...]:
    """Columns of the allocation table: rank, submission, headline, marks, then the rest."""
    refs = reference_budgets(group.key.setting, group.key.budgets)
    head = HEADLINE[group.key.setting]
    base = group.baseline
    cols = [RANK_COLUMN, SUBMISSION_COLUMN, Column(head.key, head.label, "stat" if
            group.key.setting == "routing" else "reward", head.meaning), *MARK_COLUMNS]
    if group.key.setting == "best_of_k":
        for b in refs:
            s = format_budget(b)
            cols += [
                Column(f"reward_at_{s}", f"reward@{s}", "reward",
                       f"mean reward of the online allocation at B={s} samples/query"),
                Column(f"saved_online_at_{s}", f"saved@{s} online %", "pct",
                       f"compute saved at matched quality, online: 100*(1-B'/B) at B={s}"),
                Column(f"saved_offline_at_{s}", f"saved@{s} offline %", "pct",
                       f"compute saved at matched quality, offline allocation, B={s}"),
                Column(f"gain_online_at_{s}", f"gain@{s}", "reward",
                       f"quality gain of online over uniform at B={s}"),
            ]
    else:
        cols += [
            Column("apgr_offline", "APGR offline", "stat", "area under the PGR curve, offline"),
            Column("share_pgr50_online", "share@50% PGR", "share",
                   "smallest strong-call share reaching 50 % PGR, online"),
            Column("share_pgr80_online", "share@80% PGR", "share",
                   "smallest strong-call share reaching 80 % PGR, online"),
        ]
        for b in refs:
            s = format_budget(b)
            cols += [
                Column(f"reward_at_{s}", f"reward@{s}", "reward",
                       f"mean reward of the online routing at strong share {s}"),
                Column(f"gain_online_at_{s}", f"gain@{s}", "reward",
                       f"quality gain of online over random routing at strong share {s}"),
            ]
        cols.append(Column("abc_online", "ABC online", "reward",
                           f"area between the online and {base} curves"))
    cols.append(Column("abc_offline", "ABC offline", "reward",
                       f"area between the offline and {base} curves"))
    return tuple(cols)


class _Cells:
    """Collects a row's values and intervals (None interval: not stored in this file)."""

    def __init__(self) -> None:
        self.values: dict[str, Value] = {}
        self.intervals: dict[str, Interval] = {}

    def put(self, key: str, value: Value, interval: Interval = None, *, exact: bool = False) -> None:
        """``exact``: the value has no uncertainty (0 by definition): no interval shown."""
        self.values[key] = value
        if not exact:
            self.intervals[key] = interval


def _method_cells(cells: _Cells, result: Result, method: str, refs: Sequence[float],
                  suffix: str = "online", with_offline: bool = True) -> None:
    """Summary columns of one adaptive method (``online`` for submissions, ``oracle``)."""
    s = result.summary
    curve = result.curves[method]
    for b in refs:
        k = format_budget(b)
        point = _point_at(curve, b)
        cells.put(f"reward_at_{k}", point.mean, _curve_interval(point))
        cells.put(f"gain_{suffix}_at_{k}", s.quality_gain[method].get(b),
                  budget_interval(result, "quality_gain", method, b, "gain"))
        if result.setting == "best_of_k":
            methods = [(method, suffix)] + ([("offline", "offline")] if with_offline else [])
            for m, col in methods:
                saved = s.compute_saved[m].get(b)
                cells.put(f"saved_{col}_at_{k}", saved.saving_pct if saved else None,
                          budget_interval(result, "compute_saved", m, b, "saving_pct"))
    cells.put("abc_online", s.area_between_curves[method],
              summary_interval(result, "area_between_curves", method))
    if with_offline:
        cells.put("abc_offline", s.area_between_curves["offline"],
                  summary_interval(result, "area_between_curves", "offline"))
    if result.setting == "routing":
        cells.put("apgr_online", s.apgr[method], summary_interval(result, "apgr", method))
        for level in ("50", "80"):
            cells.put(f"share_pgr{level}_online", s.strong_share_for_pgr[method][level],
                      summary_interval(result, "strong_share_for_pgr", method, level))
        if with_offline:
            cells.put("apgr_offline", s.apgr["offline"], summary_interval(result, "apgr", "offline"))


def _oracle_row(group: Group, refs: Sequence[float]) -> Row:
    """The oracle fills the online columns: it is the online allocation with true marginals."""
    cells = _Cells()
    cells.put("submission", "oracle", exact=True)
    _method_cells(cells, group.results[0], "oracle", refs, with_offline=False)
    return Row("oracle", True, cells.values, cells.intervals)


def _baseline_row(group: Group, refs: Sequence[float]) -> Row:
    """``uniform``/``random``: zero gain, saving and area by definition; reward from its curve."""
    first = group.results[0]
    curve = first.curves[group.baseline]
    cells = _Cells()
    cells.put("submission", group.baseline, exact=True)
    cells.put("abc_online", 0.0, exact=True)
    for b in refs:
        k = format_budget(b)
        point = _point_at(curve, b)
        cells.put(f"reward_at_{k}", point.mean, _curve_interval(point))
        cells.put(f"gain_online_at_{k}", 0.0, exact=True)
        if group.key.setting == "best_of_k":
            cells.put(f"saved_online_at_{k}", 0.0, exact=True)
    if group.key.setting == "routing":
        s = first.summary
        if "random" in s.apgr:  # stored by the scorer: shown as is
            cells.put("apgr_online", s.apgr["random"], summary_interval(first, "apgr", "random"))
            for level in ("50", "80"):
                cells.put(f"share_pgr{level}_online", s.strong_share_for_pgr["random"][level],
                          summary_interval(first, "strong_share_for_pgr", "random", level))
        else:  # not part of the documented format: summarised from the curve
            assert s.weak_mean is not None and s.strong_mean is not None  # routing has both
            cells.put("apgr_online", pgr_area(curve, s.weak_mean, s.strong_mean))
            cells.put("share_pgr50_online", share_for_pgr(curve, s.weak_mean, s.strong_mean, 0.5))
            cells.put("share_pgr80_online", share_for_pgr(curve, s.weak_mean, s.strong_mean, 0.8))
    return Row(group.baseline, True, cells.values, cells.intervals)


def headline_value(result: Result) -> float | None:
    """The value a result is ranked by (see :data:`HEADLINE`)."""
    s = result.summary
    return s.apgr.get("online") if result.setting == "routing" else s.area_between_curves["online"]


def ranked_results(group: Group) -> tuple[Result, ...]:
    """The group's results, best headline value first (missing last, ties by name)."""
    def key(r: Result) -> tuple[bool, float, str]:
        value = headline_value(r)
        return (value is None, -(value if value is not None else 0.0), r.submission)
    return tuple(sorted(group.results, key=key))


def _mark(stat: Paired | None) -> str:
    """``better (+0.041, p=0.002)``; ``—`` when no paired comparison is available."""
    if stat is None:
        return MISSING
    p = "" if stat.p_le_0 is None else f", p={stat.p_le_0:.3f}"
    return f"{stat.verdict} ({signed_difference(stat.diff)}{p})"


def signed_difference(diff: float) -> str:
    """A paired difference with its sign: 3 decimals, or 2 significant digits if those read 0.

    A significant difference smaller than 0.0005 (5,000 test queries resolve that) would
    otherwise read ``worse (+0.000, ...)``; a difference within the tie tolerance of 0 (float
    noise of the same method on both sides) reads ``+0.000`` whatever its sign.

    >>> signed_difference(0.0412), signed_difference(-0.00046256), signed_difference(-7e-19)
    ('+0.041', '-0.00046', '+0.000')
    """
    if abs(diff) <= TIE_TOLERANCE:
        return "+0.000"
    text = f"{diff:+.3f}"
    return f"{diff:+.2g}" if text in ("+0.000", "-0.000") else text


@dataclass(frozen=True)
class RankedRow:
    """A submission's place in its group and its two paired marks (None: unavailable)."""

    result: Result
    rank: int
    vs_baseline: Paired | None
    vs_above: Paired | None


def ranking(group: Group) -> tuple[RankedRow, ...]:
    """Rank the group's results and attach the paired marks of the headline metric."""
    metric = HEADLINE[group.key.setting].metric
    rows = []
    ranked = ranked_results(group)
    for i, result in enumerate(ranked):
        base = paired_comparison(result.raw, None)
        above = paired_comparison(result.raw, ranked[i - 1].raw) if i > 0 else None
        rows.append(RankedRow(result, i + 1, (base or {}).get(metric), (above or {}).get(metric)))
    return tuple(rows)


def _submission_allocation_row(ranked: RankedRow, refs: Sequence[float]) -> Row:
    result = ranked.result
    cells = _Cells()
    cells.put("rank", float(ranked.rank), exact=True)
    cells.put("submission", result.submission, exact=True)
    cells.put("vs_baseline", _mark(ranked.vs_baseline), exact=True)
    cells.put("vs_above", MISSING if ranked.rank == 1 else _mark(ranked.vs_above), exact=True)
    _method_cells(cells, result, "online", refs)
    return Row(result.submission, False, cells.values, cells.intervals)


def allocation_table(group: Group) -> Table:
    """Submissions ranked by the headline metric, then the ``oracle`` and baseline rows."""
    refs = reference_budgets(group.key.setting, group.key.budgets)
    rows = [_submission_allocation_row(r, refs) for r in ranking(group)]
    rows += [_oracle_row(group, refs), _baseline_row(group, refs)]
    title = "Allocation: compute saved and quality gain" if group.key.setting == "best_of_k" \
        else "Routing: gap recovered and quality gain"
    return Table(title, allocation_columns(group), tuple(rows))


PREDICTOR_COLUMNS: tuple[Column, ...] = (
    Column("submission", "submission", "text", "submission name"),
    Column("loss_name", "loss fn", "text", "cross_entropy (Eq. 7) or mse (Eq. 6)"),
    Column("loss", "loss", "loss", "the predictor's test loss"),
    Column("loss_avg", "Avg", "loss", "loss of the constant train-mean predictor"),
    Column("loss_opt", "Opt", "loss", "loss of a perfect predictor (soft-label floor)"),
    Column("median_accuracy", "median acc", "stat", "above/below-median agreement"),
    Column("spearman", "Spearman", "stat", "rank correlation of prediction and target"),
    Column("ece", "ECE", "stat", "expected calibration error (10 equal-width bins)"),
)
_INTRINSIC_NUMBERS = ("loss", "loss_avg", "loss_opt", "median_accuracy", "spearman", "ece")


def predictor_table(group: Group) -> Table:
    """Intrinsic predictor quality (the paper's Table 1), rows in the allocation table's order;
    intervals from ``intrinsic.ci`` where a result stores it."""
    rows = []
    for result in ranked_results(group):
        i = result.intrinsic
        cells = _Cells()
        cells.put("submission", result.submission, exact=True)
        cells.put("loss_name", i.loss_name, exact=True)
        for key in _INTRINSIC_NUMBERS:
            cells.put(key, getattr(i, key), _interval(_walk(result.intrinsic_ci, (key,))))
        rows.append(Row(result.submission, False, cells.values, cells.intervals))
    return Table("Predictor quality (intrinsic, test split)", PREDICTOR_COLUMNS, tuple(rows))


def group_tables(group: Group) -> tuple[Table, Table]:
    """The allocation and predictor tables of one group."""
    return allocation_table(group), predictor_table(group)


# --------------------------------------------------------------------------- group header


def decoders_text(group: Group) -> str:
    """``weak → strong`` (routing), the decoder (best-of-k), or "the bank's defaults"."""
    if not group.key.decoders:
        return "the bank's defaults"
    return " → ".join(group.key.decoders)


def group_title(group: Group) -> str:
    """``task / bank`` heading of a group, with decoders and train bank when they matter."""
    title = f"{group.key.task} / {group.key.bank}"
    if group.key.decoders:
        title += f" [{decoders_text(group)}]"
    if group.key.train_bank:
        title += f" (trained on {group.key.train_bank})"
    return title


def group_header(group: Group) -> list[tuple[str, str]]:
    """(label, value) pairs identifying a group: what must agree for rows to be comparable."""
    k = group.key
    return [
        ("task", k.task), ("bank", k.bank), ("bank sha256", k.bank_sha256[:12]),
        ("setting", k.setting), ("decoders", decoders_text(group)),
        ("train bank", k.train_bank or "the scored bank"), ("reward", k.reward), ("split", k.split),
        ("n_queries", str(k.n_queries)), ("bootstrap", str(k.bootstrap)), ("seed", str(k.seed)),
        ("harness", k.harness_version), ("signature", k.signature),
    ] + ([("offline", k.offline_options)] if k.offline_options else [])


def group_size(group: Group) -> str:
    """One sentence: how big the section's test split is and which decoders it uses."""
    k = group.key
    role = "weak → strong" if k.setting == "routing" else "sampled"
    return (f"{k.n_queries} test queries; decoders ({role}): {decoders_text(group)}; "
            f"{len(group.results)} submission(s); ranked by {HEADLINE[k.setting].label} "
            f"(higher is better), 95 % bootstrap intervals over test queries "
            f"({k.bootstrap} replicates, seed {k.seed}).")


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def group_warnings(group: Group) -> list[str]:
    """Reasons the section's ranking may not be supported by its data (empty: none found).

    - fewer than :data:`MIN_QUERIES_TO_RANK` test queries;
    - the headline's 95 % interval (median width over the rows) is wider than the spread
      (max - min) of the rows' headline values;
    - no stored intervals (format v1): the ranking cannot be checked against its uncertainty.
    """
    k = group.key
    head = HEADLINE[k.setting]
    warnings = []
    if k.n_queries < MIN_QUERIES_TO_RANK:
        warnings.append(f"Too small to rank: only {k.n_queries} test queries "
                        f"(fewer than {MIN_QUERIES_TO_RANK}); read the rows as a smoke test.")
    values = [v for v in (headline_value(r) for r in group.results) if v is not None]
    widths = [iv[1] - iv[0] for iv in (summary_interval(r, head.metric, "online")
                                        for r in group.results) if iv is not None]
    if len(values) >= 2 and widths:
        spread, width = max(values) - min(values), _median(widths)
        if width > spread:
            warnings.append(f"Too noisy to rank: the {head.label} interval (median width "
                            f"{width:.3f}) is wider than the spread of the rows' values "
                            f"({spread:.3f}); the order of the rows is not supported by the data.")
    if any(not r.has_intervals for r in group.results):
        old = sorted(r.submission for r in group.results if not r.has_intervals)
        warnings.append("No intervals for summary numbers of " + ", ".join(old) +
                        " (result format v1; shown as [—]): rerun `bench run` to get them; "
                        "the ranking cannot be checked against its uncertainty. "
                        "Paired marks need format v2 (— = unavailable).")
    return warnings


# --------------------------------------------------------------------------- markdown / text / csv


def _md_escape(text: str) -> str:
    """Make user text inert in a Markdown table cell: no HTML, no column breaks."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\\", "\\\\").replace("|", "\\|").replace("\n", " "))


def _md_code(text: str) -> str:
    """A Markdown code span holding ``text`` verbatim (HTML and ``|`` are inert inside it).

    >>> _md_code("a`b")
    '``a`b``'
    """
    text = text.replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def table_cells(table: Table) -> list[list[str]]:
    """Display strings of every cell (values with intervals), row by row."""
    return [[format_cell(row.values.get(c.key), c.kind, row.intervals.get(c.key),
                         c.key in row.intervals) for c in table.columns] for row in table.rows]


def table_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table (``tabulate``, pipe format with column alignment);
    reference rows in italics; user text escaped."""
    body = []
    for row, cells in zip(table.rows, table_cells(table)):
        cells = [_md_escape(cell) for cell in cells]
        if row.is_reference:
            name = table.columns.index(next(c for c in table.columns if c.key == "submission"))
            cells[name] = f"*{cells[name]}*"
        body.append(cells)
    return tabulate(body, headers=[_md_escape(c.label) for c in table.columns], tablefmt="pipe",
                    colalign=[("left" if c.kind == "text" else "right") for c in table.columns],
                    disable_numparse=True)


def table_text(table: Table, keys: Sequence[str] | None = None) -> str:
    """A plain-text table (``tabulate``, simple format) of the columns ``keys`` (default: all)."""
    columns = [c for c in table.columns if keys is None or c.key in keys]
    full = table_cells(table)
    index = [table.columns.index(c) for c in columns]
    body = [[cells[i] for i in index] for cells in full]
    return tabulate(body, headers=[c.label for c in columns], tablefmt="simple",
                    colalign=[("left" if c.kind == "text" else "right") for c in columns],
                    disable_numparse=True)


def transfer_groups(groups: Sequence[Group]) -> list[Group]:
    """Groups whose predictor was trained on another bank (``train_bank`` set)."""
    return [g for g in groups if g.key.is_transfer]


def _markdown_section(group: Group) -> list[str]:
    out = [f"## {_md_escape(group_title(group))}", "", _md_escape(group_size(group)), ""]
    out += [f"> **Warning.** {_md_escape(w)}" + "\n" for w in group_warnings(group)]
    out += [", ".join(f"{label}: {_md_code(value)}" for label, value in group_header(group)), ""]
    for table in group_tables(group):
        out += [f"### {table.title}", "", table_markdown(table), ""]
    out += [f"Plots: `plots/{group.key.slug()}-reward.png` (one panel per submission against "
            f"the {group.baseline} baseline and the oracle) and per-submission calibration / "
            "allocation plots in `plots/`.", ""]
    return out


def render_markdown(groups: Sequence[Group], harness_version: str) -> str:
    """The whole ``LEADERBOARD.md``: one section per group, then the transfer sections."""
    out = [
        "# hardbench leaderboard",
        "",
        f"Generated by `bench leaderboard` (hardbench {harness_version}) from the result files "
        "under `results/`; see `docs/leaderboard.md` for what each column means. "
        "Rows are comparable only within one section; they are ranked by the headline metric "
        "(APGR online for routing, ABC online for best-of-k), numbers in brackets are 95 % "
        "bootstrap intervals, and the marks compare each row with the baseline and with the "
        "row above on the same resampled queries.",
        "",
    ]
    for group in groups:
        if not group.key.is_transfer:
            out += _markdown_section(group)
    out += ["# Transfer: predictors trained on another bank", ""]
    transfer = transfer_groups(groups)
    if not transfer:
        out += ["None yet: no result was scored with `bench run --train-bank`.", ""]
    for group in transfer:
        out += _markdown_section(group)
    return "\n".join(out).rstrip("\n") + "\n"


def render_text(groups: Sequence[Group]) -> str:
    """A plain-text summary for the terminal: each section's ranking with intervals and marks."""
    out = []
    for group in groups:
        head = HEADLINE[group.key.setting]
        out += [group_title(group), "  " + group_size(group)]
        out += [f"  WARNING: {w}" for w in group_warnings(group)]
        table = allocation_table(group)
        out += [table_text(table, ("rank", "submission", head.key, "vs_baseline", "vs_above")), ""]
    return "\n".join(out)


CSV_KEY_COLUMNS: tuple[str, ...] = (
    "task", "bank", "bank_sha256", "setting", "decoders", "train_bank", "reward", "split",
    "n_queries", "bootstrap", "seed", "harness_version", "offline", "signature", "row", "row_kind",
)


def render_csv(groups: Sequence[Group]) -> str:
    """All groups in one CSV: key columns, then the union of metric columns in first-seen
    order, each number followed by ``<key>_ci_low`` and ``<key>_ci_high`` where it has one."""
    metric_keys: list[str] = []
    records: list[dict[str, str]] = []
    for group in groups:
        k = group.key
        base = {"task": k.task, "bank": k.bank, "bank_sha256": k.bank_sha256,
                "setting": k.setting, "decoders": " ".join(k.decoders), "train_bank": k.train_bank,
                "reward": k.reward, "split": k.split,
                "n_queries": str(k.n_queries), "bootstrap": str(k.bootstrap),
                "seed": str(k.seed), "harness_version": k.harness_version,
                "offline": k.offline_options, "signature": k.signature}
        alloc, pred = group_tables(group)
        pred_rows = {r.name: r for r in pred.rows}
        for row in alloc.rows:
            record = dict(base, row=row.name, row_kind="reference" if row.is_reference else "submission")
            values, intervals = dict(row.values), dict(row.intervals)
            if row.name in pred_rows and not row.is_reference:
                values.update(pred_rows[row.name].values)
                intervals.update(pred_rows[row.name].intervals)
            for col in alloc.columns + pred.columns:
                if col.key == "submission":
                    continue
                keys = [col.key] + ([f"{col.key}_ci_low", f"{col.key}_ci_high"]
                                    if col.kind != "text" else [])
                for key in keys:
                    if key not in metric_keys:
                        metric_keys.append(key)
                record[col.key] = format_csv_value(values.get(col.key))
                interval = intervals.get(col.key)
                if col.kind != "text" and interval is not None:
                    record[f"{col.key}_ci_low"] = format_csv_value(interval[0])
                    record[f"{col.key}_ci_high"] = format_csv_value(interval[1])
            records.append(record)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_KEY_COLUMNS) + metric_keys,
                            lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()
