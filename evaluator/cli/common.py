"""Options and helpers shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from evaluator.settings import Settings, load_settings

if TYPE_CHECKING:
    from evaluator.rubrics.lookup import RubricSet

F = TypeVar("F", bound=Callable[..., Any])

rubrics_option = click.option(
    "--rubrics",
    "rubrics",
    type=click.Path(path_type=Path),
    default=None,
    help="Rubric file or directory. Default: EVALUATOR_RUBRICS, else [tool.evaluator] rubrics, "
    "else ./rubrics when present, else the bundled set.",
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def embedder_option(f: F) -> F:
    return click.option(
        "--embedder",
        default=None,
        help="use-multilingual (default, bundled), hashing (offline stub), or "
        "sentence-transformers:<model or path>. Env: EVALUATOR_EMBEDDER.",
    )(f)


def judge_options(f: F) -> F:
    """The LLM judge and cache flags, shared by every command that grades."""
    options = [
        click.option(
            "--judge/--no-judge",
            "judge",
            default=None,
            help="Use the LLM judge. Default: on when a judge model is configured.",
        ),
        click.option(
            "--judge-model",
            default=None,
            help="Judge model name. Env: EVALUATOR_JUDGE_MODEL.",
        ),
        click.option(
            "--judge-base-url",
            default=None,
            help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1. Env: OPENAI_BASE_URL. "
            "The API key is read from OPENAI_API_KEY only (never a flag).",
        ),
        click.option(
            "--judge-style",
            type=click.Choice(["full", "rationale", "compact"]),
            default=None,
            help="How much the judge writes: full (reasoning and a reason per key point), "
            "rationale (one sentence) or compact (verdicts and quotes only; fastest). "
            "Env: EVALUATOR_JUDGE_STYLE.",
        ),
        click.option(
            "--judge-recheck/--no-judge-recheck",
            default=None,
            help="Ask the judge again about the key points it credits but the embeddings do "
            "not see, and keep the lower verdict (steadier, one more short call for such "
            "answers). Env: EVALUATOR_JUDGE_RECHECK.",
        ),
        click.option(
            "--require-judge",
            is_flag=True,
            default=None,
            help="Fail instead of falling back to embeddings when the judge is unavailable.",
        ),
        click.option(
            "--cache-dir",
            type=click.Path(path_type=Path, file_okay=False),
            default=None,
            help="Where embeddings and judge replies are cached. Env: EVALUATOR_CACHE_DIR.",
        ),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the caches."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def settings_from_flags(**flags: Any) -> Settings:
    """Settings for a command: its flags over env over [tool.evaluator] over defaults.

    Every command resolves its configuration here, so `--rubrics`, EVALUATOR_RUBRICS and
    `[tool.evaluator] rubrics` mean the same rubric set in `list`, `show`, `grade`, `batch`,
    `check`, `agreement` and `rubrics lint`."""
    if flags.pop("no_cache", False):
        flags["use_cache"] = False
    if flags.get("require_judge") is False:
        flags["require_judge"] = None  # an absent flag must not override the config
    return load_settings(flags)


def command_rubrics(settings: Settings) -> RubricSet:
    """The rubric set the settings name (see `settings_from_flags`)."""
    from evaluator.rubrics.io import load_rubrics

    return load_rubrics(settings.rubrics)
