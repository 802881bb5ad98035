"""Test-wide environment: offline, no judge from the developer's shell, a private cache dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Set before any test imports the package, so nothing reads the developer's real settings.
# The cache dir is the repo's own (git-ignored) one, so runs share the embedder's warm-start files.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["EVALUATOR_CACHE_DIR"] = str(REPO / ".cache" / "test")
for _var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EVALUATOR_JUDGE_MODEL", "EVALUATOR_EMBEDDER"):
    os.environ.pop(_var, None)


@pytest.fixture
def repo_root() -> Path:
    return REPO
