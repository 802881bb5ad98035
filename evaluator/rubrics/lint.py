"""`evaluator rubrics lint`: every check on a set of rubric files, errors first.

It looks for duplicated questions, repeated key points, empty sections, weights that disagree
with the question, and bad `duplicate_of` links. The parts: checks.py holds what a check finds
(`Finding`) and the checks of each rubric; duplicates.py finds duplicated and overlapping
questions across the set, with similarity.py's measures, near-linear in the number of
questions; this module reads the files, runs every check and orders the findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import ValidationError

from evaluator.rubrics.checks import (
    Finding,
    Progress,
    check_duplicate_weights,
    check_numbers,
    check_rubric,
)
from evaluator.rubrics.duplicates import check_duplicates
from evaluator.rubrics.io import default_rubrics_dir, rubric_files, schema_problems
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import Rubric, RubricDocument

__all__ = ["Finding", "Progress", "lint", "lint_path"]

_SEVERITY = {"error": 0, "warning": 1, "info": 2}


def lint(
    rubrics: RubricSet | Iterable[RubricDocument], progress: Progress | None = None
) -> list[Finding]:
    """Every finding for a rubric set, errors first, then in rubric order. `progress`, when
    given, is told how far lint has got (see `Progress`)."""
    documents = rubrics.documents if isinstance(rubrics, RubricSet) else list(rubrics)
    findings: list[Finding] = []
    all_rubrics: list[Rubric] = []
    seen: dict[str, str] = {}
    for doc in documents:
        for r in doc.rubrics:
            if r.id in seen:
                findings.append(
                    Finding(
                        level="error",
                        code="duplicate-id",
                        rubric_id=r.id,
                        message=f"id used in both documents '{seen[r.id]}' and '{doc.document}'",
                    )
                )
                continue
            seen[r.id] = doc.document
            all_rubrics.append(r)
        findings += check_numbers(doc)
    known = set(seen)
    for done, r in enumerate(all_rubrics, 1):
        if progress:
            progress("checking questions", done, len(all_rubrics))
        findings += check_rubric(r, known)
    findings += check_duplicates(all_rubrics, progress)
    findings += check_duplicate_weights(all_rubrics)
    order = {r.id: i for i, r in enumerate(all_rubrics)}
    return sorted(findings, key=lambda f: (_SEVERITY[f.level], order.get(f.rubric_id or "", -1)))


# ---------------------------------------------------------------------------- files


def _parse(text: str) -> object:
    """The file's YAML; libyaml's C loader when present (10x faster on large files), and on a
    syntax error the Python loader, whose messages the findings have always quoted."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            return yaml.load(text, Loader=loader)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def _load_for_lint(path: Path) -> tuple[RubricDocument | None, list[Finding]]:
    try:
        data = _parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        msg = f"cannot read as YAML ({getattr(exc, 'problem', None) or exc})"
        return None, [Finding(level="error", code="unreadable", message=msg, file=str(path))]
    if not isinstance(data, dict):
        msg = "expected a mapping with 'document' and 'rubrics'"
        return None, [Finding(level="error", code="schema", message=msg, file=str(path))]
    try:
        return RubricDocument.model_validate(data), []
    except ValidationError as exc:
        return None, [
            Finding(
                level="error",
                code="schema",
                rubric_id=problem.question,
                message=problem.message,
                file=str(path),
            )
            for problem in schema_problems(data, exc)
        ]


def lint_path(path: str | Path | None = None, progress: Progress | None = None) -> list[Finding]:
    """Lint a rubric file or every *.yaml in a directory (default: the rubric dir in use).
    A file that fails the schema is reported (every error) and left out of the other checks."""
    path = Path(path) if path is not None else default_rubrics_dir()
    paths = rubric_files(path)
    documents: list[RubricDocument] = []
    file_findings: list[Finding] = []
    for done, p in enumerate(paths):
        if progress:
            progress("reading rubric files", done, len(paths))
        doc, problems = _load_for_lint(p)
        file_findings += problems
        if doc is not None:
            documents.append(doc)
    return file_findings + lint(documents, progress)
