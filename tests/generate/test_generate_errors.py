"""``bench generate`` / ``bench merge`` input errors: one clear message, nothing written.

Every check here runs before a model is loaded, so no engine is needed.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.generate.models import ResolvedModel
from bench.generate.pipeline import GenerateError, Shard, disk_errors
from bench.generate.plan import plan_run
from bench.tasks import load_task

MODEL = ResolvedModel(name="fixture", location="fixture.gguf", kind="gguf", instruct=True,
                      provenance={"id": "fixture", "sha256": "0" * 64})


def _plan(out: Path, **overrides):
    kwargs = dict(out=out, n=2, temperature=None, top_p=None, max_tokens=None, stop=None, seed=0,
                  splits=None, limit=4, shard=Shard(), source=None, decoder=None)
    kwargs.update(overrides)
    return plan_run(load_task("gsm8k"), MODEL, "llamacpp", **kwargs)


def _run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["generate", *argv])
    return code, capsys.readouterr().err


def test_unknown_task_and_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b"
    code, err = _run_cli(capsys, "--task", "gsm8kk", "--model", "smollm2-135m-instruct", "--out", str(out))
    assert code == 2 and "unknown task 'gsm8kk'" in err and "did you mean 'gsm8k'" in err
    code, err = _run_cli(capsys, "--task", "gsm8k", "--model", "no-such-model", "--out", str(out))
    assert code == 2 and "unknown model 'no-such-model'" in err
    assert not out.exists()


def test_n_beyond_the_task_limit(tmp_path: Path) -> None:
    with pytest.raises(GenerateError, match="beyond task 'gsm8k'.s limit b_max = 16"):
        _plan(tmp_path / "b", n=17)
    assert not (tmp_path / "b").exists()


def test_split_with_no_prompts(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(GenerateError, match="split 'test' has no prompts"):
        _plan(tmp_path / "b", splits=["test"], source=str(empty))
    with pytest.raises(Exception, match="no split 'dev'"):
        _plan(tmp_path / "b", splits=["dev"])
    assert not (tmp_path / "b").exists()


def test_out_folder_of_another_task_or_run(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"task": "math"}))
    with pytest.raises(GenerateError, match="holds a bank of task 'math'"):
        _plan(other)
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("mine")
    with pytest.raises(GenerateError, match="not empty"):
        _plan(stray)
    run = tmp_path / "run"
    (run / ".generate").mkdir(parents=True)
    plan = _plan(run)
    (run / ".generate" / "run.json").write_text(json.dumps({"identity": plan.identity}))
    assert _plan(run).identity == plan.identity          # same settings: resume is allowed
    with pytest.raises(GenerateError, match=r"differs in \['decoding'\]"):
        _plan(run, temperature=0.1)


def test_limit_is_shared_over_splits_and_keeps_dataset_splits(tmp_path: Path) -> None:
    plan = _plan(tmp_path / "b", limit=5)
    assert [r["split"] for r in plan.records] == ["train"] * 3 + ["test"] * 2
    assert plan.split_rule == "dataset"
    only_test = _plan(tmp_path / "b", splits=["test"], limit=30)
    assert only_test.split_rule == "hash"
    assert {r["split"] for r in only_test.records} >= {"train", "test"}


def test_shards_partition_the_queries(tmp_path: Path) -> None:
    whole = [r["query_id"] for r in _plan(tmp_path / "b", limit=9).records]
    parts = [[r["query_id"] for r in _plan(tmp_path / "b", limit=9, shard=Shard(i, 3)).records]
             for i in range(3)]
    assert sorted(sum(parts, [])) == sorted(whole) and all(parts)
    for bad in ("3/3", "a/b", "1", "-1/2"):
        with pytest.raises(GenerateError, match="--shard"):
            Shard.parse(bad)


def test_full_disk_is_one_clear_error() -> None:
    with pytest.raises(GenerateError, match="disk is full"):
        with disk_errors("somewhere"):
            raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(PermissionError):
        with disk_errors("somewhere"):
            raise PermissionError(errno.EACCES, "denied")


def test_merge_needs_two_banks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["merge", str(tmp_path / "a"), "--out", str(tmp_path / "m")]) == 2
    assert "at least two banks" in capsys.readouterr().err


@pytest.mark.parametrize("extra", [["--split", "test"], ["--input", "x.jsonl"], ["--resume"]])
def test_verify_bank_refuses_options_it_would_ignore(tmp_path: Path, extra: list[str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["verify", "--bank", str(tmp_path / "bank"), "--out", str(tmp_path / "out"), *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert f"takes no {extra[0]}" in err and "records the splits" in err
    assert not (tmp_path / "out").exists()


def test_task_generation_stop_and_top_p(tmp_path: Path) -> None:
    from bench.errors import TaskConfigError
    from bench.tasks import parse_task

    base = {"task": "t", "version": 1, "prompt": {"kind": "text", "template": "$q"}}
    task = parse_task(base | {"generation": {"top_p": 0.9, "stop": ["```", "\n\n"]}}, tmp_path / "task.yaml", "t")
    assert task.generation.top_p == 0.9 and task.generation.stop == ("```", "\n\n")
    assert parse_task(base, tmp_path / "task.yaml", "t").generation.stop == ()
    with pytest.raises(TaskConfigError, match="generation.top_p"):
        parse_task(base | {"generation": {"top_p": 0}}, tmp_path / "task.yaml", "t")
    with pytest.raises(TaskConfigError, match="generation.stop"):
        parse_task(base | {"generation": {"stop": [""]}}, tmp_path / "task.yaml", "t")


def test_numina_says_its_data_is_hub_only_and_its_command_plans(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`bench run --task numina` explains why there is no bank and gives one command; that
    command parses and plans (prompts from the hub path, here a fake hub over the fixture rows)."""
    import shlex

    import bench.tasks
    from bench.cli import build_parser

    assert main(["run", "--task", "numina", "--submission", "constant"]) == 2
    err = capsys.readouterr().err
    assert "only on the Hugging Face hub" in err and "AI-MO/NuminaMath-CoT" in err
    command = next(line.strip() for line in err.splitlines() if line.strip().startswith("bench generate"))
    argv = shlex.split(command)[1:]
    args = build_parser(argv).parse_args(argv)
    fixture = Path(__file__).resolve().parents[1] / "tasks/fixtures/numina_fixture_rows.jsonl"
    rows = [json.loads(line) for line in fixture.read_text().splitlines()]
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(bench.tasks, "load_from_hub",
                        lambda name, split, kwargs: calls.append((name, split)) or rows)
    plan = plan_run(load_task(args.task), MODEL, args.backend, out=tmp_path / "numina-bank", n=args.n,
                    temperature=None, top_p=None, max_tokens=None, stop=None, seed=args.seed,
                    splits=args.split, limit=args.limit, shard=Shard(), source=args.source, decoder=None)
    assert calls == [("AI-MO/NuminaMath-CoT", "train"), ("AI-MO/NuminaMath-CoT", "test")]
    assert plan.n == 16 and plan.records and plan.split_rule == "dataset"


def test_llamacpp_threads_default_to_physical_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two hyperthreads of one core count once; a CPU outside the affinity mask is ignored; no
    topology files: half the logical CPUs."""
    from bench.generate.llamacpp import physical_cores

    for cpu, siblings in {0: "0,2", 1: "1,3", 2: "0,2", 3: "1,3", 4: "4"}.items():
        (tmp_path / f"cpu{cpu}" / "topology").mkdir(parents=True)
        (tmp_path / f"cpu{cpu}" / "topology" / "thread_siblings_list").write_text(siblings + "\n")
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert physical_cores(tmp_path) == 2
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 4})
    assert physical_cores(tmp_path) == 3
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3, 5, 6})
    assert physical_cores(tmp_path) == 3   # cpu5 has no topology file: half of 6

