"""Bad submissions get one clear error and no predictions; good ones come back in order."""

from __future__ import annotations

import re
import subprocess
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from bench.errors import PredictorContractError, SubmissionError, UnknownNameError
from bench.predictors.isolation import bwrap_works
from bench.submissions import available_submissions, load_submission, run_submission

from conftest import build_views, write_submission

GOOD = """
import numpy as np

class Probe:
    def __init__(self, value=0.25):
        self.value = value

    def fit(self, train):
        self.n_ = len(train.query_ids)
        return self

    def predict(self, test):
        return np.full(len(test.query_ids), self.value)
"""

# (case id, predictor code, expected error class, regex the one-line message must match)
BAD_CASES = [
    ("import-error", "import no_such_module_hardbench\n", SubmissionError,
     r"could not be imported: ModuleNotFoundError: No module named 'no_such_module_hardbench'"
     r" \(predictor\.py, line 1\)"),
    ("missing-class", "X = 1\n", SubmissionError, r"could not be imported: AttributeError"),
    ("bad-init", GOOD.replace("self.value = value", "raise ValueError('bad param')"),
     SubmissionError, r"failed in __init__: ValueError: bad param \(predictor\.py, line 6\)"),
    ("fit-raises", GOOD.replace("self.n_ = len(train.query_ids)", "raise RuntimeError('boom in fit')"),
     SubmissionError, r"failed in fit\(\): RuntimeError: boom in fit"),
    ("fit-exits", GOOD.replace("self.n_ = len(train.query_ids)", "import sys; sys.exit(0)"),
     SubmissionError, r"failed in fit\(\): SystemExit"),
    ("predict-raises", GOOD.replace("return np.full", "raise KeyError('oops'); np.full"),
     SubmissionError, r"failed in predict\(\): KeyError: 'oops'"),
    ("predict-not-numeric", GOOD.replace("np.full(len(test.query_ids), self.value)", "['a', 'b']"),
     SubmissionError, r"failed in predict\(\): TypeError: predict\(\) returned something"),
    ("wrong-count", GOOD.replace("len(test.query_ids)", "len(test.query_ids) - 1"),
     PredictorContractError, r"returned 31 predictions of shape \(31,\); expected shape \(32,\)"),
    ("nan", GOOD.replace("self.value)", "np.nan)"), PredictorContractError, r"32 NaN or infinite"),
    ("inf", GOOD.replace("self.value)", "np.inf)"), PredictorContractError, r"NaN or infinite"),
    ("out-of-range", GOOD.replace("self.value)", "1.5)"), PredictorContractError,
     r"values outside \[0, 1\] \(min 1\.5, max 1\.5\)"),
    ("crash", GOOD.replace("self.n_ = len(train.query_ids)", "import os; os._exit(7)"),
     SubmissionError, r"exited with status 7 without writing predictions"),
]


@pytest.mark.parametrize("case,code,error,pattern", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_submission_one_clear_error(tmp_path: Path, case: str, code: str, error: type,
                                        pattern: str) -> None:
    train, test, _ = build_views("success_prob")
    sub = load_submission(str(write_submission(tmp_path / case, code)))
    with pytest.raises(error) as info:
        run_submission(sub, train, test, timeout_s=60, echo=False)
    message = str(info.value)
    assert "\n" not in message, message
    assert re.search(pattern, message), message
    if error is SubmissionError:
        assert message.startswith(f"submission {case!r} "), message


def test_wrong_vector_length(tmp_path: Path) -> None:
    train, test, _ = build_views("marginal_rewards")
    code = GOOD.replace("np.full(len(test.query_ids), self.value)",
                        "np.zeros((len(test.query_ids), 3))")
    sub = load_submission(str(write_submission(tmp_path / "short", code)))
    with pytest.raises(PredictorContractError, match=r"vectors of length 3; expected b_max = 4"):
        run_submission(sub, train, test, timeout_s=60, echo=False)


@pytest.mark.parametrize("mode", ["process", "bwrap"])
def test_timeout_kills_the_child_and_its_children(tmp_path: Path, mode: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if mode == "bwrap" and not bwrap_works():
        pytest.skip("bubblewrap is not usable here")
    monkeypatch.setenv("HARDBENCH_ISOLATION", mode)
    # the grandchild carries a unique marker in its command line, visible in the host's ps
    marker = f"hardbench-test-survivor-{uuid.uuid4().hex}"
    code = GOOD.replace(
        "self.n_ = len(train.query_ids)",
        "import subprocess, sys, time\n"
        f"        subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)', {marker!r}])\n"
        "        time.sleep(60)",
    )
    sub = load_submission(str(write_submission(tmp_path / "sleepy", code)))
    train, test, _ = build_views("success_prob")

    def running() -> bool:
        ps = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True)
        return marker in ps.stdout

    with pytest.raises(SubmissionError, match=r"^submission 'sleepy' timed out after 1\.5 s \(killed\)$"):
        run_submission(sub, train, test, timeout_s=1.5, echo=False)
    time.sleep(0.5)
    assert not running(), "a grandchild of the submission survived the timeout"


def test_ps_sees_a_submissions_grandchild(tmp_path: Path) -> None:
    """Positive control for the test above: while the submission runs, ps shows the marker."""
    marker = f"hardbench-test-visible-{uuid.uuid4().hex}"
    code = GOOD.replace(
        "self.n_ = len(train.query_ids)",
        "import subprocess, sys\n"
        f"        subprocess.run([sys.executable, '-c', 'import time; time.sleep(3)', {marker!r}])\n"
        "        self.n_ = len(train.query_ids)",
    )
    sub = load_submission(str(write_submission(tmp_path / "visible", code)))
    train, test, _ = build_views("success_prob")
    seen: list[bool] = []

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ps = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True)
            if marker in ps.stdout:
                seen.append(True)
                return
            time.sleep(0.2)
        seen.append(False)

    watcher = threading.Thread(target=watch)
    watcher.start()
    run_submission(sub, train, test, timeout_s=60, echo=False)
    watcher.join()
    assert seen == [True]


def test_good_submission_and_sibling_import(tmp_path: Path) -> None:
    folder = write_submission(tmp_path / "sib", "from helper import VALUE\n" + GOOD.replace(
        "np.full(len(test.query_ids), self.value)", "np.full(len(test.query_ids), VALUE)"))
    (folder / "helper.py").write_text("VALUE = 0.125\n")
    train, test, _ = build_views("preference")
    out = run_submission(load_submission(str(folder)), train, test, timeout_s=60, echo=False)
    assert out.dtype == np.float64 and out.shape == (32,)
    assert np.all(out == 0.125)


def test_params_reach_the_class(tmp_path: Path) -> None:
    folder = write_submission(tmp_path / "p", GOOD, params={"value": 0.75})
    train, test, _ = build_views("success_prob")
    out = run_submission(load_submission(str(folder)), train, test, timeout_s=60, echo=False)
    assert np.all(out == 0.75)


def test_load_submission_errors(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match=r"unknown submission 'nope-xyz'; available: .*constant"):
        load_submission("nope-xyz")
    folder = tmp_path / "k"
    folder.mkdir()
    (folder / "submission.yaml").write_text("kind: weights\n")
    with pytest.raises(SubmissionError, match=r"submission\.yaml: kind 'weights'; expected one of"):
        load_submission(str(folder))
    (folder / "submission.yaml").write_text("kind: code\nentry: predictor\n")
    with pytest.raises(SubmissionError, match=r"entry 'predictor'; expected 'module:Class'"):
        load_submission(str(folder))
    (folder / "submission.yaml").write_text("kind: code\nentry: 'missing:Cls'\n")
    with pytest.raises(SubmissionError, match=r"missing\.py does not exist"):
        load_submission(str(folder))
    (folder / "submission.yaml").write_text("kind: code\nparams: [1, 2]\n")
    with pytest.raises(SubmissionError, match=r"params must be a mapping"):
        load_submission(str(folder))
    (folder / "submission.yaml").write_text("kind: code\nentry: 'm:C'\nparams: {when: 2024-01-01}\n")
    (folder / "m.py").write_text("")
    with pytest.raises(SubmissionError, match=r"params must be plain YAML values"):
        load_submission(str(folder))
    (folder / "submission.yaml").write_text("kind: [unclosed\n")
    with pytest.raises(SubmissionError, match=r"invalid YAML"):
        load_submission(str(folder))


def test_builtins_listed_and_template_hidden() -> None:
    names = available_submissions()
    assert {"constant", "logistic", "mlp-probe", "lora-probe"} <= set(names)
    assert not any(n.startswith("_") for n in names)


def test_constant_matches_train_mean() -> None:
    train, test, _ = build_views("marginal_rewards")
    out = run_submission(load_submission("constant"), train, test, timeout_s=60, echo=False)
    expected = train.targets[train.splits == "train"].mean(axis=0)
    np.testing.assert_allclose(out, np.tile(expected, (len(test), 1)))


@pytest.mark.parametrize("target_kind", ["success_prob", "marginal_rewards", "preference"])
def test_template_runs_as_documented(tmp_path: Path, target_kind: str) -> None:
    import shutil

    from bench.paths import submissions_root
    folder = tmp_path / "my-probe"
    shutil.copytree(submissions_root() / "_template", folder)
    train, test, _ = build_views(target_kind)
    out = run_submission(load_submission(str(folder)), train, test, timeout_s=60, echo=False)
    assert out.shape == ((32, 4) if target_kind == "marginal_rewards" else (32,))
