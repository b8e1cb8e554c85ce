"""Chat rewards: reward-model scorer on tiny randomly initialised models built here (no download),
and the judge scorer against a local fake OpenAI server."""

from __future__ import annotations

import doctest
import math
from pathlib import Path
from typing import Any

import pytest

from bench.errors import TaskConfigError
from bench.verify import chat_rewards
from bench.verify.base import verify_batch
from bench.verify.chat_rewards import JudgeScorer, RewardModelError, RewardModelScorer, conversation_of

from .test_judge import FakeOpenAIServer

WORDS = ("hello hi how are you i am fine thanks what is the capital of france paris it answer question "
         "user assistant system good bad yes no a an to of in on for with please tell me about").split()


def build_tiny_tokenizer(chat_template: bool = False) -> Any:
    """A word-level fast tokenizer over a few dozen words (a test fixture, not a real vocabulary)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "</s>"]
    vocab = {tok: k for k, tok in enumerate(dict.fromkeys(specials + WORDS))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]", eos_token="</s>",
        cls_token="[CLS]", sep_token="[SEP]",
    )
    if chat_template:
        tokenizer.chat_template = (
            "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} </s> {% endfor %}"
        )
    return tokenizer


@pytest.fixture(scope="module")
def tiny_llama_rm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer LlamaForSequenceClassification (OffsetBias's architecture)."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    tokenizer = build_tiny_tokenizer(chat_template=True)
    config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, num_labels=1,
                         pad_token_id=tokenizer.pad_token_id, max_position_embeddings=256)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("rm") / "tiny-random-llama-rm"
    LlamaForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_deberta_rm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer DebertaV2ForSequenceClassification (OpenAssistant's architecture)."""
    import torch
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification

    tokenizer = build_tiny_tokenizer(chat_template=False)
    config = DebertaV2Config(vocab_size=tokenizer.vocab_size, hidden_size=16, intermediate_size=32,
                             num_hidden_layers=2, num_attention_heads=2, num_labels=1,
                             pad_token_id=tokenizer.pad_token_id, max_position_embeddings=128)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("rm") / "tiny-random-deberta-rm"
    DebertaV2ForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


SAMPLES = ["paris", "i am fine thanks", "no", "the capital of france is paris it is good"]
REFS = [
    {"prompt": "what is the capital of france"},
    {"prompt": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "how are you"}]},
    {"prompt": "please tell me about paris"},
    {"prompt": "what is the capital of france"},
]


def test_doctests() -> None:
    assert doctest.testmod(chat_rewards).failed == 0


@pytest.mark.parametrize("fixture", ["tiny_llama_rm", "tiny_deberta_rm"])
def test_reward_model_scores(fixture: str, request: pytest.FixtureRequest) -> None:
    path = str(request.getfixturevalue(fixture))
    scorer = RewardModelScorer(model_name_or_path=path, batch_size=3, max_length=64)
    batch = verify_batch(scorer, SAMPLES, REFS)
    assert [v.status for v in batch] == ["scored"] * 4
    single = [scorer.verify(s, r).reward for s, r in zip(SAMPLES, REFS)]
    assert single == pytest.approx([v.reward for v in batch], abs=1e-5)  # padding does not change a score
    again = RewardModelScorer(model_name_or_path=path).verify_batch(SAMPLES, REFS)
    assert [v.reward for v in again] == pytest.approx([v.reward for v in batch], abs=1e-5)  # deterministic
    assert len({round(v.reward, 6) for v in batch}) > 1  # the response matters


@pytest.mark.parametrize("fixture", ["tiny_llama_rm", "tiny_deberta_rm"])
def test_long_inputs_are_truncated(fixture: str, request: pytest.FixtureRequest) -> None:
    scorer = RewardModelScorer(model_name_or_path=str(request.getfixturevalue(fixture)), max_length=32)
    verdict = scorer.verify("paris " * 500, {"prompt": "what is the capital of france " * 100})
    assert verdict.status == "scored" and math.isfinite(verdict.reward)


def test_left_truncation_keeps_the_response(tiny_llama_rm: Path) -> None:
    scorer = RewardModelScorer(model_name_or_path=str(tiny_llama_rm), max_length=24)
    long_prompt = {"prompt": "hello " * 200}
    a = scorer.verify("paris is good", long_prompt).reward
    b = scorer.verify("no no bad", long_prompt).reward
    assert a != pytest.approx(b, abs=1e-7)


def test_reward_model_errors(tmp_path: Path) -> None:
    with pytest.raises(RewardModelError, match="cannot load reward model"):
        RewardModelScorer(model_name_or_path=str(tmp_path / "missing")).verify("x", {"prompt": "y"})
    with pytest.raises(TaskConfigError, match="no 'prompt'"):
        conversation_of({"question": "x"}, "RewardModelScorer")
    with pytest.raises(TaskConfigError, match="must be a string or a list"):
        conversation_of({"prompt": 3}, "RewardModelScorer")


def test_judge_scorer(tmp_path: Path) -> None:
    server = FakeOpenAIServer()
    try:
        server.reply = "Helpful and correct. Rating: [[8]]"
        scorer = JudgeScorer(judge={"backend": "openai", "base_url": server.url, "model": "m",
                                    "cache_dir": str(tmp_path)})
        verdict = scorer.verify("Paris.", {"prompt": "What is the capital of France?"})
        assert (verdict.reward, verdict.status) == (8.0, "scored")
        body = server.requests[0]["body"]
        assert body["temperature"] == 0.0 and body["max_tokens"] == 512
        content = body["messages"][0]["content"]
        assert "[Question]\nWhat is the capital of France?" in content and "Paris.\n[The End" in content
        assert scorer.verify("Paris.", {"prompt": "What is the capital of France?"}).reward == 8.0
        assert len(server.requests) == 1  # cached
        server.reply = "I like it"
        bad = scorer.verify("Lyon.", {"prompt": "What is the capital of France?"})
        assert (bad.reward, bad.status) == (0.0, "error")
    finally:
        server.close()
