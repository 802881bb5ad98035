"""Grade a CSV of answers: stream rows in, grade them in chunks, stream CSV or JSONL out.

    result = run_batch(BatchOptions(input=Path("answers.csv"), output=Path("out.csv")))

- Streaming: rows are read lazily and graded `chunk_size` at a time (one `grade_many` call, so
  one embedding call per chunk); each chunk is written, flushed and fsynced before the next is
  read. Memory stays flat however long the file is.
- Nothing lost: every input row gives exactly one output row, in input order. A row that cannot
  be graded (unknown question, ragged row, judge failure with --require-judge) carries its
  message in the `error` column and the batch goes on.
- Resumable: after a crash (even kill -9), `resume=True` keeps the complete rows already in the
  output, cuts off a partially written last row, checks the output belongs to this input and
  these options, and continues with the next input row.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from evaluator.errors import EvaluatorError, InputError, RubricError
from evaluator.present.summary import RowView, Summary
from evaluator.rubrics.adhoc import adhoc_rubric
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import Rubric
from evaluator.runs.batch.sinks import SINKS, GradedRow, passthrough, row_view
from evaluator.runs.batch.table import (
    Columns,
    Record,
    Table,
    open_table,
    resolve_columns,
    shown_header,
)
from evaluator.settings import Settings
from evaluator.text import one_line

if TYPE_CHECKING:
    from evaluator.scoring.grader import Grader

Format = Literal["csv", "jsonl"]
RUBRIC_CACHE = 4096  # distinct question cells / reference answers remembered


@dataclass
class BatchOptions:
    input: Path
    output: Path
    format: Format = "csv"
    answer_col: str | None = None
    id_col: str | None = None
    question_col: str | None = None
    reference_col: str | None = None
    question: str | None = None  # every row answers this question (no question column needed)
    encoding: str | None = None
    delimiter: str | None = None
    bom: bool = False  # UTF-8 with BOM, so Excel reads the output as UTF-8
    chunk_size: int = 256
    jobs: int = 1
    resume: bool = False
    force: bool = False


@dataclass
class BatchResult:
    output: Path
    rows: int  # rows in the output now
    resumed: int  # rows that were already there
    summary: Summary
    columns: str  # how columns were mapped, for the user


# ---------------------------------------------------------------------------- rubrics


def _one_line(text: str) -> str:
    return one_line(text, 500)


class _LRU(OrderedDict[object, Rubric | str]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: object, value: Rubric | str) -> Rubric | str:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class _RubricResolver:
    """Question cell (or inline reference answer) -> Rubric, or the reason it cannot be graded."""

    def __init__(
        self,
        columns: Columns,
        rubrics: Callable[[], RubricSet],
        fixed: Rubric | None,
    ) -> None:
        self.columns = columns
        self.rubrics = rubrics
        self.fixed = fixed
        self._cache = _LRU(RUBRIC_CACHE)

    def __call__(self, cells: list[str]) -> Rubric | str:
        c = self.columns
        question = cells[c.question].strip() if c.question is not None else ""
        if c.reference is not None:
            key: object = ("ref", question, cells[c.reference])
        elif self.fixed is not None:
            return self.fixed
        else:
            key = ("q", question)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        found: Rubric | str
        try:
            if c.reference is not None:
                if not cells[c.reference].strip():
                    found = "the reference answer cell is empty; not graded"
                else:
                    found = adhoc_rubric(question, cells[c.reference])
            elif not question:
                found = "the question cell is empty; not graded"
            else:
                found = self.rubrics().find(question)
        except RubricError as exc:
            found = _one_line(str(exc))
        except EvaluatorError as exc:  # QuestionNotFound: its message lists close matches
            found = f"unknown question: {_one_line(str(exc))}"
        return self._cache.remember(key, found)


# ---------------------------------------------------------------------------- the run


@dataclass
class BatchJob:
    """A checked batch, ready to run: the input is readable, columns and rubrics resolve, and
    the output may be written. Everything that can fail for the whole file fails here."""

    options: BatchOptions
    table: Table
    columns: Columns
    resolver: _RubricResolver
    settings: Settings
    summary: Summary = field(default_factory=Summary)

    @property
    def mapping(self) -> str:
        return self.columns.describe(self.table.header)

    def total_rows(self) -> int:
        return self.table.count()

    def run(
        self,
        grader: Grader | None = None,
        on_resumed: Callable[[int], None] | None = None,
        on_rows: Callable[[int], None] | None = None,
    ) -> BatchResult:
        o = self.options
        sink = SINKS[o.format](o.output, self.table, self.columns, o.bom)
        done, last = 0, None
        if o.resume and o.output.exists():
            kept = sink.resume(self.summary.add)
            done, last = kept.rows, kept.last
        else:
            sink.start_fresh()
        try:
            records = self.table.records()
            if done:
                skipped = sum(1 for _ in islice(records, done - 1))  # counted, not kept
                final = next(records, None)
                if final is None or skipped != done - 1:
                    raise InputError(
                        f"{o.output}: holds {done:,} rows but {o.input} has fewer; "
                        "use --force to start over"
                    )
                if last is not None and passthrough(final, sink.width) != last:
                    raise InputError(
                        f"{o.output}: row {done:,} does not match row {done:,} of {o.input}; "
                        "was it made from another file? Use --force to start over"
                    )
            if on_resumed:
                on_resumed(done)
            if grader is None:
                from evaluator.scoring.grader import Grader

                # Rows named by question are compared with the set's other questions; rows
                # with inline references have no set to compare with.
                named = self.columns.reference is None
                others = list(self.resolver.rubrics()) if named else []
                grader = Grader.from_settings(self.settings, compare_with=others)
            written = done
            while chunk := list(islice(records, max(o.chunk_size, 1))):
                rows = self._grade_chunk(grader, chunk)
                sink.write(rows)
                for r in rows:
                    self.summary.add(self._view(r))
                written += len(rows)
                if on_rows:
                    on_rows(len(rows))
        finally:
            sink.close()
        return BatchResult(o.output, written, done, self.summary, self.mapping)

    def _prepare(self, record: Record) -> GradedRow:
        c, width = self.columns, len(self.table.header)
        cells = record.cells
        row = GradedRow(
            record, cells[c.id].strip() if c.id is not None and c.id < len(cells) else ""
        )
        row.id = row.id or str(record.row)
        if c.answer < len(cells):
            row.answer = cells[c.answer]
        if len(cells) != width:
            row.error = (
                f"row has {len(cells)} fields but the header has {width} "
                f"(line {record.line}); not graded"
            )
            return row
        found = self.resolver(cells)
        if isinstance(found, str):
            row.error = found
        else:
            row.rubric = found
        return row

    def _grade_chunk(self, grader: Grader, records: list[Record]) -> list[GradedRow]:
        rows = [self._prepare(r) for r in records]
        todo = [(r, r.rubric) for r in rows if r.error is None and r.rubric is not None]
        try:
            grades = grader.grade_many([(q, r.answer) for r, q in todo], jobs=self.options.jobs)
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
        return rows

    def _view(self, r: GradedRow) -> RowView:
        width, c = len(self.table.header), self.columns
        cells = r.cells(width)
        if r.rubric is not None:
            title = r.rubric.title
        else:  # not graded: the question as the input names it
            title = cells[c.question] if c.question is not None else ""
        return row_view(r.record.row, cells, width, c, title)


def prepare_batch(
    options: BatchOptions,
    settings: Settings | None = None,
    rubrics: RubricSet | None = None,
) -> BatchJob:
    """Check the input, the column mapping, the rubrics and the output before any grading."""
    settings = settings or Settings()
    if options.format not in ("csv", "jsonl"):
        raise InputError(f"unknown output format '{options.format}' (csv or jsonl)")
    if options.chunk_size < 1:
        raise InputError("chunk size must be at least 1")
    if options.jobs < 1:
        raise InputError("jobs must be at least 1")
    if options.bom and options.format != "csv":
        raise InputError("a BOM (--bom/--excel) is for CSV output; JSONL is plain UTF-8")
    table = open_table(options.input, options.encoding, options.delimiter)
    columns = resolve_columns(
        table,
        answer_col=options.answer_col,
        id_col=options.id_col,
        question_col=options.question_col,
        reference_col=options.reference_col,
    )
    if columns.reference is None and columns.question is None and options.question is None:
        raise InputError(
            f"{options.input}: no question column found (the header has: "
            f"{shown_header(table.header)}); name it "
            "with --question-col, give one question for all rows with --question, or grade "
            "against inline reference answers with --reference-col"
        )
    if options.question is not None and (
        columns.question is not None or columns.reference is not None
    ):
        raise InputError(
            "--question grades every row against one question; the input also has a question "
            "or reference column — drop --question, or use a file without one"
        )

    loaded: list[RubricSet] = [rubrics] if rubrics is not None else []

    def rubric_set() -> RubricSet:
        if not loaded:
            loaded.append(load_rubrics(settings.rubrics))
        return loaded[0]

    fixed = None
    if columns.reference is None:
        rubric_set()  # rubric files are checked now, not at row 1
        if options.question is not None:
            fixed = rubric_set().find(options.question)
    _check_output(options)
    resolver = _RubricResolver(columns, rubric_set, fixed)
    return BatchJob(options, table, columns, resolver, settings)


def _check_output(options: BatchOptions) -> None:
    out, src = options.output, options.input
    if out.exists() and out.resolve() == src.resolve():
        raise InputError(f"{out}: the output would overwrite the input")
    if out.is_dir():
        raise InputError(f"{out}: is a directory; give a file name for the output")
    if options.resume and options.force:
        raise InputError("--resume and --force contradict each other: pick one")
    if out.exists() and out.stat().st_size > 0 and not (options.resume or options.force):
        raise InputError(
            f"{out}: already exists; use --resume to continue it or --force to overwrite it"
        )
    if not out.parent.exists():
        raise InputError(f"{out.parent}: no such directory for the output")


def run_batch(
    options: BatchOptions,
    settings: Settings | None = None,
    *,
    grader: Grader | None = None,
    rubrics: RubricSet | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> BatchResult:
    """Check everything, then grade the whole input into `options.output`."""
    return prepare_batch(options, settings, rubrics).run(grader, on_rows=on_rows)
