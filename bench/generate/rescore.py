"""``bench verify --bank DIR --out DIR2``: re-score a bank's stored responses without regenerating.

The bank's ``responses.parquet`` is scored again with the task's current verifier (or the one
named by ``--verifier``, with ``--verifier-option`` overrides), and a new bank is written whose
provenance names the original (path, name, manifest sha256) and the verifier used.  The report
says how many verdicts changed.  Features are copied over (the queries are the same).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.bank import FILE_MANIFEST_KEYS, Bank, feature_producer, load_bank, write_features
from bench.errors import HardbenchError
from bench.generate.pipeline import GenerateError, score_responses, verifier_provenance, write_bank
from bench.tasks import TaskConfig, load_task


def rescore_bank(bank: Bank, task: TaskConfig, out: Path, *, workers: int = 1,
                 progress: bool = True, source: str | None = None) -> dict[str, Any]:
    """Score ``bank``'s responses with ``task``'s verifier into a new bank at ``out``.

    Returns a report: ``samples``, ``changed`` (reward differs), ``old_mean``, ``new_mean``.
    """
    from bench.commands.verify import load_references

    path = bank.path / "responses.parquet"
    if not path.is_file():
        raise GenerateError(f"bank {bank.path} keeps no responses.parquet (only banks made by "
                            "`bench generate` do); it cannot be re-scored")
    if Path(out).resolve() == bank.path.resolve():
        raise GenerateError("--out must differ from --bank (the original bank is kept)")
    if (Path(out) / "manifest.json").exists():
        raise GenerateError(f"--out {out}: already holds a bank; choose a new folder")
    responses = pd.read_parquet(path)
    identity = bank.manifest.get("provenance", {}).get("generation", {}).get("identity", {})
    references = load_references(task, identity.get("splits"), source or identity.get("source"))
    unknown = sorted(set(bank.queries["query_id"]) - set(references))
    if unknown:
        raise GenerateError(f"{len(unknown)} queries of the bank are unknown to task {task.name!r} "
                            f"(e.g. {unknown[0]!r}); pass --task or --source")
    scored = score_responses(task, responses, references, workers=workers, progress=progress)
    old = bank.rewards.set_index(["query_id", "decoder", "sample"])["reward"]
    new = scored.set_index(["query_id", "decoder", "sample"])["reward"]
    changed = int((old.reindex(new.index).to_numpy() != new.to_numpy()).sum())
    manifest = {k: v for k, v in bank.manifest.items() if k not in FILE_MANIFEST_KEYS}
    manifest["name"] = Path(out).name
    provenance = dict(manifest.get("provenance", {}))
    provenance["rescored_from"] = {"path": str(bank.path), "name": bank.name,
                                   "manifest_sha256": bank.manifest_sha256,
                                   "verifier": provenance.get("verifier"),
                                   "verdicts_changed": changed}
    provenance["verifier"] = verifier_provenance(task)
    manifest["provenance"] = provenance
    write_bank(Path(out), manifest, bank.queries, scored)
    for name in bank.feature_names:
        write_features(Path(out), name, np.asarray(bank.features(name)), feature_producer(bank.manifest, name),
                       storage=bank.feature_storage(name))
    return {"samples": len(scored), "changed": changed,
            "old_mean": float(bank.rewards["reward"].mean()), "new_mean": float(scored["reward"].mean())}


def run_rescore(args: argparse.Namespace) -> int:
    """The ``--bank`` mode of ``bench verify``."""
    from bench.commands.verify import check_code_execution, with_verifier_options

    if args.out is None:
        raise HardbenchError("bench verify --bank needs --out DIR2 (the re-scored bank)")
    ignored = [flag for flag, value in (("--input", args.input), ("--output", args.output),
                                        ("--split", args.split), ("--resume", args.resume)) if value]
    if ignored:
        raise HardbenchError(f"bench verify --bank takes no {', '.join(ignored)}: the bank's manifest "
                             "records the splits its queries came from, and a re-score writes a new "
                             "bank to --out")
    bank = load_bank(args.bank, args.task)
    if args.task is not None and args.task != bank.task:
        raise GenerateError(f"--task {args.task!r} but bank {bank.path} is of task {bank.task!r}")
    task = load_task(bank.task)
    if args.verifier is not None:
        task = replace(task, verifier=replace(task.verifier, name=args.verifier, options={}))
    task = with_verifier_options(task, args.verifier_option)
    check_code_execution(task, args.allow_code_execution)
    report = rescore_bank(bank, task, args.out, workers=args.workers, source=args.source)
    print(f"re-scored {report['samples']} samples of {bank.path} with verifier "
          f"{task.verifier.name!r} -> {args.out}: {report['changed']} verdicts changed "
          f"(mean reward {report['old_mean']:.4f} -> {report['new_mean']:.4f})")
    return 0
