"""Build the shipped banks beyond the default one, from real cached model outputs.

- ``tasks/math/banks/qwen25-math-8``: best-of-k, binary.  100 MATH test problems x 8 sampled
  solutions (Qwen2.5-Math-Instruct per the upstream README), rewards = the upstream
  correctness labels.  Source: ``tasks/math/data/qwen25_math_rm_maj/math_cot_100.jsonl``.
- ``tasks/math/banks/qwen25-math-rm-8``: best-of-k, real.  The same samples, rewards = the
  reward model's scores (Qwen2.5-Math-RM-72B per the upstream README): best-of-k picks the
  sample the reward model likes best, as in the paper's chat setting.
- ``tasks/lmsys/banks/arena-mixtral-vs-gpt4``: routing, real.  The 300 arena-bench-v1 prompts
  (real Chatbot Arena traffic), one answer each from Mixtral-8x7B-Instruct-v0.1 (weak) and
  gpt-4-1106-preview (strong), rewards = GPT-4 judge grades 1-10.  Prompts whose grade failed
  to parse for either model are dropped (counted in the manifest).

Query ids: MATH's ``unique_id`` (matched by problem text to MATH test), arena's
``question_id``.  Splits: :func:`bench.bank.split_by_id`.  Run from the repository root::

    python scripts/build_extra_banks.py
"""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path

import pandas as pd

from bench.bank import save_bank, split_by_id
from bench.paths import project_root

QWEN_COMMIT = "a45202bd16f1ec06f433442dc1152d0074773465"
ARENA_COMMIT = "4a705dd6963f777aba2ae79259e3013934e6e012"


def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _as_list(value: object) -> list:
    """The Qwen file stores lists as Python literals in strings; parse them safely."""
    return ast.literal_eval(value) if isinstance(value, str) else list(value)


def build_math_banks(root: Path) -> list[Path]:
    source = root / "tasks/math/data/qwen25_math_rm_maj/math_cot_100.jsonl"
    rows = _read_jsonl(source)
    math_test = {r["problem"].strip(): r["unique_id"] for r in _read_jsonl(root / "tasks/math/data/test.jsonl")}
    ids = []
    for row in rows:
        if row["question"].strip() not in math_test:
            raise SystemExit(f"{source}: problem idx {row['idx']} is not in MATH test")
        ids.append(math_test[row["question"].strip()])
    queries = pd.DataFrame({
        "query_id": ids, "split": [split_by_id(q) for q in ids],
        "prompt": [r["question"] for r in rows], "answer": [str(r["answer"]) for r in rows],
        "level": [r["level"] for r in rows],
    })
    correct, scored = [], []
    for query_id, row in zip(ids, rows):
        labels, preds = _as_list(row["score"]), _as_list(row["pred"])
        scores, texts = _as_list(row["pred_score"]), _as_list(row["code"])
        for s, (label, pred, score, text) in enumerate(zip(labels, preds, scores, texts)):
            rm = float(score[0] if isinstance(score, list) else score)
            correct.append((query_id, "qwen2.5-math-instruct", s, float(bool(label)), str(pred), rm, text))
            scored.append((query_id, "qwen2.5-math-instruct", s, rm, str(pred), float(bool(label)), text))
    provenance = {
        "source": "QwenLM/Qwen2.5-Math", "source_commit": QWEN_COMMIT,
        "source_path": "evaluation/data/eval_rm_maj_example/math_cot_100.jsonl",
        "queries": "100 MATH test problems (ids = MATH unique_id, matched by problem text)",
        "models": {"policy": "Qwen2.5-Math-Instruct (upstream README; the file does not name it)",
                   "reward_model": "Qwen2.5-Math-RM-72B (upstream README)"},
        "samples_per_query": 8, "decoding": "as run by the Qwen team (not documented in the file)",
        "split": "bench.bank.split_by_id: int(sha256(query_id)[:8], 16) % 10: 0-5 train, 6 val, 7-9 test",
        "built_by": "scripts/build_extra_banks.py",
    }
    license_text = "MIT (Qwen2.5-Math evaluation/); MATH problems MIT (Hendrycks et al.)"
    out = []
    binary = pd.DataFrame.from_records(correct, columns=["query_id", "decoder", "sample", "reward", "pred",
                                                          "rm_score", "response"])
    out.append(save_bank(root / "tasks/math/banks/qwen25-math-8", {
        "task": "math", "name": "qwen25-math-8", "setting": "best_of_k", "reward": "binary",
        "decoders": ["qwen2.5-math-instruct"],
        "provenance": provenance | {"labels": "upstream correctness labels (`score`), True -> 1.0"},
        "license": license_text}, queries, binary))
    real = pd.DataFrame.from_records(scored, columns=["query_id", "decoder", "sample", "reward", "pred",
                                                      "correct", "response"])
    out.append(save_bank(root / "tasks/math/banks/qwen25-math-rm-8", {
        "task": "math", "name": "qwen25-math-rm-8", "setting": "best_of_k", "reward": "real",
        "decoders": ["qwen2.5-math-instruct"],
        "provenance": provenance | {"labels": "reward-model scores (`pred_score`) as rewards; correctness kept "
                                              "in column `correct`"},
        "license": license_text}, queries, real))
    return out


def build_arena_bank(root: Path) -> Path:
    folder = root / "tasks/lmsys/data/arena_bench_v1"
    questions = {q["question_id"]: q["turns"][0] for q in _read_jsonl(folder / "question.jsonl")}
    decoders = {"mistralai/Mixtral-8x7B-Instruct-v0.1": "Mixtral-8x7B-Instruct-v0.1.jsonl.gz",
                "gpt-4-1106-preview": "gpt-4-turbo.jsonl.gz"}
    grades: dict[str, dict[str, float | None]] = {}
    for decoder, file in decoders.items():
        grades[decoder] = {r["question_id"]: r["score"] for r in _read_jsonl(folder / "model_judgment" / file)}
    usable = [q for q in questions
              if all(grades[d].get(q) is not None and grades[d][q] >= 1 for d in decoders)]
    dropped = len(questions) - len(usable)
    queries = pd.DataFrame({"query_id": usable, "split": [split_by_id(q) for q in usable],
                            "prompt": [questions[q] for q in usable]})
    rewards = pd.DataFrame.from_records(
        [(q, d, 0, float(grades[d][q])) for d in decoders for q in usable],
        columns=["query_id", "decoder", "sample", "reward"])
    return save_bank(root / "tasks/lmsys/banks/arena-mixtral-vs-gpt4", {
        "task": "lmsys", "name": "arena-mixtral-vs-gpt4", "setting": "routing", "reward": "real",
        "decoders": list(decoders),
        "provenance": {
            "source": "lm-sys/arena-hard-auto", "source_commit": ARENA_COMMIT,
            "source_path": "data/arena-bench-v1/{question.jsonl,model_judgment/*.jsonl}",
            "queries": f"arena-bench-v1 prompts from Chatbot Arena traffic; {len(usable)} of {len(questions)} "
                       f"kept, {dropped} dropped because a grade failed to parse",
            "models": {"weak": "mistralai/Mixtral-8x7B-Instruct-v0.1", "strong": "gpt-4-1106-preview",
                       "judge": "GPT-4, single-answer grading 1-10 against a GPT-4 reference"},
            "samples_per_query": {"weak": 1, "strong": 1},
            "labels": "judge grades 1-10 as rewards",
            "split": "bench.bank.split_by_id: int(sha256(query_id)[:8], 16) % 10: 0-5 train, 6 val, 7-9 test",
            "built_by": "scripts/build_extra_banks.py",
        },
        "license": "Apache-2.0 (arena-hard-auto); answers and grades subject to their generators' terms"},
        queries, rewards)


def main() -> None:
    root = project_root()
    for path in build_math_banks(root) + [build_arena_bank(root)]:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
