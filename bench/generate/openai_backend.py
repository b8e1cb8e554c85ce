"""The ``openai`` backend: any OpenAI-compatible server (``vllm serve``, llama.cpp's server, APIs).

Each sample is one request with ``n = 1`` and its own ``seed`` (servers that honour seeds then
give the same samples on a rerun); requests run ``concurrency`` at a time in threads.  Chat
prompts go to ``/chat/completions`` (the server applies the model's chat template), text
prompts to ``/completions``.  Transient failures (connection errors, HTTP 408/429/5xx) are
retried with exponential backoff and jitter; anything else stops the run with the server's
message.  Only the standard library is used.

Set ``OPENAI_API_KEY`` for hosted APIs; local servers ignore it.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.errors import HardbenchError
from bench.generate.base import Completion, DecodingParams, Request

#: HTTP statuses worth retrying.
RETRY_STATUSES = (408, 409, 429, 500, 502, 503, 504)


class OpenAIBackend:
    """Concurrent requests to an OpenAI-compatible server; ``batch_queries`` queries per call."""

    name = "openai"
    accepts_messages = True

    def __init__(self, base_url: str, model: str, *, concurrency: int = 8, retries: int = 6,
                 backoff_s: float = 0.5, timeout_s: float = 600.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.concurrency = max(1, concurrency)
        self.batch_queries = max(1, concurrency)
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(self.concurrency)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "engine": "OpenAI-compatible server", "version": "v1 API",
                "base_url": self.base_url, "served_model": self.model, "concurrency": self.concurrency}

    def chat_template_prompt(self, messages: Sequence[Mapping[str, str]]) -> str | None:
        return None   # the server applies its own template (see accepts_messages)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def generate(self, requests: Sequence[Request], params: DecodingParams) -> list[list[Completion]]:
        jobs = [(r, j) for r in requests for j in range(r.n)]
        results = list(self._pool.map(lambda job: self._one(job[0], job[1], params), jobs))
        out: list[list[Completion]] = []
        position = 0
        for request in requests:
            out.append(results[position:position + request.n])
            position += request.n
        return out

    def _one(self, request: Request, sample: int, params: DecodingParams) -> Completion:
        body: dict[str, Any] = {"model": self.model, "max_tokens": params.max_tokens,
                                "temperature": params.temperature, "top_p": params.top_p,
                                "n": 1, "seed": request.seeds[sample]}
        if params.stop:
            body["stop"] = list(params.stop)
        if request.messages is not None:
            body["messages"] = [dict(m) for m in request.messages]
            reply = self._post("/chat/completions", body)
            choice = reply["choices"][0]
            text = (choice.get("message") or {}).get("content") or ""
        else:
            body["prompt"] = request.prompt
            reply = self._post("/completions", body)
            choice = reply["choices"][0]
            text = choice.get("text") or ""
        usage = reply.get("usage") or {}
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        return Completion(text=text, n_tokens=int(usage.get("completion_tokens") or 0), finish_reason=finish)

    def _post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if os.environ.get("OPENAI_API_KEY"):
            headers["Authorization"] = f"Bearer {os.environ['OPENAI_API_KEY']}"
        last = ""
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as err:
                detail = err.read().decode("utf-8", errors="replace")[:300]
                if err.code not in RETRY_STATUSES:
                    raise HardbenchError(f"{self.base_url}{path}: HTTP {err.code}: {detail}") from err
                last = f"HTTP {err.code}: {detail}"
            except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
                last = f"{type(err).__name__}: {err}"
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2 ** attempt * (1 + random.random()))
        raise HardbenchError(f"{self.base_url}{path}: no answer after {self.retries + 1} tries ({last}); "
                             "is the server running and is --base-url right?")
