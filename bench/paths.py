"""Where the project's folders are: tasks/, submissions/, results/ at the repository root.

``HARDBENCH_ROOT`` overrides the root (e.g. to run from an installed package against a checkout).
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The folder holding ``tasks/``, ``submissions/`` and ``results/``."""
    env = os.environ.get("HARDBENCH_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parent.parent


def tasks_root() -> Path:
    return project_root() / "tasks"


def submissions_root() -> Path:
    return project_root() / "submissions"


def results_root() -> Path:
    return project_root() / "results"
