"""Test-wide environment: offline, no judge from the developer's shell, a private cache dir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from evaluator.rubrics.lookup import RubricSet
    from evaluator.scoring.grader import Grader

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


# Imported inside the fixtures: the environment above must be set before the package loads.
@pytest.fixture(scope="session")
def bundled_rubrics() -> RubricSet:
    """The project's own rubric set (rubrics/), read once per session."""
    from evaluator.rubrics.io import load_rubrics

    return load_rubrics(REPO / "rubrics")


@pytest.fixture(scope="session")
def bundled_grader(bundled_rubrics: RubricSet) -> Grader:
    """The default embedder, no judge, each answer compared with the set's other questions: as
    `evaluator rubrics test` grades."""
    from evaluator.scoring.grader import Grader
    from evaluator.settings import Settings

    return Grader(
        "use-multilingual", settings=Settings(use_cache=False), compare_with=bundled_rubrics
    )
