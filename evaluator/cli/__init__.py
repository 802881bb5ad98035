"""`evaluator` command line: a thin click layer over the Python API.

Each command module registers its commands on `main`. Expected failures (`EvaluatorError`)
end as one line on stderr with exit code 1; click's usage errors exit 2. No tracebacks.
"""

from __future__ import annotations

import sys

import click

from evaluator.errors import EvaluatorError


class _Group(click.Group):
    """Turns expected errors into one clean line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        from evaluator.judge import notices

        notices.drain()  # a command tells what happened while it ran, not before (in-process)
        try:
            return super().invoke(ctx)
        except EvaluatorError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:  # e.g. `evaluator list | head`
            sys.exit(0)
        finally:
            _tell_warnings()


def _tell_warnings() -> None:
    # A judge that failed (grades fall back to embeddings) and a cache switched off (unwritable
    # folder, corrupt file) change how a run went but never fail it: one line each, at the end.
    from evaluator.judge import notices
    from evaluator.kvstore import drain_warnings

    for warning in [*notices.drain(), *drain_warnings()]:
        click.echo(f"warning: {warning}", err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="answer-evaluator")
def main() -> None:
    """Grade free-text answers against weighted rubrics.

    \b
    Rubrics come from a study document of questions and reference answers
    (`evaluator rubrics build`); answers are scored by how well they cover each
    key point (sentence embeddings), plus an optional LLM judge over any
    OpenAI-compatible API. Without a judge, grades say they are embedding-only.

    \b
    Start here:
      evaluator list                       the questions
      evaluator show 5                     one rubric: key points and weights
      evaluator grade 7 --answer "..."     grade one answer, with feedback
      evaluator batch answers.csv -o out.csv --report report.html
      evaluator check notes/*.md           grade study notes (pre-commit hook)
      evaluator practice                   drill the questions (spaced repetition)
      evaluator progress                   how your practice is going
    """


def _register() -> None:
    # Imported for their side effect of adding commands to `main`; all are light modules.
    from . import agreement, batch, check, grade, practice, questions, rubrics  # noqa: F401


_register()
