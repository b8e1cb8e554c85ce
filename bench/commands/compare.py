"""``bench compare --task T [--bank B] SUB1 SUB2``: paired bootstrap comparison of two result files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tabulate import tabulate

from bench.compare import Comparison, compare_files
from bench.errors import HardbenchError
from bench.results import result_path

HELP = "paired bootstrap comparison of two submissions' results on the same bank"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("first", help="submission name (its result under --results), or a result .json file")
    parser.add_argument("second", help="the submission to compare against (name or .json file)")
    parser.add_argument("--task", default=None, help="task of the results (needed unless both are .json files)")
    parser.add_argument("--bank", default=None, help="bank name (default: the task's default bank)")
    parser.add_argument("--results", default=None, help="folder the results were written to (default: results/; "
                        "the --out of `bench run`)")
    parser.add_argument("--bootstrap", type=int, default=None, help="replicates (default: the first result's)")
    parser.add_argument("--seed", type=int, default=None, help="resampling seed (default: the first result's)")


def _bank_name(task: str, bank: str | None) -> str:
    from bench.bank import resolve_bank_dir

    return str(json.loads((resolve_bank_dir(bank, task) / "manifest.json").read_text())["name"])


def _locate(which: str, args: argparse.Namespace) -> Path:
    if which.endswith(".json") and Path(which).is_file():
        return Path(which)
    if args.task is None:
        raise HardbenchError(f"{which!r} is not a result file: pass --task (and --bank) to find it by name")
    path = result_path(args.task, _bank_name(args.task, args.bank), which,
                       Path(args.results) if args.results else None)
    if not path.is_file():
        raise HardbenchError(f"no result at {path}: run `bench run --task {args.task} --submission {which}"
                             + (f" --out {args.results}" if args.results else "") + "` first")
    return path


def run(args: argparse.Namespace) -> int:
    comparison = compare_files(_locate(args.first, args), _locate(args.second, args), n_bootstrap=args.bootstrap,
                               seed=args.seed, bank=args.bank)
    print(format_comparison(comparison))
    return 0


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:+.{digits}f}"


def format_comparison(c: Comparison, tablefmt: str = "simple") -> str:
    """One row per (method, metric): both values, the paired difference, its interval, P(diff <= 0)."""
    rows = []
    for method, metrics in c.diff.items():
        for metric, d in metrics.items():
            ci = "" if d["ci_low"] is None and d["ci_high"] is None else \
                f"[{_fmt(d['ci_low'])}, {_fmt(d['ci_high'])}]"
            winner = c.verdict(method, metric)
            verdict = "" if d["p_le_0"] is None else "n.s." if winner is None else \
                f"{c.first if winner == 'first' else c.second} better"
            rows.append([method, metric, _fmt(c.values["first"][method][metric]),
                         _fmt(c.values["second"][method][metric]), _fmt(d["diff"]), ci,
                         "" if d["p_le_0"] is None else f"{d['p_le_0']:.3f}", verdict])
    head = (f"{c.task} / {c.bank}: {c.first} - {c.second}, paired on the same {c.n_queries} test queries "
            + (f"({c.n_bootstrap} bootstrap replicates, seed {c.seed}; 95% intervals)" if c.n_bootstrap
               else "(no bootstrap: point differences only)"))
    table = tabulate(rows, headers=["method", "metric", c.first, c.second, "diff", "95% CI", "P(diff<=0)", ""],
                     tablefmt=tablefmt, disable_numparse=True)
    note = ("apgr: area under the PGR curve; area_between_curves, gain@B: reward over the baseline; "
            "compute_saved@B: % of the baseline's budget saved. n.s.: neither side better on 97.5% of replicates")
    return "\n".join([head, "", table, "", note])
