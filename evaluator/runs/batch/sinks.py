"""The output file of `evaluator batch`, CSV or JSONL: written a chunk at a time, read back on
resume.

A chunk is written, flushed and fsynced before the next one is graded, so after a crash (even
kill -9) the file holds whole rows and at most one cut row at its end. `Sink.resume` keeps the
whole rows, passing each one to the summary, cuts off the rest and appends from there.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from evaluator.errors import InputError
from evaluator.grade import Grade
from evaluator.present.summary import RowView
from evaluator.rubrics.model import Rubric
from evaluator.runs.batch.table import Columns, Record, Table
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
COLLISION_PREFIX = "eval_"  # added columns get it when the input already has such a column
LIST_SEP = "; "
BOM = "\ufeff".encode()


@dataclass
class GradedRow:
    """One input record and what grading made of it: a rubric and a grade, or an error."""

    record: Record
    id: str
    answer: str = ""
    rubric: Rubric | None = None
    grade: Grade | None = None
    error: str | None = None

    def cells(self, width: int) -> list[str]:
        """This row as the CSV output holds it: its input cells, then the grade columns."""
        rubric_id = self.rubric.id if self.rubric is not None else ""
        return [*passthrough(self.record, width), *grade_cells(rubric_id, self.grade, self.error)]


# ---------------------------------------------------------------------------- cells


def output_header(input_header: list[str]) -> list[str]:
    """Input columns unchanged, then the grade columns (prefixed if a name is taken)."""
    taken = {h.strip().casefold() for h in input_header}
    clash = any(c in taken for c in GRADE_COLUMNS)
    return [*input_header, *(f"{COLLISION_PREFIX}{c}" if clash else c for c in GRADE_COLUMNS)]


def passthrough(record: Record, width: int) -> list[str]:
    """The record's cells cut or padded to the header's width, so a ragged row keeps its shape."""
    cells = record.cells[:width]
    return cells + [""] * (width - len(cells))


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


def row_view(row: int, cells: list[str], width: int, columns: Columns, title: str) -> RowView:
    """The summary's view of one output row, from its CSV cells (`GradedRow.cells`).

    Rows graded now and rows read back on resume, from CSV or JSONL, all come through here, so
    a row counts the same either way. `title` is the question's title where known (a CSV
    output holds only the rubric id).
    """
    g = dict(zip(GRADE_COLUMNS, cells[width:], strict=True))
    return RowView(
        row=row,
        id=(cells[columns.id].strip() if columns.id is not None else "") or str(row),
        question_id=g["rubric_id"],
        question_title=title,
        score=float(g["score"]) if g["score"] else None,
        band=g["band"],
        method=g["method"],
        flags=_split(g["flags"]),
        missed=_split(g["missed"]),
        feedback=g["feedback"],
        error=g["error"] or ("" if g["score"] else "not graded"),
        answer=cells[columns.answer],
    )


# ---------------------------------------------------------------------------- files


@dataclass
class Scan:
    """What an existing output holds that a resume can keep."""

    rows: int = 0  # whole data rows
    end: int = 0  # byte offset just after the last whole row (or the header); 0: nothing
    last: list[str] | None = None  # input cells of the last whole row


class Sink:
    """An output file that only ever holds whole rows at chunk boundaries."""

    def __init__(self, path: Path, table: Table, columns: Columns, bom: bool) -> None:
        self.path = path
        self.table = table
        self.columns = columns
        self.bom = bom
        self.header = output_header(table.header)
        self.width = len(table.header)
        self._fh: BinaryIO | None = None

    # -- subclass hooks
    def _encode(self, rows: list[GradedRow]) -> bytes:
        raise NotImplementedError

    def _preamble(self) -> bytes:
        return b""

    def _scan(self, on_row: Callable[[RowView], None]) -> Scan:
        raise NotImplementedError

    # -- shared
    def start_fresh(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "wb")  # noqa: SIM115 - held open for the whole batch
        self._write((BOM if self.bom else b"") + self._preamble())
        _fsync_dir(self.path.parent)

    def resume(self, on_row: Callable[[RowView], None]) -> Scan:
        """Keep the whole rows already written (each one passed to `on_row`), cut off the rest."""
        found = self._scan(on_row)
        if found.end == 0:  # nothing usable, not even a header
            self.start_fresh()
            return found
        self._fh = fh = open(self.path, "r+b")  # noqa: SIM115 - held open for the whole batch
        fh.truncate(found.end)
        fh.seek(found.end)
        fh.flush()
        os.fsync(fh.fileno())
        return found

    def write(self, rows: list[GradedRow]) -> None:
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


class CsvSink(Sink):
    def _preamble(self) -> bytes:
        return _csv_bytes([self.header])

    def _encode(self, rows: list[GradedRow]) -> bytes:
        return _csv_bytes([r.cells(self.width) for r in rows])

    def _scan(self, on_row: Callable[[RowView], None]) -> Scan:
        found = Scan()
        header_seen = False
        with open(self.path, "rb") as fh:
            offset = len(BOM) if fh.read(len(BOM)) == BOM else 0
            fh.seek(offset)
            lines: list[bytes] = []  # the physical lines of the record being read
            quotes = 0
            for line in fh:
                offset += len(line)
                lines.append(line)
                quotes += line.count(b'"')
                # csv.writer quotes every field holding a quote or a line break, so a record
                # ends at the first line break with an even number of quotes before it. A last
                # line without a line break was cut by the crash.
                if quotes % 2 or not line.endswith(b"\n"):
                    continue
                cells = _csv_record(b"".join(lines))
                lines, quotes = [], 0
                if cells is None or len(cells) != len(self.header):
                    break  # cut by the crash: the rows before it are the ones to keep
                if not header_seen:
                    if cells != self.header:
                        raise InputError(
                            f"{self.path}: its header does not match this input and these "
                            "options; use --force to start over, or another -o"
                        )
                    header_seen = True
                else:
                    found.rows += 1
                    found.last = cells[: self.width]
                    # A CSV output holds no question titles: the rubric id stands in.
                    title = cells[self.width]
                    on_row(row_view(found.rows, cells, self.width, self.columns, title))
                found.end = offset
        return found


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _csv_record(data: bytes) -> list[str] | None:
    """The cells of one CSV record; None when it is not one (a character or a quote cut off)."""
    try:
        records = list(csv.reader([data.decode("utf-8")], strict=True))
    except (UnicodeDecodeError, csv.Error):
        return None
    return records[0] if len(records) == 1 else None


class JsonlSink(Sink):
    def __init__(self, path: Path, table: Table, columns: Columns, bom: bool) -> None:
        super().__init__(path, table, columns, bom=False)  # a BOM would break line 1's JSON
        self.keys = _json_keys(table.header)

    def _encode(self, rows: list[GradedRow]) -> bytes:
        lines = []
        for r in rows:
            obj: dict[str, object] = {"row": r.record.row, "id": r.id, "error": r.error}
            if r.grade is not None:
                obj.update(r.grade.model_dump(mode="json"))
            elif r.rubric is not None:
                obj["question_id"] = r.rubric.id
            obj["input"] = dict(zip(self.keys, passthrough(r.record, self.width), strict=True))
            lines.append(json.dumps(obj, ensure_ascii=False) + "\n")
        return "".join(lines).encode("utf-8")

    def _scan(self, on_row: Callable[[RowView], None]) -> Scan:
        found = Scan()
        with open(self.path, "rb") as fh:
            offset = 0
            for line in fh:
                offset += len(line)
                obj = _json_object(line)
                if obj is None or obj.get("row") != found.rows + 1:
                    break  # cut by the crash: the rows before it are the ones to keep
                data = obj.get("input")
                if not isinstance(data, dict) or list(data) != self.keys:
                    raise InputError(
                        f"{self.path}: its rows do not match this input's columns; "
                        "use --force to start over, or another -o"
                    )
                found.rows += 1
                found.last = [str(v) for v in data.values()]
                on_row(self._view(found.rows, obj, found.last))
                found.end = offset
        return found

    def _view(self, row: int, obj: dict[str, Any], inputs: list[str]) -> RowView:
        fields = {k: v for k, v in obj.items() if k not in ("row", "id", "error", "input")}
        try:
            grade = Grade.model_validate(fields) if "score" in fields else None
        except ValidationError:
            raise InputError(
                f"{self.path}: row {row} does not hold a grade this version can read; "
                "use --force to start over, or another -o"
            ) from None
        question_id = str(fields.get("question_id") or "")
        title = (grade.question_title if grade else "") or question_id
        cells = [*inputs, *grade_cells(question_id, grade, str(obj.get("error") or ""))]
        return row_view(row, cells, self.width, self.columns, title)


def _json_keys(header: list[str]) -> list[str]:
    """Header names made unique for JSON objects ("note", "note_2")."""
    seen: dict[str, int] = {}
    keys: list[str] = []
    for name in header:
        base = name.strip() or f"column_{len(keys) + 1}"
        seen[base] = seen.get(base, 0) + 1
        keys.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return keys


def _json_object(line: bytes) -> dict[str, Any] | None:
    """One whole JSONL line as an object; None for a line the crash cut."""
    if not line.endswith(b"\n"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


SINKS: dict[str, type[Sink]] = {"csv": CsvSink, "jsonl": JsonlSink}
