"""``bench list`` and ``bench verify`` end to end through the CLI entry point."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from bench.cli import main
from bench.commands.list_cmd import format_table
from bench.errors import TaskConfigError
from bench.verify.base import Verdict
from bench.verify.registry import VERIFIERS

DATA = Path(__file__).resolve().parent / "tasks" / "data"
GSM8K_SAMPLES = DATA / "gsm8k_example_model_solutions_150.jsonl"
MATH_SAMPLES = DATA / "qwen25_math_cot_samples.jsonl"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------- bench list


def test_format_table_by_hand() -> None:
    assert format_table(["task", "b"], [["gsm8k", 16], ["hh", None]]).splitlines() == [
        "task   b", "-----  --", "gsm8k  16", "hh"]


def test_list_tasks_shows_every_task(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "tasks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["task", "version", "settings", "b_max"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert sorted(rows) == ["gsm8k", "hh", "humaneval", "lmsys", "math", "mbpp", "numina", "taco"]
    assert rows["gsm8k"][1:8] == ["1", "best_of_k,routing", "16", "16", "binary", "gsm8k_answer",
                                  "mixtral-vs-gpt4"]
    assert rows["taco"][3:5] == ["100", "100"] and rows["numina"][3] == "128"


def test_list_banks_marks_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "banks"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "mixtral-vs-gpt4" in line)
    assert row.split()[:4] == ["gsm8k", "mixtral-vs-gpt4", "routing", "binary"]
    assert row.split()[-1] == "yes"


def test_list_banks_shows_each_decoder_with_queries_samples_and_mean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "banks", "--task", "math"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:6] == ["task", "bank", "setting", "reward", "decoder", "role"]
    assert all(line.split()[0] == "math" for line in lines[2:])
    pika = {line.split()[4]: line.split() for line in lines[2:] if line.split()[1] == "pika-k50"}
    assert len(pika) == 16
    # role, queries (test), samples/query, mean reward over all 12,500 problems (train 0.768, test 0.787)
    assert pika["Qwen2.5-Math-7B-Instruct@T0.6"][5:10] == ["best-of-k,strong", "12500", "(5000)", "50", "0.775"]
    assert pika["Qwen2.5-Math-1.5B-Instruct@T0.6"][5] == "weak"


def test_list_banks_split_restricts_every_column_to_that_split(capsys: pytest.CaptureFixture[str]) -> None:
    """pika-k50's routing pair swaps places between MATH train and test (README): the per-split
    means printed must be those of the split's queries, computed here from the bank directly."""
    import numpy as np

    from bench.bank import load_bank

    bank = load_bank("pika-k50", "math")
    for split in ("train", "test"):
        assert main(["list", "banks", "--task", "math", "--split", split]) == 0
        rows = {line.split()[4]: line.split() for line in capsys.readouterr().out.splitlines()[2:]
                if line.split()[1] == "pika-k50"}
        mask = bank.split_mask(split)
        for decoder in ("Qwen2.5-Math-1.5B-Instruct@T0.6", "Qwen2.5-Math-7B-Instruct@T0.6"):
            expected = np.nanmean(bank.reward_matrix(decoder).rewards[mask], axis=1).mean()
            row = rows[decoder]
            assert row[6] == str(int(mask.sum())) and row[9] == f"{expected:.3f}"
    assert main(["list", "features", "--split", "test"]) == 2
    assert "--split applies to `bench list banks`" in capsys.readouterr().err


def test_list_banks_best_of_all_is_pass_at_n(capsys: pytest.CaptureFixture[str]) -> None:
    """CodeGen-16B on HumanEval (CodeT's 100 samples, our sandbox's labels): pass@1 22.1 %,
    pass@100 74.4 % (README); a one-sample routing decoder's best equals its mean."""
    assert main(["list", "banks"]) == 0
    rows = {tuple(line.split()[1:2] + line.split()[4:5]): line.split()
            for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows[("codegen16b-k100", "CodeGen-16B@T0.8")][9:11] == ["0.221", "0.744"]
    gpt4 = rows[("mixtral-vs-gpt4", "gpt-4-1106-preview")]
    assert gpt4[9] == gpt4[10] == "0.857"


def test_list_banks_of_a_task_without_banks_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "banks", "--task", "numina"]) == 0       # the one task that ships no bank
    out = capsys.readouterr().out
    assert out.startswith("no bank for numina yet") and "bench generate --task numina" in out and "[]" not in out
    assert main(["list", "tasks", "--task", "math"]) == 2
    assert "--task filters `bench list banks`" in capsys.readouterr().err


def test_list_features_matches_the_files_on_disk(capsys: pytest.CaptureFixture[str]) -> None:
    """One row per feature of every shipped bank; dim, storage and size read from the files themselves."""
    import numpy as np

    from bench.bank import available_banks, read_manifest
    from bench.paths import tasks_root

    assert main(["list", "features"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["task", "bank", "feature", "dim", "storage", "MiB", "extractor", "model"]
    listed = {tuple(line.split()[:3]): line.split() for line in lines[2:]}
    expected = set()
    for task, bank in available_banks():
        directory = tasks_root() / task / "banks" / bank
        for name in read_manifest(directory).get("features", {}):
            expected.add((task, bank, name))
            array = np.load(directory / "features" / f"{name}.npy", mmap_mode="r")
            row = listed[(task, bank, name)]
            assert row[3:5] == [str(array.shape[1]), str(array.dtype)]
            assert float(row[5]) == pytest.approx((directory / "features" / f"{name}.npy").stat().st_size / 2**20,
                                                  abs=0.05)
    assert set(listed) == expected and ("math", "pika-k50", "minilm") in listed
    assert main(["list", "features", "--task", "numina"]) == 0     # no bank at all: say how to make one
    assert capsys.readouterr().out.startswith("no bank for numina yet")


def test_run_with_a_bank_path_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--task", "gsm8k", "--submission", "constant", "--bank", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "no such folder" in err and "unknown bank" not in err


def test_list_submissions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "submissions"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("constant"))
    assert row.split()[1] == "code" and "train-split mean target" in row


def test_list_tasks_reports_a_broken_task_without_hiding_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HARDBENCH_ROOT", str(tmp_path))
    (tmp_path / "tasks" / "broken").mkdir(parents=True)
    (tmp_path / "tasks" / "broken" / "task.yaml").write_text("task: broken\nversion: 1\ncolour: red\n")
    assert main(["list", "tasks"]) == 0
    out = capsys.readouterr().out
    assert "broken" in out and "unknown key 'colour'" in out
    assert main(["list", "submissions"]) == 0
    assert "no submissions found" in capsys.readouterr().out


# -------------------------------------------------------------------------- bench verify: GSM8K


def test_verify_gsm8k_agrees_with_openais_labels(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "labeled.jsonl"
    code = main(["verify", "--task", "gsm8k", "--input", str(GSM8K_SAMPLES), "--output", str(out),
                 "--workers", "1"])
    assert code == 0
    inputs, labeled = read_jsonl(GSM8K_SAMPLES), read_jsonl(out)
    assert len(labeled) == len(inputs) == 600
    assert [r["query_id"] for r in labeled] == [r["query_id"] for r in inputs]   # input order kept
    agreement = Counter((r["openai_is_correct"], r["reward"]) for r in labeled)
    # OpenAI's labels vs the paper's last-two-numbers rule: the rule never rejects a correct
    # solution, and accepts at most a handful OpenAI marked wrong (a number repeated at the end).
    assert agreement[(True, 0.0)] == 0
    assert agreement[(False, 1.0)] <= 3
    assert agreement[(True, 1.0)] == sum(r["openai_is_correct"] for r in inputs)
    assert {r["status"] for r in labeled} == {"correct", "incorrect"}
    summary = capsys.readouterr().out
    assert f"wrote 600 labeled samples to {out}" in summary


def test_verify_in_parallel_gives_the_same_file(tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    args = ["verify", "--task", "gsm8k", "--input", str(GSM8K_SAMPLES), "--chunk-size", "7"]
    assert main([*args, "--output", str(one), "--workers", "1"]) == 0
    assert main([*args, "--output", str(two), "--workers", "2"]) == 0
    assert one.read_bytes() == two.read_bytes()
    assert not (tmp_path / "two.jsonl.partial").exists()


def test_verify_rejects_unknown_query_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_jsonl(tmp_path / "s.jsonl", [{"query_id": "gsm8k-test-00000", "sample": "18"},
                                             {"query_id": "gsm8k-test-99999", "sample": "1"}])
    code = main(["verify", "--task", "gsm8k", "--input", str(bad), "--output", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert "1 query_id(s) unknown to task 'gsm8k'" in err and "'gsm8k-test-99999'" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("row", "message"), [
    ({"query_id": "gsm8k-test-00000"}, "row has no 'sample' (or 'response') field"),
    ({"query_id": 3, "sample": "x"}, "'query_id' must be a string"),
    ({"query_id": "gsm8k-test-00000", "sample": ["x"]}, "'sample' must be a string"),
])
def test_verify_reports_malformed_rows_with_their_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], row: dict[str, Any], message: str) -> None:
    path = write_jsonl(tmp_path / "s.jsonl", [{"query_id": "gsm8k-test-00001", "response": "3"}, row])
    assert main(["verify", "--task", "gsm8k", "--input", str(path), "--output",
                 str(tmp_path / "o")]) == 2
    assert f"{path}:2: {message}" in capsys.readouterr().err


def test_verify_code_task_needs_the_opt_in(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "s.jsonl", [{"query_id": "taco-test-00000", "sample": "print(1)"}])
    assert main(["verify", "--task", "taco", "--input", str(path), "--output",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unsafe_code: true" in err and "--allow-code-execution" in err


def test_verify_math_end_to_end_against_qwens_labels(tmp_path: Path) -> None:
    """Real Qwen2.5-Math samples with Qwen's own correctness labels, through two worker
    processes (the math verifier starts a child process of its own in each)."""
    out = tmp_path / "labeled.jsonl"
    assert main(["verify", "--task", "math", "--split", "test", "--input", str(MATH_SAMPLES),
                 "--output", str(out), "--workers", "2"]) == 0
    labeled = read_jsonl(out)
    assert len(labeled) == 208
    statuses = Counter(r["status"] for r in labeled)
    assert set(statuses) <= {"correct", "incorrect", "unsure"}     # no harness errors
    said_correct = [r["qwen_score"] for r in labeled if r["status"] == "correct"]
    said_incorrect = [r["qwen_score"] for r in labeled if r["status"] == "incorrect"]
    assert len(said_correct) >= 100 and sum(said_correct) / len(said_correct) >= 0.95
    assert len(said_incorrect) >= 40 and not any(said_incorrect)
    assert all(r["reward"] == (1.0 if r["status"] == "correct" else 0.0) for r in labeled)


def _sandbox_problem() -> str | None:
    from bench.verify.code_exec import bwrap_problem

    return bwrap_problem()


needs_sandbox = pytest.mark.skipif(_sandbox_problem() is not None,
                                   reason=f"bubblewrap sandbox unusable: {_sandbox_problem()}")


@needs_sandbox
def test_verify_humaneval_canonical_solutions_pass(tmp_path: Path) -> None:
    from bench.tasks import load_task

    queries = load_task("humaneval").load_queries("test")[:4]
    rows = []
    for q in queries:
        rows.append({"query_id": q["query_id"], "sample": q["canonical_solution"], "kind": "canonical"})
        rows.append({"query_id": q["query_id"], "sample": "    return None\n", "kind": "none"})
    inp, out = write_jsonl(tmp_path / "s.jsonl", rows), tmp_path / "labeled.jsonl"
    assert main(["verify", "--task", "humaneval", "--input", str(inp), "--output", str(out),
                 "--allow-code-execution", "--workers", "2", "--chunk-size", "2"]) == 0
    labeled = read_jsonl(out)
    assert [r["status"] for r in labeled] == ["passed", "failed"] * 4
    assert [r["reward"] for r in labeled] == [1.0, 0.0] * 4


@needs_sandbox
def test_verify_taco_fixture_through_the_sandbox(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parent / "tasks" / "fixtures" / "taco_fixture_rows.jsonl"
    rows = [
        {"query_id": "taco-test-00000", "sample": "```python\nfrom math import comb\nn = int(input())\n"
                                                 "print(comb(n, 5) ** 2 * 120)\n```"},
        {"query_id": "taco-test-00000", "sample": "print(1)"},
        {"query_id": "taco-test-00004", "sample": "def add(a, b):\n    return a + b\n"},
        {"query_id": "taco-test-00004", "sample": "def add(a, b):\n    return a - b\n"},
    ]
    inp, out = write_jsonl(tmp_path / "s.jsonl", rows), tmp_path / "labeled.jsonl"
    assert main(["verify", "--task", "taco", "--split", "test", "--source", str(fixture),
                 "--input", str(inp), "--output", str(out), "--allow-code-execution",
                 "--workers", "1"]) == 0
    assert [r["status"] for r in read_jsonl(out)] == ["passed", "failed", "passed", "failed"]


# ---------------------------------------------------------- bench verify: plumbing, toy verifier


class ParityVerifier:
    """Test-only verifier: reward 1 when the sample's length parity matches ``reference['even']``;
    raises on the sample ``"boom"`` (to test error isolation)."""

    def __init__(self, *, bonus: float = 0.0) -> None:
        self.bonus = bonus

    def verify(self, sample: str, reference: Mapping[str, Any]) -> Verdict:
        if sample == "boom":
            raise RuntimeError("cannot verify boom")
        if sample == "misconfigured":
            raise TaskConfigError("toy reference lacks a field")
        ok = (len(sample) % 2 == 0) == reference["even"]
        return Verdict(1.0 + self.bonus if ok else 0.0, "scored", f"len {len(sample)}")


TOY_TASK = """\
task: toy
version: 1
dataset:
  splits:
    test: {local: data.jsonl}
process_docs: !function hooks.process_docs
prompt: {kind: text, template: "$name"}
verifier: {name: toy_parity, options: {bonus: 0.5}}
reward: real
"""


@pytest.fixture()
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("HARDBENCH_ROOT", str(tmp_path))
    folder = tmp_path / "tasks" / "toy"
    folder.mkdir(parents=True)
    (folder / "task.yaml").write_text(TOY_TASK)
    (folder / "hooks.py").write_text(
        "def process_docs(rows, split, filters):\n"
        "    return [{'query_id': r['name'], 'name': r['name'], 'even': r['even']} for r in rows]\n")
    write_jsonl(folder / "data.jsonl", [{"name": "q-even", "even": True}, {"name": "q-odd", "even": False}])
    VERIFIERS.register("toy_parity", ParityVerifier)
    yield tmp_path
    VERIFIERS.unregister("toy_parity")


TOY_SAMPLES = [
    {"query_id": "q-even", "sample": "ab", "keep": 1},     # even, wanted even -> 1.5
    {"query_id": "q-even", "sample": "abc", "keep": 2},    # odd -> 0
    {"query_id": "q-odd", "response": "abc", "keep": 3},   # odd, wanted odd -> 1.5
    {"query_id": "q-odd", "sample": "boom", "keep": 4},    # verifier raises -> error
    {"query_id": "q-odd", "sample": "", "keep": 5},        # even length 0 -> 0
]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_verify_toy_rewards_by_hand(toy: Path, workers: str, capsys: pytest.CaptureFixture[str]) -> None:
    inp, out = write_jsonl(toy / "s.jsonl", TOY_SAMPLES), toy / "out" / "labeled.jsonl"
    assert main(["verify", "--task", "toy", "--input", str(inp), "--output", str(out),
                 "--workers", workers, "--chunk-size", "2"]) == 0
    labeled = read_jsonl(out)
    assert [r["keep"] for r in labeled] == [1, 2, 3, 4, 5]          # extra keys kept, in order
    assert [r["reward"] for r in labeled] == [1.5, 0.0, 1.5, 0.0, 0.0]
    assert [r["status"] for r in labeled] == ["scored"] * 3 + ["error", "scored"]
    assert labeled[3]["detail"] == "verifier raised RuntimeError: cannot verify boom"
    summary = capsys.readouterr().out
    assert "scored" in summary and "4  (80.0%)" in summary and "1  (20.0%)" in summary


def test_verify_resumes_from_partial_output(toy: Path) -> None:
    inp, out = write_jsonl(toy / "s.jsonl", TOY_SAMPLES), toy / "labeled.jsonl"
    # an interrupted run left two labeled rows (marked so we can see they are reused) and a torn line
    done = [{**TOY_SAMPLES[0], "reward": 9.0, "status": "scored", "detail": "from before"},
            {**TOY_SAMPLES[1], "reward": 9.0, "status": "scored", "detail": "from before"}]
    partial = toy / "labeled.jsonl.partial"
    partial.write_text("".join(json.dumps(r) + "\n" for r in done) + '{"query_id": "q-o')
    assert main(["verify", "--task", "toy", "--input", str(inp), "--output", str(out),
                 "--workers", "1", "--resume"]) == 0
    labeled = read_jsonl(out)
    assert [r["detail"] for r in labeled[:2]] == ["from before", "from before"]
    assert [r["reward"] for r in labeled] == [9.0, 9.0, 1.5, 0.0, 0.0]
    assert not partial.exists()


def test_verify_resume_refuses_a_changed_input(toy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inp, out = write_jsonl(toy / "s.jsonl", TOY_SAMPLES), toy / "labeled.jsonl"
    (toy / "labeled.jsonl.partial").write_text(json.dumps({**TOY_SAMPLES[1], "reward": 0.0}) + "\n")
    assert main(["verify", "--task", "toy", "--input", str(inp), "--output", str(out), "--resume"]) == 2
    assert "does not match input row 1" in capsys.readouterr().err


def test_unknown_verifier_suggests_the_closest(toy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    yaml_path = toy / "tasks" / "toy" / "task.yaml"
    yaml_path.write_text(TOY_TASK.replace("toy_parity", "toy_parrity"))
    inp = write_jsonl(toy / "s.jsonl", TOY_SAMPLES[:1])
    assert main(["verify", "--task", "toy", "--input", str(inp), "--output", str(toy / "o")]) == 2
    assert "unknown verifier 'toy_parrity' (did you mean 'toy_parity'?)" in capsys.readouterr().err


def test_bad_verifier_options_are_reported(toy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    yaml_path = toy / "tasks" / "toy" / "task.yaml"
    yaml_path.write_text(TOY_TASK.replace("bonus: 0.5", "malus: 1"))
    inp = write_jsonl(toy / "s.jsonl", TOY_SAMPLES[:1])
    assert main(["verify", "--task", "toy", "--input", str(inp), "--output", str(toy / "o"),
                 "--workers", "2"]) == 2
    assert "verifier 'toy_parity': bad options {'malus': 1}" in capsys.readouterr().err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_set_up_error_stops_the_run(toy: Path, workers: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    inp = write_jsonl(toy / "s.jsonl", [*TOY_SAMPLES, {"query_id": "q-odd", "sample": "misconfigured"}])
    out = toy / "labeled.jsonl"
    assert main(["verify", "--task", "toy", "--input", str(inp), "--output", str(out),
                 "--workers", workers, "--chunk-size", "2"]) == 2
    assert "toy reference lacks a field" in capsys.readouterr().err
    assert not out.exists()     # the labeled rows so far stay in .partial for --resume
    assert len(read_jsonl(toy / "labeled.jsonl.partial")) == 4


def test_verifier_option_override_strict_rule_matches_openai_exactly(tmp_path: Path) -> None:
    out = tmp_path / "strict.jsonl"
    assert main(["verify", "--task", "gsm8k", "--input", str(GSM8K_SAMPLES), "--output", str(out),
                 "--workers", "1", "--verifier-option", "rule=strict"]) == 0
    labeled = read_jsonl(out)
    assert all(r["reward"] == float(r["openai_is_correct"]) for r in labeled)
    assert sum(r["reward"] for r in labeled) == 223
    assert all("(strict)" in r["detail"] for r in labeled)


@pytest.mark.parametrize(("option", "message"), [
    ("rule", "--verifier-option 'rule': expected KEY=VALUE"),
    ("rule=fuzzy", "unknown rule 'fuzzy'"),
])
def test_bad_verifier_option_override(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      option: str, message: str) -> None:
    assert main(["verify", "--task", "gsm8k", "--input", str(GSM8K_SAMPLES), "--output",
                 str(tmp_path / "o"), "--workers", "1", "--verifier-option", option]) == 2
    assert message in capsys.readouterr().err


# ------------------------------------------------------------- bench verify: HH with a reward model


@pytest.fixture(scope="module")
def tiny_random_deberta_rm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer DeBERTa-v2 reward model (OpenAssistant's architecture) with
    a word-level tokenizer: a test fixture built here, not a trained model."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    words = "[PAD] [UNK] [CLS] [SEP] i you what how is a the to do can not and it of".split()
    vocab = {w: k for k, w in enumerate(words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]")
    config = transformers.DebertaV2Config(
        vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_labels=1, pad_token_id=0, max_position_embeddings=512)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("rm") / "tiny-random-deberta-rm"
    transformers.DebertaV2ForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_verify_hh_with_a_reward_model(tmp_path: Path, tiny_random_deberta_rm: Path) -> None:
    from bench.tasks import load_task
    from bench.verify.chat_rewards import RewardModelScorer
    from bench.verify.base import verify_batch

    queries = load_task("hh").load_queries("test")[:3]
    rows = [{"query_id": q["query_id"], "sample": q[side], "side": side}
            for q in queries for side in ("chosen", "rejected")]
    inp, out = write_jsonl(tmp_path / "s.jsonl", rows), tmp_path / "labeled.jsonl"
    assert main(["verify", "--task", "hh", "--split", "test", "--input", str(inp), "--output", str(out),
                 "--workers", "2",   # capped at 1 by the task's verifier.max_workers
                 "--verifier-option", f"model_name_or_path={tiny_random_deberta_rm}"]) == 0
    labeled = read_jsonl(out)
    assert [r["status"] for r in labeled] == ["scored"] * 6
    # the command hands the verifier the task's reference records (prompt as chat messages)
    scorer = RewardModelScorer(model_name_or_path=str(tiny_random_deberta_rm))
    by_id = {q["query_id"]: q for q in queries}
    direct = verify_batch(scorer, [r["sample"] for r in rows], [by_id[r["query_id"]] for r in rows])
    assert [r["reward"] for r in labeled] == pytest.approx([v.reward for v in direct], abs=1e-5)
    assert len({round(r["reward"], 6) for r in labeled}) > 1


def test_list_features_shows_a_malformed_manifest_as_an_error_row(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.core.fixtures import fixture_bank

    monkeypatch.setenv("HARDBENCH_ROOT", str(tmp_path))
    good = fixture_bank(tmp_path / "tasks" / "t" / "banks" / "good", n_queries=4, n_samples=2)
    assert main(["list", "features"]) == 0
    assert capsys.readouterr().out.startswith("no shipped bank has features: add some")
    bad = fixture_bank(tmp_path / "tasks" / "t" / "banks" / "bad", n_queries=4, n_samples=2)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["features"] = {"emb": "oops"}
    (bad / "manifest.json").write_text(json.dumps(manifest))
    from bench.bank import write_features
    import numpy as np

    write_features(good, "emb", np.ones((4, 2)), {"extractor": "fixture"})
    assert main(["list", "features"]) == 0
    rows = {line.split()[1]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert "ERROR:" in rows["bad"] and rows["good"].split()[2:5] == ["emb", "2", "float32"]
