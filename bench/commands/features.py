"""``bench features``: add a feature matrix to a bank (``features/<name>.npy`` + manifest entry).

Examples::

    bench features --bank tasks/gsm8k/banks/mixtral-vs-gpt4 --extractor minilm
    bench features --task gsm8k --bank mixtral-vs-gpt4 --extractor lm-last-hidden:gemma3-270m
    bench features --bank path/to/bank --extractor lm-last-hidden:google/gemma-3-1b-it \\
        --chat-template --device cuda --batch-size 64

    bench features --task math --bank pika-k50 --recast lm-last-hidden--gemma3-270m --storage float16

An interrupted run resumes from its last finished chunk when rerun with the same arguments.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.bank import FEATURE_STORAGE, feature_storage, read_manifest, recast_features, resolve_bank_dir
from bench.errors import HardbenchError, UnknownNameError
from bench.features.base import EXTRACTORS, LM_DTYPES, make_extractor
from bench.features.compute import extract_features


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``bench features``."""
    parser.add_argument("--bank", required=True,
                        help="bank folder, or a bank name of --task (under tasks/<task>/banks/)")
    parser.add_argument("--task", default=None, help="task whose bank --bank names")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--extractor", metavar="SPEC",
                      help=f"one of {sorted(EXTRACTORS)}; lm-last-hidden takes a model: "
                           "lm-last-hidden:gemma3-270m (PyPI GGUF), a local path, or a hub id")
    what.add_argument("--recast", nargs="+", metavar="NAME",
                      help="instead of computing: store these features of the bank as --storage "
                           "(values rounded, producer record kept)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--batch-size", type=int, default=16, help="prompts per forward pass (default 16)")
    parser.add_argument("--chunk-size", type=int, default=256,
                        help="prompts per saved chunk, the unit of resumption (default 256)")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="token limit per prompt (default: minilm 256, right-truncated; "
                             "LMs 2048, left-truncated)")
    parser.add_argument("--dtype", default="float32", choices=LM_DTYPES,
                        help="LM extractors: compute in float32 (default) or bfloat16 (about 3.4x faster on a "
                             "CPU with AVX512_BF16; rows agree with float32's to cosine 0.9999); stored as --storage says")
    parser.add_argument("--storage", default=None, choices=FEATURE_STORAGE,
                        help="dtype written to the bank: float32 or float16 (half the bytes, values within "
                             "2**-11 relative; read back as float32). Default: float32 for a new feature, "
                             "the current storage with --overwrite; required with --recast")
    parser.add_argument("--chat-template", action="store_true",
                        help="LM extractors: encode each prompt as a user turn of the model's chat template")
    parser.add_argument("--name", default=None,
                        help="feature name to write (default: derived from the spec, see docs/features.md)")
    parser.add_argument("--overwrite", action="store_true", help="recompute a feature the bank already has")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Compute the features, write them into the bank, print the name written."""
    bank_dir = resolve_bank_dir(args.bank, args.task)
    if args.recast:
        return _recast(bank_dir, args.recast, args.storage, args)
    if args.no_progress:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # also hide "Loading weights" / GGUF conversion bars
    extractor = make_extractor(args.extractor, device=args.device, chat_template=args.chat_template,
                               max_tokens=args.max_tokens, dtype=args.dtype)
    result = extract_features(bank_dir, extractor, chunk_size=args.chunk_size, batch_size=args.batch_size,
                              name=args.name, overwrite=args.overwrite, progress=not args.no_progress,
                              storage=args.storage)
    reused = f", {result.chunks_reused}/{result.chunks_total} chunks resumed" if result.chunks_reused else ""
    print(f"{result.name}: {result.shape[0]} x {result.shape[1]} {result.storage} -> {result.path}{reused}")
    return 0


def _recast(bank_dir: Path, names: list[str], storage: str | None, args: argparse.Namespace) -> int:
    """``--recast``: rewrite existing features in another storage dtype, one line per feature.

    Every name is checked before any file is rewritten; options that only concern computing
    features are refused rather than ignored."""
    if storage is None:
        raise HardbenchError("--recast needs --storage float16 or --storage float32")
    ignored = [flag for flag, given in (("--name", args.name), ("--overwrite", args.overwrite),
                                        ("--chat-template", args.chat_template)) if given]
    if ignored:
        raise HardbenchError(f"--recast rewrites stored features; it takes no {', '.join(ignored)}")
    manifest = read_manifest(bank_dir)
    unknown = [n for n in names if n not in manifest.get("features", {})]
    if unknown:
        raise UnknownNameError(f"{bank_dir}: no features {unknown}; available: "
                               f"{sorted(manifest.get('features', {}))}")
    for name in names:
        if feature_storage(manifest, name) == storage:
            print(f"{name}: already {storage}, left as it is")
            continue
        path = recast_features(bank_dir, name, storage)
        print(f"{name}: {storage} -> {path} ({path.stat().st_size / 2**20:.1f} MiB on disk)")
    return 0
