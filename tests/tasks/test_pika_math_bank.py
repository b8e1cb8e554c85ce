"""``math/pika-k50`` and ``pika-linear-probe``: rebuilt from the raw files, checked against SOURCES.md."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys

import numpy as np
import pandas as pd
import pytest

from bench.bank import load_bank
from bench.paths import submissions_root, tasks_root
from bench.runner import RunOptions, run_benchmark
from bench.scoring import choose_decoders, problem_from_bank

BANK = tasks_root() / "math" / "banks" / "pika-k50"
RAW = tasks_root() / "math" / "data" / "pika_math_sr"
PREDICTIONS = submissions_root() / "pika-linear-probe" / "predictions" / "math"

#: mean success rate, lighteval train / test, per decoder: ../shared/data/SOURCES.md (k=50 files).
#: Qwen2.5-Math-1.5B@T0.6's train mean is 0.62746 in the file itself; SOURCES.md prints 0.628.
SOURCES_MEANS = {
    "Qwen2-1.5B-Instruct@T0.6": (0.380, 0.220), "Qwen2-1.5B-Instruct@T1.0": (0.297, 0.171),
    "Qwen2-1.5B@T1.0": (0.151, 0.097), "Qwen2.5-1.5B-Instruct@T1.0": (0.411, 0.380),
    "Qwen2.5-1.5B@T1.0": (0.019, 0.017), "Qwen2.5-7B-Instruct@T0.6": (0.747, 0.714),
    "Qwen2.5-7B-Instruct@T1.0": (0.727, 0.697), "Qwen2.5-7B@T1.0": (0.312, 0.267),
    "Qwen2.5-Math-1.5B-Instruct@T0.6": (0.782, 0.725), "Qwen2.5-Math-1.5B-Instruct@T1.0": (0.746, 0.689),
    "Qwen2.5-Math-1.5B@T0.6": (0.628, 0.543), "Qwen2.5-Math-1.5B@T1.0": (0.435, 0.376),
    "Qwen2.5-Math-7B-Instruct@T0.6": (0.768, 0.787), "Qwen2.5-Math-7B-Instruct@T1.0": (0.516, 0.525),
    "Qwen2.5-Math-7B@T0.6": (0.704, 0.597), "Qwen2.5-Math-7B@T1.0": (0.473, 0.398),
}

#: hand-checked: lighteval row -> MATH unique_id (problem text read in both files), gold answer,
#: and the raw files' success counts (x * 50) for two decoders.
HAND_CHECKED = [
    # (query_id, lighteval split, row, answer, c for Math-7B-Instruct@T0.6, c for Qwen2-1.5B@T1.0)
    ("train/algebra/0.json", "train", 0, "0", 48, 5),             # piecewise f(x), continuous: a+b = 0
    ("train/algebra/2803.json", "train", 1234, "217", 50, 0),     # largest n: 3x^2+nx+72 factors
    ("test/algebra/1.json", "test", 0, "2", 50, 34),              # vertical asymptotes of 2/(x^2+x-6)
    ("test/precalculus/999.json", "test", 4999, r"\begin{pmatrix} 1 \\ -2 \\ -1 \end{pmatrix}", 48, 0),
]


@pytest.fixture(scope="module")
def bank():
    return load_bank(BANK)


def _importer():
    spec = importlib.util.spec_from_file_location("import_pika_math", tasks_root().parent / "scripts" /
                                                  "import_pika_math.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_rebuild_from_raw_files_is_byte_identical(tmp_path):
    importer = _importer()
    rebuilt = importer.build_bank(tmp_path / "pika-k50")
    for name in ("queries.parquet", "counts.parquet"):
        assert (rebuilt / name).read_bytes() == (BANK / name).read_bytes(), name
    committed = json.loads((BANK / "manifest.json").read_text())
    fresh = json.loads((rebuilt / "manifest.json").read_text())
    for m in (committed, fresh):   # features are added later by `bench features`
        m.pop("features")
        m.pop("features_format", None)   # how the feature files are stored: theirs too
        m["files"] = {k: v for k, v in m["files"].items() if not k.startswith("features/")}
    assert fresh == committed
    importer.build_predictions(rebuilt, tmp_path / "sub")
    for path in sorted((tmp_path / "sub" / "predictions" / "math").glob("*.parquet")):
        assert path.read_bytes() == (PREDICTIONS / path.name).read_bytes(), path.name


def test_counts_and_splits(bank):
    assert bank.manifest["format"] == "hardbench-bank/2" and len(bank.queries) == 12_500
    assert len(bank.decoders) == 16 and bank.queries["query_id"].is_unique
    assert bank.default_decoder == "Qwen2.5-Math-7B-Instruct@T0.6"
    assert bank.default_routing == ["Qwen2.5-Math-1.5B-Instruct@T0.6", "Qwen2.5-Math-7B-Instruct@T0.6"]
    q = bank.queries
    assert (q.loc[q.lighteval_split == "test", "split"] == "test").all()
    assert set(q.loc[q.lighteval_split == "train", "split"]) == {"train", "val"}
    assert (q.split == "test").sum() == 5000 and q.query_id[q.split == "test"].str.startswith("test/").all()
    assert 650 < (q.split == "val").sum() < 850
    for decoder in bank.decoders:
        assert (bank.reward_matrix(decoder).counts == 50).all()
    assert {d: c["value"] for d, c in bank.manifest["cost"].items()} == {
        d: (1.5 if "1.5B" in d else 7.0) for d in bank.decoders}


@pytest.mark.parametrize("qid,split,row,answer,c_math7b,c_qwen2_base", HAND_CHECKED)
def test_hand_checked_rows(bank, qid, split, row, answer, c_math7b, c_qwen2_base):
    i = int(np.flatnonzero(bank.queries["query_id"] == qid)[0])
    rec = bank.queries.iloc[i]
    assert (rec["lighteval_split"], rec["lighteval_row"], rec["answer"]) == (split, row, answer)
    for decoder, c in (("Qwen2.5-Math-7B-Instruct@T0.6", c_math7b), ("Qwen2-1.5B@T1.0", c_qwen2_base)):
        m = bank.reward_matrix(decoder)
        assert m.counts[i] == 50 and np.nansum(m.rewards[i]) == c


def test_mean_success_rates_equal_sources_md(bank):
    is_train = (bank.queries["lighteval_split"] == "train").to_numpy()
    assert sorted(bank.decoders) == sorted(SOURCES_MEANS)
    for decoder, (train, test) in SOURCES_MEANS.items():
        lam = problem_from_bank(bank, choice=choose_decoders(bank, decoder=decoder)).targets
        assert lam[is_train].mean() == pytest.approx(train, abs=0.0006), decoder
        assert lam[~is_train].mean() == pytest.approx(test, abs=0.0005), decoder


def test_level_ordering_shows_the_alignment_is_row_exact(bank):
    """SOURCES.md: Qwen2.5-Math-7B-Instruct T0.6 test success by level .945/.879/.852/.782/.620."""
    lam = problem_from_bank(bank).targets
    q = bank.queries
    for level, expected in zip(range(1, 6), (0.945, 0.879, 0.852, 0.782, 0.620)):
        mask = ((q.split == "test") & (q.level == f"Level {level}")).to_numpy()
        assert lam[mask].mean() == pytest.approx(expected, abs=0.0006)


def test_pika_predictions_files(bank):
    files = sorted(PREDICTIONS.glob("pika-k50@*.parquet"))
    assert [f.name for f in files] == sorted(f"pika-k50@{d}.parquet" for d in bank.decoders)
    raw = json.load(gzip.open(RAW / "Qwen-Qwen2.5-Math-7B-Instruct_maxlen_3000_k_50_temp_0.6" /
                              "best_probe_predictions.json.gz", "rt"))
    frame = pd.read_parquet(PREDICTIONS / "pika-k50@Qwen2.5-Math-7B-Instruct@T0.6.parquet").set_index("query_id")
    assert frame["prediction"].between(0, 1).all() and (frame["raw_prediction"] > 1).any()
    assert frame.loc["test/algebra/1.json", "raw_prediction"] == raw["test_predictions"][0]
    assert frame.loc["train/algebra/2803.json", "raw_prediction"] == raw["cv_predictions"][1234]
    assert frame.loc["test/algebra/1.json", "prediction"] == min(1.0, raw["test_predictions"][0])


def test_bench_run_picks_each_decoders_predictions(tmp_path):
    """The probe's test Spearman in our result equals the one PIKA reports for that model."""
    for decoder, folder in (("Qwen2.5-Math-7B-Instruct@T0.6", "Qwen-Qwen2.5-Math-7B-Instruct_maxlen_3000_k_50_temp_0.6"),
                            ("Qwen2-1.5B@T1.0", "Qwen-Qwen2-1.5B_maxlen_3000_k_50_temp_1.0")):
        raw = json.load(gzip.open(RAW / folder / "best_probe_predictions.json.gz", "rt"))
        options = RunOptions(bank="pika-k50", bootstrap=0, budgets=[1, 4], decoder=decoder, out_dir=tmp_path)
        _, result = run_benchmark("math", "pika-linear-probe", options)
        assert result["decoders"] == [decoder]
        # clipping to [0, 1] ties a few predictions, so Spearman moves in the third decimal at most
        assert result["intrinsic"]["spearman"] == pytest.approx(raw["test_score"], abs=0.005)


def test_portfolio_assembles_each_decoders_predictions_file(tmp_path):
    """Portfolio setting: pika-linear-probe's per-decoder columns are its files' test predictions,
    in the --decoders order (here not the bank's), and the run writes a result."""
    from bench.portfolio import portfolio_problem_from_bank
    from bench.predictors.base import TestView
    from bench.predictors.predictions_file import read_per_decoder_predictions
    from bench.runner import run_portfolio_benchmark

    decoders = ["Qwen2.5-Math-7B-Instruct@T0.6", "Qwen2-1.5B@T1.0"]
    _, result = run_portfolio_benchmark("math", "pika-linear-probe",
                                        RunOptions(bank="pika-k50", bootstrap=0, out_dir=tmp_path), decoders=decoders)
    assert result["decoders"] == decoders and result["isolation"] == "predictions-file"
    assert result["n_queries"] == 5000
    problem = portfolio_problem_from_bank(load_bank(BANK), decoders)
    test_ids = problem.query_ids[problem.splits == "test"]
    view = TestView(task="math", bank="pika-k50", setting="portfolio", target_kind="success_prob_per_decoder",
                    b_max=2, query_ids=test_ids, prompts=[""] * len(test_ids), features={},
                    extra={"decoders": decoders, "k_max": problem.k_max})
    got = read_per_decoder_predictions(submissions_root() / "pika-linear-probe", view, problem.query_ids)
    for j, decoder in enumerate(decoders):
        frame = pd.read_parquet(PREDICTIONS / f"pika-k50@{decoder}.parquet").set_index("query_id")
        np.testing.assert_array_equal(got[:, j], frame.loc[test_ids, "prediction"].to_numpy())
