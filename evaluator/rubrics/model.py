"""Rubric schema (pydantic v2), YAML load/save, and lookup by id, number or title.

A rubric file holds one source document's questions:

    document: llm-training          # slug; rubric ids are "<document>-q<number>"
    title: ...
    source: seeds/000_7ace44ecab84a0b1.txt
    build_hash: <sha256>            # content hash written by `rubrics build`; see compile.py
    rubrics: [ {id, number, title, question, reference_answer, key_points, ...}, ... ]
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evaluator.errors import QuestionNotFound, RubricError
from evaluator.text import fold, split_units

Language = Literal["zh", "en"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class KeyPoint(_Model):
    """One thing a good answer says; credit for it is weighted by `weight`."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    label: str = ""
    text: str = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0)
    note: str | None = None  # e.g. the seed's original (wrong) wording that this corrects


class Misconception(_Model):
    """A wrong claim that costs credit when an answer makes it."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    text: str = Field(min_length=1)
    penalty: float = Field(default=10.0, ge=0, le=100)  # points off the 0-100 score
    correction: str | None = None


class Source(_Model):
    file: str
    lines: tuple[int, int]


class Rubric(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    number: int | None = None
    title: str = Field(min_length=1)
    question: str = Field(min_length=1)
    reference_answer: str = Field(min_length=1)
    key_points: list[KeyPoint] = Field(min_length=1)
    misconceptions: list[Misconception] = Field(default_factory=list)
    explanation: str = ""
    source: Source | None = None
    language: Language = "zh"
    duplicate_of: str | None = None
    notes: list[str] = Field(default_factory=list)  # reviewers' corrections, original wording

    @model_validator(mode="after")
    def _unique_ids(self) -> Rubric:
        ids = [k.id for k in self.key_points] + [m.id for m in self.misconceptions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate key point / misconception ids: {', '.join(dupes)}")
        return self

    @property
    def total_weight(self) -> float:
        return sum(k.weight for k in self.key_points)

    def content_hash(self) -> str:
        """Stable hash of everything that affects grading (used in cache keys)."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


class RubricDocument(_Model):
    """One rubric file: the questions compiled from one source document."""

    document: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str = ""
    source: str | None = None
    build_hash: str | None = None
    rubrics: list[Rubric] = Field(min_length=1)

    @field_validator("rubrics")
    @classmethod
    def _unique_rubric_ids(cls, rubrics: list[Rubric]) -> list[Rubric]:
        ids = [r.id for r in rubrics]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rubric ids: {', '.join(dupes)}")
        return rubrics

    def rubrics_hash(self) -> str:
        """Hash of the rubric content; differs from build_hash once people edit the file."""
        payload = json.dumps(
            [r.model_dump(mode="json") for r in self.rubrics], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(payload.encode()).hexdigest()


# ---------------------------------------------------------------------------- files


def _describe_error(path: Path, data: object, err: ValidationError) -> str:
    """One line: file, question and field of the first schema error."""
    first = err.errors()[0]
    loc = list(first["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "rubrics" and isinstance(loc[1], int):
        idx = loc[1]
        try:
            item = data["rubrics"][idx]  # type: ignore[index]
            qid = item.get("id") or f"#{item.get('number', idx + 1)}"
        except (KeyError, IndexError, TypeError, AttributeError):
            qid = f"#{idx + 1}"
        where = f" question {qid}"
        loc = loc[2:]
    field = ".".join(str(p) for p in loc) or "(top level)"
    return f"{path}:{where} field '{field}': {first['msg']}"


def load_document(path: str | Path) -> RubricDocument:
    path = Path(path)
    try:
        # libyaml's C loader when present: ~10x faster on the 100 KB bundled file.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except OSError as exc:
        raise RubricError(f"{path}: cannot read rubric file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise RubricError(
            f"{path}:{line} is not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if not isinstance(data, dict):
        raise RubricError(f"{path}: expected a mapping with 'document' and 'rubrics'")
    try:
        return RubricDocument.model_validate(data)
    except ValidationError as exc:
        raise RubricError(_describe_error(path, data, exc)) from None


class _ReadableDumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, so people can review and edit rubric files."""


_ReadableDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def dump_document(doc: RubricDocument) -> str:
    data = doc.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
    return yaml.dump(data, Dumper=_ReadableDumper, allow_unicode=True, sort_keys=False, width=100)


def save_document(doc: RubricDocument, path: str | Path) -> None:
    Path(path).write_text(dump_document(doc), encoding="utf-8")


# ---------------------------------------------------------------------------- lookup


# Characters a title query may carry that the title lacks without changing what it asks.
_FILLER = set("的是什么如何怎么怎样请和与及其了吗呢一个为")


def _title_match(folded_query: str, rubric: Rubric) -> tuple[float, bool]:
    """(similarity, safe to accept without asking).

    Similarity is the larger of difflib's ratio and the share of the query found in the title,
    so a short query inside a long title ranks high. In Chinese one character can flip the
    meaning (欠拟合 vs 过拟合), so a match is only safe when every query character missing from
    the title is filler.
    """
    title = fold(rubric.title)
    matcher = difflib.SequenceMatcher(None, folded_query, title, autojunk=False)
    blocks = matcher.get_matching_blocks()
    matched = sum(b.size for b in blocks)
    score = max(matcher.ratio(), matched / max(len(folded_query), 1))
    if not re.search(r"[\u3400-\u9fff]", folded_query):
        return score, True
    covered = {i for b in blocks for i in range(b.a, b.a + b.size)}
    missing = {ch for i, ch in enumerate(folded_query) if i not in covered}
    return score, missing <= _FILLER


class RubricSet:
    """All rubrics available to a command, with lookup by id, number or title words."""

    def __init__(self, documents: Iterable[RubricDocument], origin: str = "") -> None:
        self.documents = list(documents)
        self.origin = origin
        self._by_id: dict[str, Rubric] = {}
        for doc in self.documents:
            for r in doc.rubrics:
                if r.id in self._by_id:
                    raise RubricError(f"{origin}: rubric id '{r.id}' appears in two files")
                self._by_id[r.id] = r

    def __iter__(self) -> Iterator[Rubric]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, rubric_id: str) -> Rubric | None:
        return self._by_id.get(rubric_id)

    def find(self, query: str | int) -> Rubric:
        """A number ("5", "Q5"), an id, or words of the title; raises with close matches."""
        q = str(query).strip()
        if q in self._by_id:
            return self._by_id[q]
        m = re.fullmatch(r"(?i)q?\s*(\d+)", q)
        if m:
            hits = [r for r in self if r.number == int(m.group(1))]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                ids = ", ".join(r.id for r in hits)
                raise QuestionNotFound(f"question {q} is ambiguous across documents: {ids}")
        folded = fold(q)
        contained: list[Rubric] = []
        if folded:
            contained = [r for r in self if folded in fold(r.title) or folded in fold(r.question)]
            # Twins marked duplicate_of answer to the original question.
            originals = [r for r in contained if r.duplicate_of not in {c.id for c in contained}]
            if len(originals) == 1:
                return originals[0]
            scored = sorted(((_title_match(folded, r), r) for r in self), key=lambda p: -p[0][0])
            best = scored[0][0] if scored else (0.0, False)
            runner_up = scored[1][0][0] if len(scored) > 1 else 0.0
            if not contained and best[1] and best[0] >= 0.6 and best[0] - runner_up >= 0.1:
                return scored[0][1]
            candidates = contained or [r for (score, _), r in scored[:3] if score > 0.2]
        else:
            candidates = []
        hint = "; ".join(f"{r.number or r.id}. {r.title}" for r in candidates[:5])
        what = "matches several questions" if len(contained) > 1 else "matches no question"
        more = f" — did you mean: {hint}" if hint else " — run `evaluator list` to see them"
        raise QuestionNotFound(f"'{q}' {what}{more}")


def bundled_rubrics_dir() -> Path:
    return Path(str(files("evaluator.bundled_rubrics")))


def default_rubrics_dir() -> Path:
    """./rubrics when present (a project's own curated set), else the bundled set."""
    local = Path("rubrics")
    if local.is_dir() and any(local.glob("*.y*ml")):
        return local
    return bundled_rubrics_dir()


def rubric_files(path: Path) -> list[Path]:
    """The rubric file itself, or every *.yaml / *.yml in a directory."""
    if path.is_file():
        return [path]
    if path.is_dir():
        paths = sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"})
        if not paths:
            raise RubricError(f"{path}: no rubric files (*.yaml) in this directory")
        return paths
    raise RubricError(f"{path}: no such rubric file or directory")


def load_rubrics(path: str | Path | None = None) -> RubricSet:
    """Load every rubric file in a directory (or one file)."""
    path = Path(path) if path is not None else default_rubrics_dir()
    return RubricSet((load_document(p) for p in rubric_files(path)), origin=str(path))


# ---------------------------------------------------------------------------- ad hoc


def adhoc_rubric(question: str, reference_answer: str, rubric_id: str | None = None) -> Rubric:
    """A rubric made on the fly from a question and a reference text (no rubric file).

    Key points are the reference's sentences and items, equally weighted. Used for CSVs of
    other courses and for the agreement benchmarks.
    """
    reference = reference_answer.strip()
    if not reference:
        raise RubricError("an ad-hoc rubric needs a non-empty reference answer")
    units = split_units(reference) or [reference]
    digest = hashlib.sha256(f"{question}\x1f{reference}".encode()).hexdigest()[:12]
    cjk = len(re.findall(r"[\u3400-\u9fff]", reference + question))
    return Rubric(
        id=rubric_id or f"adhoc-{digest}",
        title=(question.strip() or reference)[:80],
        question=question.strip() or "(no question given)",
        reference_answer=reference,
        key_points=[KeyPoint(id=f"k{i}", text=u) for i, u in enumerate(units, 1)],
        language="zh" if cjk * 2 >= len(re.findall(r"\w", reference + question)) * 0.5 else "en",
    )
