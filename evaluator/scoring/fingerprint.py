"""What a grade depends on besides the answer and the rubric: the embedder, the grading code and
the judge's settings. The check cache keys on it, and a batch's run manifest records it so that
--resume never mixes grades made two ways.

Hashing source files keeps numpy and the models unimported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

from evaluator.settings import Settings

# Where grading starts: every module it imports, directly or through others, decides grades.
_ENTRY = "evaluator.scoring.grader"
# `from evaluator.x import (a, b)` / `from .x import a` / `import evaluator.x`, read as text:
# parsing every module would cost more than a cached `evaluator check` may take.
_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<module>\.+[\w.]*|evaluator(?:\.\w+)*)[ \t]+import[ \t]+"
    r"(?P<names>\([^)]*\)|[^\n#]+)|import[ \t]+(?P<plain>evaluator(?:\.\w+)*))",
    re.MULTILINE,
)


def _module_file(package: Path, module: str) -> Path | None:
    parts = module.split(".")[1:]  # below evaluator/
    if not parts:
        return package / "__init__.py"
    for candidate in (package.joinpath(*parts).with_suffix(".py"),
                      package.joinpath(*parts, "__init__.py")):  # fmt: skip
        if candidate.is_file():
            return candidate
    return None


def _imports(package: Path, path: Path, module: str) -> set[str]:
    """The evaluator modules one source file imports (function-level imports too)."""
    here = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for m in _IMPORT.finditer(path.read_text(encoding="utf-8")):
        if m.group("plain"):
            found.add(m.group("plain"))
            continue
        name = m.group("module")
        if name.startswith("."):  # relative: one dot is this package
            dots = len(name) - len(name.lstrip("."))
            base = here.split(".")[: len(here.split(".")) - dots + 1]
            name = ".".join([*base, name.lstrip(".")]).rstrip(".")
        found.add(name)
        # `from evaluator.scoring import coverage`: the names may be modules themselves.
        for imported in re.findall(r"\w+", m.group("names")):
            found.add(f"{name}.{imported}")
    return {f for f in found if _module_file(package, f) is not None}


def _grading_files() -> list[Path]:
    """The source files a grade can depend on, found by following imports from the grader, so
    a module moved or added changes what the digest covers without a list to keep; then the
    judge's prompt files."""
    from importlib.resources import files

    package = Path(__file__).resolve().parents[1]  # evaluator/
    seen: dict[str, Path] = {}
    todo = [_ENTRY]
    while todo:
        module = todo.pop()
        path = _module_file(package, module)
        if module in seen or path is None:
            continue
        seen[module] = path
        todo += sorted(_imports(package, path, module) - set(seen))
        # Importing a module runs its packages' __init__ first.
        todo += [".".join(module.split(".")[:n]) for n in range(1, module.count(".") + 1)]
    found = sorted(set(seen.values()))
    prompts = Path(str(files("evaluator.bundled_prompts")))
    return found + sorted(prompts.glob("*.txt")) + [prompts / "__init__.py"]


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
