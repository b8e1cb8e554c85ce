"""Every generation session (first run and each resume) is recorded in the bank's manifest.

Samples can depend on engine settings such as llama.cpp's thread count, so a bank made over
several runs must say which run, with which backend settings, generated how many queries.  A
fake backend (deterministic text, no model) makes this fast and lets a run "crash" mid-way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from bench.bank import read_manifest
from bench.generate.base import Completion, DecodingParams, Request
from bench.generate.models import ResolvedModel
from bench.generate.pipeline import SESSIONS_FILE, Shard, read_sessions, run_generation, work_dir
from bench.generate.plan import plan_run
from bench.tasks import load_task

MODEL = ResolvedModel(name="fixture", location="fixture.gguf", kind="gguf", instruct=False,
                      provenance={"id": "fixture", "sha256": "0" * 64})


class CrashingFakeBackend:
    """Answers ``#### <seed % 7>`` to every sample; raises after ``crash_after`` calls (None: never)."""

    name = "fake"
    batch_queries = 1

    def __init__(self, threads: int, crash_after: int | None = None) -> None:
        self.threads = threads
        self.crash_after = crash_after
        self.calls = 0

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "n_threads": self.threads}

    def chat_template_prompt(self, messages: Sequence[Mapping[str, str]]) -> str | None:
        return None

    def generate(self, requests: Sequence[Request], params: DecodingParams) -> list[list[Completion]]:
        if self.crash_after is not None and self.calls >= self.crash_after:
            raise RuntimeError("simulated crash")
        self.calls += 1
        return [[Completion(f"#### {seed % 7}", 3, "stop") for seed in r.seeds] for r in requests]

    def close(self) -> None:
        pass


def _plan(out: Path):
    return plan_run(load_task("gsm8k"), MODEL, "fake", out=out, n=2, temperature=None, top_p=None,
                    max_tokens=None, stop=None, seed=0, splits=None, limit=5, shard=Shard(),
                    source=None, decoder=None)


def test_each_resumed_session_is_in_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "bank"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_generation(_plan(out), lambda: CrashingFakeBackend(threads=1, crash_after=2), False,
                       progress=False)
    # A resume that dies before its first batch wrote nothing: it is not a session of the bank.
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_generation(_plan(out), lambda: CrashingFakeBackend(threads=4, crash_after=0), False,
                       progress=False)
    assert [s["queries"] for s in read_sessions(out)] == [2]
    run_generation(_plan(out), lambda: CrashingFakeBackend(threads=2), False, progress=False)

    generation = read_manifest(out)["provenance"]["generation"]
    sessions = generation["sessions"]
    assert [(s["backend"]["n_threads"], s["queries"]) for s in sessions] == [(1, 2), (2, 3)]
    assert all(s["started"] for s in sessions)
    assert generation["backend"] == {"name": "fake", "n_threads": 2}   # the run that finished it
    assert not work_dir(out).exists()


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    out = tmp_path / "bank"
    with pytest.raises(RuntimeError):
        run_generation(_plan(out), lambda: CrashingFakeBackend(threads=1, crash_after=3), False,
                       progress=False)
    with open(work_dir(out) / SESSIONS_FILE, "a", encoding="utf-8") as handle:
        handle.write('{"first_part": 3, "backe')                 # killed while writing
    assert [s["queries"] for s in read_sessions(out)] == [3]
    run_generation(_plan(out), lambda: CrashingFakeBackend(threads=2), False, progress=False)
    sessions = read_manifest(out)["provenance"]["generation"]["sessions"]
    assert [(s["backend"]["n_threads"], s["queries"]) for s in sessions] == [(1, 3), (2, 2)]


def test_parts_from_before_the_log_are_one_unrecorded_session(tmp_path: Path) -> None:
    out = tmp_path / "bank"
    with pytest.raises(RuntimeError):
        run_generation(_plan(out), lambda: CrashingFakeBackend(threads=1, crash_after=1), False,
                       progress=False)
    (work_dir(out) / SESSIONS_FILE).unlink()                     # a run started by an older version
    run_generation(_plan(out), lambda: CrashingFakeBackend(threads=1), False, progress=False)
    generation = read_manifest(out)["provenance"]["generation"]
    assert [(s["backend"], s["queries"]) for s in generation["sessions"]] == [
        (None, 1), ({"name": "fake", "n_threads": 1}, 4)]           # the unrecorded run counted


def test_merged_shards_keep_each_shards_backend_and_sessions(tmp_path: Path) -> None:
    from bench.commands.merge import merge_banks

    shards = []
    for index, threads in ((0, 1), (1, 3)):
        plan = plan_run(load_task("gsm8k"), MODEL, "fake", out=tmp_path / f"s{index}", n=2,
                        temperature=None, top_p=None, max_tokens=None, stop=None, seed=0, splits=None,
                        limit=5, shard=Shard(index, 2), source=None, decoder=None)
        shards.append(run_generation(plan, lambda t=threads: CrashingFakeBackend(threads=t), False,
                                     progress=False))
    provenance = read_manifest(merge_banks(shards, tmp_path / "merged"))["provenance"]
    assert [(m["backend"]["n_threads"], m["n_queries"], [s["queries"] for s in m["sessions"]])
            for m in provenance["merged_from"]] == [(1, 3, [3]), (3, 2, [2])]
    assert "sessions" not in provenance["generation"]      # shard 0's alone would mislead


class RecordingFakeBackend(CrashingFakeBackend):
    """A fake backend that remembers which queries it was asked to sample."""

    def __init__(self, threads: int) -> None:
        super().__init__(threads)
        self.asked: list[str] = []

    def generate(self, requests: Sequence[Request], params: DecodingParams) -> list[list[Completion]]:
        self.asked += [r.query_id for r in requests]
        return super().generate(requests, params)


def _limited_plan(out: Path, limit: int, seed: int = 0):
    return plan_run(load_task("gsm8k"), MODEL, "fake", out=out, n=2, temperature=None, top_p=None,
                    max_tokens=None, stop=None, seed=seed, splits=None, limit=limit, shard=Shard(),
                    source=None, decoder=None)


def test_reuse_grows_a_pilot_without_sampling_its_queries_again(tmp_path: Path) -> None:
    import pandas as pd

    pilot = run_generation(_limited_plan(tmp_path / "pilot", 2), lambda: CrashingFakeBackend(1), False,
                           progress=False)
    backend = RecordingFakeBackend(1)
    bank = run_generation(_limited_plan(tmp_path / "bank", 5), lambda: backend, False, progress=False,
                          reuse=[pilot])
    clean = run_generation(_limited_plan(tmp_path / "clean", 5), lambda: CrashingFakeBackend(1), False,
                           progress=False)
    pilot_ids = set(pd.read_parquet(pilot / "queries.parquet")["query_id"])
    assert len(backend.asked) == 3 and not pilot_ids & set(backend.asked)
    for name in ("queries.parquet", "rewards.parquet", "responses.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(bank / name), pd.read_parquet(clean / name))
    sessions = read_manifest(bank)["provenance"]["generation"]["sessions"]
    assert [(s.get("reused_from", {}).get("name"), s["queries"]) for s in sessions] == [("pilot", 2), (None, 3)]
    assert sessions[0]["backend"] == {"name": "fake", "n_threads": 1}      # the pilot's own backend
    pilot_sessions = read_manifest(pilot)["provenance"]["generation"]["sessions"]
    assert sessions[0]["reused_from"]["sessions"] == pilot_sessions        # and the runs that made it


def test_reuse_refuses_a_bank_drawn_otherwise(tmp_path: Path) -> None:
    from bench.generate.pipeline import GenerateError

    other = run_generation(_limited_plan(tmp_path / "other", 2, seed=1), lambda: CrashingFakeBackend(1),
                           False, progress=False)
    with pytest.raises(GenerateError, match=r"differs in \['seed'\]"):
        run_generation(_limited_plan(tmp_path / "bank", 5), lambda: CrashingFakeBackend(1), False,
                       progress=False, reuse=[other])
    with pytest.raises(GenerateError, match="not a finished bank"):
        run_generation(_limited_plan(tmp_path / "bank2", 5), lambda: CrashingFakeBackend(1), False,
                       progress=False, reuse=[tmp_path / "nowhere"])


def _decoder_bank(tmp_path: Path, decoder: str, tokens: int) -> Path:
    """A finished 5-query gsm8k bank of the fake backend, named ``decoder``, ``tokens`` per sample."""

    class FixedLength(CrashingFakeBackend):
        def generate(self, requests: Sequence[Request], params: DecodingParams) -> list[list[Completion]]:
            return [[Completion(f"#### {seed % 7}", tokens, "stop") for seed in r.seeds] for r in requests]

    out = tmp_path / decoder
    plan = plan_run(load_task("gsm8k"), MODEL, "fake", out=out, n=2, temperature=None, top_p=None,
                    max_tokens=None, stop=None, seed=0, splits=None, limit=5, shard=Shard(),
                    source=None, decoder=decoder)
    run_generation(plan, lambda: FixedLength(threads=1), False, progress=False)
    return out


def test_joined_decoders_costs_are_weighted_per_input(tmp_path: Path) -> None:
    """bench merge --decoders --cost-weight: each input's tokens-per-sample cost times its weight."""
    from bench.bank import load_bank
    from bench.cli import main

    small, large = _decoder_bank(tmp_path, "small", 3), _decoder_bank(tmp_path, "large", 5)
    assert read_manifest(small)["cost"]["small"]["value"] == 3.0     # mean generated tokens
    out = tmp_path / "joined"
    assert main(["merge", "--decoders", str(small), str(large), "--cost-weight", "0.5", "1.5",
                 "--cost-weight-unit", "B params", "--out", str(out)]) == 0
    cost = load_bank(out).manifest["cost"]
    assert cost["small"]["value"] == 1.5 and cost["large"]["value"] == 7.5
    assert cost["large"]["unit"] == "B params x generated tokens per sample"
    assert "1.5 B params" in cost["large"]["source"]
    # without weights the inputs' costs are copied; a wrong number of weights writes nothing
    plain = tmp_path / "plain"
    assert main(["merge", "--decoders", str(small), str(large), "--out", str(plain)]) == 0
    assert load_bank(plain).manifest["cost"]["large"]["value"] == 5.0
    assert main(["merge", "--decoders", str(small), str(large), "--cost-weight", "1",
                 "--out", str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()
    assert main(["merge", str(small), str(large), "--cost-weight", "1", "2", "--out", str(tmp_path / "x")]) == 2
