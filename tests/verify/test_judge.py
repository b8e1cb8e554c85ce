"""LLM judge: the HTTP backend against a local fake OpenAI server, the disk cache, stage 2."""

from __future__ import annotations

import doctest
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bench.errors import TaskConfigError
from bench.verify import judge as judge_module
from bench.verify.judge import (
    MATH_JUDGE_PROMPT,
    JudgeError,
    LlamaCppBackend,
    LLMJudge,
    OpenAICompatibleBackend,
    build_judge,
    parse_yes_no,
)
from bench.verify.math_equiv import ComparisonWorker, MathVerifier


class FakeOpenAIServer:
    """A local ``/v1/chat/completions`` endpoint (test fixture): replies with a scripted text."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply = "YES. They are equal."
        self.status = 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": server.reply}}]})
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    fake = FakeOpenAIServer()
    yield fake
    fake.close()


def test_doctests() -> None:
    assert doctest.testmod(judge_module).failed == 0


def test_prompt_is_the_papers() -> None:
    assert MATH_JUDGE_PROMPT.startswith("You are a math evaluation agent. You are tasked with evaluating")
    assert "they must simplify to the same value Your response should be a single word" in MATH_JUDGE_PROMPT
    assert "A) 7% and 7 are equivalent" in MATH_JUDGE_PROMPT
    assert "C) 3,5,7 and 3,8,9 are not equivalent." in MATH_JUDGE_PROMPT


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("YES", True), ("yes, equal", True), ("**NO** because", False), ("'NO'", False), ("Yesterday", None), ("", None)],
)
def test_parse_yes_no(reply: str, expected: bool | None) -> None:
    assert parse_yes_no(reply) is expected


def test_http_backend_request_and_cache(server: FakeOpenAIServer, tmp_path: Path) -> None:
    backend = OpenAICompatibleBackend(base_url=server.url + "/v1", model="judge-model", api_key="k")
    judge = LLMJudge(backend=backend, cache_dir=tmp_path)
    first = judge.judge_math(gold_answer="12.5", response=r"\frac{25}{2}")
    assert (first.equivalent, first.cached) == (True, False)
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer k"
    body = request["body"]
    assert body["model"] == "judge-model" and body["temperature"] == 0.1
    assert body["messages"][0]["content"].endswith(r"Ground Truth Answer: <12.5> Response: <\frac{25}{2}>")
    server.reply = "NO"  # a second call must not reach the server at all
    second = judge.judge_math(gold_answer="12.5", response=r"\frac{25}{2}")
    assert (second.equivalent, second.cached, len(server.requests)) == (True, True, 1)
    files = list(tmp_path.rglob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["reply"] == "YES. They are equal."
    other = LLMJudge(backend=OpenAICompatibleBackend(base_url=server.url, model="other"), cache_dir=tmp_path)
    assert other.judge_math(gold_answer="12.5", response=r"\frac{25}{2}").equivalent is False  # new identity
    assert len(server.requests) == 2


def test_http_errors_are_judge_errors(server: FakeOpenAIServer) -> None:
    server.status = 500
    backend = OpenAICompatibleBackend(base_url=server.url, model="m")
    with pytest.raises(JudgeError, match="HTTP 500"):
        backend.complete("hi", temperature=0.1, max_tokens=4)
    server.close()
    with pytest.raises(JudgeError, match="unreachable"):
        OpenAICompatibleBackend(base_url=server.url, model="m", timeout_s=2).complete("hi", temperature=0.1, max_tokens=4)
    server.httpd = type("Closed", (), {"shutdown": lambda self: None, "server_close": lambda self: None})()


def test_stage_two_only_for_unsure(server: FakeOpenAIServer, tmp_path: Path) -> None:
    worker = ComparisonWorker()
    try:
        spec = {"backend": "openai", "base_url": server.url, "model": "m", "cache_dir": str(tmp_path)}
        verifier = MathVerifier(judge=spec, worker=worker, timeout_s=30)
        assert verifier.verify(r"\boxed{12.5}", {"answer": r"\frac{25}{2}"}).status == "correct"
        assert verifier.verify(r"\boxed{13}", {"answer": "12.5"}).status == "incorrect"
        assert server.requests == []  # stage 1 decided both
        yes = verifier.verify(r"\boxed{7\%}", {"answer": "7"})
        assert (yes.reward, yes.status) == (1.0, "correct") and "stage 2" in yes.detail
        server.reply = "NO, they differ"
        no = verifier.verify(r"The answer is 5 m.", {"answer": "5"})  # no box: whole response
        assert (no.reward, no.status) == (0.0, "incorrect")
        assert server.requests[-1]["body"]["messages"][0]["content"].endswith("Response: <The answer is 5 m.>")
        server.reply = "I cannot tell"
        assert verifier.verify(r"\boxed{5\text{ cm}}", {"answer": "5"}).status == "unsure"
        server.status = 503
        assert verifier.verify(r"\boxed{6\text{ cm}}", {"answer": "6"}).status == "error"
    finally:
        worker.close()


def test_judge_incorrect_follows_the_papers_pipeline(server: FakeOpenAIServer, tmp_path: Path) -> None:
    worker = ComparisonWorker()
    try:
        spec = {"backend": "openai", "base_url": server.url, "model": "m"}
        strict = MathVerifier(judge=spec, worker=worker, timeout_s=30)
        paper = MathVerifier(judge=spec, judge_incorrect=True, worker=worker, timeout_s=30)
        assert strict.verify(r"\boxed{13}", {"answer": "12.5"}).status == "incorrect"
        assert server.requests == []
        overturned = paper.verify(r"\boxed{13}", {"answer": "12.5"})  # the fake judge says YES
        assert (overturned.status, len(server.requests)) == ("correct", 1)
        assert paper.verify(r"\boxed{12.5}", {"answer": "12.5"}).status == "correct"
        assert len(server.requests) == 1  # a proven match never reaches the judge
    finally:
        worker.close()


def test_build_judge_errors() -> None:
    with pytest.raises(TaskConfigError, match="unknown"):
        build_judge({"backend": "gpt"})
    with pytest.raises(TaskConfigError, match="bad options"):
        build_judge({"backend": "openai", "url": "x"})


def test_llama_cpp_backend_missing_is_a_clear_error(tmp_path: Path) -> None:
    backend = LlamaCppBackend(model_path=str(tmp_path / "none.gguf"))
    with pytest.raises(JudgeError, match="llama-cpp-python|does not exist"):
        backend.complete("hi", temperature=0.1, max_tokens=4)


def test_transformers_backend_with_a_tiny_random_model(tmp_path: Path) -> None:
    """Plumbing only: a randomly initialised 2-layer Llama built here (no download)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from .test_chat_rewards import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    import torch

    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "tiny-random-llama")
    tokenizer.save_pretrained(tmp_path / "tiny-random-llama")
    backend = judge_module.TransformersBackend(model_name_or_path=str(tmp_path / "tiny-random-llama"))
    judge = LLMJudge(backend=backend, cache_dir=tmp_path / "cache", max_tokens=5)
    first = judge.judge_math(gold_answer="2", response="x = 2")
    assert isinstance(first.text, str) and first.equivalent in (True, False, None)
    again = backend.complete(MATH_JUDGE_PROMPT.replace("{gold}", "2").replace("{response}", "x = 2"),
                             temperature=0.1, max_tokens=5)
    assert again == first.text  # seeded sampling is reproducible
    assert judge.judge_math(gold_answer="2", response="x = 2").cached
