"""`evaluator list` and `evaluator show`: browse the rubrics."""

from __future__ import annotations

import json
from pathlib import Path

import click

from evaluator.rubrics.model import Rubric

from . import main
from .common import command_rubrics, json_option, rubrics_option, settings_from_flags


@main.command("list")
@rubrics_option
@json_option
def list_questions(rubrics: Path | None, as_json: bool) -> None:
    """List the questions that have rubrics."""
    rubric_set = command_rubrics(settings_from_flags(rubrics=rubrics))
    if as_json:
        rows = [
            {
                "id": r.id,
                "number": r.number,
                "title": r.title,
                "key_points": len(r.key_points),
                "language": r.language,
                "duplicate_of": r.duplicate_of,
            }
            for r in rubric_set
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rubric_set:
        dup = f"  (duplicate of {r.duplicate_of})" if r.duplicate_of else ""
        num = f"{r.number:>3}." if r.number is not None else "   -"
        click.echo(f"{num} {r.title}  [{r.id}, {len(r.key_points)} key points]{dup}")


def _render_rubric(r: Rubric) -> str:
    lines = [f"{r.number}. {r.title}" if r.number else r.title, f"id: {r.id}", "", r.question, ""]
    lines.append("Key points (weight):")
    for k in r.key_points:
        label = f"{k.label}: " if k.label else ""
        lines.append(f"  - [{k.id}] ({k.weight:g}) {label}{k.text}")
        if k.note:
            lines.append(f"      note: {k.note}")
    # The whole answer the key points were cut from, as written (Markdown lists kept), indented
    # under its label so it reads as one block.
    lines += ["", "Reference answer:"]
    lines += [f"  {line}" if line.strip() else "" for line in r.reference_answer.splitlines()]
    if r.misconceptions:
        lines += ["", "Misconceptions (penalty):"]
        for m in r.misconceptions:
            lines.append(f"  - [{m.id}] (-{m.penalty:g}) {m.text}")
            if m.correction:
                lines.append(f"      correct: {m.correction}")
    if r.explanation:
        lines += ["", f"Explanation: {r.explanation}"]
    if r.duplicate_of:
        lines += ["", f"Duplicate of: {r.duplicate_of}"]
    for note in r.notes:
        lines.append(f"Note: {note}")
    if r.source:
        lines.append(f"Source: {r.source.file}:{r.source.lines[0]}-{r.source.lines[1]}")
    return "\n".join(lines)


@main.command("show")
@click.argument("question")
@rubrics_option
@json_option
def show_question(question: str, rubrics: Path | None, as_json: bool) -> None:
    """Show one rubric. QUESTION is a number (5), an id, or words of the title."""
    rubric = command_rubrics(settings_from_flags(rubrics=rubrics)).find(question)
    if as_json:
        click.echo(json.dumps(rubric.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        click.echo(_render_rubric(rubric))
