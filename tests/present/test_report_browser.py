"""The batch report: streaming statistics, escaping of untrusted text, and the HTML page loaded
in a real headless browser (Debian's chromium) with no console errors and its charts drawn."""

from __future__ import annotations

import random
import re
import statistics
from pathlib import Path
from typing import Any

import pytest

from evaluator.batch import BatchOptions, run_batch
from evaluator.present.html import render_html
from evaluator.present.summary import MAX_MISSED_KEYS, RowView, Summary
from evaluator.settings import Settings
from tests.helpers import EN_GOOD, ZH_GOOD, chromium, run_chromium, write_csv, write_rubrics

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> </svg></text> & "q"'


def view(i: int, score: float | None, question: str = "q1", **kw: Any) -> RowView:
    return RowView(row=i, id=f"r{i}", question_id=question, score=score, band="fair", **kw)


# ---------------------------------------------------------------------------- statistics


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_median_and_mean_are_exact(n: int) -> None:
    rng = random.Random(n)
    scores = [round(rng.uniform(0, 100), 1) for _ in range(n)]
    summary = Summary()
    for i, s in enumerate(scores):
        summary.add(view(i, s, method="embedding"))
    assert summary.median == pytest.approx(statistics.median(scores))
    assert summary.mean == pytest.approx(statistics.fmean(scores))
    assert sum(c for _, _, c in summary.histogram()) == n
    assert summary.methods == {"embedding": n}


def test_histogram_bins_and_edges() -> None:
    summary = Summary()
    for i, s in enumerate([0, 9.9, 10, 55, 99.9, 100, 100]):
        summary.add(view(i, s))
    counts = [c for _, _, c in summary.histogram()]
    assert counts == [2, 1, 0, 0, 0, 1, 0, 0, 0, 3]


def test_errors_are_counted_apart_from_scores() -> None:
    summary = Summary()
    summary.add(view(1, 50))
    summary.add(view(2, None, error="unknown question"))
    assert (summary.rows, summary.graded, summary.errors) == (2, 1, 1)
    assert summary.mean == 50 and summary.error_examples[0].error == "unknown question"


def test_per_question_spread_and_most_missed() -> None:
    summary = Summary()
    for i, s in enumerate([40, 60, 80]):
        summary.add(view(i, s, "q2", question_title="Second", missed=["kp-a"] if s < 70 else []))
    summary.add(view(9, 90, "q10", missed=["kp-b"]))
    rows = summary.question_rows()
    assert [qid for qid, _, _ in rows] == ["q2", "q10"]  # natural order
    q2 = rows[0][2]
    assert (q2.title, q2.count, q2.mean, q2.low, q2.high) == ("Second", 3, 60, 40, 80)
    assert q2.stdev == pytest.approx(20)
    top = summary.top_missed()
    assert top[0] == ("Second", "kp-a", 2, pytest.approx(2 / 3))


def test_memory_stays_bounded() -> None:
    summary = Summary(max_rows=50)
    for i in range(3000):
        summary.add(
            view(i, i % 101, f"q{i}", missed=[f"k{i}-{j}" for j in range(10)], answer="x" * 1000)
        )
    assert len(summary.table) == 50
    assert all(len(v.answer) <= 301 for v in summary.table)
    assert len(summary.questions) <= 501
    assert len(summary.missed) <= MAX_MISSED_KEYS
    assert summary.missed_pruned


# ---------------------------------------------------------------------------- HTML


def sample_summary(tmp_path: Path, rows: int = 40) -> Summary:
    """A real batch (hashing embedder) with hostile text in answers and question titles."""
    rng = random.Random(4)
    data = [["id", "question", "answer", "note"]]
    for i in range(rows):
        q, text = rng.choice([("7", ZH_GOOD), ("11", EN_GOOD), ("11", "pasta and sauce")])
        data.append([f"s{i}", q, text if i % 7 else HOSTILE, HOSTILE])
    data.append(["bad", HOSTILE, "x", ""])
    src = write_csv(tmp_path / "in.csv", data)
    settings = Settings(
        embedder="hashing", rubrics=write_rubrics(tmp_path / "rubrics"), cache_dir=tmp_path / "c"
    )
    result = run_batch(BatchOptions(input=src, output=tmp_path / "out.csv"), settings)
    return result.summary


def test_page_is_self_contained_and_escapes_everything(tmp_path: Path) -> None:
    summary = sample_summary(tmp_path)
    page = render_html(summary, source=HOSTILE)
    assert "<script" not in page and "<img" not in page  # only as escaped text
    assert "&lt;script&gt;" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)  # no network
    assert "default-src 'none'" in page
    for chart in ("score-histogram", "question-means", "missed-key-points"):
        assert page.count(f'id="{chart}"') == 1
    assert page.count("<tr") == summary.rows + 1  # every row fits under the cap here


def test_table_is_capped_with_a_note(tmp_path: Path) -> None:
    summary = Summary(max_rows=5)
    for i in range(12):
        summary.add(view(i, 50.0))
    page = render_html(summary)
    assert page.count("<tr") == 6
    assert "The table shows the first 5 of 12 rows" in page


# ---------------------------------------------------------------------------- browser


@pytest.mark.browser
def test_report_renders_in_chromium_without_console_errors(tmp_path: Path) -> None:
    binary = chromium()
    page = tmp_path / "report.html"
    page.write_text(render_html(sample_summary(tmp_path), source="in.csv → out.csv"), "utf-8")

    # The console check must be able to fail: a page that breaks its own policy is caught.
    control = tmp_path / "control.html"
    control.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'\"></head><body><script>1</script></body></html>",
        "utf-8",
    )
    _, control_console = run_chromium(binary, control, tmp_path / "profile", "--dump-dom")
    assert control_console, "console messages are not being captured"

    dom, console = run_chromium(binary, page, tmp_path / "profile", "--dump-dom")
    assert console == []
    for chart in ("score-histogram", "question-means", "missed-key-points"):
        assert re.search(rf'<svg[^>]*id="{chart}"', dom), chart
    assert len(re.findall(r'<rect class="bar"', dom)) == 10
    assert len(re.findall(r'<circle class="mean"', dom)) == 2
    assert dom.count("<tr") == 42  # header + 41 rows
    assert "<script" not in dom and "&lt;script&gt;" in dom

    shot = tmp_path / "report.png"
    _, console = run_chromium(
        binary, page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,1800"
    )
    assert console == []
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000


def _text_shot(binary: str, tmp_path: Path, name: str, text: str) -> bytes:
    page = tmp_path / f"{name}.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head>"
        f"<body style='margin:0;background:#fff'><p style='font-size:40px'>{text}</p></body></html>",
        "utf-8",
    )
    shot = tmp_path / f"{name}.png"
    run_chromium(
        binary,
        page,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=600,300",  # much smaller, and a fresh profile's shot comes out blank
    )
    return shot.read_bytes()


@pytest.mark.browser
def test_chinese_labels_render_as_glyphs_not_boxes(tmp_path: Path) -> None:
    """Without a CJK font every Chinese character is drawn as the same empty box, exactly like
    characters no font has (private-use code points): the screenshots would be equal."""
    binary = chromium()
    boxes = _text_shot(binary, tmp_path, "boxes", "\ue000\ue001\ue002\ue003\ue004")
    other_boxes = _text_shot(binary, tmp_path, "boxes2", "\ue010\ue011\ue012\ue013\ue014")
    chinese = _text_shot(binary, tmp_path, "chinese", "批量归一化")
    assert boxes == other_boxes, "the control must render missing glyphs identically"
    assert chinese != boxes, "Chinese renders as empty boxes: install a CJK font (make browser)"


def test_a_label_two_key_points_share_counts_once_per_answer() -> None:
    # Q2 once had two "混合精度训练" points: an answer missing both counted twice (125 %).
    summary = Summary()
    for i in range(4):
        summary.add(view(i, 30, missed=["混合精度训练", "混合精度训练", "模型剪枝"]))
    assert {name: share for _, name, _, share in summary.top_missed()} == {
        "混合精度训练": 1.0,
        "模型剪枝": 1.0,
    }
