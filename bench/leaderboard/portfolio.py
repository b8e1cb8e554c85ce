"""Leaderboard sections for the portfolio setting (many decoders with costs; docs/portfolio.md).

Portfolio result files (``<submission>@portfolio-<slug>.json``) are read here, not by
:mod:`bench.leaderboard.collect` (whose tables are per budget of one resource).  Results are
grouped by their signature without the submission (task, bank checksum, decoder set and cost
unit, bootstrap, seed, version) and by their budgets; each group gets

- a cost-quality plot: every submission's online curve with its bootstrap band, the oracle,
  the best-single-option frontier, random choice and uniform best-of-k on the cheapest decoder;
- a table ranked by the area under the cost-quality hull (AIQ) over the best single option's,
  with paired bootstrap intervals; rows whose interval contains 0 are marked as not
  distinguishable from the frontier.

Written to ``<out>/LEADERBOARD-portfolio.md`` and ``<out>/plots/portfolio--*.png`` only when
portfolio results exist (deterministic: no timestamps, fixed plot style).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from bench import __version__
from bench.errors import ResultFormatError
from bench.fileio import atomic_write_bytes
from bench.leaderboard.collect import signature_without_submission
from bench.leaderboard.plots import BAND_ALPHA, PALETTE, STYLE, save_png
from bench.portfolio import cost_sources_text
from bench.results import read_result

MARKDOWN_NAME = "LEADERBOARD-portfolio.md"
BASELINES = ("oracle", "best_single", "uniform", "random")
BASELINE_STYLE = {"oracle": ("black", ":"), "best_single": ("#444444", "-"), "uniform": ("#888888", "--"),
                  "random": ("#bbbbbb", "-.")}


def is_portfolio_file(path: Path) -> bool:
    """Portfolio results are named ``<submission>@portfolio-<slug>.json``."""
    return "@portfolio-" in Path(path).name


def find_portfolio_results(results_dir: Path) -> list[dict[str, Any]]:
    """Every portfolio result under ``results_dir``, sorted by path."""
    out = []
    for path in sorted(Path(results_dir).rglob("*@portfolio-*.json")):
        result = read_result(path)
        if result.get("setting") != "portfolio" or "decoders" not in result:
            raise ResultFormatError(f"{path}: named like a portfolio result but its setting is "
                                    f"{result.get('setting')!r}")
        out.append(result)
    return out


def group_portfolio_results(results: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Comparable results together: same signature without the submission, same budgets."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        key = (signature_without_submission(result["signature"], result["submission"]),
               tuple(result["budgets"]))
        groups[key].append(result)
    return [sorted(g, key=lambda r: r["submission"]) for _, g in sorted(groups.items(), key=lambda kv: kv[0])]


def _slug(first: dict[str, Any]) -> str:
    key = "|".join([first["task"], first["bank"], *first["decoders"], str(first["budgets"]), first["signature"]])
    return f"portfolio--{first['task']}--{first['bank']}--{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def _fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ci(pair: list[float] | None) -> str:
    return "—" if not pair else f"[{pair[0]:.4f}, {pair[1]:.4f}]"


def render_group_markdown(group: list[dict[str, Any]], plot_name: str) -> list[str]:
    """One section: header, costs, the AIQ table (submissions ranked, then the baselines), plot."""
    first = group[0]
    unit = next(iter(first["costs"].values()))["unit"]
    sources = cost_sources_text(first["decoders"], first["costs"])
    lines = [f"## {first['task']} / {first['bank']}: portfolio over {len(first['decoders'])} decoders", "",
             f"Cost per sample ({unit}): " + ", ".join(f"`{d}` {first['costs'][d]['value']:g}" for d in first["decoders"])
             + f" (source: {sources}). {first['n_queries']} test queries; budgets {first['budgets'][0]:g} to "
             f"{first['budgets'][-1]:g} {unit} per query; 95 % bootstrap intervals over {first['bootstrap']} "
             "replicates. AIQ = mean of the upper hull of reward vs mean cost over that range; "
             "vs frontier = AIQ minus the best single option's (one decoder and one k for every query, "
             "chosen with hindsight), paired over the same replicates.", "",
             "| submission | AIQ | 95% CI | vs frontier | 95% CI | P(diff <= 0) | verdict |",
             "|---|---:|---:|---:|---:|---:|---|"]
    rows = []
    for result in group:
        summary = result["summary"]
        diff = summary["aiq_vs_best_single"]["online"]
        low, high = diff["ci_low"], diff["ci_high"]
        if low is None:
            verdict = "no interval (--bootstrap 0)"
        elif low > 0:
            verdict = "beats the frontier"
        elif high < 0:
            verdict = "below the frontier"
        else:
            verdict = "not distinguishable from the frontier"
        rows.append((diff["diff"], f"| {result['submission']} | {_fmt(summary['aiq']['online'])} | "
                     f"{_ci(summary['aiq_ci'].get('online'))} | {diff['diff']:+.4f} | "
                     f"{_ci(None if low is None else [low, high])} | {_fmt(diff['p_le_0'], 3)} | {verdict} |"))
    lines += [row for _, row in sorted(rows, key=lambda r: -r[0])]
    summary = first["summary"]
    for method in BASELINES:
        if method not in summary["aiq"]:
            continue
        diff = summary["aiq_vs_best_single"].get(method)
        lines.append(f"| *{method}* | {_fmt(summary['aiq'][method])} | {_ci(summary['aiq_ci'].get(method))} | "
                     + ("— | — | — | — |" if diff is None else
                        f"{diff['diff']:+.4f} | {_ci(None if diff['ci_low'] is None else [diff['ci_low'], diff['ci_high']])}"
                        f" | {_fmt(diff['p_le_0'], 3)} | baseline |"))
    if len(group[0]["decoders"]) > 1 and summary.get("excluded_from_single"):
        lines.append(f"\nNot single options (samples missing for some queries): {summary['excluded_from_single']}")
    lines += ["", f"![reward vs mean cost, {first['task']}/{first['bank']}](plots/{plot_name})", ""]
    return lines


def cost_quality_plot(group: list[dict[str, Any]], path: Path) -> Path:
    """Every submission's online curve (with its band), the oracle, the best-single-option
    frontier, random and uniform; x = mean cost actually spent."""
    first = group[0]
    unit = next(iter(first["costs"].values()))["unit"]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(7.0, 4.4))
        ax = fig.add_subplot(1, 1, 1)
        for k, result in enumerate(group):
            curve = result["curves"]["online"]
            xs = [p["realized_budget"] for p in curve]
            color = PALETTE[k % len(PALETTE)]
            ax.plot(xs, [p["mean"] for p in curve], color=color, label=result["submission"], linewidth=1.4,
                    marker="o", markersize=2.5)
            ax.fill_between(xs, [p["ci_low"] for p in curve], [p["ci_high"] for p in curve], color=color,
                            alpha=BAND_ALPHA, linewidth=0)
        for method in BASELINES:
            if method in first["curves"]:
                color, style = BASELINE_STYLE[method]
                curve = first["curves"][method]
                ax.plot([p["realized_budget"] for p in curve], [p["mean"] for p in curve], color=color,
                        linestyle=style, linewidth=1.2, label=method.replace("_", " "))
        ax.set_xlabel(f"mean cost per query ({unit})")
        ax.set_ylabel("expected reward")
        ax.set_title(f"{first['task']} / {first['bank']}: {len(first['decoders'])} decoders")
        ax.legend(loc="lower right")
        return save_png(fig, path)


def build_portfolio_sections(results_dir: Path, out_dir: Path) -> list[Path]:
    """Write ``LEADERBOARD-portfolio.md`` and one plot per group; nothing without portfolio results."""
    groups = group_portfolio_results(find_portfolio_results(Path(results_dir)))
    if not groups:
        return []
    out_dir = Path(out_dir)
    written: list[Path] = []
    lines = ["# hardbench leaderboard: portfolio setting", "",
             f"Built by `bench leaderboard` (hardbench {__version__}) from `*@portfolio-*.json` results; "
             "setting, baselines and metrics: docs/portfolio.md.", ""]
    for group in groups:
        name = f"{_slug(group[0])}.png"
        written.append(cost_quality_plot(group, out_dir / "plots" / name))
        site_copy = out_dir / "site" / "plots" / name
        atomic_write_bytes(site_copy, written[-1].read_bytes())
        written.append(site_copy)
        lines += render_group_markdown(group, name)
    path = out_dir / MARKDOWN_NAME
    atomic_write_bytes(path, "\n".join(lines).encode("utf-8"))
    return sorted(written + [path])
