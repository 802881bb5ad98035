"""Input records to graded rows: the per-row work of `evaluator batch`, shared by the local job
(job.py) and the Ray actors (evaluator.batch.ray), so both write the same cells.

    rows = RowGrader(width, columns, resolver, extra_name, jobs=4).grade(grader, records)

- A record's question cell (or inline reference answer) resolves to a rubric once per run
  (`RubricResolver`, bounded); a row that cannot be graded carries its reason in `error`.
- Repeated answers are graded once per run: a grade is remembered under its rubric's content
  hash and the normalised answer text (`Grader` normalises before anything else, so equal keys
  mean equal grading input), in a bounded LRU so memory stays flat on millions of distinct
  rows. A remembered grade is the very grade the row would get again (its `timings_ms` are
  those of the first grading). Errors are never remembered.
- Across runs, grades are kept on disk (scoring.grade_cache, keyed on everything a grade
  depends on), so a re-run of the same file grades nothing again, and loads no model unless
  some answer is new: the grader is built on first need.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from evaluator.batch.cells import GradedRow, passthrough
from evaluator.batch.table import Columns, Record
from evaluator.errors import EvaluatorError, RubricError
from evaluator.kvstore import cache_key
from evaluator.result import Grade
from evaluator.rubrics.adhoc import adhoc_rubric
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import Rubric
from evaluator.scoring.fingerprint import grading_context
from evaluator.scoring.grade_cache import GradeCache, cacheable, grade_key
from evaluator.settings import Settings
from evaluator.text import normalise, one_line

if TYPE_CHECKING:
    from evaluator.scoring.grader import Grader

# Grades kept across runs (scoring.grade_cache); bump the format when what a kept grade means
# changes in a way the grading code's digest cannot see.
STORE_FORMAT = 1
STORE_FILE = "batch-grades.sqlite3"
STORE_LIMIT = 20_000  # a grade is a few KB; a re-run of a file this long grades nothing again
RUBRIC_CACHE = 4096  # distinct question cells / reference answers remembered
GRADE_CACHE = 4096  # distinct (rubric, answer) grades remembered; a Grade is a few KB


def _one_line(text: str) -> str:
    return one_line(text, 500)


K = TypeVar("K")
V = TypeVar("V")


class LRU(OrderedDict[K, V], Generic[K, V]):
    """A dict that forgets its least recently used entry beyond `size` entries."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def recall(self, key: K) -> V | None:
        if key not in self:
            return None
        self.move_to_end(key)
        return self[key]

    def remember(self, key: K, value: V) -> V:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class Resolved:
    """A row's rubric and its content hash (computed once per rubric, not once per row)."""

    __slots__ = ("hash", "rubric")

    def __init__(self, rubric: Rubric) -> None:
        self.rubric = rubric
        self.hash = rubric.content_hash()


class RubricResolver:
    """Question cell (or inline reference answer) -> Rubric, or the reason it cannot be graded."""

    def __init__(
        self,
        columns: Columns,
        rubrics: Callable[[], RubricSet],
        fixed: Rubric | None,
    ) -> None:
        self.columns = columns
        self.rubrics = rubrics
        self.fixed = Resolved(fixed) if fixed is not None else None
        self._cache: LRU[object, Resolved | str] = LRU(RUBRIC_CACHE)

    def __call__(self, cells: list[str]) -> Resolved | str:
        c = self.columns
        question = cells[c.question].strip() if c.question is not None else ""
        if c.reference is not None:
            key: object = ("ref", question, cells[c.reference])
        elif self.fixed is not None:
            return self.fixed
        else:
            key = ("q", question)
        known = self._cache.recall(key)
        if known is not None:
            return known
        found: Resolved | str
        try:
            if c.reference is not None:
                if not cells[c.reference].strip():
                    found = "the reference answer cell is empty; not graded"
                else:
                    found = Resolved(adhoc_rubric(question, cells[c.reference]))
            elif not question:
                found = "the question cell is empty; not graded"
            else:
                found = Resolved(self.rubrics().find(question))
        except RubricError as exc:
            found = _one_line(str(exc))
        except EvaluatorError as exc:  # QuestionNotFound: its message lists close matches
            found = f"unknown question: {_one_line(str(exc))}"
        return self._cache.remember(key, found)


def answer_key(rubric_hash: str, answer: str) -> tuple[str, bytes]:
    """What a grade depends on in a run: the rubric's content and the normalised answer (as a
    digest, so a remembered key costs 32 bytes however long the answer)."""
    return rubric_hash, hashlib.sha256(normalise(answer or "").encode()).digest()


class RowGrader:
    """Grades records a chunk at a time: one `grade_many` call per chunk for the answers not
    graded earlier in this run."""

    def __init__(
        self,
        width: int,
        columns: Columns,
        resolver: RubricResolver,
        extra_name: str,
        jobs: int = 1,
        cache_size: int = GRADE_CACHE,
        store: GradeCache | None = None,
        context: str = "",
    ) -> None:
        """`store`: grades kept across runs, under keys that end in `context` (what else the
        grades depend on: fingerprint.grading_context, and the rubric set compared with)."""
        self.width = width  # the header's width
        self.columns = columns
        self.resolver = resolver
        self.extra_name = extra_name  # the output column holding cells beyond the header
        self.jobs = jobs
        self.grades: LRU[tuple[str, bytes], Grade] = LRU(cache_size)
        self.store = store
        self.context = context
        self.reused = 0  # rows graded earlier in this run (for benchmarks)
        self.stored = 0  # rows whose grade was kept on disk by an earlier run

    def prepare(self, record: Record) -> tuple[GradedRow, str | None]:
        """The row with its rubric (or its error), and its rubric's content hash."""
        c, width = self.columns, self.width
        n, inputs = len(record.cells), passthrough(record, width)
        given_id = inputs[c.id].strip() if c.id is not None else ""
        row = GradedRow(record, given_id or str(record.row), answer=inputs[c.answer])
        if n < width:  # missing trailing cells read as empty, unless grading needs one of them
            roles = (("answer", c.answer), ("question", c.question), ("reference", c.reference))
            missing = [role for role, i in roles if i is not None and i >= n]
            if missing:
                row.error = (
                    f"row has {n} fields but the header has {width}, so it has no "
                    f"{missing[0]} cell (line {record.line}); not graded"
                )
                return row, None
        elif n > width and any(cell.strip() for cell in record.cells[width:]):
            # Most likely an unquoted delimiter split the answer: grading a part would mislead.
            row.error = (
                f"row has {n} fields but the header has {width} (line {record.line}); the "
                f"cells beyond the header are in {self.extra_name}; not graded"
            )
            return row, None
        found = self.resolver(inputs)
        if isinstance(found, str):
            row.error = found
            return row, None
        row.rubric = found.rubric
        return row, found.hash

    def grade(
        self, grader: Grader | Callable[[], Grader], records: list[Record]
    ) -> list[GradedRow]:
        """The records' rows, graded. `grader`: one, or a function that builds one, called only
        when some answer is in neither cache."""
        prepared = [self.prepare(r) for r in records]
        rows = [row for row, _ in prepared]
        todo: dict[tuple[str, bytes], list[GradedRow]] = {}  # answers not graded yet, in order
        for row, rubric_hash in prepared:
            if row.rubric is None or rubric_hash is None:
                continue
            key = answer_key(rubric_hash, row.answer)
            known = self.grades.recall(key)
            if known is not None:
                row.grade = known
                self.reused += 1
            else:
                todo.setdefault(key, []).append(row)
        firsts = [(key, same[0]) for key, same in todo.items()]
        new = self._from_store(firsts)
        if new:
            self._grade_new(grader() if callable(grader) else grader, [row for _, row in new])
            self._keep(new)
        for key, first in firsts:
            if first.grade is not None:
                self.grades.remember(key, first.grade)
            for row in todo[key][1:]:
                row.grade, row.error = first.grade, first.error
                self.reused += 1
        return rows

    def _stored_key(self, key: tuple[str, bytes]) -> str:
        rubric_hash, answer_digest = key
        return grade_key(answer_digest.hex(), rubric_hash, self.context)

    def _from_store(
        self, rows: list[tuple[tuple[str, bytes], GradedRow]]
    ) -> list[tuple[tuple[str, bytes], GradedRow]]:
        """Gives `rows` the grades kept on disk for them; returns those it has none for."""
        if self.store is None:
            return rows
        found = self.store.get_many(self._stored_key(key) for key, _ in rows)
        for key, row in rows:
            row.grade = found.get(self._stored_key(key))
        self.stored += len(found)
        return [(key, row) for key, row in rows if row.grade is None]

    def _keep(self, rows: list[tuple[tuple[str, bytes], GradedRow]]) -> None:
        if self.store is not None:
            self.store.put_many(
                {self._stored_key(k): r.grade for k, r in rows if r.grade and cacheable(r.grade)}
            )

    def _grade_new(self, grader: Grader, rows: list[GradedRow]) -> None:
        todo = [(r, r.rubric) for r in rows if r.rubric is not None]
        try:
            grades = grader.grade_many([(q, r.answer) for r, q in todo], jobs=self.jobs)
        except Exception:  # one bad row must not sink the chunk: grade them one by one
            for r, q in todo:
                try:
                    r.grade = grader.grade(q, r.answer)
                except EvaluatorError as exc:
                    r.error = _one_line(str(exc))
                except Exception as exc:  # a bug: keep the batch going, say what happened
                    r.error = _one_line(f"internal error: {type(exc).__name__}: {exc}")
        else:
            for (r, _), g in zip(todo, grades, strict=True):
                r.grade = g


def grade_store(settings: Settings, rubrics: RubricSet | None) -> tuple[GradeCache | None, str]:
    """The grades kept across runs, and what their keys end in: the grading setup, and for
    named questions the whole set, which every grade is compared with."""
    if not settings.use_cache:
        return None, ""
    context = grading_context(settings, STORE_FORMAT)
    if rubrics is not None:
        context += cache_key(*sorted(r.content_hash() for r in rubrics))
    return GradeCache(settings.cache_dir / STORE_FILE, STORE_LIMIT), context
