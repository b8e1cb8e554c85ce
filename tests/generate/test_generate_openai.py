"""The ``openai`` backend against a real llama.cpp server (``python -m bench.generate.llamacpp_server``).

The test starts the server on 127.0.0.1 with the smallest registry model (SmolLM2-135M-Instruct)
and generates a tiny GSM8K bank through it; a second part checks retries against a port where
nothing listens.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("sse_starlette")
pytest.importorskip("starlette_context")
pytest.importorskip("pydantic_settings")

from bench.bank import load_bank  # noqa: E402
from bench.cli import main  # noqa: E402
from bench.errors import HardbenchError  # noqa: E402
from bench.generate.base import DecodingParams, Request  # noqa: E402
from bench.generate.models import resolve_model  # noqa: E402
from bench.generate.openai_backend import OpenAIBackend  # noqa: E402

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.is_file() else ""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A llama.cpp server started the way docs/generate.md says (the AMX-safe wrapper).

    Its output goes to a log whose tail is shown if it fails to start or dies during the tests
    (a crash is otherwise only "connection refused" on the client side).
    """
    model = resolve_model("smollm2-135m-instruct").location
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "bench.generate.llamacpp_server", "--model", model,
                                    "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
                                    "--model_alias", "smollm2"], stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/models", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the llama.cpp server did not start (exit code {process.poll()}):\n"
                                f"{_log_tail(log)}")
                time.sleep(0.5)
        yield url
        if process.poll() is not None:
            pytest.fail(f"the llama.cpp server died during the tests (exit code {process.returncode}):\n"
                        f"{_log_tail(log)}")
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_generate_a_bank_through_the_server(server: str, tmp_path: Path) -> None:
    out = tmp_path / "bank"
    code = main(["generate", "--task", "gsm8k", "--model", "smollm2", "--backend", "openai",
                 "--base-url", server, "--limit", "2", "--n", "2", "--max-tokens", "16",
                 "--concurrency", "2", "--workers", "1", "--no-progress", "--out", str(out)])
    assert code == 0
    bank = load_bank(out)
    responses = pd.read_parquet(out / "responses.parquet")
    assert len(responses) == 4 and responses["n_tokens"].between(1, 16).all()
    assert set(responses["finish_reason"]) <= {"stop", "length"}
    queries = pd.read_parquet(out / "queries.parquet")
    assert (queries["prompt_format"] == "server-chat-template").all()
    assert bank.manifest["provenance"]["generation"]["backend"]["name"] == "openai"


def test_text_prompt_and_seeded_samples(server: str) -> None:
    backend = OpenAIBackend(server, "smollm2", concurrency=2)
    params = DecodingParams(temperature=0.8, top_p=1.0, max_tokens=8, stop=())
    request = Request("q", "The capital of France is", (11, 12))
    first, again = backend.generate([request], params)[0], backend.generate([request], params)[0]
    backend.close()
    assert [c.text for c in first] == [c.text for c in again]      # the server honours seeds
    assert all(c.n_tokens >= 1 for c in first)


def test_unreachable_server_is_retried_then_reported() -> None:
    backend = OpenAIBackend(f"http://127.0.0.1:{_free_port()}/v1", "x", retries=2, backoff_s=0.01)
    params = DecodingParams(temperature=0.0, top_p=1.0, max_tokens=4, stop=())
    start = time.monotonic()
    with pytest.raises(HardbenchError, match="no answer after 3 tries"):
        backend.generate([Request("q", "hi", (1,))], params)
    backend.close()
    assert time.monotonic() - start < 10


def test_the_server_wrapper_turns_extra_buffers_off_on_an_amx_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a build that reports AMX, the models the server loads get ``use_extra_bufts = False``.

    The machine running the tests may have no AMX, so the build's answer is faked and the server
    itself replaced by a stand-in that reads the parameters a ``Llama`` would be loaded with.
    """
    import llama_cpp
    import llama_cpp.llama as high_level

    from bench.generate import llamacpp, llamacpp_server

    seen: list[tuple[str, list[str], bool]] = []

    def fake_server(module: str, run_name: str, alter_sys: bool) -> None:
        seen.append((module, sys.argv[1:], high_level.llama_cpp.llama_model_default_params().use_extra_bufts))

    monkeypatch.setattr(llamacpp_server.runpy, "run_module", fake_server)
    monkeypatch.setattr(sys, "argv", ["prog"])
    monkeypatch.setattr(llamacpp, "amx_compiled", lambda lib: True)
    with pytest.warns(UserWarning, match="AMX"):
        llamacpp_server.main(["--model", "m.gguf"])
    monkeypatch.setattr(llamacpp, "amx_compiled", lambda lib: False)
    llamacpp_server.main(["--model", "n.gguf"])
    assert seen == [("llama_cpp.server", ["--model", "m.gguf"], False),
                    ("llama_cpp.server", ["--model", "n.gguf"], True)]
    assert llama_cpp.llama_model_default_params().use_extra_bufts      # restored after the server stops
