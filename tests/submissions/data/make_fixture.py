"""Rebuild gsm8k_fixture.jsonl from the shared real-data snapshot (provenance of the fixture).

Usage: python tests/submissions/data/make_fixture.py /work/shared/data
Takes the first 96 GSM8K test questions, the correctness flags of the four OpenAI example
model settings (openai/grade-school-math, MIT) and of Mixtral-8x7B-Instruct / GPT-4-1106
(lm-sys/RouteLLM gsm8k_responses.csv, Apache-2.0).  The rows are aligned by index (checked).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

N_ROWS = 96
SETTINGS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def main(data: Path) -> None:
    solutions = [json.loads(line) for line in open(data / "gsm8k" / "example_model_solutions.jsonl")]
    routed = pd.read_csv(data / "routellm" / "gsm8k_responses.csv")
    out = Path(__file__).with_name("gsm8k_fixture.jsonl")
    with open(out, "w") as fh:
        for i in range(N_ROWS):
            row = solutions[i]
            assert row["question"].strip() in routed["prompt"][i], i
            fh.write(json.dumps({
                "query_id": f"gsm8k-test-{i:04d}",
                "question": row["question"],
                "openai_correct": [bool(row[s]["is_correct"]) for s in SETTINGS],
                "mixtral_correct": bool(routed["mistralai/Mixtral-8x7B-Instruct-v0.1"][i]),
                "gpt4_correct": bool(routed["gpt-4-1106-preview"][i]),
            }) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
