"""Build ``tasks/math/banks/pika-k50`` and the ``pika-linear-probe`` submission from PIKA's files.

Inputs (copied unchanged into the project, licence notes beside them):

- ``tasks/math/data/pika_math_sr/<model>_maxlen_3000_k_50_temp_<T>/best_probe_predictions.json.gz``:
  16 files from ``KabakaWilliam/llms_know_difficulty`` @ f1ea4630, per MATH problem the success
  rate c/50 of 50 rollouts (``train_actual``: 7,500, ``test_actual``: 5,000; no ids: row i is row
  i of the ``DigitalLearningGmbH/MATH-lighteval`` split) and a linear probe's predictions.
- ``tasks/math/data/math_lighteval_order/{train,test}.parquet``: MATH-lighteval in HF row order.
- ``tasks/math/data/{train.jsonl.gz,test.jsonl}``: MATH with ``unique_id``.

Row i of a lighteval split -> its problem text (the prompt minus the suffix PIKA appended) ->
the MATH ``unique_id`` with exactly that text (one-to-one; checked here).  Per query and
decoder the bank stores c = round(50 x) ones and 50 - c zeros as reward value counts (bank
format v2): every estimator is invariant to sample order, so nothing is lost.

Run from the repository root::

    python scripts/import_pika_math.py                 # bank + predictions
    python scripts/import_pika_math.py --out DIR       # write the bank under DIR (a rebuild check)
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bank import save_counts_bank, split_train_val_by_id  # noqa: E402
from bench.fileio import atomic_write_bytes  # noqa: E402
from bench.tasks import read_rows  # noqa: E402
from bench.verify.answer_extraction import find_last_boxed  # noqa: E402

DATA = ROOT / "tasks" / "math" / "data"
PIKA = DATA / "pika_math_sr"
ORDER = DATA / "math_lighteval_order"
BANK = ROOT / "tasks" / "math" / "banks" / "pika-k50"
SUBMISSION = ROOT / "submissions" / "pika-linear-probe"
K = 50
PROMPT_SUFFIX = " Let's think step by step and output the final answer within \\boxed{}."
FOLDER = re.compile(r"^Qwen-(?P<model>.+)_maxlen_3000_k_50_temp_(?P<temp>[0-9.]+)$")
DEFAULT_DECODER = "Qwen2.5-Math-7B-Instruct@T0.6"
DEFAULT_ROUTING = ["Qwen2.5-Math-1.5B-Instruct@T0.6", "Qwen2.5-Math-7B-Instruct@T0.6"]
SOURCE = {
    "repo": "KabakaWilliam/llms_know_difficulty",
    "commit": "f1ea4630cbf4c82b23efe4ce855f18e463940d0b",
    "path": "difficulty_probes/probe_results/DATA/SR_DATA/DigitalLearningGmbH_MATH-lighteval/"
            "<model>_maxlen_3000_k_50_temp_<T>/best_probe_predictions.json",
    "paper": "arXiv 2602.09924 (PIKA)",
}
LICENSE = ("PIKA files: no LICENSE file in the repository (at f1ea4630 or HEAD); its pyproject.toml says "
           "MIT and HEAD's README says MIT (see tasks/math/data/pika_math_sr/LICENSE_NOTICE.md). "
           "MATH problems: MIT (Hendrycks et al.). Model outputs are subject to the Qwen models' terms.")


@dataclass(frozen=True)
class Decoder:
    """One PIKA k=50 configuration: a Qwen model at one temperature."""

    name: str          # ``<model>@T<temp>``
    model: str         # e.g. ``Qwen2.5-Math-7B-Instruct`` (the HF id is ``Qwen/<model>``)
    temperature: float
    folder: Path

    @property
    def billions(self) -> float:
        """Parameter count in billions, as the model name states it (1.5B or 7B)."""
        return float(re.search(r"-([0-9.]+)B", self.model).group(1))


def find_decoders(pika_dir: Path = PIKA) -> list[Decoder]:
    """The 16 k=50 folders, sorted by folder name."""
    decoders = []
    for folder in sorted(p for p in pika_dir.iterdir() if p.is_dir() and FOLDER.match(p.name)):
        m = FOLDER.match(folder.name)
        temp = float(m["temp"])
        decoders.append(Decoder(f"{m['model']}@T{temp:.1f}", m["model"], temp, folder))
    if len(decoders) != 16:
        raise SystemExit(f"{pika_dir}: expected 16 k=50 folders, found {len(decoders)}")
    return decoders


def read_pika(decoder: Decoder) -> dict:
    with gzip.open(decoder.folder / "best_probe_predictions.json.gz", "rt", encoding="utf-8") as handle:
        return json.load(handle)


def success_counts(rates: list[float], where: str) -> np.ndarray:
    """c = round(50 x), checking that every x is a float32 c/50 (no other value is possible)."""
    x = np.asarray(rates, dtype=np.float64)
    c = np.rint(x * K)
    if len(x) == 0 or np.abs(x * K - c).max() > 1e-3 or c.min() < 0 or c.max() > K:
        raise SystemExit(f"{where}: success rates are not multiples of 1/{K}")
    return c.astype(np.int64)


def lighteval_ids() -> dict[str, list[str]]:
    """Per lighteval split, the MATH ``unique_id`` of each row, matched by exact problem text."""
    out = {}
    for split, local in (("train", "train.jsonl.gz"), ("test", "test.jsonl")):
        by_text: dict[str, str] = {}
        for row in read_rows(DATA / local):
            if row["problem"] in by_text:
                raise SystemExit(f"{local}: two problems with the same text ({row['unique_id']})")
            by_text[row["problem"]] = row["unique_id"]
        order = pd.read_parquet(ORDER / f"{split}.parquet")
        if list(order["extra_info"].map(lambda e: e["index"])) != list(range(len(order))):
            raise SystemExit(f"{ORDER / split}.parquet: extra_info.index is not the row number")
        ids = []
        for i, prompt in enumerate(order["prompt"]):
            content = prompt[0]["content"]
            if not content.endswith(PROMPT_SUFFIX):
                raise SystemExit(f"{split} row {i}: prompt lacks the expected suffix")
            problem = content[: -len(PROMPT_SUFFIX)]
            if problem not in by_text:
                raise SystemExit(f"{split} row {i}: problem text matches no MATH unique_id")
            ids.append(by_text[problem])
        if len(set(ids)) != len(ids) or len(ids) != len(by_text):
            raise SystemExit(f"{split}: lighteval rows do not map one-to-one onto MATH {split}")
        out[split] = ids
    return out


def build_queries(ids: dict[str, list[str]]) -> pd.DataFrame:
    """Queries in lighteval order (train rows, then test rows); split by source, then id hash."""
    rows = {r["unique_id"]: r for local in ("train.jsonl.gz", "test.jsonl") for r in read_rows(DATA / local)}
    records = []
    for split in ("train", "test"):
        for i, qid in enumerate(ids[split]):
            row = rows[qid]
            records.append({
                "query_id": qid,
                "split": "test" if split == "test" else split_train_val_by_id(qid),
                "prompt": row["problem"],
                "answer": find_last_boxed(row["solution"]),
                "level": row["level"],
                "type": row["type"],
                "lighteval_split": split,
                "lighteval_row": i,
            })
    return pd.DataFrame.from_records(records).astype({"lighteval_row": "int64"})


def build_counts(decoders: list[Decoder], files: dict[str, dict], queries: pd.DataFrame) -> pd.DataFrame:
    """Reward value counts: per query and decoder, (1.0, c) and (0.0, 50 - c), zero counts omitted."""
    parts = []
    for d in decoders:
        data = files[d.name]
        c = np.concatenate([success_counts(data["train_actual"], f"{d.folder.name} train_actual"),
                            success_counts(data["test_actual"], f"{d.folder.name} test_actual")])
        if len(c) != len(queries):
            raise SystemExit(f"{d.folder.name}: {len(c)} rows, expected {len(queries)}")
        for reward, count in ((0.0, K - c), (1.0, c)):
            keep = count > 0
            parts.append(pd.DataFrame({"query_id": queries["query_id"].to_numpy()[keep], "decoder": d.name,
                                       "reward": reward, "count": count[keep]}))
    return pd.concat(parts, ignore_index=True)


def build_manifest(decoders: list[Decoder], queries: pd.DataFrame) -> dict:
    n_split = queries["split"].value_counts().to_dict()
    return {
        "task": "math", "name": "pika-k50", "setting": "best_of_k", "reward": "binary",
        "decoders": [d.name for d in decoders],
        "default_decoder": DEFAULT_DECODER,
        "default_routing": DEFAULT_ROUTING,
        "cost": {d.name: {"value": d.billions, "unit": "B params x samples",
                          "source": f"parameter count in the model name (Qwen/{d.model}: nominal "
                                    f"{d.billions:g}B) x 1 sample"} for d in decoders},
        "provenance": {
            "built_by": "scripts/import_pika_math.py",
            "source": SOURCE,
            "raw_files": "tasks/math/data/pika_math_sr/ (the 16 k=50 files, gzipped, otherwise unchanged), "
                         "tasks/math/data/math_lighteval_order/, tasks/math/data/{train.jsonl.gz,test.jsonl}",
            "models": {d.name: {"hf_id": f"Qwen/{d.model}", "temperature": d.temperature} for d in decoders},
            "decoding": "vLLM, 50 rollouts per problem, max_tokens 3000, the model's chat template around "
                        "problem + \" Let's think step by step and output the final answer within \\\\boxed{}.\"; "
                        "top_p 1 (create_success_rate_datasets.py) or 0.8 for Qwen2.5-Math models "
                        "(create_pareto_sr_datasets.py): the repo does not record which script made which folder. "
                        "Base models were run through the chat template too.",
            "labels": "a rollout scores 1 if its last \\\\boxed{} equals the MATH-lighteval solution's last "
                      "\\\\boxed{} after Hendrycks/lm-eval strip_string normalisation (PIKA's "
                      "verification_math.py), not hardbench's math_equiv",
            "samples": "the files hold per-problem success rates x = c/50 only; c = round(50 x); each "
                       "(query, decoder) is stored as c rewards 1 and 50 - c rewards 0 (reward value counts, "
                       "bank format v2). Every hardbench estimator (best-of-k order statistics, pass@k, "
                       "means, pairwise preference) is invariant to the order of a query's samples, so the "
                       "unknown order loses nothing.",
            "queries": "all 12,500 MATH problems (ids = MATH unique_id). Row i of each file is row i of "
                       "DigitalLearningGmbH/MATH-lighteval's split; it is mapped to unique_id by exact problem "
                       "text (the lighteval prompt minus PIKA's suffix), one-to-one for all 7,500 + 5,000 rows. "
                       "queries.parquet keeps lighteval_split and lighteval_row.",
            "split": "lighteval test (5,000) -> test; lighteval train (7,500) -> val if "
                     "int(sha256(query_id)[:8], 16) % 10 == 6 (split_by_id's val bucket) else train "
                     f"(bench.bank.split_train_val_by_id); counts {dict(sorted(n_split.items()))}",
            "default_decoder": "Qwen2.5-Math-7B-Instruct@T0.6: the paper's MATH setting samples a math-"
                               "specialised 7B model (Mathstral-7B) at T 0.7; this is the closest configuration "
                               "here (math 7B instruct, T 0.6) and the strong end of the default routing pair",
            "default_routing": "model size within one family: Qwen2.5-Math-1.5B-Instruct -> "
                               "Qwen2.5-Math-7B-Instruct, both at T 0.6",
            "cost": "nominal parameter count (B) from the model name x 1 sample; the real counts "
                    "(1.54B, 7.62B) and generation lengths differ",
        },
        "license": LICENSE,
    }


def build_bank(out: Path = BANK) -> Path:
    """Read the raw files, write the bank (format v2) to ``out``; return its folder."""
    decoders = find_decoders()
    files = {d.name: read_pika(d) for d in decoders}
    queries = build_queries(lighteval_ids())
    counts = build_counts(decoders, files, queries)
    return save_counts_bank(out, build_manifest(decoders, queries), queries, counts)


def build_predictions(bank_dir: Path = BANK, submission: Path = SUBMISSION) -> list[Path]:
    """One predictions file per decoder: PIKA's probe for that model, clipped to [0, 1].

    Test rows get ``test_predictions`` (the probe fitted on all 7,500 lighteval train rows);
    train and val rows get ``cv_predictions`` (out-of-fold over the 7,500 train rows), so our
    val predictions are not in-sample for the probe.
    """
    queries = pd.read_parquet(bank_dir / "queries.parquet", columns=["query_id", "lighteval_split", "lighteval_row"])
    written = []
    for d in find_decoders():
        data = read_pika(d)
        cv, test = data["cv_predictions"], data["test_predictions"]
        if cv is None or len(cv) != 7500 or len(test) != 5000:
            raise SystemExit(f"{d.folder.name}: cv_predictions must cover the 7,500 train rows")
        is_test = (queries["lighteval_split"] == "test").to_numpy()
        rows = queries["lighteval_row"].to_numpy()
        raw = np.empty(len(queries))
        raw[is_test] = np.asarray(test, dtype=np.float64)[rows[is_test]]
        raw[~is_test] = np.asarray(cv, dtype=np.float64)[rows[~is_test]]
        frame = pd.DataFrame({"query_id": queries["query_id"], "prediction": np.clip(raw, 0.0, 1.0),
                              "raw_prediction": raw,
                              "source": np.where(is_test, "test_predictions", "cv_predictions")})
        path = submission / "predictions" / "math" / f"pika-k50@{d.name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False, compression="zstd")
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=BANK, help="bank folder to write (default: %(default)s)")
    parser.add_argument("--no-predictions", action="store_true", help="skip the pika-linear-probe files")
    args = parser.parse_args()
    bank = build_bank(args.out)
    print(f"wrote {bank}")
    if not args.no_predictions:
        for path in build_predictions(bank):
            print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
