"""Agreement with human graders: grade a CSV of human-scored answers, compare the scores.

The CSV layout is the benchmark one (../shared/benchmarks):

    id, dataset, question_id, question, reference_answer, answer, human_score, max_score, ...

Required: question, reference_answer, answer, human_score, max_score. Each distinct question
(question_id, else the question text) with its reference becomes an ad-hoc rubric, unless the
question_id names a rubric of the rubric set. Every row is graded through `Grader.grade_many`
(batched), and scores are compared on the 0-1 scale (score / 100 vs human_score / max_score):
Pearson, Spearman, RMSE and quadratic weighted kappa, overall and per question.

The statistics are plain numpy (no scipy), tested against hand-computed values.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict

from evaluator.errors import InputError
from evaluator.rubrics.adhoc import adhoc_rubric
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import Rubric

if TYPE_CHECKING:
    from evaluator.scoring.grader import Grader

REQUIRED_COLUMNS = ("question", "reference_answer", "answer", "human_score", "max_score")
CHUNK_ROWS = 500  # rows per grade_many call: batched encoding, with progress between chunks


# ---------------------------------------------------------------------------- statistics


def _finite(x: float) -> float | None:
    return None if math.isnan(x) or math.isinf(x) else x


def pearson(x: ArrayLike, y: ArrayLike) -> float:
    """Pearson correlation; NaN when either side is constant or there are fewer than 2 pairs."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(a) != len(b):
        raise ValueError("pearson: inputs differ in length")
    # A constant side has no correlation; tested exactly, since subtracting the mean of equal
    # floats can leave noise that would read as -0.000.
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float(a @ a) * float(b @ b))
    return math.nan if denom == 0 else float(a @ b) / denom


def rank(x: ArrayLike) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (as Spearman's rho needs)."""
    a = np.asarray(x, dtype=float)
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(len(a), dtype=float)
    sorted_a = a[order]
    start = 0
    for end in range(1, len(a) + 1):
        if end == len(a) or sorted_a[end] != sorted_a[start]:
            ranks[order[start:end]] = (start + end + 1) / 2  # mean of ranks start+1 .. end
            start = end
    return ranks


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    return pearson(rank(x), rank(y))


def rmse(x: ArrayLike, y: ArrayLike) -> float:
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return math.nan if len(a) == 0 else float(np.sqrt(np.mean((a - b) ** 2)))


def to_levels(fractions: ArrayLike, levels: int) -> np.ndarray:
    """0-1 scores binned into `levels` ordered categories 0 .. levels-1 (nearest, halves up)."""
    f = np.clip(np.asarray(fractions, dtype=float), 0.0, 1.0)
    return np.floor(f * (levels - 1) + 0.5).astype(int)


def quadratic_weighted_kappa(x: ArrayLike, y: ArrayLike, levels: int) -> float:
    """Cohen's kappa with quadratic weights over categories 0 .. levels-1."""
    a, b = np.asarray(x, dtype=int), np.asarray(y, dtype=int)
    if len(a) == 0 or levels < 2:
        return math.nan
    observed = np.zeros((levels, levels))
    np.add.at(observed, (a, b), 1.0)
    counts = np.outer(np.bincount(a, minlength=levels), np.bincount(b, minlength=levels))
    expected = counts / len(a)
    i, j = np.indices((levels, levels))
    weights = (i - j) ** 2 / (levels - 1) ** 2
    denom = float((weights * expected).sum())
    return math.nan if denom == 0 else 1.0 - float((weights * observed).sum()) / denom


# ---------------------------------------------------------------------------- input


class AgreementRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    line: int  # line number in the CSV, for messages
    id: str
    question_id: str
    question: str
    reference_answer: str
    answer: str
    human_score: float
    max_score: float

    @property
    def human_fraction(self) -> float:
        return self.human_score / self.max_score


def read_rows(path: str | Path) -> list[AgreementRow]:
    """Rows of an agreement CSV; one-line `InputError` on anything unusable."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            if not header:
                raise InputError(f"{path}: empty file (expected a header row)")
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise InputError(
                    f"{path}: missing column(s) {', '.join(missing)} "
                    f"(required: {', '.join(REQUIRED_COLUMNS)})"
                )
            reader.fieldnames = header
            rows = [_row(path, reader.line_num, raw) for raw in reader]
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a UTF-8 CSV file ({exc})") from None
    if not rows:
        raise InputError(f"{path}: no data rows")
    return rows


def _row(path: Path, line: int, raw: dict[str, str | None]) -> AgreementRow:
    def text(key: str) -> str:
        return (raw.get(key) or "").strip()

    def number(key: str) -> float:
        value = text(key)
        try:
            result = float(value)
        except ValueError:
            raise InputError(f"{path}:{line}: {key} '{value}' is not a number") from None
        if not math.isfinite(result):
            raise InputError(f"{path}:{line}: {key} '{value}' is not a finite number")
        return result

    human, top = number("human_score"), number("max_score")
    if top <= 0:
        raise InputError(f"{path}:{line}: max_score must be positive, got {top:g}")
    if not 0 <= human <= top:
        raise InputError(f"{path}:{line}: human_score {human:g} is outside 0..{top:g}")
    if not text("reference_answer"):
        raise InputError(f"{path}:{line}: reference_answer is empty")
    return AgreementRow(
        line=line,
        id=text("id") or f"row{line}",
        question_id=text("question_id"),
        question=text("question"),
        reference_answer=text("reference_answer"),
        answer=raw.get("answer") or "",
        human_score=human,
        max_score=top,
    )


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-_.")
    return slug if slug and slug[0].isalnum() else f"q-{slug}".rstrip("-")


def rubrics_for(rows: Sequence[AgreementRow], known: RubricSet | None = None) -> list[Rubric]:
    """One rubric per row: the rubric set's when question_id names one, else an ad-hoc one
    per distinct (question_id or question, reference answer)."""
    made: dict[tuple[str, str], Rubric] = {}
    used_ids: set[str] = set()
    out = []
    for row in rows:
        rubric = known.get(row.question_id) if known is not None and row.question_id else None
        if rubric is None:
            key = (row.question_id or row.question, row.reference_answer)
            if key not in made:
                rid = _slug(row.question_id) if row.question_id else None
                if rid is not None and rid in used_ids:
                    rid = f"{rid}-{len(used_ids)}"
                made[key] = adhoc_rubric(row.question, row.reference_answer, rubric_id=rid)
                used_ids.add(made[key].id)
            rubric = made[key]
        out.append(rubric)
    return out


# ---------------------------------------------------------------------------- report


class Agreement(BaseModel):
    """Agreement statistics for a set of rows (0-1 scale)."""

    n: int
    pearson: float | None
    spearman: float | None
    rmse: float | None
    qwk: float | None
    levels: int  # categories used for the kappa


class QuestionAgreement(Agreement):
    question_id: str
    question: str
    human_mean: float
    score_mean: float


class AgreementReport(Agreement):
    embedder: str
    method: str
    per_question: list[QuestionAgreement]


def kappa_levels(rows: Sequence[AgreementRow]) -> int:
    """max_score + 1 levels when every row shares a whole-number max_score (<= 10) and human
    scores are whole numbers; else 11 levels (tenths)."""
    tops = {r.max_score for r in rows}
    if len(tops) == 1:
        top = next(iter(tops))
        if top == int(top) and top <= 10 and all(r.human_score == int(r.human_score) for r in rows):
            return int(top) + 1
    return 11


def agreement(scores: ArrayLike, humans: ArrayLike, levels: int) -> Agreement:
    """`scores` and `humans` on the 0-1 scale."""
    return Agreement(
        n=len(np.asarray(scores)),
        pearson=_finite(pearson(scores, humans)),
        spearman=_finite(spearman(scores, humans)),
        rmse=_finite(rmse(scores, humans)),
        qwk=_finite(
            quadratic_weighted_kappa(to_levels(scores, levels), to_levels(humans, levels), levels)
        ),
        levels=levels,
    )


def compare(
    rows: Sequence[AgreementRow], scores: Sequence[float], embedder: str, method: str
) -> AgreementReport:
    """The report for `rows` graded `scores` (0-100)."""
    predicted = np.asarray(scores, dtype=float) / 100.0
    humans = np.array([r.human_fraction for r in rows])
    levels = kappa_levels(rows)
    overall = agreement(predicted, humans, levels)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(r.question_id or r.question, []).append(i)
    per_question = []
    for qid, idx in groups.items():
        sub = [rows[i] for i in idx]
        stats = agreement(predicted[idx], humans[idx], kappa_levels(sub))
        per_question.append(
            QuestionAgreement(
                **stats.model_dump(),
                question_id=qid,
                question=sub[0].question,
                human_mean=float(humans[idx].mean()),
                score_mean=float(predicted[idx].mean()),
            )
        )
    return AgreementReport(
        **overall.model_dump(), embedder=embedder, method=method, per_question=per_question
    )


def run(
    rows: Sequence[AgreementRow],
    grader: Grader,
    known: RubricSet | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[float], AgreementReport]:
    """Grade every row (batched, CHUNK_ROWS at a time) and compare with the human scores."""
    rubrics = rubrics_for(rows, known)
    scores: list[float] = []
    methods: set[str] = set()
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = range(start, min(start + CHUNK_ROWS, len(rows)))
        grades = grader.grade_many([(rubrics[i], rows[i].answer) for i in chunk])
        scores.extend(g.score for g in grades)
        methods.update(g.method for g in grades)
        if progress:
            progress(len(scores), len(rows))
    method = "+".join(sorted(methods)) or "embedding"
    return scores, compare(rows, scores, grader.embedder.name, method)
