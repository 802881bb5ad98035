"""Check study notes: grade every answer in some Markdown files against a minimum score.

    report = check_files([Path("notes/bn.md")], load_settings())
    report.passed            # False when an answer is below its minimum or a file is unreadable

Grades are cached by content (answer text, rubric hash, embedder, calibration, judge settings)
in a small sqlite file under the cache dir, so re-checking unchanged notes loads no model: the
`Grader` (which loads the embedder) is built only when some answer is not in the cache. Keep
this module's imports light for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from evaluator.errors import InputError
from evaluator.kvstore import cache_key
from evaluator.notes.notes import HOW_TO_NAME, Answer, MatchedBy, Note, load_note
from evaluator.result import Grade, KeyPointResult
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lookup import RubricSet
from evaluator.scoring.fingerprint import grading_context
from evaluator.scoring.grade_cache import GradeCache, cacheable, grade_key
from evaluator.settings import Settings

if TYPE_CHECKING:
    from evaluator.scoring.grader import Grader

# Bump when what a cached grade means changes in a way the code digest cannot see.
CACHE_FORMAT = 1
CACHE_FILE = "check-grades.sqlite3"
CACHE_LIMIT = 5000  # grades kept (a few KB each); every edit of a note adds one
# Answers graded in one `grade_many` call. The grader holds the vectors of every sentence of
# the answers it is given, so one call for a note of 5,850 sections held them all (~1 GB); a
# chunk bounds that, and each chunk's grades go into the cache before the next is graded.
GRADE_CHUNK = 128


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnswerCheck(_Model):
    """One graded answer and its verdict against the minimum score."""

    line: int
    matched_by: MatchedBy
    label: str  # what the note wrote to name the question
    question_id: str
    question_number: int | None
    question_title: str
    score: float
    min_score: float
    passed: bool
    cached: bool
    missed: list[KeyPointResult] = Field(default_factory=list)
    grade: Grade


class FileCheck(_Model):
    path: str
    status: Literal["checked", "skipped", "error"]
    answers: list[AnswerCheck] = Field(default_factory=list)
    remarks: list[str] = Field(default_factory=list)  # informational: skipped headings, …
    problems: list[str] = Field(default_factory=list)  # failures: unreadable, unknown question

    @property
    def passed(self) -> bool:
        return not self.problems and all(a.passed for a in self.answers)


class CheckReport(_Model):
    files: list[FileCheck]
    passed: bool
    answers: int
    below_minimum: int
    cached: int
    skipped_files: int
    failed_files: int  # unreadable files, broken front matter, questions that do not exist
    warnings: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------------------- checking


NOTE_SUFFIXES = (".md", ".markdown")


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a directory stands for the Markdown files under it (hidden ones skipped)."""
    expanded: list[Path] = []
    for path in paths:
        if not path.is_dir():
            expanded.append(path)
            continue
        expanded.extend(
            sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in NOTE_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        )
    return expanded


def _default_grader(settings: Settings, rubrics: RubricSet) -> Grader:
    from evaluator.scoring.grader import Grader

    return Grader.from_settings(settings, compare_with=rubrics)


def check_files(
    paths: Sequence[Path],
    settings: Settings,
    *,
    rubrics: RubricSet | None = None,
    make_grader: Callable[[Settings, RubricSet], Grader] = _default_grader,
    on_progress: Callable[[int, int], None] | None = None,
) -> CheckReport:
    """Grade every answer in `paths` (directories: their Markdown files). Never raises for
    an unreadable file: it is reported in its `FileCheck`.

    The minimum score of an answer is its file's front matter `min_score` when set, else
    `settings.min_score` (flag > env > [tool.evaluator] > 60). `make_grader` runs only when
    some answer is not in the cache. `on_progress(done, total)` is told of the answers graded
    (cached ones not counted), after each chunk of GRADE_CHUNK.
    """
    rubrics = rubrics if rubrics is not None else load_rubrics(settings.rubrics)
    paths = expand_paths(paths)
    notes: list[Note | InputError] = []
    for path in paths:
        try:
            notes.append(load_note(path, rubrics))
        except InputError as exc:
            notes.append(exc)

    answers = [a for n in notes if isinstance(n, Note) for a in n.answers]
    # Notes name questions of this set, and every grade is compared with the set's other
    # questions, so each rubric is hashed once and the whole set goes into every key.
    rubric_hashes = {r.id: r.content_hash() for r in rubrics}
    context = grading_context(settings, CACHE_FORMAT) + cache_key(*sorted(rubric_hashes.values()))
    keys = [grade_key(a.text, rubric_hashes[a.rubric.id], context) for a in answers]
    cache = GradeCache(settings.cache_dir / CACHE_FILE if settings.use_cache else None, CACHE_LIMIT)
    try:
        grades = cache.get_many(keys)
        hits = set(grades)
        todo = list({k: a for k, a in zip(keys, answers, strict=True) if k not in grades}.items())
        # One question's answers together: they share sentences more than other answers do,
        # and a grade_many call embeds a sentence it is given twice only once. (A note cycling
        # over the questions cost 2-3x the CPU in chunks of its own order.) The report keeps
        # the notes' order.
        todo.sort(key=lambda item: item[1].rubric.id)
        grader = make_grader(settings, rubrics) if todo else None
        for start in range(0, len(todo), GRADE_CHUNK):
            assert grader is not None
            chunk = todo[start : start + GRADE_CHUNK]
            fresh = grader.grade_many([(a.rubric, a.text) for _, a in chunk])
            new = {k: g for (k, _), g in zip(chunk, fresh, strict=True)}
            grades.update(new)
            # Stored now, so a long check that is stopped keeps what it graded.
            cache.put_many({k: g for k, g in new.items() if cacheable(g)})
            if on_progress:
                on_progress(start + len(chunk), len(todo))
    finally:
        cache.close()

    files = []
    ordered_keys = iter(keys)  # answers come back in the order they were collected
    for path, note in zip(paths, notes, strict=True):
        if isinstance(note, InputError):
            files.append(FileCheck(path=str(path), status="error", problems=[str(note)]))
            continue
        floor = note.min_score if note.min_score is not None else settings.min_score
        checks = []
        for answer in note.answers:
            key = next(ordered_keys)
            checks.append(_answer_check(answer, grades[key], floor, key in hits))
        files.append(_file_check(note, checks))
    return _summarise(files, [w for w in (cache.warning,) if w])


def _file_check(note: Note, checks: list[AnswerCheck]) -> FileCheck:
    skipped = not checks and not note.problems
    remarks = [*note.remarks, f"no answer found ({HOW_TO_NAME})"] if skipped else note.remarks
    return FileCheck(
        path=str(note.path),
        status="skipped" if skipped else "checked",
        answers=checks,
        remarks=remarks,
        problems=note.problems,
    )


def _answer_check(answer: Answer, grade: Grade, floor: float, cached: bool) -> AnswerCheck:
    return AnswerCheck(
        line=answer.line,
        matched_by=answer.matched_by,
        label=answer.label,
        question_id=grade.question_id,
        question_number=grade.question_number,
        question_title=grade.question_title,
        score=grade.score,
        min_score=floor,
        passed=grade.score >= floor,
        cached=cached,
        missed=grade.missed,
        grade=grade,
    )


def _summarise(files: list[FileCheck], warnings: list[str]) -> CheckReport:
    answers = [a for f in files for a in f.answers]
    return CheckReport(
        files=files,
        passed=all(f.passed for f in files),
        answers=len(answers),
        below_minimum=sum(not a.passed for a in answers),
        cached=sum(a.cached for a in answers),
        skipped_files=sum(f.status == "skipped" for f in files),
        failed_files=sum(bool(f.problems) for f in files),
        warnings=warnings,
    )
