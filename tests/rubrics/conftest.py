"""The seed compiled as the lint tests use it (test_compile.py has its own, with the source
path the compiled rubrics record)."""

from __future__ import annotations

import pytest

from evaluator.rubrics.compile import compile_markdown
from evaluator.rubrics.model import RubricDocument
from tests.helpers import REPO

SEED = REPO / "seeds" / "000_7ace44ecab84a0b1.txt"


@pytest.fixture
def seed_doc() -> RubricDocument:
    return compile_markdown(SEED.read_text(encoding="utf-8"), "seed.md", "llm-training")
