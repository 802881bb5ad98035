"""Bad input ends in one line on stderr and a non-zero exit, never a traceback (issue #12; the
rest of that issue's cases are still to come)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from evaluator.cli import main
from evaluator.quality.agreement import pearson, spearman
from tests.helpers import REPO, write_csv


def run(args: list[str]) -> Result:
    return CliRunner().invoke(main, args)


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'[tool]\nevaluator = "x"\n', "[tool.evaluator] must be a table of settings"),
        (b"[tool.evaluator]\nmin_score = 50\n\xff\xfe\n", "not UTF-8 text"),
        (b"[tool.evaluator\n", "cannot read [tool.evaluator]"),
    ],
)
def test_a_broken_pyproject_is_one_line(
    content: bytes, words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_bytes(content)
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run(["list"]))
    assert "pyproject.toml" in line and words in line


def test_an_answer_that_is_no_text_is_named_in_good_english(tmp_path: Path) -> None:
    binary = tmp_path / "answer.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    rubrics = str(REPO / "rubrics")
    line = one_line_error(run(["grade", "3", str(binary), "--rubrics", rubrics]))
    assert line.endswith("looks like a binary file, not an answer"), line
    line = one_line_error(run(["grade", "3", str(tmp_path), "--rubrics", rubrics]))
    assert line.endswith("is a directory, not an answer"), line


def test_a_batch_where_every_row_failed_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rows = [["id", "question", "answer"], ["1", "999", "hello"], ["2", "998", "world"]]
    source = write_csv(tmp_path / "in.csv", rows)
    out = tmp_path / "out.csv"
    result = run(["batch", str(source), "-o", str(out), "--embedder", "hashing", "--quiet"])
    assert "none of the 2 rows could be graded" in one_line_error(result)
    assert out.read_text(encoding="utf-8").count("matches no question") == 2  # nothing lost


def test_constant_scores_have_no_correlation() -> None:
    # Subtracting the mean of equal floats leaves noise that used to print as -0.000.
    humans = [0.1 + 0.2] * 7
    scores = [0.1, 0.5, 0.3, 0.9, 0.2, 0.4, 0.6]
    assert pearson(scores, humans) != pearson(scores, humans)  # NaN
    assert spearman(scores, humans) != spearman(scores, humans)


def test_agreement_says_undefined_for_constant_human_scores(tmp_path: Path) -> None:
    header = ["question", "reference_answer", "answer", "human_score", "max_score"]
    rows = [header] + [["q", "ref a b", f"answer {i}", "3", "5"] for i in range(4)]
    result = run(
        ["agreement", str(write_csv(tmp_path / "h.csv", rows)), "-q", "--embedder", "hashing"]
    )
    assert result.exit_code == 0, result.output
    assert "Pearson undefined (constant scores)" in result.output


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://x/v1", "must be an http:// or https:// URL"),
        ("not a url", "must be an http:// or https:// URL"),
        ("127.0.0.1:8080/v1", "must be an http:// or https:// URL"),
        ("http://[::1", "not a valid URL (Invalid IPv6 URL)"),
        ("http://127.0.0.1:99999/v1", "not a valid URL (Port out of range"),
    ],
)
def test_a_judge_url_that_is_not_http_is_refused_before_any_work(url: str, words: str) -> None:
    args = ["grade", "7", "-a", "x", "--embedder", "hashing", "--judge-model", "m"]
    line = one_line_error(run([*args, "--judge-base-url", url]))
    assert "setting 'judge_base_url'" in line and words in line


def test_a_non_ascii_api_key_is_one_line_that_never_shows_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ключ-secret")
    args = ["grade", "7", "-a", "x", "--embedder", "hashing", "--judge-model", "m"]
    result = run([*args, "--judge-base-url", "http://127.0.0.1:9/v1"])
    assert "OPENAI_API_KEY holds non-ASCII characters" in one_line_error(result)
    assert "secret" not in result.output and "ключ" not in result.output


def test_min_score_nan_is_not_a_number(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text("## Q7\n\n批量归一化。\n", encoding="utf-8")
    line = one_line_error(run(["check", str(note), "--min-score", "nan", "--embedder", "hashing"]))
    assert "finite number" in line


def test_front_matter_never_closed_fails_the_check(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text("---\nquestion: 7\n\n批量归一化对每个小批量做标准化。\n", encoding="utf-8")
    result = run(["check", str(note), "--embedder", "hashing", "--no-cache"])
    assert result.exit_code == 1
    assert "n.md:1: front matter is never closed" in result.output
    # A rule at the top of ordinary text is not front matter.
    note.write_text("---\n\n## Q7\n\n批量归一化对每个小批量做标准化。\n", encoding="utf-8")
    assert "1 answer checked" in run(["check", str(note), "--embedder", "hashing"]).output


# ---------------------------------------------------------------------------- answers' bytes


def test_non_utf8_stdin_and_answer_are_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["grade", "7", "-", "--embedder", "hashing"], input=b"caf\xe9"
    )
    assert "stdin:1: not UTF-8" in one_line_error(result)
    # Bytes that are not UTF-8 in argv reach Python as lone surrogates.
    result = run(
        ["grade", "7", "--embedder", "hashing", "-a", b"caf\xe9".decode("utf-8", "surrogateescape")]
    )
    assert "--answer:1: not UTF-8" in one_line_error(result)


def test_a_utf16_answer_file_is_read(tmp_path: Path) -> None:
    answer = tmp_path / "answer.txt"
    answer.write_bytes("批量归一化对每一层的输入做标准化。".encode("utf-16"))
    result = run(["grade", "7", str(answer), "--embedder", "hashing", "--json"])
    assert result.exit_code == 0, result.output
    assert "批量归一化对每一层的输入做标准化" in result.output


# ---------------------------------------------------------------------------- rubric files

HUGE_WEIGHT = """\
document: a
title: A
rubrics:
  - id: a-q1
    number: 1
    title: 什么是批量归一化？
    question: 什么是批量归一化？
    reference_answer: 批量归一化对每层输入做标准化。
    key_points:
      - {id: k1, text: 对每层输入按小批量做标准化。, weight: 1e308}
      - {id: k2, text: 可以使用更大的学习率。, weight: 1e308}
"""


def test_absurd_weights_are_refused_when_the_rubric_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "rubrics"
    folder.mkdir()
    (folder / "a.yaml").write_text(HUGE_WEIGHT, encoding="utf-8")
    line = one_line_error(run(["grade", "--rubrics", str(folder), "1", "-a", "标准化"]))
    assert "weight must be above 0 and at most 1000" in line


def test_lint_refuses_two_questions_with_one_number(tmp_path: Path) -> None:
    folder = tmp_path / "rubrics"
    folder.mkdir()
    twice = HUGE_WEIGHT.replace("1e308", "1") + HUGE_WEIGHT.split("rubrics:\n")[1].replace(
        "a-q1", "a-q2"
    ).replace("1e308", "1")
    (folder / "a.yaml").write_text(twice, encoding="utf-8")
    result = run(["rubrics", "lint", str(folder)])
    assert result.exit_code == 1
    assert "a-q2: number 1 is already a-q1's in document 'a'" in result.output


def test_an_api_key_in_pyproject_is_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.evaluator]\napi_key = "sk-x"\n', "utf-8")
    monkeypatch.chdir(tmp_path)
    line = one_line_error(run(["list"]))
    assert "do not put an API key in [tool.evaluator]; set OPENAI_API_KEY" in line
    assert "sk-x" not in line


def test_verbose_grade_shows_the_similarities() -> None:
    result = CliRunner().invoke(
        main, ["grade", "7", "-v", "--embedder", "hashing", "-a", "批量归一化对每一层的输入做标准化。"],
        terminal_width=80,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "key point" in line)
    assert "sim" in header


def test_a_header_only_csv_says_it_has_no_rows(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [["id", "question", "answer"]])
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        main, ["batch", str(source), "-o", str(out), "--embedder", "hashing", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "has a header but no data rows" in result.output
    assert out.read_text(encoding="utf-8").startswith("id,question,answer,")


def test_a_markdown_answer_file_is_graded_without_its_headings(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text(
        "---\ntags: [bn]\n---\n# 我的笔记\n\n## Q7\n\n批量归一化对每层输入做标准化。\n", "utf-8"
    )
    result = run(["grade", "7", str(note), "--embedder", "hashing", "--json"])
    assert result.exit_code == 0, result.output
    evidence = {k["evidence"] for k in json.loads(result.output)["key_points"]}
    assert evidence == {"批量归一化对每层输入做标准化。"}


@pytest.mark.parametrize("where", ["/proc/x", "a-file/sub"])
def test_rubrics_build_into_an_impossible_folder_is_one_line(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("x", "utf-8")
    seed = REPO / "seeds" / "000_7ace44ecab84a0b1.txt"
    out = where if where.startswith("/") else str(tmp_path / where)
    line = one_line_error(run(["rubrics", "build", str(seed), "--out", out]))
    assert "cannot create the rubric folder" in line
