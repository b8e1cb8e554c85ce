"""Leaderboard tables: values come from the right fields (checked by hand against the FIXTURE's
closed forms), reference rows, PGR helpers, escaping, CSV layout."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from leaderboard_fixtures import best_of_k_fixture, markdown_rows, routing_fixture, write_result

from bench.leaderboard.collect import CurvePoint, collect_results, group_results
from bench.leaderboard.tables import (
    allocation_table,
    format_value,
    pgr_area,
    predictor_table,
    reference_budgets,
    render_csv,
    render_markdown,
    share_for_pgr,
    signed_difference,
    table_markdown,
)


def _groups(folder: Path):
    return {g.key.setting: g for g in group_results(collect_results(folder))}


def _row(table, name):
    return next(r for r in table.rows if r.name == name)


def test_best_of_k_row_matches_hand_computation(fixture_results: Path) -> None:
    # FIXTURE closed forms: uniform u(B) = 1 - 0.7*0.8^B, oracle o(B) = 1 - 0.7*0.6^B,
    # online = u + 0.8*(o - u) for lora_probe (skill 0.8).
    # u(4) = 1 - 0.7*0.4096 = 0.71328, o(4) = 1 - 0.7*0.1296 = 0.90928
    # online(4) = 0.71328 + 0.8*0.196 = 0.87008, gain@4 = 0.1568
    # online reaches u(4) between B=2 (0.552 + 0.8*0.196 = 0.7088) and B=4 (0.87008):
    # B' = 2 + 2*(0.71328 - 0.7088)/(0.87008 - 0.7088) = 2.055556, saved = 100*(1 - B'/4) = 48.61 %
    table = allocation_table(_groups(fixture_results)["best_of_k"])
    lora = _row(table, "lora_probe").values
    assert lora["reward_at_4"] == pytest.approx(0.87008)
    assert lora["gain_online_at_4"] == pytest.approx(0.1568)
    assert lora["saved_online_at_4"] == pytest.approx(100 * (1 - (2 + 2 * 0.00448 / 0.16128) / 4))
    (cells,) = markdown_rows(table_markdown(table))["lora_probe"]
    # rank 1 (best ABC), name, ABC online (v1 file: no stored interval), marks, reward@4 with
    # its curve interval (the FIXTURE's half-width is 0.03), saved@4 online
    assert cells[:2] == ["1", "lora_probe"]
    assert cells[2].endswith(" [—]") and cells[3:5] == ["—", "—"]
    assert cells[5:7] == ["0.870 [0.840, 0.900]", "48.6 [—]"]
    # the constant predictor does no better than uniform: 0 % saved online, 0 gain
    const = _row(table, "constant").values
    assert const["saved_online_at_8"] == pytest.approx(0.0, abs=1e-9)
    assert const["gain_online_at_16"] == pytest.approx(0.0, abs=1e-12)


def test_best_of_k_reference_rows(fixture_results: Path) -> None:
    table = allocation_table(_groups(fixture_results)["best_of_k"])
    # ranked by ABC online (skill 0.8 > 0.6 > 0), then the reference rows
    assert [r.name for r in table.rows] == ["lora_probe", "mlp_probe", "constant", "oracle", "uniform"]
    assert [r.is_reference for r in table.rows] == [False, False, False, True, True]
    oracle, uniform = _row(table, "oracle").values, _row(table, "uniform").values
    assert oracle["reward_at_8"] == pytest.approx(1 - 0.7 * 0.6 ** 8)
    assert oracle.get("saved_offline_at_8") is None  # the oracle fills the online columns only
    assert uniform["reward_at_16"] == pytest.approx(1 - 0.7 * 0.8 ** 16)
    assert uniform["saved_online_at_4"] == 0.0 and uniform["abc_online"] == 0.0
    # oracle >= every submission at every reference budget (sanity of the fixture and the table)
    for row in table.rows[:3]:
        for b in (4, 8, 16):
            assert oracle[f"reward_at_{b}"] >= row.values[f"reward_at_{b}"]


def test_routing_table_and_random_row(fixture_results: Path) -> None:
    table = allocation_table(_groups(fixture_results)["routing"])
    assert [r.name for r in table.rows][-2:] == ["oracle", "random"]
    rand = _row(table, "random").values
    # random routing is linear from weak to strong: PGR(B) = B, so APGR = 0.5,
    # 50 % PGR at share 0.5 and 80 % PGR at share 0.8
    assert rand["apgr_online"] == pytest.approx(0.5)
    assert rand["share_pgr50_online"] == pytest.approx(0.5)
    assert rand["share_pgr80_online"] == pytest.approx(0.8)
    probe = _row(table, "embed_probe").values
    # online = random + 0.5*(oracle - random); at share 0.5: 0.65 + 0.5*(0.5+sqrt(.5)*0.3 - 0.65)
    assert probe["reward_at_0.5"] == pytest.approx(0.65 + 0.5 * (0.5 + 0.5 ** 0.5 * 0.3 - 0.65))
    assert _row(table, "oracle").values["apgr_online"] > probe["apgr_online"] > rand["apgr_online"]


def test_stored_random_summary_is_shown_not_recomputed(tmp_path: Path) -> None:
    # bench run also stores the baseline's APGR and shares; the table must show those values
    result = routing_fixture("a", 0.5)
    result["summary"]["apgr"]["random"] = 0.4321
    result["summary"]["strong_share_for_pgr"]["random"] = {"50": 0.55, "80": None}
    write_result(tmp_path, result)
    rand = _row(allocation_table(group_results(collect_results(tmp_path))[0]), "random").values
    assert (rand["apgr_online"], rand["share_pgr50_online"], rand["share_pgr80_online"]) == (0.4321, 0.55, None)


def test_predictor_table(fixture_results: Path) -> None:
    table = predictor_table(_groups(fixture_results)["best_of_k"])
    mlp = _row(table, "mlp_probe").values
    assert (mlp["loss"], mlp["loss_avg"], mlp["loss_opt"]) == pytest.approx((0.69 - 0.18, 0.69, 0.3))
    assert _row(table, "constant").values["spearman"] is None
    assert markdown_rows(table_markdown(table))["constant"] == [[
        "constant", "cross_entropy", "0.6900 [—]", "0.6900 [—]", "0.3000 [—]", "0.500 [—]", "—",
        "0.100 [—]"]]


def test_reference_budgets() -> None:
    assert reference_budgets("best_of_k", [1, 2, 4, 8, 16, 32, 64]) == (4.0, 8.0, 16.0)
    assert reference_budgets("best_of_k", [1, 2, 4, 8]) == (4.0, 8.0)
    assert reference_budgets("best_of_k", [0.5, 1, 1.5, 2, 3]) == (0.5, 1.5, 3.0)
    assert reference_budgets("routing", [i / 10 for i in range(11)]) == (0.2, 0.5, 0.8)
    # only 0.5 of the preferred shares is on this grid: evenly spaced positive shares instead
    # (indices round(0), round(1.5) = 2, round(3) of the 4 positive shares)
    assert reference_budgets("routing", [0, 0.25, 0.5, 0.75, 1]) == (0.25, 0.75, 1.0)


def _curve(points: list[tuple[float, float]]) -> list[CurvePoint]:
    return [CurvePoint(b, b, m, m, m) for b, m in points]


def test_pgr_helpers_by_hand() -> None:
    # weak 0, strong 1, PGR at shares 0, .5, 1 = 0, .75, 1
    curve = _curve([(0.0, 0.0), (0.5, 0.75), (1.0, 1.0)])
    # trapezoid: .5*(0+.75)/2 + .5*(.75+1)/2 = .1875 + .4375
    assert pgr_area(curve, 0.0, 1.0) == pytest.approx(0.625)
    assert share_for_pgr(curve, 0.0, 1.0, 0.5) == pytest.approx(0.5 * 0.5 / 0.75)
    assert share_for_pgr(curve, 0.0, 1.0, 0.8) == pytest.approx(0.5 + 0.5 * 0.05 / 0.25)
    assert share_for_pgr(curve, 0.0, 1.0, 0.0) == 0.0
    assert share_for_pgr(_curve([(0.0, 0.0), (1.0, 0.6)]), 0.0, 1.0, 0.8) is None
    assert pgr_area(curve, 0.5, 0.5) is None and share_for_pgr(curve, 0.5, 0.5, 0.5) is None


def test_format_value() -> None:
    assert format_value(None, "pct") == "—"
    assert format_value(48.6111, "pct") == "48.6"
    assert format_value(-0.00001, "reward") == "0.000"
    assert format_value(0.12345, "loss") == "0.1235"


def test_markdown_escapes_user_text(tmp_path: Path) -> None:
    write_result(tmp_path, routing_fixture("x|<img src=x onerror=alert(1)>", 0.3), name="evil")
    md = render_markdown(group_results(collect_results(tmp_path)), "0.1.0")
    row = next(l for l in md.splitlines() if l.startswith("|") and "onerror" in l)
    assert "<img" not in md
    assert "| x\\|&lt;img src=x onerror=alert(1)&gt; |" in row
    n_columns = len(allocation_table(group_results(collect_results(tmp_path))[0]).columns)
    assert len(markdown_rows(md)["x|&lt;img src=x onerror=alert(1)&gt;"][0]) == n_columns


def test_csv_one_row_per_submission_and_reference(fixture_results: Path) -> None:
    groups = group_results(collect_results(fixture_results))
    rows = list(csv.DictReader(io.StringIO(render_csv(groups))))
    assert [(r["task"], r["row"], r["row_kind"], r["rank"]) for r in rows] == [
        ("fixture_chat", "embed_probe", "submission", "1"), ("fixture_chat", "x<b>\"&'", "submission", "2"),
        ("fixture_chat", "constant", "submission", "3"), ("fixture_chat", "oracle", "reference", ""),
        ("fixture_chat", "random", "reference", ""),
        ("fixture_math", "lora_probe", "submission", "1"), ("fixture_math", "mlp_probe", "submission", "2"),
        ("fixture_math", "constant", "submission", "3"), ("fixture_math", "oracle", "reference", ""),
        ("fixture_math", "uniform", "reference", "")]
    lora = rows[5]
    # curve intervals are in every format; summary intervals are absent in v1 files
    assert float(lora["reward_at_4_ci_low"]) == pytest.approx(0.87008 - 0.03)
    assert lora["abc_online_ci_low"] == "" and lora["vs_baseline"] == "—"
    assert lora["bank_sha256"] == "f1x70e" + "0" * 58 and lora["harness_version"] == "0.1.0"
    assert float(lora["reward_at_4"]) == pytest.approx(0.87008)
    assert lora["loss"] == "0.45" and lora["apgr_online"] == ""
    assert rows[8]["loss"] == ""  # reference rows carry no predictor metrics


def test_budget_missing_from_summary_shows_dash(tmp_path: Path) -> None:
    result = best_of_k_fixture("a", 0.5)
    result["summary"]["compute_saved"]["online"] = [
        p for p in result["summary"]["compute_saved"]["online"] if p["budget"] != 8.0]
    result["summary"]["compute_saved"]["offline"][3]["saving_pct"] = None
    result["summary"]["compute_saved"]["offline"][3]["matched_budget"] = None
    write_result(tmp_path, result)
    table = allocation_table(group_results(collect_results(tmp_path))[0])
    row = _row(table, "a").values
    assert row["saved_online_at_8"] is None and row["saved_offline_at_8"] is None
    assert row["saved_online_at_4"] is not None


def test_a_significant_difference_never_reads_as_zero() -> None:
    """math/pika-k50: logistic is significantly worse than mlp-probe by 0.00046 ABC; the mark read
    ``worse (+0.000, p=0.999)``.  Float noise around an exact tie still reads +0.000."""
    from bench.leaderboard.paired import Paired
    from bench.leaderboard.tables import _mark

    assert _mark(Paired(-0.00046256, -0.00073, -0.00018, 0.999)) == "worse (-0.00046, p=0.999)"
    assert _mark(Paired(0.0412, 0.01, 0.07, 0.002)) == "better (+0.041, p=0.002)"
    assert signed_difference(-7e-19) == signed_difference(6.9e-19) == signed_difference(0.0) == "+0.000"
    assert signed_difference(-0.0005) == "-0.001" and signed_difference(0.00049) == "+0.00049"
