"""`rubrics build` over a reviewed rubric file keeps the reviewers' comments (issue #27): each
at its place when the rebuilt file still has it, and any other named, one line per file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluator.cli import main
from evaluator.errors import RubricError
from evaluator.rubrics.comments import find_comments
from evaluator.rubrics.compile import build, compile_markdown
from evaluator.rubrics.io import load_document
from tests.helpers import REPO

SEED = REPO / "seeds" / "000_7ace44ecab84a0b1.txt"

TWO = """\
# Notes

## 1. Overfitting

Question: What is overfitting?

Answer:

- **Noise:** The model fits noise in the training data.
- **Gap:** Training loss is far below validation loss.

## 2. Learning rate

Question: What does the learning rate control?

Answer: The learning rate scales each gradient step of the optimiser.
"""


def _review(path: Path, edits: list[tuple[str, str]]) -> str:
    """Replace each `old` (it must be there, once) by `new` in the file, as a reviewer would."""
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return text


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_force_keeps_comments_at_the_top_on_a_rubric_on_a_key_point_and_at_the_end(
    tmp_path: Path,
) -> None:
    (path,) = build([SEED], tmp_path, document="llm-training")
    _review(path, [
        ("document: llm-training\n",
         "# Reviewed by Li, 2026-12-01.\n# Weights follow the syllabus.\ndocument: llm-training\n"),
        ("- id: llm-training-q3\n", "# ---- Q3: merged with Q26 later\n- id: llm-training-q3\n"),
        ("- id: llm-training-q7\n", "- id: llm-training-q7  # the core question\n"),
        # Q5: a comment above a key point, one after its weight, one under its fields.
        ("  - id: k3\n    label: 精确率（precision）\n    text: 衡量模型预测为正类的实际正类样本的比例。\n"
         "    weight: 1.0\n",
         "  # k3 repeats k2's definition in the seed\n  - id: k3\n    label: 精确率（precision）\n"
         "    text: 衡量模型预测为正类的实际正类样本的比例。\n    weight: 1.0  # was 2\n"
         "    # ask the course team\n"),
        # An edit of the data, so that only --force rebuilds.
        ("    label: 同步问题\n", "    label: 同步\n"),
    ])  # fmt: skip
    with path.open("a", encoding="utf-8") as fh:
        fh.write("# End of the review.\n")

    with pytest.raises(RubricError, match="edited since it was built"):
        build([SEED], tmp_path, document="llm-training")
    notes: list[str] = []
    build([SEED], tmp_path, document="llm-training", force=True, report=notes.append)
    assert notes[-1] == f"wrote {path} (30 questions, 8 comments kept)"

    lines = _lines(path)
    assert lines[:3] == [
        "# Reviewed by Li, 2026-12-01.",
        "# Weights follow the syllabus.",
        "document: llm-training",
    ]
    q3 = lines.index("- id: llm-training-q3")
    assert lines[q3 - 1] == "# ---- Q3: merged with Q26 later"
    assert "- id: llm-training-q7  # the core question" in lines
    q5 = lines.index("- id: llm-training-q5")
    k3 = lines.index("  - id: k3", q5)
    assert lines[k3 - 1] == "  # k3 repeats k2's definition in the seed"
    assert lines[k3 + 3 : k3 + 5] == ["    weight: 1.0  # was 2", "    # ask the course team"]
    assert lines[-1] == "# End of the review."
    # Comments change no data: the file is the fresh compile, edits gone (as --force says).
    fresh = compile_markdown(SEED.read_text(encoding="utf-8"), "seeds/000_7ace44ecab84a0b1.txt",
                             "llm-training")  # fmt: skip
    assert load_document(path).rubrics == fresh.rubrics
    assert "    label: 同步问题\n" in path.read_text(encoding="utf-8")


def test_a_rebuild_of_an_unedited_file_keeps_its_comments(tmp_path: Path) -> None:
    # Comments are not data: the file still matches its build hash, so no --force is needed,
    # and they used to vanish without a word.
    seed = tmp_path / "notes.md"
    seed.write_text(TWO, encoding="utf-8")
    (path,) = build([seed], tmp_path / "out")
    _review(path, [("- id: notes-q2\n", "# Q2 is new this term\n- id: notes-q2\n")])
    notes: list[str] = []
    build([seed], tmp_path / "out", report=notes.append)
    assert notes == [f"wrote {path} (2 questions, 1 comment kept)"]
    assert "# Q2 is new this term\n- id: notes-q2\n" in path.read_text(encoding="utf-8")


def test_a_comment_whose_place_is_gone_is_named_and_dropped_only_with_force(
    tmp_path: Path,
) -> None:
    seed = tmp_path / "notes.md"
    seed.write_text(TWO, encoding="utf-8")
    (path,) = build([seed], tmp_path / "out")
    _review(path, [
        ("document: notes\n", "# Kept: the header.\ndocument: notes\n"),
        ("  - id: k2\n", "  # Gap: measured on the dev set\n  - id: k2\n"),
        ("- id: notes-q2\n", "- id: notes-q2  # drop next term?\n"),
    ])  # fmt: skip
    reviewed = path.read_text(encoding="utf-8")
    gap_line = reviewed.splitlines().index("  # Gap: measured on the dev set") + 1
    q2_line = next(i for i, line in enumerate(reviewed.splitlines(), 1) if "notes-q2" in line)
    # The next edition of the document drops Q2 and Q1's second point.
    seed.write_text(TWO.split("## 2.")[0].replace(
        "- **Gap:** Training loss is far below validation loss.\n", ""), encoding="utf-8")  # fmt: skip

    with pytest.raises(RubricError) as refused:
        build([seed], tmp_path / "out")
    message = str(refused.value)
    assert message.startswith(f"{path}: rebuilding would drop 2 comments whose place is gone")
    assert f"line {gap_line} '# Gap: measured on the dev set'" in message
    assert f"line {q2_line} '# drop next term?'" in message
    assert "--force" in message and "\n" not in message
    assert path.read_text(encoding="utf-8") == reviewed  # nothing was written

    result = CliRunner().invoke(main, ["rubrics", "build", str(seed), "--out", str(tmp_path / "out"), "--force"])  # fmt: skip
    assert result.exit_code == 0, result.output
    said = [line for line in result.stdout.splitlines() if "dropped" in line]
    assert said == [
        f"{path}: dropped 2 comments whose place is gone from the rebuilt file (--force): "
        f"line {gap_line} '# Gap: measured on the dev set'; line {q2_line} '# drop next term?'"
    ]
    assert f"wrote {path} (1 question, 1 comment kept)" in result.stdout
    assert path.read_text(encoding="utf-8").startswith("# Kept: the header.\ndocument: notes\n")


def test_a_forced_rebuild_over_broken_yaml_says_its_comments_are_not_kept(
    tmp_path: Path,
) -> None:
    seed = tmp_path / "notes.md"
    seed.write_text(TWO, encoding="utf-8")
    target = tmp_path / "out" / "notes.yaml"
    target.parent.mkdir()
    target.write_text("# mine\nrubrics: [\n  # also mine\n", encoding="utf-8")
    notes: list[str] = []
    build([seed], tmp_path / "out", force=True, report=notes.append)
    assert (
        f"{target}: not valid YAML, so its 2 lines starting with '#' could not be kept as comments"
        in notes
    )


def test_only_real_comments_are_found() -> None:
    text = (
        "# top\n"
        "a: 'x # in quotes'  # after a value\n"
        "b: |-  # after a block header\n"
        "  # text of the block\n"
        "  c#d\n"
        "c: e#f\n"
        "  # indented, after everything\n"
    )
    found = [(c.line, c.text, c.own_line) for c in find_comments(text)]
    assert found == [
        (0, "# top", True),
        (1, "# after a value", False),
        (2, "# after a block header", False),
        (6, "# indented, after everything", True),
    ]
