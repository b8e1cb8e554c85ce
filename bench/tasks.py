"""Task definitions: ``tasks/<name>/task.yaml`` loaded into a :class:`TaskConfig`.

(Minimal version used by the scoring core; the task-definition work extends it.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.errors import TaskConfigError, UnknownNameError
from bench.paths import tasks_root


@dataclass(frozen=True)
class TaskConfig:
    """One task: where its banks live and the reward conventions its scoring needs."""

    name: str
    directory: Path
    default_bank: str | None = None
    #: reward of a query given budget 0 ("I don't know"): 0 for math and code.
    default_reward: float = 0.0
    #: smallest budget a query may get (chat requires b >= 1).
    min_budget: int = 0
    raw: dict[str, Any] = field(default_factory=dict)


def available_tasks() -> list[str]:
    """Names of every task folder holding a ``task.yaml``."""
    return sorted(p.parent.name for p in tasks_root().glob("*/task.yaml"))


def load_task(name: str) -> TaskConfig:
    """Load ``tasks/<name>/task.yaml``; unknown names list the tasks that exist."""
    path = tasks_root() / name / "task.yaml"
    if not path.is_file():
        raise UnknownNameError(f"unknown task {name!r}; available: {', '.join(available_tasks())}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise TaskConfigError(f"{path}: invalid YAML: {err}") from err
    return TaskConfig(
        name=name,
        directory=path.parent,
        default_bank=raw.get("default_bank"),
        default_reward=float(raw.get("default_reward", 0.0)),
        min_budget=int(raw.get("min_budget", 0)),
        raw=raw,
    )
