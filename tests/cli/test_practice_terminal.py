"""`evaluator practice` in a real terminal: tmux runs it, send-keys types (Chinese included),
capture-pane reads the screen. Two questions answered, Ctrl-C, a restart a day later: the
answered questions come back as due reviews, most overdue first, before new ones."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from evaluator.practice.store import History
from tests.helpers import REPO, SEED_SUBSET_RUBRICS, T0, require, write_rubrics

# Typed line by line; the second line of the first answer checks that Enter makes a new line.
Q3_ANSWER = [
    "数据增强是通过对原始数据做变换来生成更多的训练样本。",
    "例如对图像进行旋转、缩放、随机裁剪。",
]
Q7_ANSWER = ["不太清楚。"]


class Pane:
    """One tmux server (its own socket) running one command in a wide pane."""

    def __init__(self, socket: str, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env
        self.started = 0
        self.target = ""

    def tmux(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            env=self.env,
            check=True,
        )
        return out.stdout

    def start(self, command: str) -> None:
        # The shell prints the exit code and keeps the pane open so it can be read. Each start is
        # a new session of the same server (restarting a server on its socket can race).
        self.started += 1
        self.target = f"practice{self.started}"
        self.tmux(
            "new-session", "-d", "-s", self.target, "-x", "110", "-y", "50",
            f"{command}; echo EXIT:$?; sleep 600",
        )  # fmt: skip

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", self.target, "-S", "-1000")

    def wait_for(self, text: str, times: int = 1, timeout: float = 60) -> str:
        """The screen once `text` is on it `times` times (polled, not slept)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen.count(text) >= times:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear; the screen:\n{self.screen()}")

    def type_lines(self, lines: list[str]) -> None:
        for line in lines:
            self.tmux("send-keys", "-t", self.target, "-l", line)
            self.tmux("send-keys", "-t", self.target, "Enter")
        self.tmux("send-keys", "-t", self.target, "Enter")  # the empty line that ends it

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.target, *keys)

    def stop(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], capture_output=True, env=self.env
        )


@pytest.fixture
def pane() -> Iterator[Pane]:
    require(shutil.which("tmux") is not None, "tmux is not installed (make test installs it)")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "xterm-256color",
    }
    env.pop("TMUX", None)  # never attach to a tmux the tests themselves run in
    made = Pane(f"evaluator-test-{uuid.uuid4().hex[:8]}", env)
    yield made
    made.stop()


def practice_command(rubrics: Path, history: Path, now: str) -> str:
    return (
        f"{sys.executable} -m evaluator.cli practice --rubrics {rubrics} --history {history} "
        f"--embedder hashing --lang en --now {now}"
    )


def test_answer_two_ctrl_c_restart_and_the_due_queue_is_right(pane: Pane, tmp_path: Path) -> None:
    rubrics = write_rubrics(tmp_path / "rubrics", SEED_SUBSET_RUBRICS)
    history = tmp_path / "history.sqlite3"

    pane.start(practice_command(rubrics, history, T0.isoformat()))
    screen = pane.wait_for("› ")
    assert "Practice: 0 due, 4 new this session; 4 in play." in screen
    assert "Graded by: embeddings alone (no judge configured)." in screen
    assert "Q3 · new" in screen

    pane.type_lines(Q3_ANSWER)
    screen = pane.wait_for("Enter: next question")
    assert "Next review of Q3:" in screen and "method: embedding" in screen
    pane.keys("Enter")
    pane.wait_for("Q7 · new")
    pane.wait_for("› ", times=2)  # keys typed before the prompt is up would be lost
    pane.type_lines(Q7_ANSWER)
    pane.wait_for("Next review of Q7: in 1 min.")
    pane.keys("r", "Enter")  # the reference answer on request
    pane.wait_for("Enter: next question", times=3)
    assert "Reference answer" in pane.screen()
    pane.keys("Enter")
    pane.wait_for("Q8 · new")
    pane.wait_for("› ", times=3)
    pane.keys("C-c")
    screen = pane.wait_for("EXIT:")
    assert "Saved 2 attempts" in screen and "EXIT:130" in screen
    assert "Traceback" not in screen

    store = History(history)
    attempts = store.attempts()
    store.close()
    assert [a.question_id for a in attempts] == ["llm-training-q3", "llm-training-q7"]
    assert attempts[0].answer == "\n".join(Q3_ANSWER)  # Chinese, two lines, as typed
    assert attempts[1].answer == Q7_ANSWER[0] and attempts[1].rating == 1  # again: 1 min
    assert attempts[0].due > attempts[1].due

    later = T0 + timedelta(days=60)  # both reviews are due by then
    pane.start(practice_command(rubrics, history, later.isoformat()))
    screen = pane.wait_for("› ")
    assert "Practice: 2 due, 2 new this session; 4 in play." in screen
    assert "Q7 · review, due 60 days ago" in screen  # the most overdue first
    pane.keys("s", "Enter")
    pane.wait_for("Q3 · review, due")
    pane.wait_for("› ", times=2)
    pane.keys("q", "Enter")
    screen = pane.wait_for("EXIT:")
    assert "Saved 0 attempts" in screen and "EXIT:0" in screen


def test_a_pasted_answer_keeps_its_empty_lines(pane: Pane, tmp_path: Path) -> None:
    """Lines already waiting when an empty line is read are a paste: they belong to the answer."""
    rubrics = write_rubrics(tmp_path / "rubrics", SEED_SUBSET_RUBRICS)
    history = tmp_path / "history.sqlite3"
    pane.start(practice_command(rubrics, history, T0.isoformat()))
    pane.wait_for("› ")
    pasted = "数据增强是对原始数据做变换。\n\n例如旋转、裁剪图像。"
    pane.tmux("set-buffer", pasted)
    pane.tmux("paste-buffer", "-t", pane.target)
    pane.wait_for("例如旋转、裁剪图像。")
    pane.keys("Enter")  # the paste's last line
    pane.keys("Enter")  # the empty line that ends the answer
    pane.wait_for("Enter: next question")
    pane.keys("q", "Enter")
    assert "EXIT:0" in pane.wait_for("EXIT:")
    store = History(history)
    assert [a.answer for a in store.attempts()] == [pasted]
    store.close()
