"""`evaluator rubrics build|lint`: compile study documents into rubric files and check them."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import main
from .common import settings_from_flags


@main.group("rubrics")
def rubrics_group() -> None:
    """Compile study documents into rubric files, and lint them."""


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
    help="Overwrite rubric files even if people edited them since the build.",
)
def build_command(
    seeds: tuple[Path, ...], out_dir: Path, document: str | None, force: bool
) -> None:
    """Compile Markdown Q&A documents (SEEDS) into rubric files.

    \b
    Questions are numbered headings ("#### 12. Title") with 题目/答案/解析 or
    Question/Answer/Explanation sections; each answer bullet or sentence becomes
    a key point. A rubric file edited since it was built is never overwritten
    without --force.
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

    findings = lint_path(path if path is not None else settings_from_flags().rubrics)
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
