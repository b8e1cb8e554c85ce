"""hardbench from Hugging Face tools: an ``evaluate`` metric and banks as ``datasets``.

- :data:`METRIC_PATH`: the folder ``evaluate.load`` takes for the ``hardbench_allocation``
  metric (scoring per-query predictions on a bank, the same summary ``bench run`` writes)::

      import evaluate, bench.hf
      metric = evaluate.load(bench.hf.METRIC_PATH)
      result = metric.compute(query_ids=ids, predictions=values, task="gsm8k")

- :func:`load_bank_dataset`: a bank as a ``datasets.DatasetDict`` by split.

Both need the ``hf`` extra (``pip install 'hardbench[hf]'``); neither touches the hub.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: the folder holding ``hardbench_allocation.py``; pass it to ``evaluate.load``
METRIC_PATH: str = str(Path(__file__).resolve().parent / "hardbench_allocation")


def load_bank_dataset(*args: Any, **kwargs: Any) -> Any:
    """See :func:`bench.hf.bank_dataset.load_bank_dataset` (imported lazily: ``datasets``)."""
    from bench.hf.bank_dataset import load_bank_dataset as load

    return load(*args, **kwargs)


__all__ = ["METRIC_PATH", "load_bank_dataset"]
