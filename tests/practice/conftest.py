"""Fixtures the practice tests share: a four-question rubric set, a history in tmp_path and a
fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evaluator.practice.store import History
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lookup import RubricSet
from tests.helpers import SEED_SUBSET_RUBRICS, Clock, write_rubrics


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rubrics_dir(tmp_path: Path) -> Path:
    return write_rubrics(tmp_path / "rubrics", SEED_SUBSET_RUBRICS)


@pytest.fixture
def rubric_set(rubrics_dir: Path) -> RubricSet:
    return load_rubrics(rubrics_dir)


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    store = History(tmp_path / "history.sqlite3")
    yield store
    store.close()
