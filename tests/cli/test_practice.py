"""`evaluator practice` driven through a pipe (the terminal itself: test_practice_terminal.py):
answers, skips, empty answers, bad question lists and a damaged history file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluator.cli import main
from evaluator.practice.store import History
from tests.fake_openai import FakeOpenAI, judge_json
from tests.helpers import SEED_SUBSET_RUBRICS, T0, write_rubrics

pytest_plugins = ["tests.fake_openai"]

ZH_ANSWER = (
    "数据增强是通过对原始数据做变换来生成更多的训练样本。\n例如对图像进行旋转、缩放、随机裁剪。"
)


@pytest.fixture
def rubrics(tmp_path: Path) -> Path:
    return write_rubrics(tmp_path / "rubrics", SEED_SUBSET_RUBRICS)


def practise(rubrics: Path, history: Path, typed: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main,
        [
            "practice", "--rubrics", str(rubrics), "--history", str(history),
            "--embedder", "hashing", "--now", T0.isoformat(), *args,
        ],
        input=typed,
    )  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


def test_a_piped_session_answers_skips_and_quits(rubrics: Path, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite3"
    typed = f"{ZH_ANSWER}\n\nr\n\ns\nq\n"
    code, out, err = practise(rubrics, history, typed)
    assert code == 0, err
    assert "Q3 · new" in out and "Next review of Q3: in 10 min." in out
    assert "Graded by: embeddings alone (no judge configured)." in out
    assert "method: embedding" in out and "What to study next:" in out
    assert "Reference answer" in out  # after `r`
    assert "Skipped until the next session." in out  # Q7
    assert "Q8 · new" in out and "Saved 1 attempt to" in out
    store = History(history)
    [attempt] = store.attempts()
    store.close()
    assert attempt.answer == ZH_ANSWER and attempt.question_id == "llm-training-q3"


def test_the_screen_says_when_the_judge_grades(
    rubrics: Path, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reply(
        judge_json(dict.fromkeys(("definition", "examples", "generalisation"), "covered"))
    )
    judge = ["--judge-model", "fake-judge", "--judge-base-url", fake_openai.base_url, "--no-cache"]
    code, out, err = practise(rubrics, tmp_path / "h.sqlite3", f"{ZH_ANSWER}\n\nq\n", *judge)
    assert code == 0, err
    assert "Graded by: the LLM judge (fake-judge) with embeddings." in out
    assert "method: embedding+judge" in out and len(fake_openai.chat_requests) == 1
    store = History(tmp_path / "h.sqlite3")
    assert [a.method for a in store.attempts()] == ["embedding+judge"]
    store.close()


def test_an_empty_answer_is_asked_again(rubrics: Path, tmp_path: Path) -> None:
    code, out, _ = practise(rubrics, tmp_path / "h.sqlite3", "\n   \nq\n")
    assert code == 0
    assert out.count("Empty answer: type your answer, or s to skip, q to quit.") == 2
    assert "Saved 0 attempts" in out


def test_end_of_input_ends_the_session(rubrics: Path, tmp_path: Path) -> None:
    code, out, _ = practise(rubrics, tmp_path / "h.sqlite3", "数据增强就是变换数据。")
    assert code == 0 and "Saved 1 attempt to" in out  # Ctrl-D ends the answer, then the session


def test_new_limit_and_due_only(rubrics: Path, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite3"
    code, out, _ = practise(rubrics, history, "a\n\n\n", "--new", "1")
    assert code == 0 and "0 due, 1 new this session" in out
    assert "Nothing more to practise now." in out and "Next review: Q3 in 1 min." in out
    code, out, _ = practise(rubrics, history, "", "--due-only")
    assert code == 0 and "0 due, 0 new this session" in out
    assert "Nothing more to practise now." in out


@pytest.mark.parametrize(
    ("spec", "message"),
    [("1-10", "'1-10': no question 1, 2, 4, 5, 6 …"), ("9-3", "a range goes low to high")],
)
def test_unknown_question_ranges_are_one_line(
    rubrics: Path, tmp_path: Path, spec: str, message: str
) -> None:
    code, _, err = practise(rubrics, tmp_path / "h.sqlite3", "", "--questions", spec)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_damaged_history_is_kept_and_reset_only_when_asked(rubrics: Path, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite3"
    history.write_bytes(b"\x00garbage" * 64)
    code, out, err = practise(rubrics, history, "q\n")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "not a readable practice history" in err and "--reset-history" in err
    assert history.read_bytes() == b"\x00garbage" * 64

    code, out, err = practise(rubrics, history, "q\n", "--reset-history")
    assert code == 0, err
    backups = list(tmp_path.glob("h.sqlite3.*.bak"))
    assert [b.read_bytes() for b in backups] == [b"\x00garbage" * 64]
    assert f"The old history was moved to {backups[0]}" in out


def test_an_edited_rubric_is_said_to_start_afresh(rubrics: Path, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite3"
    practise(rubrics, history, f"{ZH_ANSWER}\n\nq\n")
    path = rubrics / "llm-training.yaml"
    path.write_text(
        path.read_text("utf-8").replace("例如对图像进行旋转", "例如对图像做旋转"), "utf-8"
    )
    code, out, _ = practise(rubrics, history, "q\n")
    assert code == 0
    assert "Q3 · rubric changed since your last attempt: its schedule starts afresh" in out


def test_chinese_prompts(rubrics: Path, tmp_path: Path) -> None:
    code, out, _ = practise(rubrics, tmp_path / "h.sqlite3", "\nq\n", "--lang", "zh")
    assert code == 0
    assert "练习：本次 0 道到期复习，4 道新题；可练 4 道。" in out
    assert "评分方式：仅语义相似度（未配置评审模型）。" in out
    assert "答案为空：请作答，或输入 s 跳过、q 退出。" in out


def test_the_command_line_loads_no_scheduler_until_practice_runs() -> None:
    code = "import sys, evaluator.cli\nprint('fsrs' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def progress(rubrics: Path, history: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main,
        ["progress", "--rubrics", str(rubrics), "--history", str(history), *args],
    )
    return result.exit_code, result.stdout, result.stderr


def test_progress_before_any_practice_creates_nothing(rubrics: Path, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite3"
    code, out, _ = progress(rubrics, history)
    assert code == 0 and "No practice yet" in out and "evaluator practice" in out
    assert not history.exists()


def test_one_attempt_is_counted_in_the_singular(rubrics: Path, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite3"
    code, out, err = practise(rubrics, history, f"{ZH_ANSWER}\n\n\nq\n")
    assert code == 0, err
    assert "Saved 1 attempt to" in out
    code, out, err = progress(rubrics, history, "--html", str(tmp_path / "p.html"))
    assert code == 0, err
    assert "1 attempt on 1 question ·" in out and "(1 attempt)" in out
    assert "— 1 attempt, last" in (tmp_path / "p.html").read_text("utf-8")


def test_progress_text_json_and_html(rubrics: Path, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite3"
    practise(rubrics, history, f"{ZH_ANSWER}\n\n\n不知道\n\nq\n")
    code, out, err = progress(rubrics, history, "--html", str(tmp_path / "p.html"))
    assert code == 0, err
    assert "2 attempts on 2 questions" in out and "2 not started" in out
    assert "Weakest key points" in out and "Scores over time" in out
    assert f"Wrote {tmp_path / 'p.html'}" in out
    page = (tmp_path / "p.html").read_text("utf-8")
    assert page.count('<circle class="attempt"') == 2

    code, out, _ = progress(rubrics, history, "--json")
    data = json.loads(out)
    assert [q["number"] for q in data["questions"]] == [3, 7]
    assert data["attempts"] == 2 and data["weakest"]


def test_progress_on_a_damaged_history_is_one_line(rubrics: Path, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite3"
    history.write_bytes(b"garbage")
    code, _, err = progress(rubrics, history)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "--reset-history" in err
    assert history.read_bytes() == b"garbage"


def test_minus_q_is_not_questions_here_because_it_is_quiet_elsewhere(
    rubrics: Path, tmp_path: Path
) -> None:
    code, _, err = practise(rubrics, tmp_path / "h.sqlite3", "q\n", "-q", "7")
    assert code == 2 and "No such option '-q'" in err
    code, _, _ = practise(rubrics, tmp_path / "h.sqlite3", "q\n", "--questions", "7")
    assert code == 0
