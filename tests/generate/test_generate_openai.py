"""The ``openai`` backend against a real llama.cpp server (``python -m llama_cpp.server``).

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


@pytest.fixture(scope="module")
def server() -> str:
    model = resolve_model("smollm2-135m-instruct").location
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", model, "--host",
                                "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--model_alias",
                                "smollm2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/models", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("llama_cpp.server did not start")
                time.sleep(0.5)
        yield url
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
