"""Chat rewards (LMSYS, HH): a reward-model scorer and an LLM-judge scorer.

Both read ``reference["prompt"]``, either a string (one user turn) or a conversation, a list
of ``{"role": ..., "content": ...}`` messages ending with a user turn, and score the sample as
the next assistant turn.  Verdicts have status ``scored`` and a real-valued reward.

:class:`RewardModelScorer` runs a ``transformers`` sequence-classification reward model (one
logit = the reward).  The paper uses ``NCSOFT/Llama-3-OffsetBias-RM-8B`` for LMSYS chat and
``OpenAssistant/reward-model-deberta-v3-large-v2`` for Anthropic-HH (:data:`PAPER_REWARD_MODELS`);
both load by name when online, or from a local folder.  A tokenizer with a chat template
scores the templated conversation (truncated from the left, so the response survives); one
without (DeBERTa) scores the (prompt, response) pair, as OpenAssistant's model card does.

:class:`JudgeScorer` asks an :class:`~bench.verify.judge.LLMJudge` (same backends and disk
cache as the math judge) for MT-bench's single-answer 1-10 grade.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from bench.errors import HardbenchError, TaskConfigError
from bench.verify.base import Verdict

#: the reward models of the paper, by task family.
PAPER_REWARD_MODELS = {
    "lmsys": "NCSOFT/Llama-3-OffsetBias-RM-8B",
    "hh": "OpenAssistant/reward-model-deberta-v3-large-v2",
}

#: MT-bench's single-answer grading prompt ("single-v1", Zheng et al. 2023, FastChat
#: ``fastchat/llm_judge/data/judge_prompts.jsonl``).
CHAT_JUDGE_PROMPT = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an "
    "AI assistant to the user question displayed below. Your evaluation should consider factors such as the "
    "helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. Begin your "
    "evaluation by providing a short explanation. Be as objective as possible. After providing your "
    "explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: "
    "\"[[rating]]\", for example: \"Rating: [[5]]\".\n\n[Question]\n{question}\n\n"
    "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"
)


class RewardModelError(HardbenchError):
    """A reward model could not be loaded or does not produce one score per input."""


def conversation_of(reference: Mapping[str, Any], where: str) -> list[dict[str, str]]:
    """``reference["prompt"]`` as a list of messages (a string becomes one user message)."""
    if "prompt" not in reference:
        raise TaskConfigError(f"{where}: reference has no 'prompt' field")
    prompt = reference["prompt"]
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, Sequence) and all(isinstance(m, Mapping) and {"role", "content"} <= set(m) for m in prompt):
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt]
    raise TaskConfigError(f"{where}: reference 'prompt' must be a string or a list of {{role, content}} messages")


def flatten_conversation(messages: Sequence[Mapping[str, str]]) -> str:
    """Plain text of a conversation, one ``role: content`` block per turn (last user turn alone
    when there is only one)."""
    if len(messages) == 1:
        return messages[0]["content"]
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)


class RewardModelScorer:
    """Score chat responses with a sequence-classification reward model.

    Parameters
    ----------
    model_name_or_path : str
        Hub name (online) or local folder.
    device : str
        ``"cpu"``, ``"cuda"``, ...
    batch_size : int
        Inputs per forward pass in :meth:`verify_batch`.
    max_length : int
        Tokens per input; longer inputs are truncated (from the left for chat templates).
    torch_dtype : str or None
        e.g. ``"bfloat16"`` for the 8B model on a GPU; ``None`` keeps the checkpoint's default.
    """

    def __init__(
        self, *, model_name_or_path: str = PAPER_REWARD_MODELS["lmsys"], device: str = "cpu",
        batch_size: int = 8, max_length: int = 4096, torch_dtype: str | None = None,
    ) -> None:
        self.model_name_or_path = model_name_or_path
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self.torch_dtype = torch_dtype

    def _load(self) -> tuple[Any, Any]:
        loaded = getattr(self, "model_", None)
        if loaded is not None:
            return getattr(self, "tokenizer_"), loaded
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as err:
            raise RewardModelError("RewardModelScorer needs `pip install transformers torch==2.13.0`") from err
        kwargs: dict[str, Any] = {}
        if self.torch_dtype:
            kwargs["dtype"] = getattr(torch, self.torch_dtype)
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_name_or_path)
            model = AutoModelForSequenceClassification.from_pretrained(self.model_name_or_path, **kwargs)
        except (OSError, ValueError) as err:
            raise RewardModelError(f"cannot load reward model {self.model_name_or_path!r}: {err}") from err
        if model.config.num_labels != 1:
            raise RewardModelError(
                f"reward model {self.model_name_or_path!r} has {model.config.num_labels} labels; expected 1"
            )
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tokenizer.pad_token_id
        tokenizer.truncation_side = "left"
        self.tokenizer_: Any = tokenizer
        self.model_: Any = model.to(self.device).eval()
        return self.tokenizer_, self.model_

    def verify(self, sample: str, reference: Mapping[str, Any]) -> Verdict:
        """Reward of one response."""
        return self.verify_batch([sample], [reference])[0]

    def verify_batch(self, samples: Sequence[str], references: Sequence[Mapping[str, Any]]) -> list[Verdict]:
        """Rewards of many responses, ``batch_size`` per forward pass."""
        import torch

        if len(samples) != len(references):
            raise ValueError(f"{len(samples)} samples but {len(references)} references")
        tokenizer, model = self._load()
        conversations = [conversation_of(r, "RewardModelScorer") for r in references]
        scores: list[float] = []
        for start in range(0, len(samples), self.batch_size):
            chunk = range(start, min(start + self.batch_size, len(samples)))
            encoded = self._encode(tokenizer, [conversations[k] for k in chunk], [samples[k] for k in chunk])
            with torch.no_grad():
                logits = model(**{k: v.to(self.device) for k, v in encoded.items()}).logits
            scores.extend(float(v) for v in logits[:, 0].float().cpu())
        return [Verdict(s, "scored", f"reward model {self.model_name_or_path}") for s in scores]

    def _encode(self, tokenizer: Any, conversations: list[list[dict[str, str]]], responses: list[str]) -> Any:
        if getattr(tokenizer, "chat_template", None):
            texts = [
                tokenizer.apply_chat_template(c + [{"role": "assistant", "content": r}], tokenize=False)
                for c, r in zip(conversations, responses)
            ]
            return tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="pt", add_special_tokens=False)
        prompts = [flatten_conversation(c) for c in conversations]
        return tokenizer(prompts, responses, padding=True, truncation="longest_first",
                         max_length=self.max_length, return_tensors="pt")


_RATING_RE = re.compile(r"\[\[(\d+(?:\.\d+)?)\]\]")


def parse_rating(text: str) -> float | None:
    """The last ``[[x]]`` rating in a judge reply, if it lies in [1, 10].

    >>> parse_rating("Good answer. Rating: [[8]]"), parse_rating("Rating: [[11]]"), parse_rating("8/10")
    (8.0, None, None)
    """
    found = _RATING_RE.findall(text)
    if not found:
        return None
    value = float(found[-1])
    return value if 1.0 <= value <= 10.0 else None


class JudgeScorer:
    """Score chat responses 1-10 with an LLM judge (MT-bench single-answer grading).

    Parameters
    ----------
    judge : LLMJudge or mapping
        A ready judge or a :func:`bench.verify.judge.build_judge` mapping.  For a mapping the
        defaults are ``temperature: 0.0`` and ``max_tokens: 512`` (MT-bench's settings).

    Notes
    -----
    A reply without a valid ``[[rating]]`` gives status ``error`` (reward 0.0) with the reply
    in the detail, so it is counted and never silently scored.
    """

    def __init__(self, *, judge: Any) -> None:
        self.judge = judge

    def verify(self, sample: str, reference: Mapping[str, Any]) -> Verdict:
        """Grade one response."""
        from bench.verify.judge import JudgeError, LLMJudge, build_judge

        judge = getattr(self, "judge_", None)
        if judge is None:
            if isinstance(self.judge, LLMJudge):
                judge = self.judge
            elif isinstance(self.judge, Mapping):
                judge = build_judge({"temperature": 0.0, "max_tokens": 512, **self.judge})
            else:
                raise TaskConfigError(f"JudgeScorer: judge must be an LLMJudge or a mapping, got {self.judge!r}")
            self.judge_ = judge
        question = flatten_conversation(conversation_of(reference, "JudgeScorer"))
        prompt = CHAT_JUDGE_PROMPT.replace("{question}", question).replace("{answer}", sample)
        try:
            reply, _cached = judge.ask(prompt)
        except JudgeError as err:
            return Verdict(0.0, "error", f"judge failed: {err}")
        rating = parse_rating(reply)
        if rating is None:
            return Verdict(0.0, "error", f"no [[rating]] in judge reply: {reply[:200]!r}")
        return Verdict(rating, "scored", f"judge rating {rating:g}")
