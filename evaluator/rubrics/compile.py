"""Markdown Q&A study documents → rubric files (`evaluator rubrics build`).

Three steps, one module each: studydoc.py reads the document into questions and their
sections, keypoints.py cuts each answer into key points, and this module makes a rubric of
each question (`compile_markdown`) and writes the rubric files (`build`). When an answer is code
only, the explanation's sentences stand in as key points.

Compiled rubric files are then reviewed and edited by people, so `build` refuses to overwrite a
file whose content no longer matches the hash it recorded at build time (unless forced). The
comments people wrote in it are carried into the rebuilt file (`comments`); one that has no
place there any more is named, and dropped only when forced.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import yaml
from pydantic import ValidationError

from evaluator.errors import InputError, RubricError
from evaluator.files import atomic_write, check_can_write
from evaluator.markdown import without_code
from evaluator.rubrics.comments import carry
from evaluator.rubrics.io import dump_document, load_document
from evaluator.rubrics.keypoints import key_points_of
from evaluator.rubrics.model import KeyPoint, KeyPointGroup, Rubric, RubricDocument, Source
from evaluator.rubrics.studydoc import Question, parse_questions, prose, section_text
from evaluator.text import asked_count, detect_language

__all__ = ["build", "compile_markdown", "slugify"]

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def slugify(name: str) -> str:
    """A document slug from a file stem: lower-case ASCII letters, digits, `_`, `.`, `-`."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9_.-]+", "-", text).strip("-._")


# ---------------------------------------------------------------------------- compile


def _compile_question(q: Question, source: str, document: str) -> Rubric:
    where = f"{source}:{q.line}: question {q.number}"
    answer = q.section("answer")
    if answer is None:
        raise InputError(
            f"{where} '{q.title}' has no answer section (expected '**答案：**' or 'Answer:')"
        )
    reference = section_text(answer.lines)
    if not reference:
        raise InputError(f"{source}:{answer.line}: question {q.number} has an empty answer section")
    asked = q.section("question")
    question = prose(asked.lines) if asked else prose(q.preamble)
    question = question or q.title
    title = q.title or question
    if not title:
        raise InputError(f"{where} has neither a title nor a question text")
    explained = q.section("explanation")
    explanation = prose(explained.lines) if explained else ""

    points = key_points_of([text for _, text in answer.lines])
    note = None
    if not points and explanation:
        # A code-only answer: the explanation says in words what the code does.
        points = key_points_of([text for _, text in explained.lines]) if explained else []
        note = "from the explanation (the answer is code only)"
    if not points:
        raise InputError(f"{where} '{title}': the answer has no text to make key points from")
    key_points = [
        KeyPoint(id=f"k{i}", label=label, text=text, weight=1.0, note=note)
        for i, (label, text) in enumerate(points, 1)
    ]
    groups, notes = _pick_groups(question, key_points)
    return Rubric(
        id=f"{document}-q{q.number}",
        number=q.number,
        title=title,
        question=question,
        reference_answer=reference,
        key_points=key_points,
        groups=groups,
        explanation=explanation,
        source=Source(file=source, lines=(q.line, q.end)),
        notes=notes,
        # Code is Latin whatever the language: leave it out of the vote.
        language=detect_language(without_code(f"{question}\n{reference}\n{explanation}")),
    )


def _pick_groups(
    question: str, key_points: list[KeyPoint]
) -> tuple[list[KeyPointGroup] | None, list[str]]:
    """For "列举三种…" / "name three …" with more key points than asked for: one group of all
    key points, any `n` of which earn it in full, and a note asking the reviewer to check that
    each key point is one item (a concept point, or an item split over two points, needs an
    edit)."""
    n = asked_count(question)
    if n is None or n >= len(key_points):
        return None, []
    group = KeyPointGroup(id="g1", label=f"any {n}", key_points=[k.id for k in key_points], pick=n)
    note = (
        f"rubrics build: the question asks for {n} items and the answer has {len(key_points)}; "
        f"group g1 lets any {n} of them earn full credit. Check that every key point in it is "
        "one item."
    )
    return [group], [note]


def compile_markdown(text: str, source: str, document: str) -> RubricDocument:
    """Compile a Markdown Q&A document into rubrics; malformed input raises InputError."""
    if not _SLUG_RE.match(document):
        raise InputError(
            f"{source}: document slug '{document}' must be lower-case letters, digits, '_', '.' "
            "or '-' (pass --document)"
        )
    lines = text.lstrip("\ufeff").splitlines()
    questions, title = parse_questions(lines, source)
    seen: dict[int, int] = {}
    for q in questions:
        if q.number in seen:
            raise InputError(
                f"{source}:{q.line}: question number {q.number} already used on line {seen[q.number]}"
            )
        seen[q.number] = q.line
    rubrics = [_compile_question(q, source, document) for q in questions]
    try:
        doc = RubricDocument(document=document, title=title, source=source, rubrics=rubrics)
    except ValidationError as exc:  # not expected after the checks above; keep it one line
        raise InputError(f"{source}: {exc.errors()[0]['msg']}") from None
    return doc.model_copy(update={"build_hash": doc.rubrics_hash()})


# ---------------------------------------------------------------------------- build


def _display_path(path: Path) -> str:
    """The seed path as recorded in rubrics: relative to the working directory when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _check_clobber(target: Path, force: bool) -> str | None:
    """Refuse to replace a rubric file people edited; return a note when --force overrides."""
    if not target.exists():
        return None
    try:
        existing = load_document(target)
    except RubricError as exc:
        if force:
            return f"overwrote unreadable {target} (--force)"
        raise RubricError(
            f"{target}: existing file is not a valid rubric file ({exc}); not overwriting "
            "— fix or remove it, or pass --force"
        ) from None
    if existing.build_hash and existing.rubrics_hash() == existing.build_hash:
        return None
    if force:
        return f"overwrote {target}, which had been edited since it was built (--force)"
    raise RubricError(
        f"{target} has been edited since it was built; not overwriting "
        "(pass --force to replace it and lose the edits)"
    )


def _with_comments(target: Path, text: str, force: bool) -> tuple[str, str | None, int]:
    """The rebuilt `text` with the comments of the file it replaces at their places: (text to
    write, a line naming the comments that could not be kept, how many were kept). Comments
    that would be lost stop the build unless forced."""
    if not target.exists():
        return text, None, 0
    try:
        old = target.read_text(encoding="utf-8")
        carried = carry(old, text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        # Only forced builds get here (_check_clobber refuses such a file otherwise).
        try:
            raw = target.read_bytes().decode("utf-8", "replace").splitlines()
        except OSError:
            raw = []
        marked = sum(1 for line in raw if line.lstrip().startswith("#"))
        if not marked:
            return text, None, 0
        return (
            text,
            (
                f"{target}: not valid YAML, so its {marked} line{'s' * (marked != 1)} starting with "
                "'#' could not be kept as comments"
            ),
            0,
        )
    if not carried.lost:
        return carried.text, None, len(carried.kept)
    n = len(carried.lost)
    which = "; ".join(str(c) for c in carried.lost)
    if not force:
        raise RubricError(
            f"{target}: rebuilding would drop {n} comment{'s' * (n != 1)} whose place is gone "
            f"from the rebuilt file ({which}); not overwriting (pass --force to drop "
            f"{'them' if n != 1 else 'it'})"
        )
    return (
        carried.text,
        (
            f"{target}: dropped {n} comment{'s' * (n != 1)} whose place is gone from the rebuilt "
            f"file (--force): {which}"
        ),
        len(carried.kept),
    )


def build(
    seeds: list[Path],
    out_dir: Path,
    document: str | None = None,
    force: bool = False,
    report: Callable[[str], None] | None = None,
) -> list[Path]:
    """Compile each seed to OUT_DIR/<slug>.yaml. Nothing is written unless every seed compiles
    and no target holds human edits (see `_check_clobber`). `report` receives progress lines."""
    if not seeds:
        raise InputError("no seed documents given")
    if document is not None and len(seeds) > 1:
        raise InputError(f"--document names one document but {len(seeds)} seeds were given")
    planned: list[tuple[Path, RubricDocument, str, list[str], int]] = []
    for seed in seeds:
        slug = document if document is not None else slugify(seed.stem)
        if not slug:
            raise InputError(
                f"{seed}: cannot make a document slug from the file name; pass --document"
            )
        try:
            text = seed.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise InputError(f"{seed}: cannot read seed document ({reason})") from None
        doc = compile_markdown(text, _display_path(seed), slug)
        target = out_dir / f"{slug}.yaml"
        if any(p[0] == target for p in planned):
            raise InputError(f"{seed}: two seeds compile to the same file {target}")
        clobber = _check_clobber(target, force)
        text, dropped, kept = _with_comments(target, dump_document(doc), force)
        notes = [n for n in (clobber, dropped) if n]
        planned.append((target, doc, text, notes, kept))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{out_dir}: cannot create the rubric folder ({exc.strerror or exc})"
        ) from None
    for target, *_ in planned[:1]:
        check_can_write(target, "rubric files")
    for target, doc, text, notes, kept in planned:
        atomic_write(target, text)
        if report:
            for note in notes:
                report(note)
            comments = f", {kept} comment{'s' * (kept != 1)} kept" if kept else ""
            n = len(doc.rubrics)
            report(f"wrote {target} ({n} question{'s' * (n != 1)}{comments})")
    return [target for target, *_ in planned]
