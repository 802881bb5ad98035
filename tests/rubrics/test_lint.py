"""The rubric linter and `evaluator rubrics lint`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from evaluator.cli import main
from evaluator.errors import RubricError
from evaluator.rubrics.compile import build
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lint import Finding, lint, lint_path
from evaluator.rubrics.lookup import RubricSet
from evaluator.rubrics.model import RubricDocument
from tests.helpers import REPO
from tests.rubrics.test_checks import doc_of, plain_rubric

SEED = REPO / "seeds" / "000_7ace44ecab84a0b1.txt"


# ---------------------------------------------------------------------------- lint


def test_lint_accepts_a_rubric_set(seed_doc: RubricDocument) -> None:
    assert lint(RubricSet([seed_doc])) == lint([seed_doc])


def test_the_same_id_in_two_documents_is_an_error() -> None:
    a = plain_rubric("x-q1", "What is a tensor?", [("", "A multi-dimensional array.")])
    b = plain_rubric("x-q1", "What is a GPU?", [("", "A parallel processor.")])
    (finding,) = [f for f in lint([doc_of(a, document="a"), doc_of(b, document="b")])]
    assert (finding.level, finding.code, finding.rubric_id) == ("error", "duplicate-id", "x-q1")


def test_findings_are_sorted_errors_first(seed_doc: RubricDocument) -> None:
    rubrics = list(seed_doc.rubrics)
    rubrics[29] = rubrics[29].model_copy(update={"duplicate_of": "nowhere"})
    levels = [f.level for f in lint([seed_doc.model_copy(update={"rubrics": rubrics})])]
    assert levels[0] == "error"
    assert levels == sorted(levels, key=["error", "warning", "info"].index)


# ---------------------------------------------------------------------------- files


def _write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _valid(document: str = "d") -> dict:
    return {
        "document": document,
        "rubrics": [
            {
                "id": f"{document}-q1",
                "number": 1,
                "title": "What is a tensor?",
                "question": "What is a tensor?",
                "reference_answer": "A multi-dimensional array.",
                "explanation": "Shapes generalise matrices.",
                "key_points": [{"id": "k1", "text": "A multi-dimensional array."}],
            }
        ],
    }


def test_lint_path_reports_every_schema_error_with_question_and_field(tmp_path: Path) -> None:
    data = _valid()
    data["rubrics"][0]["key_points"] = [
        {"id": "k1", "text": ""},
        {"id": "k2", "text": "Rank.", "weight": 0},
    ]
    path = _write(tmp_path / "d.yaml", data)
    findings = lint_path(path)
    assert [(f.level, f.code, f.rubric_id, f.file) for f in findings] == [
        ("error", "schema", "d-q1", str(path)),
        ("error", "schema", "d-q1", str(path)),
    ]
    assert findings[0].message.startswith("field 'key_points.0.text': key point has no text")
    assert findings[1].message.startswith(
        "field 'key_points.1.weight': a key point's weight must be above 0"
    )


def test_lint_path_on_a_directory_keeps_checking_the_valid_files(tmp_path: Path) -> None:
    _write(tmp_path / "good.yaml", _valid("good"))
    (tmp_path / "broken.yaml").write_text("rubrics: [\n", encoding="utf-8")
    findings = lint_path(tmp_path)
    assert [(f.code, Path(f.file or "").name) for f in findings if f.level == "error"] == [
        ("unreadable", "broken.yaml")
    ]
    with pytest.raises(RubricError, match="no such rubric file or directory"):
        lint_path(tmp_path / "missing")


def test_lint_path_defaults_to_the_rubrics_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    build([SEED], tmp_path / "rubrics", document="llm-training")
    assert lint_path() == lint(load_rubrics(tmp_path / "rubrics"))


# ---------------------------------------------------------------------------- CLI


def test_cli_lint_on_the_built_seed(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "x"
    built = runner.invoke(
        main, ["rubrics", "build", str(SEED), "--document", "llm-training", "--out", str(out)]
    )
    assert built.exit_code == 0, built.output

    result = runner.invoke(main, ["rubrics", "lint", str(out)])
    assert result.exit_code == 0, result.output  # warnings only
    assert "warning: llm-training-q26: duplicates llm-training-q3" in result.output
    assert "warning: llm-training-q28: duplicates llm-training-q14" in result.output
    assert "warning: llm-training-q15: duplicates llm-training-q2" in result.output
    assert "info: llm-training-q21: overlaps llm-training-q2" in result.output
    assert "warning: llm-training-q5: key points k2 and k3" in result.output
    assert result.output.rstrip().endswith("0 errors, 4 warnings, 2 info")

    as_json = runner.invoke(main, ["rubrics", "lint", str(out / "llm-training.yaml"), "--json"])
    assert as_json.exit_code == 0
    rows = json.loads(as_json.output)
    assert [Finding.model_validate(row) for row in rows] == lint_path(out)
    assert {row["level"] for row in rows} == {"warning", "info"}


def test_cli_lint_exits_1_on_errors_without_traceback(tmp_path: Path) -> None:
    data = _valid()
    data["rubrics"][0]["duplicate_of"] = "d-q7"
    path = _write(tmp_path / "d.yaml", data)
    runner = CliRunner()
    result = runner.invoke(main, ["rubrics", "lint", str(path)])
    assert result.exit_code == 1
    assert "error: d-q1: duplicate_of points at unknown id 'd-q7'" in result.output
    assert "Traceback" not in result.output

    missing = runner.invoke(main, ["rubrics", "lint", str(tmp_path / "nope")])
    assert missing.exit_code == 1
    assert missing.stderr.startswith("Error: ") and missing.stderr.count("\n") == 1
