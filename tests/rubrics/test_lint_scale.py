"""`rubrics lint` on large rubric sets (issue #27): the work grows with the questions and their
related pairs, not with all pairs, and the findings are those of comparing every pair.

No timing here (benchmarks/lint_scale.py times it): these tests count the work instead."""

from __future__ import annotations

import difflib
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

import evaluator.cli.rubrics as rubrics_cli
from evaluator.cli import main
from evaluator.rubrics import similarity as similarity_module
from evaluator.rubrics.compile import compile_markdown
from evaluator.rubrics.io import dump_document, load_rubrics
from evaluator.rubrics.lint import lint, lint_path
from evaluator.rubrics.model import KeyPoint, Rubric, RubricDocument
from tests.helpers import REPO

LABELS = ("概念", "作用", "优点", "实现方式")
SEED = REPO / "seeds" / "000_7ace44ecab84a0b1.txt"


def _words(rng: random.Random, n: int) -> str:
    return "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(n))


def generated(n: int, seed: int = 7) -> RubricDocument:
    """`n` questions in two templates on unrelated topics, where every tenth question re-asks
    the one before it word for word, and every tenth-plus-fifth asks about the previous topic
    in the other template with one of its key points copied: n // 10 duplicates of each kind."""
    rng = random.Random(seed)
    templates = (("什么是{}？", "请解释{}的概念，并阐述其作用。"),
                 ("如何优化{}？", "请列举两种优化{}的方法，并比较它们。"))  # fmt: skip
    rubrics: list[Rubric] = []
    for number in range(1, n + 1):
        previous = rubrics[-1] if rubrics else None
        topic = _words(rng, 3)
        title, question = (t.format(topic) for t in templates[number % 2])
        points = [(label, f"{topic}通过{_words(rng, 6)}来{_words(rng, 5)}。") for label in LABELS]
        if previous is not None and number % 10 == 0:
            title, question = previous.title, previous.question
        elif previous is not None and number % 10 == 5:
            topic = previous.key_points[0].text[:3]
            title, question = (t.format(topic) for t in templates[number % 2])  # not previous's
            points[1] = (previous.key_points[2].label, previous.key_points[2].text)
        rubrics.append(
            Rubric(
                id=f"g-q{number}",
                number=number,
                title=title,
                question=question,
                reference_answer="".join(text for _, text in points),
                key_points=[
                    KeyPoint(id=f"k{i}", label=label, text=text)
                    for i, (label, text) in enumerate(points, 1)
                ],
                explanation="解析。",
            )
        )
    return RubricDocument(document="g", rubrics=rubrics)


def _work(
    doc: RubricDocument, monkeypatch: pytest.MonkeyPatch, duplicates: int | None = None
) -> dict[str, int]:
    """Lint `doc`, counting the Python-level question similarities, difflib comparisons and
    rubric equality tests it makes (the old all-pairs loop made the first for every pair)."""
    counts = {"similarities": 0, "text comparisons": 0, "rubric equality": 0}
    similarity, matcher, equal = (
        similarity_module.QuestionSimilarity.__call__,
        difflib.SequenceMatcher,
        Rubric.__eq__,
    )

    def counted(name: str, real):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            counts[name] += 1
            return real(*args, **kwargs)

        return wrapper

    with monkeypatch.context() as patch:
        patch.setattr(
            similarity_module.QuestionSimilarity, "__call__", counted("similarities", similarity)
        )
        patch.setattr(difflib, "SequenceMatcher", counted("text comparisons", matcher))
        patch.setattr(Rubric, "__eq__", counted("rubric equality", equal))
        findings = lint([doc])
    dupes = [f for f in findings if f.code == "duplicate-question"]
    expected = 2 * (len(doc.rubrics) // 10) if duplicates is None else duplicates
    assert len(dupes) == expected, [str(f) for f in findings]
    return counts


def test_lint_work_grows_linearly_with_the_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    small, large = (_work(generated(n), monkeypatch) for n in (60, 240))
    all_pairs = 240 * 239 // 2
    for name in ("similarities", "text comparisons"):
        # Four times the questions: about four times the work, not sixteen.
        assert large[name] <= 5 * max(small[name], 1), (name, small, large)
        assert large[name] < all_pairs / 20, (name, large)


def test_overlaps_are_ordered_without_comparing_rubrics(monkeypatch: pytest.MonkeyPatch) -> None:
    # The seed has overlaps (Q21 with Q2 and Q15) spread over duplicates (Q2, Q15). Ordering
    # them by `rubrics.index` compared whole rubrics, O(N) each: cubic over a large set.
    seed = compile_markdown(SEED.read_text(encoding="utf-8"), "seed.md", "llm-training")
    counts = _work(seed, monkeypatch, duplicates=3)
    assert counts["rubric equality"] == 0


def test_the_bundled_rubrics_lint_exactly_as_before() -> None:
    # `rubrics lint rubrics/` before the index, word for word.
    assert [str(f) for f in lint(load_rubrics(REPO / "rubrics"))] == [
        "info: llm-training-q15: duplicates llm-training-q2: related question (similarity 0.46) "
        "and the same key point '利用 GPU 等加速器的大规模并行计算能力，显著提高模型训…'; "
        "already marked with duplicate_of",
        "info: llm-training-q26: overlaps llm-training-q3: both have the key point "
        "'数据增强的概念'; already marked with duplicate_of",
        "info: llm-training-q28: duplicates llm-training-q14: near-identical question "
        "(similarity 1.00); already marked with duplicate_of",
    ]


# ---------------------------------------------------------------------------- progress


def test_lint_reports_its_progress_to_the_end_of_each_stage(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(dump_document(generated(40)), encoding="utf-8")
    seen: dict[str, tuple[int, int]] = {}
    findings = lint_path(path, lambda what, done, total: seen.update({what: (done, total)}))
    assert findings == lint_path(path)
    assert seen["checking questions"] == (40, 40)
    done, total = seen["comparing related questions"]
    assert done == total > 0
    assert "reading rubric files" in seen


def test_a_long_lint_shows_progress_on_stderr_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(dump_document(generated(40)), encoding="utf-8")
    quiet = CliRunner().invoke(main, ["rubrics", "lint", str(path)])
    assert quiet.exit_code == 0 and quiet.stderr == ""  # a quick lint prints no progress
    monkeypatch.setattr(rubrics_cli, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(rubrics_cli, "PROGRESS_EVERY", 0.0)
    shown = CliRunner().invoke(main, ["rubrics", "lint", str(path)])
    assert shown.exit_code == 0
    assert shown.stdout == quiet.stdout
    assert "rubrics lint: checking questions 40/40" in shown.stderr
    assert "rubrics lint: comparing related questions" in shown.stderr
