"""The local batch engine: stream a CSV's rows in, grade them in chunks, stream CSV or JSONL out.

    result = run_batch(BatchOptions(input="answers.csv", output="out.csv"))   # job.py

- Streaming: rows are read lazily and graded `chunk_size` at a time (one `grade_many` call, so
  one embedding call per chunk); each chunk is written, flushed and fsynced before the next is
  read. Memory stays flat however long the file is.
- Repeated answers (same rubric, same normalised answer) are graded once per run, whatever
  chunk they fall in (rows.py: a bounded cache of grades).
- Nothing lost: every input row gives exactly one output row, in input order. A row that cannot
  be graded (unknown question, no answer cell, judge failure with --require-judge) carries its
  message in the `error` column and the batch goes on. Cells beyond the header's width are kept
  in an `extra_cells` column; missing trailing cells read as empty.
- Nothing written before it can succeed: the output's folder is checked before any grading, and
  a fresh run (or --force) writes into a temporary file that replaces the output only once its
  first chunk is on disk; the run manifest (`<output>.run.json`, manifest.py) follows.
- Resumable: after a crash (even kill -9), `resume=True` keeps the complete rows already in the
  output, cuts off a partially written last row, and continues with the next input row. It
  continues only the same run: the manifest must match these options and this grading setup,
  and every kept row's input cells must match its input row. An edited input row is refused,
  not regraded: the output is append-only, so a regraded row could only go at its end, out of
  order, next to the stale one. Nothing is cut off until every check passed.
- Error limit: with `max_errors`, a run stops after the chunk in which its errored rows exceed
  the limit (a count, or a fraction of the rows graded in this run); the rows so far stay, and
  `resume=True` continues.
- One writer per output: `prepare_local` locks the output (files.OutputLock, `OUT.lock`) before
  it reads or writes anything of it, and the lock is held to the end of `run` (or `close`); a
  second run on the same output is refused, naming the first.
- Ctrl-C: `interrupted()` says what the output holds once the run has stopped; a chunk being
  written (and put in place) when Ctrl-C comes is finished first, so the count is exact.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from evaluator.batch.cells import EXTRA_COLUMN, GradedRow, extra_column, passthrough, row_view
from evaluator.batch.job import BatchOptions, BatchResult, ErrorLimit
from evaluator.batch.manifest import RunManifest, make_manifest
from evaluator.batch.rows import RowGrader, RubricResolver, grade_store
from evaluator.batch.sinks import SINKS, Sink
from evaluator.batch.table import (
    Columns,
    Table,
    open_table,
    resolve_columns,
    shown_header,
)
from evaluator.errors import InputError
from evaluator.files import OutputLock, check_can_write, interrupts_deferred, lock_path
from evaluator.present.summary import RowView, Summary
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lookup import RubricSet
from evaluator.settings import Settings

if TYPE_CHECKING:
    from evaluator.scoring.grader import Grader

Format = Literal["csv", "jsonl"]


@dataclass(frozen=True)
class LocalOptions:
    """The options the local engine reads, its input and output as paths."""

    input: Path
    output: Path
    format: Format
    answer_col: str | None
    id_col: str | None
    question_col: str | None
    reference_col: str | None
    question: str | None
    encoding: str | None
    delimiter: str | None
    bom: bool
    chunk_size: int
    jobs: int
    resume: bool
    force: bool
    max_errors: ErrorLimit | None

    @classmethod
    def of(cls, o: BatchOptions) -> LocalOptions:
        assert o.format in ("csv", "jsonl")  # BatchOptions.check: parquet is Ray's
        return cls(
            Path(o.input), Path(o.output), o.format, o.answer_col, o.id_col, o.question_col,
            o.reference_col, o.question, o.encoding, o.delimiter, o.bom, o.chunk_size, o.jobs,
            o.resume, o.force, o.max_errors,
        )  # fmt: skip


# ---------------------------------------------------------------------------- the run


@dataclass
class LocalJob:
    """A checked batch, ready to run (job.BatchJob): the input is readable, columns and
    rubrics resolve, and the output may be written, under its lock."""

    options: LocalOptions
    table: Table
    columns: Columns
    rows: RowGrader  # records -> graded rows, remembering repeated answers
    settings: Settings
    manifest: RunManifest  # written beside the output; on resume, matched against its own
    lock: OutputLock  # held from prepare_local to the end of `run` (or `close`)
    existed: bool  # the output was there before this run
    grader: Grader | None = None  # None: built from `settings` when the run starts
    summary: Summary = field(default_factory=Summary)
    saved: int = 0  # rows on disk in the output, once it is in place (resumed ones included)
    placed: bool = False  # the output is this run's (committed or resumed), not what was there

    @property
    def mapping(self) -> str:
        return self.columns.describe(self.table.header)

    def total_rows(self) -> int:
        return self.table.count()

    def run(
        self,
        *,
        on_resumed: Callable[[int], None] | None = None,
        on_rows: Callable[[int], None] | None = None,
    ) -> BatchResult:
        try:
            return self._run(self.grader, on_resumed, on_rows)
        finally:
            self.lock.release()

    def close(self) -> None:
        """Release the output's lock without running (run releases it itself)."""
        self.lock.release()

    def _run(
        self,
        grader: Grader | None,
        on_resumed: Callable[[int], None] | None,
        on_rows: Callable[[int], None] | None,
    ) -> BatchResult:
        o = self.options
        sink = SINKS[o.format](
            o.output, self.table, self.columns, o.bom, self.table.has_extra_cells
        )
        records = self.table.records()
        done, written, stopped = 0, 0, None
        try:
            if o.resume and _has_content(o.output):
                # The manifest matched in prepare_batch; now every kept row is checked against
                # its input row, and only then is the cut tail removed.
                kept = sink.scan(records, self.summary.add)
                with interrupts_deferred():  # `saved` says what the file holds
                    sink.append_from(kept.end)
                    self.placed, self.saved = not sink.pending, kept.rows
                done = kept.rows
            else:
                sink.start_fresh()
            if on_resumed:
                on_resumed(done)
            # Built on first need: a re-run whose grades are all kept on disk loads no model.
            make = (lambda: grader) if grader is not None else self._make_grader
            errored = 0  # errored rows among the `written` graded in this run
            while chunk := list(islice(records, max(o.chunk_size, 1))):
                rows = self.rows.grade(make, chunk)
                # A Ctrl-C waits for the chunk to be written and in place, so that what the
                # user is told (`interrupted`) is what the file holds.
                with interrupts_deferred():
                    sink.write(rows)
                    if sink.pending:  # the first chunk is on disk: the output can take its place
                        self._commit(sink)
                    self.saved += len(rows)
                views = [self._view(r) for r in rows]
                for view in views:
                    self.summary.add(view)
                written += len(rows)
                errored += sum(1 for v in views if v.error)
                if on_rows:
                    on_rows(len(rows))
                limit = o.max_errors
                if limit is not None and limit.exceeded(errored, written):
                    stopped = (
                        f"stopped: {errored:,} of the {written:,} rows graded in this run had "
                        f"errors, more than --max-errors {limit.text} allows; {o.output} holds "
                        f"the {done + written:,} rows so far and --resume continues"
                    )
                    break
            if sink.pending:  # an input without data rows: the output is its header
                with interrupts_deferred():
                    self._commit(sink)
        finally:
            sink.close()
            records.close()
            if self.rows.store is not None:
                self.rows.store.close()
        return BatchResult(str(o.output), done + written, done, self.summary, self.mapping, stopped)

    def _make_grader(self) -> Grader:
        if self.grader is None:
            from evaluator.scoring.grader import Grader

            # Rows named by question are compared with the set's other questions; rows with
            # inline references have no set to compare with.
            named = self.columns.reference is None
            others = list(self.rows.resolver.rubrics()) if named else []
            self.grader = Grader.from_settings(self.settings, compare_with=others)
        return self.grader

    def interrupted(self) -> str:
        """What to tell a user who stopped the run (Ctrl-C): true of the output as it is now."""
        out = self.options.output
        if self.placed and self.saved:
            return (
                f"stopped; {out} holds the {self.saved:,} rows graded so far: rerun with "
                "--resume to continue"
            )
        if self.placed:  # a resumed output that held only its header
            return (
                f"stopped before any row was saved; {out} holds only its header: rerun with "
                "--resume to continue"
            )
        if self.existed:
            hint = ": rerun with --resume to continue" if self.options.resume else ""
            return f"stopped before any row was saved; {out} was left as it was{hint}"
        return f"stopped before any row was saved; {out} was not created"

    def _commit(self, sink: Sink) -> None:
        # The output first, then its manifest: a crash between the two leaves the new output
        # with no manifest or the one before, and --resume refuses it unless that one is equal.
        sink.commit()
        self.manifest.save(self.options.output)
        self.placed = True

    def _view(self, r: GradedRow) -> RowView:
        c = self.columns
        inputs = passthrough(r.record, len(self.table.header))
        if r.rubric is not None:
            title = r.rubric.title
        else:  # not graded: the question as the input names it
            title = inputs[c.question] if c.question is not None else ""
        return row_view(r.record.row, inputs, r.grade_cells(), c, title)


def prepare_local(
    batch: BatchOptions,
    settings: Settings,
    rubrics: RubricSet | None = None,
    grader: Grader | None = None,
) -> LocalJob:
    """Check the input, the column mapping, the rubrics and the output before any grading
    (job.prepare_batch has checked the options)."""
    options = LocalOptions.of(batch)
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
    manifest = make_manifest(
        input=options.input,
        format=options.format,
        bom=options.bom,
        header=table.header,
        columns=columns,
        question=options.question,
        extra_cells=table.has_extra_cells,
        settings=settings,
        rubrics=rubric_set() if columns.reference is None else None,
    )
    # Held until the run ends: a second run on this output is refused before it reads or
    # writes anything of it (two --force runs would each rename their file over the other's).
    lock = OutputLock(options.output, "evaluator batch")
    lock.acquire()
    try:
        _check_locked_output(options)
        existed = options.output.exists()
        if options.resume and _has_content(options.output):
            _check_resume(options, manifest)
        resolver = RubricResolver(columns, rubric_set, fixed)
        extra_name = extra_column(table.header) if options.format == "csv" else EXTRA_COLUMN
        store, context = grade_store(settings, rubric_set() if columns.reference is None else None)
        rows = RowGrader(
            len(table.header), columns, resolver, extra_name, options.jobs,
            store=store, context=context,
        )  # fmt: skip
        return LocalJob(options, table, columns, rows, settings, manifest, lock, existed, grader)
    except BaseException:
        lock.release()
        raise


def _check_output(options: LocalOptions) -> None:
    """What can be said of the output path alone, before it is locked."""
    out, src = options.output, options.input
    if out.exists() and out.resolve() == src.resolve():
        raise InputError(f"{out}: the output would overwrite the input")
    if src.resolve() == lock_path(out).resolve():
        raise InputError(f"{src}: is the lock file of {out}, not an input")
    if out.is_dir():
        raise InputError(f"{out}: is a directory; give a file name for the output")
    check_can_write(out, "the output")


def _check_locked_output(options: LocalOptions) -> None:
    """What the output holds decides what may be done with it: asked only under its lock, so
    no other run is changing it meanwhile."""
    out = options.output
    if out.exists() and out.stat().st_size > 0 and not (options.resume or options.force):
        raise InputError(
            f"{out}: already exists; use --resume to continue it or --force to overwrite it"
        )
    if options.resume and out.exists() and not os.access(out, os.W_OK):
        raise InputError(f"{out}: cannot be written to, so it cannot be resumed")


def _has_content(path: Path) -> bool:
    """An existing output with something in it (an empty file holds nothing to keep)."""
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _check_resume(options: LocalOptions, now: RunManifest) -> None:
    """Refuse to resume an output that another run (or no run of ours) wrote."""
    out = options.output
    then = RunManifest.load(out)
    if then is None:
        raise InputError(
            f"{out}: has no run manifest ({RunManifest.path_for(out).name}), so nothing says "
            "how it was made; use --force to start over, or another -o"
        )
    then.check_resume(out, now)
