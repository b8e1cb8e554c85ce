"""Import ``tasks/humaneval/banks/codegen16b-k100`` from CodeT's CodeGen-16B HumanEval samples.

Source: ``tasks/humaneval/data/codet/`` (``microsoft/CodeT`` @ 35f54d6, MIT):
``HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl.gz`` (gzipped by
CodeT's snapshot): for each of the 164 HumanEval problems, 100 completions sampled from
CodeGen-16B at temperature 0.8, top_p 0.95, at most 300 tokens.  The file has NO labels.

Labels come from our sandboxed code verifier (``bench verify --task humaneval``, the task's
``code_tests`` verifier): each completion is run after the ORIGINAL HumanEval prompt
(``tasks/humaneval/data/HumanEval.jsonl.gz``, with its docstring examples), not after CodeT's
prompt, whose docstring examples were removed; ``check(candidate)`` must pass.  CodeT's rows
are joined to HumanEval task ids through CodeT's ``HumanEval_for_code_generation.jsonl``, by
exact prompt text (one to one).

Labelling 12,410 distinct programs takes many minutes, so verdicts are cached in
``tasks/humaneval/data/codet/verdicts.parquet``, keyed by ``program_sha256`` = sha256 of
(original prompt + completion); the bank is a pure function of the raw files and that cache.
``--label`` verifies the programs the cache lacks (resumable) and adds them to it.

Query ids are HumanEval task ids; splits :func:`bench.bank.split_by_id`.  Run from the
repository root::

    python scripts/import_codet.py [--from-upstream ../shared/data/codet] [--label]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
from pathlib import Path

import pandas as pd

from bench.bank import save_bank, split_by_id
from bench.fileio import atomic_write_bytes
from bench.importing import SPLIT_RULE, ImportSourceError, copy_files, require_files
from bench.paths import project_root
from bench.tasks import read_rows

SOURCE_COMMIT = "35f54d60b152cc31d134b788e702878ad613d9f7"
RAW_DIR = Path("tasks/humaneval/data/codet")
SAMPLES_FILE = "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl.gz"
CODET_PROMPTS = "HumanEval_for_code_generation.jsonl"
VERDICTS_FILE = "verdicts.parquet"
HUMANEVAL = Path("tasks/humaneval/data/HumanEval.jsonl.gz")
BANK_DIR = Path("tasks/humaneval/banks/codegen16b-k100")
DECODER = "CodeGen-16B@T0.8"
VERDICT_COLUMNS = ["query_id", "program_sha256", "reward", "status", "detail"]


def copy_raw(upstream: Path, root: Path) -> None:
    """Copy CodeT's samples, its HumanEval prompts and its licence from the upstream snapshot."""
    copy_files(upstream / "generated_data", root / RAW_DIR, [SAMPLES_FILE])
    copy_files(upstream / "dataset", root / RAW_DIR, [CODET_PROMPTS])
    shutil.copyfile(upstream / "LICENSE", root / RAW_DIR / "LICENSE")


def program_sha256(prompt: str, completion: str) -> str:
    """The cache key of a program: sha256 of the text the verifier runs (prompt + completion)."""
    return hashlib.sha256((prompt + completion).encode("utf-8")).hexdigest()


def load_samples(root: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(task_id -> original HumanEval prompt, task_id -> CodeT's 100 completions), HumanEval order."""
    folder = root / RAW_DIR
    require_files(folder, [SAMPLES_FILE, CODET_PROMPTS])
    original = {r["task_id"]: r["prompt"] for r in read_rows(root / HUMANEVAL)}
    codet_ids = {r["prompt"]: r["task_id"] for r in read_rows(folder / CODET_PROMPTS)}
    samples: dict[str, list[str]] = {}
    for row in read_rows(folder / SAMPLES_FILE):
        task_id = codet_ids.get(row["prompt"])
        if task_id is None or task_id in samples:
            raise ImportSourceError(f"{folder / SAMPLES_FILE}: a prompt matches no CodeT task, or two rows "
                                    f"match {task_id!r}")
        samples[task_id] = list(row["samples"])
    if set(samples) != set(original):
        raise ImportSourceError(f"{folder / SAMPLES_FILE}: covers {len(samples)} of {len(original)} HumanEval tasks")
    return original, {task_id: samples[task_id] for task_id in original}


def read_verdicts(root: Path) -> pd.DataFrame:
    path = root / RAW_DIR / VERDICTS_FILE
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == "reward" else "object") for c in VERDICT_COLUMNS})
    return pd.read_parquet(path)


def write_verdicts(root: Path, verdicts: pd.DataFrame) -> None:
    """Write the cache sorted by (task number, program hash): the same verdicts, the same bytes."""
    order = verdicts.assign(_n=verdicts["query_id"].str.split("/").str[1].astype(int))
    order = order.sort_values(["_n", "program_sha256"]).drop(columns="_n")[VERDICT_COLUMNS]
    buffer = io.BytesIO()
    order.reset_index(drop=True).to_parquet(buffer, index=False, compression="zstd")
    atomic_write_bytes(root / RAW_DIR / VERDICTS_FILE, buffer.getvalue())


def programs_to_label(root: Path) -> list[dict[str, str]]:
    """``bench verify`` input rows for every distinct program the cache lacks."""
    original, samples = load_samples(root)
    cached = set(read_verdicts(root)["program_sha256"])
    rows, seen = [], set()
    for task_id, completions in samples.items():
        for completion in completions:
            key = program_sha256(original[task_id], completion)
            if key not in cached and key not in seen:
                seen.add(key)
                rows.append({"query_id": task_id, "sample": completion, "program_sha256": key})
    return rows


def merge_labelled(root: Path, labelled: list[dict]) -> int:
    """Add labelled rows (``bench verify`` output) to the cache; returns how many were new.

    The key is recomputed from the row's text, so a row labelled against another prompt cannot
    enter the cache under a wrong key.
    """
    original, _ = load_samples(root)
    verdicts = read_verdicts(root)
    new = pd.DataFrame([{"query_id": r["query_id"], "program_sha256": program_sha256(original[r["query_id"]], r["sample"]),
                         "reward": float(r["reward"]), "status": r["status"], "detail": r["detail"]}
                        for r in labelled], columns=VERDICT_COLUMNS)
    new = new[~new["program_sha256"].isin(set(verdicts["program_sha256"]))].drop_duplicates("program_sha256")
    if len(new):
        write_verdicts(root, pd.concat([verdicts, new], ignore_index=True) if len(verdicts) else new)
    return len(new)


def forget_timeouts(root: Path) -> int:
    """Drop the cached ``timed_out`` verdicts (a wall-clock verdict depends on the machine's
    load), so that ``--label`` verifies those programs again; returns how many were dropped."""
    verdicts = read_verdicts(root)
    timed_out = verdicts["status"] == "timed_out"
    if timed_out.any():
        write_verdicts(root, verdicts[~timed_out])
    return int(timed_out.sum())


def label_missing(root: Path, work: Path, workers: int) -> int:
    """Verify the programs the cache lacks with the humaneval task's verifier (resumable)."""
    from bench.commands.verify import label_file, load_references
    from bench.tasks import load_task

    rows = programs_to_label(root)
    if not rows:
        return 0
    task = load_task("humaneval")
    work.mkdir(parents=True, exist_ok=True)
    output = work / f"codet-labels-{len(rows)}.jsonl"
    label_file(task, rows, load_references(task, None, None), output, workers=workers, chunk_size=32,
               resume=True)
    return merge_labelled(root, [json.loads(line) for line in output.read_text().splitlines() if line.strip()])


def load_tables(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(queries, rewards) from the raw samples and the verdict cache."""
    original, samples = load_samples(root)
    verdicts = read_verdicts(root).set_index("program_sha256")
    entry_points = {r["task_id"]: r["entry_point"] for r in read_rows(root / HUMANEVAL)}
    records, missing = [], 0
    for task_id, completions in samples.items():
        for s, completion in enumerate(completions):
            key = program_sha256(original[task_id], completion)
            if key not in verdicts.index:
                missing += 1
                continue
            verdict = verdicts.loc[key]
            records.append((task_id, DECODER, s, float(verdict["reward"]), str(verdict["status"]), completion))
    if missing:
        raise ImportSourceError(f"{root / RAW_DIR / VERDICTS_FILE}: {missing} samples have no cached verdict; "
                                "run scripts/import_codet.py --label (sandboxed code execution) first")
    ids = list(samples)
    queries = pd.DataFrame({"query_id": ids, "split": [split_by_id(q) for q in ids],
                            "prompt": [original[q] for q in ids], "entry_point": [entry_points[q] for q in ids]})
    rewards = pd.DataFrame.from_records(records, columns=["query_id", "decoder", "sample", "reward", "status",
                                                          "response"])
    return queries, rewards


def build(root: Path, out_dir: Path) -> Path:
    """Write the bank into ``out_dir`` from the raw files and the verdict cache under ``root``."""
    queries, rewards = load_tables(root)
    statuses = rewards["status"].value_counts().sort_index().to_dict()
    solved = rewards.groupby("query_id")["reward"].max()
    manifest = {
        "task": "humaneval", "name": "codegen16b-k100", "setting": "best_of_k", "reward": "binary",
        "decoders": [DECODER],
        "default_decoder": DECODER,
        "cost": {DECODER: {"value": 1.0, "unit": "sample", "source": "one sampled completion (<= 300 tokens)"}},
        "provenance": {
            "source": "microsoft/CodeT", "source_commit": SOURCE_COMMIT,
            "source_path": f"CodeT/data/generated_data/{SAMPLES_FILE[:-3]} and CodeT/data/dataset/{CODET_PROMPTS}",
            "copied_to": f"{RAW_DIR.as_posix()}/ (samples gzipped, otherwise unchanged)",
            "queries": "the 164 HumanEval problems (ids = task_id; prompt = the ORIGINAL HumanEval prompt from "
                       f"{HUMANEVAL.as_posix()}); CodeT rows joined to task ids by exact prompt text through "
                       f"{CODET_PROMPTS}",
            "models": {DECODER: "CodeGen-16B (CodeT's samples; the file name says codegen16B)"},
            "decoding": "temperature 0.8, top_p 0.95, at most 300 tokens, 100 samples per problem (file name)",
            "samples_per_query": 100,
            "labels": ("NOT upstream: our sandboxed code verifier (task humaneval, verifier code_tests: "
                       "bubblewrap, check(candidate) run outside the sandbox against a proxy) ran each completion "
                       "after the ORIGINAL HumanEval prompt (CodeT's prompts drop the docstring examples; the "
                       "model saw CodeT's prompt); verdicts cached per program in "
                       f"{RAW_DIR.as_posix()}/{VERDICTS_FILE} (key sha256(prompt + completion)); "
                       f"statuses {statuses}; raw completions in rewards.parquet `response`"),
            "pass_rates": {"pass@1": round(float(rewards["reward"].mean()), 4),
                           "pass@100": round(float((solved > 0).mean()), 4)},
            "split": SPLIT_RULE,
            "built_by": "scripts/import_codet.py",
        },
        "license": "MIT (microsoft/CodeT samples; openai/human-eval problems); CodeGen outputs subject to "
                   "Salesforce CodeGen's terms",
    }
    return save_bank(out_dir, manifest, queries, rewards)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-upstream", type=Path, default=None,
                        help="first copy the raw files from this upstream snapshot folder (codet/)")
    parser.add_argument("--label", action="store_true",
                        help="verify the programs the verdict cache lacks (RUNS MODEL-GENERATED CODE, sandboxed)")
    parser.add_argument("--merge", type=Path, default=None,
                        help="add the verdicts of a `bench verify --task humaneval` output file to the cache")
    parser.add_argument("--retry-timeouts", action="store_true",
                        help="with --label: verify the programs whose cached verdict is a timeout again")
    parser.add_argument("--work", type=Path, default=Path("tmp"), help="scratch folder for --label (resumable)")
    parser.add_argument("--workers", type=int, default=2, help="verifier processes for --label")
    parser.add_argument("--out", type=Path, default=None, help="bank folder (default: the shipped one)")
    args = parser.parse_args()
    root = project_root()
    if args.from_upstream is not None:
        copy_raw(args.from_upstream, root)
    if args.merge is not None:
        rows = [json.loads(line) for line in args.merge.read_text().splitlines() if line.strip()]
        print(f"{merge_labelled(root, rows)} new verdicts cached")
    if args.label and args.retry_timeouts:
        print(f"{forget_timeouts(root)} timed-out verdicts dropped for relabelling")
    if args.label:
        print(f"{label_missing(root, args.work, args.workers)} programs labelled")
    print(f"wrote {build(root, args.out or root / BANK_DIR)}")


if __name__ == "__main__":
    main()
