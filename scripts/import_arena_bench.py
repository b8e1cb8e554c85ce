"""Import ``tasks/lmsys/banks/arena-bench-15`` from arena-hard-auto's arena-bench-v1 judgments.

Source: ``tasks/lmsys/data/arena_bench_v1/`` (``lm-sys/arena-hard-auto`` @ 4a705dd, 2023-12-14,
Apache-2.0): ``question.jsonl`` (300 prompts from real Chatbot Arena traffic) and
``model_judgment/*.jsonl.gz`` (15 files, gzipped by us): for each of 15 models one answer per
prompt, graded 1-10 by GPT-4 against a GPT-4 reference answer (judge prompt in
``arena-bench-v1_config.yaml``).  Reward = the grade.  A grade that failed to parse (``score``
None or -1) is a missing sample: its row is dropped, never scored as 0.

The bank keeps the prompts that both decoders of the default routing pair graded
(Mistral-7B-Instruct-v0.1 -> Mixtral-8x7B-Instruct-v0.1, today's scoring needs both on every
query); the other 13 models may miss a prompt.  Decoder names are the judgments' ``model``
field.  Query ids are arena's ``question_id``; splits :func:`bench.bank.split_by_id`.

Run from the repository root::

    python scripts/import_arena_bench.py [--from-upstream ../shared/data/arena_hard]
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from bench.bank import save_bank, split_by_id
from bench.importing import SPLIT_RULE, ImportSourceError, copy_files, importer_main, require_files
from bench.tasks import read_rows

SOURCE_COMMIT = "4a705dd6963f777aba2ae79259e3013934e6e012"
RAW_DIR = Path("tasks/lmsys/data/arena_bench_v1")
BANK_DIR = Path("tasks/lmsys/banks/arena-bench-15")
#: the 15 judgment files, in the bank's decoder order: the default routing pair first, then
#: the rest by upstream file name.
JUDGMENT_FILES = (
    "Mistral-7B-Instruct-v0.1.jsonl.gz", "Mixtral-8x7B-Instruct-v0.1.jsonl.gz",
    "Llama-2-70b-chat.jsonl.gz", "Starling-LM-7B-alpha.jsonl.gz",
    "arena-bench-judgment_judge_any.jsonl.gz", "claude-1.jsonl.gz", "claude-2.1.jsonl.gz",
    "claude-instant-1.jsonl.gz", "gpt-3.5-turbo-1106.jsonl.gz", "gpt-3.5-turbo.jsonl.gz",
    "gpt-4-0314.jsonl.gz", "gpt-4-turbo.jsonl.gz", "openchat_3.5.jsonl.gz",
    "palm-2-chat-bison-001.jsonl.gz", "vicuna-33b-v1.3.jsonl.gz",
)
RAW_FILES = ("question.jsonl", "arena-bench-v1_config.yaml",
             *(f"model_judgment/{name}" for name in JUDGMENT_FILES))


def copy_raw(upstream: Path, root: Path) -> None:
    """Copy the prompts, judge config and 15 judgment files from the upstream snapshot."""
    copy_files(upstream / "arena-bench-v1", root / RAW_DIR,
               [n for n in RAW_FILES if n != "arena-bench-v1_config.yaml"])
    shutil.copyfile(upstream / "arena-bench-v1_config.yaml", root / RAW_DIR / "arena-bench-v1_config.yaml")


def valid_grade(score: object) -> bool:
    """A parsed GPT-4 grade (1..10); None and -1 mean the grade failed to parse."""
    return isinstance(score, (int, float)) and not isinstance(score, bool) and 1 <= score <= 10


def read_grades(folder: Path) -> dict[str, dict[str, float | None]]:
    """model -> question_id -> grade (None where the grade failed), in ``JUDGMENT_FILES`` order."""
    grades: dict[str, dict[str, float | None]] = {}
    for name in JUDGMENT_FILES:
        rows = read_rows(folder / "model_judgment" / name)
        models = {r["model"] for r in rows}
        if len(models) != 1:
            raise ImportSourceError(f"{folder / name}: expected one model, found {sorted(models)}")
        for r in rows:
            if r["score"] is not None and not valid_grade(r["score"]) and r["score"] != -1:
                raise ImportSourceError(f"{folder / name}: grade {r['score']!r} is neither 1-10, None nor -1")
        grades[models.pop()] = {r["question_id"]: (float(r["score"]) if valid_grade(r["score"]) else None)
                                for r in rows}
    return grades


def load_tables(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """(queries, rewards, dropped grades per model) from the raw files under ``root``."""
    folder = root / RAW_DIR
    require_files(folder, RAW_FILES)
    questions = read_rows(folder / "question.jsonl")
    grades = read_grades(folder)
    weak, strong = list(grades)[:2]
    kept = [q for q in questions if grades[weak].get(q["question_id"]) is not None
            and grades[strong].get(q["question_id"]) is not None]
    ids = [q["question_id"] for q in kept]
    queries = pd.DataFrame({"query_id": ids, "split": [split_by_id(q) for q in ids],
                            "prompt": [q["turns"][0] for q in kept]})
    records = [(qid, model, 0, by_id[qid]) for model, by_id in grades.items()
               for qid in ids if by_id.get(qid) is not None]
    rewards = pd.DataFrame.from_records(records, columns=["query_id", "decoder", "sample", "reward"])
    failed = {model: sum(by_id.get(q) is None for q in ids) for model, by_id in grades.items()}
    return queries, rewards, failed


def build(root: Path, out_dir: Path) -> Path:
    """Write the bank into ``out_dir`` from the raw files under ``root``."""
    queries, rewards, failed = load_tables(root)
    decoders = list(dict.fromkeys(rewards["decoder"]))
    n_questions = len(read_rows(root / RAW_DIR / "question.jsonl"))
    manifest = {
        "task": "lmsys", "name": "arena-bench-15", "setting": "routing", "reward": "real",
        "decoders": decoders,
        "default_routing": decoders[:2],
        "cost": {d: {"value": 1.0, "unit": "call", "source": "unknown: uniform (the data give no price)"}
                 for d in decoders},
        "provenance": {
            "source": "lm-sys/arena-hard-auto", "source_commit": SOURCE_COMMIT,
            "source_path": "data/arena-bench-v1/{question.jsonl,model_judgment/*.jsonl} and "
                           "data/arena-bench-v1_config.yaml",
            "copied_to": f"{RAW_DIR.as_posix()}/ (judgments gzipped, otherwise unchanged)",
            "queries": f"arena-bench-v1 prompts from Chatbot Arena traffic (first turn); {len(queries)} of "
                       f"{n_questions} kept: the others lack a parsed grade for a decoder of the default pair",
            "models": "15 chat models, one answer each per prompt (names = the judgments' `model` field; "
                      "llama-13b's grades are upstream file arena-bench-judgment_judge_any.jsonl, "
                      "gpt-4-1106-preview's are gpt-4-turbo.jsonl)",
            "judge": "GPT-4, single-answer grading 1-10 against a GPT-4 reference answer (temperature 0)",
            "samples_per_query": 1,
            "labels": "judge grades 1-10 as rewards; a grade that failed to parse (None or -1) is a missing "
                      f"sample (row dropped, not 0); missing per model over the kept prompts: "
                      f"{ {m: n for m, n in failed.items() if n} }",
            "split": SPLIT_RULE,
            "built_by": "scripts/import_arena_bench.py",
        },
        "license": "Apache-2.0 (arena-hard-auto); prompts from Chatbot Arena users; answers and grades "
                   "subject to their generators' terms",
    }
    return save_bank(out_dir, manifest, queries, rewards)


def main() -> None:
    importer_main(__doc__.split("\n\n")[0], "first copy the raw files from this upstream snapshot folder (arena_hard/)", copy_raw, build, BANK_DIR)


if __name__ == "__main__":
    main()
