"""The cells of one graded row, whichever engine writes it: which columns the output has
(`output_header`: the input's, then `extra_cells` when some row is wider than the header, then
GRADE_COLUMNS) and what each cell holds (`passthrough`, `extra_cells`, `grade_cells`).

`row_view` reads those cells back into the summary's `RowView`, so a row graded now, a row read
back from a CSV or JSONL output on resume (`sinks`) and a row of a Ray run count the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from evaluator.batch.table import Columns, Record
from evaluator.present.summary import RowView
from evaluator.result import Grade
from evaluator.rubrics.model import Rubric
from evaluator.text import one_line

GRADE_COLUMNS = (
    "rubric_id",
    "score",
    "band",
    "method",
    "covered",
    "missed",
    "flags",
    "feedback",
    "error",
)
EXTRA_COLUMN = "extra_cells"  # cells beyond the header's width, as a JSON array
COLLISION_PREFIX = "eval_"  # added columns get it when the input already has such a column
LIST_SEP = "; "


@dataclass
class GradedRow:
    """One input record and what grading made of it: a rubric and a grade, or an error."""

    record: Record
    id: str
    answer: str = ""
    rubric: Rubric | None = None
    grade: Grade | None = None
    error: str | None = None

    def grade_cells(self) -> list[str]:
        """The grade columns of this row, in GRADE_COLUMNS order."""
        rubric_id = self.rubric.id if self.rubric is not None else ""
        return grade_cells(rubric_id, self.grade, self.error)


def _taken(input_header: list[str]) -> set[str]:
    return {h.strip().casefold() for h in input_header}


def output_header(input_header: list[str], extra_cells: bool = False) -> list[str]:
    """Input columns unchanged, then `extra_cells` when some row is wider than the header, then
    the grade columns (added names are prefixed when the input already has them)."""
    taken = _taken(input_header)
    clash = any(c in taken for c in GRADE_COLUMNS)
    extra = [extra_column(input_header)] if extra_cells else []
    grades = [f"{COLLISION_PREFIX}{c}" if clash else c for c in GRADE_COLUMNS]
    return [*input_header, *extra, *grades]


def extra_column(input_header: list[str]) -> str:
    """The name of the column holding cells beyond the header's width."""
    taken = EXTRA_COLUMN in _taken(input_header)
    return f"{COLLISION_PREFIX}{EXTRA_COLUMN}" if taken else EXTRA_COLUMN


def passthrough(record: Record, width: int) -> list[str]:
    """The record's cells cut or padded to the header's width (missing trailing cells are
    empty); the cut-off cells are `extra_cells`."""
    cells = record.cells[:width]
    return cells + [""] * (width - len(cells))


def extra_cells(record: Record, width: int) -> list[str]:
    """The record's cells beyond the header's width (none for most rows)."""
    return record.cells[width:]


def extra_text(extras: list[str]) -> str:
    """Extra cells as the CSV output's `extra_cells` cell: a JSON array, empty when none."""
    return json.dumps(extras, ensure_ascii=False) if extras else ""


def _kp_name(label: str, text: str) -> str:
    name = label or (text if len(text) <= 60 else text[:59] + "…")
    return one_line(name, 500).replace(";", ",")  # ";" would split the name on reading back


def grade_cells(rubric_id: str, grade: Grade | None, error: str | None) -> list[str]:
    """The grade columns of one output row, in GRADE_COLUMNS order."""
    g = grade
    return [
        rubric_id,
        f"{g.score:g}" if g else "",
        g.band if g else "",
        g.method if g else "",
        LIST_SEP.join(_kp_name(k.label, k.text) for k in g.covered) if g else "",
        LIST_SEP.join(_kp_name(k.label, k.text) for k in g.missed) if g else "",
        LIST_SEP.join(f.value for f in g.flags) if g else "",
        g.feedback if g else "",
        error or "",
    ]


def _split(cell: str) -> list[str]:
    return [p for p in cell.split(LIST_SEP) if p] if cell else []


def row_view(
    row: int, inputs: list[str], grades: list[str], columns: Columns, title: str
) -> RowView:
    """The summary's view of one output row, from its input cells and its grade cells
    (`GradedRow.grade_cells`).

    Rows graded now and rows read back on resume, from CSV or JSONL, all come through here, so
    a row counts the same either way. `title` is the question's title where known (a CSV
    output holds only the rubric id).
    """
    g = dict(zip(GRADE_COLUMNS, grades, strict=True))
    return RowView(
        row=row,
        id=(inputs[columns.id].strip() if columns.id is not None else "") or str(row),
        question_id=g["rubric_id"],
        question_title=title,
        score=float(g["score"]) if g["score"] else None,
        band=g["band"],
        method=g["method"],
        flags=_split(g["flags"]),
        missed=_split(g["missed"]),
        feedback=g["feedback"],
        error=g["error"] or ("" if g["score"] else "not graded"),
        answer=inputs[columns.answer],
    )
