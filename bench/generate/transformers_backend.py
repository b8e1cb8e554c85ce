"""The ``transformers`` backend: batched ``generate`` (the fallback; any checkpoint or GGUF).

The ``n`` samples of a query are one ``generate`` call with ``num_return_sequences = n``.
transformers draws from the global torch generator, so samples are seeded per query (the
seed of sample 0) rather than per sample: a rerun reproduces a query's samples as a whole,
which is what resume needs (a query is generated completely or not at all).
GGUF files are dequantised to float32 by transformers (``gguf_file=``), as for features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.errors import HardbenchError
from bench.generate.base import Completion, DecodingParams, Request, cut_at_stop
from bench.generate.models import ResolvedModel


class TransformersBackend:
    """``AutoModelForCausalLM.generate`` on CPU (or the device torch picks)."""

    name = "transformers"
    batch_queries = 1

    def __init__(self, model: ResolvedModel, *, device: str = "cpu") -> None:
        try:
            import torch
            import transformers
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as err:
            raise HardbenchError("the transformers backend needs torch and transformers: "
                                 "pip install 'hardbench[features]'") from err
        self.torch, self.version = torch, transformers.__version__
        kwargs: dict[str, Any] = {}
        location = model.location
        if model.is_gguf:
            from pathlib import Path

            kwargs["gguf_file"] = Path(location).name
            location = str(Path(location).parent)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
            self.model = AutoModelForCausalLM.from_pretrained(location, **kwargs).to(device).eval()
        except (OSError, ValueError) as err:
            raise HardbenchError(f"transformers could not load {model.location!r}: "
                                 f"{str(err).splitlines()[0]}") from err
        self.device = device
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "engine": "transformers", "version": self.version,
                "torch": self.torch.__version__, "device": self.device,
                "seeding": "per query (seed of sample 0), all n samples in one generate call"}

    def chat_template_prompt(self, messages: Sequence[Mapping[str, str]]) -> str | None:
        if not getattr(self.tokenizer, "chat_template", None):
            return None
        return self.tokenizer.apply_chat_template([dict(m) for m in messages], tokenize=False,
                                                  add_generation_prompt=True)

    def close(self) -> None:
        pass

    def generate(self, requests: Sequence[Request], params: DecodingParams) -> list[list[Completion]]:
        return [self._one(r, params) for r in requests]

    def _one(self, request: Request, params: DecodingParams) -> list[Completion]:
        torch = self.torch
        bos = self.tokenizer.bos_token or ""
        add_special = not (bos and request.prompt.startswith(bos))
        inputs = self.tokenizer(request.prompt, return_tensors="pt", add_special_tokens=add_special).to(self.device)
        torch.manual_seed(request.seeds[0])
        sampling = params.temperature > 0
        kwargs: dict[str, Any] = {"max_new_tokens": params.max_tokens, "do_sample": sampling,
                                  "num_return_sequences": request.n,
                                  "pad_token_id": self.tokenizer.pad_token_id}
        if sampling:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=0)
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        with torch.no_grad():
            output = self.model.generate(**inputs, **kwargs)
        generated = output[:, inputs["input_ids"].shape[1]:]
        eos_ids = self.model.generation_config.eos_token_id
        eos_ids = set(eos_ids if isinstance(eos_ids, list) else [eos_ids])
        pad = self.tokenizer.pad_token_id
        completions = []
        for row in generated.tolist():
            n_tokens, ended = len(row), False
            for i, token in enumerate(row):
                if token in eos_ids:        # counted, like llama.cpp's end-of-generation token
                    n_tokens, ended = i + 1, True
                    break
                if token == pad:            # padding after a sample that stopped at a stop string
                    n_tokens = i
                    break
            text = self.tokenizer.decode(row[:n_tokens], skip_special_tokens=True)
            text, stopped = cut_at_stop(text, params.stop)
            finish = "stop" if (ended or stopped) else "length"
            completions.append(Completion(text=text, n_tokens=n_tokens, finish_reason=finish))
        return completions
