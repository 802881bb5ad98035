"""Repeated answers are graded once per run, in any chunk, with the grade the row would get
again; the cache of grades is bounded, and errors are never remembered. Hashing embedder."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import pytest

from evaluator.batch import BatchOptions, run_batch
from evaluator.batch.cells import GRADE_COLUMNS
from evaluator.batch.cells import grade_cells as grade_cells_of
from evaluator.batch.rows import RowGrader, RubricResolver
from evaluator.batch.table import Columns, Record
from evaluator.result import Grade
from evaluator.rubrics.model import Rubric
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from tests.helpers import EN_GOOD, ZH_GOOD, write_csv

WEAK = "Batch normalization is a kind of regularisation, I think."


class CountingGrader(Grader):
    """Counts the answers handed to grade_many."""

    graded: list[str]

    def grade_many(self, items: Sequence[tuple[Rubric, str]], jobs: int = 1) -> list[Grade]:
        self.graded.extend(answer for _, answer in items)
        return super().grade_many(items, jobs)


def counting(settings: Settings) -> CountingGrader:
    grader = CountingGrader("hashing", settings=settings)
    grader.graded = []
    return grader


def grade_cells(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [[row[c] for c in GRADE_COLUMNS] for row in csv.DictReader(fh)]


def test_repeated_answers_are_graded_once_per_run_across_chunks(
    tmp_path: Path, settings: Settings
) -> None:
    answers = [ZH_GOOD, EN_GOOD, WEAK]
    # 30 rows, chunks of 4: each answer recurs in many chunks, once with other spacing.
    rows = [["id", "question", "answer"]]
    for i in range(30):
        answer = answers[i % 3]
        if i == 7:
            answer = "  " + answer.replace(" ", "\u3000 ") + "\n"
        rows.append([f"r{i}", "7", answer])
    src = write_csv(tmp_path / "in.csv", rows)
    grader = counting(settings)
    result = run_batch(
        BatchOptions(input=src, output=tmp_path / "out.csv", chunk_size=4), settings, grader=grader
    )
    assert result.rows == 30 and result.summary.errors == 0
    assert sorted(grader.graded) == sorted(answers)  # three answers, graded once each
    cells = grade_cells(tmp_path / "out.csv")
    # Every row has the grade a fresh grader gives it on its own.
    fresh = Grader("hashing", settings=settings)
    rubric = result_rubric(settings)
    for i, row in enumerate(cells):
        assert row == grade_cells_of(rubric.id, fresh.grade(rubric, rows[i + 1][2]), None)
    assert cells[7] == cells[1]  # other spacing, the same grade


def result_rubric(settings: Settings) -> Rubric:
    from evaluator.rubrics.io import load_rubrics

    return load_rubrics(settings.rubrics).find("7")


def test_the_cache_is_bounded_and_forgets_the_least_recently_used(settings: Settings) -> None:
    rubric = result_rubric(settings)
    resolver = RubricResolver(Columns(answer=1), lambda: pytest.fail("no lookup"), rubric)
    rows = RowGrader(2, Columns(answer=1), resolver, "extra_cells", cache_size=2)
    grader = counting(settings)

    def grade(*answers: str) -> None:
        rows.grade(grader, [Record(i, i, [str(i), a]) for i, a in enumerate(answers, 1)])

    grade(ZH_GOOD, EN_GOOD)
    grade(ZH_GOOD)  # remembered, and now the most recent
    grade(WEAK)  # the cache holds two: EN_GOOD is forgotten
    assert len(rows.grades) == 2
    grade(ZH_GOOD, EN_GOOD)
    assert grader.graded == [ZH_GOOD, EN_GOOD, WEAK, EN_GOOD]
    assert rows.reused == 2


def test_errors_are_not_remembered(settings: Settings) -> None:
    rubric = result_rubric(settings)
    resolver = RubricResolver(Columns(answer=1), lambda: pytest.fail("no lookup"), rubric)
    rows = RowGrader(2, Columns(answer=1), resolver, "extra_cells")
    grader = counting(settings)
    failures = [1]

    def flaky(rubric: Rubric, answer: str) -> Grade:
        if failures:
            failures.pop()
            raise RuntimeError("boom")
        return Grader.grade_many(grader, [(rubric, answer)])[0]

    def broken(items: Sequence[tuple[Rubric, str]], jobs: int = 1) -> list[Grade]:
        raise RuntimeError("the chunk fails, so rows are graded one by one")

    grader.grade_many = broken  # type: ignore[method-assign]
    grader.grade = flaky  # type: ignore[method-assign]
    first = rows.grade(grader, [Record(1, 1, ["1", WEAK]), Record(2, 2, ["2", WEAK])])
    assert [r.error for r in first] == ["internal error: RuntimeError: boom"] * 2
    assert len(rows.grades) == 0
    again = rows.grade(grader, [Record(3, 3, ["3", WEAK])])
    assert again[0].error is None and again[0].grade is not None
