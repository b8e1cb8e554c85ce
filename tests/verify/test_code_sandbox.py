"""The code sandbox: hostile programs are contained and fail, and the harness keeps working.

Each hostile sample (tests/data/hostile_samples.jsonl) attacks the machine or the verdict; every
test checks both the verdict (never a pass) and, where it can be seen from outside, that the
attack had no effect (the host file is intact, the host server got no connection, no orphan).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from bench.errors import UnsafeExecutionError
from bench.verify import code_exec
from bench.verify.code_exec import Limits, SandboxSession, build_bwrap_command, bwrap_problem
from bench.verify.code_verifier import CodeVerifier

DATA = Path(__file__).resolve().parents[1] / "data"
HOSTILE = {row["name"]: row for row in map(json.loads, (DATA / "hostile_samples.jsonl").read_text().splitlines())}
SUM_PROBLEM = {"input_output": json.dumps({"inputs": ["1 2\n", "10 20\n"], "outputs": ["3\n", "30\n"]})}
CALL_PROBLEM = {"input_output": json.dumps({"fn_name": "add_pair", "inputs": [[1, 2]], "outputs": [[[3, 2]]]})}
HE_PROBLEM = {"prompt": "def add(x, y):\n    \"\"\"Add two numbers.\"\"\"\n", "entry_point": "add",
              "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(0, 0) == 0\n"}
GOOD_SUM = "a, b = map(int, input().split())\nprint(a + b)\n"

needs_bwrap = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bubblewrap unusable: {bwrap_problem()}")
pytestmark = needs_bwrap


@pytest.fixture(scope="module")
def verifier() -> CodeVerifier:
    return CodeVerifier(timeout_s=2.0, memory_mb=300)


@pytest.fixture()
def host_secret(tmp_path: Path) -> Path:
    secret = tmp_path / "expected_outputs.txt"
    secret.write_text("3\n")
    return secret


def _reference(mode: str) -> dict:
    return {"stdio": SUM_PROBLEM, "call": CALL_PROBLEM, "humaneval": HE_PROBLEM}[mode]


def _code(name: str, **fields: object) -> str:
    return HOSTILE[name]["code"].format(**fields)


def _ps_lines() -> list[str]:
    return subprocess.run(["ps", "-eo", "uid,args"], capture_output=True, text=True, check=True).stdout.splitlines()


@pytest.mark.parametrize(
    "name",
    ["fork_bomb", "memory_bomb", "memory_bomb_at_once", "infinite_loop", "sleep_forever", "read_etc_passwd",
     "gigabytes_of_output", "big_file", "kill_the_runner", "forge_control_frames", "read_runner_memory",
     "always_equal_object", "huge_return_value", "exit_before_tests", "patch_builtins"],
)
def test_hostile_sample_fails_and_harness_survives(verifier: CodeVerifier, name: str) -> None:
    row = HOSTILE[name]
    start = time.monotonic()
    verdict = verifier.verify(row["code"], _reference(row["mode"]))
    assert verdict.status in row["expect"], verdict
    assert verdict.reward == 0.0
    assert time.monotonic() - start < 20
    # the harness still works: a correct program passes right after
    assert verifier.verify(GOOD_SUM, SUM_PROBLEM).status == "passed"


def test_host_files_cannot_be_deleted_written_or_read(verifier: CodeVerifier, host_secret: Path) -> None:
    fields = {"secret_path": str(host_secret), "host_dir": str(host_secret.parent)}
    for name in ("delete_host_file", "write_outside_tmp", "read_host_file"):
        verdict = verifier.verify(_code(name, **fields), SUM_PROBLEM)
        assert verdict.status == "failed", (name, verdict)
    assert host_secret.read_text() == "3\n"
    assert sorted(p.name for p in host_secret.parent.iterdir()) == ["expected_outputs.txt"]
    assert not Path("/usr/planted.txt").exists()


def test_read_host_file_positive_control(host_secret: Path) -> None:
    """Without the sandbox the same program does read the file: the test above is meaningful."""
    code = _code("read_host_file", secret_path=str(host_secret))
    proc = subprocess.run(["python3", "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.stdout == "3\n\n"


def test_socket_cannot_reach_host_localhost(verifier: CodeVerifier) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    connections: list[object] = []
    stop = threading.Event()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                connections.append(server.accept())
            except socket.timeout:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept_loop)
    thread.start()
    try:
        # positive control: the host itself can connect
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        time.sleep(0.3)
        assert len(connections) == 1
        verdict = verifier.verify(_code("socket_to_localhost", port=port), SUM_PROBLEM)
        assert verdict.status == "failed", verdict
        time.sleep(0.3)
        assert len(connections) == 1  # nothing from the sandbox
    finally:
        stop.set()
        thread.join()
        server.close()


def test_setsid_orphan_is_killed_when_its_test_ends() -> None:
    marker = f"{1000 + uuid.uuid4().int % 10 ** 6}.25"
    code = _code("setsid_orphan", marker=marker)
    with SandboxSession(code, Limits()) as session:
        result = session.run_stdio("1 2\n", 2.0)
        assert result.status == "exited" and result.stdout == "4\n"
        time.sleep(0.2)
        assert not [line for line in _ps_lines() if f"sleep {marker}" in line]
    verdict = CodeVerifier(timeout_s=2.0).verify(code, SUM_PROBLEM)
    assert verdict.status == "failed"


def test_ps_check_sees_sandboxed_processes() -> None:
    """Positive control for the orphan test: a running sandboxed ``sleep`` does show up in ps."""
    marker = f"{2000 + uuid.uuid4().int % 10 ** 6}.5"
    code = f"import subprocess\nsubprocess.run(['/usr/bin/sleep', '{marker}'])\n"
    with SandboxSession(code, Limits()) as session:
        seen: list[list[str]] = []
        thread = threading.Thread(target=lambda: seen.append(session.run_stdio("", 1.5).stdout.split()))
        thread.start()
        time.sleep(0.8)
        lines = [line for line in _ps_lines() if f"sleep {marker}" in line]
        thread.join()
    assert lines and lines[0].split()[0] == "65534"  # runs as the unprivileged uid


def test_runner_death_fails_remaining_tests() -> None:
    with SandboxSession(_code("kill_the_runner"), Limits()) as session:
        first = session.run_stdio("1 2\n", 2.0)
        second = session.run_stdio("1 2\n", 2.0)
    assert first.status == "sandbox_died" and second.status == "sandbox_died"
    assert not session.alive


def test_expected_outputs_never_reach_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spy on every frame the harness sends: the expected outputs are not in any of them."""
    sent: list[str] = []
    real_write = code_exec.write_frame

    def spy(fd: int, message: dict) -> None:
        sent.append(json.dumps(message))
        real_write(fd, message)

    monkeypatch.setattr(code_exec, "write_frame", spy)
    problem = {"input_output": json.dumps({"inputs": ["4 5\n"], "outputs": ["SECRET-9\n"]})}
    verdict = CodeVerifier(timeout_s=2.0).verify("print('SECRET-9')\n", problem)
    assert verdict.status == "passed"
    assert sent and not [frame for frame in sent if "SECRET-9\\n" in frame and '"op": "init"' not in frame]
    call = {"input_output": json.dumps({"fn_name": "f", "inputs": [[1]], "outputs": [["EXPECTED-XYZ"]]})}
    sent.clear()
    CodeVerifier(timeout_s=2.0).verify("def f(x):\n    return 1\n", call)
    assert sent and not [frame for frame in sent if "EXPECTED-XYZ" in frame]


def test_missing_bwrap_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_exec, "bwrap_problem", lambda: "bubblewrap (bwrap) is not installed")
    with pytest.raises(UnsafeExecutionError, match="bubblewrap.*allow_unsafe"):
        CodeVerifier().verify(GOOD_SUM, SUM_PROBLEM)
    # the explicit opt-in runs without the sandbox (rlimits only)
    assert CodeVerifier(allow_unsafe=True).verify(GOOD_SUM, SUM_PROBLEM).status == "passed"


def test_bwrap_command_isolates() -> None:
    cmd = build_bwrap_command(Limits())
    for flag in ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent", "--new-session", "--clearenv"):
        assert flag in cmd
    binds = [cmd[i + 1] for i, arg in enumerate(cmd) if arg in ("--bind", "--ro-bind")]
    assert "--bind" not in cmd  # nothing host-side is writable
    assert "/" not in binds and str(Path(__file__).resolve().parents[2]) not in binds  # not the repo
    allowed = {"/usr", str(Path(sys.base_prefix).resolve()), str(code_exec.RUNNER_PATH)}
    assert all(b in allowed or b.endswith("site-packages") for b in binds), binds
    if os.geteuid() == 0:
        assert cmd[-1] == "--drop-uid"


def test_sandbox_that_cannot_start_gives_an_error_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_exec, "build_bwrap_command", lambda limits: ["/bin/sh", "-c", "echo broken >&2"])
    verdict = CodeVerifier().verify(GOOD_SUM, SUM_PROBLEM)
    assert verdict.status == "error" and "failed to start" in verdict.detail and "broken" in verdict.detail


FILL_FD_TABLE = ("_held = []\ntry:\n    while True:\n        _held.append(open('/dev/null'))\n"
                 "except OSError:\n    pass\n")


@pytest.mark.parametrize("mode", ["stdio", "humaneval"])
def test_correct_program_with_a_full_fd_table_passes(verifier: CodeVerifier, mode: str) -> None:
    """A correct program that leaves no free file descriptor (RLIMIT_NOFILE reached) still
    passes: the runner must not need a new descriptor (e.g. an import) after the program."""
    body = GOOD_SUM if mode == "stdio" else "    return x + y\n"
    code = FILL_FD_TABLE + body if mode == "stdio" else body + FILL_FD_TABLE
    verdict = verifier.verify(code, _reference(mode))
    assert verdict.status == "passed", verdict
    # control: the table really was full (one more open() fails inside the sandbox)
    probe = FILL_FD_TABLE + "try:\n    open('/dev/null')\n    print('free')\nexcept OSError:\n    print('full')\n"
    with SandboxSession(probe, verifier._limits()) as session:
        assert session.run_stdio("", 2.0).stdout == "full\n"


def test_reused_sandbox_keeps_nothing_of_the_previous_program() -> None:
    """Programs share a worker's sandbox in turn: the second sees no file the first left in
    /tmp, no System V IPC object and no process of it (the same runner serves both)."""
    plant = ("import ctypes, os, subprocess\n"
             "open('/tmp/left-behind', 'w').write('x')\n"
             "libc = ctypes.CDLL(None)\n"
             "print(libc.shmget(4242, 4096, 0o1600) >= 0, libc.msgget(4243, 0o1600) >= 0)\n"
             "os.makedirs('/tmp/dir-left/sub', exist_ok=True)\n"
             "try:\n    open('/dev/shm/left-behind', 'w').write('x')\nexcept OSError:\n    pass\n"
             "print(os.path.exists('/tmp/left-behind'))\n")
    look = ("import os\n"
            "procs = [p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, os.getpid(), os.getppid())]\n"
            "ipc = [len(open(f'/proc/sysvipc/{k}').read().splitlines()) - 1 for k in ('shm', 'msg')]\n"
            "print(sorted(os.listdir('/tmp')) == [os.path.basename(os.getcwd())],"
            " os.path.exists('/dev/shm/left-behind'), procs, ipc)\n")
    code_exec.close_idle_sandboxes()
    with SandboxSession(plant, Limits()) as first:
        runner_pid = first._runner.proc.pid
        assert first.run_stdio("", 2.0).stdout == "True True\nTrue\n"
    with SandboxSession(look, Limits()) as second:
        assert second._runner.proc.pid == runner_pid  # the same sandbox, reused
        assert second.run_stdio("", 2.0).stdout == "True False [] [0, 0]\n"
    with SandboxSession(look, Limits(), reuse=False) as fresh:
        assert fresh._runner.proc.pid != runner_pid
