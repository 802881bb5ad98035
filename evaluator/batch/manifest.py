"""The run manifest: a sidecar `OUT.run.json` beside every batch output, saying how it was made.

`--resume` appends to an output, so every row in it must have been graded the same way: the
same output format and columns, the same embedder, grading code, judge and rubrics. The
manifest records those; a resume whose run would differ in any of them is refused, naming the
first difference, and so is a resume of an output without a manifest (it may not be ours). The
input's path is recorded for messages only: the input's rows themselves are compared on resume.
It never holds an API key (the judge's base URL is kept without credentials or query).
"""

from __future__ import annotations

from itertools import zip_longest
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from evaluator.batch.table import Columns
from evaluator.errors import InputError
from evaluator.files import atomic_write
from evaluator.kvstore import cache_key
from evaluator.rubrics.lookup import RubricSet
from evaluator.scoring.fingerprint import grading_code_digest, judge_fingerprint
from evaluator.settings import Settings

MANIFEST_VERSION = 1  # bump when a field is added, removed or changes meaning
SUFFIX = ".run.json"
START_OVER = "use the same options, or --force to start over"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(_Model):
    name: str  # as the header writes it
    position: int  # 1-based, as a spreadsheet counts


class ColumnMap(_Model):
    answer: Column
    id: Column | None = None
    question: Column | None = None
    reference: Column | None = None


class Judge(_Model):
    model: str | None
    base_url: str | None
    temperature: float
    weight: float
    prompt_version: str
    prompt_digest: str


class Grading(_Model):
    """What a grade depends on besides the answer and its rubric."""

    embedder: str
    code: str  # digest of the grading code (scoring, judge, grade model, prompts)
    judge: Judge | None  # None: no judge
    rubrics: str | None  # hash of the rubric set; None: inline reference answers


class RunManifest(_Model):
    version: int = MANIFEST_VERSION
    input: str  # for messages only; not compared
    format: Literal["csv", "jsonl"]
    bom: bool
    columns: ColumnMap
    question: str | None  # --question: every row answers this one
    extra_cells: bool  # the output has a column for cells beyond the header
    grading: Grading

    # ------------------------------------------------------------------ comparing

    def facts(self) -> list[tuple[str, str]]:
        """What must match for a resume, shown for a message, in the order a difference is
        reported."""
        c, g = self.columns, self.grading
        found = [
            ("manifest version", str(self.version)),
            ("output format", _quoted(self.format)),
            ("a BOM (--bom/--excel)", "yes" if self.bom else "no"),
        ]
        for role in ("answer", "id", "question", "reference"):
            col: Column | None = getattr(c, role)
            shown = f"'{col.name.strip()}' (column {col.position})" if col else "none"
            found.append((f"{role} column", shown))
        found += [
            ("--question", _quoted(self.question)),
            ("an extra_cells column", "yes" if self.extra_cells else "no"),
            ("embedder", _quoted(g.embedder)),
            ("grading code", _quoted(g.code)),
            ("judge", "on" if g.judge else "off"),
        ]
        if g.judge is not None:
            found += [(f"judge {k.replace('_', ' ')}", _quoted(v)) for k, v in g.judge]
        found.append(("rubric set", _quoted(g.rubrics) if g.rubrics else "none (--reference-col)"))
        return found

    def first_difference(self, other: RunManifest) -> tuple[str, str, str] | None:
        """(what, this value, the other's) for the first fact that differs; None: a match."""
        for mine, theirs in zip_longest(self.facts(), other.facts(), fillvalue=("", "")):
            if mine != theirs:
                return mine[0] or theirs[0], mine[1] or "none", theirs[1] or "none"
        return None

    def check_resume(self, output: Path, now: RunManifest) -> None:
        """Raise InputError unless `now` (this run) continues the run that wrote `output`."""
        diff = self.first_difference(now)
        if diff is None:
            return
        what, then, this = diff
        raise InputError(
            f"{output} was graded with {what} {then}; this run uses {this}: {START_OVER}"
        )

    # ------------------------------------------------------------------ files

    @staticmethod
    def path_for(output: Path) -> Path:
        return output.with_name(output.name + SUFFIX)

    def save(self, output: Path) -> None:
        atomic_write(self.path_for(output), self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, output: Path) -> RunManifest | None:
        """The manifest of `output`; None when it has none. InputError when it is unreadable."""
        path = cls.path_for(output)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
        try:
            return cls.model_validate_json(data)
        except ValidationError:
            raise InputError(
                f"{path}: not a run manifest this version can read, so nothing says how "
                f"{output} was graded; use --force to start over, or another -o"
            ) from None


def _quoted(value: object) -> str:
    return "none" if value is None else repr(value) if isinstance(value, str) else str(value)


def _public_url(url: str | None) -> str | None:
    """A URL without user, password, query or fragment: what may be written to a file."""
    if url is None:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def rubric_set_hash(rubrics: RubricSet) -> str:
    """The rubric set's identity: its rubrics' content hashes, sorted."""
    return cache_key(*sorted(r.content_hash() for r in rubrics))[:16]


def make_manifest(
    *,
    input: Path,
    format: Literal["csv", "jsonl"],
    bom: bool,
    header: list[str],
    columns: Columns,
    question: str | None,
    extra_cells: bool,
    settings: Settings,
    rubrics: RubricSet | None,
) -> RunManifest:
    """The manifest of a run with these options (`rubrics`: None with inline references)."""

    def column(i: int | None) -> Column | None:
        return None if i is None else Column(name=header[i], position=i + 1)

    answer = column(columns.answer)
    assert answer is not None
    judge = judge_fingerprint(settings)
    if judge is not None:
        judge = {**judge, "base_url": _public_url(settings.judge_base_url)}
    return RunManifest(
        input=str(input),
        format=format,
        bom=bom,
        columns=ColumnMap(
            answer=answer,
            id=column(columns.id),
            question=column(columns.question),
            reference=column(columns.reference),
        ),
        question=question,
        extra_cells=extra_cells,
        grading=Grading(
            embedder=settings.embedder.strip(),
            code=grading_code_digest(),
            judge=Judge.model_validate(judge) if judge is not None else None,
            rubrics=rubric_set_hash(rubrics) if rubrics is not None else None,
        ),
    )
