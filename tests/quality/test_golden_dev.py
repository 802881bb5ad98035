"""The grading-quality guard: the dev set of graded answers to the bundled questions
(../shared/benchmarks/cases-dev.jsonl, read by path, never copied) through `rubrics test`'s
code with the default embedder and no judge. It fails when a level lands in band for fewer
answers than it does today, so scoring work can only move these numbers up.

Today's floors (embedding only, measured 2026-12-02 after exclusivity 2.0 and the eight-knot
scale of issue #11; in-sample: the scale was fitted to this set by benchmarks/scale.py, which
also keeps every level at or above these floors). Still short of the targets:
partial answers with one or two points score high, filler around one point still earns a
little for neighbouring points, and misconception and injection are the judge's to catch.
"""

from __future__ import annotations

import pytest

from evaluator.quality.golden import read_golden, run_golden
from evaluator.rubrics.io import golden_files
from evaluator.rubrics.lookup import RubricSet
from evaluator.scoring.grader import Grader
from tests.helpers import REPO, require

pytestmark = pytest.mark.real_model

DEV = REPO.parent / "shared" / "benchmarks" / "cases-dev.jsonl"
FLOORS = {
    "excellent": 29,
    "good-with-extras": 25,
    "english": 6,
    "empty": 8,
    "partial": 25,
    "restate": 6,
    "offtopic": 6,
    "padding": 4,
    "injection": 5,
    "misconception": 19,
}


def test_dev_set_levels_do_not_fall_below_today(
    bundled_rubrics: RubricSet, bundled_grader: Grader
) -> None:
    require(DEV.is_file(), f"{DEV} is missing (the shared benchmark data)")
    report = run_golden(read_golden(DEV), bundled_rubrics, bundled_grader, str(DEV))
    reached = {t.name: t.in_band for t in report.levels}
    print("\nin band per level:", {t.name: f"{t.in_band}/{t.cases}" for t in report.levels})
    assert set(reached) == set(FLOORS), "the dev set's levels changed: update FLOORS"
    below = {
        level: (reached[level], floor) for level, floor in FLOORS.items() if reached[level] < floor
    }
    assert not below, f"levels below their floor (reached, floor): {below}"


def test_the_bundled_golden_answers_land_in_their_bands(
    bundled_rubrics: RubricSet, bundled_grader: Grader
) -> None:
    """rubrics/llm-training.golden.jsonl: answers written for the bundled rubric's weights
    (issue #16: what each "list" question asks, lighter items such as pruning), and known-bad
    ones (wrong claims, restatements, answers to another question, filler, no answer), graded
    as `evaluator rubrics test` grades them with no argument."""
    (path,) = golden_files(REPO / "rubrics")
    cases = read_golden(path)
    bad = {"misconception", "restate", "offtopic", "padding", "empty", "partial"}
    assert bad <= {c.level for c in cases}, "the golden file must test known-bad answers too"
    report = run_golden(cases, bundled_rubrics, bundled_grader, str(path))
    misses = [
        f"{r.case}: {r.score} not in {r.min:g}-{r.max:g}" for r in report.results if not r.in_band
    ]
    assert not misses
