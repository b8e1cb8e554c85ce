"""`bench run --task humaneval|hh|mbpp` with no --bank: the shipped banks are those tasks' defaults."""

import pytest

from bench.bank import load_bank
from bench.tasks import load_task


@pytest.mark.parametrize(("task", "bank"), [("humaneval", "codegen16b-k100"), ("hh", "alpacaeval-helpful"),
                                         ("mbpp", "qwen2.5-coder-0.5b-k16")])
def test_default_bank_loads_and_fits_the_task(task, bank):
    config = load_task(task)
    assert config.default_bank == bank
    loaded = load_bank(None, task=task)
    assert loaded.name == bank and loaded.task == task
    assert loaded.setting in config.settings and loaded.reward_kind == config.reward
    assert {"minilm"} <= set(loaded.feature_names)
