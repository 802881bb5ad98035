"""The grading-quality guard: the dev set of graded answers to the bundled questions
(../shared/benchmarks/cases-dev.jsonl, read by path, never copied) through `rubrics test`'s
code with the default embedder and no judge. It fails when a level lands in band for fewer
answers than it does today, so scoring work can only move these numbers up.

Today's floors (embedding only, measured 2026-12-01): answers to another question are caught
(6/6); most other out-of-band answers are the scale problems issue #11 describes
(restatements and filler score 40-60 where a teacher gives 0-10, partial answers score high).
"""

from __future__ import annotations

import pytest

from evaluator.rubrics.io import load_rubrics
from evaluator.runs.golden import read_golden, run_golden
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from tests.helpers import REPO, require

pytestmark = pytest.mark.real_model

DEV = REPO.parent / "shared" / "benchmarks" / "cases-dev.jsonl"
FLOORS = {
    "excellent": 28,
    "good-with-extras": 27,
    "english": 3,
    "empty": 4,
    "partial": 3,
    "restate": 0,
    "offtopic": 6,
    "padding": 0,
    "injection": 0,
    "misconception": 0,
}


def test_dev_set_levels_do_not_fall_below_today() -> None:
    require(DEV.is_file(), f"{DEV} is missing (the shared benchmark data)")
    rubrics = load_rubrics(REPO / "rubrics")
    # As `evaluator rubrics test` grades: each answer compared with the set's other questions.
    grader = Grader("use-multilingual", settings=Settings(use_cache=False), compare_with=rubrics)
    report = run_golden(read_golden(DEV), rubrics, grader, str(DEV))
    reached = {t.name: t.in_band for t in report.levels}
    print("\nin band per level:", {t.name: f"{t.in_band}/{t.cases}" for t in report.levels})
    assert set(reached) == set(FLOORS), "the dev set's levels changed: update FLOORS"
    below = {
        level: (reached[level], floor) for level, floor in FLOORS.items() if reached[level] < floor
    }
    assert not below, f"levels below their floor (reached, floor): {below}"
