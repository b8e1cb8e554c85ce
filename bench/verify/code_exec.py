"""Run untrusted programs in a bubblewrap sandbox: one long-lived sandbox per worker, one fork per test.

WARNING
-------
This module executes untrusted, model-generated code.  By default every program runs inside a
bubblewrap (``bwrap``) sandbox: its own pid, network, ipc, uts and mount namespaces (only an
empty loopback network; nothing but the Python installation, ``/usr`` and the runner is
mounted, all read-only; a private size-capped ``/tmp``), an unprivileged uid (65534) with
no capabilities and ``no_new_privs``, killed with its parent, plus per-test rlimits (CPU time,
address space, processes, file size, open files) and a cap on captured output.  Without
bubblewrap this module refuses to run unless ``allow_unsafe=True`` is passed explicitly, in
which case only the rlimits and a separate process stand between the program and your machine.

Design (see ``docs/code-verifier.md``): the harness starts ``python -I -S _sandbox_runner.py``
inside the sandbox and sends it the program source and the test INPUTS only.  The runner forks
a child per test (or one child per problem for call-based tests), applies the rlimits, runs the
program and streams its raw output back over a control pipe the program never holds.  The
expected outputs never enter the sandbox; the comparison happens here, outside it.

Start-up is paid once per worker, not per program: when a :class:`SandboxSession` ends, its
runner is reset (every process of the program killed, its ``/tmp`` and ``/dev/shm`` emptied)
and kept in a per-process pool for the next session with the same limits; each runner serves at
most :data:`MAX_PROGRAMS_PER_SANDBOX` programs, then a fresh sandbox is started.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.errors import HardbenchError, UnsafeExecutionError
from bench.verify import _sandbox_runner as runner_mod
from bench.verify._sandbox_runner import CodecError, decode_value, encode_value, read_frame, write_frame

RUNNER_PATH = Path(runner_mod.__file__).resolve()
#: where the runner and the extra site-packages appear inside the sandbox
_SANDBOX_RUNNER = "/sandbox/runner.py"
_SANDBOX_SITE = "/sandbox/site"
#: extra seconds the harness waits for the runner beyond a test's own time limit
_GRACE_S = 5.0
#: how long the sandbox may take to start and pre-import modules
_START_TIMEOUT_S = 60.0
#: a reused sandbox serves at most this many programs before a fresh one replaces it
MAX_PROGRAMS_PER_SANDBOX = 1000


class SandboxError(HardbenchError):
    """The sandbox itself failed (could not start, or the runner died); tests in flight fail."""


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to every test's process (the sandbox as a whole is not capped).

    Attributes
    ----------
    memory_mb : int
        RLIMIT_AS, total address space of the program's process, in MiB.
    cpu_s : int
        RLIMIT_CPU in seconds (a backstop; the wall-clock timeout is enforced by the runner).
    nproc : int
        RLIMIT_NPROC: processes the sandbox uid may have (fork bombs stop here).
    fsize_mb : int
        RLIMIT_FSIZE: largest file the program may write, in MiB.
    nofile : int
        RLIMIT_NOFILE: open file descriptors.
    output_mb : int
        Captured stdout (or ``output.txt``, or a call's return value) beyond this fails the test.
    tmp_mb : int
        Size of the sandbox's private ``/tmp`` (a tmpfs).
    """

    memory_mb: int = 2048
    cpu_s: int = 10
    nproc: int = 64
    fsize_mb: int = 64
    nofile: int = 64
    output_mb: int = 32
    tmp_mb: int = 256

    def to_runner(self, tmp_root: str) -> dict[str, Any]:
        """The limits in the runner's wire format."""
        mib = 1024 * 1024
        return {
            "memory_bytes": self.memory_mb * mib,
            "cpu_s": self.cpu_s,
            "nproc": self.nproc,
            "fsize_bytes": self.fsize_mb * mib,
            "nofile": self.nofile,
            "output_bytes": self.output_mb * mib,
            "tmp_root": tmp_root,
        }


@dataclass(frozen=True)
class RunResult:
    """What one stdin/stdout run produced (raw, uncompared)."""

    status: str  # exited | timeout | output_limit | killed | sandbox_died
    returncode: int | None
    stdout: str
    output_file: str | None = None


@dataclass(frozen=True)
class CallResult:
    """What one function call (or module load) produced: ``value`` is set when status is ok."""

    status: str  # ok | exception | timeout | crashed | unserializable | error | sandbox_died
    value: Any = None
    detail: str = ""


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot be used here, or None when it works (checked once per process)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap (bwrap) is not installed; install it (apt-get install -y bubblewrap)"
    cmd = [exe, *_namespace_flags(), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not be run: {exc}"
    if proc.returncode != 0:
        return f"bwrap cannot create its namespaces here: {proc.stderr.strip()[:300]}"
    return None


def _namespace_flags() -> list[str]:
    """Namespaces to unshare.  As root we skip the user namespace and drop uid inside instead."""
    flags = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
             "--die-with-parent", "--new-session"]
    if os.geteuid() != 0:
        flags += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
    return flags


def _dir_chain(path: Path) -> list[str]:
    """bwrap arguments that create every parent of ``path`` world-traversable (0755)."""
    args: list[str] = []
    parents = list(reversed(path.parents))[1:]  # skip "/"
    for parent in parents:
        args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _interpreter_root() -> Path:
    """The Python installation the sandbox mounts (the real one behind any virtualenv)."""
    return Path(sys.base_prefix).resolve()


def _site_dirs() -> list[Path]:
    """site-packages of the harness's environment (numpy for TACO's prelude), mounted read-only."""
    import sysconfig

    import site

    found = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]
    return sorted({Path(p).resolve() for p in found if Path(p).is_dir()})


def build_bwrap_command(limits: Limits) -> list[str]:
    """The full bwrap command line that starts the runner (exposed for inspection and tests)."""
    return list(_bwrap_command(limits))


@functools.lru_cache(maxsize=16)
def _bwrap_command(limits: Limits) -> tuple[str, ...]:
    """:func:`build_bwrap_command`, computed once per limits (it is the sandbox pool's key, needed
    for every program, and looking up the interpreter's folders costs milliseconds)."""
    exe = shutil.which("bwrap") or "bwrap"
    root = _interpreter_root()
    python = Path(sys.executable).resolve()
    if root not in python.parents:
        python = root / "bin" / python.name
    cmd = [exe, *_namespace_flags()]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / link
        if target.is_symlink():
            cmd += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            cmd += ["--ro-bind", str(target), str(target)]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(limits.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    if not str(root).startswith("/usr/"):
        cmd += _dir_chain(root) + ["--ro-bind", str(root), str(root)]
    cmd += ["--perms", "0755", "--dir", "/sandbox", "--ro-bind", str(RUNNER_PATH), _SANDBOX_RUNNER]
    site_args: list[str] = []
    for i, site in enumerate(_site_dirs()):
        if root in site.parents or Path("/usr") in site.parents:
            site_args.append(f"--site={site}")  # already mounted at the same path
            continue
        dest = f"{_SANDBOX_SITE}{i}"
        cmd += ["--ro-bind", str(site), dest]
        site_args.append(f"--site={dest}")
    cmd += ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
            "--setenv", "LANG", "C.UTF-8", "--setenv", "OPENBLAS_NUM_THREADS", "1",
            "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "MKL_NUM_THREADS", "1", "--chdir", "/tmp"]
    if os.geteuid() == 0:
        # root outside: no user namespace; the runner keeps CAP_SETUID/SETGID only to drop to 65534
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    cmd += [str(python), "-I", "-S", "-B", _SANDBOX_RUNNER, *site_args]
    if os.geteuid() == 0:
        cmd.append("--drop-uid")
    return tuple(cmd)


@dataclass
class _Runner:
    """One started runner process (inside bwrap, or unsafe) and what it needs to be reused."""

    proc: subprocess.Popen[bytes]
    stderr: IO[bytes]
    key: tuple[Any, ...]
    owner_pid: int
    tmp: tempfile.TemporaryDirectory[str] | None = None
    programs: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def kill(self) -> None:
        """Stop the runner and everything in its sandbox; release its files."""
        proc = self.proc
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            SandboxSession._kill(proc)
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None
        self.stderr.close()


class _RunnerPool:
    """Idle runners of this process, by key (command line, limits, pre-imports).

    A forked child (e.g. a ``bench verify`` worker) starts with an empty pool: the runners it
    inherited belong to its parent (their pipes are shared) and are never used by the child.
    """

    def __init__(self) -> None:
        self._idle: dict[tuple[Any, ...], list[_Runner]] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple[Any, ...]) -> _Runner | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def give(self, runner: _Runner) -> None:
        if runner.owner_pid != os.getpid():
            return
        with self._lock:
            self._idle.setdefault(runner.key, []).append(runner)

    def close_all(self) -> None:
        """Stop every idle runner (at exit; sandboxes also die with this process)."""
        with self._lock:
            runners = [r for idle in self._idle.values() for r in idle]
            self._idle.clear()
        for runner in runners:
            if runner.owner_pid == os.getpid():
                runner.kill()

    def forget(self) -> None:
        """After fork, in the child: drop the parent's runners without touching them."""
        self._idle = {}
        self._lock = threading.Lock()


_POOL = _RunnerPool()
atexit.register(_POOL.close_all)
os.register_at_fork(after_in_child=_POOL.forget)


def close_idle_sandboxes() -> None:
    """Stop the sandboxes kept for reuse by this process (they also stop when it exits)."""
    _POOL.close_all()


# WARNING: SandboxSession executes untrusted, model-generated code (through the runner).  Without
# bubblewrap it refuses to start unless allow_unsafe=True; with allow_unsafe=True and no bwrap the
# program runs with your user's rights, limited only by rlimits.  See the module docstring.
class SandboxSession:
    """One program in a sandboxed runner; tests are run one at a time.

    Use as a context manager.  Every method returns a result object; a runner that dies, hangs or
    answers garbage is killed, and that test and every later one report ``sandbox_died`` (a
    failure, never a pass).  On exit the runner is reset (every process of the program killed,
    ``/tmp`` emptied) and kept for the next session of this process with the same limits.

    Parameters
    ----------
    source : str
        The program's Python source.
    limits : Limits
        Per-test resource limits.
    allow_unsafe : bool
        Run the runner without bubblewrap when bwrap is missing or unusable.  Dangerous.
    preimport : sequence of str
        Trusted modules the runner imports before forking (e.g. numpy), so tests start warm.
    reuse : bool
        Take a runner kept by an earlier session (and keep this one afterwards) instead of
        starting a fresh sandbox for this program.
    """

    def __init__(self, source: str, limits: Limits, *, allow_unsafe: bool = False,
                 preimport: Sequence[str] = (), reuse: bool = True) -> None:
        self.source = source
        self.limits = limits
        self.allow_unsafe = allow_unsafe
        self.preimport = tuple(preimport)
        self.reuse = reuse
        self._runner: _Runner | None = None
        self._dead = False

    # -- life cycle --------------------------------------------------------------------------

    def __enter__(self) -> SandboxSession:
        problem = bwrap_problem()
        if problem is not None and not self.allow_unsafe:
            raise UnsafeExecutionError(
                f"refusing to run untrusted code: {problem}. Pass allow_unsafe=True "
                "(bench verify: --verifier-option allow_unsafe=true) only on a throw-away machine."
            )
        cmd = build_bwrap_command(self.limits) if problem is None else None
        key = (tuple(cmd) if cmd else ("unsafe",), self.limits, self.preimport)
        if self.reuse:
            self._runner = _POOL.take(key)
            if self._runner is not None and self._init() is None:
                self._runner.kill()  # it died while idle: start a fresh one
                self._runner = None
        if self._runner is None:
            self._runner = self._start(cmd, key)
            reply = self._init(_START_TIMEOUT_S)
            if reply is None or reply.get("op") != "ready":
                err = self._stderr_text()
                self.close()
                raise SandboxError(f"the code sandbox failed to start: {err or reply}")
        return self

    def _start(self, cmd: list[str] | None, key: tuple[Any, ...]) -> _Runner:
        """Start a runner: inside bwrap (``cmd``), or without a sandbox when ``cmd`` is None."""
        self._dead = False
        stderr = tempfile.TemporaryFile()
        tmp = None
        if cmd is None:
            # WARNING: unsafe mode, the program runs with this user's rights (rlimits only).
            tmp = tempfile.TemporaryDirectory(prefix="hardbench-unsafe-")
            cmd = [sys.executable, "-I", "-S", "-B", str(RUNNER_PATH), *[f"--site={s}" for s in _site_dirs()]]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                close_fds=True, start_new_session=True)
        runner = _Runner(proc, stderr, key, os.getpid(), tmp)
        runner.extra["tmp_root"] = tmp.name if tmp is not None else "/tmp"
        runner.extra["pidns"] = tmp is None
        return runner

    def _init(self, timeout: float = _START_TIMEOUT_S) -> dict[str, Any] | None:
        """Hand the program to the runner; its reply (None when the runner died)."""
        assert self._runner is not None
        self._dead = False
        extra = self._runner.extra
        reply = self._request({"op": "init", "source": self.source, "preimport": list(self.preimport),
                               "limits": self.limits.to_runner(extra["tmp_root"]), "pidns": extra["pidns"]},
                              timeout)
        if reply is not None:
            self._runner.programs += 1
        return reply

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End this program: reset the runner and keep it for reuse, or stop it."""
        runner, self._runner = self._runner, None
        alive = not self._dead and runner is not None
        self._dead = True
        if runner is None:
            return
        if alive and self.reuse and runner.programs < MAX_PROGRAMS_PER_SANDBOX:
            self._runner = runner
            self._dead = False
            reply = self._request({"op": "reset"}, _GRACE_S)
            self._runner, self._dead = None, True
            if reply is not None and reply.get("status") == "ok":
                _POOL.give(runner)
                return
        runner.kill()

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()

    def _stderr_text(self) -> str:
        if self._runner is None:
            return ""
        stderr = self._runner.stderr
        stderr.seek(0)
        return stderr.read(2000).decode("utf-8", "replace").strip()

    @property
    def alive(self) -> bool:
        """False once the runner has died or been killed (later tests then fail)."""
        return not self._dead and self._runner is not None

    def _request(self, message: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """Send one frame, wait for the reply; None (and the session is dead) on any failure."""
        if not self.alive:
            return None
        assert self._runner is not None
        proc = self._runner.proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            write_frame(proc.stdin.fileno(), message)
            max_size = self.limits.output_mb * 1024 * 1024 * 2 + 65536
            reply = read_frame(proc.stdout.fileno(), time.monotonic() + timeout, max_size)
        except (OSError, TimeoutError, CodecError):
            reply = None
        if reply is None:
            self._kill(proc)
            self._dead = True
        return reply

    # -- tests -------------------------------------------------------------------------------

    def run_stdio(self, stdin: str, timeout_s: float, *, files: bool = False) -> RunResult:
        """Run the program as a script on ``stdin`` (or ``input.txt`` when ``files``)."""
        reply = self._request({"op": "run", "stdin": stdin, "timeout": timeout_s, "files": files},
                              timeout_s + _GRACE_S)
        if reply is None:
            return RunResult("sandbox_died", None, "")
        try:
            return RunResult(str(reply["status"]), reply.get("returncode"), str(reply.get("stdout", "")),
                             reply.get("output_file"))
        except (KeyError, TypeError):
            return RunResult("sandbox_died", None, "")

    def open_module(self, timeout_s: float, module_name: str = "tmp_sol", *, source: str | None = None,
                    require: str | None = None) -> CallResult:
        """Load the program (or ``source``) as a module in a fresh child that then serves :meth:`call`.

        With ``require`` the load fails unless the module defines that name.
        """
        message: dict[str, Any] = {"op": "open", "timeout": timeout_s, "module_name": module_name}
        if source is not None:
            message["source"] = source
        if require is not None:
            message["require"] = require
        return self._call_result(self._request(message, timeout_s + _GRACE_S))

    def call(self, name: str, args: Sequence[Any], timeout_s: float, *, kwargs: dict[str, Any] | None = None,
             solution_class: bool = False) -> CallResult:
        """Call ``name(*args)`` in the loaded module (``Solution().name`` when ``solution_class``)."""
        try:
            payload = {"args": encode_value(list(args)), "kwargs": encode_value(dict(kwargs or {}))}
        except CodecError as exc:
            return CallResult("error", detail=f"cannot send the arguments: {exc}")
        reply = self._request({"op": "call", "name": name, "timeout": timeout_s, "solution_class": solution_class,
                               **payload}, timeout_s + _GRACE_S)
        return self._call_result(reply)

    def close_module(self) -> None:
        """Kill the module child (the runner stays up)."""
        self._request({"op": "close"}, _GRACE_S)

    @staticmethod
    def _call_result(reply: dict[str, Any] | None) -> CallResult:
        if reply is None:
            return CallResult("sandbox_died", detail="the sandbox runner died or hung")
        status = str(reply.get("status"))
        detail = str(reply.get("detail", ""))[:500]
        if status != "ok" or "value" not in reply:
            return CallResult(status, detail=detail)
        try:
            return CallResult("ok", value=decode_value(reply["value"]))
        except (CodecError, RecursionError) as exc:
            return CallResult("unserializable", detail=str(exc)[:500])


__all__ = ["CallResult", "Limits", "MAX_PROGRAMS_PER_SANDBOX", "RunResult", "SandboxError", "SandboxSession",
           "build_bwrap_command", "bwrap_problem", "close_idle_sandboxes"]
