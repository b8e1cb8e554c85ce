"""``bench run --task T --submission S``: score a submission and write its result file."""

from __future__ import annotations

import argparse
from typing import Any

from bench.runner import RunOptions, run_benchmark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="task name (see `bench list tasks`)")
    parser.add_argument("--submission", required=True, help="submission name under submissions/, or a folder")
    parser.add_argument("--bank", default=None, help="bank name under tasks/<task>/banks/, or a bank folder "
                        "(default: the task's default bank)")
    parser.add_argument("--budgets", type=float, nargs="+", default=None,
                        help="budgets to evaluate (best-of-k: mean samples per query; routing: strong share)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates (0: no intervals)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the bootstrap and the submission")
    parser.add_argument("--bins", type=int, default=10, help="offline allocation: bins of predicted difficulty")
    parser.add_argument("--timeout", type=float, default=None, help="seconds the submission may run")
    parser.add_argument("--out", default=None, help="write under this folder instead of results/")
    parser.add_argument("--allow-path", action="append", default=[], metavar="PATH",
                        help="a folder a code submission may also read under bubblewrap (read-only; "
                        "repeatable; recorded in the result's isolation field), e.g. a Hugging Face cache")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    options = RunOptions(bank=args.bank, budgets=args.budgets, bootstrap=args.bootstrap, seed=args.seed,
                         out_dir=Path(args.out) if args.out else None, timeout_s=args.timeout, n_bins=args.bins,
                         allow_paths=tuple(args.allow_path))
    path, result = run_benchmark(args.task, args.submission, options)
    print(format_result(result))
    print(f"\nwrote {path}")
    return 0


def _cell(point: dict[str, float], show_realized: bool) -> str:
    text = f"{point['mean']:.3f} [{point['ci_low']:.3f},{point['ci_high']:.3f}]"
    if show_realized and abs(point["realized_budget"] - point["budget"]) > 1e-9:
        text += f" @{point['realized_budget']:.2f}"
    return text


def format_result(result: dict[str, Any]) -> str:
    """A readable table of every method's curve plus the headline summaries."""
    curves = result["curves"]
    methods = [m for m in ("online", "offline", "uniform", "random", "oracle") if m in curves]
    unit = "strong share" if result["setting"] == "routing" else "samples/query"
    lines = [f"{result['task']} / {result['bank']} / {result['submission']}  "
             f"({result['setting']}, {result['n_queries']} {result['split']} queries, "
             f"95% bootstrap CI over {result['bootstrap']} replicates, seed {result['seed']})",
             f"signature: {result['signature']}", ""]
    header = f"{'budget':>8} | " + " | ".join(f"{m:^26}" for m in methods)
    lines += [f"{'(' + unit + ')':>8}", header, "-" * len(header)]
    for i, budget in enumerate(result["budgets"]):
        cells = " | ".join(f"{_cell(curves[m][i], m == 'offline'):^26}" for m in methods)
        lines.append(f"{budget:>8g} | {cells}")
    lines.append("(offline: @x = realized mean budget when it differs from the target)")
    summary = result["summary"]
    lines.append("")
    if result["setting"] == "routing":
        lines.append(f"weak alone {summary['weak_mean']:.3f}   strong alone {summary['strong_mean']:.3f}")
        for m in ("online", "offline", "oracle", "random"):
            shares = summary["strong_share_for_pgr"][m]
            fmt = lambda v: "never" if v is None else f"{v:.3f}"  # noqa: E731
            apgr = summary["apgr"][m]
            lines.append(f"{m:>8}: APGR {'n/a' if apgr is None else f'{apgr:.3f}'}   strong share for "
                         f"50% PGR {fmt(shares['50'])}, for 80% PGR {fmt(shares['80'])}")
    else:
        for m in ("online", "offline", "oracle"):
            saved = [f"B={s['budget']:g}: {'n/a' if s['saving_pct'] is None else format(s['saving_pct'], '.0f') + '%'}"
                     for s in summary["compute_saved"][m] if s["budget"] in (2, 4, 8, 16, 32, 64)]
            lines.append(f"{m:>8}: compute saved at matched quality  " + "  ".join(saved))
    for m in ("online", "offline", "oracle"):
        lines.append(f"{m:>8}: area between curves vs {summary['baseline']} "
                     f"{summary['area_between_curves'][m]:+.4f}")
    intr = result["intrinsic"]
    fmt2 = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    lines.append(f"\nintrinsic ({intr['loss_name']}): loss {intr['loss']:.4f}  Avg {intr['loss_avg']:.4f}  "
                 f"Opt {intr['loss_opt']:.4f}  median-acc {fmt2(intr['median_accuracy'])}  "
                 f"spearman {fmt2(intr['spearman'])}  ECE {fmt2(intr['ece'])}")
    return "\n".join(lines)
