"""Rubric files on disk: reading (with one-line errors naming file, question and field), writing
in a reviewable YAML layout, and finding the rubric directory in use."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from evaluator.errors import RubricError
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import RubricDocument

# ---------------------------------------------------------------------------- schema errors


@dataclass(frozen=True)
class SchemaProblem:
    """One schema error in a rubric file, placed as a reviewer would look for it."""

    question: str | None  # the rubric's id, or "#<position>" when it has none; None: file level
    message: str  # "field 'key_points.0.text': ..."

    def __str__(self) -> str:
        return f"question {self.question} {self.message}" if self.question else self.message


def _glossed(loc: list[str | int], msg: str) -> str:
    """pydantic's message, prefixed with what it means for the two errors people make most."""
    if loc[:1] == ["key_points"] and loc[-1:] == ["text"]:
        return f"key point has no text ({msg})"
    if loc[:1] == ["key_points"] and loc[-1:] == ["weight"]:
        return f"a key point's weight must be above 0 and at most 1000 ({msg})"
    return msg


def schema_problems(data: dict[str, Any], err: ValidationError) -> list[SchemaProblem]:
    """Every error of `err`, raised validating `data` (the file's parsed YAML), in order."""
    problems = []
    for e in err.errors():
        loc = list(e["loc"])
        question = None
        if len(loc) >= 2 and loc[0] == "rubrics" and isinstance(loc[1], int):
            idx = loc[1]
            try:
                item = data["rubrics"][idx]
                question = str(item.get("id") or f"#{item.get('number', idx + 1)}")
            except (KeyError, IndexError, TypeError, AttributeError):
                question = f"#{idx + 1}"
            loc = loc[2:]
        field = ".".join(str(p) for p in loc) or "(top level)"
        problems.append(SchemaProblem(question, f"field '{field}': {_glossed(loc, e['msg'])}"))
    return problems


# ---------------------------------------------------------------------------- files


def load_document(path: str | Path) -> RubricDocument:
    path = Path(path)
    try:
        # libyaml's C loader when present: ~10x faster on the 100 KB bundled file.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except OSError as exc:
        raise RubricError(f"{path}: cannot read rubric file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        at = exc.object[: exc.start].count(b"\n") + 1
        raise RubricError(
            f"{path}:{at}: not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None
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
        raise RubricError(f"{path}: {schema_problems(data, exc)[0]}") from None


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


GOLDEN_SUFFIXES = (".golden.jsonl", ".golden.csv")


def golden_files(path: str | Path | None = None) -> list[Path]:
    """The golden answers kept beside a rubric file (`X.golden.jsonl` or `.csv` next to
    `X.yaml`), for every rubric file of `path` (default: the rubrics in use)."""
    path = Path(path) if path is not None else default_rubrics_dir()
    found = []
    for rubric_file in rubric_files(path):
        stem = rubric_file.with_suffix("")
        found += [g for s in GOLDEN_SUFFIXES if (g := stem.with_name(stem.name + s)).is_file()]
    return found
