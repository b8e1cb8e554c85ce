"""Run a code submission's predictor in a child process that cannot see test labels.

The parent (the harness) writes the :class:`~bench.predictors.base.TrainView` and the
:class:`~bench.predictors.base.TestView` to a private temporary folder and starts
``python -I -m bench._submission_child <folder>``.  The child imports the submission, calls
``fit(train)`` then ``predict(test)`` and writes ``predictions.npy`` (or ``error.json``);
the parent reads them back without unpickling anything the child wrote.

Two isolation modes (:func:`isolation_mode`):

``bwrap``    The child runs under bubblewrap and sees an ALLOW-LIST of the filesystem
             (:func:`allowed_paths`): the Python installation (the virtualenv, the base
             interpreter it links to, their standard library and site-packages), the
             ``bench`` package folder, system libraries (``/usr``, ``/lib*``, ``/bin``,
             ``/sbin``, a few named files of ``/etc``, ``/sys`` read-only), the submission
             folder (read-only) and the job folder holding the two views.  Everything else,
             the user's home, the project root, other checkouts, the shared data folder,
             downloads, the host ``/tmp``, does not exist inside.  It also gets a private
             ``/tmp`` with a private ``HOME`` (model caches land there), a minimal ``/dev``
             (no disks; GPUs only), its own ``/proc`` and PID namespace, no network, no
             capabilities, and it dies with the harness.  ``allow_paths`` (``bench run
             --allow-path``, or ``HARDBENCH_ALLOW_PATHS``) adds read-only folders, e.g. a
             pre-downloaded Hugging Face cache; the result then records them.
``process``  Plain child process.  The views still carry no test labels, but a hostile
             submission could open the bank's files on disk.  Used when bubblewrap is not
             installed or cannot create namespaces (some containers).

``HARDBENCH_ISOLATION=bwrap|process|auto`` (default ``auto``: bwrap when it works) picks
the mode; ``bwrap`` fails loudly when bubblewrap is unusable.  As a second layer, the
bank being scored, ``tasks/*/banks``, ``results/``, ``.git`` and ``HARDBENCH_HIDE_PATHS``
are covered by empty folders wherever they fall inside an allowed path.
"""

from __future__ import annotations

import functools
import json
import os
import pickle
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
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
    """Folders covered by empty ones wherever an allowed path exposes them (second layer).

    The bank being scored, every ``tasks/*/banks``, ``results/``, the git history and
    ``HARDBENCH_HIDE_PATHS``.  The allow-list already leaves them out; this matters only when
    an allowed folder (an ``--allow-path``, a virtualenv) happens to contain one of them.
    """
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


#: packages the child imports itself (found with ``python -X importtime``): their folders are
#: allowed even when they live outside site-packages (editable install, ``PYTHONPATH``).
CHILD_PACKAGES: tuple[str, ...] = ("bench", "numpy")

#: system folders the child may read: programs, shared libraries, and ``/sys`` (CPU topology
#: for OpenBLAS/torch, PCI information for CUDA; no user data).
SYSTEM_DIRS: tuple[str, ...] = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/sys")

#: the files of ``/etc`` the interpreter and its libraries read (dynamic linker, user and
#: group names for ``getpass``, time zone, ``/etc/alternatives`` links used inside ``/usr``).
ETC_FILES: tuple[str, ...] = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group",
                              "nsswitch.conf", "localtime", "timezone", "alternatives",
                              "os-release", "hosts", "mime.types")

#: where the child's private, writable home lives (inside its private ``/tmp``).
SANDBOX_HOME = "/tmp/home"

#: environment variables that point at caches on the host; unset in the child unless they
#: lie inside an allowed path (their defaults then fall under the private home).
_CACHE_VARS: tuple[str, ...] = ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "HF_HOME",
                                "HF_HUB_CACHE", "HF_DATASETS_CACHE", "HUGGINGFACE_HUB_CACHE",
                                "TRANSFORMERS_CACHE", "TORCH_HOME", "TORCHINDUCTOR_CACHE_DIR",
                                "TRITON_CACHE_DIR", "MPLCONFIGDIR", "PYTHONPYCACHEPREFIX")


def _package_dir(name: str) -> Path | None:
    """The folder of an importable package (its ``__init__``'s folder), without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def package_dirs() -> dict[str, Path]:
    """Folder of each package in :data:`CHILD_PACKAGES` (``bench``: the one running now)."""
    found = {"bench": Path(bench.__file__).resolve().parent}
    for name in CHILD_PACKAGES:
        if name not in found:
            folder = _package_dir(name)
            if folder is not None:
                found[name] = folder
    return found


def python_paths() -> list[Path]:
    """What the interpreter needs: the venv and the base installation, stdlib, site-packages,
    the executable (and what its symlinks point to), and the child's packages' folders."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    scheme = sysconfig.get_paths()
    paths.update(scheme[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in scheme)
    paths.update(site.getsitepackages())
    paths.update(str(folder) for folder in package_dirs().values())
    executable = Path(sys.executable)
    paths.update({str(executable.parent), str(executable.resolve().parent.parent)})
    out = []
    for path in paths:
        real = Path(path).resolve()
        if real.exists():
            out.append(real)
    return out


def system_paths() -> list[Path]:
    """System folders and the named files of ``/etc`` that exist here."""
    found = [Path(p) for p in SYSTEM_DIRS] + [Path("/etc") / name for name in ETC_FILES]
    return [p for p in found if p.exists() or p.is_symlink()]


def extra_allowed_paths(allow_paths: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    """Folders the user added (``allow_paths`` plus ``HARDBENCH_ALLOW_PATHS``), resolved.

    Raises
    ------
    UnsafeExecutionError
        A path that does not exist (a typo would otherwise fail silently inside the sandbox).
    """
    wanted = [Path(p) for p in allow_paths]
    env = os.environ.get("HARDBENCH_ALLOW_PATHS", "")
    wanted += [Path(p) for p in env.split(os.pathsep) if p.strip()]
    out: list[Path] = []
    for path in wanted:
        real = path.expanduser().resolve()
        if not real.exists():
            raise UnsafeExecutionError(f"--allow-path {path}: no such file or folder")
        if real not in out:
            out.append(real)
    return out


def _minimal_cover(paths: Iterable[Path]) -> list[Path]:
    """Drop paths inside another path of the set (bwrap binds the outer one anyway)."""
    ordered = sorted(set(paths), key=lambda p: (len(p.parts), str(p)))
    kept: list[Path] = []
    for path in ordered:
        if not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return kept


def _refuse_broad(paths: Iterable[Path]) -> None:
    """An automatically allowed path must not be ``/``, the home folder or hold the project."""
    forbidden = {Path("/"), Path.home().resolve()}
    root = project_root().resolve()
    for path in paths:
        if path in forbidden or path == root or path in root.parents:
            raise UnsafeExecutionError(
                f"the Python installation lives in {path}, which would expose "
                f"{'the project' if path == root or path in root.parents else 'everything under it'} "
                "to the submission; use a virtualenv outside the project root, or "
                "HARDBENCH_ISOLATION=process (labels then readable from disk)"
            )


def allowed_paths(submission_dir: Path, allow_paths: Iterable[str | os.PathLike[str]] = ()
                  ) -> dict[str, list[Path]]:
    """The allow-list, by kind: ``python``, ``system``, ``submission``, ``extra`` (read-only).

    The job folder (the views, the output) is bound separately, writable.
    """
    python = _minimal_cover(python_paths())
    _refuse_broad(python)
    return {"python": python, "system": system_paths(),
            "submission": [Path(submission_dir).resolve()],
            "extra": extra_allowed_paths(allow_paths)}


def gpu_devices() -> list[Path]:
    """GPU device nodes to expose in the sandbox (its ``/dev`` is otherwise minimal: no disks)."""
    patterns = ("nvidia*", "dri", "kfd")
    return sorted({p for pattern in patterns for p in Path("/dev").glob(pattern)})


def _sandbox_env(readable: Sequence[Path]) -> list[str]:
    """bwrap ``--setenv``/``--unsetenv`` arguments: a private home, no host cache paths."""
    args = ["--setenv", "HOME", SANDBOX_HOME, "--setenv", "HF_HUB_OFFLINE", "1",
            "--setenv", "TMPDIR", "/tmp"]
    for var in _CACHE_VARS:
        value = os.environ.get(var)
        if value is None:
            continue
        real = Path(value).expanduser().resolve()
        if not any(real == r or r in real.parents for r in readable):
            args += ["--unsetenv", var]
    return args


def bwrap_prefix(workdir: Path, hide: Sequence[Path], readable: Sequence[Path]) -> list[str]:
    """The bubblewrap arguments that show the child ``readable`` (read-only) and ``workdir``.

    Nothing is mounted but what is listed: a new root (an empty tmpfs made by bwrap), then
    ``/dev``, ``/proc``, a private ``/tmp`` with the private home, the ``readable`` paths
    (symlinks such as ``/lib -> usr/lib`` recreated as symlinks), the writable job folder,
    and last empty folders over every ``hide`` path that falls inside an allowed one.
    """
    exe = shutil.which("bwrap") or "bwrap"
    args = [exe, "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--dir", SANDBOX_HOME]
    for device in gpu_devices():
        args += ["--dev-bind", str(device), str(device)]
    for path in readable:
        if path.is_symlink() and path.parent == Path("/"):
            args += ["--symlink", os.readlink(path), str(path)]
        else:
            args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(workdir), str(workdir)]
    for path in hide:
        if any(path == r or r in path.parents for r in readable):
            args += ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
    # --cap-drop ALL matters when the harness runs as root: with capabilities kept, the
    # child could mount the host's filesystems again.
    args += _sandbox_env(readable)
    args += ["--cap-drop", "ALL", "--unshare-net", "--unshare-pid", "--unshare-ipc",
             "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--new-session",
             "--chdir", str(workdir)]
    return args


def isolation_label(mode: str, extra: Sequence[Path] = ()) -> str:
    """What a result records: ``process``, ``bwrap-allowlist``, or ``bwrap-allowlist+<paths>``."""
    if mode != "bwrap":
        return mode
    return "bwrap-allowlist" + ("".join(f"+{p}" for p in extra) if extra else "")


def child_command(workdir: Path) -> list[str]:
    """``python -I`` running :mod:`bench._submission_child` on ``workdir``.

    ``-I`` ignores ``PYTHONPATH`` and the user site; the folders holding the child's packages
    (``bench`` from a checkout or an editable install, ``numpy``) are put first on
    ``sys.path`` explicitly, so they import from where the harness found them.
    """
    parents = []
    for folder in package_dirs().values():
        parent = str(folder.parent)
        if parent not in parents:
            parents.append(parent)
    bootstrap = ("import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
                 "from bench._submission_child import main; raise SystemExit(main(sys.argv[2:]))")
    return [sys.executable, "-I", "-c", bootstrap, json.dumps(parents), str(workdir)]


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
                 echo: bool = True, allow_paths: Sequence[str | os.PathLike[str]] = (),
                 report: dict[str, Any] | None = None) -> np.ndarray:
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
        The bank being scored: also covered by an empty folder if an allowed path holds it.
    echo : bool
        Copy the child's output (progress logs, tracebacks) to stderr, prefixed by its name.
    allow_paths : sequence of paths
        Extra folders the child may read under bubblewrap (``bench run --allow-path``).
    report : dict, optional
        Filled with ``"isolation"``: the :func:`isolation_label` of how the child really ran.

    Raises
    ------
    SubmissionError
        Import error, exception in ``__init__``/``fit``/``predict``, timeout, crash,
        or missing/unreadable output; the message names the submission and the stage.
    """
    if timeout_s is not None and timeout_s <= 0:
        raise SubmissionError(f"timeout must be positive, got {timeout_s!r} s")
    mode = isolation_mode()
    extra: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="hardbench-sub-") as tmp:
        workdir = Path(tmp).resolve()
        write_job(workdir, job, train, test)
        cmd = child_command(workdir)
        if mode == "bwrap":
            allowed = allowed_paths(job.directory, allow_paths)
            extra = allowed["extra"]
            readable = [p for kind in ("system", "python", "submission", "extra") for p in allowed[kind]]
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
        if report is not None:
            report["isolation"] = isolation_label(mode, extra)
        return predictions
