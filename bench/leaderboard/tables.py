"""Leaderboard tables: one allocation table and one predictor table per group, as Markdown and CSV.

A :class:`Table` is plain data (columns, rows of values); :mod:`bench.leaderboard.site` renders
the same objects as sortable HTML.  The numbers are read from the result files' ``summary`` and
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
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bench.leaderboard.collect import CurvePoint, Group, Result

#: how a column's values are displayed: decimals in Markdown/HTML (CSV keeps 6 significant)
ColumnKind = Literal["text", "reward", "pct", "share", "loss", "stat"]
DECIMALS: dict[str, int] = {"reward": 3, "pct": 1, "share": 3, "loss": 4, "stat": 3}
#: preferred reference budgets, used when at least two of them are on the grid
PREFERRED_BUDGETS: dict[str, tuple[float, ...]] = {
    "best_of_k": (4.0, 8.0, 16.0),
    "routing": (0.2, 0.5, 0.8),
}
MISSING = "—"

Value = float | str | None


@dataclass(frozen=True)
class Column:
    """One table column: CSV key, display label, value kind and a one-line meaning."""

    key: str
    label: str
    kind: ColumnKind
    help: str


@dataclass(frozen=True)
class Row:
    """One row: a submission, or a reference (``oracle``, ``uniform``, ``random``)."""

    name: str
    is_reference: bool
    values: dict[str, Value]


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


# --------------------------------------------------------------------------- table builders


def _point_at(curve: Sequence[CurvePoint], budget: float) -> CurvePoint:
    return next(p for p in curve if p.budget == budget)


def allocation_columns(group: Group) -> tuple[Column, ...]:
    """Columns of the allocation table of a group (depends on setting and reference budgets)."""
    refs = reference_budgets(group.key.setting, group.key.budgets)
    cols = [Column("submission", "submission", "text", "submission name, or a reference row")]
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
            Column("apgr_online", "APGR online", "stat", "area under the PGR curve, online"),
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
    base = group.baseline
    cols += [
        Column("abc_online", "ABC online", "reward", f"area between the online and {base} curves"),
        Column("abc_offline", "ABC offline", "reward", f"area between the offline and {base} curves"),
    ]
    return tuple(cols)


def _best_of_k_values(result: Result, refs: Sequence[float]) -> dict[str, Value]:
    values: dict[str, Value] = {}
    s = result.summary
    for b in refs:
        k = format_budget(b)
        values[f"reward_at_{k}"] = _point_at(result.curves["online"], b).mean
        for m in ("online", "offline"):
            point = s.compute_saved[m].get(b)
            values[f"saved_{m}_at_{k}"] = point.saving_pct if point else None
        values[f"gain_online_at_{k}"] = s.quality_gain["online"].get(b)
    return values


def _routing_values(result: Result, refs: Sequence[float]) -> dict[str, Value]:
    s = result.summary
    values: dict[str, Value] = {
        "apgr_online": s.apgr["online"], "apgr_offline": s.apgr["offline"],
        "share_pgr50_online": s.strong_share_for_pgr["online"]["50"],
        "share_pgr80_online": s.strong_share_for_pgr["online"]["80"],
    }
    for b in refs:
        k = format_budget(b)
        values[f"reward_at_{k}"] = _point_at(result.curves["online"], b).mean
        values[f"gain_online_at_{k}"] = s.quality_gain["online"].get(b)
    return values


def _submission_allocation_row(result: Result, refs: Sequence[float]) -> Row:
    if result.setting == "best_of_k":
        values = _best_of_k_values(result, refs)
    else:
        values = _routing_values(result, refs)
    values["submission"] = result.submission
    values["abc_online"] = result.summary.area_between_curves["online"]
    values["abc_offline"] = result.summary.area_between_curves["offline"]
    return Row(result.submission, False, values)


def _oracle_row(group: Group, refs: Sequence[float]) -> Row:
    """The oracle fills the online columns: it is the online allocation with true marginals."""
    first = group.results[0]
    s = first.summary
    values: dict[str, Value] = {"submission": "oracle", "abc_online": s.area_between_curves["oracle"]}
    for b in refs:
        k = format_budget(b)
        values[f"reward_at_{k}"] = _point_at(first.curves["oracle"], b).mean
        values[f"gain_online_at_{k}"] = s.quality_gain["oracle"].get(b)
        if group.key.setting == "best_of_k":
            point = s.compute_saved["oracle"].get(b)
            values[f"saved_online_at_{k}"] = point.saving_pct if point else None
    if group.key.setting == "routing":
        values["apgr_online"] = s.apgr["oracle"]
        values["share_pgr50_online"] = s.strong_share_for_pgr["oracle"]["50"]
        values["share_pgr80_online"] = s.strong_share_for_pgr["oracle"]["80"]
    return Row("oracle", True, values)


def _baseline_row(group: Group, refs: Sequence[float]) -> Row:
    """``uniform``/``random``: zero gain, saving and area by definition; reward from its curve."""
    first = group.results[0]
    curve = first.curves[group.baseline]
    values: dict[str, Value] = {"submission": group.baseline, "abc_online": 0.0}
    for b in refs:
        k = format_budget(b)
        values[f"reward_at_{k}"] = _point_at(curve, b).mean
        values[f"gain_online_at_{k}"] = 0.0
        if group.key.setting == "best_of_k":
            values[f"saved_online_at_{k}"] = 0.0
    if group.key.setting == "routing":
        s = first.summary
        if "random" in s.apgr:  # stored by the scorer: shown as is
            values["apgr_online"] = s.apgr["random"]
            values["share_pgr50_online"] = s.strong_share_for_pgr["random"]["50"]
            values["share_pgr80_online"] = s.strong_share_for_pgr["random"]["80"]
        else:  # not part of the documented format: summarised from the curve
            assert s.weak_mean is not None and s.strong_mean is not None  # routing has both
            values["apgr_online"] = pgr_area(curve, s.weak_mean, s.strong_mean)
            values["share_pgr50_online"] = share_for_pgr(curve, s.weak_mean, s.strong_mean, 0.5)
            values["share_pgr80_online"] = share_for_pgr(curve, s.weak_mean, s.strong_mean, 0.8)
    return Row(group.baseline, True, values)


def allocation_table(group: Group) -> Table:
    """Submissions (sorted by name), then the ``oracle`` and baseline rows for scale."""
    refs = reference_budgets(group.key.setting, group.key.budgets)
    rows = [_submission_allocation_row(r, refs) for r in group.results]
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


def predictor_table(group: Group) -> Table:
    """Intrinsic predictor quality (the paper's Table 1), one row per submission."""
    rows = []
    for r in group.results:
        i = r.intrinsic
        rows.append(Row(r.submission, False, {
            "submission": r.submission, "loss_name": i.loss_name, "loss": i.loss,
            "loss_avg": i.loss_avg, "loss_opt": i.loss_opt, "median_accuracy": i.median_accuracy,
            "spearman": i.spearman, "ece": i.ece}))
    return Table("Predictor quality (intrinsic, test split)", PREDICTOR_COLUMNS, tuple(rows))


def group_tables(group: Group) -> tuple[Table, Table]:
    """The allocation and predictor tables of one group."""
    return allocation_table(group), predictor_table(group)


# --------------------------------------------------------------------------- group header


def group_title(group: Group) -> str:
    """``task / bank`` heading of a group."""
    return f"{group.key.task} / {group.key.bank}"


def group_header(group: Group) -> list[tuple[str, str]]:
    """(label, value) pairs identifying a group: what must agree for rows to be comparable."""
    k = group.key
    return [
        ("task", k.task), ("bank", k.bank), ("bank sha256", k.bank_sha256[:12]),
        ("setting", k.setting), ("reward", k.reward), ("split", k.split),
        ("n_queries", str(k.n_queries)), ("bootstrap", str(k.bootstrap)), ("seed", str(k.seed)),
        ("harness", k.harness_version), ("signature", k.signature),
    ] + ([("offline", k.offline_options)] if k.offline_options else [])


# --------------------------------------------------------------------------- markdown / csv


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


def table_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table; reference rows in italics."""
    head = "| " + " | ".join(_md_escape(c.label) for c in table.columns) + " |"
    rule = "|" + "|".join("---" if c.kind == "text" else "---:" for c in table.columns) + "|"
    lines = [head, rule]
    for row in table.rows:
        cells = [_md_escape(format_value(row.values.get(c.key), c.kind)) for c in table.columns]
        if row.is_reference:
            cells[0] = f"*{cells[0]}*"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(groups: Sequence[Group], harness_version: str) -> str:
    """The whole ``LEADERBOARD.md``: one section per group, two tables each."""
    out = [
        "# hardbench leaderboard",
        "",
        f"Generated by `bench leaderboard` (hardbench {harness_version}) from the result files "
        "under `results/`; see `docs/leaderboard.md` for what each column means. "
        "Rows are comparable only within one section.",
        "",
    ]
    for group in groups:
        out += [f"## {_md_escape(group_title(group))}", ""]
        out += [", ".join(f"{label}: {_md_code(value)}" for label, value in group_header(group)),
                ""]
        for table in group_tables(group):
            out += [f"### {table.title}", "", table_markdown(table), ""]
        out += [f"Plots: `plots/{group.key.slug()}-reward.png` and per-submission "
                "calibration / allocation plots in `plots/`.", ""]
    return "\n".join(out).rstrip("\n") + "\n"


CSV_KEY_COLUMNS: tuple[str, ...] = (
    "task", "bank", "bank_sha256", "setting", "reward", "split", "n_queries", "bootstrap", "seed",
    "harness_version", "offline", "signature", "row", "row_kind",
)


def render_csv(groups: Sequence[Group]) -> str:
    """All groups in one CSV: key columns, then the union of metric columns in first-seen order."""
    metric_keys: list[str] = []
    records: list[dict[str, str]] = []
    for group in groups:
        k = group.key
        base = {"task": k.task, "bank": k.bank, "bank_sha256": k.bank_sha256,
                "setting": k.setting, "reward": k.reward, "split": k.split,
                "n_queries": str(k.n_queries), "bootstrap": str(k.bootstrap),
                "seed": str(k.seed), "harness_version": k.harness_version,
                "offline": k.offline_options, "signature": k.signature}
        alloc, pred = group_tables(group)
        pred_rows = {r.name: r for r in pred.rows}
        for row in alloc.rows:
            record = dict(base, row=row.name, row_kind="reference" if row.is_reference else "submission")
            merged = dict(row.values)
            if row.name in pred_rows and not row.is_reference:
                merged.update(pred_rows[row.name].values)
            for col in alloc.columns + pred.columns:
                if col.key == "submission":
                    continue
                if col.key not in metric_keys:
                    metric_keys.append(col.key)
                record[col.key] = format_csv_value(merged.get(col.key))
            records.append(record)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_KEY_COLUMNS) + metric_keys,
                            lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()
