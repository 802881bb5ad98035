"""`evaluator check FILE...`: grade study notes; exit 1 when an answer is below the minimum.

Made for pre-commit (`.pre-commit-hooks.yaml`, hook id `evaluator-check`). Imports stay light:
a run whose grades are all cached never loads an embedding model.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import click

from evaluator.notes.check import AnswerCheck, CheckReport, check_files
from evaluator.result import Flag

from . import main
from .common import embedder_option, json_option, judge_options, rubrics_option, settings_from_flags

# Flags worth a line under an answer (embedding-only is said once, in the summary).
_FLAGS_SHOWN = (
    Flag.EMPTY,
    Flag.OFF_TOPIC,
    Flag.ANSWERS_OTHER_QUESTION,
    Flag.POSSIBLE_INJECTION,
    Flag.JUDGE_UNSCORED,
    Flag.TRUNCATED,
)
_MATCHED = {
    "heading": "heading",
    "title": "heading matched by title",
    "front matter": "front matter",
}


@main.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--min-score",
    type=click.FloatRange(0, 100),
    default=None,
    help="Lowest passing score (0-100). Default: [tool.evaluator] min_score, else 60. "
    "A note's front matter `min_score` overrides it for that file.",
)
@rubrics_option
@embedder_option
@judge_options
@json_option
@click.pass_context
def check_notes(
    ctx: click.Context,
    files: tuple[Path, ...],
    as_json: bool,
    **flags: object,
) -> None:
    """Grade the answers in Markdown study notes.

    \b
    A note names the question it answers in front matter (`question: 7`), or in
    headings (`## Q7`, `## 7. 什么是批量归一化`, `## 问题 7`), or with a heading whose
    words match a question title (`## 批量归一化`). Prints each answer's score and
    the key points it missed; exits 1 when any answer is below the minimum score or
    a file cannot be read. Files that name no question are skipped. A directory
    stands for the Markdown files (*.md, *.markdown) under it.
    """
    settings = settings_from_flags(**flags)
    progress = Progress(sys.stderr)
    try:
        report = check_files(list(files), settings, on_progress=progress)
    except KeyboardInterrupt:
        progress.stop()  # what follows starts on a line of its own
        raise
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        _print_report(report)
    ctx.exit(0 if report.passed else 1)


class Progress:
    """How far the grading is, on stderr (stdout is the report hooks and --json readers
    parse). On a terminal: one line redrawn in place, once grading has taken a second. Else
    (a hook's log): a line every LOG_EVERY seconds, only in a run that lasts that long."""

    TTY_AFTER = 1.0
    LOG_EVERY = 30.0

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.clock = clock
        self.started = clock()
        self.shown = False
        self.last = self.started

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        elapsed = now - self.started
        line = f"grading: {done:,} of {total:,} answers ({100 * done // max(total, 1)} %)"
        line += f", {_duration(elapsed)}"
        if 0 < done < total:
            line += f", about {_duration(elapsed * (total - done) / done)} left"
        if self.tty:
            if done == total:
                if self.shown:  # the report follows: leave no half-drawn line above it
                    self.stream.write("\r\033[K")
                    self.stream.flush()
                    self.shown = False
                return
            if elapsed >= self.TTY_AFTER:
                self.stream.write(f"\r\033[K{line}")
                self.stream.flush()
                self.shown = True
            return
        if elapsed >= self.LOG_EVERY and (now - self.last >= self.LOG_EVERY or done == total):
            self.stream.write(line + "\n")
            self.stream.flush()
            self.last = now

    def stop(self) -> None:
        """The run ends before its last chunk: end a line drawn in place."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}" if minutes else f"{secs} s"


def _print_report(report: CheckReport) -> None:
    for f in report.files:
        if f.status == "error":
            for problem in f.problems:
                click.secho(f"✘ {problem}", fg="red")
            continue
        if f.status == "skipped":
            click.echo(f"- {f.path}: skipped, {f.remarks[-1]}")
            for remark in f.remarks[:-1]:
                click.echo(f"    {remark}")
            continue
        click.echo(click.style(f.path, bold=True))
        for answer in f.answers:
            _print_answer(answer)
        for problem in f.problems:
            click.secho(f"  ✘ {problem}", fg="red")
        for remark in f.remarks:
            click.echo(f"  note: {remark}")
    click.echo(_summary(report))


def _print_answer(a: AnswerCheck) -> None:
    mark, colour = ("✔", "green") if a.passed else ("✘", "red")
    number = f"Q{a.question_number} " if a.question_number is not None else ""
    verdict = "" if a.passed else click.style(f"  below {a.min_score:g}", fg="red")
    origin = f"{_MATCHED[a.matched_by]} '{a.label}'"
    click.echo(
        f"  {click.style(mark, fg=colour)} {a.score:5.1f}  {number}{a.question_title}{verdict}"
        f"  (line {a.line}, {origin})"
    )
    for k in a.missed:
        label = f"{k.label}: " if k.label else ""
        click.echo(f"        missed: {label}{k.text}")
    for k in a.grade.key_points:
        if k.status == "partial":
            label = f"{k.label}: " if k.label else ""
            click.echo(f"        partly: {label}{k.text}")
    for m in a.grade.misconceptions:
        click.echo(f"        wrong claim (-{m.penalty:g}): {m.text}")
    for flag in a.grade.flags:
        if flag in _FLAGS_SHOWN:
            click.echo(f"        {a.grade.flag_text(flag)}")


def _summary(report: CheckReport) -> str:
    parts = [f"{report.answers} answer{'s' if report.answers != 1 else ''} checked"]
    if report.below_minimum:
        parts.append(f"{report.below_minimum} below the minimum score")
    if report.failed_files:
        parts.append(f"{report.failed_files} file{'s' if report.failed_files != 1 else ''} failed")
    if report.skipped_files:
        parts.append(f"{report.skipped_files} skipped")
    if report.cached:
        parts.append(f"{report.cached} from cache")
    line = ("✔ " if report.passed else "✘ ") + ", ".join(parts)
    if any(a.grade.method == "embedding" for f in report.files for a in f.answers):
        line += "\n  (embedding-only grades: they measure key-point coverage, not correctness)"
    return line
