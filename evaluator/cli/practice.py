"""`evaluator practice` (drill the questions, spaced repetition) and `evaluator progress`."""

from __future__ import annotations

import contextlib
import os
import select
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from evaluator.settings import Settings

from . import main
from .common import (
    command_rubrics,
    embedder_option,
    json_option,
    judge_options,
    rubrics_option,
    settings_from_flags,
)

if TYPE_CHECKING:
    from rich.console import Console

    from evaluator.practice.session import Session
    from evaluator.practice.store import History
    from evaluator.present.practice_text import Lang
    from evaluator.rubrics.lookup import RubricSet

history_option = click.option(
    "--history",
    "history_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The practice history (sqlite). Default: practice.sqlite3 in the user data dir "
    "(e.g. ~/.local/share/answer-evaluator).",
)
# The fake clock of the terminal tests: a session that believes it is another time.
now_option = click.option("--now", "now_text", default=None, hidden=True)

QUIT, SKIP = "q", "s"


def _clock(now_text: str | None) -> Callable[[], datetime]:
    if not now_text:
        return lambda: datetime.now(UTC)
    try:
        start = datetime.fromisoformat(now_text)
    except ValueError:
        raise click.BadParameter(
            f"not an ISO date and time: {now_text}", param_hint="--now"
        ) from None
    offset = start.astimezone(UTC) - datetime.now(UTC)
    return lambda: datetime.now(UTC) + offset


def _open_history(path: Path | None, reset: bool, now: datetime) -> tuple[History, Path | None]:
    from evaluator.practice.store import History, default_path

    path = path or default_path()
    backup = History.reset(path, now) if reset else None
    return History(path), backup


def _default_lang() -> Lang:
    locale = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG")
    return "zh" if (locale or "").startswith("zh") else "en"


def _grading_line(settings: Settings, lang: Lang) -> str:
    from evaluator.present.practice_text import say

    if settings.judge_enabled:
        how = say("judge", lang, model=settings.judge_model or "?")
    else:
        why = say("judge_off" if settings.judge_model else "no_judge", lang)
        how = say("embeddings", lang, why=why)
    return say("grading", lang, how=how)


class _Lines:
    """Lines typed (or piped) on stdin. Ctrl-D / end of input is None."""

    def __init__(self) -> None:
        self.tty = sys.stdin.isatty()
        if self.tty:
            with contextlib.suppress(ImportError):  # line editing; CJK widths drawn right
                import readline  # noqa: F401

    def read(self, prompt: str = "") -> str | None:
        try:
            line = input(prompt)
        except EOFError:
            print()
            return None
        if not self.tty:
            print(line)  # what a terminal would have echoed, so a piped session reads whole
        return line

    def pasting(self) -> bool:
        """More lines are already waiting on a terminal: a paste in progress, whose empty lines
        belong to the answer. (A pipe always has more waiting, so there an empty line ends.)"""
        if not self.tty:
            return False
        ready, _, _ = select.select([sys.stdin], [], [], 0.05)
        return bool(ready)


def read_answer(lines: _Lines) -> str | None:
    """One answer: lines up to an empty line or Ctrl-D ("" when the first line is empty). A
    first line of just `s` or `q` is that command at once. None when input ended first."""
    got: list[str] = []
    while True:
        line = lines.read("› " if not got else "  ")
        if line is None:
            return "\n".join(got) if got else None
        if not got and line.strip().lower() in (SKIP, QUIT):
            return line.strip().lower()
        if not line.strip() and not lines.pasting():
            return "\n".join(got).strip("\n")
        got.append(line)


def _ask(lines: _Lines, console: Console, lang: Lang) -> str:
    """An answer, or SKIP or QUIT (also at the end of input)."""
    from evaluator.present.practice_text import tell

    tell(console, "instructions", lang, style="dim")
    while True:
        answer = read_answer(lines)
        if answer is None:
            return QUIT
        if answer.strip():
            return answer
        tell(console, "empty", lang, style="yellow")


@main.command("practice")
@rubrics_option
@history_option
@click.option(
    "--reset-history",
    is_flag=True,
    help="Move the history file aside to a timestamped backup beside it, then start a fresh "
    "one (for a damaged file; nothing is deleted).",
)
@click.option(
    "--questions",  # no -q: that is --quiet everywhere else
    "spec",
    default=None,
    metavar="LIST",
    help="Which questions: numbers and ranges such as 1-10,15 (or ids, titles). "
    "Default: all but duplicates.",
)
@click.option(
    "--new",
    "new_limit",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="New questions per session (after the due reviews).",
)
@click.option("--due-only", is_flag=True, help="Only reviews that are due; no new questions.")
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default=None,
    help="Language of the prompts. Default: zh when LANG is Chinese, else en.",
)
@embedder_option
@judge_options
@now_option
def practice_command(
    history_path: Path | None,
    reset_history: bool,
    spec: str | None,
    new_limit: int,
    due_only: bool,
    lang: Lang | None,
    now_text: str | None,
    **flags: object,
) -> None:
    """Drill the questions: answer, see your grade and what you missed, and review each
    question again when it is due (spaced repetition, FSRS).

    \b
    Due reviews come first, then new questions (--new per session). Type a
    multi-line answer; an empty line (or Ctrl-D) ends it. `s` skips a
    question, `q` quits; after each grade, `r` shows the reference answer.
    Every attempt is saved at once, so Ctrl-C (exit 130) or a crash loses
    nothing already graded. A rubric edited since your last attempt starts
    that question afresh. Grades use the judge when one is configured,
    otherwise embeddings alone, and the screen says which.

    \b
    Examples:
      evaluator practice                       due reviews, then 5 new questions
      evaluator practice --questions 1-10,15 --new 3
      evaluator practice --due-only --lang zh
      evaluator practice --history ~/notes/practice.sqlite3
      evaluator progress                       how you are doing
    """
    from rich.console import Console

    from evaluator.practice.schedule import make_scheduler
    from evaluator.practice.session import Session, select_questions
    from evaluator.present import practice_text as screen

    clock = _clock(now_text)
    lang = lang or _default_lang()
    settings = settings_from_flags(**flags)
    rubric_set = command_rubrics(settings)
    try:
        rubrics = select_questions(rubric_set, spec)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--questions") from None
    history, backup = _open_history(history_path, reset_history, clock())
    console = Console(highlight=False)
    if backup is not None:
        screen.tell(console, "reset", lang, path=backup)
    session = Session(
        history,
        rubrics,
        scheduler=make_scheduler(),
        clock=clock,
        new_limit=new_limit,
        due_only=due_only,
    )
    screen.tell(
        console, "header", lang, due=len(session.due()), new=len(session.new()), total=len(rubrics)
    )
    console.print(_grading_line(settings, lang), soft_wrap=True)
    screen.tell(console, "history", lang, path=history.path)
    try:
        _drill(session, settings, rubric_set, console, lang)
    except KeyboardInterrupt:
        console.print()
        screen.tell(console, "saved", lang, n=session.recorded, path=history.path)
        sys.exit(130)
    finally:
        history.close()
    screen.tell(console, "saved", lang, n=session.recorded, path=history.path)


def _drill(
    session: Session, settings: Settings, rubric_set: RubricSet, console: Console, lang: Lang
) -> None:
    from evaluator.present import practice_text as screen
    from evaluator.scoring.grader import Grader

    lines = _Lines()
    grader: Grader | None = None
    while (item := session.next()) is not None:
        now = session.clock()
        console.print()
        screen.question_panel(
            console, item.rubric, item.kind, item.card.due if item.card else None, now, lang
        )
        answer = _ask(lines, console, lang)
        if answer == QUIT:
            return
        if answer == SKIP:
            session.skip(item)
            screen.tell(console, "skipped", lang, style="dim")
            continue
        assert answer is not None
        with console.status(screen.say("grading_now", lang)):
            grader = grader or Grader.from_settings(settings, compare_with=rubric_set)
            grade = grader.grade(item.rubric, answer)
        attempt = session.record(item, answer, grade)
        screen.result(console, grade, attempt.due, session.clock(), lang)
        while True:
            choice = lines.read(screen.say("after", lang) + " ")
            choice = QUIT if choice is None else choice.strip().lower()
            if choice == "r":
                screen.reference(console, item.rubric, lang)
                continue
            if choice == QUIT:
                return
            break
    console.print()
    screen.tell(console, "done", lang)
    upcoming = session.upcoming()
    if upcoming is not None and upcoming.card is not None:
        number = upcoming.rubric.number or upcoming.rubric.id
        when = screen.when(upcoming.card.due, session.clock(), lang)
        screen.tell(console, "upcoming", lang, number=number, when=when)


@main.command("progress")
@rubrics_option
@history_option
@json_option
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the progress as a self-contained HTML page with charts.",
)
@now_option
def progress_command(
    rubrics: Path | None,
    history_path: Path | None,
    as_json: bool,
    html_path: Path | None,
    now_text: str | None,
) -> None:
    """How your practice is going: per question the last and best score, the trend and the
    next review; the key points you miss most often; your scores over time.

    \b
    Attempts graded against an earlier version of a rubric are kept and counted
    apart ("+2 earlier rubric"), never mixed into the edited question's scores.

    \b
    Examples:
      evaluator progress
      evaluator progress --html progress.html     the same with charts, one file
      evaluator progress --json                   the data
    """
    from evaluator.files import atomic_write, check_can_write
    from evaluator.practice.progress import build_progress
    from evaluator.practice.store import History, default_path

    now = _clock(now_text)()
    rubric_set = command_rubrics(settings_from_flags(rubrics=rubrics))
    path = history_path or default_path()
    if html_path is not None:
        check_can_write(html_path, "the HTML page")
    attempts = []
    if path.exists():  # reading never creates a history
        history = History(path)
        try:
            attempts = history.attempts()
        finally:
            history.close()
    progress = build_progress(attempts, rubric_set, now, str(path))
    if html_path is not None:
        from evaluator.present.progress_html import render_progress_html

        atomic_write(html_path, render_progress_html(progress))
    if as_json:
        click.echo(progress.model_dump_json(indent=2))
        return
    from rich.console import Console

    from evaluator.present.progress_text import terminal

    console = Console(highlight=False)
    terminal(progress, console)
    if html_path is not None:
        console.print(f"Wrote {html_path}", soft_wrap=True)
