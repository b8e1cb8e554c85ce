"""scripts/compare_features.py: one probe on each feature of a bank, compared paired."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from bench.bank import load_bank, write_features
from bench.paths import project_root

sys.path.insert(0, str(project_root() / "scripts"))
from make_fixture_portfolio_bank import make_bank  # noqa: E402


def test_an_informative_feature_beats_pure_noise(tmp_path: Path) -> None:
    """FIXTURE bank: ``fixture-noisy-difficulty`` is the queries' difficulty plus noise, the
    added ``fixture-pure-noise`` carries none; the paired comparison must call noise worse."""
    bank_dir = make_bank(tmp_path / "bank", n_queries=600)
    n_queries = len(load_bank(bank_dir).queries)
    noise = np.random.default_rng(1).normal(size=(n_queries, 4))
    write_features(bank_dir, "fixture-pure-noise", noise, {"extractor": "FIXTURE: Gaussian noise"},
                   storage="float16")
    out = subprocess.run(
        [sys.executable, str(project_root() / "scripts" / "compare_features.py"), "--task", "math",
         "--bank", str(bank_dir), "--submission", "logistic", "--bootstrap", "200",
         "--features", "fixture-noisy-difficulty", "fixture-pure-noise", "--out", str(tmp_path / "results")],
        capture_output=True, text=True, timeout=600, cwd=project_root())
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "fixture-portfolio, logistic" in lines[0] and "200 paired bootstrap replicates" in lines[0]
    informative, noisy = lines[1], lines[2]
    assert informative.split()[0] == "fixture-noisy-difficulty" and "vs" not in informative
    assert noisy.split()[0] == "fixture-pure-noise" and noisy.endswith("(worse)")
    written = sorted(p.name for p in (tmp_path / "results").rglob("*.json"))
    assert written == ["logistic[fixture-noisy-difficulty].json", "logistic[fixture-pure-noise].json"]


def test_bad_feature_lists_are_refused_before_any_run(tmp_path: Path) -> None:
    bank_dir = make_bank(tmp_path / "bank", n_queries=60)
    script = str(project_root() / "scripts" / "compare_features.py")
    for features, message in ((["fixture-noisy-difficulty", "nope"], "no features ['nope']"),
                              (["fixture-noisy-difficulty", "fixture-noisy-difficulty"], "two or more distinct")):
        out = subprocess.run([sys.executable, script, "--task", "math", "--bank", str(bank_dir),
                              "--features", *features, "--out", str(tmp_path / "results")],
                             capture_output=True, text=True, timeout=120, cwd=project_root())
        assert out.returncode == 2 and message in out.stderr
        assert not (tmp_path / "results").exists()
