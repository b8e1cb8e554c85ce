"""Build the default bank ``tasks/gsm8k/banks/mixtral-vs-gpt4`` from RouteLLM's cached GSM8K outputs.

Source: ``tasks/gsm8k/data/routellm/gsm8k_responses.csv`` (RouteLLM @ 0b64fda, Apache-2.0): the
1,319 GSM8K test questions, one response each from Mixtral-8x7B-Instruct-v0.1 (weak) and
gpt-4-1106-preview (strong), with RouteLLM's correctness labels.  Nothing is re-generated or
re-labelled: rewards are RouteLLM's labels (True -> 1.0, False -> 0.0).

Query ids are ``gsm8k-test-NNNNN``, the row index in GSM8K's ``test.jsonl`` (the CSV's rows are
in that order; the script checks every question text).  The split is deterministic by id:
``int(sha256(query_id)[:8], 16) % 10`` -> 0-5 train, 6 val, 7-9 test.

Run from the repository root::

    python scripts/build_gsm8k_routellm_bank.py [--gsm8k-test ../shared/data/gsm8k/test.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from bench.bank import save_bank, split_by_id
from bench.paths import project_root

WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"
SOURCE_COMMIT = "0b64fdafe049e596a3f5657c219329f24af24198"


def gold_answers(gsm8k_test: Path) -> list[tuple[str, str]]:
    """(question, gold final answer after '#### ') for every GSM8K test row, in file order."""
    rows = [json.loads(line) for line in gsm8k_test.read_text().splitlines() if line.strip()]
    return [(r["question"], r["answer"].split("####")[-1].strip().replace(",", "")) for r in rows]


def build(csv_path: Path, gsm8k_test: Path, out_dir: Path) -> Path:
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    gold = gold_answers(gsm8k_test)
    if len(frame) != len(gold):
        raise SystemExit(f"{csv_path}: {len(frame)} rows but GSM8K test has {len(gold)}")
    for i, (question, _) in enumerate(gold):
        if frame["prompt"].iloc[i].strip() != question.strip():
            raise SystemExit(f"row {i}: CSV prompt differs from GSM8K test question")
    ids = [f"gsm8k-test-{i:05d}" for i in range(len(frame))]
    queries = pd.DataFrame({
        "query_id": ids,
        "split": [split_by_id(q) for q in ids],
        "prompt": frame["prompt"].tolist(),
        "answer": [answer for _, answer in gold],
    })
    records = []
    for decoder in (WEAK, STRONG):
        labels = frame[decoder].map({"True": 1.0, "False": 0.0})
        if labels.isna().any():
            raise SystemExit(f"{csv_path}: column {decoder!r} has values other than True/False")
        for query_id, reward, response in zip(ids, labels, frame[f"{decoder}_response"]):
            records.append((query_id, decoder, 0, float(reward), response))
    rewards = pd.DataFrame.from_records(records, columns=["query_id", "decoder", "sample", "reward", "response"])
    rewards["sample"] = rewards["sample"].astype("int64")
    manifest = {
        "task": "gsm8k",
        "name": "mixtral-vs-gpt4",
        "setting": "routing",
        "reward": "binary",
        "decoders": [WEAK, STRONG],
        "provenance": {
            "source": "lm-sys/RouteLLM",
            "source_commit": SOURCE_COMMIT,
            "source_path": "routellm/evals/gsm8k/gsm8k_responses.csv",
            "queries": "GSM8K test set (openai/grade-school-math), all 1,319 questions",
            "models": {"weak": WEAK, "strong": STRONG},
            "samples_per_query": {"weak": 1, "strong": 1},
            "decoding": "as run by the RouteLLM authors (not documented in the CSV)",
            "labels": "RouteLLM's correctness labels, True -> 1.0, False -> 0.0; responses kept in rewards.parquet",
            "split": "int(sha256(query_id)[:8], 16) % 10: 0-5 train, 6 val, 7-9 test",
            "built_by": "scripts/build_gsm8k_routellm_bank.py",
        },
        "license": "Apache-2.0 (RouteLLM); GSM8K questions MIT (OpenAI); responses subject to their generators' terms",
    }
    return save_bank(out_dir, manifest, queries, rewards)


def main() -> None:
    root = project_root()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=root / "tasks/gsm8k/data/routellm/gsm8k_responses.csv")
    parser.add_argument("--gsm8k-test", type=Path, default=root.parent / "shared/data/gsm8k/test.jsonl")
    parser.add_argument("--out", type=Path, default=root / "tasks/gsm8k/banks/mixtral-vs-gpt4")
    args = parser.parse_args()
    print(f"wrote {build(args.csv, args.gsm8k_test, args.out)}")


if __name__ == "__main__":
    main()
