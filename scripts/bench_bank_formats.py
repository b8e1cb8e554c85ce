"""Bank format v1 (long rewards) against v2 (reward value counts) on ``math/pika-k50``.

Writes the bank's first ``--decoders`` decoders in both formats to a temporary folder and
prints, for each, the samples file's size, ``load_bank`` time, the time to build one
decoder's reward matrix, and one ``problem_from_bank`` (best-of-k on the default decoder),
with the v1/v2 ratios measured in the same run; then checks both give identical estimates.

    python scripts/bench_bank_formats.py              # 4 decoders (2.5 M long rows)
    python scripts/bench_bank_formats.py --decoders 16  # the whole bank (10 M long rows; ~2 GB RAM)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bank import FILE_MANIFEST_KEYS, load_bank, save_bank, save_counts_bank  # noqa: E402
from bench.scoring import choose_decoders, problem_from_bank  # noqa: E402


def long_rewards(counts: pd.DataFrame) -> pd.DataFrame:
    """Expand value counts to one row per sample (sample index = position after sorting)."""
    rows = counts.sort_values(["query_id", "decoder", "reward"])
    rep = rows["count"].to_numpy()
    frame = pd.DataFrame({"query_id": np.repeat(rows["query_id"].to_numpy(dtype=object), rep),
                          "decoder": np.repeat(rows["decoder"].to_numpy(dtype=object), rep),
                          "reward": np.repeat(rows["reward"].to_numpy(), rep)})
    frame["sample"] = frame.groupby(["query_id", "decoder"]).cumcount().astype("int64")
    return frame[["query_id", "decoder", "sample", "reward"]]


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decoders", type=int, default=4, help="how many of the bank's decoders (default 4)")
    args = parser.parse_args()
    source = load_bank(ROOT / "tasks" / "math" / "banks" / "pika-k50")
    decoders = [source.default_decoder] + [d for d in source.decoders if d != source.default_decoder]
    decoders = decoders[: args.decoders]
    counts = source.counts[source.counts["decoder"].isin(decoders)]
    manifest = {k: v for k, v in source.manifest.items() if k not in FILE_MANIFEST_KEYS}
    manifest = manifest | {"decoders": decoders, "cost": {d: manifest["cost"][d] for d in decoders}}
    manifest.pop("default_routing")    # its pair may not be among the decoders kept
    rewards = long_rewards(counts)
    print(f"pika-k50, {len(decoders)} decoders: {len(rewards):,} long rows (v1) vs {len(counts):,} count rows (v2)")
    with tempfile.TemporaryDirectory() as tmp:
        v1_dir = save_bank(Path(tmp) / "v1", manifest, source.queries, rewards)
        v2_dir = save_counts_bank(Path(tmp) / "v2", manifest, source.queries, counts)
        stats = {}
        for label, directory, file in (("v1", v1_dir, "rewards.parquet"), ("v2", v2_dir, "counts.parquet")):
            bank, t_load = timed(lambda: load_bank(directory))
            _, t_matrix = timed(lambda: bank.reward_matrix(decoders[0]))
            problem, t_problem = timed(lambda: problem_from_bank(bank, choice=choose_decoders(bank)))
            size = (directory / file).stat().st_size
            stats[label] = (size, t_load, t_matrix, t_problem, problem)
            print(f"{label}: {file} {size / 1e6:7.2f} MB   load_bank {t_load:6.2f} s   reward matrix "
                  f"{t_matrix:5.2f} s   problem_from_bank {t_problem:5.2f} s")
    (s1, l1, m1, p1, a), (s2, l2, m2, p2, b) = stats["v1"], stats["v2"]
    print(f"ratio v1/v2: size {s1 / s2:.1f}x   load {l1 / l2:.1f}x   matrix {m1 / m2:.1f}x   "
          f"problem {p1 / p2:.1f}x")
    same = np.array_equal(a.q_table, b.q_table, equal_nan=True) and np.array_equal(a.targets, b.targets)
    print(f"identical estimates (q table, targets): {same}")


if __name__ == "__main__":
    main()
