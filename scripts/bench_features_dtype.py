"""Speed and agreement of ``bench features --dtype bfloat16`` against float32, measured in one run.

    python scripts/bench_features_dtype.py [--bank tasks/math/banks/pika-k50]
        [--extractor lm-last-hidden:qwen2.5-coder-0.5b-instruct] [--no-chat-template] [--prompts 48]

Encodes the bank's first ``--prompts`` prompts with the same extractor twice, in float32 and in
bfloat16 (batches of 16, after one warm-up batch each), and prints prompts/s for both, their ratio,
and the cosine between each prompt's two rows.  bfloat16 pays off on CPUs with AVX512_BF16 or AMX;
elsewhere it can be slower.  Run it on a quiet machine: a busy one moves both rates.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.bank import read_queries
from bench.features.base import make_extractor


def rate(extractor, texts: list[str], batch: int = 16) -> tuple[np.ndarray, float]:
    """Rows for ``texts`` and prompts per second (after a warm-up batch that loads the model)."""
    extractor.encode(texts[:2])
    start = time.perf_counter()
    rows = np.concatenate([extractor.encode(texts[i:i + batch]) for i in range(0, len(texts), batch)])
    return rows, len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank", default="tasks/math/banks/pika-k50")
    parser.add_argument("--extractor", default="lm-last-hidden:qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--chat-template", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--prompts", type=int, default=48)
    args = parser.parse_args()
    texts = read_queries(args.bank)["prompt"].tolist()[:args.prompts]
    results = {}
    for dtype in ("float32", "bfloat16"):
        extractor = make_extractor(args.extractor, chat_template=args.chat_template, dtype=dtype)
        results[dtype] = rate(extractor, texts)
        print(f"{dtype:9s} {results[dtype][1]:.2f} prompts/s", flush=True)
    exact, fast = results["float32"][0], results["bfloat16"][0]
    cosine = (exact * fast).sum(1) / np.linalg.norm(exact, axis=1) / np.linalg.norm(fast, axis=1)
    print(f"bfloat16 / float32: {results['bfloat16'][1] / results['float32'][1]:.2f}x; cosine of the rows: "
          f"min {cosine.min():.5f}, mean {cosine.mean():.5f} ({len(texts)} prompts of {args.bank})")


if __name__ == "__main__":
    main()
