"""Predictions-file submissions: ``predictions/<task>/<bank>.parquet``, aligned by query id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.errors import PredictorContractError
from bench.submissions import load_submission, run_submission

from conftest import build_views


def _submission(tmp_path: Path, frame: pd.DataFrame | None) -> Path:
    folder = tmp_path / "offline-probe"
    (folder / "predictions" / "gsm8k-fixture").mkdir(parents=True)
    (folder / "submission.yaml").write_text("name: offline-probe\nkind: predictions\n")
    if frame is not None:
        frame.to_parquet(folder / "predictions" / "gsm8k-fixture" / "fixture.parquet")
    return folder


def _frame(target_kind: str, seed: int = 0) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Predictions for every query of the fixture bank (train rows too), shuffled."""
    train, test, _ = build_views(target_kind)
    ids = np.concatenate([train.query_ids, test.query_ids])
    rng = np.random.default_rng(seed)
    if target_kind == "marginal_rewards":
        values = rng.uniform(size=(len(ids), 4))
        frame = pd.DataFrame({f"delta_{j + 1}": values[:, j] for j in range(4)})
    else:
        values = rng.uniform(size=len(ids))
        frame = pd.DataFrame({"prediction": values})
    frame.insert(0, "query_id", ids)
    frame["notes"] = "extra columns are ignored"
    order = rng.permutation(len(ids))
    return frame.iloc[order].reset_index(drop=True), dict(zip(ids, values))


@pytest.mark.parametrize("target_kind", ["success_prob", "marginal_rewards", "preference"])
def test_predictions_come_back_in_test_order(tmp_path: Path, target_kind: str) -> None:
    frame, by_id = _frame(target_kind)
    train, test, _ = build_views(target_kind)
    out = run_submission(load_submission(str(_submission(tmp_path, frame))), train, test)
    np.testing.assert_array_equal(out, np.array([by_id[i] for i in test.query_ids]))


def _error(tmp_path: Path, frame: pd.DataFrame | None, target_kind: str = "success_prob",
           bank_dir: Path | None = None) -> str:
    train, test, _ = build_views(target_kind)
    with pytest.raises(PredictorContractError) as info:
        run_submission(load_submission(str(_submission(tmp_path, frame))), train, test,
                       bank_dir=bank_dir)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    assert "no predictions file for task 'gsm8k-fixture', bank 'fixture'" in _error(tmp_path, None)


def test_missing_asked_ids(tmp_path: Path) -> None:
    frame, _ = _frame("success_prob")
    frame = frame[frame["query_id"] != "gsm8k-test-0070"]
    assert "no prediction for 1 of the 32 asked queries: 'gsm8k-test-0070'" in _error(tmp_path, frame)


def test_unknown_ids(tmp_path: Path) -> None:
    frame, _ = _frame("success_prob")
    frame.loc[0, "query_id"] = "math-test-0001"
    assert "query_id(s) not in bank 'fixture': 'math-test-0001'" in _error(tmp_path, frame)


def test_unknown_ids_checked_against_the_bank_folder(tmp_path: Path) -> None:
    frame, _ = _frame("success_prob")
    bank = tmp_path / "bank"
    bank.mkdir()
    kept = sorted(frame["query_id"])[:-1]  # the bank lacks one id that the file has
    pd.DataFrame({"query_id": kept}).to_parquet(bank / "queries.parquet")
    missing = sorted(frame["query_id"])[-1]
    assert f"not in bank 'fixture': {missing!r}" in _error(tmp_path, frame, bank_dir=bank)


def test_duplicate_ids(tmp_path: Path) -> None:
    frame, _ = _frame("success_prob")
    frame = pd.concat([frame, frame.iloc[[3]]])
    assert f"duplicate query_id(s) {frame.iloc[3]['query_id']!r}" in _error(tmp_path, frame)


def test_nan_and_out_of_range(tmp_path: Path) -> None:
    train, test, _ = build_views("success_prob")
    frame, _ = _frame("success_prob")
    frame.loc[frame["query_id"] == test.query_ids[5], "prediction"] = np.nan
    assert "1 NaN or infinite values (first at row 5)" in _error(tmp_path / "a", frame)
    frame, _ = _frame("success_prob")
    frame.loc[frame["query_id"] == test.query_ids[2], "prediction"] = -0.25
    assert "success_prob values outside [0, 1] (min -0.25" in _error(tmp_path / "b", frame)


def test_wrong_columns(tmp_path: Path) -> None:
    frame, _ = _frame("marginal_rewards")
    message = _error(tmp_path, frame.drop(columns=["delta_4"]), "marginal_rewards")
    assert "missing column(s) delta_4; a marginal_rewards bank needs query_id, delta_1, " in message


def test_text_prediction_column_is_refused_not_coerced(tmp_path: Path) -> None:
    """Bug 4 of issue 11: a column of numbers written as text ("0.5") was silently read as floats."""
    frame, _ = _frame("success_prob")
    frame["prediction"] = frame["prediction"].map(lambda v: f"{v:.3f}")
    assert "prediction column(s) ['prediction'] are not numeric" in _error(tmp_path, frame)
