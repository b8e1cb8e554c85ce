"""The ``bench`` command: a thin dispatcher over one module per subcommand.

Each subcommand lives in ``bench/commands/<name>.py`` and exposes ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``.  Modules are imported only when their
subcommand runs, so ``bench list`` never pays for torch or transformers.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bench import __version__
from bench.errors import HardbenchError

#: subcommand -> module implementing it.  A literal dict: the whole CLI fits on one screen.
COMMANDS: dict[str, str] = {
    "run": "bench.commands.run",
    "list": "bench.commands.list_cmd",
    "verify": "bench.commands.verify",
    "features": "bench.commands.features",
    "leaderboard": "bench.commands.leaderboard",
    "compare": "bench.commands.compare",
    "generate": "bench.commands.generate",
    "merge": "bench.commands.merge",
}

#: one-line help per subcommand, kept here so ``bench --help`` imports nothing heavy.
COMMAND_HELP: dict[str, str] = {
    "run": "score a submission on a task's sample bank and write a result file",
    "list": "list tasks, banks or submissions",
    "verify": "label model samples with a task's verifier",
    "features": "add a feature matrix (embeddings, hidden states) to a bank",
    "leaderboard": "build leaderboard tables, plots and the static site from result files",
    "compare": "paired bootstrap comparison of two submissions' results on the same bank",
    "generate": "generate a bank: sample a model on a task's prompts and score every sample",
    "merge": "join banks generated in shards (checksums checked, duplicates refused)",
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """Build the parser; only the subcommand named in ``argv`` has its module imported."""
    parser = argparse.ArgumentParser(
        prog="bench", description="hardbench: score difficulty predictors and compute allocators on cached sample banks.")
    parser.add_argument("--version", action="version", version=f"hardbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, help_text in COMMAND_HELP.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(COMMANDS[name])
            module.add_arguments(sp)
            sp.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bench`` console script; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except HardbenchError as err:
        print(f"bench {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
