"""Leaderboard plots (matplotlib, Agg): reward vs budget, calibration, allocation by bin.

Figures are built with :class:`matplotlib.figure.Figure` and an Agg canvas directly, so this
module never touches pyplot's global state or the user's backend.  PNGs are written without the
``Software`` metadata key and with fixed DPI, size and style, so rerunning on the same
matplotlib version reproduces them byte for byte (matplotlib writes no date into PNGs).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.fileio import atomic_write_bytes
from bench.leaderboard.collect import CurvePoint, Group, Result, slugify
from bench.leaderboard.tables import HEADLINE, format_value, headline_value, ranked_results

#: fixed style: everything that could otherwise come from a user's matplotlibrc
STYLE: dict[Any, Any] = {  # Any: matplotlib types rc keys as a Literal
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.axisbelow": True,
    "svg.hashsalt": "hardbench",
    # submission names are user input: never interpret "$...$" in them as mathtext
    "text.parse_math": False,
    "path.simplify": True,
}
DPI = 110
#: colours for submissions, in submission-name order (tab10 then tab20 for many submissions)
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
    "#dbdb8d", "#9edae5",
)
BIN_COLORS: tuple[str, ...] = ("#9ecae1", "#4292c6", "#08306b")
BAND_ALPHA = 0.15


def save_png(fig: Figure, path: Path) -> Path:
    """Render ``fig`` to PNG bytes without version metadata and write them atomically."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _band(ax: Axes, curve: Sequence[CurvePoint], color: str, style: str, label: str,
          width: float = 1.4, alpha: float = BAND_ALPHA, marker: str | None = "o") -> None:
    """One curve (mean, with markers) and its bootstrap interval as a translucent band (no
    band where the result stores no interval).  On a log axis, points at budget 0 are left out."""
    if ax.get_xscale() == "log":
        curve = [p for p in curve if p.realized_budget > 0]
    xs = [p.realized_budget for p in curve]
    ax.plot(xs, [p.mean for p in curve], linestyle=style, color=color, label=label,
            linewidth=width, marker=marker, markersize=2.5)
    if all(p.ci_low is not None and p.ci_high is not None for p in curve):
        ax.fill_between(xs, [p.ci_low for p in curve], [p.ci_high for p in curve],  # type: ignore[misc]
                        color=color, alpha=alpha, linewidth=0)


#: small-multiple layout: at most this many panels per row
PANEL_COLUMNS = 3
PANEL_SIZE = (3.3, 2.6)  # inches per panel
SUBMISSION_COLOR = "#1f77b4"
ORACLE_COLOR = "#7f7f7f"
BASELINE_COLOR = "#000000"


def _log_budgets(group: Group) -> bool:
    """Best-of-k budgets go on a log2 axis (budget 0, the default reward, is then not drawn)."""
    return group.key.setting == "best_of_k" and any(b > 0 for b in group.key.budgets)


def _budget_axis(ax: Axes, group: Group) -> None:
    """Best-of-k: budget on a log2 axis, ticks at the powers of two of the grid; routing: linear."""
    if _log_budgets(group):
        ax.set_xscale("log", base=2)
        positive = [b for b in group.key.budgets if b > 0]
        ticks = [b for b in positive if float(b).is_integer() and (int(b) & (int(b) - 1)) == 0]
        ticks = ticks or positive
        ax.set_xticks(ticks, [f"{b:g}" for b in ticks])
        ax.minorticks_off()


def reward_curve_plot(group: Group, path: Path) -> Path:
    """Small multiples: one panel per submission (ranked as in the table), each with its online
    (solid) and offline (dashed) curves and bootstrap bands against the baseline (black) and the
    oracle (grey, dotted); shared axes; x = realized budget (log2 for best-of-k)."""
    results = ranked_results(group)
    ncols = min(PANEL_COLUMNS, len(results))
    nrows = -(-len(results) // ncols)
    head = HEADLINE[group.key.setting]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(PANEL_SIZE[0] * ncols + 0.4, PANEL_SIZE[1] * nrows + 0.9))
        axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
        for i, result in enumerate(results):
            ax = axes[i // ncols][i % ncols]
            _budget_axis(ax, group)
            # the oracle as a line only: three overlapping bands would hide each other
            _band(ax, group.reference_curve("oracle"), ORACLE_COLOR, ":", "oracle", 1.4, 0.0, None)
            _band(ax, group.reference_curve(group.baseline), BASELINE_COLOR, "-", group.baseline,
                  1.2, 0.12, None)
            _band(ax, result.curves["offline"], SUBMISSION_COLOR, "--", "offline", 1.0, 0.0, None)
            _band(ax, result.curves["online"], SUBMISSION_COLOR, "-", "online", 1.6, 0.22)
            shown = format_value(headline_value(result), "stat")
            ax.set_title(f"{i + 1}. {result.submission}  ({head.label} {shown})", fontsize=8.5)
        for j in range(len(results), nrows * ncols):  # empty cells of the last row
            axes[j // ncols][j % ncols].set_visible(False)
        xlabel = ("budget (mean samples per query, realized; log scale)" if _log_budgets(group)
                  else "budget (realized)" if group.key.setting == "best_of_k"
                  else "strong-model call share (realized)")
        fig.supxlabel(xlabel, fontsize=9)
        fig.supylabel(f"mean reward ({group.key.reward})", fontsize=9)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper right", bbox_to_anchor=(0.985, 0.995), ncols=4,
                   fontsize=7.5)
        fig.suptitle(f"{group.key.task} / {group.key.bank}  (n={group.key.n_queries} "
                     f"{group.key.split} queries, 95 % bootstrap bands)", x=0.02, ha="left",
                     fontsize=9.5)
        fig.tight_layout(rect=(0, 0, 1, 0.96))
        return save_png(fig, path)


def calibration_plot(group: Group, result: Result, path: Path) -> Path | None:
    """Reliability diagram from ``intrinsic.reliability`` (with bin counts below); None when
    the target has no calibration (``marginal_rewards``: empty reliability)."""
    bins = [b for b in result.intrinsic.reliability]
    if not bins:
        return None
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(4.2, 4.6))
        top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        top.plot([0, 1], [0, 1], color="#888888", linestyle=":", linewidth=1, label="perfect")
        filled = [b for b in bins if b.count > 0 and b.mean_pred is not None
                  and b.mean_target is not None]
        top.plot([b.mean_pred for b in filled], [b.mean_target for b in filled], marker="o",
                 color=PALETTE[0], linewidth=1.4, markersize=4, label=result.submission)
        top.set_xlim(0, 1)
        top.set_ylim(0, 1)
        top.set_ylabel("mean target")
        ece = result.intrinsic.ece
        ece_text = "n/a" if ece is None else f"{ece:.3f}"
        top.set_title(f"{result.submission}: calibration (ECE {ece_text})\n"
                      f"{group.key.task} / {group.key.bank}", fontsize=9)
        top.legend(loc="upper left")
        centres = [(b.bin_low + b.bin_high) / 2 for b in bins]
        widths = [(b.bin_high - b.bin_low) * 0.9 for b in bins]
        bottom.bar(centres, [b.count for b in bins], width=widths, color="#999999")
        bottom.set_ylabel("count")
        bottom.set_xlabel(f"predicted {result.intrinsic.target_kind.replace('_', ' ')}")
        fig.tight_layout()
        return save_png(fig, path)


def allocation_plot(group: Group, result: Result, path: Path) -> Path | None:
    """The paper's Figure 6: share of the online budget per predicted-difficulty bin,
    stacked, one bar per budget; None when the result has no ``allocation_by_bin``."""
    alloc = result.allocation_by_bin
    if alloc is None or not alloc.budgets:
        return None
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(5.0, 3.4))
        ax = fig.add_subplot(1, 1, 1)
        xs = list(range(len(alloc.budgets)))
        bottoms = [0.0] * len(xs)
        for j, name in enumerate(alloc.bins):
            heights = [row[j] for row in alloc.share]
            ax.bar(xs, heights, bottom=bottoms, color=BIN_COLORS[j % len(BIN_COLORS)],
                   label=name, width=0.7)
            bottoms = [b + h for b, h in zip(bottoms, heights)]
        ax.set_xticks(xs, [f"{b:g}" for b in alloc.budgets])
        ax.set_ylim(0, 1)
        ax.set_xlabel("budget (mean samples per query)")
        ax.set_ylabel("share of budget")
        ax.set_title(f"{result.submission}: allocation by predicted difficulty\n"
                     f"{group.key.task} / {group.key.bank}", fontsize=9)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
        return save_png(fig, path)


def reward_plot_name(group: Group) -> str:
    return f"{group.key.slug()}-reward.png"


def calibration_plot_name(group: Group, result: Result) -> str:
    return f"{group.key.slug()}-{slugify(result.submission)}-calibration.png"


def allocation_plot_name(group: Group, result: Result) -> str:
    return f"{group.key.slug()}-{slugify(result.submission)}-allocation.png"


def group_plots(group: Group, plots_dir: Path) -> dict[str, Path]:
    """Write every plot of one group; returns ``{file name: path}`` for the files written."""
    written = {reward_plot_name(group): reward_curve_plot(group, plots_dir / reward_plot_name(group))}
    for result in group.results:
        for name, make in ((calibration_plot_name(group, result), calibration_plot),
                           (allocation_plot_name(group, result), allocation_plot)):
            path = make(group, result, plots_dir / name)
            if path is not None:
                written[name] = path
    return written
