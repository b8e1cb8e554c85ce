"""Write a FIXTURE multi-decoder bank for trying ``bench run --setting portfolio``.

FIXTURE: random numbers, not model outputs; never ship it as a bank.  It stands in for the
real multi-decoder banks (gsm8k/gpt3-6b-175b, math/pika-k50) in the README's worked example
until they land.  Four decoders whose per-sample costs follow made-up parameter counts
(1.5, 7, 14 and 72, unit "B-params"); per query a difficulty u ~ Beta(0.7, 1.0) and
decoder d succeeds with probability u ** e_d (bigger decoders are better); 8 samples each;
a feature ``fixture-noisy-difficulty`` (u plus noise, 4 columns) a probe can learn from.
The task is ``math`` (budget 0 allowed: the zero option exists).

    python scripts/make_fixture_portfolio_bank.py /tmp/fixture-portfolio
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from bench.bank import save_bank, split_by_id, write_features

DECODERS = {"fixture-1.5b": (1.5, 2.0), "fixture-7b": (7.0, 1.2), "fixture-14b": (14.0, 0.9),
            "fixture-72b": (72.0, 0.5)}


def make_bank(directory: Path, n_queries: int = 1000, n_samples: int = 8, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    ids = [f"fixture-{i:05d}" for i in range(n_queries)]
    u = rng.beta(0.7, 1.0, size=n_queries)
    queries = pd.DataFrame({"query_id": ids, "split": [split_by_id(i) for i in ids],
                            "prompt": [f"FIXTURE query {i}" for i in range(n_queries)]})
    records = []
    for name, (_, exponent) in DECODERS.items():
        p = u ** exponent
        for i, qid in enumerate(ids):
            for s in range(n_samples):
                records.append((qid, name, s, float(rng.random() < p[i])))
    rewards = pd.DataFrame.from_records(records, columns=["query_id", "decoder", "sample", "reward"])
    manifest = {
        "task": "math", "name": "fixture-portfolio", "setting": "best_of_k", "reward": "binary",
        "decoders": list(DECODERS), "default_decoder": "fixture-1.5b",
        "cost": {name: {"value": cost, "unit": "B-params",
                        "source": "FIXTURE: made-up parameter count (cost per sample ~ parameters)"}
                 for name, (cost, _) in DECODERS.items()},
        "provenance": {"kind": "FIXTURE: random rewards (scripts/make_fixture_portfolio_bank.py), not model outputs",
                       "seed": seed},
        "license": "CC0-1.0",
    }
    save_bank(directory, manifest, queries, rewards)
    noisy = u[:, None] + rng.normal(0, 0.15, size=(n_queries, 4))
    write_features(directory, "fixture-noisy-difficulty", noisy,
                   {"extractor": "FIXTURE: difficulty u plus Gaussian noise (sd 0.15), 4 columns"})
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the bank into")
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    print(make_bank(args.out, args.queries))


if __name__ == "__main__":
    main()
