"""Import ``tasks/gsm8k/banks/gpt3-6b-175b`` from OpenAI's GSM8K example model solutions.

Source: ``tasks/gsm8k/data/grade_school_math/example_model_solutions.jsonl.gz`` (upstream
``grade_school_math/data/example_model_solutions.jsonl`` of ``openai/grade-school-math`` @
3101c7d, MIT, gzipped by us).  One row per GSM8K test problem, in ``test.jsonl`` order, with one
solution and its correctness label for each of four GPT-3 settings of Cobbe et al. (2021):
``6b_finetuning``, ``175b_finetuning`` (one sample of a finetuned generator) and
``6b_verification``, ``175b_verification`` (the candidate a trained verifier ranked highest).
Nothing is re-generated or re-labelled: reward = upstream ``is_correct`` (True -> 1.0).

Query ids are ``gsm8k-test-NNNNN`` (the row index in GSM8K's ``test.jsonl``; every question
text is checked), the ids of the other GSM8K banks, so splits agree:
:func:`bench.bank.split_by_id`.  Setting: routing, default pair ``6b_finetuning`` ->
``175b_finetuning`` (model-size routing); ``175b_finetuning`` -> ``175b_verification`` is the
decoding-procedure pair.

Run from the repository root::

    python scripts/import_gsm8k_solutions.py [--from-upstream ../shared/data/gsm8k]
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd

from bench.bank import save_bank, split_by_id
from bench.importing import SPLIT_RULE, ImportSourceError, importer_main, require_files
from bench.tasks import read_rows

SOURCE_COMMIT = "3101c7d5072418e28b9008a6636bde82a006892c"
RAW_DIR = Path("tasks/gsm8k/data/grade_school_math")
RAW_FILE = "example_model_solutions.jsonl.gz"
BANK_DIR = Path("tasks/gsm8k/banks/gpt3-6b-175b")
#: bank order: the default routing pair first (today's scoring routes decoders[0] -> decoders[1]).
DECODERS = ("6b_finetuning", "175b_finetuning", "6b_verification", "175b_verification")
PARAMS_B = {"6b": 6.0, "175b": 175.0}
CANDIDATES_PER_VERIFIED_ANSWER = 100


def decoder_cost(decoder: str) -> dict[str, object]:
    """Generation cost per answer in billions of parameters x sampled solutions, with its source."""
    size, procedure = decoder.split("_")
    if procedure == "finetuning":
        return {"value": PARAMS_B[size], "unit": "B params x samples",
                "source": f"one sample of the {size.upper()} GPT-3 generator (Cobbe et al. 2021)"}
    return {"value": PARAMS_B[size] * CANDIDATES_PER_VERIFIED_ANSWER, "unit": "B params x samples",
            "source": (f"Cobbe et al. 2021 (arXiv:2110.14168) sec. 4: {CANDIDATES_PER_VERIFIED_ANSWER} "
                       f"completions per test problem from the {size.upper()} generator, ranked by a "
                       "trained verifier; the verifier's scoring pass over those candidates is NOT "
                       "counted, so this is a lower bound (the data files do not state the count)")}


def copy_raw(upstream: Path, root: Path) -> None:
    """Copy the upstream file (gzipped) and the GSM8K licence notice into ``RAW_DIR``."""
    require_files(upstream, ["example_model_solutions.jsonl"])
    target = root / RAW_DIR
    target.mkdir(parents=True, exist_ok=True)
    with open(upstream / "example_model_solutions.jsonl", "rb") as src, \
            gzip.GzipFile(target / RAW_FILE, "wb", mtime=0) as dst:
        shutil.copyfileobj(src, dst)
    shutil.copyfile(root / "tasks/gsm8k/data/LICENSE", target / "LICENSE")


def gold_answer(solution: str) -> str:
    """The final answer of a GSM8K reference solution (after ``#### ``, commas dropped)."""
    return solution.split("####")[-1].strip().replace(",", "")


def load_tables(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(queries, rewards) of the bank, from the raw files under ``root``."""
    require_files(root / RAW_DIR, [RAW_FILE])
    rows = read_rows(root / RAW_DIR / RAW_FILE)
    test = read_rows(root / "tasks/gsm8k/data/test.jsonl")
    if len(rows) != len(test):
        raise ImportSourceError(f"{RAW_DIR / RAW_FILE}: {len(rows)} rows, GSM8K test has {len(test)}")
    ids = [f"gsm8k-test-{i:05d}" for i in range(len(rows))]
    for i, (row, gold) in enumerate(zip(rows, test)):
        if row["question"] != gold["question"]:
            raise ImportSourceError(f"{RAW_DIR / RAW_FILE}: row {i} is not GSM8K test row {i}")
    queries = pd.DataFrame({"query_id": ids, "split": [split_by_id(q) for q in ids],
                            "prompt": [r["question"] for r in rows],
                            "answer": [gold_answer(g["answer"]) for g in test]})
    records = [(qid, decoder, 0, float(bool(row[decoder]["is_correct"])), row[decoder]["solution"])
               for decoder in DECODERS for qid, row in zip(ids, rows)]
    rewards = pd.DataFrame.from_records(records, columns=["query_id", "decoder", "sample", "reward", "response"])
    return queries, rewards


def build(root: Path, out_dir: Path) -> Path:
    """Write the bank into ``out_dir`` from the raw files under ``root``."""
    queries, rewards = load_tables(root)
    correct = rewards.groupby("decoder")["reward"].sum().astype(int).to_dict()
    manifest = {
        "task": "gsm8k", "name": "gpt3-6b-175b", "setting": "routing", "reward": "binary",
        "decoders": list(DECODERS),
        "default_routing": ["6b_finetuning", "175b_finetuning"],
        "cost": {d: decoder_cost(d) for d in DECODERS},
        "provenance": {
            "source": "openai/grade-school-math", "source_commit": SOURCE_COMMIT,
            "source_path": "grade_school_math/data/example_model_solutions.jsonl",
            "copied_to": f"{RAW_DIR.as_posix()}/{RAW_FILE} (gzipped, otherwise unchanged)",
            "queries": f"all {len(queries)} GSM8K test problems; ids gsm8k-test-NNNNN = row index in "
                       "test.jsonl (question texts checked row by row)",
            "models": {
                "6b_finetuning": "GPT-3 6B finetuned on GSM8K train, one sampled solution",
                "175b_finetuning": "GPT-3 175B finetuned on GSM8K train, one sampled solution",
                "6b_verification": "GPT-3 6B generator + trained verifier: the top-ranked candidate",
                "175b_verification": "GPT-3 175B generator + trained verifier: the top-ranked candidate",
            },
            "paper": "Cobbe et al. 2021, Training Verifiers to Solve Math Word Problems (arXiv:2110.14168)",
            "samples_per_query": {d: 1 for d in DECODERS},
            "labels": "upstream is_correct (True -> 1.0); solution text kept in rewards.parquet `response`; "
                      f"correct counts {correct}",
            "routing_pairs": {"model size (default)": ["6b_finetuning", "175b_finetuning"],
                              "decoding procedure": ["175b_finetuning", "175b_verification"]},
            "split": SPLIT_RULE,
            "built_by": "scripts/import_gsm8k_solutions.py",
        },
        "license": "MIT (openai/grade-school-math: problems and example model solutions)",
    }
    return save_bank(out_dir, manifest, queries, rewards)


def main() -> None:
    importer_main(__doc__.split("\n\n")[0], "first copy the raw file from this upstream snapshot folder", copy_raw, build, BANK_DIR)


if __name__ == "__main__":
    main()
