"""Loading and grouping result files: validation errors name the file and field; rows whose
signatures differ are never ranked together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from leaderboard_fixtures import (
    FIXTURE_SHA_MATH,
    best_of_k_fixture,
    routing_fixture,
    write_result,
)

from bench.errors import ResultFormatError
from bench.leaderboard.collect import (
    collect_results,
    group_results,
    load_result,
    signature_without_submission,
    slugify,
)


def test_loads_both_settings(fixture_results: Path) -> None:
    results = collect_results(fixture_results)
    assert sorted({r.setting for r in results}) == ["best_of_k", "routing"]
    math = next(r for r in results if r.submission == "mlp_probe")
    assert math.bank_sha256 == FIXTURE_SHA_MATH
    assert math.harness_version == "0.1.0"
    assert math.budgets == (1.0, 2.0, 4.0, 8.0, 16.0)
    assert math.curves["uniform"][2].mean == pytest.approx(1 - 0.7 * 0.8 ** 4)
    assert math.allocation_by_bin is not None and math.allocation_by_bin.bins == ("easy", "medium", "hard")
    assert math.source == "fixture_math/fixture-bank-math/mlp_probe.json"
    chat = next(r for r in results if r.setting == "routing" and r.submission == "embed_probe")
    assert chat.allocation_by_bin is None
    assert chat.summary.weak_mean == 0.5 and chat.summary.strong_mean == 0.8


def test_groups_by_bank_and_sorts_submissions(fixture_results: Path) -> None:
    groups = group_results(collect_results(fixture_results))
    assert [(g.key.task, g.key.setting) for g in groups] == [
        ("fixture_chat", "routing"), ("fixture_math", "best_of_k")]
    assert [r.submission for r in groups[1].results] == ["constant", "lora_probe", "mlp_probe"]
    assert groups[1].key.signature == "task:fixture_math|bank:f1x70e00|split:test|boot:200|seed:0|v:0.1.0"


@pytest.mark.parametrize("change", [
    {"bank_sha256": "e" * 64},
    {"seed": 1},
    {"bootstrap": 1000},
    {"split": "dev"},
    {"versions": {"hardbench": "0.2.0"}},
    {"offline": {"bins": 5, "fitted_on": "val"}},
])
def test_differing_signature_settings_make_separate_groups(tmp_path: Path, change: dict) -> None:
    write_result(tmp_path, best_of_k_fixture("a", 0.5))
    other = best_of_k_fixture("b", 0.6)
    other.update(change)
    write_result(tmp_path, other)
    groups = group_results(collect_results(tmp_path))
    assert len(groups) == 2
    assert sorted(len(g.results) for g in groups) == [1, 1]
    assert groups[0].key.slug() != groups[1].key.slug()


def test_duplicate_submission_in_one_group_is_refused(tmp_path: Path) -> None:
    write_result(tmp_path, best_of_k_fixture("a", 0.5), name="a")
    write_result(tmp_path, best_of_k_fixture("a", 0.6), name="a_copy")
    with pytest.raises(ResultFormatError, match=r"a\.json and .*a_copy\.json.*'a'"):
        group_results(collect_results(tmp_path))


def test_disagreeing_oracle_curves_are_refused(tmp_path: Path) -> None:
    write_result(tmp_path, best_of_k_fixture("a", 0.5))
    other = best_of_k_fixture("b", 0.6)
    other["curves"]["oracle"][3]["mean"] += 0.01
    write_result(tmp_path, other)
    with pytest.raises(ResultFormatError, match=r"'oracle' curves differ at budget 8.0"):
        group_results(collect_results(tmp_path))


def _write_raw(tmp_path: Path, obj: object, name: str = "r.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def test_unknown_format_version_is_refused_naming_the_file(tmp_path: Path) -> None:
    result = routing_fixture("a", 0.2)
    result["format"] = "hardbench-result/3"
    path = _write_raw(tmp_path, result, "future.json")
    with pytest.raises(ResultFormatError, match=r"future\.json: field 'format' is 'hardbench-result/3'"):
        load_result(path, tmp_path)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda r: r["summary"].pop("apgr"), r"missing field 'summary\.apgr'"),
    (lambda r: r["intrinsic"].__setitem__("loss", "low"), r"'intrinsic\.loss' must be a finite number, got 'low'"),
    (lambda r: r["curves"]["random"].pop(), r"'curves\.random' has 10 points for 11 budgets"),
    (lambda r: r.__setitem__("setting", "beam"), r"'setting' is 'beam'"),
    (lambda r: r.__setitem__("n_queries", 0), r"'n_queries' must be an integer >= 1"),
    (lambda r: r["curves"]["online"][1].__setitem__("budget", 0.15), r"'curves\.online\[1\]\.budget' is 0\.15"),
])
def test_malformed_fields_are_named(tmp_path: Path, edit, message: str) -> None:
    result = routing_fixture("a", 0.2)
    edit(result)
    path = _write_raw(tmp_path, result)
    with pytest.raises(ResultFormatError, match=message):
        load_result(path, tmp_path)


def test_nan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nan.json"
    result = best_of_k_fixture("a", 0.1)
    result["intrinsic"]["loss"] = float("nan")
    text = json.dumps(result)
    assert '"loss": NaN' in text
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ResultFormatError, match=r"nan\.json: not a readable JSON result file"):
        load_result(path, tmp_path)


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ResultFormatError, match="no result files"):
        collect_results(tmp_path)


def test_signature_without_submission() -> None:
    assert signature_without_submission("task:t|bank:ab|sub:x|seed:0") == "task:t|bank:ab|seed:0"


def test_slugify_keeps_safe_names_and_separates_unsafe_ones() -> None:
    assert slugify("mlp_probe-2.v1") == "mlp_probe-2.v1"
    assert slugify("a/b") != slugify("a_b")
    assert slugify("../../etc") .startswith("_.._etc-")
    assert "/" not in slugify("x/../y") and not slugify("..").startswith(".")


@pytest.mark.parametrize(("signature", "submission", "expected"), [
    ("task:t|sub:a|seed:0", "a", "task:t|seed:0"),
    ("task:t|sub:a|b|seed:0", "a|b", "task:t|seed:0"),
    ("task:t|seed:0|sub:a", "a", "task:t|seed:0"),
    ("sub:a|task:t", "a", "task:t"),
    ("task:t|sub:other|seed:0", "a", "task:t|seed:0"),
])
def test_signature_without_named_submission(signature: str, submission: str, expected: str) -> None:
    assert signature_without_submission(signature, submission) == expected
