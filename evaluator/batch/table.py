"""Reading real-world answer CSVs: encoding, delimiter, header, and which column is which.

Files come from Excel (UTF-8 with BOM, GBK/GB18030 from Chinese Excel, UTF-16 "Unicode text"),
from scripts (plain UTF-8) and from hand edits (stray spaces in the header, ragged rows). Every
problem that makes a file unusable is found here, before any grading starts, and reported as
one `InputError` line; a problem with one row is reported on that row only.
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from evaluator.errors import InputError

# A 1 MB answer cell is legitimate; the csv module's default limit is 128 KiB.
csv.field_size_limit(64 * 1024 * 1024)

DELIMITERS = (",", "\t", ";", "|")
SCAN_BYTES = 1 << 20  # encoding validation reads the file in pieces of this size
MAX_HEADER_CELL = 200  # a longer first-row cell is data, not a column name (forms use questions)
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")  # a first-row cell like this is data

# Auto-detection: normalised header names, best first.
ID_NAMES = ("id", "row_id", "answer_id", "response_id", "submission_id", "uid", "编号", "序号")
QUESTION_NAMES = (
    "question",
    "question_id",
    "question_number",
    "question_no",
    "qid",
    "q",
    "rubric",
    "rubric_id",
    "prompt",
    "题目",
    "题号",
    "问题",
)
REFERENCE_NAMES = (
    "reference_answer",
    "reference",
    "model_answer",
    "expected_answer",
    "ideal_answer",
    "参考答案",
    "标准答案",
)
ANSWER_NAMES = (
    "answer",
    "student_answer",
    "response",
    "answer_text",
    "student_response",
    "text",
    "回答",
    "学生答案",
    "作答",
    "答案",
)


def normalise_name(name: str) -> str:
    """`" Student Answer "` -> `student_answer`: how header cells and --*-col flags are compared."""
    name = unicodedata.normalize("NFKC", name).replace("\ufeff", "").strip().casefold()
    return re.sub(r"[\s\-./]+", "_", name)


# ---------------------------------------------------------------------------- encoding


def _is_valid(path: Path, encoding: str) -> tuple[bool, int]:
    """Whether the whole file decodes; on failure, the byte offset of the first bad byte."""
    decoder = codecs.getincrementaldecoder(encoding)()
    done = 0
    with path.open("rb") as fh:
        while True:
            block = fh.read(SCAN_BYTES)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                return False, done + max(exc.start, 0)
            if not block:
                return True, done
            done += len(block)


def detect_encoding(path: Path, encoding: str | None = None) -> str:
    """The codec to read `path` with: the one asked for (checked), or BOM / UTF-8 / GB18030."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8192)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if encoding:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise InputError(f"unknown encoding '{encoding}' (try utf-8 or gb18030)") from None
        if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        ok, at = _is_valid(path, encoding)
        if not ok:
            raise InputError(f"{path}: not valid {encoding} (first bad byte at offset {at})")
        return encoding
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]  # Excel's "Unicode text" export
    elif b"\x00" in head:
        raise InputError(f"{path}: looks like a binary file, not a CSV")
    else:
        candidates = ["utf-8", "gb18030"]
    for candidate in candidates:
        ok, _ = _is_valid(path, candidate)
        if ok:
            return candidate
    raise InputError(
        f"{path}: text encoding is not UTF-8 or GB18030; name it with --encoding (e.g. big5, latin-1)"
    )


def _looks_binary(sample: str) -> bool:
    """Many control characters in decoded text: a binary file that happened to decode."""
    if not sample:
        return False
    controls = sum(1 for c in sample if c < " " and c not in "\t\r\n")
    return controls > max(2, len(sample) // 100)


# ---------------------------------------------------------------------------- table


@dataclass(frozen=True)
class Record:
    row: int  # 1-based data row (header and blank lines not counted)
    line: int  # physical line where the record ends (for messages)
    cells: list[str]


@dataclass(frozen=True)
class Shape:
    """What one pass over the data rows finds: how many there are and how wide the widest is."""

    rows: int
    widest: int  # cells in the widest data row; 0 when there is none


@dataclass
class Table:
    """An opened CSV: its header and how to read its records again (streaming)."""

    path: Path
    encoding: str
    delimiter: str
    header: list[str]  # as written in the file (BOM removed), for passthrough
    _shape: Shape | None = field(default=None, init=False, repr=False, compare=False)

    def _open(self) -> TextIO:
        return self.path.open("r", encoding=self.encoding, newline="")

    def records(self) -> Generator[Record, None, None]:
        """Data records in file order; blank lines are skipped, ragged rows kept as they are."""
        with self._open() as fh:
            reader = csv.reader(fh, delimiter=self.delimiter)
            next(reader, None)  # header, validated when the table was opened
            row = 0
            try:
                for cells in reader:
                    if not cells or (len(cells) == 1 and not cells[0].strip()):
                        continue
                    row += 1
                    yield Record(row, reader.line_num, cells)
            except csv.Error as exc:  # e.g. a NUL byte further down the file
                raise InputError(f"{self.path}: line {reader.line_num}: {exc}") from None

    def shape(self) -> Shape:
        """Rows and widest row, from one fast pass (remembered): the progress bar's total, and
        whether the output needs a column for cells beyond the header."""
        if self._shape is None:
            rows = widest = 0
            for record in self.records():
                rows += 1
                widest = max(widest, len(record.cells))
            self._shape = Shape(rows, widest)
        return self._shape

    def count(self) -> int:
        """Number of data records."""
        return self.shape().rows

    @property
    def has_extra_cells(self) -> bool:
        """Some row is wider than the header (its extra cells go to an `extra_cells` column)."""
        return self.shape().widest > len(self.header)


def sniff_delimiter(first_line: str) -> str:
    """The candidate delimiter that splits the header line most (quoted parts ignored)."""
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the order of DELIMITERS
    return best if counts[best] else ","


def open_table(
    path: str | Path, encoding: str | None = None, delimiter: str | None = None
) -> Table:
    """Check `path` is a CSV with a header row and return it ready to stream."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a CSV file")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    codec = detect_encoding(path, encoding)
    with path.open("r", encoding=codec, newline="") as fh:
        sample = fh.read(65536)
    sample = sample.lstrip("\ufeff")
    if not sample.strip():
        raise InputError(f"{path}: the file is empty")
    if _looks_binary(sample):
        raise InputError(f"{path}: looks like a binary file, not a CSV")
    if delimiter is None:
        delimiter = sniff_delimiter(sample.splitlines()[0] if sample.splitlines() else sample)
    elif len(delimiter) != 1:
        raise InputError(f"delimiter must be one character, got {delimiter!r}")
    with path.open("r", encoding=codec, newline="") as fh:
        try:
            header = next(csv.reader(fh, delimiter=delimiter), [])
        except csv.Error as exc:
            raise InputError(f"{path}: cannot read the header row ({exc})") from None
    header = [h.replace("\ufeff", "") for h in header]
    if not any(h.strip() for h in header):
        raise InputError(f"{path}: the first row is blank; expected a header row of column names")
    for i, cell in enumerate(header, 1):
        if len(cell) > MAX_HEADER_CELL or "\n" in cell:
            what = f"holds {len(cell)} characters of text"
        elif _NUMBER.fullmatch(cell.strip()):
            what = f"is the number {cell.strip()}"
        else:
            continue
        raise InputError(
            f"{path}: the first row does not look like a header (column {i} {what}); "
            "add a header row such as id,question,answer"
        )
    return Table(path, codec, delimiter, header)


def shown_header(header: list[str]) -> str:
    """The header for an error message: names clipped, so the message stays one short line."""
    names = [h.strip() if len(h.strip()) <= 30 else h.strip()[:29] + "…" for h in header]
    return ", ".join(names)


# ---------------------------------------------------------------------------- columns


@dataclass(frozen=True)
class Columns:
    """Header positions of the columns grading needs (None: not in this file)."""

    answer: int
    id: int | None = None
    question: int | None = None
    reference: int | None = None

    def describe(self, header: list[str]) -> str:
        parts = [
            f"{role}={header[i].strip()!r}"
            for role, i in (
                ("id", self.id),
                ("question", self.question),
                ("reference", self.reference),
                ("answer", self.answer),
            )
            if i is not None
        ]
        return " ".join(parts)


def _positions(header: list[str]) -> dict[str, list[int]]:
    where: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        where.setdefault(normalise_name(name), []).append(i)
    return where


def _pick(
    where: dict[str, list[int]],
    header: list[str],
    role: str,
    flag: str,
    given: str | None,
    names: tuple[str, ...],
    path: Path,
) -> int | None:
    if given is not None:
        key = normalise_name(given)
        if key not in where:
            raise InputError(
                f"{path}: no column '{given}' for {flag} (the header has: {shown_header(header)})"
            )
        found = where[key]
    else:
        found = next((where[n] for n in names if n in where), [])
        if not found:
            return None
    if len(found) > 1:
        cols = " and ".join(str(i + 1) for i in found)
        raise InputError(
            f"{path}: column '{header[found[0]].strip()}' ({role}) appears twice in the header "
            f"(columns {cols}); rename one or choose with {flag}"
        )
    return found[0]


def resolve_columns(
    table: Table,
    *,
    answer_col: str | None = None,
    id_col: str | None = None,
    question_col: str | None = None,
    reference_col: str | None = None,
) -> Columns:
    """Columns named by flags, else detected from common header names (English and Chinese)."""
    header, path = table.header, table.path
    where = _positions(header)

    def pick(role: str, given: str | None, names: tuple[str, ...]) -> int | None:
        return _pick(where, header, role, f"--{role}-col", given, names, path)

    answer = pick("answer", answer_col, ANSWER_NAMES)
    if answer is None:
        answer = _guess_answer(header)
    if answer is None:
        raise InputError(
            f"{path}: no answer column found (the header has: {shown_header(header)}); "
            "name it with --answer-col, or add a header row such as id,question,answer"
        )
    columns = Columns(
        answer=answer,
        id=pick("id", id_col, ID_NAMES),
        question=pick("question", question_col, QUESTION_NAMES),
        reference=pick("reference", reference_col, REFERENCE_NAMES),
    )
    roles = [(r, i) for r, i in vars(columns).items() if i is not None]
    for a, (role, i) in enumerate(roles):
        for other, j in roles[a + 1 :]:
            if i == j:
                raise InputError(
                    f"{path}: column '{header[i].strip()}' cannot be both the {role} and the "
                    f"{other} column"
                )
    return columns


def _guess_answer(header: list[str]) -> int | None:
    """The one column whose name mentions an answer and is not a reference or a score."""
    hits = [
        i
        for i, name in enumerate(header)
        if re.search(r"answer|response|回答|作答", normalise_name(name))
        and not re.search(
            r"reference|expected|model|ideal|correct|score|grade|mark|label|参考|标准|id$",
            normalise_name(name),
        )
    ]
    return hits[0] if len(hits) == 1 else None
