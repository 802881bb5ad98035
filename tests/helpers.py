"""Helpers shared by test modules (test files never import each other)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def in_ci() -> bool:
    """CI=true: tests that need a real component fail instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def load_judge_server_script() -> ModuleType:
    """scripts/judge-server has no .py suffix: load it by path."""
    name = "judge_server_script"
    if name in sys.modules:
        return sys.modules[name]
    loader = importlib.machinery.SourceFileLoader(name, str(REPO / "scripts" / "judge-server"))
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file executes
    loader.exec_module(module)
    return module
