"""Import ``tasks/hh/banks/alpacaeval-helpful`` from AlpacaEval 2.0's published annotations.

Source: ``tatsu-lab/alpaca_eval`` @ cd543a1, ``results/<model>/weighted_alpaca_eval_gpt4_turbo/
annotations.json``: for 24 models, GPT-4-turbo's preference between the model's answer and the
baseline's (gpt4_1106_preview) on the 805 AlpacaEval instructions.  ``preference`` is in [1, 2]
(2: the model is preferred), so reward = ``preference - 1`` = P(model beats the baseline); its
mean is the leaderboard's win rate.  Data licence: CC BY-NC 4.0 (upstream README).

The copy in ``tasks/hh/data/alpaca_eval/`` is TRIMMED by :func:`copy_raw`: per model, the
annotation rows with the fields this bank reads (``instruction``, ``dataset``, ``generator_1``,
``generator_2``, ``annotator``, ``preference``), in upstream order, values unchanged; the judge's
raw completion (token log-probabilities) and both answer texts (the baseline's repeated 24 times)
are dropped: they are 24 MiB of the 25.  ``price_per_example`` is the ANNOTATOR's cost, not the
model's, and is not a decoder cost.

Queries: the 805 instructions, id ``alpacaeval-<sha256(instruction)[:12]>``.  The 129
``helpful_base`` instructions (Anthropic HH helpful-base prompts) are the test split, so the
default run is the paper's appendix C transfer (train on other chat prompts, test on HH); the
other 676 are train/val by :func:`bench.importing.train_or_val_by_id`.  Routing, default pair
gemma-2b-it -> gemma-7b-it (the paper's pair).  phi-2 has 803 answers: its 2 missing are missing
samples.

Run from the repository root::

    python scripts/import_alpaca_eval.py [--from-upstream ../shared/data/alpaca_eval]
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd

from bench.bank import save_bank
from bench.importing import ImportSourceError, importer_main, require_files, short_hash, train_or_val_by_id
from bench.tasks import read_rows

SOURCE_COMMIT = "cd543a149df89434d8a54582c0151c0b945c3d20"
RAW_DIR = Path("tasks/hh/data/alpaca_eval")
BANK_DIR = Path("tasks/hh/banks/alpacaeval-helpful")
ANNOTATOR = "weighted_alpaca_eval_gpt4_turbo"
KEPT_FIELDS = ("instruction", "dataset", "generator_1", "generator_2", "annotator", "preference")
LEADERBOARD = "leaderboards/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
TEST_DATASET = "helpful_base"
DEFAULT_PAIR = ("gemma-2b-it", "gemma-7b-it")
MODELS = (
    "gemma-2b-it", "gemma-7b-it", "FuseChat-Gemma-2-9B-Instruct", "FuseChat-Llama-3.1-8B-Instruct",
    "FuseChat-Llama-3.2-1B-Instruct", "FuseChat-Llama-3.2-3B-Instruct", "FuseChat-Qwen-2.5-7B-Instruct",
    "OpenHermes-2.5-Mistral-7B", "Qwen-14B-Chat", "alpaca-7b", "claude-2", "claude-2.1",
    "claude-instant-1.2", "falcon-40b-instruct", "falcon-7b-instruct", "gpt-3.5-turbo-1106",
    "gpt4_1106_preview", "humpback-llama2-70b", "oasst-rlhf-llama-33b", "oasst-sft-pythia-12b", "phi-2",
    "pythia-12b-mix-sft", "vicuna-13b-v1.5", "vicuna-7b-v1.5",
)


def annotation_file(model: str) -> str:
    return f"results/{model}/{ANNOTATOR}/annotations.json.gz"


RAW_FILES = tuple(annotation_file(m) for m in MODELS)


def copy_raw(upstream: Path, root: Path) -> None:
    """Copy the leaderboard CSV and the trimmed annotations of every model (see module doc)."""
    require_files(upstream, [*RAW_FILES, LEADERBOARD])
    target = root / RAW_DIR
    for name in RAW_FILES:
        rows = read_rows(upstream / name)
        trimmed = [{k: row[k] for k in KEPT_FIELDS} for row in rows]
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        with gzip.GzipFile(target / name, "wb", mtime=0) as out:
            out.write(json.dumps(trimmed, ensure_ascii=False, indent=0).encode("utf-8"))
    (target / LEADERBOARD).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(upstream / LEADERBOARD, target / LEADERBOARD)


def query_id(instruction: str) -> str:
    return f"alpacaeval-{short_hash(instruction)}"


def load_tables(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(queries, rewards) from the (trimmed) annotation files under ``root``."""
    folder = root / RAW_DIR
    require_files(folder, RAW_FILES)
    instructions: dict[str, str] = {}          # instruction -> dataset, first-seen order
    records = []
    for model in MODELS:
        rows = read_rows(folder / annotation_file(model))
        seen = set()
        for row in rows:
            if row["generator_2"] != model or row["annotator"] != ANNOTATOR:
                raise ImportSourceError(f"{folder / annotation_file(model)}: row of generator "
                                        f"{row['generator_2']!r} / annotator {row['annotator']!r}")
            preference = float(row["preference"])
            if not 1.0 <= preference <= 2.0:
                raise ImportSourceError(f"{folder / annotation_file(model)}: preference {preference} "
                                        "outside [1, 2]")
            if row["instruction"] in seen:
                raise ImportSourceError(f"{folder / annotation_file(model)}: repeated instruction")
            seen.add(row["instruction"])
            if instructions.setdefault(row["instruction"], row["dataset"]) != row["dataset"]:
                raise ImportSourceError(f"{folder}: one instruction in two datasets")
            records.append((query_id(row["instruction"]), model, 0, preference - 1.0))
    ids = [query_id(text) for text in instructions]
    if len(set(ids)) != len(ids):
        raise ImportSourceError("two instructions share a 12-digit id hash; lengthen the id")
    splits = ["test" if dataset == TEST_DATASET else train_or_val_by_id(qid)
              for qid, dataset in zip(ids, instructions.values())]
    queries = pd.DataFrame({"query_id": ids, "split": splits, "prompt": list(instructions),
                            "dataset": list(instructions.values())})
    rewards = pd.DataFrame.from_records(records, columns=["query_id", "decoder", "sample", "reward"])
    return queries, rewards


def build(root: Path, out_dir: Path) -> Path:
    """Write the bank into ``out_dir`` from the raw files under ``root``."""
    queries, rewards = load_tables(root)
    counts = rewards.groupby("decoder")["query_id"].count()
    missing = {m: int(len(queries) - counts[m]) for m in MODELS if counts[m] < len(queries)}
    manifest = {
        "task": "hh", "name": "alpacaeval-helpful", "setting": "routing", "reward": "real",
        "decoders": list(MODELS),
        "default_routing": list(DEFAULT_PAIR),
        "cost": {m: {"value": 1.0, "unit": "call",
                     "source": "unknown: uniform (price_per_example in the data is the annotator's cost, "
                               "not the model's)"} for m in MODELS},
        "provenance": {
            "source": "tatsu-lab/alpaca_eval", "source_commit": SOURCE_COMMIT,
            "source_path": f"results/<model>/{ANNOTATOR}/annotations.json",
            "copied_to": f"{RAW_DIR.as_posix()}/ (trimmed to the fields {list(KEPT_FIELDS)}, values "
                         "unchanged, gzipped; see scripts/import_alpaca_eval.py)",
            "queries": f"the {len(queries)} AlpacaEval instructions (id alpacaeval-<sha256(instruction)[:12]>); "
                       f"fields: prompt = instruction, dataset = AlpacaEval's source set",
            "models": f"{len(MODELS)} models' single answers from the AlpacaEval 2.0 leaderboard; the answers "
                      "are not in this bank (upstream results/<model>/model_outputs.json)",
            "judge": "weighted_alpaca_eval_gpt4_turbo: GPT-4-turbo's probability that the model's answer beats "
                     "gpt4_1106_preview's (the baseline, also a decoder here, scored against itself)",
            "samples_per_query": 1,
            "labels": f"reward = preference - 1 in [0, 1]; missing samples (no answer upstream): {missing}",
            "split": f"the {int((queries['split'] == 'test').sum())} helpful_base instructions (Anthropic HH "
                     "helpful-base prompts) are test; the rest train/val by bench.importing.train_or_val_by_id: "
                     "int(sha256(query_id)[:8], 16) % 7: 0-5 train, 6 val",
            "built_by": "scripts/import_alpaca_eval.py",
        },
        "license": "CC BY-NC 4.0 (AlpacaEval data, per its README; code Apache-2.0); model answers and "
                   "judgments also subject to their generators' terms",
    }
    return save_bank(out_dir, manifest, queries, rewards)


def main() -> None:
    importer_main(__doc__.split("\n\n")[0], "first copy (trimmed) the raw files from this upstream snapshot folder", copy_raw, build, BANK_DIR)


if __name__ == "__main__":
    main()
