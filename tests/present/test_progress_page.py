"""The progress page: self-contained, every piece of text escaped, its charts drawn, and loaded
in headless chromium with no console errors (the same checks as the batch report)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from evaluator.present.progress import Progress, QuestionProgress, ScorePoint, WeakPoint
from evaluator.present.progress_html import render_progress_html
from evaluator.present.progress_text import daily_means, sparkline
from tests.helpers import T0, chromium, run_chromium

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> </svg></text> & "q"'


def sample_progress(attempts: int = 12) -> Progress:
    """Two questions, one with attempts on an earlier rubric version, hostile text throughout."""
    timeline = [
        ScorePoint(
            at=T0 + timedelta(days=i // 3, hours=i % 3),
            question_id="q7" if i % 2 else "q11",
            number=7 if i % 2 else 11,
            score=min(100.0, 10.0 + 8 * i),
            method="embedding" if i % 3 else HOSTILE,
            current=i >= 2,
        )
        for i in range(attempts)
    ]
    questions = [
        QuestionProgress(
            question_id="q7",
            number=7,
            title=f"批量归一化 {HOSTILE}",
            attempts=5,
            earlier_attempts=1,
            last_score=98,
            best_score=98,
            trend=16,
            next_due=T0 + timedelta(days=9),
            due_now=False,
        ),
        QuestionProgress(
            question_id="q11",
            number=11,
            title="What is knowledge distillation?",
            attempts=5,
            earlier_attempts=1,
            last_score=90,
            best_score=90,
            trend=None,
            next_due=T0,
            due_now=True,
        ),
    ]
    weakest = [
        WeakPoint(
            question_id="q7",
            number=7,
            title=HOSTILE,
            key_point_id="k1",
            label=HOSTILE,
            text=f"标准化 {HOSTILE}",
            missed=3,
            graded=5,
        )
    ]
    return Progress(
        generated_at=T0 + timedelta(days=5),
        history=HOSTILE,
        attempts=attempts,
        not_started=28,
        questions=questions,
        weakest=weakest,
        timeline=timeline,
    )


def test_page_is_self_contained_and_escapes_everything() -> None:
    page = render_progress_html(sample_progress())
    assert "<script" not in page and "<img" not in page  # only as escaped text
    assert "&lt;script&gt;" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "default-src 'none'" in page
    for chart in ("score-timeline", "mastery", "weakest-key-points"):
        assert page.count(f'id="{chart}"') == 1
    assert page.count('<circle class="attempt"') == 12
    assert page.count('fill="#fff" stroke=') == 2  # the earlier-rubric attempts are hollow
    assert page.count("<polyline") == 1
    assert "earlier version of their rubric" in page


def test_an_empty_progress_renders() -> None:
    progress = sample_progress(0).model_copy(update={"questions": [], "weakest": []})
    page = render_progress_html(progress)
    assert "no attempts yet" in page and "nothing missed" in page


def test_sparkline_and_daily_means() -> None:
    assert sparkline([0, 50, 100]) == "▁▅█"
    days = daily_means(sample_progress().timeline)
    assert [count for _, _, count in days] == [3, 3, 3, 3]
    assert days[0][1] == pytest.approx((10 + 18 + 26) / 3)


@pytest.mark.browser
def test_progress_page_renders_in_chromium_without_console_errors(tmp_path: Path) -> None:
    binary = chromium()
    page = tmp_path / "progress.html"
    page.write_text(render_progress_html(sample_progress()), "utf-8")
    dom, console = run_chromium(binary, page, tmp_path / "profile", "--dump-dom")
    assert console == []
    for chart in ("score-timeline", "mastery", "weakest-key-points"):
        assert re.search(rf'<svg[^>]*id="{chart}"', dom), chart
    assert len(re.findall(r'<circle class="attempt"', dom)) == 12
    assert len(re.findall(r'<circle class="last"', dom)) == 2
    assert "<script" not in dom and "&lt;script&gt;" in dom

    shot = tmp_path / "progress.png"
    _, console = run_chromium(
        binary, page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,1400"
    )
    assert console == []
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
