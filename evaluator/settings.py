"""Configuration, resolved in one place: flags > environment > [tool.evaluator] > defaults.

`[tool.evaluator]` is read from the nearest pyproject.toml at or above the working directory,
so a notes repository or a course folder can carry its own settings.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from platformdirs import user_cache_dir
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from evaluator.errors import EvaluatorError

DEFAULT_EMBEDDER = "use-multilingual"

# Environment variable -> setting name.
ENV_VARS = {
    "EVALUATOR_EMBEDDER": "embedder",
    "EVALUATOR_RUBRICS": "rubrics",
    "EVALUATOR_CACHE_DIR": "cache_dir",
    "EVALUATOR_JUDGE_MODEL": "judge_model",
    "OPENAI_BASE_URL": "judge_base_url",
    "OPENAI_API_KEY": "judge_api_key",
    "EVALUATOR_MIN_SCORE": "min_score",
    "EVALUATOR_JUDGE_TIMEOUT": "judge_timeout",
    "EVALUATOR_JUDGE_FIRST_TOKEN_TIMEOUT": "judge_first_token_timeout",
    "EVALUATOR_JUDGE_STALL_TIMEOUT": "judge_stall_timeout",
    "EVALUATOR_JUDGE_STYLE": "judge_style",
    "EVALUATOR_JUDGE_RECHECK": "judge_recheck",
}


class Settings(BaseModel):
    # Floats must be finite: "--min-score nan" is an error, not "should be <= 100".
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    embedder: str = DEFAULT_EMBEDDER
    rubrics: Path | None = None  # None: ./rubrics when present, else the bundled set
    cache_dir: Path = Field(default_factory=lambda: Path(user_cache_dir("answer-evaluator")))
    use_cache: bool = True

    # The optional LLM judge (any OpenAI-compatible endpoint).
    judge: bool | None = None  # None: on when a judge model is configured
    judge_model: str | None = None
    judge_base_url: str | None = None
    judge_api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    # Seconds a judge reply may take from its first token (a 1.5B model on 2 busy CPU cores
    # needs 10-60 s, measured), the longest wait for that first token, and for each next one.
    judge_timeout: float = Field(default=180.0, gt=0)
    # A request waits for its first token while the server reads its prompt and those sent
    # with it: the bundled 1.5B judge on 2 busy cores needs 20-60 s for four 550-token prompts
    # arriving together (--jobs 4), so 90 s leaves it half as much again. A judge that answers
    # nothing then costs 90 s, once: a request that sent nothing is not asked again.
    judge_first_token_timeout: float = Field(default=90.0, gt=0)
    judge_stall_timeout: float = Field(default=120.0, gt=0)
    judge_retries: int = Field(default=2, ge=0)
    judge_temperature: float = Field(default=0.0, ge=0, le=2)
    # Combined credit = judge_weight * judge credit + (1 - judge_weight) * embedding credit; the
    # score mixes the judge's share with the embeddings' scaled share alike. Half and half did
    # best of the weights tried with the bundled judge (benchmarks/README.md, judge_weight).
    judge_weight: float = Field(default=0.5, ge=0, le=1)
    # How much the judge writes: "full" (reasoning, a reason per key point, a comment),
    # "rationale" (one sentence of reasoning, then verdicts and quotes) or "compact" (verdicts
    # and quotes only). Replies are the judge's main cost on a CPU: compact was as accurate as
    # full on the dev subset at 60 % of the tokens (benchmarks/judge_speed.py).
    judge_style: Literal["full", "rationale", "compact"] = "compact"
    # The consistency pass: key points the judge credits but the embeddings do not see are
    # asked about again, and the lower verdict stands. Off: on the dev subset it changed no
    # grade by a band and cost 19 % more time (benchmarks/judge_stability.py --recheck).
    judge_recheck: bool = False
    require_judge: bool = False

    min_score: float = Field(default=60.0, ge=0, le=100)

    @field_validator("judge_base_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        """An OpenAI-compatible endpoint is an http(s) URL with a host; anything else would
        fall back to embeddings on every answer without saying why."""
        if url is None:
            return None
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  # raises ValueError for a port out of range
        except ValueError as exc:
            raise ValueError(f"not a valid URL ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:8080/v1")
        return url

    @field_validator("judge_api_key")
    @classmethod
    def _header_safe_key(cls, key: SecretStr | None) -> SecretStr | None:
        # The key travels in an HTTP header, which carries ASCII only; the key is never shown.
        if key is not None and not key.get_secret_value().isascii():
            raise ValueError("OPENAI_API_KEY holds non-ASCII characters: check the key")
        return key

    @property
    def judge_enabled(self) -> bool:
        return bool(self.judge_model) if self.judge is None else self.judge


def find_pyproject(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


# Settings that name files: a relative path in pyproject.toml means "next to that file", so a
# course folder's config works from any subfolder.
_PATH_SETTINGS = ("rubrics", "cache_dir")


def read_tool_config(pyproject: Path | None) -> dict[str, Any]:
    if pyproject is None:
        return {}
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc
        raise EvaluatorError(f"{pyproject}: cannot read [tool.evaluator] ({reason})") from None
    tool = data.get("tool", {})
    section = tool.get("evaluator", {}) if isinstance(tool, dict) else {}
    if not isinstance(section, dict):
        raise EvaluatorError(
            f"{pyproject}: [tool.evaluator] must be a table of settings, not "
            f"{type(section).__name__} {section!r}"
        )
    config = {k.replace("-", "_"): v for k, v in section.items()}
    for key in _PATH_SETTINGS:
        if isinstance(config.get(key), str):
            config[key] = pyproject.parent / Path(config[key]).expanduser()
    return config


def load_settings(flags: dict[str, Any] | None = None, start: Path | None = None) -> Settings:
    """Merge the layers; `flags` entries that are None mean "not given on the command line"."""
    pyproject = find_pyproject(start)
    merged: dict[str, Any] = read_tool_config(pyproject)
    # Any spelling of a key: pyproject.toml is usually committed, and a key there leaks.
    if any(k in merged for k in ("judge_api_key", "api_key", "openai_api_key")):
        raise EvaluatorError(
            f"{pyproject}: do not put an API key in [tool.evaluator]; set OPENAI_API_KEY instead"
        )
    for var, key in ENV_VARS.items():
        value = os.environ.get(var)
        if value:
            merged[key] = value
    merged.update({k: v for k, v in (flags or {}).items() if v is not None})
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        origin = f" (from {pyproject} or the environment)" if pyproject else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        raise EvaluatorError(f"setting '{field}': {message}{origin}") from None
