"""How much wider do intervals get when the allocation is re-run inside each bootstrap replicate?

For every shipped bank, scores one submission (default ``logistic``) once with the allocation
held fixed across replicates (the default) and once with ``--reallocate-bootstrap`` (online
allocation re-run on each resampled test batch, offline bins refitted on a resampled held-out
split), on the same replicates, and prints the ratio of 95 % interval widths (reallocated /
fixed) of the headline numbers.  The numbers go to docs/result-format.md and the README.

Usage::

    python scripts/measure_reallocation.py [--submission logistic] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bank import available_banks  # noqa: E402
from bench.compare import rescore  # noqa: E402
from bench.runner import RunOptions, run_benchmark  # noqa: E402


def width(ci: list[float | None] | None) -> float:
    return np.nan if ci is None or None in ci else ci[1] - ci[0]


def widths(summary: dict, points: dict, setting: str) -> dict[str, float]:
    """Interval widths of the headline numbers of online and offline."""
    ci = summary["ci"]
    out = {}
    for m in ("online", "offline"):
        if setting == "routing":
            out[f"{m} APGR"] = width(ci["apgr"][m])
        out[f"{m} area"] = width(ci["area_between_curves"][m])
        curve = [p for p in points[m] if p["budget"] not in (0.0, 1.0) or setting != "routing"]
        out[f"{m} reward@B (median)"] = float(np.median([p["ci_high"] - p["ci_low"] for p in curve]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submission", default="logistic")
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for task, bank in available_banks():
            _, result = run_benchmark(task, args.submission, RunOptions(bank=bank, bootstrap=args.bootstrap,
                                                                         out_dir=Path(out)))
            start = time.perf_counter()
            again = rescore(dict(result, bootstrap_allocation="reallocated"), args.bootstrap, result["seed"])
            seconds = time.perf_counter() - start
            fixed = widths(result["summary"], result["curves"], result["setting"])
            moved = widths(again.summary, again.points, result["setting"])
            for key in fixed:
                rows.append([f"{task}/{bank}", result["n_queries"], key, f"{fixed[key]:.4f}", f"{moved[key]:.4f}",
                             f"{moved[key] / fixed[key]:.2f}" if fixed[key] > 0 else "n/a"])
            print(f"{task}/{bank}: re-allocated bootstrap took {seconds:.1f} s", file=sys.stderr)
    print(tabulate(rows, headers=["bank", "test queries", "95% interval of", "fixed", "reallocated", "ratio"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
