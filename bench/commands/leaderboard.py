"""``bench leaderboard``: build tables, plots and the static site from result files."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.paths import results_root

HELP = "build leaderboard tables, plots and the static site from result files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--results DIR`` (read, recursively) and ``--out DIR`` (write); both default to results/."""
    parser.add_argument("--results", type=Path, default=None, metavar="DIR",
                        help="folder of result files, searched recursively (default: results/)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="where LEADERBOARD.md, leaderboard.csv, plots/ and site/ go "
                             "(default: results/)")


def run(args: argparse.Namespace) -> int:
    """Build the leaderboard, print each section's ranking (plain text) and where it went."""
    from bench.leaderboard import build_leaderboard  # matplotlib only when this command runs
    from bench.leaderboard.collect import collect_results, group_results
    from bench.leaderboard.tables import render_text

    results_dir = args.results if args.results is not None else results_root()
    out_dir = args.out if args.out is not None else results_root()
    written = build_leaderboard(results_dir, out_dir)
    print(render_text(group_results(collect_results(results_dir))))
    print(f"wrote {len(written)} files to {out_dir}: {out_dir / 'LEADERBOARD.md'}, "
          f"{out_dir / 'site' / 'index.html'}")
    return 0
