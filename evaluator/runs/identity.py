"""What a grade depends on besides the answer and the rubric: the embedder, the grading code and
the judge's settings. The check cache keys on it, and a batch's run manifest records it so that
--resume never mixes grades made two ways.

Hashing source files keeps numpy and the models unimported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from functools import lru_cache
from pathlib import Path

from evaluator.settings import Settings

# What decides a grade besides the answer and the rubric: the scoring and judge subpackages
# (calibration included), the Grade model (bands, flags), text handling, and the judge prompts.
# An edit to any of them changes the digest.
_GRADING_SOURCES = ("scoring", "judge", "grade.py", "text.py")


def _grading_files() -> list[Path]:
    from importlib.resources import files

    package = Path(__file__).resolve().parents[1]  # evaluator/
    found: list[Path] = []
    for name in _GRADING_SOURCES:
        where = package / name
        found += sorted(where.rglob("*.py")) if where.is_dir() else [where]
    prompts = Path(str(files("evaluator.bundled_prompts")))
    found += sorted(prompts.glob("*.txt"))
    return found


@lru_cache(maxsize=1)
def grading_code_digest() -> str:
    digest = hashlib.sha256()
    for path in _grading_files():
        digest.update(path.name.encode())
        # An install without sources: the callers' format numbers alone guard them.
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def judge_fingerprint(settings: Settings) -> dict[str, object] | None:
    """The judge settings a grade depends on (never the API key); None when no judge runs."""
    if not settings.judge_enabled:
        return None
    from evaluator.judge.prompts import load_judge_prompts  # light: text files only

    prompts = load_judge_prompts(style=settings.judge_style)
    return {
        "model": settings.judge_model,
        "base_url": settings.judge_base_url,
        "temperature": settings.judge_temperature,
        "weight": settings.judge_weight,
        "prompt_version": prompts.version,
        "prompt_digest": prompts.digest,
    }


def grading_context(settings: Settings, format_version: int) -> str:
    """Everything besides answer and rubric that a grade depends on, as one string.

    `format_version` is the caller's own number, bumped when what it stores changes meaning in
    a way the code digest cannot see."""
    return json.dumps(
        {
            "format": format_version,
            "embedder": settings.embedder.strip(),
            "code": grading_code_digest(),
            "judge": judge_fingerprint(settings),
        },
        sort_keys=True,
    )
