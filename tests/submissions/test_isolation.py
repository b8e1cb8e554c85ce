"""Test labels never reach a submission: the views carry none, and under bubblewrap the child
sees only an allow-list (the Python installation, system libraries, its own folder, the views):
the bank's files, every ``tasks/*/banks`` folder, ``results/``, ``.git`` and every other copy
of the labels on the machine (home, /tmp, a sibling checkout, the shared data folder, the
project root) are invisible to it.

The positive controls (``process`` mode, where a hostile submission *can* read files on disk)
show that the hostile submissions really work, so the bubblewrap assertions can fail.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.paths import project_root
from bench.predictors.isolation import allowed_paths, bwrap_works, hidden_paths
from bench.submissions import load_submission, run_submission

from conftest import build_views, write_submission

needs_bwrap = pytest.mark.skipif(not bwrap_works(), reason="bubblewrap is not usable here")

THIEF = """
import numpy as np
import pandas as pd

class Thief:
    '''Returns the true test targets when it can read the bank's rewards file, else 0.5.'''

    def __init__(self, bank_path=""):
        self.bank_path = bank_path

    def fit(self, train):
        return self

    def predict(self, test):
        try:
            rewards = pd.read_parquet(self.bank_path + "/rewards.parquet").set_index("query_id")
        except (FileNotFoundError, PermissionError, OSError):
            return np.full(len(test.query_ids), 0.5)
        return rewards.loc[list(test.query_ids), "target"].to_numpy()
"""

SPY = """
import ctypes, glob, os, socket, subprocess
import numpy as np

def _readable(path):
    try:
        with open(path, "rb") as fh:
            fh.read(1)
        return True
    except OSError:
        return False

def _online():
    try:
        socket.create_connection(("pypi.org", 443), timeout=2).close()
        return True
    except OSError:
        return False

def _unmount_and_read(bank_path):
    # as root with capabilities, the empty folder over the bank could be unmounted
    subprocess.run(["umount", bank_path], capture_output=True)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.umount2(bank_path.encode(), 2)  # MNT_DETACH
    except OSError:
        pass
    return _readable(os.path.join(bank_path, "rewards.parquet"))

class Spy:
    '''Each prediction slot is one observation (1 = could see it).'''

    def __init__(self, bank_path="", repo_root=""):
        self.bank_path = bank_path
        self.repo_root = repo_root

    def fit(self, train):
        self.splits_ = set(map(str, train.splits))
        self.train_ids_ = set(map(str, train.query_ids))
        return self

    def predict(self, test):
        root = self.repo_root
        obs = [
            _readable(os.path.join(self.bank_path, "rewards.parquet")),           # 0
            bool(glob.glob(os.path.join(root, "tasks", "*", "banks", "*", "*"))),  # 1
            os.path.exists(os.path.join(root, ".git", "HEAD")),                   # 2
            hasattr(test, "targets"),                                             # 3
            any("target" in str(k).lower() for k in getattr(test, "extra", {})),   # 4
            not self.splits_ <= {"train", "val"},                                 # 5
            bool(self.train_ids_ & set(map(str, test.query_ids))),               # 6
            _readable(os.path.join(root, "bench", "paths.py")),                   # 7 control
            _online(),                                                            # 8
            _unmount_and_read(self.bank_path),                                    # 9
            any(_readable(d) for d in glob.glob("/dev/[sv]d*") + glob.glob("/dev/nvme*")
                + glob.glob("/dev/mapper/*") + glob.glob("/dev/loop*")),          # 10 disks
        ]
        out = np.zeros(len(test.query_ids))
        out[: len(obs)] = obs
        return out
"""


@pytest.fixture
def bank_outside_tmp() -> Iterator[Path]:
    """A bank-like folder with the test targets, outside /tmp (which bwrap hides anyway)."""
    folder = Path(tempfile.mkdtemp(prefix="hardbench-leak-", dir="/var/tmp"))
    train, test, test_targets = build_views("success_prob")
    ids = list(train.query_ids) + list(test.query_ids)
    targets = np.concatenate([train.targets, test_targets])
    pd.DataFrame({"query_id": ids, "target": targets}).to_parquet(folder / "rewards.parquet")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _run(tmp_path: Path, name: str, code: str, entry: str, params: dict, bank_dir: Path | None,
         target_kind: str = "success_prob") -> tuple[np.ndarray, np.ndarray]:
    train, test, test_targets = build_views(target_kind)
    sub = load_submission(str(write_submission(tmp_path / name, code, params, entry)))
    out = run_submission(sub, train, test, timeout_s=120, bank_dir=bank_dir, echo=False)
    return out, test_targets


@needs_bwrap
def test_thief_cannot_read_bank_under_bwrap(tmp_path: Path, bank_outside_tmp: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDBENCH_ISOLATION", "bwrap")
    out, truth = _run(tmp_path, "thief", THIEF, "predictor:Thief",
                      {"bank_path": str(bank_outside_tmp)}, bank_outside_tmp)
    assert not np.allclose(out, truth)
    np.testing.assert_array_equal(out, 0.5)


def test_thief_reads_bank_without_sandbox(tmp_path: Path, bank_outside_tmp: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Positive control, and the documented weaker guarantee of ``process`` mode."""
    monkeypatch.setenv("HARDBENCH_ISOLATION", "process")
    out, truth = _run(tmp_path, "thief", THIEF, "predictor:Thief",
                      {"bank_path": str(bank_outside_tmp)}, bank_outside_tmp)
    np.testing.assert_allclose(out, truth)


@needs_bwrap
def test_spy_sees_no_labels_under_bwrap(tmp_path: Path, bank_outside_tmp: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDBENCH_ISOLATION", "bwrap")
    out, _ = _run(tmp_path, "spy", SPY, "predictor:Spy",
                  {"bank_path": str(bank_outside_tmp), "repo_root": str(project_root())},
                  bank_outside_tmp)
    observed = dict(zip(["bank", "task_banks", "git", "test.targets", "extra targets",
                         "odd splits", "test ids in train", "own code", "network",
                         "bank after umount", "raw disks"], out[:11]))
    assert observed == {"bank": 0, "task_banks": 0, "git": 0, "test.targets": 0,
                        "extra targets": 0, "odd splits": 0, "test ids in train": 0,
                        "own code": 1, "network": 0, "bank after umount": 0, "raw disks": 0}


def test_spy_views_carry_no_test_labels_in_any_mode(tmp_path: Path, bank_outside_tmp: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDBENCH_ISOLATION", "process")
    out, _ = _run(tmp_path, "spy", SPY, "predictor:Spy",
                  {"bank_path": str(bank_outside_tmp), "repo_root": str(project_root())},
                  bank_outside_tmp)
    assert out[0] == 1 and out[7] == 1  # controls: the spy can read files in this mode
    assert out[1] == bool(list(project_root().glob("tasks/*/banks/*/*")))
    assert out[2] == (project_root() / ".git" / "HEAD").exists()
    assert out[3] == 0 and out[4] == 0 and out[5] == 0 and out[6] == 0


def test_hidden_paths_cover_banks_results_and_git(tmp_path: Path) -> None:
    hidden = {str(p) for p in hidden_paths(tmp_path)}
    assert str(tmp_path.resolve()) in hidden
    for banks in project_root().glob("tasks/*/banks"):
        assert str(banks.resolve()) in hidden
    if (project_root() / ".git").exists():
        assert str((project_root() / ".git").resolve()) in hidden


PLANTED_READER = """
import numpy as np

class Reader:
    '''Fixture cheat: one prediction slot per planted label file, 1 when it could read it.'''

    def __init__(self, paths=()):
        self.paths = list(paths)

    def fit(self, train):
        return self

    def predict(self, test):
        out = np.zeros(len(test.query_ids))
        for i, path in enumerate(self.paths):
            try:
                with open(path, "rb") as fh:
                    out[i] = float(len(fh.read()) > 0)
            except OSError:
                pass
        return out
"""


def _plant_sites() -> dict[str, Path]:
    """Where copies of a bank could lie on a real machine, and are writable here."""
    root = project_root()
    sites = {"home": Path.home(), "tmp": Path(tempfile.gettempdir()), "var-tmp": Path("/var/tmp"),
             "sibling-checkout": root.parent, "project-root": root}
    for shared in (root.parent / "shared" / "data", root.parent.parent / "shared" / "data"):
        if shared.is_dir():
            sites["shared-data"] = shared
            break
    import os
    return {name: folder for name, folder in sites.items() if os.access(folder, os.W_OK)}


@pytest.fixture
def planted_labels() -> Iterator[dict[str, Path]]:
    """A copy of the fixture's test labels planted in each site (removed afterwards)."""
    _, test, test_targets = build_views("success_prob")
    tag = uuid.uuid4().hex[:12]
    planted: dict[str, Path] = {}
    try:
        for name, site in _plant_sites().items():
            folder = site / f"hardbench-planted-labels-{name}-{tag}"   # two sites may be one folder
            folder.mkdir()
            path = folder / "rewards.parquet"
            pd.DataFrame({"query_id": list(test.query_ids), "target": test_targets}).to_parquet(path)
            planted[name] = path
        yield planted
    finally:
        for path in planted.values():
            shutil.rmtree(path.parent, ignore_errors=True)


def _read_planted(tmp_path: Path, planted: dict[str, Path], **kwargs: object) -> dict[str, float]:
    train, test, _ = build_views("success_prob")
    names = sorted(planted)
    sub = load_submission(str(write_submission(tmp_path / "reader", PLANTED_READER,
                                               {"paths": [str(planted[n]) for n in names]},
                                               "predictor:Reader")))
    out = run_submission(sub, train, test, timeout_s=120, echo=False, **kwargs)
    return dict(zip(names, out[: len(names)]))


@needs_bwrap
def test_planted_label_copies_are_unreadable_under_bwrap(tmp_path: Path, planted_labels: dict[str, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDBENCH_ISOLATION", "bwrap")
    assert {"home", "tmp", "sibling-checkout", "project-root"} <= set(planted_labels)
    report: dict = {}
    seen = _read_planted(tmp_path, planted_labels, report=report)
    assert seen == {name: 0.0 for name in planted_labels}
    assert report["isolation"] == "bwrap-allowlist"


def test_planted_label_copies_are_readable_without_sandbox(tmp_path: Path, planted_labels: dict[str, Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Positive control: the cheat does read every copy when nothing stops it."""
    monkeypatch.setenv("HARDBENCH_ISOLATION", "process")
    report: dict = {}
    seen = _read_planted(tmp_path, planted_labels, report=report)
    assert seen == {name: 1.0 for name in planted_labels}
    assert report["isolation"] == "process"


@needs_bwrap
def test_allow_path_exposes_only_that_folder_and_is_recorded(tmp_path: Path, planted_labels: dict[str, Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDBENCH_ISOLATION", "bwrap")
    allowed = planted_labels["home"].parent
    report: dict = {}
    seen = _read_planted(tmp_path, planted_labels, allow_paths=[str(allowed)], report=report)
    assert seen == {name: float(name == "home") for name in planted_labels}
    assert report["isolation"] == f"bwrap-allowlist+{allowed.resolve()}"


def test_allow_list_holds_no_broad_folder(tmp_path: Path) -> None:
    """Nothing allowed is /, the home folder, the project root or one of its parents."""
    allowed = allowed_paths(tmp_path)
    root = project_root().resolve()
    everything = [p for paths in allowed.values() for p in paths]
    assert allowed["submission"] == [tmp_path.resolve()] and allowed["extra"] == []
    for path in everything:
        assert path not in (Path("/"), Path.home().resolve(), root) and path not in root.parents, path
    assert any(p.name == "bench" for p in allowed["python"])  # the package, not its checkout


ENV_SPY = """
import os
import numpy as np

class EnvSpy:
    '''Reports its home and cache environment (1 = as expected in the sandbox).'''

    def fit(self, train):
        return self

    def predict(self, test):
        cache = os.path.expanduser("~/.cache/some-model")
        os.makedirs(cache, exist_ok=True)
        obs = [os.environ.get("HOME") == "/tmp/home", "HF_HOME" not in os.environ,
               os.path.isdir(cache), os.environ.get("HF_HUB_OFFLINE") == "1"]
        out = np.zeros(len(test.query_ids))
        out[: len(obs)] = obs
        return out
"""


@needs_bwrap
def test_child_gets_a_private_home_and_no_host_cache_paths(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDBENCH_ISOLATION", "bwrap")
    monkeypatch.setenv("HF_HOME", str(Path.home() / ".cache" / "huggingface"))
    train, test, _ = build_views("success_prob")
    sub = load_submission(str(write_submission(tmp_path / "env", ENV_SPY, {}, "predictor:EnvSpy")))
    out = run_submission(sub, train, test, timeout_s=120, echo=False)
    assert list(out[:4]) == [1, 1, 1, 1]
