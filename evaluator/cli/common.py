"""Options and helpers shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

rubrics_option = click.option(
    "--rubrics",
    "rubrics_dir",
    type=click.Path(path_type=Path),
    default=None,
    envvar="EVALUATOR_RUBRICS",
    help="Rubric file or directory. Default: ./rubrics when present, else the bundled set.",
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def embedder_option(f: F) -> F:
    return click.option(
        "--embedder",
        default=None,
        help="use-multilingual (default, bundled), hashing (offline stub), or "
        "sentence-transformers:<model or path>. Env: EVALUATOR_EMBEDDER.",
    )(f)
