"""The cells of a graded row (batch/cells.py): the output's columns, what each cell holds, and
the summary's view read back from them. Hashing embedder."""

from __future__ import annotations

from evaluator.batch.cells import (
    GRADE_COLUMNS,
    GradedRow,
    extra_cells,
    extra_column,
    extra_text,
    grade_cells,
    output_header,
    passthrough,
    row_view,
)
from evaluator.batch.table import Columns, Record
from evaluator.rubrics.io import load_rubrics
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings

PARTIAL = "批量归一化对每一层的输入按小批量计算均值和方差做标准化。"  # says nothing of its effects


def test_grade_columns_are_prefixed_when_the_input_has_one() -> None:
    assert output_header(["id", "answer", "Score"])[-len(GRADE_COLUMNS) :] == [
        f"eval_{c}" for c in GRADE_COLUMNS
    ]
    assert output_header(["id", "answer"])[2:] == list(GRADE_COLUMNS)


def test_the_extra_cells_column_comes_before_the_grades_and_is_prefixed_on_a_clash() -> None:
    assert output_header(["id", "answer"], extra_cells=True)[2] == "extra_cells"
    assert extra_column(["id", " Extra_Cells "]) == "eval_extra_cells"
    assert extra_column(["id", "answer"]) == "extra_cells"


def test_passthrough_pads_short_rows_and_leaves_the_rest_to_extra_cells() -> None:
    short, wide = Record(1, 2, ["a"]), Record(2, 3, ["a", "b", "c", "d"])
    assert passthrough(short, 3) == ["a", "", ""]
    assert extra_cells(short, 3) == []
    assert passthrough(wide, 3) == ["a", "b", "c"]
    assert extra_cells(wide, 3) == ["d"]
    assert extra_text([]) == ""
    assert extra_text(["d", "é"]) == '["d", "é"]'


def test_an_error_row_has_only_its_rubric_and_error() -> None:
    row = GradedRow(Record(1, 2, ["7", "x"]), id="7", error="no rubric for question 9")
    assert row.grade_cells() == [""] * (len(GRADE_COLUMNS) - 1) + ["no rubric for question 9"]
    view = row_view(1, ["7", "x"], row.grade_cells(), Columns(answer=1, id=0), "")
    assert (view.id, view.score, view.error, view.answer) == ("7", None, row.error, "x")


def test_an_ungraded_row_without_an_error_says_so() -> None:
    view = row_view(3, ["", "x"], [""] * len(GRADE_COLUMNS), Columns(answer=1, id=0), "")
    assert (view.id, view.error) == ("3", "not graded")  # no id cell: the row number


def test_grade_cells_read_back_as_the_grade(settings: Settings, grader: Grader) -> None:
    rubric = load_rubrics(settings.rubrics).find("7")
    grade = grader.grade(rubric, PARTIAL)
    cells = grade_cells(rubric.id, grade, None)
    assert dict(zip(GRADE_COLUMNS, cells, strict=True))["score"] == f"{grade.score:g}"
    view = row_view(1, ["a1", PARTIAL], cells, Columns(answer=1, id=0), rubric.title)
    assert (view.id, view.question_id, view.question_title) == ("a1", rubric.id, rubric.title)
    assert (view.score, view.band, view.method) == (grade.score, grade.band, grade.method)
    assert view.flags == [f.value for f in grade.flags]
    assert grade.missed  # a partial answer: some key points are named back
    assert view.missed == [k.label for k in grade.missed]
    assert view.error == ""
