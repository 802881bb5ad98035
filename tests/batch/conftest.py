"""Fixtures the batch tests share: the two-question rubric set, hashing-embedder settings over
it (without and with the caches kept across runs), and a grader with those settings."""

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
    # No grades kept across runs: a test's second run grades again, as its first did
    # (test_batch_store.py tests what is kept, with `cached_settings`).
    return Settings(
        embedder="hashing", rubrics=rubrics_dir, cache_dir=tmp_path / "cache", use_cache=False
    )


@pytest.fixture
def cached_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"use_cache": True})


@pytest.fixture
def grader(settings: Settings) -> Grader:
    return Grader("hashing", settings=settings)
