"""Every command resolves the rubric set the same way: --rubrics > EVALUATOR_RUBRICS >
[tool.evaluator] rubrics (relative to that pyproject.toml) > ./rubrics > the bundled set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluator.cli import main
from tests.helpers import TWO_QUESTION_RUBRICS, write_rubrics

ANSWER = "批量归一化对每一层的输入按小批量计算均值和方差做标准化。"


def ids_seen(args: list[str]) -> str:
    """What each command reports as question 7's id (or lints), as one string."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1), result.output
    return result.output


def commands() -> list[list[str]]:
    return [
        ["show", "7", "--json"],
        ["list", "--json"],
        ["grade", "7", "--answer", ANSWER, "--json", "--embedder", "hashing", "--no-cache"],
        ["rubrics", "lint", "--json"],
    ]


def question_id(output: str, args: list[str]) -> str:
    data = json.loads(output)
    if args[0] == "show":
        return str(data["id"])
    if args[0] == "list":
        return ",".join(r["id"] for r in data)
    if args[0] == "grade":
        return str(data["question_id"])
    return "lint-ok" if not [f for f in data if f["level"] == "error"] else "lint-errors"


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A course folder whose pyproject names its own rubric file, run from a subfolder."""
    write_rubrics(tmp_path / "own", TWO_QUESTION_RUBRICS)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.evaluator]\nrubrics = "own/t.yaml"\n', encoding="utf-8"
    )
    (tmp_path / "notes").mkdir()
    monkeypatch.chdir(tmp_path / "notes")
    monkeypatch.delenv("EVALUATOR_RUBRICS", raising=False)
    return tmp_path


def test_config_file_rubrics_reach_every_command(course: Path) -> None:
    for args in commands():
        found = question_id(ids_seen(args), args)
        assert found in {"t-q7", "t-q7,t-q11", "lint-ok"}, (args, found)
        assert "llm-training" not in found


def test_env_and_flag_override_the_config_file(
    course: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = TWO_QUESTION_RUBRICS.replace("document: t", "document: u").replace("t-q", "u-q")
    env_dir = write_rubrics(tmp_path_factory.mktemp("env"), other)
    monkeypatch.setenv("EVALUATOR_RUBRICS", str(env_dir))
    assert question_id(ids_seen(["show", "7", "--json"]), ["show"]) == "u-q7"
    flag_dir = write_rubrics(tmp_path_factory.mktemp("flag"), TWO_QUESTION_RUBRICS)
    args = ["show", "7", "--json", "--rubrics", str(flag_dir)]
    assert question_id(ids_seen(args), ["show"]) == "t-q7"
