"""`evaluator rubrics build|lint|test`: compile study documents into rubric files, check them,
and test them on golden answers."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

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
    from evaluator.quality.golden import GoldenReport


@main.group("rubrics")
def rubrics_group() -> None:
    """Compile study documents into rubric files, lint them, and test them on golden answers."""


@rubrics_group.command("build")
@click.argument("seeds", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("rubrics"),
    show_default=True,
    help="Directory for the rubric files (<document>.yaml).",
)
@click.option(
    "--document",
    default=None,
    help="Document slug: file name and rubric id prefix (<slug>-q<number>). "
    "Default: the seed's file name. Only with one seed.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite rubric files even if people edited them since the build. Their comments "
    "are kept where their place still exists; the others are named, then dropped.",
)
def build_command(
    seeds: tuple[Path, ...], out_dir: Path, document: str | None, force: bool
) -> None:
    """Compile Markdown Q&A documents (SEEDS) into rubric files.

    \b
    Questions are numbered headings ("#### 12. Title") with 题目/答案/解析 or
    Question/Answer/Explanation sections; each answer bullet or sentence becomes
    a key point. A rubric file edited since it was built is never overwritten
    without --force. Comments in it are kept at their key point, rubric or
    place; one whose place is gone is named, and dropped only with --force.
    """
    from evaluator.rubrics.compile import build

    build(list(seeds), out_dir, document=document, force=force, report=click.echo)


@rubrics_group.command("lint")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON list.")
def lint_command(path: Path | None, as_json: bool) -> None:
    """Check rubric files: duplicated questions, repeated key points, empty sections, weights.

    PATH is a rubric file or directory (default: the rubric set in use: EVALUATOR_RUBRICS, else
    [tool.evaluator] rubrics, else ./rubrics when present, else the bundled set). Exits 1 when
    there are errors, 0 with warnings only.
    """
    from evaluator.rubrics.lint import lint_path

    progress = _LintProgress()
    try:
        findings = lint_path(path if path is not None else settings_from_flags().rubrics, progress)
    finally:
        progress.close()
    if as_json:
        click.echo(
            json.dumps([f.model_dump(mode="json") for f in findings], ensure_ascii=False, indent=2)
        )
    else:
        for finding in findings:
            click.echo(str(finding))
        counts = {
            level: sum(f.level == level for f in findings) for level in ("error", "warning", "info")
        }
        summary = ", ".join(
            f"{n} {level}{'s' if n != 1 and level != 'info' else ''}" for level, n in counts.items()
        )
        click.echo(summary if findings else "no findings")
    if any(f.level == "error" for f in findings):
        raise SystemExit(1)


PROGRESS_AFTER = 2.0  # seconds: a lint quicker than this prints no progress at all
PROGRESS_EVERY = 2.0  # seconds between two progress lines


class _LintProgress:
    """How far a long lint has got, on stderr: nothing for a quick one, then a line every
    PROGRESS_EVERY seconds (rewritten in place on a terminal) so a big rubric set never looks
    hung."""

    def __init__(self) -> None:
        self._start = self._last = time.monotonic()
        self._tty = sys.stderr.isatty()
        self._shown = False

    def __call__(self, what: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._start < PROGRESS_AFTER or (
            self._shown and now - self._last < PROGRESS_EVERY
        ):
            return
        self._last, self._shown = now, True
        line = f"rubrics lint: {what} {done:,}/{total:,} ({now - self._start:.0f} s)"
        if self._tty:
            click.echo(f"\r{line}\x1b[K", nl=False, err=True)
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        if self._shown and self._tty:
            click.echo("\r\x1b[K", nl=False, err=True)


def _min_pass(values: tuple[str, ...]) -> dict[str, float]:
    """`--min-pass 0.8` (every level) or `--min-pass partial=0.8` (one level), as fractions."""
    floors: dict[str, float] = {}
    for value in values:
        level, _, share = value.rpartition("=")
        try:
            floor = float(share.rstrip("%")) / (100 if share.endswith("%") else 1)
        except ValueError:
            floor = -1.0
        if not 0 <= floor <= 1:
            raise click.BadParameter(
                f"{value!r}: expected a share from 0 to 1 (or 0%-100%), e.g. 0.8 or partial=0.8",
                param_hint="--min-pass",
            )
        floors[level or "*"] = floor
    return floors


@rubrics_group.command("test")
@click.argument("golden", type=click.Path(path_type=Path), required=False)
@click.option(
    "--min-pass",
    multiple=True,
    metavar="[LEVEL=]SHARE",
    help="Pass when each level has at least this share in band (0.8, 80%, partial=0.8; "
    "repeatable). Default: every case must be in band.",
)
@rubrics_option
@embedder_option
@judge_options
@json_option
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Concurrent LLM judge requests.")  # fmt: skip
@click.pass_context
def test_command(
    ctx: click.Context,
    golden: Path | None,
    min_pass: tuple[str, ...],
    as_json: bool,
    jobs: int,
    **flags: Any,
) -> None:
    """Grade golden answers and check each lands in its expected band.

    \b
    GOLDEN is a JSONL or CSV file of cases: question (number, id or title),
    answer, min and max (the band on 0-100), and optionally level, case and
    note. Without GOLDEN, the golden answers kept beside the rubric files are
    used (X.golden.jsonl next to X.yaml; the bundled set has one). Prints
    in-band counts per level and per question, then every miss with its score,
    band and strongest evidence. Exits 1 when a case is out of band, or, with
    --min-pass, when a level falls below its share.

    \b
    Examples:
      evaluator rubrics test                  the bundled rubrics' own golden answers
      evaluator rubrics test golden.jsonl
      evaluator rubrics test cases.jsonl --min-pass 0.8 --min-pass excellent=0.95
      evaluator rubrics test golden.csv --rubrics my-course.yaml --json
    """
    floors = _min_pass(min_pass)
    settings = settings_from_flags(**flags)
    from evaluator.quality.golden import read_golden, run_golden
    from evaluator.scoring.grader import Grader

    if golden is not None:
        sources = [golden]
    else:
        from evaluator.rubrics.io import golden_files

        sources = golden_files(settings.rubrics)
        if not sources:
            raise click.UsageError(
                "no GOLDEN file given, and no X.golden.jsonl beside the rubric files in use"
            )
    cases = [case for source in sources for case in read_golden(source)]
    rubric_set = command_rubrics(settings)
    grader = Grader.from_settings(settings, compare_with=rubric_set)
    report = run_golden(cases, rubric_set, grader, ", ".join(map(str, sources)), jobs)
    failures = report.failed(floors)
    if as_json:
        data = report.model_dump(mode="json")
        data["passed"], data["failures"] = not failures, failures
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print_golden(report, failures)
    ctx.exit(1 if failures else 0)


def _print_golden(report: GoldenReport, failures: list[str]) -> None:
    click.echo(f"{report.source}: {report.in_band}/{report.cases} in band  "
               f"(embedder {report.embedder}, {report.method})")  # fmt: skip
    for title, tallies in (("level", report.levels), ("question", report.questions)):
        width = max(len(title), *(len(t.name) for t in tallies))
        click.echo(f"\n{title:<{width}}  in band")
        for t in tallies:
            mark = "" if t.in_band == t.cases else click.style("  ✘", fg="red")
            click.echo(f"{t.name:<{width}}  {t.in_band:>3}/{t.cases:<3}{mark}")
    if report.misses:
        click.echo("\nout of band:")
    for r in report.misses:
        flags = f"  [{', '.join(r.flags)}]" if r.flags else ""
        click.echo(
            f"  {r.case} ({r.question_id}, {r.level}): {r.score:.1f} not in "
            f"{r.min:g}-{r.max:g}{flags}\n      best: {r.evidence}"
        )
    click.echo("")
    if failures:
        click.secho("✘ " + "; ".join(failures), fg="red")
    else:
        click.secho("✔ passed", fg="green")
