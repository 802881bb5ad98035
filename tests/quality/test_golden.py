"""`evaluator rubrics test`: golden answers in JSONL or CSV, bands per level and per question,
misses with evidence, exit codes, and one-line errors for bad golden files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from evaluator.cli import main
from tests.helpers import GOOD_BN, SEED_SUBSET_RUBRICS, write_csv, write_rubrics

WEAK = "批量归一化就是把数据标准化一下。"


@pytest.fixture
def rubrics(tmp_path: Path) -> Path:
    return write_rubrics(tmp_path / "rubrics", SEED_SUBSET_RUBRICS)


def golden(path: Path, cases: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in cases), encoding="utf-8")
    return path


def run(rubrics: Path, *args: str) -> Result:
    base = ["rubrics", "test", "--rubrics", str(rubrics), "--embedder", "hashing", "--no-cache"]
    return CliRunner().invoke(main, [*base, *args])


def cases() -> list[dict[str, object]]:
    return [
        {"case": "good", "question": 7, "level": "excellent", "answer": GOOD_BN, "min": 60, "max": 100},
        {"case": "weak", "question": "Q7", "level": "partial", "answer": WEAK, "min": 0, "max": 70},
        {"case": "empty", "question": "批量归一化", "level": "empty", "answer": "", "min": 0, "max": 0},
    ]  # fmt: skip


def test_cases_in_band_pass(rubrics: Path, tmp_path: Path) -> None:
    result = run(rubrics, str(golden(tmp_path / "g.jsonl", cases())))
    assert result.exit_code == 0, result.output
    assert "3/3 in band" in result.output and "✔ passed" in result.output


def test_without_golden_the_file_beside_the_rubrics_is_used(rubrics: Path, tmp_path: Path) -> None:
    (document,) = rubrics.glob("*.yaml")
    result = run(rubrics)
    assert result.exit_code == 2 and "no GOLDEN file given" in result.output
    beside = golden(document.with_name(document.stem + ".golden.jsonl"), cases())
    result = run(rubrics)
    assert result.exit_code == 0, result.output
    assert f"{beside}: 3/3 in band" in result.output


def test_a_case_out_of_band_fails_and_is_listed_with_evidence(
    rubrics: Path, tmp_path: Path
) -> None:
    wrong = [*cases(), {"case": "too-low", "question": 7, "answer": GOOD_BN, "min": 0, "max": 10}]
    result = run(rubrics, str(golden(tmp_path / "g.jsonl", wrong)))
    assert result.exit_code == 1
    assert "too-low (llm-training-q7, -)" in result.output and "not in 0-10" in result.output
    assert "best: " in result.output
    assert "1 of 4 cases out of band" in result.output


def test_min_pass_sets_a_share_per_level(rubrics: Path, tmp_path: Path) -> None:
    wrong = [*cases(), {"question": 7, "level": "excellent", "answer": WEAK, "min": 90, "max": 100}]
    path = str(golden(tmp_path / "g.jsonl", wrong))
    assert run(rubrics, path, "--min-pass", "excellent=0.5").exit_code == 0
    failing = run(rubrics, path, "--min-pass", "excellent=75%")
    assert failing.exit_code == 1 and "level excellent: 1/2 in band, below 75%" in failing.output
    assert run(rubrics, path, "--min-pass", "1.5").exit_code == 2  # usage error


def test_json_and_csv(rubrics: Path, tmp_path: Path) -> None:
    rows = [["question", "answer", "min", "max", "level"]]
    rows += [[str(c["question"]), str(c["answer"]), str(c["min"]), str(c["max"]), str(c["level"])]
             for c in cases()]  # fmt: skip
    result = run(rubrics, str(write_csv(tmp_path / "g.csv", rows)), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["passed"] and data["cases"] == 3 and data["in_band"] == 3
    assert {t["name"] for t in data["levels"]} == {"excellent", "partial", "empty"}
    # Cases without an id are named by the line they start on (the first answer spans 13).
    assert [r["case"] for r in data["results"]] == ["line 2", "line 15", "line 16"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"question": 7, "answer": "x", "min": 0}\n', "g.jsonl:1: field 'max': Field required"),
        ('{"question": 7, "answer": "x", "min": 50, "max": 10}\n', "g.jsonl:1: field 'case'"),
        ('{"question": 7\n', "g.jsonl:1: not a JSON object"),
        ('{"question": 99, "answer": "x", "min": 0, "max": 9}\n', "g.jsonl:1: '99' matches no"),
        ("", "no golden cases"),
    ],
)
def test_bad_golden_files_are_one_line(
    content: str, words: str, rubrics: Path, tmp_path: Path
) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text(content, encoding="utf-8")
    result = run(rubrics, str(path))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and words in errors[0], result.output
