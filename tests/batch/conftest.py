"""Fixtures the batch tests share: the two-question rubric set, hashing-embedder settings over
it, and a grader with those settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from tests.helpers import write_rubrics


@pytest.fixture
def rubrics_dir(tmp_path: Path) -> Path:
    return write_rubrics(tmp_path / "rubrics")


@pytest.fixture
def settings(rubrics_dir: Path, tmp_path: Path) -> Settings:
    return Settings(embedder="hashing", rubrics=rubrics_dir, cache_dir=tmp_path / "cache")


@pytest.fixture
def grader(settings: Settings) -> Grader:
    return Grader("hashing", settings=settings)
