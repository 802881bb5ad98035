"""`evaluator batch`: grade a CSV of answers into a CSV or JSONL file, with an optional report;
with `--engine ray`, files, folders of shards or URIs on a Ray cluster (evaluator.batch.ray)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from evaluator.errors import InputError
from evaluator.files import atomic_write

from . import main
from .common import embedder_option, judge_options, rubrics_option, settings_from_flags

if TYPE_CHECKING:
    from rich.console import Console

    from evaluator.batch import BatchJob, BatchResult, Engine, Format


@main.command("batch")
@click.argument("input_csv", metavar="INPUT.csv", type=click.Path())
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(),
    help="Output file (CSV, or JSONL with --format jsonl). With --engine ray: a folder (or "
    "URI) for the shards and their _manifest.json.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "parquet"]),
    default="csv",
    show_default=True,
    help="csv: input columns plus score, band, method, covered, missed, flags, feedback, error. "
    "jsonl: the full grade per line, with the row id and the input columns. With --engine ray, "
    "jsonl and parquet hold the csv's columns; parquet is for --engine ray only.",
)
@click.option("--answer-col", help="Column holding the answers. Default: answer, response, ….")
@click.option("--id-col", help="Column holding row ids. Default: id when present, else row number.")
@click.option(
    "--question-col",
    help="Column naming each row's question: a rubric id, number or title (or, with "
    "--reference-col, the question text). Default: question, question_id, ….",
)
@click.option(
    "--reference-col",
    help="Column of inline reference answers: each row is graded against an ad-hoc rubric made "
    "from its reference (no rubric files). Default: reference_answer when present.",
)
@click.option("--question", "fixed_question", help="Grade every row against this one question.")
@click.option(
    "--encoding", help="Input encoding. Default: detected (UTF-8 with/without BOM, GB18030)."
)
@click.option("--delimiter", help="Input delimiter. Default: detected from the header (, tab ; |).")
@click.option(
    "--excel",
    "--bom",
    "bom",
    is_flag=True,
    help="Write UTF-8 with a BOM so Excel opens the CSV with the right encoding.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Concurrent LLM judge requests (output order always matches the input).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 100_000),
    default=256,
    show_default=True,
    help="Rows graded (and written) together.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run into the same output. Refused unless the output's run "
    "manifest (<output>.run.json) matches these options and every row kept matches the input.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite an existing output. It is replaced only once the first chunk is written.",
)
@click.option(
    "--max-errors",
    "max_errors",
    metavar="N|FRACTION",
    help="Stop (exit 1) after the chunk in which more rows than this had errors: a count "
    "(50) or a fraction of the rows graded in this run (0.1). The rows so far stay; --resume "
    "continues. Default: no limit.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a self-contained HTML report (charts and the first 2,000 rows).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary table.")
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="ray: grade on a Ray cluster (pip install 'answer-evaluator[ray]'). INPUT may then be "
    "a CSV, JSONL or Parquet file, a folder of them, or a URI Ray Data reads (s3://…); OUT is "
    "a folder of shards plus _manifest.json. No --resume or --max-errors.",
)
@click.option(
    "--ray-address",
    metavar="ADDR",
    help="With --engine ray: join this cluster (auto, ray://HOST:10001, HOST:6379). Default: "
    "start a local Ray on this machine for the run.",
)
@click.option(
    "--actors",
    type=click.IntRange(1, 10_000),
    default=2,
    show_default=True,
    help="With --engine ray: grading actors, one CPU each; each loads the embedder once and "
    "grades --chunk-size rows per call with --jobs judge requests at a time.",
)
@click.option(
    "--actor-resources",
    metavar="JSON",
    help="With --engine ray: custom Ray resources each actor needs, e.g. '{\"grader\": 1}' to "
    "grade only on nodes started with --resources '{\"grader\": 1}'.",
)
@rubrics_option
@embedder_option
@judge_options
def batch_command(
    input_csv: str,
    output: str,
    fmt: Format,  # the click.Choices above let only these through
    answer_col: str | None,
    id_col: str | None,
    question_col: str | None,
    reference_col: str | None,
    fixed_question: str | None,
    encoding: str | None,
    delimiter: str | None,
    bom: bool,
    jobs: int,
    chunk_size: int,
    resume: bool,
    force: bool,
    max_errors: str | None,
    report_path: Path | None,
    quiet: bool,
    engine: Engine,
    ray_address: str | None,
    actors: int,
    actor_resources: str | None,
    **flags: object,
) -> None:
    """Grade every answer in INPUT.csv; write one output row per input row, in order.

    \b
    Columns are detected from the header (id, question, answer, reference_answer, and
    Chinese names such as 题目 / 回答) or named with --*-col. Extra columns pass through.
    A row that cannot be graded keeps its place, with the reason in the `error` column;
    cells beyond the header's width are kept in an `extra_cells` column.

    \b
    Examples:
      evaluator batch answers.csv -o graded.csv --report report.html
      evaluator batch export.csv -o graded.csv --excel --answer-col 回答 --question-col 题号
      evaluator batch mohler.csv -o out.jsonl --format jsonl \\
          --reference-col reference_answer --question-col question
      evaluator batch big.csv -o graded.csv --resume      # after an interruption
      evaluator batch big.csv -o graded/ --engine ray     # a local Ray, 2 actors
      evaluator batch s3://b/run/ -o s3://b/graded/ --engine ray --ray-address auto \\
          --actors 64 --format parquet
    """
    from evaluator.batch import BatchOptions, ErrorLimit, prepare_batch

    options = BatchOptions(
        input=input_csv,
        output=output,
        engine=engine,
        format=fmt,
        answer_col=answer_col,
        id_col=id_col,
        question_col=question_col,
        reference_col=reference_col,
        question=fixed_question,
        encoding=encoding,
        delimiter=delimiter,
        bom=bom,
        force=force,
        chunk_size=chunk_size,
        jobs=jobs,
        resume=resume,
        max_errors=ErrorLimit.parse(max_errors) if max_errors is not None else None,
        address=ray_address,
        actors=actors,
        resources=_resources(actor_resources),
    )
    try:
        options.check()  # options that do not go together, or with this engine: usage errors
    except InputError as exc:
        raise click.UsageError(str(exc)) from None
    settings = settings_from_flags(**flags)
    try:
        job = prepare_batch(options, settings)  # every whole-input problem fails here
    except KeyboardInterrupt:
        # Stopped while checking: no output was opened for writing.
        there = "was left as it was" if Path(output).exists() else "was not created"
        click.echo(f"stopped before grading; {output} {there}", err=True)
        raise
    try:
        _finish(job, input_csv, output, report_path, quiet)
    finally:
        job.close()  # the output's lock, when _finish failed before the run


def _resources(text: str | None) -> dict[str, float] | None:
    """--actor-resources: a JSON object of resource names to amounts."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in value.values()
    ):
        raise click.BadParameter(
            "give a JSON object of names and positive amounts, e.g. '{\"grader\": 1}'",
            param_hint="--actor-resources",
        )
    return {str(k): float(v) for k, v in value.items()}


def _finish(
    job: BatchJob, input_csv: str, output: str, report_path: Path | None, quiet: bool
) -> None:
    """Run a prepared batch under the progress bar; the summary and report."""
    from rich.console import Console

    from evaluator.files import check_can_write
    from evaluator.present.html import render_html
    from evaluator.present.summary import print_summary

    if report_path is not None and report_path.resolve() in {
        Path(input_csv).resolve(),
        Path(output).resolve(),
    }:
        raise InputError(f"{report_path}: the report would overwrite the input or the output")
    if report_path is not None:
        check_can_write(report_path, "the report")
    console = Console(stderr=True)
    if not quiet:
        console.print(f"[dim]columns: {job.mapping}[/dim]", highlight=False, soft_wrap=True)

    show_progress = not quiet and console.is_terminal
    try:
        result = _run_with_progress(job, console) if show_progress else job.run()
    except KeyboardInterrupt:
        console.print(job.interrupted(), highlight=False, soft_wrap=True)
        raise

    if report_path is not None:
        page = render_html(result.summary, source=f"{input_csv} → {output}")
        atomic_write(report_path, page)
    if not quiet:
        print_summary(result.summary, console, str(output))
        if result.resumed:
            console.print(f"resumed: {result.resumed:,} rows were already in {output}")
        if report_path is not None:
            console.print(f"report: {report_path}")
    if result.stopped:
        raise InputError(result.stopped)
    summary = result.summary
    if summary.rows == 0:  # said even with --quiet: an empty output is otherwise a puzzle
        click.echo(
            f"note: {input_csv} has a header but no data rows; {output} holds only a header",
            err=True,
        )
    if summary.rows and summary.errors == summary.rows:
        # Every row is in the output with its reason, but a run that graded nothing failed.
        raise InputError(
            f"none of the {summary.rows:,} rows could be graded: see the error column in {output}"
        )


def _run_with_progress(job: BatchJob, console: Console) -> BatchResult:
    """The batch under a rich progress bar: rows done, rate and time left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.1f} rows/s" if speed else "– rows/s", style="cyan")

    total = job.total_rows()
    with Progress(
        TextColumn("grading"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("grading", total=total)

        def resumed(done: int) -> None:
            # Rows already in the output count as done but not towards the rate.
            progress.update(task, completed=done)
            progress.reset(task, total=total, completed=done)

        return job.run(on_resumed=resumed, on_rows=lambda n: progress.advance(task, n))
