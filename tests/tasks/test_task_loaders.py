"""Loaders on the real local copies (GSM8K, MATH, HH, LMSYS) and on schema fixtures (TACO,
Numina), plus the hub code path with an injected fake ``load_dataset``."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bench.errors import TaskConfigError
from bench.tasks import load_task, task_hooks

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"


class FakeHub:
    """Stands in for ``datasets.load_dataset``: records the call, returns given rows."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows, self.calls = rows, []

    def __call__(self, hub_name: str, split: str, hub_kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
        self.calls.append((hub_name, split, dict(hub_kwargs)))
        return self.rows


# ------------------------------------------------------------------------------------- GSM8K


def test_gsm8k_real_test_split() -> None:
    queries = load_task("gsm8k").load_queries("test")
    assert len(queries) == 1319
    first = queries[0]
    assert first["query_id"] == "gsm8k-test-00000"
    assert first["answer"] == "18"          # Janet's ducks: 16 - 3 - 4 = 9 eggs at $2
    assert first["prompt"][0]["role"] == "user"
    assert first["prompt"][0]["content"].startswith("Janet’s ducks lay 16 eggs per day.")
    assert all(re.fullmatch(r"-?[\d.]+", q["answer"]) for q in queries)


def test_gsm8k_strips_thousands_separators() -> None:
    final_answer = task_hooks("gsm8k").final_answer
    assert final_answer("so 1,000 + 200 = 1,200\n#### 1,200") == "1200"
    with pytest.raises(ValueError, match="no '####'"):
        final_answer("no marker")


def test_gsm8k_train_split_and_hub_path_agree_on_ids() -> None:
    task = load_task("gsm8k")
    local = task.load_queries("train")
    assert len(local) == 7473
    raw = [json.loads(line) for line in (task.directory / "data" / "train.jsonl").open()][:3]
    hub = FakeHub(raw)
    from_hub = task.load_queries("train", "hub", hub_loader=hub)
    assert hub.calls == [("openai/gsm8k", "train", {"name": "main"})]
    assert from_hub == local[:3]


# -------------------------------------------------------------------------------------- MATH


def test_math_real_test_split() -> None:
    queries = load_task("math").load_queries("test")
    assert len(queries) == 5000
    by_id = {q["query_id"]: q for q in queries}
    assert by_id["test/algebra/1.json"]["answer"] == "2"   # "...has $\boxed{2}$ vertical asymptotes"
    assert all(q["answer"] for q in queries)
    assert by_id["test/algebra/1.json"]["prompt"][0]["content"].endswith(
        "put your final answer within \\boxed{}.")


def test_math_train_split_is_shipped_gzipped() -> None:
    queries = load_task("math").load_queries("train")
    assert len(queries) == 7500 and queries[0]["query_id"].startswith("train/")


@pytest.mark.parametrize(("text", "expected"), [
    (r"so $\boxed{\frac{1}{2}}$", r"\frac{1}{2}"),
    (r"\boxed{1} then \boxed{2}", "2"),
    (r"\fbox{7}", "7"),
    (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),
    (r"$\boxed 5$", "5"),
    ("no box", None),
    (r"\boxed{unclosed", None),
])
def test_last_boxed(text: str, expected: str | None) -> None:
    assert task_hooks("math").last_boxed(text) == expected


def test_math_hub_rows_recover_unique_ids_by_problem_text() -> None:
    task = load_task("math")
    local = task.load_queries("test")[:2]
    hub_rows = [{k: v for k, v in json.loads(line).items() if k != "unique_id"}
                for line in list((task.directory / "data" / "test.jsonl").open())[:2]]
    hub_rows.append({"problem": "A problem not in MATH.", "level": "Level 1", "type": "Algebra",
                     "solution": r"It is $\boxed{4}$."})
    hub = FakeHub(hub_rows)
    queries = task.load_queries("test", "hub", hub_loader=hub)
    assert hub.calls == [("DigitalLearningGmbH/MATH-lighteval", "test", {})]
    assert [q["query_id"] for q in queries[:2]] == [q["query_id"] for q in local]
    assert re.fullmatch(r"math-[0-9a-f]{16}", queries[2]["query_id"])


# ------------------------------------------------------------------------------------ Numina


def test_numina_fixture_filters_multiple_choice_and_unverifiable() -> None:
    queries = load_task("numina").load_queries("train", FIXTURES / "numina_fixture_rows.jsonl")
    problems = [q["problem"] for q in queries]
    # dropped: cn_k12 "A: ... D:" (answer C), AMC \textbf{(A)}..(E) options, no \boxed, duplicate.
    assert problems == [
        "FIXTURE: Find $x$ if $2x + 1 = 7$.",
        "FIXTURE: Compute $\\frac{1}{2} + \\frac{1}{4}$.",
        "FIXTURE: Points A, B, C and D lie on a line in that order. If AB = 2, BC = 3 and CD = 4, find AD.",
    ]
    assert [q["answer"] for q in queries] == ["3", "\\frac{3}{4}", "9"]
    assert all(re.fullmatch(r"numina-[0-9a-f]{16}", q["query_id"]) for q in queries)


def test_numina_source_filters_and_hub_path() -> None:
    task = load_task("numina")
    rows = [json.loads(line) for line in (FIXTURES / "numina_fixture_rows.jsonl").open()]
    hub = FakeHub(rows)
    filtered = task_hooks("numina").process_docs(rows, "train", {"exclude_sources": ["math"]})
    assert "math" not in {q["source"] for q in filtered} and len(filtered) == 2
    assert len(task.load_queries("train", hub_loader=hub)) == 3   # no local copy: hub by default
    assert hub.calls == [("AI-MO/NuminaMath-CoT", "train", {})]


@pytest.mark.parametrize(("answer", "letter"), [
    ("C", "C"), ("(D)", "D"), (r"\text{B}", "B"), (r"\textbf{(A)}", "A"), (r"\mathrm{(E)}", "E"),
    ("12", None), ("x = 3", None), (r"\frac{1}{2}", None), ("F", None),
])
def test_numina_answer_letter(answer: str, letter: str | None) -> None:
    assert task_hooks("numina").answer_letter(answer) == letter


# -------------------------------------------------------------------------------------- TACO


def test_taco_fixture_filters_and_prompt() -> None:
    queries = load_task("taco").load_queries("train", FIXTURES / "taco_fixture_rows.jsonl")
    # kept: row 0 (codeforces) and row 4 (codewars, call-based); dropped: geeksforgeeks, aizu,
    # no tests, no input_output.  Ids count rows before filtering.
    assert [q["query_id"] for q in queries] == ["taco-train-00000", "taco-train-00004"]
    assert queries[0]["input_output"] == {"inputs": ["5\n"], "outputs": ["120\n"]}
    assert queries[1]["fn_name"] == "add"
    assert queries[1]["prompt"].endswith("def add(a, b):\n\t\nUse Call-Based format\nANSWER:\n")


def test_taco_prompt_matches_tacos_own_generation_prompt() -> None:
    """Row 0 holds the real statement of TACO test problem 0; TACO's published prompt for it is
    in taco_generation_example.json, reproduced here byte for byte."""
    queries = load_task("taco").load_queries("test", FIXTURES / "taco_fixture_rows.jsonl")
    expected_tail = ("-----Examples-----\nInput\n5\n\nOutput\n120\nUse Standard Input format\nANSWER:\n")
    prompt = queries[0]["prompt"]
    assert prompt.startswith("\nQUESTION:\nThe city park of IT City contains n east to west paths")
    assert prompt.endswith(expected_tail)


def test_taco_hub_is_the_default_source() -> None:
    rows = [json.loads(line) for line in (FIXTURES / "taco_fixture_rows.jsonl").open()]
    hub = FakeHub(rows)
    assert len(load_task("taco").load_queries("test", hub_loader=hub)) == 2
    assert hub.calls == [("BAAI/TACO", "test", {})]


def test_taco_hub_records_say_their_tests_are_the_hidden_ones() -> None:
    hub = FakeHub([json.loads(line) for line in (FIXTURES / "taco_fixture_rows.jsonl").open()])
    queries = load_task("taco").load_queries("test", hub_loader=hub)
    assert [q["query_id"] for q in queries] == ["taco-test-00000", "taco-test-00004"]
    assert {q["tests_source"] for q in queries} == {"hidden_tests"}


def test_taco_test_public_is_local_and_keeps_the_hub_ids() -> None:
    """The offline split reads tasks/taco/data (never the hub); its ids are the hub's test ids,
    so a bank made offline can be verified again online with the hidden tests."""
    def no_hub(*args: Any) -> list[dict[str, Any]]:
        raise AssertionError("test_public must not touch the hub")

    task = load_task("taco")
    queries = task.load_queries("test_public", hub_loader=no_hub)
    assert len(queries) == 675
    assert queries[0]["query_id"] == "taco-test-00000" and queries[-1]["query_id"] == "taco-test-00999"
    assert queries[0]["input_output"] == {"inputs": ["5\n"], "outputs": ["120\n"]}
    assert {q["tests_source"] for q in queries} == {"statement_examples"}
    assert all(q["fn_name"] is None and q["call_format"] == "Use Standard Input format" for q in queries)
    # the default split of `bench generate` / `bench verify` offline is the shipped one
    from bench.commands.verify import default_splits

    assert default_splits(task) == ["test_public"]


def test_taco_test_public_is_hash_split_into_bank_splits() -> None:
    """One dataset split: `bench generate` gives each query the project's hash split."""
    from bench.bank import split_by_id
    from bench.generate.pipeline import Shard, select_records

    records, rule = select_records(load_task("taco"), ["test_public"], 50, Shard())
    assert rule == "hash" and len(records) == 50
    assert all(r["split"] == split_by_id(r["query_id"]) and r["source_split"] == "test_public" for r in records)
    assert {r["split"] for r in records} == {"train", "val", "test"}


def test_taco_bank_provenance_names_the_kind_of_tests() -> None:
    """A bank's manifest says which tests its verdicts came from (bench.generate.pipeline)."""
    from bench.generate.pipeline import Shard, select_records, tests_provenance

    public, _ = select_records(load_task("taco"), ["test_public"], 3, Shard())
    assert tests_provenance(public) == {"tests_source": ["statement_examples"]}
    hub = FakeHub([json.loads(line) for line in (FIXTURES / "taco_fixture_rows.jsonl").open()])
    assert tests_provenance(load_task("taco").load_queries("test", hub_loader=hub)) == {"tests_source": ["hidden_tests"]}
    assert tests_provenance(load_task("gsm8k").load_queries("test")[:3]) == {}


def test_taco_chat_prompt_asks_for_one_program_in_a_code_block() -> None:
    task = load_task("taco").with_prompt("chat")
    assert task.generation.stop == ("\n```\n",)
    first = task.load_queries("test_public")[0]
    (message,) = first["prompt"]
    assert message["role"] == "user"
    assert message["content"].startswith("Solve the following programming problem in Python 3.\n\n"
                                         "The city park of IT City")
    assert message["content"].endswith("reads the input from standard input and prints the answer to standard "
                                       "output. Reply with the whole program in one ```python code block.")
    # a call-based hub problem is asked for its function, with the starter code shown
    hub = FakeHub([json.loads(line) for line in (FIXTURES / "taco_fixture_rows.jsonl").open()])
    call = task.load_queries("test", hub_loader=hub)[1]["prompt"][0]["content"]
    assert "def add(a, b):" in call and "your function is called directly" in call


def test_taco_mismatched_tests_are_rejected() -> None:
    with pytest.raises(ValueError, match="2 inputs but 1 outputs"):
        task_hooks("taco").parse_tests('{"inputs": ["1", "2"], "outputs": ["1"]}')


def test_missing_hub_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_datasets(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "datasets":
            raise ImportError("no datasets here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(TaskConfigError, match="needs the 'datasets' package"):
        load_task("taco").load_queries("test")


# ---------------------------------------------------------------------------------------- HH


def hh_rows() -> list[dict[str, str]]:
    path = load_task("hh").directory / "data" / "test.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_hh_real_prompts_are_the_shared_prefix() -> None:
    rows = hh_rows()
    queries = load_task("hh").load_queries("test")
    assert len(rows) == 2312
    assert len(queries) == len({q["prompt_text"] for q in queries}) == 2310  # 2 repeated prompts
    for q in queries:
        assert q["prompt_text"].endswith("\n\nAssistant:")
        assert q["prompt"][0]["role"] == "user" and q["prompt"][-1]["role"] == "user"
    for row in rows:
        text = task_hooks("hh").shared_prompt(row["chosen"], row["rejected"])
        chosen, rejected = row["chosen"][len(text):], row["rejected"][len(text):]
        assert row["chosen"].startswith(text) and row["rejected"].startswith(text)
        # what follows is one final assistant reply each, and the two replies differ
        assert "\n\nHuman:" not in chosen and "\n\nHuman:" not in rejected
        assert chosen != rejected


def test_hh_first_real_row() -> None:
    first = load_task("hh").load_queries("test")[0]
    assert first["prompt"][:2] == [
        {"role": "user", "content": "what are some pranks with a pen i can do?"},
        {"role": "assistant", "content": "Are you looking for practical joke ideas?"},
    ]
    assert first["prompt"][-1] == {"role": "user",
                                   "content": "okay some of these do not have anything to do with pens"}


def test_hh_hub_path_uses_harmless_base() -> None:
    hub = FakeHub(hh_rows()[:5])
    assert len(load_task("hh").load_queries("train", hub_loader=hub)) == 5
    assert hub.calls == [("Anthropic/hh-rlhf", "train", {"data_dir": "harmless-base"})]


# ------------------------------------------------------------------------------------- LMSYS


def lmsys_rows() -> list[dict[str, Any]]:
    path = load_task("lmsys").directory / "data" / "lmsys_1000.jsonl"
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def test_lmsys_real_sample_filters() -> None:
    rows = lmsys_rows()
    assert len(rows) == 191
    queries = load_task("lmsys").load_queries("sample")
    # brute force: the paper's filters written out directly on the raw rows
    placeholder = re.compile(r"\bNAME_\d+\b")
    expected = [r["conversation_id"] for r in rows
                if r["language"] == "English" and r["turn"] < 10
                and not any(placeholder.search(t["content"]) for t in r["conversation"])]
    assert [q["query_id"] for q in queries] == expected
    assert len(expected) == 92     # 176 conversations have < 10 turns; 84 of them carry NAME_<n>
    for q, row in zip(queries, (r for r in rows if r["conversation_id"] in set(expected))):
        assert q["prompt"] == [{"role": "user", "content": row["conversation"][0]["content"]}]


def test_lmsys_redacted_column_wins_when_present() -> None:
    rows = lmsys_rows()[:4]
    for i, row in enumerate(rows):
        row["turn"] = 3
        row["redacted"] = i % 2 == 1      # hub rows carry the flag; text is ignored then
        row["conversation"] = [{"role": "user", "content": "Hi NAME_1"},
                               {"role": "assistant", "content": "Hello"}]
    rows[0]["language"] = "German"
    hub = FakeHub(rows)
    queries = load_task("lmsys").load_queries("train", hub_loader=hub)
    assert [q["query_id"] for q in queries] == [rows[2]["conversation_id"]]
    assert hub.calls == [("lmsys/lmsys-chat-1m", "train", {})]


def test_lmsys_sample_split_has_no_hub_copy() -> None:
    with pytest.raises(TaskConfigError, match="split 'sample' has no hub source"):
        load_task("lmsys").load_queries("sample", "hub")


# -------------------------------------------------------------------------------------- MBPP


def test_mbpp_splits_follow_mbpps_id_ranges() -> None:
    task = load_task("mbpp")
    sizes = {split: len(task.load_queries(split)) for split in ("train", "validation", "test")}
    assert sizes == {"train": 120, "validation": 43, "test": 257}   # SOURCES.md: sanitized set
    ids = {split: [int(r["query_id"].split("/")[1]) for r in task.load_queries(split)] for split in sizes}
    assert min(ids["test"]) >= 11 and max(ids["test"]) <= 510
    assert min(ids["train"]) >= 601


def test_mbpp_prompt_shows_one_test_and_verifier_gets_all() -> None:
    record = next(r for r in load_task("mbpp").load_queries("test") if r["query_id"] == "MBPP/11")
    assert record["prompt"].endswith('assert remove_Occ("hello","l") == "heo"\n[BEGIN]\n')
    assert record["test_list"][0] == record["first_test"] and len(record["test_list"]) == 3


def test_mbpp_hub_path_asks_for_the_sanitized_config() -> None:
    rows = json.loads((Path(__file__).resolve().parents[2] / "tasks/mbpp/data/sanitized-mbpp.json").read_text())
    hub = FakeHub([r for r in rows if 11 <= r["task_id"] <= 510])
    queries = load_task("mbpp").load_queries("test", "hub", hub_loader=hub)
    assert hub.calls == [("google-research-datasets/mbpp", "test", {"name": "sanitized"})]
    assert len(queries) == 257


# ---------------------------------------------------------------------------- prompt variants


def test_prompt_variant_replaces_prompt_and_stop_strings() -> None:
    task = load_task("mbpp")
    assert task.with_prompt(None).generation.stop == ("[DONE]",)      # the default prompt's own
    chat = task.with_prompt("chat")
    assert chat.prompt.kind == "chat" and chat.generation.stop == ("\n```\n",)
    messages = chat.load_queries("test")[0]["prompt"]
    assert messages[0]["role"] == "user" and "```python code block" in messages[0]["content"]
    with pytest.raises(TaskConfigError, match="no prompt 'fewshot'.*default, chat"):
        task.with_prompt("fewshot")
