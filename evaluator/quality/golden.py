"""Golden answers for rubric authors (`evaluator rubrics test`): answers whose grade a teacher
has already fixed to a band, graded again to show whether they still land in it.

A golden file is JSONL or CSV. Each case names its question (a number, id or title words, as
everywhere else), holds the answer and the band `min`..`max` on 0-100, and may carry a `level`
(excellent, partial, offtopic, ...), a `case` id and a `note`:

    {"case": "d07-partial", "question": 7, "level": "partial", "answer": "...", "min": 30, "max": 60}

The report counts the cases in band per level and per question and lists every miss with its
score, band and strongest evidence. It is the project's regression harness for grading quality
too (tests/quality/test_golden_dev.py runs it on the dev set).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evaluator.errors import InputError, QuestionNotFound
from evaluator.files import read_text
from evaluator.result import Grade, OtherQuestion
from evaluator.rubrics.lookup import RubricSet
from evaluator.scoring.grader import Grader
from evaluator.text import one_line

NO_LEVEL = "-"  # the level of cases that name none


class GoldenCase(BaseModel):
    model_config = ConfigDict(extra="ignore")

    case: str = ""
    question: str
    answer: str
    min: float = Field(ge=0, le=100)
    max: float = Field(ge=0, le=100)
    level: str = NO_LEVEL
    note: str = ""
    line: int = 0  # where the case stands in its file, for messages

    @model_validator(mode="before")
    @classmethod
    def _question_as_text(cls, data: object) -> object:
        # Questions are often numbers in JSON ("question": 7); lookup takes text.
        if isinstance(data, dict) and isinstance(data.get("question"), int | float):
            data = {**data, "question": str(data["question"])}
        return data

    @model_validator(mode="after")
    def _band_in_order(self) -> GoldenCase:
        if self.min > self.max:
            raise ValueError(f"band min {self.min:g} is above max {self.max:g}")
        return self


class CaseResult(BaseModel):
    case: str
    line: int
    question_id: str
    level: str
    min: float
    max: float
    score: float
    band: str
    in_band: bool
    flags: list[str]
    evidence: str  # the best-credited key point and the answer text that matched it
    answers_other: OtherQuestion | None = None


class Tally(BaseModel):
    name: str
    cases: int = 0
    in_band: int = 0

    @property
    def share(self) -> float:
        return self.in_band / self.cases if self.cases else 1.0


class GoldenReport(BaseModel):
    source: str
    embedder: str
    method: str  # embedding, or embedding+judge when a judge graded every case
    cases: int
    in_band: int
    levels: list[Tally]
    questions: list[Tally]
    results: list[CaseResult]

    @property
    def misses(self) -> list[CaseResult]:
        return [r for r in self.results if not r.in_band]

    def failed(self, min_pass: dict[str, float] | None) -> list[str]:
        """Why this run fails: each level below its minimum share, or, with no minimums, any
        case out of band."""
        if not min_pass:
            return [f"{len(self.misses)} of {self.cases} cases out of band"] if self.misses else []
        reasons = []
        for tally in self.levels:
            floor = min_pass.get(tally.name, min_pass.get("*"))
            if floor is not None and tally.share < floor:
                reasons.append(
                    f"level {tally.name}: {tally.in_band}/{tally.cases} in band, below {floor:.0%}"
                )
        return reasons


# ---------------------------------------------------------------------------- reading


def read_golden(path: Path) -> list[GoldenCase]:
    """The cases of a JSONL or CSV golden file; one-line `InputError` on anything unusable."""
    text = read_text(path, "golden file")
    jsonl = path.suffix.lower() in {".jsonl", ".json", ".ndjson"} or text.lstrip().startswith("{")
    raw = _jsonl_rows(path, text) if jsonl else _csv_rows(path, text)
    cases = []
    for line, row in raw:
        try:
            cases.append(GoldenCase.model_validate({**row, "line": line}))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "case"
            raise InputError(f"{path}:{line}: field '{field}': {first['msg']}") from None
    if not cases:
        raise InputError(f"{path}: no golden cases")
    return cases


def _jsonl_rows(path: Path, text: str) -> list[tuple[int, dict[str, object]]]:
    rows = []
    for line, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{line}: not a JSON object ({exc.msg})") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{line}: expected a JSON object, got {type(row).__name__}")
        rows.append((line, row))
    return rows


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict[str, object]]]:
    try:
        reader = csv.DictReader(text.splitlines(keepends=True))
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in ("question", "answer", "min", "max") if c not in header]
        if missing:
            raise InputError(
                f"{path}: missing column(s) {', '.join(missing)} "
                "(a golden file needs question, answer, min, max; level, case, note optional)"
            )
        reader.fieldnames = header
        rows = []
        start = reader.line_num + 1  # a quoted answer may span lines: name its first
        for row in reader:
            rows.append((start, {k: v for k, v in row.items() if k is not None}))
            start = reader.line_num + 1
        return rows
    except csv.Error as exc:
        raise InputError(f"{path}: not a CSV file ({exc})") from None


# ---------------------------------------------------------------------------- grading


def run_golden(
    cases: Sequence[GoldenCase], rubrics: RubricSet, grader: Grader, source: str, jobs: int = 1
) -> GoldenReport:
    """Grades every case (one batched call) and tallies the bands."""
    pairs = []
    for case in cases:
        try:
            pairs.append((rubrics.find(case.question), case.answer))
        except QuestionNotFound as exc:
            raise InputError(f"{source}:{case.line}: {exc}") from None
    grades = grader.grade_many(pairs, jobs=jobs)
    results = [_result(case, grade) for case, grade in zip(cases, grades, strict=True)]
    return GoldenReport(
        source=source,
        embedder=grader.embedder.name,
        method="embedding+judge" if all(g.judge for g in grades) else "embedding",
        cases=len(results),
        in_band=sum(r.in_band for r in results),
        levels=_tally(results, lambda r: r.level),
        questions=_tally(results, lambda r: r.question_id),
        results=results,
    )


def _result(case: GoldenCase, grade: Grade) -> CaseResult:
    best = max(grade.key_points, key=lambda k: k.credit, default=None)
    evidence = ""
    if best is not None:
        quote = best.evidence or best.judge_evidence or ""
        evidence = f"{best.label or best.id} {best.credit:.2f}: {one_line(quote, 80)}"
    return CaseResult(
        case=case.case or f"line {case.line}",
        line=case.line,
        question_id=grade.question_id,
        level=case.level or NO_LEVEL,
        min=case.min,
        max=case.max,
        score=grade.score,
        band=grade.band,
        in_band=case.min <= grade.score <= case.max,
        flags=[f.value for f in grade.flags],
        evidence=evidence,
        answers_other=grade.answers_other,
    )


def _tally(results: Sequence[CaseResult], key: Callable[[CaseResult], str]) -> list[Tally]:
    tallies: dict[str, Tally] = {}
    for r in results:
        name = key(r)
        tally = tallies.setdefault(name, Tally(name=name))
        tally.cases += 1
        tally.in_band += r.in_band
    return list(tallies.values())
