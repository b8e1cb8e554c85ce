"""build_leaderboard and ``bench leaderboard``: every output is written, reruns are byte-identical,
PNGs carry no version metadata, stale plots are removed, errors reach the CLI as one line."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from leaderboard_fixtures import best_of_k_fixture, markdown_rows, write_fixture_results, write_result

from bench.cli import main
from bench.leaderboard import build_leaderboard


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _png_text_keys(data: bytes) -> list[str]:
    """Keys of the tEXt/iTXt/zTXt chunks of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    keys, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        if kind in (b"tEXt", b"iTXt", b"zTXt"):
            keys.append(data[pos + 8:pos + 8 + length].split(b"\0", 1)[0].decode("latin-1"))
        pos += 12 + length
    return keys


def test_writes_every_output(built_leaderboard: tuple[Path, list[Path]]) -> None:
    out, written = built_leaderboard
    names = {p.relative_to(out).as_posix() for p in written}
    assert {"LEADERBOARD.md", "leaderboard.csv", "site/index.html", "site/leaderboard.csv"} <= names
    plots = sorted(n for n in names if n.startswith("plots/"))
    # one reward plot per bank; calibration per submission (6); Figure 6 per best-of-k submission (3)
    assert sum(n.endswith("-reward.png") for n in plots) == 2
    assert sum(n.endswith("-calibration.png") for n in plots) == 6
    assert sum(n.endswith("-allocation.png") for n in plots) == 3
    assert {f"site/{n}" for n in plots} <= names
    assert written == sorted(written) and all(p.is_file() for p in written)
    md = (out / "LEADERBOARD.md").read_text(encoding="utf-8")
    for sub in ("constant", "mlp_probe", "lora_probe", "embed_probe", "*oracle*", "*uniform*", "*random*"):
        assert sub in markdown_rows(md)
    assert "bank sha256: `f1x70e000000`" in md and "harness: `0.1.0`" in md


def test_plot_pngs_have_no_software_metadata(built_leaderboard: tuple[Path, list[Path]]) -> None:
    out, written = built_leaderboard
    pngs = [p for p in written if p.suffix == ".png"]
    assert pngs
    for png in pngs:
        keys = _png_text_keys(png.read_bytes())
        assert "Software" not in keys and "Creation Time" not in keys, (png.name, keys)


def test_rebuild_is_byte_identical_and_path_independent(tmp_path: Path) -> None:
    a_res = write_fixture_results(tmp_path / "a" / "results")
    b_res = write_fixture_results(tmp_path / "elsewhere" / "b" / "res")
    build_leaderboard(a_res, tmp_path / "a" / "out")
    build_leaderboard(b_res, tmp_path / "elsewhere" / "b" / "out")
    first, second = _tree(tmp_path / "a" / "out"), _tree(tmp_path / "elsewhere" / "b" / "out")
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], name
        assert str(tmp_path).encode() not in first[name], name
    # rebuilding in place changes nothing either
    build_leaderboard(a_res, tmp_path / "a" / "out")
    assert _tree(tmp_path / "a" / "out") == first


def test_outputs_may_live_in_the_results_folder(fixture_results: Path) -> None:
    build_leaderboard(fixture_results, fixture_results)
    before = _tree(fixture_results)
    build_leaderboard(fixture_results, fixture_results)  # its own outputs are not read as results
    assert _tree(fixture_results) == before


def test_stale_plots_are_removed(tmp_path: Path) -> None:
    results = write_fixture_results(tmp_path / "results")
    out = tmp_path / "out"
    build_leaderboard(results, out)
    (results / "fixture_math" / "fixture-bank-math" / "mlp_probe.json").unlink()
    (out / "notes.txt").write_text("kept", encoding="utf-8")
    build_leaderboard(results, out)
    assert not any("mlp_probe" in p.name for p in out.rglob("*.png"))
    assert "mlp_probe" not in (out / "LEADERBOARD.md").read_text(encoding="utf-8")
    assert (out / "notes.txt").read_text(encoding="utf-8") == "kept"


def test_missing_allocation_and_reliability_skip_those_plots(tmp_path: Path) -> None:
    result = best_of_k_fixture("marginal", 0.5)
    result["allocation_by_bin"] = None
    result["target_kind"] = result["intrinsic"]["target_kind"] = "marginal_rewards"
    result["intrinsic"].update(loss_name="mse", ece=None, reliability=[])
    write_result(tmp_path / "results", result)
    build_leaderboard(tmp_path / "results", tmp_path / "out")
    plots = sorted(p.name for p in (tmp_path / "out" / "plots").iterdir())
    assert len(plots) == 1 and plots[0].endswith("-reward.png")  # no calibration, no Figure 6
    rows = markdown_rows((tmp_path / "out" / "LEADERBOARD.md").read_text(encoding="utf-8"))
    predictor_row = next(r for r in rows["marginal"] if r[1] == "mse")
    assert predictor_row[-1] == "—"  # no ECE for marginal-reward vectors


def test_cli_writes_the_leaderboard(fixture_results: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "board"
    assert main(["leaderboard", "--results", str(fixture_results), "--out", str(out)]) == 0
    assert (out / "site" / "index.html").is_file() and (out / "leaderboard.csv").is_file()
    assert "wrote 26 files" in capsys.readouterr().out


def test_cli_reports_a_bad_result_file_in_one_line(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "results" / "t" / "b"
    bad.mkdir(parents=True)
    (bad / "x.json").write_text(json.dumps({"format": "hardbench-result/0"}), encoding="utf-8")
    assert main(["leaderboard", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("bench leaderboard: error: t/b/x.json: field 'format' is 'hardbench-result/0'; "
                   "this leaderboard reads 'hardbench-result/1' and 'hardbench-result/2'")
    assert not (tmp_path / "o").exists()
