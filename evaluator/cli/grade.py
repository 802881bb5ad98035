"""`evaluator grade`: grade one answer, with feedback on what was covered and what was missed."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from evaluator.files import decode_text, read_text
from evaluator.markdown import answer_text

from . import main
from .common import (
    command_rubrics,
    embedder_option,
    json_option,
    judge_options,
    rubrics_option,
    settings_from_flags,
)


def read_answer(answer: str | None, source: str | None) -> str:
    """The answer from --answer, a file, or stdin ('-')."""
    if answer is not None and source is not None:
        raise click.UsageError("give the answer either with --answer or as FILE, not both")
    if answer is not None:
        # Bytes that were not UTF-8 in argv arrive as lone surrogates: decode them for real.
        return decode_text(answer.encode("utf-8", "surrogateescape"), "--answer", "answer")
    if source is None:
        if sys.stdin.isatty():
            raise click.UsageError("no answer: use --answer TEXT, a FILE, or '-' to read stdin")
        source = "-"
    if source == "-":
        return decode_text(sys.stdin.buffer.read(), "stdin", "answer")
    path = Path(source)
    text = read_text(path, "answer")
    return answer_text(text) if path.suffix.lower() in (".md", ".markdown") else text


@main.command("grade")
@click.argument("question")
@click.argument("answer_file", required=False, metavar="[FILE|-]")
@click.option("--answer", "-a", help="The answer text (or give FILE, or '-' for stdin).")
@rubrics_option
@embedder_option
@judge_options
@json_option
@click.option("--verbose", "-v", is_flag=True, help="Show similarities and judge reasoning.")
def grade_command(
    question: str,
    answer_file: str | None,
    answer: str | None,
    as_json: bool,
    verbose: bool,
    **flags: object,
) -> None:
    """Grade one answer to QUESTION (a number, an id, or words of the title).

    \b
    Examples:
      evaluator grade 7 --answer "批量归一化对每个批次做标准化……"
      evaluator grade "模型蒸馏" my-answer.md
      echo "Distillation trains a small student..." | evaluator grade 11 -
      evaluator grade 11 answer.txt --judge-base-url http://127.0.0.1:8080/v1 --judge-model judge
    """
    text = read_answer(answer, answer_file)
    settings = settings_from_flags(**flags)
    rubric_set = command_rubrics(settings)
    rubric = rubric_set.find(question)

    from evaluator.scoring.grader import Grader  # numpy and the embedder load only when grading

    result = Grader.from_settings(settings, compare_with=rubric_set).grade(rubric, text)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    from rich.console import Console

    from evaluator.present.grade_text import terminal

    terminal(result, Console(), verbose=verbose)
