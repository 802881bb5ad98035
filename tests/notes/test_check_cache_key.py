"""The check cache keys on what a grade depends on: an edit to the scoring or judge code, the
calibration, the Grade model, the judge prompts or the rubric retires cached grades."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evaluator.notes.check import check_files
from evaluator.scoring import fingerprint as identity_module
from evaluator.scoring.fingerprint import grading_code_digest
from evaluator.settings import Settings, load_settings
from tests.helpers import GOOD_BN, REPO, SEED_SUBSET_RUBRICS, write_rubrics

# One file of each kind that decides a grade.
DECIDING = [
    "evaluator/scoring/grader.py",
    "evaluator/scoring/coverage.py",
    "evaluator/scoring/calibration.py",
    "evaluator/scoring/feedback.py",
    "evaluator/scoring/embedding/backends.py",
    "evaluator/judge/client.py",
    "evaluator/injection.py",
    "evaluator/result.py",
    "evaluator/text.py",
    "prompts/judge_system.txt",
    "prompts/judge_user.txt",
]


def test_every_deciding_file_is_hashed() -> None:
    hashed = {p.resolve() for p in identity_module._grading_files()}
    for name in DECIDING:
        assert (REPO / name).resolve() in hashed, name


def test_what_is_hashed_follows_the_imports_not_a_list() -> None:
    """Every evaluator module that grading an answer loads (the judge's too) is hashed: the
    digest reads the grader's imports, so a module moved or added is covered by itself."""
    script = (
        "import sys\n"
        "from evaluator.rubrics.model import Rubric\n"
        "from evaluator.scoring.grader import Grader\n"
        "from evaluator.settings import Settings\n"
        "settings = Settings(use_cache=False, judge_model='m', judge_base_url='http://127.0.0.1:9/v1')\n"
        "Grader.from_settings(settings.model_copy(update={'embedder': 'hashing'})).grade(\n"
        "    Rubric(id='q', number=1, title='蒸馏', question='什么是蒸馏？', reference_answer='学生',\n"
        "           key_points=[{'id': 'k1', 'text': '学生模型学习教师模型'}]), '学生模型学习教师模型。')\n"
        "for name, module in sorted(sys.modules.items()):\n"
        "    if name.startswith('evaluator') and getattr(module, '__file__', None):\n"
        "        print(module.__file__)\n"
    )
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.split()
    hashed = {p.resolve() for p in identity_module._grading_files()}
    missing = sorted(
        str(Path(f).resolve().relative_to(REPO)) for f in loaded if Path(f).resolve() not in hashed
    )
    assert not missing, missing


@pytest.mark.parametrize("name", DECIDING)
def test_editing_any_deciding_file_changes_the_digest(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies = []
    for path in identity_module._grading_files():
        copy = tmp_path / path.relative_to(REPO).as_posix().replace("/", "__")
        shutil.copyfile(path, copy)
        copies.append(copy)
    monkeypatch.setattr(identity_module, "_grading_files", lambda: copies)
    grading_code_digest.cache_clear()
    before = grading_code_digest()
    edited = tmp_path / name.replace("/", "__")
    edited.write_bytes(edited.read_bytes() + b"\n# edited\n")
    grading_code_digest.cache_clear()
    try:
        assert grading_code_digest() != before
    finally:
        grading_code_digest.cache_clear()


def cached_note(tmp_path: Path) -> tuple[Path, Settings]:
    """A note on Q7 checked once, so its grade is in the cache."""
    write_rubrics(tmp_path / "rubrics", SEED_SUBSET_RUBRICS)
    note = tmp_path / "good.md"
    note.write_text(GOOD_BN, encoding="utf-8")
    settings = load_settings(
        {"embedder": "hashing", "cache_dir": tmp_path / "c", "rubrics": tmp_path / "rubrics"},
        start=tmp_path,
    )
    check_files([note], settings)
    assert check_files([note], settings).cached == 1
    return note, settings


def edit_rubrics(tmp_path: Path, old: str, new: str) -> None:
    rubric_file = tmp_path / "rubrics" / "llm-training.yaml"
    text = rubric_file.read_text(encoding="utf-8")
    assert old in text
    rubric_file.write_text(text.replace(old, new), encoding="utf-8")


def test_a_code_change_and_a_rubric_edit_each_miss_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note, settings = cached_note(tmp_path)
    monkeypatch.setattr(identity_module, "grading_code_digest", lambda: "another-version")
    assert check_files([note], settings).cached == 0
    monkeypatch.undo()
    edit_rubrics(tmp_path, "加速模型收敛}", "加快模型收敛}")  # Q7, the question answered
    assert check_files([note], settings).cached == 0


def test_editing_another_question_of_the_set_misses_the_cache(tmp_path: Path) -> None:
    # Answers are compared with the set's other questions (answers_other_question).
    note, settings = cached_note(tmp_path)
    edit_rubrics(tmp_path, "使用早停，", "使用早停法，")  # Q8
    assert check_files([note], settings).cached == 0
