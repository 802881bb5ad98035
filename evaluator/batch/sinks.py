"""The output file of `evaluator batch`, CSV or JSONL: written a chunk at a time, read back on
resume.

A chunk is written, flushed and fsynced before the next one is graded, so after a crash (even
kill -9) the file holds whole rows and at most one cut row at its end.

- A fresh output is written into a temporary file beside the target and renamed over it once
  its first chunk is on disk (`commit`), so a run that fails before then leaves an existing
  output as it was.
- On resume, `scan` reads the whole rows back in one streaming pass, comparing each one's input
  cells with the input row it was made from and passing it to the summary; only when every
  check passed does `append_from` cut off the rest and append from there.

What each row's cells hold is `cells`; here is how they are written and read back.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from evaluator.batch.cells import (
    EXTRA_COLUMN,
    GRADE_COLUMNS,
    GradedRow,
    extra_cells,
    extra_text,
    grade_cells,
    output_header,
    passthrough,
    row_view,
)
from evaluator.batch.table import Columns, Record, Table
from evaluator.errors import InputError
from evaluator.present.summary import RowView
from evaluator.result import Grade

BOM = "\ufeff".encode()


@dataclass
class Scan:
    """What an existing output holds that a resume can keep."""

    rows: int = 0  # whole data rows, each checked against its input row
    end: int = 0  # byte offset just after the last whole row (or the header); 0: nothing


@dataclass
class Kept:
    """One whole row read back from an existing output."""

    end: int  # byte offset just after it
    inputs: list[str]  # its input cells, as `passthrough` wrote them
    extras: list[str] | None  # its extra cells; None when they cannot be read
    view: RowView | None  # None: not a row (a CSV output's header)


class Sink:
    """An output file that only ever holds whole rows at chunk boundaries."""

    def __init__(
        self, path: Path, table: Table, columns: Columns, bom: bool, extra_cells: bool = False
    ) -> None:
        self.path = path
        self.table = table
        self.columns = columns
        self.bom = bom
        self.extra_cells = extra_cells  # the output has a column for cells beyond the header
        self.header = output_header(table.header, extra_cells)
        self.width = len(table.header)
        self._fh: BinaryIO | None = None
        self._tmp: Path | None = None  # a fresh output not yet renamed over `path`

    # -- subclass hooks
    def _encode(self, rows: list[GradedRow]) -> bytes:
        raise NotImplementedError

    def _preamble(self) -> bytes:
        return b""

    def _kept(self) -> Iterator[Kept]:
        """The whole rows at the start of the existing output, in order (stops at a cut row)."""
        raise NotImplementedError

    # -- fresh output
    def start_fresh(self) -> None:
        """Write the header into a temporary file beside `path`; `commit` renames it over."""
        self._tmp = tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
        self._fh = os.fdopen(fd, "wb")
        self._write((BOM if self.bom else b"") + self._preamble())

    @property
    def pending(self) -> bool:
        """A fresh output is written but not yet in place."""
        return self._tmp is not None

    def commit(self) -> None:
        """Put the fresh output (its first chunk on disk) in place of `path`, in one rename."""
        if self._tmp is None:
            return
        os.replace(self._tmp, self.path)
        self._tmp = None
        _fsync_dir(self.path.parent)

    # -- resume
    def scan(self, records: Iterator[Record], on_row: Callable[[RowView], None]) -> Scan:
        """Check the whole rows of the existing output against `records` (the input, read on
        from there), passing each to `on_row`. Raises InputError at the first row that is not
        its input row; changes nothing on disk."""
        found = Scan()
        kept = self._kept()
        for row in kept:
            if row.view is None:
                found.end = row.end
                continue
            record = next(records, None)
            if record is None:
                held = found.rows + 1 + sum(1 for r in kept if r.view is not None)
                raise InputError(
                    f"{self.path}: holds {held:,} rows but {self.table.path} has fewer; "
                    "use --force to start over"
                )
            extras = extra_cells(record, self.width) if self.extra_cells else None
            if row.inputs != passthrough(record, self.width) or row.extras != extras:
                raise InputError(
                    f"row {record.row:,} of {self.table.path} differs from the row graded in "
                    f"{self.path}; use --force to regrade everything"
                )
            found.rows += 1
            found.end = row.end
            on_row(row.view)
        return found

    def append_from(self, end: int) -> None:
        """Cut the existing output after byte `end` (its last whole row) and append from there;
        with nothing worth keeping (`end` 0), start a fresh output instead."""
        if end == 0:
            self.start_fresh()
            return
        self._fh = fh = open(self.path, "r+b")  # noqa: SIM115 - held open for the whole batch
        fh.truncate(end)
        fh.seek(end)
        fh.flush()
        os.fsync(fh.fileno())

    # -- writing
    def write(self, rows: list[GradedRow]) -> None:
        self._write(self._encode(rows))

    def _write(self, data: bytes) -> None:
        assert self._fh is not None
        self._fh.write(data)
        self._fh.flush()
        os.fsync(self._fh.fileno())  # a chunk is on disk before the next one is graded

    def close(self) -> None:
        """Close the file; a fresh output never committed is removed, leaving `path` as it was."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


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
        return _csv_bytes([self._cells(r) for r in rows])

    def _cells(self, r: GradedRow) -> list[str]:
        inputs = passthrough(r.record, self.width)
        extras = [extra_text(extra_cells(r.record, self.width))] if self.extra_cells else []
        return [*inputs, *extras, *r.grade_cells()]

    def _kept(self) -> Iterator[Kept]:
        header_seen = False
        rows = 0
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
                    return  # cut by the crash: the rows before it are the ones to keep
                if not header_seen:
                    if cells != self.header:
                        raise InputError(
                            f"{self.path}: its header does not match this input and these "
                            "options; use --force to start over, or another -o"
                        )
                    header_seen = True
                    yield Kept(offset, [], [], None)  # no row, but where a resume can start
                    continue
                rows += 1
                inputs = cells[: self.width]
                grades = cells[len(self.header) - len(GRADE_COLUMNS) :]
                extras = _json_cells(cells[self.width]) if self.extra_cells else None
                # A CSV output holds no question titles: the rubric id stands in.
                view = row_view(rows, inputs, grades, self.columns, grades[0])
                yield Kept(offset, inputs, extras, view)


def _json_cells(cell: str) -> list[str] | None:
    """The CSV output's `extra_cells` cell read back; None when it is not what was written."""
    if not cell:
        return []
    try:
        value = json.loads(cell)
    except ValueError:
        return None
    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value if ok else None


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
    def __init__(
        self, path: Path, table: Table, columns: Columns, bom: bool, extra_cells: bool = False
    ) -> None:
        # A BOM would break line 1's JSON.
        super().__init__(path, table, columns, bom=False, extra_cells=extra_cells)
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
            if self.extra_cells:
                obj[EXTRA_COLUMN] = extra_cells(r.record, self.width)
            lines.append(json.dumps(obj, ensure_ascii=False) + "\n")
        return "".join(lines).encode("utf-8")

    def _kept(self) -> Iterator[Kept]:
        rows = 0
        with open(self.path, "rb") as fh:
            offset = 0
            for line in fh:
                offset += len(line)
                obj = _json_object(line)
                if obj is None or obj.get("row") != rows + 1:
                    return  # cut by the crash: the rows before it are the ones to keep
                data = obj.get("input")
                if not isinstance(data, dict) or list(data) != self.keys:
                    raise InputError(
                        f"{self.path}: its rows do not match this input's columns; "
                        "use --force to start over, or another -o"
                    )
                rows += 1
                inputs = [v if isinstance(v, str) else str(v) for v in data.values()]
                extras: list[str] | None = None
                if self.extra_cells:
                    value = obj.get(EXTRA_COLUMN)
                    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
                    extras = value if ok else None
                yield Kept(offset, inputs, extras, self._view(rows, obj, inputs))

    def _view(self, row: int, obj: dict[str, Any], inputs: list[str]) -> RowView:
        own = ("row", "id", "error", "input", EXTRA_COLUMN)
        fields = {k: v for k, v in obj.items() if k not in own}
        try:
            grade = Grade.model_validate(fields) if "score" in fields else None
        except ValidationError:
            raise InputError(
                f"{self.path}: row {row} does not hold a grade this version can read; "
                "use --force to start over, or another -o"
            ) from None
        question_id = str(fields.get("question_id") or "")
        title = (grade.question_title if grade else "") or question_id
        grades = grade_cells(question_id, grade, str(obj.get("error") or ""))
        return row_view(row, inputs, grades, self.columns, title)


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
