"""`evaluator agreement`: how well the grader agrees with human graders on a scored CSV."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import main
from .common import (
    command_rubrics,
    embedder_option,
    json_option,
    rubrics_option,
    settings_from_flags,
)

if TYPE_CHECKING:
    from evaluator.rubrics.lookup import RubricSet


def _fmt(value: float | None, digits: int = 3, missing: str = "-") -> str:
    return missing if value is None else f"{value:.{digits}f}"


@main.command("agreement")
@click.argument("csv_file", metavar="FILE.csv", type=click.Path(path_type=Path))
@json_option
@embedder_option
@rubrics_option
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def agreement_command(
    csv_file: Path,
    as_json: bool,
    embedder: str | None,
    rubrics: Path | None,
    quiet: bool,
) -> None:
    """Grade a CSV of human-scored answers and report agreement with the humans.

    \b
    Columns: question, reference_answer, answer, human_score, max_score (required);
    question_id, id (optional). Each question's reference answer becomes an ad-hoc
    rubric unless question_id names a rubric in the rubric set. Embedding-only:
    the judge is not used. Scores are compared on the 0-1 scale (score/100 vs
    human_score/max_score): Pearson, Spearman, RMSE and quadratic weighted kappa,
    overall and per question.
    """
    from evaluator.errors import RubricError
    from evaluator.quality.agreement import read_rows, run
    from evaluator.scoring.grader import Grader

    rows = read_rows(csv_file)
    settings = settings_from_flags(embedder=embedder, judge=False, rubrics=rubrics)
    known: RubricSet | None
    try:
        known = command_rubrics(settings)
    except RubricError:
        if settings.rubrics is not None:
            raise  # a rubric set the user named must load
        known = None  # no rubric set around: every question gets an ad-hoc rubric
    started = time.perf_counter()
    show = not quiet

    def progress(done: int, total: int) -> None:
        if show:
            rate = done / max(time.perf_counter() - started, 1e-6)
            click.echo(f"graded {done}/{total} answers ({rate:.0f}/s)", err=True)

    if show:
        click.echo(f"loading embedder for {len(rows)} answers ...", err=True)
    grader = Grader(settings.embedder, settings=settings)
    _, report = run(rows, grader, known, progress=progress)

    if as_json:
        click.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    undefined = "undefined (constant scores)"
    click.echo(
        f"{csv_file}: n={report.n}  embedder={report.embedder}  method={report.method}\n"
        f"Pearson {_fmt(report.pearson, missing=undefined)}  "
        f"Spearman {_fmt(report.spearman, missing=undefined)}  "
        f"RMSE {_fmt(report.rmse)}  QWK {_fmt(report.qwk)} ({report.levels} levels)\n"
    )
    width = max([8, *(len(q.question_id) for q in report.per_question)])
    click.echo(
        f"{'question':<{width}}  {'n':>4}  {'pearson':>7}  {'spearman':>8}  {'rmse':>5}  "
        f"{'qwk':>6}  {'human':>5}  {'score':>5}"
    )
    for q in report.per_question:
        click.echo(
            f"{q.question_id:<{width}}  {q.n:>4}  {_fmt(q.pearson):>7}  {_fmt(q.spearman):>8}  "
            f"{_fmt(q.rmse):>5}  {_fmt(q.qwk):>6}  {q.human_mean:>5.2f}  {q.score_mean:>5.2f}"
        )
    sys.stdout.flush()
