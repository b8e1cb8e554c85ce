"""Run a code submission's predictor in a child process that cannot see test labels.

The parent (the harness) writes the :class:`~bench.predictors.base.TrainView` and the
:class:`~bench.predictors.base.TestView` to a private temporary folder and starts
``python -I -m bench._submission_child <folder>``.  The child imports the submission, calls
``fit(train)`` then ``predict(test)`` and writes ``predictions.npy`` (or ``error.json``);
the parent reads them back without unpickling anything the child wrote.

Two isolation modes (:func:`isolation_mode`):

``bwrap``    The child runs under bubblewrap: the whole filesystem read-only, EXCEPT that the
             bank folders, ``tasks/*/banks``, ``results/`` and the repository's ``.git``
             are replaced by empty folders; no capabilities (it cannot unmount them, even
             as root), a minimal ``/dev`` (no disks; GPUs only), no network, its own PID
             namespace, a private ``/tmp``.  A submission cannot read the bank's reward files even if it knows
             their path.
``process``  Plain child process.  The views still carry no test labels, but a hostile
             submission could open the bank's files on disk.  Used when bubblewrap is not
             installed or cannot create namespaces (some containers).

``HARDBENCH_ISOLATION=bwrap|process|auto`` (default ``auto``: bwrap when it works) picks
the mode; ``bwrap`` fails loudly when bubblewrap is unusable.  ``HARDBENCH_HIDE_PATHS``
(``os.pathsep``-separated) adds folders to hide, e.g. the raw data a bank was built from.
"""

from __future__ import annotations

import functools
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

import bench
from bench.errors import SubmissionError, UnsafeExecutionError
from bench.paths import project_root, results_root, tasks_root
from bench.predictors.base import TestView, TrainView

#: values of ``HARDBENCH_ISOLATION``.
ISOLATION_MODES: tuple[str, ...] = ("auto", "bwrap", "process")

#: file names of the parent <-> child protocol, inside the job folder.
JOB_FILE, TRAIN_FILE, TEST_FILE = "job.json", "train.pkl", "test.pkl"
PREDICTIONS_FILE, ERROR_FILE = "predictions.npy", "error.json"

#: exit status the child uses when the submission itself failed (error.json written).
EXIT_SUBMISSION_FAILED = 3

#: how many lines of the child's output to keep for error messages.
_TAIL_LINES = 20


@dataclass(frozen=True)
class ChildJob:
    """What the child needs to run one submission: where it is and how to build it."""

    name: str
    directory: Path
    entry: str
    params: dict[str, Any] = field(default_factory=dict)


def _probe_bwrap() -> bool:
    """Whether ``bwrap`` exists and can create the namespaces we need on this machine."""
    exe = shutil.which("bwrap")
    if exe is None:
        return False
    cmd = [exe, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--cap-drop", "ALL",
           "--unshare-net", "--unshare-pid", "--die-with-parent", "true"]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


bwrap_works = functools.cache(_probe_bwrap)


def isolation_mode() -> str:
    """The isolation a code submission runs under here: ``"bwrap"`` or ``"process"``.

    Record it next to a result: only ``bwrap`` guarantees that the submission could not
    read the bank's reward files.
    """
    wanted = os.environ.get("HARDBENCH_ISOLATION", "auto").strip().lower() or "auto"
    if wanted not in ISOLATION_MODES:
        raise UnsafeExecutionError(
            f"HARDBENCH_ISOLATION={wanted!r}; expected one of {', '.join(ISOLATION_MODES)}"
        )
    if wanted == "process":
        return "process"
    if bwrap_works():
        return "bwrap"
    if wanted == "bwrap":
        raise UnsafeExecutionError(
            "HARDBENCH_ISOLATION=bwrap but bubblewrap is not usable here (install the "
            "'bubblewrap' package; containers may also need user namespaces enabled)"
        )
    return "process"


def hidden_paths(bank_dir: Path | None) -> list[Path]:
    """Folders the child must not see: banks, results, the git history, extra paths."""
    candidates: list[Path] = []
    if bank_dir is not None:
        candidates.append(Path(bank_dir))
    candidates.extend(tasks_root().glob("*/banks"))
    candidates.extend([results_root(), project_root() / ".git"])
    extra = os.environ.get("HARDBENCH_HIDE_PATHS", "")
    candidates.extend(Path(p) for p in extra.split(os.pathsep) if p.strip())
    seen: dict[str, Path] = {}
    for path in candidates:
        real = path.resolve()
        if real.exists():
            seen.setdefault(str(real), real)
    return list(seen.values())


def _writable_cache_dirs() -> list[Path]:
    """Cache folders the child may write (model caches, the assembled Gemma GGUF)."""
    dirs = []
    for var in ("XDG_CACHE_HOME", "HF_HOME", "TORCH_HOME"):
        if os.environ.get(var):
            dirs.append(Path(os.environ[var]))
    dirs.append(Path.home() / ".cache")
    out = []
    for d in dirs:
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        out.append(d.resolve())
    return out


def gpu_devices() -> list[Path]:
    """GPU device nodes to expose in the sandbox (its ``/dev`` is otherwise minimal: no disks)."""
    patterns = ("nvidia*", "dri", "kfd")
    return sorted({p for pattern in patterns for p in Path("/dev").glob(pattern)})


def bwrap_prefix(workdir: Path, hide: Sequence[Path], readable: Sequence[Path] = ()) -> list[str]:
    """The bubblewrap arguments that run a command with ``hide`` invisible and no network.

    Order matters: later mounts shadow earlier ones, so the read-only root comes first,
    then the private ``/tmp``, the ``readable`` folders (the submission, the interpreter:
    they may live under ``/tmp``), the writable job folder and caches, and last the empty
    folders over everything hidden (so nothing mounted before can re-expose a bank).
    """
    exe = shutil.which("bwrap") or "bwrap"
    args = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for device in gpu_devices():
        args += ["--dev-bind", str(device), str(device)]
    for path in readable:
        args += ["--ro-bind", str(path), str(path)]
    for cache in _writable_cache_dirs():
        args += ["--bind", str(cache), str(cache)]
    args += ["--bind", str(workdir), str(workdir)]
    for path in hide:
        args += ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    # --cap-drop ALL matters when the harness runs as root: with capabilities kept, the
    # child could simply unmount the empty folders that hide the banks.
    args += ["--cap-drop", "ALL", "--unshare-net", "--unshare-pid", "--unshare-ipc",
             "--die-with-parent", "--new-session", "--chdir", str(workdir)]
    return args


def child_command(workdir: Path) -> list[str]:
    """``python -I`` running :mod:`bench._submission_child` on ``workdir``.

    ``-I`` ignores ``PYTHONPATH`` and the user site; the folder holding the ``bench``
    package is put on ``sys.path`` explicitly so an uninstalled checkout works too.
    """
    package_parent = str(Path(bench.__file__).resolve().parent.parent)
    bootstrap = ("import sys; sys.path.insert(0, sys.argv[1]); "
                 "from bench._submission_child import main; raise SystemExit(main(sys.argv[2:]))")
    return [sys.executable, "-I", "-c", bootstrap, package_parent, str(workdir)]


def write_job(workdir: Path, job: ChildJob, train: TrainView, test: TestView) -> None:
    """Write the job description and the two views for the child."""
    (workdir / JOB_FILE).write_text(json.dumps({
        "name": job.name, "directory": str(job.directory.resolve()), "entry": job.entry,
        "params": job.params,
    }))
    with open(workdir / TRAIN_FILE, "wb") as fh:
        pickle.dump(train, fh, protocol=pickle.HIGHEST_PROTOCOL)
    with open(workdir / TEST_FILE, "wb") as fh:
        pickle.dump(test, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _pump(stream: IO[bytes], tail: deque[str], prefix: str, echo: bool) -> None:
    """Copy the child's output to our stderr (when ``echo``) and keep its last lines."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        tail.append(line)
        if echo:
            print(f"{prefix}{line}", file=sys.stderr, flush=True)
    stream.close()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group (it runs in its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _run_child(cmd: list[str], timeout_s: float | None, name: str, echo: bool
               ) -> tuple[int | None, list[str]]:
    """Run ``cmd``; return (exit status or None on timeout, last output lines)."""
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    assert proc.stdout is not None
    reader = threading.Thread(target=_pump, args=(proc.stdout, tail, f"[{name}] ", echo),
                              daemon=True)
    reader.start()
    try:
        status: int | None = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        status = None
    except BaseException:
        _kill_group(proc)
        raise
    reader.join(timeout=5)
    return status, list(tail)


def _failure_message(name: str, workdir: Path, status: int | None, tail: list[str],
                     timeout_s: float | None) -> str:
    """One clear line saying why the child produced no predictions."""
    if status is None:
        return f"submission {name!r} timed out after {timeout_s:g} s (killed)"
    error_file = workdir / ERROR_FILE
    if error_file.is_file():
        try:
            err = json.loads(error_file.read_text())
            return f"submission {name!r} {err['summary']}"
        except (ValueError, KeyError, TypeError):
            pass
    last = next((line for line in reversed(tail) if line.strip()), "")
    how = (f"was killed by signal {-status}" if status < 0
           else f"exited with status {status}")
    return (f"submission {name!r} {how} without writing predictions"
            + (f"; last output: {last.strip()[:300]}" if last else ""))


def run_isolated(job: ChildJob, train: TrainView, test: TestView, *,
                 timeout_s: float | None = None, bank_dir: Path | None = None,
                 echo: bool = True) -> np.ndarray:
    """Fit and predict in a child process; return the raw predictions (float64, unchecked).

    Parameters
    ----------
    job : ChildJob
        The submission to run.
    train, test : TrainView, TestView
        Exactly what the submission may see.
    timeout_s : float, optional
        Wall-clock limit for import + fit + predict; the child's process group is killed.
    bank_dir : Path, optional
        The bank being scored: hidden from the child under bubblewrap.
    echo : bool
        Copy the child's output (progress logs, tracebacks) to stderr, prefixed by its name.

    Raises
    ------
    SubmissionError
        Import error, exception in ``__init__``/``fit``/``predict``, timeout, crash,
        or missing/unreadable output; the message names the submission and the stage.
    """
    if timeout_s is not None and timeout_s <= 0:
        raise SubmissionError(f"timeout must be positive, got {timeout_s!r} s")
    mode = isolation_mode()
    with tempfile.TemporaryDirectory(prefix="hardbench-sub-") as tmp:
        workdir = Path(tmp).resolve()
        write_job(workdir, job, train, test)
        cmd = child_command(workdir)
        if mode == "bwrap":
            readable = [job.directory.resolve(), Path(sys.prefix).resolve(),
                        Path(bench.__file__).resolve().parent.parent]
            cmd = bwrap_prefix(workdir, hidden_paths(bank_dir), readable) + cmd
        started = time.monotonic()
        status, tail = _run_child(cmd, timeout_s, job.name, echo)
        out = workdir / PREDICTIONS_FILE
        if status != 0 or not out.is_file():
            raise SubmissionError(_failure_message(job.name, workdir, status, tail, timeout_s))
        try:
            predictions = np.load(out, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise SubmissionError(
                f"submission {job.name!r} wrote unreadable predictions: {err}") from err
        if echo:
            print(f"[{job.name}] done in {time.monotonic() - started:.1f} s ({mode} isolation)",
                  file=sys.stderr, flush=True)
        return predictions
