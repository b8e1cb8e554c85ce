"""Re-score committed results after a change to the scoring code, without re-fitting the probes.

    python scripts/rescore_results.py [RESULT.json ...]      (default: every result under results/)

- A paper-setting result (best-of-k, routing, transfer) keeps its submission's predictions; they
  are scored again from the file (:func:`bench.runner.rescore_result`), so lora-probe's CPU
  fine-tune is not repeated.  A bank that has changed since is refused: re-run that submission.
- A portfolio result keeps no predictions: its submission is run again on the same decoders and
  cost unit (all built-in portfolio submissions are quick).
Then rebuild the tables with `bench leaderboard`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench.paths import results_root
from bench.results import read_result
from bench.runner import RunOptions, rescore_result, run_portfolio_benchmark


def rescore(path: Path) -> Path:
    """Write ``path`` again with the current scoring; return where it went (the same file)."""
    result = read_result(path)
    if result.get("setting") != "portfolio":
        return rescore_result(path)[0]
    options = RunOptions(bank=result["bank"], bootstrap=result["bootstrap"], seed=result["seed"],
                         budgets=result["budgets"], out_dir=path.resolve().parents[2])
    return run_portfolio_benchmark(result["task"], result["submission"], options, decoders=result["decoders"],
                                   cost_unit=result["cost_unit_option"])[0]


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(results_root().glob("*/*/*.json"))
    for i, path in enumerate(paths, 1):
        start = time.perf_counter()
        written = rescore(path)
        if written.resolve() != path.resolve():
            raise SystemExit(f"{path}: re-scored into {written}, not the same file; the result's name and its "
                             "contents disagree")
        print(f"[{i}/{len(paths)}] {path} ({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
