"""``bench merge``: join banks generated in shards (``bench generate --shard i/N``) into one bank.

Every input is loaded with its checksums verified; they must be of the same task, decoders,
setting and generation settings (everything but the shard); a query present in two inputs is
refused.  Queries keep their order (input order, then file order); features are not carried
over (recompute them with ``bench features`` on the merged bank).

Example
-------
    bench merge shards/0 shards/1 shards/2 shards/3 --out tasks/gsm8k/banks/my-bank
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.bank import FILE_MANIFEST_KEYS, Bank, load_bank
from bench.generate.pipeline import GenerateError, check_out_folder, mean_tokens_cost

HELP = "join banks generated in shards (checksums checked, duplicates refused)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("banks", nargs="+", type=Path, help="bank folders to join")
    parser.add_argument("--out", required=True, type=Path, help="merged bank folder to write")
    parser.add_argument("--decoders", action="store_true",
                        help="join banks of the same queries made by different models into one "
                             "bank with several decoders (in input order: weak first for routing)")
    parser.add_argument("--setting", choices=("best_of_k", "routing"), default=None,
                        help="with --decoders: the setting of the joined bank (default: routing)")
    parser.add_argument("--cost-weight", type=float, nargs="+", default=None, metavar="W",
                        help="with --decoders: one weight per input bank that multiplies its decoders' "
                             "per-sample cost (e.g. each model's size in billions of parameters, so "
                             "that a token of a larger model costs more); see --cost-weight-unit")
    parser.add_argument("--cost-weight-unit", default=None, metavar="UNIT",
                        help="what the weights count (e.g. 'B params'): the joined cost's unit becomes "
                             "'UNIT x <the inputs' unit>'")


def run(args: argparse.Namespace) -> int:
    if (args.cost_weight is not None or args.cost_weight_unit) and not args.decoders:
        raise GenerateError("--cost-weight and --cost-weight-unit go with --decoders")
    if args.decoders:
        weights = None
        if args.cost_weight is not None:
            weights = CostWeights(tuple(args.cost_weight), args.cost_weight_unit or "weight")
        out = join_decoders(args.banks, args.out, setting=args.setting or "routing", cost_weights=weights)
        bank = load_bank(out)
        print(f"joined {len(args.banks)} banks into {out}: decoders {bank.decoders}, "
              f"{len(bank.queries)} queries, {len(bank.rewards)} samples")
        return 0
    out = merge_banks(args.banks, args.out)
    bank = load_bank(out)
    print(f"merged {len(args.banks)} banks into {out}: {len(bank.queries)} queries, "
          f"{len(bank.rewards)} samples")
    return 0


def _shard_record(bank: Bank) -> dict[str, Any]:
    """What ``merged_from`` keeps of one input: where it was, its checksum, its size, and the
    backend and sessions that generated it (samples can depend on engine settings)."""
    generation = bank.manifest.get("provenance", {}).get("generation", {})
    record: dict[str, Any] = {"path": str(bank.path), "name": bank.name,
                              "manifest_sha256": bank.manifest_sha256, "n_queries": len(bank.queries)}
    for key in ("backend", "sessions"):
        if key in generation:
            record[key] = generation[key]
    return record


def _generation_key(bank: Bank) -> dict[str, Any]:
    identity = dict(bank.manifest.get("provenance", {}).get("generation", {}).get("identity", {}))
    identity.pop("shard", None)
    return identity


def merge_banks(directories: list[Path], out: Path) -> Path:
    """Check the inputs, concatenate them, write ``out``; returns ``out``."""
    from bench.generate.pipeline import write_bank

    if len(directories) < 2:
        raise GenerateError("bench merge needs at least two banks")
    if any(Path(d).resolve() == Path(out).resolve() for d in directories):
        raise GenerateError(f"--out {out} is one of the inputs; write the merged bank elsewhere")
    banks = [load_bank(d) for d in directories]   # checksums verified here
    first = banks[0]
    for bank in banks[1:]:
        for what, get in (("task", lambda b: b.task), ("decoders", lambda b: b.decoders),
                          ("setting", lambda b: b.setting), ("reward", lambda b: b.reward_kind),
                          ("generation settings", _generation_key)):
            if get(bank) != get(first):
                raise GenerateError(f"cannot merge {bank.path} with {first.path}: {what} differ "
                                    f"({get(bank)!r} vs {get(first)!r})")
    ids = pd.concat([b.queries["query_id"] for b in banks], ignore_index=True)
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise GenerateError(f"query {duplicated.iloc[0]!r} is in more than one input bank "
                            f"({len(duplicated)} duplicates); merge each shard once")
    missing = [str(b.path) for b in banks if not (b.path / "responses.parquet").is_file()]
    queries = pd.concat([b.queries for b in banks], ignore_index=True)
    rewards = pd.concat([b.rewards for b in banks], ignore_index=True)
    manifest = {k: v for k, v in first.manifest.items() if k not in FILE_MANIFEST_KEYS}
    manifest["name"] = Path(out).name
    provenance = dict(manifest.get("provenance", {}))
    provenance["merged_from"] = [_shard_record(b) for b in banks]
    if "generation" in provenance:   # each shard's own backend and sessions are in merged_from
        provenance["generation"] = {k: v for k, v in provenance["generation"].items() if k != "sessions"}
    manifest["provenance"] = provenance
    check_out_folder(Path(out), first.task, provenance.get("generation", {}).get("identity", {}))
    if (Path(out) / "manifest.json").exists():
        raise GenerateError(f"--out {out}: already holds a bank; choose a new folder")
    if missing:
        from bench.bank import save_bank

        save_bank(out, manifest, queries, rewards)
        return Path(out)
    responses = pd.concat([pd.read_parquet(b.path / "responses.parquet") for b in banks], ignore_index=True)
    if "cost" in manifest and first.decoders and len(first.decoders) == 1:
        manifest["cost"] = mean_tokens_cost(responses, first.decoders[0])
    scored = responses.merge(rewards, on=["query_id", "decoder", "sample"], how="left", validate="one_to_one")
    write_bank(Path(out), manifest, queries, scored)
    return Path(out)


@dataclass(frozen=True)
class CostWeights:
    """One weight per input bank of ``join_decoders``, multiplying its decoders' costs.

    A generated bank's cost is its mean generated tokens per sample; joining two model sizes
    makes a token of the larger one dearer, so e.g. ``(0.5, 1.5)`` with unit ``"B params"``
    gives costs in "B params x generated tokens per sample".
    """

    weights: tuple[float, ...]
    unit: str


def _weighted_costs(banks: list[Bank], weights: CostWeights) -> dict[str, Any]:
    """The joined bank's ``cost``: each input's per-decoder cost times that input's weight."""
    if len(weights.weights) != len(banks):
        raise GenerateError(f"--cost-weight needs one weight per input bank ({len(banks)}), "
                            f"got {len(weights.weights)}")
    if any(not w > 0 for w in weights.weights):
        raise GenerateError("--cost-weight: every weight must be positive")
    costs: dict[str, Any] = {}
    for bank, weight in zip(banks, weights.weights):
        for decoder in bank.decoders:
            entry = bank.manifest.get("cost", {}).get(decoder)
            if not isinstance(entry, dict) or "value" not in entry:
                raise GenerateError(f"{bank.path}: decoder {decoder!r} has no cost to weight")
            costs[decoder] = {"value": round(float(entry["value"]) * weight, 6),
                              "unit": f"{weights.unit} x {entry.get('unit', 'cost')}",
                              "source": f"{weight:g} {weights.unit} (given to bench merge --cost-weight) x "
                                        f"{entry.get('source', 'the input bank cost')}"}
    return costs


def join_decoders(directories: list[Path], out: Path, *, setting: str = "routing",
                  cost_weights: CostWeights | None = None) -> Path:
    """Banks of the same queries from different decoders -> one bank with all the decoders.

    The queries (ids, splits, prompts) must be identical and the decoders distinct; each
    decoder's generation provenance is kept under ``provenance.decoders``.  ``cost_weights``
    scales each input's costs (see :class:`CostWeights`); without it they are copied.
    """
    from bench.generate.pipeline import write_bank

    if len(directories) < 2:
        raise GenerateError("bench merge --decoders needs at least two banks")
    banks = [load_bank(d) for d in directories]
    first = banks[0]
    names: list[str] = []
    for bank in banks:
        if bank.task != first.task or bank.reward_kind != first.reward_kind:
            raise GenerateError(f"cannot join {bank.path} with {first.path}: task or reward kind differ")
        if not bank.queries[["query_id", "split"]].equals(first.queries[["query_id", "split"]]):
            raise GenerateError(f"cannot join {bank.path} with {first.path}: their queries (ids, "
                                "order or splits) differ; generate both with the same --split/--limit/--shard")
        clash = sorted(set(bank.decoders) & set(names))
        if clash:
            raise GenerateError(f"decoder {clash[0]!r} is in more than one input; pass --decoder NAME "
                                "to bench generate to name them apart")
        names += bank.decoders
    if (Path(out) / "manifest.json").exists() or any(Path(d).resolve() == Path(out).resolve() for d in directories):
        raise GenerateError(f"--out {out}: choose a new folder")
    rewards = pd.concat([b.rewards for b in banks], ignore_index=True)
    manifest = {k: v for k, v in first.manifest.items() if k not in FILE_MANIFEST_KEYS}
    manifest.update(name=Path(out).name, setting=setting, decoders=names, default_decoder=names[0])
    if setting == "routing":
        manifest["default_routing"] = names[:2]
    manifest["cost"] = (_weighted_costs(banks, cost_weights) if cost_weights is not None
                        else {k: v for b in banks for k, v in b.manifest.get("cost", {}).items()})
    provenance = dict(first.manifest.get("provenance", {}))
    provenance.pop("generation", None)
    provenance["decoders"] = {name: b.manifest.get("provenance", {}).get("generation", {})
                              for b in banks for name in b.decoders}
    provenance["joined_from"] = [{"path": str(b.path), "name": b.name, "manifest_sha256": b.manifest_sha256}
                                 for b in banks]
    manifest["provenance"] = provenance
    if all((b.path / "responses.parquet").is_file() for b in banks):
        responses = pd.concat([pd.read_parquet(b.path / "responses.parquet") for b in banks], ignore_index=True)
        scored = responses.merge(rewards, on=["query_id", "decoder", "sample"], how="left", validate="one_to_one")
        write_bank(Path(out), manifest, first.queries, scored)
    else:
        from bench.bank import save_bank

        save_bank(out, manifest, first.queries, rewards)
    return Path(out)
