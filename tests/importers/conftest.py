"""Importer tests load the scripts under ``scripts/`` as modules."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from bench.paths import project_root


def load_script(name: str) -> ModuleType:
    """Import ``scripts/<name>.py`` (the importers are scripts, not package modules)."""
    if name in sys.modules:
        return sys.modules[name]
    path = project_root() / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def root() -> Path:
    return project_root()
