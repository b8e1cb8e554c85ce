"""Result format v2 in the leaderboard (FIXTURE files shaped by contracts 2 and 3 of the brief):
intervals beside every summary number, paired marks, ranking, size warnings, grouping by
decoders and train bank, the transfer section, and the paired-comparison adapter."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from leaderboard_fixtures import (
    best_of_k_fixture,
    markdown_rows,
    routing_fixture,
    v2_fixture,
    write_result,
)

from bench.leaderboard.collect import collect_results, group_results
from bench.leaderboard.paired import COMPARE_FUNCTION, paired_comparison
from bench.leaderboard.tables import (
    allocation_table,
    group_warnings,
    render_markdown,
    render_text,
)


def _one_group(folder: Path):
    (group,) = group_results(collect_results(folder))
    return group


def _row(table, name):
    return next(r for r in table.rows if r.name == name)


def test_v2_numbers_carry_their_intervals_and_baseline_marks(tmp_path: Path) -> None:
    for sub, skill in {"strong": 0.8, "weak": 0.05, "none": 0.0}.items():
        write_result(tmp_path, v2_fixture(routing_fixture(sub, skill)))
    table = allocation_table(_one_group(tmp_path))
    strong = _row(table, "strong")
    apgr = strong.values["apgr_online"]
    assert strong.intervals["apgr_online"] == pytest.approx((apgr - 0.02, apgr + 0.02))
    # per-budget numbers: the interval of the matching list entry
    gain = strong.values["gain_online_at_0.5"]
    assert strong.intervals["gain_online_at_0.5"] == pytest.approx((gain - 0.02, gain + 0.02))
    assert strong.values["vs_baseline"].startswith("better (+")
    assert strong.values["vs_baseline"].endswith(", p=0.001)")
    # skill 0.05: APGR barely above 0.5, its paired interval contains 0
    assert _row(table, "weak").values["vs_baseline"].startswith("n.s. (+")
    # the row-above mark needs bench.compare (not here): unavailable, the top row has none
    assert [r.values["vs_above"] for r in table.rows[:3]] == ["—", "—", "—"]
    md = render_markdown([_one_group(tmp_path)], "0.1.0")
    cells = markdown_rows(md)["strong"][0]
    assert cells[2] == f"{apgr:.3f} [{apgr - 0.02:.3f}, {apgr + 0.02:.3f}]"
    assert "[—]" not in markdown_rows(md)["strong"][0][2:]  # v2: no missing interval
    assert "No intervals" not in md


def test_rows_are_ranked_by_the_headline(tmp_path: Path) -> None:
    for sub, skill in {"a": 0.2, "b": 0.9, "c": 0.5}.items():
        write_result(tmp_path, best_of_k_fixture(sub, skill))
    table = allocation_table(_one_group(tmp_path))
    assert [r.name for r in table.rows] == ["b", "c", "a", "oracle", "uniform"]
    assert [r.values.get("rank") for r in table.rows] == [1.0, 2.0, 3.0, None, None]
    text = render_text([_one_group(tmp_path)])
    assert "ranked by ABC online" in text
    names = [line.split()[1] for line in text.splitlines()
             if re.match(r"^\s*\d+\s+\S+\s+-?\d\.\d{3} ", line)]
    assert names == ["b", "c", "a"]


def test_warnings_small_split_and_noisy_ranking(tmp_path: Path) -> None:
    # two submissions whose APGRs differ by less than their interval width (0.2)
    for sub, skill in {"x": 0.30, "y": 0.32}.items():
        write_result(tmp_path, v2_fixture(routing_fixture(sub, skill), half_width=0.1))
    warnings = group_warnings(_one_group(tmp_path))
    assert any(w.startswith("Too small to rank: only 40 test queries") for w in warnings)
    assert any(w.startswith("Too noisy to rank") for w in warnings)


def test_no_noise_warning_when_rows_are_far_apart(tmp_path: Path) -> None:
    for sub, skill in {"x": 0.0, "y": 0.9}.items():
        result = v2_fixture(routing_fixture(sub, skill), half_width=0.01)
        result["n_queries"] = 400
        write_result(tmp_path, result)
    assert group_warnings(_one_group(tmp_path)) == []


def test_v1_files_show_missing_intervals_and_a_note(tmp_path: Path) -> None:
    write_result(tmp_path, routing_fixture("old", 0.5))
    md = render_markdown([_one_group(tmp_path)], "0.1.0")
    assert markdown_rows(md)["old"][0][2].endswith(" [—]")
    assert "No intervals for summary numbers of old (result format v1" in md


def test_sections_split_by_decoders_and_train_bank(tmp_path: Path) -> None:
    write_result(tmp_path, v2_fixture(routing_fixture("p", 0.5)))
    write_result(tmp_path, v2_fixture(routing_fixture("p", 0.4), decoders=["weak-model", "other"]),
                 name="p-other")
    write_result(tmp_path, v2_fixture(routing_fixture("p", 0.3), train_bank="another-bank"),
                 name="p-transfer")
    groups = group_results(collect_results(tmp_path))
    assert sorted((g.key.decoders, g.key.train_bank) for g in groups) == [
        (("weak-model", "other"), ""), (("weak-model", "strong-model"), ""),
        (("weak-model", "strong-model"), "another-bank")]
    md = render_markdown(groups, "0.1.0")
    main, transfer = md.split("# Transfer: predictors trained on another bank")
    assert main.count("\n## ") == 2 and transfer.count("\n## ") == 1
    assert "(trained on another-bank)" in transfer and "weak-model → other" in main
    assert "None yet" not in transfer


def test_transfer_section_says_none_yet(tmp_path: Path) -> None:
    write_result(tmp_path, routing_fixture("p", 0.5))
    md = render_markdown(group_results(collect_results(tmp_path)), "0.1.0")
    assert md.rstrip().endswith("None yet: no result was scored with `bench run --train-bank`.")


def test_adapter_uses_bench_compare_for_the_row_above(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []

    def paired_metrics(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        calls.append((a["submission"], b["submission"]))
        diff = a["summary"]["apgr"]["online"] - b["summary"]["apgr"]["online"]
        return {"online": {"apgr": {"diff": diff, "ci_low": diff - 0.01, "ci_high": diff + 0.01,
                                    "p_le_0": 0.0}}}

    module, _, function = COMPARE_FUNCTION.partition(":")
    monkeypatch.setitem(sys.modules, module, types.SimpleNamespace(**{function: paired_metrics}))
    for sub, skill in {"top": 0.9, "mid": 0.5}.items():
        write_result(tmp_path, v2_fixture(routing_fixture(sub, skill)))
    table = allocation_table(_one_group(tmp_path))
    assert calls == [("mid", "top")]
    assert _row(table, "mid").values["vs_above"].startswith("worse (-")
    assert _row(table, "top").values["vs_above"] == "—"


def test_adapter_without_compare_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, COMPARE_FUNCTION.partition(":")[0], None)  # import fails
    v1 = routing_fixture("a", 0.5)
    assert paired_comparison(v1, None) is None  # v1: nothing stored
    stats = paired_comparison(v2_fixture(v1), None)
    assert stats is not None and stats["apgr"].verdict == "better"
    assert paired_comparison(v2_fixture(v1), v2_fixture(v1)) is None  # needs bench.compare
