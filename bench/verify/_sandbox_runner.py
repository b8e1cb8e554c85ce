"""The trusted runner that lives INSIDE the code sandbox (one per worker, reused across programs).

WARNING: this file runs untrusted, model-generated programs.  It must only ever be started by
:mod:`bench.verify.code_exec`, which wraps it in a bubblewrap sandbox (own pid, network, ipc and
mount namespaces, read-only system, private ``/tmp``, unprivileged uid).  Without that sandbox
(``allow_unsafe=True``) the rlimits below are the only protection.  It is NOT a sandbox by itself.

Protocol (over the runner's original stdin/stdout, which it moves to private fds at start-up;
frames are a 4-byte big-endian length followed by a UTF-8 JSON object):

* harness -> runner ``{"op": "init", "source", "preimport", "limits", "pidns"}``;
  the runner replies ``{"op": "ready"}``.  A runner serves many programs in turn: after
  ``{"op": "reset"}`` (every process but the runner killed, ``/tmp`` and ``/dev/shm`` emptied;
  reply ``{"status": "ok"}``) the next ``init`` brings the next program.
* ``{"op": "run", "stdin", "timeout", "files"}``: fork a child, apply the rlimits, feed ``stdin``
  (from a file, so ``open(0)`` and seeking work), run the program as ``__main__``; reply with the
  raw stdout (capped), the exit code, and a status (``exited``/``timeout``/``output_limit``/
  ``killed``).  With ``files`` the input is written to ``input.txt`` and ``output.txt`` is read
  back (TACO's file-based fallback).
* ``{"op": "open", "timeout", "module_name", "source"?, "require"?}``: fork a child that loads the
  program (or the given ``source``) as a module, checks it defines ``require``, and then serves ``{"op": "call", "name", "args", "kwargs", "timeout", "solution_class"}`` requests
  until ``{"op": "close"}``.
* The runner never receives expected outputs: it sends back what the program produced and the
  harness, outside the sandbox, decides pass or fail.

The value codec (:func:`encode_value` / :func:`decode_value`) is shared with the harness, which
imports this module (importing it has no side effects).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import select
import signal
import struct
import sys
import threading  # imported here, before any fork: a child whose program filled its fd table
import time  # cannot import anything any more, and must still exit normally
import traceback
import types
from typing import Any

#: a frame larger than this is refused (the harness reads frames from untrusted territory).
MAX_FRAME = 256 * 1024 * 1024
#: nesting deeper than this is not encoded (and a decoder refuses it).
MAX_DEPTH = 200

_HEADER = struct.Struct(">I")


# ---------------------------------------------------------------------------------------------
# value codec: JSON plus tags for the Python types JSON cannot express
# ---------------------------------------------------------------------------------------------


class CodecError(ValueError):
    """A value cannot be encoded or a payload cannot be decoded."""


def encode_value(value: Any, depth: int = 0) -> Any:
    """Turn a Python value into JSON-able data, keeping tuples, sets, dict keys and bytes.

    Only plain data types are accepted (None, bool, int, float, complex, str, bytes, list, tuple,
    set, frozenset, dict); anything else raises :class:`CodecError`, which the runner reports
    as an unserialisable return value (a failed test).
    """
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return {"__float__": repr(value)}
    if kind is list:
        return [encode_value(v, depth + 1) for v in value]
    if kind is tuple:
        return {"__tuple__": [encode_value(v, depth + 1) for v in value]}
    if kind is set:
        return {"__set__": [encode_value(v, depth + 1) for v in value]}
    if kind is frozenset:
        return {"__frozenset__": [encode_value(v, depth + 1) for v in value]}
    if kind is dict:
        return {"__dict__": [[encode_value(k, depth + 1), encode_value(v, depth + 1)] for k, v in value.items()]}
    if kind is bytes:
        return {"__bytes__": value.hex()}
    if kind is complex:
        return {"__complex__": [repr(value.real), repr(value.imag)]}
    # numpy scalars and other ints/floats/str subclasses: store as the plain base type
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return encode_value(base(value), depth)
    item = getattr(value, "item", None)  # numpy scalar without importing numpy
    if callable(item) and type(value).__module__ == "numpy":
        return encode_value(item(), depth)
    raise CodecError(f"cannot transfer a value of type {kind.__module__}.{kind.__qualname__}")


def decode_value(data: Any, depth: int = 0) -> Any:
    """Inverse of :func:`encode_value`; raises :class:`CodecError` on anything malformed."""
    if depth > MAX_DEPTH:
        raise CodecError("payload nested too deeply")
    if data is None or type(data) in (bool, int, str):
        return data
    if type(data) is list:
        return [decode_value(v, depth + 1) for v in data]
    if type(data) is not dict or len(data) != 1:
        raise CodecError(f"malformed payload item {str(data)[:80]!r}")
    (tag, body), = data.items()
    try:
        if tag == "__float__":
            return float(body)
        if tag == "__tuple__":
            return tuple(decode_value(v, depth + 1) for v in body)
        if tag == "__set__":
            return {decode_value(v, depth + 1) for v in body}
        if tag == "__frozenset__":
            return frozenset(decode_value(v, depth + 1) for v in body)
        if tag == "__dict__":
            return {decode_value(k, depth + 1): decode_value(v, depth + 1) for k, v in body}
        if tag == "__bytes__":
            return bytes.fromhex(body)
        if tag == "__complex__":
            return complex(float(body[0]), float(body[1]))
    except (TypeError, ValueError) as exc:  # unhashable set member, bad hex, ...
        raise CodecError(f"malformed {tag} payload: {exc}") from None
    raise CodecError(f"unknown payload tag {tag!r}")


# ---------------------------------------------------------------------------------------------
# framing
# ---------------------------------------------------------------------------------------------


def write_frame(fd: int, message: dict[str, Any]) -> None:
    """Write one length-prefixed JSON frame to ``fd`` (blocking, complete)."""
    payload = json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")
    data = _HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes | None:
    """Read exactly ``size`` bytes; None on EOF; TimeoutError past ``deadline``."""
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError("no complete frame before the deadline")
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None, max_size: int = MAX_FRAME) -> dict[str, Any] | None:
    """Read one frame; None on a clean EOF.  Raises CodecError on a malformed or oversized frame."""
    header = _read_exact(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > max_size:
        raise CodecError(f"frame of {size} bytes exceeds the {max_size}-byte limit")
    payload = _read_exact(fd, size, deadline)
    if payload is None:
        return None
    try:
        message = json.loads(payload.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError) as exc:
        raise CodecError(f"malformed frame: {exc}") from None
    if not isinstance(message, dict):
        raise CodecError("frame is not a JSON object")
    return message


# ---------------------------------------------------------------------------------------------
# the runner (only used when this file is the main program)
# ---------------------------------------------------------------------------------------------

_SANDBOX_UID = 65534


def _prctl(option: int, value: int) -> None:
    """Call prctl(2) through ctypes (no third-party code in the sandbox)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _harden_self(drop_uid: bool) -> None:
    """Drop to the unprivileged uid, forbid privilege gain, make our memory and fds unreadable."""
    if drop_uid:
        os.setgroups([])
        os.setgid(_SANDBOX_UID)
        os.setuid(_SANDBOX_UID)
        if os.getuid() != _SANDBOX_UID or os.geteuid() != _SANDBOX_UID:
            raise OSError("could not drop to the sandbox uid")
    _prctl(38, 1)  # PR_SET_NO_NEW_PRIVS: setuid binaries give no privileges
    _prctl(4, 0)  # PR_SET_DUMPABLE=0: /proc/<runner>/{mem,fd} and ptrace are closed to the child


class Runner:
    """Serve the harness: one program, many tests, one forked child at a time."""

    def __init__(self, ctl_in: int, ctl_out: int) -> None:
        self.ctl_in = ctl_in
        self.ctl_out = ctl_out
        self.source = ""
        self.code: Any = None
        self.limits: dict[str, Any] = {}
        self.pidns = False
        self.counter = 0
        self.module_child: tuple[int, int, int] | None = None  # pid, req_w, resp_r

    # -- child side ------------------------------------------------------------------------

    def _child_setup(self, fd_map: dict[int, int], workdir: str) -> None:
        """In the forked child: own session, only the given fds, rlimits, fresh std streams."""
        os.setsid()
        for target, source in fd_map.items():
            if source != target:
                os.dup2(source, target)
        os.closerange(max(fd_map) + 1, 1 << 16)
        os.chdir(workdir)
        lim = self.limits
        cpu = int(lim["cpu_s"])
        for res, soft, hard in (
            (resource.RLIMIT_CPU, cpu, cpu + 1),
            (resource.RLIMIT_AS, lim["memory_bytes"], lim["memory_bytes"]),
            (resource.RLIMIT_NPROC, lim["nproc"], lim["nproc"]),
            (resource.RLIMIT_FSIZE, lim["fsize_bytes"], lim["fsize_bytes"]),
            (resource.RLIMIT_NOFILE, lim["nofile"], lim["nofile"]),
            (resource.RLIMIT_CORE, 0, 0),
        ):
            resource.setrlimit(res, (soft, hard))
        for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        sys.stdin = open(0, "r", encoding="utf-8", errors="replace", closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
        sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr  # type: ignore[misc]
        sys.argv = ["solution.py"]

    @staticmethod
    def _finish_child(code: int) -> None:
        """Wait for the program's non-daemon threads, flush, and leave without cleanup handlers.

        Uses only modules imported before the fork: the program may have left no free file
        descriptor (an import would fail, and the child would die with status 125).
        """
        try:
            for thread in threading.enumerate():
                if thread is not threading.current_thread() and not thread.daemon:
                    thread.join()
        except Exception:  # noqa: BLE001 - a program that broke threading keeps its exit code
            pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed pipe must not change the exit code
                pass
        os._exit(code)

    # WARNING: the next function executes untrusted, model-generated code.  It must only run in a
    # forked child, after _child_setup applied the rlimits, inside the bubblewrap sandbox built by
    # bench.verify.code_exec (which refuses to run without one unless allow_unsafe=True).
    def _exec_program(self, module_name: str, source: str | None = None) -> dict[str, Any]:
        """Run the program source (or ``source``) as a fresh module; returns its namespace."""
        module = types.ModuleType(module_name)
        module.__file__ = "solution.py"
        sys.modules[module_name] = module
        code = self.code if source is None and self.code is not None else \
            compile(self.source if source is None else source, "solution.py", "exec")
        exec(code, module.__dict__)  # noqa: S102 - WARNING: untrusted code, runs only in the child
        return module.__dict__

    def _child_run_program(self) -> None:
        """Child body for a stdin/stdout test: exit code as ``python solution.py`` would give."""
        code = 0
        try:
            self._exec_program("__main__")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - the program's own crash
            try:
                traceback.print_exc()
            except BaseException:  # noqa: BLE001 - stderr is /dev/null; the exit code matters
                pass
            code = 1
        self._finish_child(code & 0xFF)

    def _child_serve_calls(self, module_name: str, source: str | None, require: str | None) -> None:
        """Child body for call-based tests: load the module, then answer call requests on fd 3/4."""
        try:
            namespace = self._exec_program(module_name, source)
        except BaseException as exc:  # noqa: BLE001 - report the load failure as data
            write_frame(4, {"status": "error", "detail": f"{type(exc).__name__}: {exc}"[:500]})
            os._exit(1)
        if require is not None and require not in namespace:
            write_frame(4, {"status": "error", "detail": f"the program defines no {require!r}"})
            os._exit(1)
        write_frame(4, {"status": "ok"})
        instance = None
        while True:
            request = read_frame(3)
            if request is None:
                os._exit(0)
            reply: dict[str, Any]
            try:
                if request.get("solution_class"):
                    if instance is None:
                        instance = namespace["Solution"]()
                    func = getattr(instance, request["name"])
                else:
                    func = namespace[request["name"]]
                args = decode_value(request["args"])
                kwargs = decode_value(request["kwargs"])
                value = func(*args, **kwargs)
                reply = {"status": "ok", "value": encode_value(value)}
            except CodecError as exc:
                reply = {"status": "unserializable", "detail": str(exc)[:500]}
            except BaseException as exc:  # noqa: BLE001 - the program's own exception is data
                reply = {"status": "exception", "detail": f"{type(exc).__name__}: {exc}"[:500]}
            try:
                write_frame(4, reply)
            except OSError:
                os._exit(1)

    # -- runner side -----------------------------------------------------------------------

    def _fork(self, fd_map: dict[int, int], workdir: str, body: Any) -> int:
        """Fork a child that sets itself up with ``fd_map`` and runs ``body``; never returns in it."""
        pid = os.fork()
        if pid == 0:
            try:
                self._child_setup(fd_map, workdir)
                body()
            finally:
                os._exit(125)
        return pid

    def _kill_all(self, pid: int) -> None:
        """Kill the child, its process group and (inside our pid namespace) every orphan too."""
        for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            try:
                kill()
            except (ProcessLookupError, PermissionError):
                pass
        if self.pidns and os.getuid() != 0:
            self._kill_strays(exclude=pid)

    @staticmethod
    def _strays(exclude: int = 0) -> list[int]:
        """Live processes of this pid namespace besides bwrap (pid 1), us and ``exclude``."""
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in (1, os.getpid(), exclude):
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    state = handle.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue  # gone meanwhile
            if state not in (b"Z", b"X"):
                found.append(int(name))
        return found

    def _kill_strays(self, exclude: int = 0, deadline_s: float = 2.0) -> bool:
        """SIGKILL every other process in our pid namespace until none is left (a fork bomb
        can fork while ``kill(-1)`` walks the process list); False if some survived."""
        deadline = time.monotonic() + deadline_s
        while True:
            # kill(-1) reaches every process we may signal in this pid namespace except ourselves
            # and its init (bwrap): the setsid()/double-fork orphans of the program.
            try:
                os.kill(-1, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            # orphans belong to bwrap (pid 1), which reaps them; our own child ``exclude`` is
            # reaped by the caller, which needs its exit status
            if not self._strays(exclude):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)

    @staticmethod
    def _reap(pid: int) -> int | None:
        """Reap ``pid``; its wait status (None if already gone)."""
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return None

    def _workdir(self) -> str:
        self.counter += 1
        path = os.path.join(self.limits["tmp_root"], f"test{self.counter}")
        os.mkdir(path, 0o700)
        return path

    @staticmethod
    def _rmtree(path: str) -> None:
        import shutil

        shutil.rmtree(path, ignore_errors=True)

    def op_run(self, msg: dict[str, Any]) -> dict[str, Any]:
        """One stdin/stdout test in a fresh child."""
        workdir = self._workdir()
        stdin_text: str = msg["stdin"]
        stdin_path = os.path.join(workdir, ".stdin")
        with open(stdin_path, "w", encoding="utf-8", errors="surrogatepass") as handle:
            handle.write("" if msg.get("files") else stdin_text)
        if msg.get("files"):
            with open(os.path.join(workdir, "input.txt"), "w", encoding="utf-8") as handle:
                handle.write(stdin_text)
        stdin_fd = os.open(stdin_path, os.O_RDONLY)
        os.unlink(stdin_path)
        out_r, out_w = os.pipe()
        null_fd = os.open(os.devnull, os.O_WRONLY)
        pid = self._fork({0: stdin_fd, 1: out_w, 2: null_fd}, workdir, self._child_run_program)
        for fd in (stdin_fd, out_w, null_fd):
            os.close(fd)
        result = self._collect(pid, out_r, float(msg["timeout"]))
        os.close(out_r)
        if msg.get("files"):
            result["output_file"] = self._read_capped(os.path.join(workdir, "output.txt"))
        self._rmtree(workdir)
        return result

    def _read_capped(self, path: str) -> str | None:
        try:
            with open(path, "rb") as handle:
                return handle.read(self.limits["output_bytes"]).decode("utf-8", "replace")
        except OSError:
            return None

    def _collect(self, pid: int, out_r: int, timeout: float) -> dict[str, Any]:
        """Read the child's stdout until it exits, the deadline passes or the output cap is hit."""
        deadline = time.monotonic() + timeout
        cap = self.limits["output_bytes"]
        chunks: list[bytes] = []
        size = 0
        pidfd = os.pidfd_open(pid)
        status = "exited"
        poller = select.poll()
        poller.register(out_r, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        out_open, exited = True, False
        try:
            while not exited or out_open:
                left = deadline - time.monotonic()
                if left <= 0:
                    status = "timeout"
                    break
                for fd, _event in poller.poll(left * 1000):
                    if fd == pidfd:
                        exited = True
                        poller.unregister(pidfd)
                        # without a pid namespace an escaped orphan may hold the pipe: stop soon
                        deadline = min(deadline, time.monotonic() + 0.5)
                        # the program is gone: orphans still holding the pipe are killed now
                        self._kill_all(pid)
                    elif fd == out_r:
                        chunk = os.read(out_r, 1 << 16)
                        if not chunk:
                            out_open = False
                            poller.unregister(out_r)
                        else:
                            chunks.append(chunk)
                            size += len(chunk)
                if size > cap:
                    status = "output_limit"
                    break
        finally:
            os.close(pidfd)
        self._kill_all(pid)
        wait_status = self._reap(pid)
        returncode = None
        if wait_status is not None:
            returncode = os.waitstatus_to_exitcode(wait_status)
        if status == "exited" and returncode is not None and returncode < 0:
            status = "killed"  # a signal: RLIMIT_CPU's SIGXCPU/SIGKILL, or a segfault
        stdout = b"".join(chunks)[:cap].decode("utf-8", "replace")
        return {"status": status, "returncode": returncode, "stdout": stdout}

    def op_open(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Start a child that loads the program as a module and serves calls."""
        self.op_close({})
        workdir = self._workdir()
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        in_fd = os.open(os.devnull, os.O_RDONLY)
        null_fd = os.open(os.devnull, os.O_WRONLY)
        name = str(msg.get("module_name", "tmp_sol"))
        source, require = msg.get("source"), msg.get("require")
        pid = self._fork(
            {0: in_fd, 1: null_fd, 2: null_fd, 3: req_r, 4: resp_w},
            workdir,
            lambda: self._child_serve_calls(name, source, require),
        )
        for fd in (req_r, resp_w, in_fd, null_fd):
            os.close(fd)
        self.module_child = (pid, req_w, resp_r)
        self.module_workdir = workdir
        return self._await_child(float(msg["timeout"]))

    def _await_child(self, timeout: float) -> dict[str, Any]:
        """Wait for the module child's next reply; on timeout or death, kill it."""
        assert self.module_child is not None
        pid, _req_w, resp_r = self.module_child
        try:
            reply = read_frame(resp_r, time.monotonic() + timeout, self.limits["output_bytes"] + 4096)
        except TimeoutError:
            self.op_close({})
            return {"status": "timeout"}
        except CodecError as exc:
            self.op_close({})
            return {"status": "crashed", "detail": f"garbled reply: {exc}"}
        if reply is None:
            self.op_close({})
            return {"status": "crashed", "detail": "the program's process died"}
        return reply

    def op_call(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Forward one call to the module child and return its (untrusted) reply."""
        if self.module_child is None:
            return {"status": "crashed", "detail": "no module is loaded"}
        request = {k: msg[k] for k in ("name", "args", "kwargs", "solution_class")}
        try:
            write_frame(self.module_child[1], request)
        except OSError:
            self.op_close({})
            return {"status": "crashed", "detail": "the program's process died"}
        return self._await_child(float(msg["timeout"]))

    def op_close(self, _msg: dict[str, Any]) -> dict[str, Any]:
        """Kill the module child (if any) and everything it started."""
        if self.module_child is not None:
            pid, req_w, resp_r = self.module_child
            self.module_child = None
            self._kill_all(pid)
            self._reap(pid)
            os.close(req_w)
            os.close(resp_r)
            self._rmtree(self.module_workdir)
        return {"status": "ok"}

    def op_reset(self, _msg: dict[str, Any]) -> dict[str, Any]:
        """End the current program: kill all its processes, empty ``/tmp`` and ``/dev/shm``.

        Only inside the sandbox's pid namespace (``pidns``) can every leftover process be found;
        without it (unsafe mode) the program's process groups were killed after each test.
        """
        self.op_close({})
        if self.pidns and os.getuid() != 0 and not self._kill_strays():
            return {"status": "error", "detail": "processes of the program survived SIGKILL"}
        for folder in (self.limits.get("tmp_root"), "/dev/shm" if self.pidns else None):
            if folder and os.path.isdir(folder):
                self._empty(folder)
        if self.pidns:
            self._remove_sysv_ipc()
        self.source, self.code = "", None
        return {"status": "ok"}

    @staticmethod
    def _remove_sysv_ipc() -> None:
        """Remove the System V shared memory, semaphores and queues of our IPC namespace."""
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        ipc_rmid = 0
        for kind in ("shm", "sem", "msg"):
            try:
                with open(f"/proc/sysvipc/{kind}", encoding="ascii") as handle:
                    ids = [int(line.split()[1]) for line in handle.read().splitlines()[1:] if line.strip()]
            except (OSError, ValueError, IndexError):
                continue
            for ident in ids:
                if kind == "shm":
                    libc.shmctl(ident, ipc_rmid, None)
                elif kind == "sem":
                    libc.semctl(ident, 0, ipc_rmid)
                else:
                    libc.msgctl(ident, ipc_rmid, None)

    @staticmethod
    def _empty(folder: str) -> None:
        """Delete everything inside ``folder`` that this uid may delete."""
        import shutil

        for entry in os.scandir(folder):
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass

    def op_init(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Store the program and limits, pre-import trusted modules so children start warm."""
        import builtins

        def _quit(code: object = None) -> None:
            raise SystemExit(code)

        # `python -S` skips site, which is what defines exit() and quit(); programs use them
        builtins.exit = builtins.quit = _quit  # type: ignore[assignment]
        self.source = msg["source"]
        self.limits = msg["limits"]
        self.pidns = bool(msg["pidns"])
        for name in msg.get("preimport", ()):
            try:
                __import__(name)
            except ImportError:
                pass  # the program will get the same ImportError itself
        # Compile the program once here (trusted: compiling runs nothing) instead of in every
        # child, and move what exists now out of the garbage collector's reach: children then
        # do not touch (and so copy) the runner's pages when they collect.
        gc.unfreeze()  # the previous program's code object (a reused runner) may now be collected
        try:
            self.code = compile(self.source, "solution.py", "exec")
        except Exception:  # noqa: BLE001 - SyntaxError, RecursionError, ...: the child reports it
            self.code = None  # each child compiles again and reports the error as the program's
        gc.collect()
        gc.freeze()
        return {"op": "ready"}

    def serve(self) -> None:
        """Answer frames until the harness closes the control pipe."""
        handlers = {"init": self.op_init, "run": self.op_run, "open": self.op_open, "call": self.op_call,
                    "close": self.op_close, "reset": self.op_reset}
        while True:
            msg = read_frame(self.ctl_in)
            if msg is None:
                self.op_close({})
                return
            write_frame(self.ctl_out, handlers[msg["op"]](msg))


def main() -> None:
    """Entry point inside the sandbox: move the control pipe off fds 0/1, harden, serve."""
    ctl_in, ctl_out = os.dup(0), os.dup(1)  # os.dup gives non-inheritable (O_CLOEXEC) fds
    null_fd = os.open(os.devnull, os.O_RDWR)
    os.dup2(null_fd, 0)
    os.dup2(null_fd, 1)
    os.close(null_fd)
    drop_uid = "--drop-uid" in sys.argv
    _harden_self(drop_uid)
    site = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--site=")]
    sys.path.extend(site)
    Runner(ctl_in, ctl_out).serve()


if __name__ == "__main__":
    main()
