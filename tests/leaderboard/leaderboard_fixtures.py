"""FIXTURE result files for the leaderboard tests (synthetic numbers, not real benchmark results).

``best_of_k_fixture`` and ``routing_fixture`` build a ``hardbench-result/1`` dictionary whose curves follow simple closed
forms and whose ``summary`` is computed from those curves with the formulas of
docs/result-format.md, so the file is internally consistent.  ``write_fixture_results`` lays
out two banks (a best-of-k one and a routing one), several submissions each, under a folder.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

FIXTURE_SHA_MATH = "f1x70e" + "0" * 58
FIXTURE_SHA_CHAT = "f1x70e" + "1" * 58
BEST_OF_K_BUDGETS = [1.0, 2.0, 4.0, 8.0, 16.0]
ROUTING_BUDGETS = [round(0.1 * i, 1) for i in range(11)]
#: submissions of the fixture banks and their "skill" (share of the uniform-oracle gap closed)
MATH_SUBMISSIONS = {"constant": 0.0, "mlp_probe": 0.6, "lora_probe": 0.8}
CHAT_SUBMISSIONS = {"constant": 0.0, "embed_probe": 0.5, "x<b>\"&'": 0.3}


def _point(budget: float, realized: float, mean: float, half_width: float = 0.03) -> dict[str, float]:
    return {"budget": budget, "realized_budget": realized, "mean": mean,
            "ci_low": mean - half_width, "ci_high": mean + half_width}


def _matched_budget(curve: list[dict[str, float]], target: float) -> float | None:
    """Smallest interpolated realized budget at which ``curve`` reaches ``target``."""
    prev = None
    for p in curve:
        if p["mean"] >= target - 1e-12:
            if prev is None or p["mean"] == prev["mean"]:
                return p["realized_budget"]
            return prev["realized_budget"] + (target - prev["mean"]) * (
                p["realized_budget"] - prev["realized_budget"]) / (p["mean"] - prev["mean"])
        prev = p
    return None


def _area_between(curve: list[dict[str, float]], base: list[dict[str, float]]) -> float:
    xs = [p["budget"] for p in curve]
    d = [p["mean"] - q["mean"] for p, q in zip(curve, base)]
    area = sum((xs[i + 1] - xs[i]) * (d[i] + d[i + 1]) / 2 for i in range(len(xs) - 1))
    return area / (xs[-1] - xs[0])


def _intrinsic(skill: float, target_kind: str) -> dict[str, Any]:
    bins = []
    for i in range(10):
        lo, hi = i / 10, (i + 1) / 10
        pred = (lo + hi) / 2
        bins.append({"bin_low": lo, "bin_high": hi, "count": 5 + (i * 7) % 11,
                     "mean_pred": pred, "mean_target": min(1.0, pred * (0.7 + 0.3 * skill) + 0.05)})
    return {"target_kind": target_kind, "loss_name": "cross_entropy",
            "loss": 0.69 - 0.3 * skill, "loss_avg": 0.69, "loss_opt": 0.3,
            "median_accuracy": 0.5 + 0.4 * skill, "spearman": None if skill == 0 else 0.7 * skill,
            "ece": 0.1 - 0.08 * skill, "reliability": bins}


def best_of_k_fixture(submission: str, skill: float, *, bank: str = "fixture-bank-math",
                      sha: str = FIXTURE_SHA_MATH, seed: int = 0, task: str = "fixture_math"
                      ) -> dict[str, Any]:
    """A best-of-k FIXTURE: uniform 1-0.7*0.8^B, oracle 1-0.7*0.6^B, online in between."""
    uniform = [_point(b, b, 1 - 0.7 * 0.8 ** b) for b in BEST_OF_K_BUDGETS]
    oracle = [_point(b, b, 1 - 0.7 * 0.6 ** b) for b in BEST_OF_K_BUDGETS]
    online = [_point(b, b, u["mean"] + skill * (o["mean"] - u["mean"]))
              for b, u, o in zip(BEST_OF_K_BUDGETS, uniform, oracle)]
    offline = [_point(b, 0.97 * b, u["mean"] + 0.8 * skill * (o["mean"] - u["mean"]))
               for b, u, o in zip(BEST_OF_K_BUDGETS, uniform, oracle)]
    curves = {"online": online, "offline": offline, "uniform": uniform, "oracle": oracle}
    saved, gain, area = {}, {}, {}
    for m in ("online", "offline", "oracle"):
        saved[m] = []
        for b, u in zip(BEST_OF_K_BUDGETS, uniform):
            matched = _matched_budget(curves[m], u["mean"])
            saved[m].append({"budget": b, "matched_budget": matched,
                             "saving_pct": None if matched is None else 100 * (1 - matched / b)})
        gain[m] = [{"budget": p["budget"], "gain": p["mean"] - u["mean"]}
                   for p, u in zip(curves[m], uniform)]
        area[m] = _area_between(curves[m], uniform)
    share = [[0.4 - 0.02 * i, 0.35, 0.25 + 0.02 * i] for i in range(len(BEST_OF_K_BUDGETS))]
    return _envelope(task, bank, sha, submission, "best_of_k", "success_prob", seed,
                     BEST_OF_K_BUDGETS, curves,
                     {"compute_saved": saved, "quality_gain": gain, "area_between_curves": area},
                     _intrinsic(skill, "success_prob"),
                     {"bins": ["easy", "medium", "hard"], "budgets": BEST_OF_K_BUDGETS,
                      "share": share})


def routing_fixture(submission: str, skill: float, *, bank: str = "fixture-bank-chat",
                    sha: str = FIXTURE_SHA_CHAT, seed: int = 0, task: str = "fixture_chat"
                    ) -> dict[str, Any]:
    """A routing FIXTURE: weak 0.5, strong 0.8, random linear, oracle concave."""
    weak, strong = 0.5, 0.8
    rand = [_point(b, b, weak + b * (strong - weak)) for b in ROUTING_BUDGETS]
    oracle = [_point(b, b, weak + math.sqrt(b) * (strong - weak)) for b in ROUTING_BUDGETS]
    online = [_point(b, b, r["mean"] + skill * (o["mean"] - r["mean"]))
              for b, r, o in zip(ROUTING_BUDGETS, rand, oracle)]
    offline = [_point(b, b, r["mean"] + 0.9 * skill * (o["mean"] - r["mean"]))
               for b, r, o in zip(ROUTING_BUDGETS, rand, oracle)]
    curves = {"online": online, "offline": offline, "random": rand, "oracle": oracle}
    apgr, shares, gain, area = {}, {}, {}, {}
    for m in ("online", "offline", "oracle"):
        pgr = [{"budget": p["budget"], "realized_budget": p["budget"],
                "mean": (p["mean"] - weak) / (strong - weak)} for p in curves[m]]
        apgr[m] = _area_between(pgr, [{"mean": 0.0}] * len(pgr))
        shares[m] = {"50": _matched_budget(pgr, 0.5), "80": _matched_budget(pgr, 0.8)}
        gain[m] = [{"budget": p["budget"], "gain": p["mean"] - r["mean"]}
                   for p, r in zip(curves[m], rand)]
        area[m] = _area_between(curves[m], rand)
    summary = {"apgr": apgr, "strong_share_for_pgr": shares, "weak_mean": weak,
               "strong_mean": strong, "quality_gain": gain, "area_between_curves": area}
    return _envelope(task, bank, sha, submission, "routing", "preference", seed,
                     ROUTING_BUDGETS, curves, summary, _intrinsic(skill, "preference"), None)


def _envelope(task: str, bank: str, sha: str, submission: str, setting: str, target_kind: str,
              seed: int, budgets: list[float], curves: dict[str, Any], summary: dict[str, Any],
              intrinsic: dict[str, Any], allocation: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "format": "hardbench-result/1",
        "signature": f"task:{task}|bank:{sha[:8]}|sub:{submission}|split:test|boot:200|"
                     f"seed:{seed}|v:0.1.0",
        "task": task, "bank": bank, "bank_sha256": sha, "submission": submission,
        "setting": setting, "reward": "binary", "target_kind": target_kind, "split": "test",
        "n_queries": 40, "seed": seed, "bootstrap": 200, "offline": {"bins": 10, "fitted_on": "val"},
        "versions": {"hardbench": "0.1.0", "python": "3.11", "numpy": "fixture"},
        "budgets": budgets, "curves": curves, "summary": summary, "intrinsic": intrinsic,
        "allocation_by_bin": allocation,
    }


def write_result(folder: Path, result: dict[str, Any], name: str | None = None) -> Path:
    """Write a FIXTURE result as ``<folder>/<task>/<bank>/<name>.json``."""
    path = folder / result["task"] / result["bank"] / f"{name or result['submission']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=True), encoding="utf-8")
    return path


def write_fixture_results(folder: Path) -> Path:
    """Two FIXTURE banks: best-of-k (3 submissions) and routing (3, one with a hostile name)."""
    for sub, skill in MATH_SUBMISSIONS.items():
        write_result(folder, best_of_k_fixture(sub, skill))
    for i, (sub, skill) in enumerate(CHAT_SUBMISSIONS.items()):
        write_result(folder, routing_fixture(sub, skill), name=f"sub{i}")
    return folder


def markdown_rows(markdown: str) -> dict[str, list[list[str]]]:
    """Every Markdown table row of ``markdown`` as stripped cells, keyed by its submission cell
    (the first cell that is not a rank); unescapes ``\\|`` inside cells."""
    rows: dict[str, list[list[str]]] = {}
    for line in markdown.splitlines():
        if not line.startswith("|") or set(line) <= set("|:- "):
            continue
        cells = [c.strip().replace("\x00", "|") for c in
                 line.replace("\\|", "\x00").strip().strip("|").split("|")]
        name = cells[1] if cells[0].isdigit() or cells[0] == "—" else cells[0]
        rows.setdefault(name, []).append(cells)
    return rows


def _ci_tree(node: Any, half_width: float) -> Any:
    """The ``summary.ci`` of format v2 for a FIXTURE summary: same nesting, each number
    replaced by ``[x - h, x + h]`` (``budget`` keys are kept as the index of a list entry)."""
    if isinstance(node, dict):
        return {k: (v if k == "budget" else _ci_tree(v, half_width)) for k, v in node.items()}
    if isinstance(node, list):
        return [_ci_tree(v, half_width) for v in node]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return [node - half_width, node + half_width]
    return None


def v2_fixture(result: dict[str, Any], *, half_width: float = 0.02, decoders: list[str] | None = None,
               train_bank: str | None = None) -> dict[str, Any]:
    """Turn a FIXTURE v1 result into a format-v2-shaped one (contracts 2 and 3 of the brief):
    ``summary.ci`` (every summary number +- ``half_width``), ``summary.paired_vs_baseline``
    (the online headline's difference to the baseline, interval +- ``half_width``, p = 0.001
    when the interval is above 0, else 0.4), per-query ``predictions``, ``decoders`` and
    ``train_bank``.  Synthetic numbers, not a real run."""
    out = json.loads(json.dumps(result))
    summary = out["summary"]
    summary["ci"] = _ci_tree({k: v for k, v in summary.items() if k != "baseline"}, half_width)
    paired: dict[str, dict[str, Any]] = {}
    if out["setting"] == "routing":
        base_apgr = 0.5  # random routing's APGR, exactly
        paired["apgr"] = _paired(summary["apgr"]["online"] - base_apgr, half_width)
    paired["area_between_curves"] = _paired(summary["area_between_curves"]["online"], half_width)
    summary["paired_vs_baseline"] = {"online": paired}
    out["format"] = "hardbench-result/2"
    out["predictions"] = {"test": {"query_ids": [f"q{i}" for i in range(3)], "values": [0.1, 0.5, 0.9]}}
    out["decoders"] = decoders or (["weak-model", "strong-model"] if out["setting"] == "routing"
                                   else ["sampler-model"])
    out["train_bank"] = train_bank
    return out


def _paired(diff: float, half_width: float) -> dict[str, float]:
    low, high = diff - half_width, diff + half_width
    return {"diff": diff, "ci_low": low, "ci_high": high, "p_le_0": 0.001 if low > 0 else 0.4}
