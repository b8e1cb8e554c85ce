"""Which of a bank's cached features predicts difficulty best, for one probe? Paired, with intervals.

    python scripts/compare_features.py --task math --bank pika-k50 --submission logistic
        [--features lm-last-hidden--gemma3-270m minilm ...] [--setting S] [--decoder D | --weak A --strong B]
        [--bootstrap 1000] [--seed 0] [--out DIR]

For every feature (default: all of the bank's), the submission is run once with its ``feature``
param set to it: its folder is copied to a scratch folder whose ``submission.yaml`` sets
``params.feature`` and names it ``<submission>[<feature>]``, and it is scored by
:func:`bench.runner.run_benchmark`, written under ``--out`` (default: a temporary folder, so
``results/`` and the leaderboard are untouched).  Each feature is then compared with the first by
the paired bootstrap of ``bench compare`` (same resampled test queries).  Printed per feature: the
headline (best-of-k: ABC online; routing: APGR online) with its 95 % interval, Spearman's rho of
the predictions with the target, and the paired difference to the first feature with its interval
and whether it is significant.  The submission must take a ``feature`` param (``logistic``,
``mlp-probe`` do).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

from bench.bank import load_bank, resolve_bank_dir
from bench.compare import compare_results
from bench.runner import RunOptions, run_benchmark
from bench.submissions import load_submission


def variant(submission: str, feature: str, scratch: Path) -> Path:
    """A copy of the submission's folder whose params read ``feature`` (named ``<sub>[<feature>]``)."""
    source = load_submission(submission)
    folder = scratch / f"{source.name}--{feature}"
    shutil.copytree(source.directory, folder, ignore=shutil.ignore_patterns("__pycache__"))
    meta = dict(source.meta) | {"name": f"{source.name}[{feature}]",
                                "params": dict(source.params) | {"feature": feature}}
    (folder / "submission.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return folder


def headline(result: dict) -> tuple[str, str]:
    """(summary key, label) of a result's headline metric."""
    return ("apgr", "APGR online") if result["setting"] == "routing" else ("area_between_curves", "ABC online")


def describe(result: dict) -> str:
    key, label = headline(result)
    value = result["summary"][key]["online"]
    low, high = result["summary"]["ci"][key]["online"]
    rho = result["intrinsic"]["spearman"]
    return f"{label} {value:.4f} [{low:.4f}, {high:.4f}]  Spearman {rho:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True)
    parser.add_argument("--bank", default=None, help="bank name or folder (default: the task's default)")
    parser.add_argument("--submission", default="logistic")
    parser.add_argument("--features", nargs="+", default=None,
                        help="features to compare, the first is the reference (default: every feature of the bank)")
    parser.add_argument("--setting", default=None, choices=("best_of_k", "routing"),
                        help="score the bank in this setting (default: its own)")
    parser.add_argument("--decoder", default=None)
    parser.add_argument("--weak", default=None)
    parser.add_argument("--strong", default=None)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="keep the result files here (default: discarded)")
    args = parser.parse_args()
    bank = load_bank(resolve_bank_dir(args.bank, args.task))
    features = args.features or bank.feature_names
    unknown = [f for f in features if f not in bank.feature_names]
    if unknown:   # before any run, not minutes into one
        parser.error(f"bank {bank.name!r} has no features {unknown}; available: {bank.feature_names}")
    if len(set(features)) != len(features) or len(features) < 2:
        parser.error(f"give two or more distinct features to compare, got {features}")
    if args.bootstrap < 1:
        parser.error("--bootstrap must be >= 1: the comparison is a paired bootstrap")
    with tempfile.TemporaryDirectory(prefix="compare-features-") as tmp:
        out = args.out or Path(tmp) / "results"
        results = {}
        for feature in features:
            folder = variant(args.submission, feature, Path(tmp))
            options = RunOptions(bank=str(bank.path), bootstrap=args.bootstrap, seed=args.seed, out_dir=out,
                                 setting=args.setting, decoder=args.decoder, weak=args.weak, strong=args.strong)
            print(f"running {args.submission} on {feature} ...", file=sys.stderr, flush=True)
            results[feature] = run_benchmark(args.task, str(folder), options)[1]
        reference = results[features[0]]
        print(f"{args.task}/{bank.name}, {args.submission}, decoders {reference['decoders']}, "
              f"{reference['n_queries']} test queries, {args.bootstrap} paired bootstrap replicates, seed {args.seed}")
        key = headline(reference)[0]
        width = max(map(len, features))
        for feature in features:
            line = f"  {feature:{width}s}  {describe(results[feature])}"
            if feature != features[0]:
                d = compare_results(results[feature], reference, bank=bank.path).diff["online"][key]
                verdict = ("better" if d["ci_low"] > 0 else "worse" if d["ci_high"] < 0 else "not significant")
                line += (f"  vs {features[0]}: {d['diff']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}] "
                         f"({verdict})")
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
