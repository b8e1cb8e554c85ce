"""Integration: result files written by the real ``bench run`` (not fixtures) on the shipped
GSM8K routing bank load, group and render; this catches drift between the scorer and the reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from leaderboard_fixtures import markdown_rows

from bench.cli import main
from bench.leaderboard import build_leaderboard
from bench.leaderboard.collect import collect_results, group_results
from bench.paths import submissions_root, tasks_root

BANK = tasks_root() / "gsm8k" / "banks" / "mixtral-vs-gpt4"


@pytest.mark.skipif(not (BANK / "manifest.json").is_file() or
                    not (submissions_root() / "constant").is_dir(),
                    reason="the shipped gsm8k bank or the constant submission is missing")
def test_leaderboard_from_real_bench_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    assert main(["run", "--task", "gsm8k", "--submission", "constant", "--bootstrap", "50",
                 "--out", str(results)]) == 0
    capsys.readouterr()
    (result,) = collect_results(results)
    assert result.setting == "routing" and result.submission == "constant"
    (group,) = group_results([result])
    assert group.key.bank == "mixtral-vs-gpt4" and len(group.key.bank_sha256) == 64
    written = build_leaderboard(results, tmp_path / "out")
    md = (tmp_path / "out" / "LEADERBOARD.md").read_text(encoding="utf-8")
    rows = markdown_rows(md)
    assert {"constant", "*oracle*", "*random*"} <= set(rows)
    # a constant predictor routes like random: same APGR as the random row, to 3 decimals
    # (first occurrence: the allocation table comes before the predictor table; column 2)
    assert rows["constant"][0][2].split(" ")[0] == rows["*random*"][0][2].split(" ")[0] == "0.500"
    assert any(p.name.endswith("-reward.png") for p in written)
