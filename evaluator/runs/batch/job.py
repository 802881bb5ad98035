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

import csv
import io
import json
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evaluator.errors import EvaluatorError, InputError, RubricError
from evaluator.grade import Grade
from evaluator.present.report import RowView, Summary
from evaluator.rubrics.model import Rubric, RubricSet, adhoc_rubric, load_rubrics
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
COLLISION_PREFIX = "eval_"  # added columns get it when the input already has such a column
LIST_SEP = "; "
RUBRIC_CACHE = 4096  # distinct question cells / reference answers remembered
BOM = "\ufeff".encode()


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


# ---------------------------------------------------------------------------- rows


@dataclass
class _Row:
    record: Record
    id: str
    answer: str = ""
    rubric: Rubric | None = None
    grade: Grade | None = None
    error: str | None = None


def _one_line(text: str) -> str:
    return one_line(text, 500)


def _kp_name(label: str, text: str) -> str:
    name = label or (text if len(text) <= 60 else text[:59] + "…")
    return _one_line(name).replace(";", ",")


class _LRU(OrderedDict[object, object]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: object, value: object) -> object:
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
            return self._cache[key]  # type: ignore[return-value]
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
        return self._cache.remember(key, found)  # type: ignore[return-value]


# ---------------------------------------------------------------------------- output


def output_header(input_header: list[str]) -> list[str]:
    """Input columns unchanged, then the grade columns (prefixed if a name is taken)."""
    taken = {h.strip().casefold() for h in input_header}
    clash = any(c in taken for c in GRADE_COLUMNS)
    return [*input_header, *(f"{COLLISION_PREFIX}{c}" if clash else c for c in GRADE_COLUMNS)]


def _passthrough(record: Record, width: int) -> list[str]:
    cells = record.cells[:width]
    return cells + [""] * (width - len(cells))


def _json_keys(header: list[str]) -> list[str]:
    """Header names made unique for JSON objects ("note", "note_2")."""
    seen: dict[str, int] = {}
    keys = []
    for name in header:
        base = name.strip() or f"column_{len(keys) + 1}"
        seen[base] = seen.get(base, 0) + 1
        keys.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return keys


class _Sink:
    """An output file that only ever holds whole rows at chunk boundaries."""

    def __init__(self, path: Path, table: Table, columns: Columns, bom: bool) -> None:
        self.path = path
        self.table = table
        self.columns = columns
        self.bom = bom
        self.header = output_header(table.header)
        self.width = len(table.header)
        self._fh: io.BufferedWriter | None = None

    # -- subclass hooks
    def _encode(self, rows: list[_Row]) -> bytes:
        raise NotImplementedError

    def _preamble(self) -> bytes:
        return b""

    def _scan(self, on_row: Callable[[RowView], None]) -> tuple[int, int, list[str] | None]:
        """(complete rows, byte offset after the last complete row, its passthrough cells)."""
        raise NotImplementedError

    # -- shared
    def start_fresh(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "wb")  # noqa: SIM115 - held open for the whole batch
        self._write((BOM if self.bom else b"") + self._preamble())
        _fsync_dir(self.path.parent)

    def resume(self, on_row: Callable[[RowView], None]) -> tuple[int, list[str] | None]:
        rows, good, last = self._scan(on_row)
        if good == 0:  # nothing usable, not even a header
            self.start_fresh()
            return 0, None
        self._fh = open(self.path, "r+b")  # noqa: SIM115
        self._fh.truncate(good)
        self._fh.seek(good)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        return rows, last

    def write(self, rows: list[_Row]) -> None:
        self._write(self._encode(rows))

    def _write(self, data: bytes) -> None:
        assert self._fh is not None
        self._fh.write(data)
        self._fh.flush()
        os.fsync(self._fh.fileno())  # a chunk is on disk before the next one is graded

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _lines_with_offsets(fh: io.BufferedReader, start: int) -> Iterator[tuple[bytes, int]]:
    """Physical lines (bytes, end offset), reading forward from `start`."""
    offset = start
    for line in fh:
        offset += len(line)
        yield line, offset


class _CsvSink(_Sink):
    def _preamble(self) -> bytes:
        return self._rows_to_bytes([self.header])

    @staticmethod
    def _rows_to_bytes(rows: list[list[str]]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        return buffer.getvalue().encode("utf-8")

    def _encode(self, rows: list[_Row]) -> bytes:
        out = []
        for r in rows:
            g = r.grade
            qid = r.rubric.id if r.rubric is not None else ""
            out.append(
                [
                    *_passthrough(r.record, self.width),
                    qid,
                    f"{g.score:g}" if g else "",
                    g.band if g else "",
                    g.method if g else "",
                    LIST_SEP.join(_kp_name(k.label, k.text) for k in g.covered) if g else "",
                    LIST_SEP.join(_kp_name(k.label, k.text) for k in g.missed) if g else "",
                    LIST_SEP.join(f.value for f in g.flags) if g else "",
                    g.feedback if g else "",
                    r.error or "",
                ]
            )
        return self._rows_to_bytes(out)

    def _scan(self, on_row: Callable[[RowView], None]) -> tuple[int, int, list[str] | None]:
        with open(self.path, "rb") as fh:
            start = 3 if fh.read(3) == BOM else 0
            fh.seek(start)
            lines = _lines_with_offsets(fh, start)
            state = {"end": start, "newline": True, "bad": False}

            def text() -> Iterator[str]:
                for raw, end in lines:
                    state["end"], state["newline"] = end, raw.endswith(b"\n")
                    try:
                        yield raw.decode("utf-8")
                    except UnicodeDecodeError:  # a multi-byte character cut by the crash
                        state["bad"] = True
                        return

            reader = csv.reader(text(), strict=True)
            good, rows, last = 0, 0, None
            try:
                for cells in reader:
                    complete = (
                        state["newline"] and not state["bad"] and len(cells) == len(self.header)
                    )
                    if not complete:
                        break
                    if good == 0:
                        if cells != self.header:
                            raise InputError(
                                f"{self.path}: its header does not match this input and these "
                                "options; use --force to start over, or another -o"
                            )
                    else:
                        rows += 1
                        last = cells[: self.width]
                        on_row(_view_from_csv(rows, cells, self.width, self.columns))
                    good = state["end"]
            except csv.Error:
                pass  # a quoted field cut by the crash: the row before it is the last good one
        return rows, good, last


class _JsonlSink(_Sink):
    def __init__(self, path: Path, table: Table, columns: Columns, bom: bool) -> None:
        super().__init__(path, table, columns, bom=False)  # a BOM would break line 1's JSON
        self.keys = _json_keys(table.header)

    def _encode(self, rows: list[_Row]) -> bytes:
        lines = []
        for r in rows:
            obj: dict[str, object] = {"row": r.record.row, "id": r.id, "error": r.error}
            if r.grade is not None:
                obj.update(r.grade.model_dump(mode="json"))
            elif r.rubric is not None:
                obj["question_id"] = r.rubric.id
            obj["input"] = dict(zip(self.keys, _passthrough(r.record, self.width), strict=True))
            lines.append(json.dumps(obj, ensure_ascii=False) + "\n")
        return "".join(lines).encode("utf-8")

    def _scan(self, on_row: Callable[[RowView], None]) -> tuple[int, int, list[str] | None]:
        good, rows, last = 0, 0, None
        with open(self.path, "rb") as fh:
            for raw, end in _lines_with_offsets(fh, 0):
                try:
                    obj = json.loads(raw) if raw.endswith(b"\n") else None
                except ValueError:
                    obj = None
                if not isinstance(obj, dict) or obj.get("row") != rows + 1:
                    break
                data = obj.get("input")
                if not isinstance(data, dict) or list(data) != self.keys:
                    raise InputError(
                        f"{self.path}: its rows do not match this input's columns; "
                        "use --force to start over, or another -o"
                    )
                rows += 1
                last = [str(v) for v in data.values()]
                on_row(_view_from_json(obj, self.keys[self.columns.answer]))
                good = end
        return rows, good, last


def _split(cell: str) -> list[str]:
    return [p for p in cell.split(LIST_SEP) if p] if cell else []


def _view_from_csv(row: int, cells: list[str], width: int, columns: Columns) -> RowView:
    g = dict(zip(GRADE_COLUMNS, cells[width:], strict=True))
    return RowView(
        row=row,
        id=(cells[columns.id].strip() if columns.id is not None else "") or str(row),
        question_id=g["rubric_id"],
        question_title=g["rubric_id"],
        score=float(g["score"]) if g["score"] else None,
        band=g["band"],
        method=g["method"],
        flags=_split(g["flags"]),
        missed=_split(g["missed"]),
        feedback=g["feedback"],
        error=g["error"] or ("" if g["score"] else "not graded"),
        answer=cells[columns.answer],
    )


def _view_from_json(obj: dict[str, Any], answer_key: str) -> RowView:
    missed = [
        _kp_name(str(k.get("label") or ""), str(k.get("text") or ""))
        for k in obj.get("key_points") or []
        if isinstance(k, dict) and k.get("status") in ("missed", "contradicted")
    ]
    score = obj.get("score")
    return RowView(
        row=int(obj["row"]),
        id=str(obj.get("id") or obj["row"]),
        question_id=str(obj.get("question_id") or ""),
        question_title=str(obj.get("question_title") or obj.get("question_id") or ""),
        score=float(score) if isinstance(score, int | float) else None,
        band=str(obj.get("band") or ""),
        method=str(obj.get("method") or ""),
        flags=[str(f) for f in obj.get("flags") or []],
        missed=missed,
        feedback=str(obj.get("feedback") or ""),
        error=str(obj.get("error") or ("" if score is not None else "not graded")),
        answer=str(obj["input"].get(answer_key, "")),
    )


def _cell(record: Record, index: int | None) -> str:
    return record.cells[index] if index is not None and index < len(record.cells) else ""


def _view(r: _Row, columns: Columns) -> RowView:
    g = r.grade
    return RowView(
        row=r.record.row,
        id=r.id,
        question_id=r.rubric.id if r.rubric else "",
        question_title=r.rubric.title if r.rubric else _cell(r.record, columns.question),
        score=g.score if g else None,
        band=g.band if g else "",
        method=g.method if g else "",
        flags=[f.value for f in g.flags] if g else [],
        missed=[_kp_name(k.label, k.text) for k in g.missed] if g else [],
        feedback=g.feedback if g else "",
        error=r.error or "",
        answer=r.answer,
    )


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
        sink: _Sink = (_JsonlSink if o.format == "jsonl" else _CsvSink)(
            o.output, self.table, self.columns, o.bom
        )
        done, last = 0, None
        if o.resume and o.output.exists():
            done, last = sink.resume(self.summary.add)
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
                if last is not None and _passthrough(final, sink.width) != last:
                    raise InputError(
                        f"{o.output}: row {done:,} does not match row {done:,} of {o.input}; "
                        "was it made from another file? Use --force to start over"
                    )
            if on_resumed:
                on_resumed(done)
            if grader is None:
                from evaluator.scoring.grader import Grader

                grader = Grader.from_settings(self.settings)
            written = done
            while chunk := list(islice(records, max(o.chunk_size, 1))):
                rows = self._grade_chunk(grader, chunk)
                sink.write(rows)
                for r in rows:
                    self.summary.add(_view(r, self.columns))
                written += len(rows)
                if on_rows:
                    on_rows(len(rows))
        finally:
            sink.close()
        return BatchResult(o.output, written, done, self.summary, self.mapping)

    def _prepare(self, record: Record) -> _Row:
        c, width = self.columns, len(self.table.header)
        cells = record.cells
        row = _Row(record, cells[c.id].strip() if c.id is not None and c.id < len(cells) else "")
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

    def _grade_chunk(self, grader: Grader, records: list[Record]) -> list[_Row]:
        rows = [self._prepare(r) for r in records]
        todo = [r for r in rows if r.error is None and r.rubric is not None]
        items = [(r.rubric, r.answer) for r in todo]
        try:
            grades = grader.grade_many(items, jobs=self.options.jobs)  # type: ignore[arg-type]
        except Exception:  # one bad row must not sink the chunk: grade them one by one
            grades = []
            for r in todo:
                try:
                    grades.append(grader.grade(r.rubric, r.answer))  # type: ignore[arg-type]
                except EvaluatorError as exc:
                    grades.append(None)  # type: ignore[arg-type]
                    r.error = _one_line(str(exc))
                except Exception as exc:  # a bug: keep the batch going, say what happened
                    grades.append(None)  # type: ignore[arg-type]
                    r.error = _one_line(f"internal error: {type(exc).__name__}: {exc}")
        for r, g in zip(todo, grades, strict=True):
            r.grade = g
        return rows


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
