"""LLM judges: the paper's YES/NO math prompt (stage 2) over pluggable backends, cached on disk.

Backends share one small interface, ``identity`` (a string naming everything that changes the
output) and ``complete(prompt, *, temperature, max_tokens) -> str``:

* :class:`OpenAICompatibleBackend`: any ``/v1/chat/completions`` HTTP endpoint (a vLLM or
  llama.cpp server, a hosted API), plain ``urllib``, no SDK.
* :class:`TransformersBackend`: a local causal LM via ``transformers`` (a hub name when
  online, a local folder, or a ``.gguf`` file).
* :class:`LlamaCppBackend`: a local GGUF via ``llama-cpp-python`` (optional dependency).

:class:`LLMJudge` builds the prompt, asks at temperature 0.1 (the paper's setting), parses
the first word and caches the raw reply in ``cache_dir`` under the sha256 of
(backend identity, temperature, max_tokens, prompt), written atomically.  A cached reply is
reused without any request, so re-verifying a bank is free and reproducible.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.errors import HardbenchError, TaskConfigError
from bench.fileio import atomic_write_json

#: The paper's stage-2 prompt (appendix A.1), word for word.  The PDF text lost the
#: backslashes of example B (it reads ``$frac\{10\}\{2\}$``); they are restored here.  The
#: ``< >`` slots of the paper's last line are filled with the gold answer and the response.
MATH_JUDGE_PROMPT = (
    "You are a math evaluation agent. You are tasked with evaluating if the final answer from an "
    "excerpt of the response matches the given gold truth answer. The format or units of the "
    "response and gold truth answer might be different. However, you must evaluate if the answers "
    "are numerically equivalent/identical. Be extra careful when evaluating fractions, they must "
    "simplify to the same value Your response should be a single word followed by an explanation. "
    "'YES' if the answers are equivalent and 'NO' if they are not. Examples:\n\n"
    "A) 7% and 7 are equivalent\n\n"
    "B) $\\frac{10}{2}$ and $\\frac{20}{4}$ are equivalent.\n\n"
    "C) 3,5,7 and 3,8,9 are not equivalent.\n\n"
    "Ground Truth Answer: <{gold}> Response: <{response}>"
)

#: The paper's judge temperature.
JUDGE_TEMPERATURE = 0.1


class JudgeError(HardbenchError):
    """A judge backend could not answer (unreachable server, bad reply, missing package)."""


class JudgeBackend(Protocol):
    """What :class:`LLMJudge` needs from a model."""

    @property
    def identity(self) -> str:  # pragma: no cover - protocol
        ...

    def complete(self, prompt: str, *, temperature: float, max_tokens: int) -> str:  # pragma: no cover
        ...


# --------------------------------------------------------------------------- backends


class OpenAICompatibleBackend:
    """POST ``{base_url}/v1/chat/completions`` (OpenAI wire format) with one user message.

    Parameters
    ----------
    base_url : str
        e.g. ``http://127.0.0.1:8000`` (a ``/v1`` suffix is accepted too).
    model : str
        The ``model`` field of the request (what the server serves).
    api_key : str or None
        Sent as ``Authorization: Bearer ...`` when given.
    timeout_s : float
        Socket timeout of one request.
    seed : int or None
        Sent as ``seed`` (vLLM and OpenAI honour it) for reproducible sampling.
    """

    def __init__(
        self, *, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 120.0, seed: int | None = 0
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.seed = seed

    @property
    def identity(self) -> str:
        return f"openai-compatible|{self.base_url.rstrip('/')}|{self.model}|seed:{self.seed}"

    def complete(self, prompt: str, *, temperature: float, max_tokens: int) -> str:
        """One chat completion; raises :class:`JudgeError` on any transport or format problem."""
        url = self.base_url.rstrip("/")
        url = url + ("/chat/completions" if url.endswith("/v1") else "/v1/chat/completions")
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        if self.seed is not None:
            body["seed"] = self.seed
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                payload = json.loads(reply.read().decode("utf-8"))
        except urllib.error.HTTPError as err:
            raise JudgeError(f"judge endpoint {url} answered HTTP {err.code}: {err.read()[:200]!r}") from err
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            raise JudgeError(f"judge endpoint {url} unreachable: {err}") from err
        except json.JSONDecodeError as err:
            raise JudgeError(f"judge endpoint {url} returned non-JSON: {err}") from err
        try:
            return str(payload["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError) as err:
            raise JudgeError(f"judge endpoint {url}: no choices[0].message.content in {str(payload)[:200]}") from err


class TransformersBackend:
    """A local causal LM through ``transformers`` (loaded on first use, then kept).

    Parameters
    ----------
    model_name_or_path : str
        Hub name (only when online) or local folder; with ``gguf_file``, the folder holding it.
    gguf_file : str or None
        A GGUF file name inside ``model_name_or_path`` (dequantised by transformers).
    device : str
        ``"cpu"``, ``"cuda"``, ...
    seed : int
        Seeds torch before each generation, so a reply is reproducible.
    """

    def __init__(
        self, *, model_name_or_path: str, gguf_file: str | None = None, device: str = "cpu", seed: int = 0
    ) -> None:
        self.model_name_or_path = model_name_or_path
        self.gguf_file = gguf_file
        self.device = device
        self.seed = seed

    @property
    def identity(self) -> str:
        return f"transformers|{self.model_name_or_path}|{self.gguf_file}|seed:{self.seed}"

    def _load(self) -> tuple[Any, Any]:
        cached = getattr(self, "_loaded", None)
        if cached is not None:
            return cached
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as err:
            raise JudgeError("TransformersBackend needs `pip install transformers torch==2.13.0`") from err
        kwargs = {"gguf_file": self.gguf_file} if self.gguf_file else {}
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_name_or_path, **kwargs)
            model: Any = AutoModelForCausalLM.from_pretrained(self.model_name_or_path, **kwargs)
            model = model.to(self.device).eval()
        except (OSError, ValueError) as err:
            raise JudgeError(f"cannot load judge model {self.model_name_or_path!r}: {err}") from err
        self._loaded = (tokenizer, model)
        return self._loaded

    def complete(self, prompt: str, *, temperature: float, max_tokens: int) -> str:
        """Sample a reply (chat template when the tokenizer has one) and return its text."""
        import torch

        tokenizer, model = self._load()
        if getattr(tokenizer, "chat_template", None):
            ids = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt", return_dict=True
            )["input_ids"]
        else:
            ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        ids = ids.to(self.device)
        torch.manual_seed(self.seed)
        with torch.no_grad():
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                max_new_tokens=max_tokens,
                pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
            )
        return str(tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True))


class LlamaCppBackend:
    """A local GGUF model through ``llama-cpp-python`` (``pip install llama-cpp-python``)."""

    def __init__(self, *, model_path: str, n_ctx: int = 4096, seed: int = 0) -> None:
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.seed = seed

    @property
    def identity(self) -> str:
        return f"llama.cpp|{Path(self.model_path).name}|seed:{self.seed}"

    def complete(self, prompt: str, *, temperature: float, max_tokens: int) -> str:
        """One chat completion from the local model (loaded on first use)."""
        llm = getattr(self, "_llm", None)
        if llm is None:
            try:
                import llama_cpp  # noqa: F401
            except ImportError as err:
                raise JudgeError("LlamaCppBackend needs the optional package: pip install llama-cpp-python") from err
            from bench.generate.llamacpp import load_llama

            if not Path(self.model_path).is_file():
                raise JudgeError(f"LlamaCppBackend: model file {self.model_path} does not exist")
            llm, _ = load_llama(self.model_path, n_ctx=self.n_ctx, seed=self.seed, verbose=False)
            self._llm = llm
        reply = llm.create_chat_completion(
            messages=[{"role": "user", "content": prompt}], temperature=temperature, max_tokens=max_tokens
        )
        return str(reply["choices"][0]["message"]["content"])


BACKENDS: dict[str, type] = {
    "openai": OpenAICompatibleBackend,
    "transformers": TransformersBackend,
    "llama_cpp": LlamaCppBackend,
}


# --------------------------------------------------------------------------- the judge


@dataclass(frozen=True)
class JudgeDecision:
    """A parsed YES/NO reply: ``equivalent`` is None when the first word is neither."""

    equivalent: bool | None
    text: str
    cached: bool = False


def parse_yes_no(text: str) -> bool | None:
    """``True`` for a first word YES, ``False`` for NO (case, quotes, ``**`` ignored), else None.

    >>> parse_yes_no("**YES**, both are 1/2"), parse_yes_no("'No'. 3 != 4"), parse_yes_no("Maybe")
    (True, False, None)
    """
    match = re.match(r"[\W_]*([A-Za-z]+)", text)
    word = match.group(1).upper() if match else ""
    return True if word == "YES" else False if word == "NO" else None


class LLMJudge:
    """Ask a backend, cache the raw reply on disk, parse it.

    Parameters
    ----------
    backend : JudgeBackend
        Where the model runs.
    cache_dir : str, Path or None
        Folder for cached replies (``None``: no cache).
    temperature : float
        Sampling temperature (the paper: 0.1).
    max_tokens : int
        Reply length limit; the verdict is the first word, the rest is the explanation.
    """

    def __init__(
        self, *, backend: JudgeBackend, cache_dir: str | Path | None = None,
        temperature: float = JUDGE_TEMPERATURE, max_tokens: int = 64,
    ) -> None:
        self.backend = backend
        self.cache_dir = cache_dir
        self.temperature = temperature
        self.max_tokens = max_tokens

    def cache_key(self, prompt: str) -> str:
        """sha256 of everything that determines the reply."""
        material = json.dumps(
            [self.backend.identity, self.temperature, self.max_tokens, prompt], ensure_ascii=False
        )
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def ask(self, prompt: str) -> tuple[str, bool]:
        """The backend's reply to ``prompt`` and whether it came from the cache."""
        path = None
        if self.cache_dir is not None:
            key = self.cache_key(prompt)
            path = Path(self.cache_dir) / key[:2] / f"{key}.json"
            if path.is_file():
                try:
                    return str(json.loads(path.read_text(encoding="utf-8"))["reply"]), True
                except (json.JSONDecodeError, KeyError) as err:
                    raise JudgeError(f"corrupt judge cache file {path}: {err}; delete it") from err
        reply = self.backend.complete(prompt, temperature=self.temperature, max_tokens=self.max_tokens)
        if path is not None:
            atomic_write_json(path, {"backend": self.backend.identity, "prompt": prompt, "reply": reply,
                                     "temperature": self.temperature, "max_tokens": self.max_tokens})
        return reply, False

    def judge_math(self, *, gold_answer: str, response: str) -> JudgeDecision:
        """The paper's stage-2 question: is ``response`` equivalent to ``gold_answer``?"""
        prompt = MATH_JUDGE_PROMPT.replace("{gold}", gold_answer).replace("{response}", response)
        reply, cached = self.ask(prompt)
        return JudgeDecision(parse_yes_no(reply), reply, cached)


def build_backend(spec: Mapping[str, Any]) -> JudgeBackend:
    """A backend from a mapping ``{"backend": "openai"|"transformers"|"llama_cpp", **options}``."""
    options = dict(spec)
    name = options.pop("backend", None)
    if name not in BACKENDS:
        raise TaskConfigError(f"judge backend {name!r} is unknown; expected one of {sorted(BACKENDS)}")
    try:
        return BACKENDS[name](**options)
    except TypeError as err:
        raise TaskConfigError(f"judge backend {name!r}: bad options {options}: {err}") from err


def build_judge(spec: Mapping[str, Any]) -> LLMJudge:
    """An :class:`LLMJudge` from a task-YAML mapping.

    Keys ``cache_dir``, ``temperature`` and ``max_tokens`` go to the judge, the rest to
    :func:`build_backend`, e.g. ``{"backend": "openai", "base_url": "http://127.0.0.1:8000",
    "model": "meta-llama/Llama-3.1-8B-Instruct", "cache_dir": "cache/judge"}``.
    """
    options = dict(spec)
    judge_keys = {k: options.pop(k) for k in ("cache_dir", "temperature", "max_tokens") if k in options}
    return LLMJudge(backend=build_backend(options), **judge_keys)


def as_judge(judge: LLMJudge | Mapping[str, Any]) -> LLMJudge:
    """Accept a ready judge or its mapping spec (what a verifier option holds)."""
    if isinstance(judge, LLMJudge):
        return judge
    if isinstance(judge, Mapping):
        return build_judge(judge)
    raise TaskConfigError(f"judge must be an LLMJudge or a mapping, got {type(judge).__name__}")
