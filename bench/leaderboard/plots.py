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
          width: float = 1.4, alpha: float = BAND_ALPHA) -> None:
    """One curve (mean, with markers) and its bootstrap interval as a translucent band."""
    xs = [p.realized_budget for p in curve]
    ax.plot(xs, [p.mean for p in curve], linestyle=style, color=color, label=label,
            linewidth=width, marker="o", markersize=2.5)
    ax.fill_between(xs, [p.ci_low for p in curve], [p.ci_high for p in curve],
                    color=color, alpha=alpha, linewidth=0)


def reward_curve_plot(group: Group, path: Path) -> Path:
    """All submissions' online (solid) and offline (dashed) curves with bootstrap CI bands,
    plus the oracle (dotted) and the uniform/random baseline (black); x = realized budget."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(7.0, 4.4))
        ax = fig.add_subplot(1, 1, 1)
        for i, result in enumerate(group.results):
            color = PALETTE[i % len(PALETTE)]
            _band(ax, result.curves["online"], color, "-", f"{result.submission} (online)")
            _band(ax, result.curves["offline"], color, "--", f"{result.submission} (offline)", 1.0,
                  BAND_ALPHA / 2)
        _band(ax, group.reference_curve("oracle"), "#555555", ":", "oracle", 1.6)
        _band(ax, group.reference_curve(group.baseline), "#000000", "-", group.baseline, 1.8)
        positive = all(b > 0 for b in group.key.budgets)
        if group.key.setting == "best_of_k":
            if positive:
                ax.set_xscale("log", base=2)
                ax.set_xticks(list(group.key.budgets), [f"{b:g}" for b in group.key.budgets])
                ax.minorticks_off()
            ax.set_xlabel("budget (mean samples per query, realized)")
        else:
            ax.set_xlabel("strong-model call share (realized)")
        ax.set_ylabel(f"mean reward ({group.key.reward})")
        ax.set_title(f"{group.key.task} / {group.key.bank}  (n={group.key.n_queries}, "
                     f"{group.key.split}, {group.key.bootstrap} bootstrap)", fontsize=9)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
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
