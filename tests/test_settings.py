"""Settings resolve flags > environment > [tool.evaluator] > defaults, and never keep a key in files."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluator.errors import EvaluatorError
from evaluator.settings import load_settings


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.evaluator]\nembedder = "hashing"\nmin-score = 75\njudge_model = "from-config"\n',
        encoding="utf-8",
    )
    sub = tmp_path / "notes" / "week1"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)  # the nearest pyproject.toml above the working directory counts
    return tmp_path


def test_defaults_without_any_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALUATOR_CACHE_DIR", raising=False)
    s = load_settings(start=tmp_path)
    assert s.embedder == "use-multilingual" and s.min_score == 60
    assert not s.judge_enabled


def test_config_then_env_then_flags(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert (s.embedder, s.min_score, s.judge_model) == ("hashing", 75, "from-config")
    assert s.judge_enabled  # a configured model turns the judge on
    monkeypatch.setenv("EVALUATOR_JUDGE_MODEL", "from-env")
    assert load_settings().judge_model == "from-env"
    s = load_settings({"judge_model": "from-flag", "min_score": None, "judge": False})
    assert s.judge_model == "from-flag" and s.min_score == 75 and not s.judge_enabled


def test_api_key_comes_from_env_and_is_never_serialised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    s = load_settings()
    assert s.judge_api_key is not None and s.judge_api_key.get_secret_value() == "sk-secret-123"
    assert "sk-secret-123" not in s.model_dump_json() and "sk-secret-123" not in repr(s)


def test_api_key_in_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.evaluator]\njudge_api_key = "sk-x"\n')
    with pytest.raises(EvaluatorError, match="OPENAI_API_KEY"):
        load_settings(start=tmp_path)


def test_bad_values_give_one_line_naming_the_setting(project: Path) -> None:
    with pytest.raises(EvaluatorError, match="min_score") as info:
        load_settings({"min_score": 150})
    assert "\n" not in str(info.value)
    (project / "pyproject.toml").write_text("[tool.evaluator\n")
    with pytest.raises(EvaluatorError, match=r"pyproject\.toml"):
        load_settings()
