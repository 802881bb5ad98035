"""The curated rubric file for the seed (rubrics/llm-training.yaml): shape, the seed's factual
mistakes corrected, duplicates linked, and the file recognised as human-edited."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from evaluator.errors import RubricError
from evaluator.rubrics.compile import build, compile_markdown
from evaluator.rubrics.io import load_document
from evaluator.rubrics.model import Rubric, RubricDocument

REPO = Path(__file__).resolve().parents[2]
RUBRIC_FILE = REPO / "rubrics" / "llm-training.yaml"
SEED = "seeds/000_7ace44ecab84a0b1.txt"


@pytest.fixture(scope="module")
def doc() -> RubricDocument:
    return load_document(RUBRIC_FILE)


@pytest.fixture(scope="module")
def seed_lines() -> list[str]:
    return (REPO / SEED).read_text(encoding="utf-8").splitlines()


def q(doc: RubricDocument, number: int) -> Rubric:
    (rubric,) = [r for r in doc.rubrics if r.number == number]
    return rubric


def key_point(rubric: Rubric, label_part: str) -> str:
    """The one key point whose label is, or else contains, `label_part`."""
    hits = [k.text for k in rubric.key_points if k.label == label_part]
    hits = hits or [k.text for k in rubric.key_points if label_part in k.label]
    assert len(hits) == 1, f"{rubric.id}: expected one key point labelled *{label_part}*"
    return hits[0]


# ---------------------------------------------------------------------------- shape


def test_thirty_questions_with_stable_ids(doc: RubricDocument) -> None:
    assert doc.document == "llm-training"
    assert doc.source == SEED
    assert [r.number for r in doc.rubrics] == list(range(1, 31))
    assert [r.id for r in doc.rubrics] == [f"llm-training-q{n}" for n in range(1, 31)]
    assert all(r.language == "zh" for r in doc.rubrics)


def test_every_rubric_is_gradable(doc: RubricDocument) -> None:
    for r in doc.rubrics:
        assert len(r.key_points) >= 2, r.id
        assert all(k.weight > 0 for k in r.key_points), r.id
        assert all(0 < m.penalty <= 30 for m in r.misconceptions), r.id
        assert all(m.correction for m in r.misconceptions), r.id
        assert r.explanation, r.id


def test_core_idea_outweighs_peripheral_points(doc: RubricDocument) -> None:
    # Weights were set by hand: a rubric where every part weighs the same was not reviewed. A
    # "list three" group is one part, worth its `pick` heaviest items; a question that is only
    # such a list has one part (issue #16: its items weigh the same).
    for r in doc.rubrics:
        weight = {k.id: k.weight for k in r.key_points}
        grouped = {i for g in r.groups or [] for i in g.key_points}
        parts = [w for i, w in weight.items() if i not in grouped]
        for g in r.groups or []:
            parts.append(sum(sorted((weight[i] for i in g.key_points), reverse=True)[: g.pick]))
        assert len(parts) == 1 or len(set(parts)) > 1, r.id


def test_items_of_a_list_weigh_the_same_unless_a_note_says_why(doc: RubricDocument) -> None:
    for r in doc.rubrics:
        weight = {k.id: k for k in r.key_points}
        for g in r.groups or []:
            heaviest = max(weight[i].weight for i in g.key_points)
            lighter = [weight[i] for i in g.key_points if weight[i].weight < heaviest]
            assert all(k.note and "权重" in k.note for k in lighter), (r.id, g.id)


def test_misconceptions_are_not_key_points(doc: RubricDocument) -> None:
    for r in doc.rubrics:
        for m in r.misconceptions:
            for k in r.key_points:
                ratio = difflib.SequenceMatcher(None, m.text, k.text).ratio()
                assert ratio < 0.8, f"{r.id}: misconception {m.id} reads like key point {k.id}"


def test_key_point_notes_keep_the_seed_wording_or_say_what_was_added(
    doc: RubricDocument,
) -> None:
    # A note quotes the seed (原文), says what was added (补充) or why a weight stands (权重).
    for r in doc.rubrics:
        for k in r.key_points:
            if k.note is not None:
                assert k.note.startswith(("原文", "补充", "权重")), f"{r.id}.{k.id}: {k.note}"
                if k.note.startswith("原文"):
                    assert r.notes, f"{r.id}: a corrected key point needs a reviewer note"


# ---------------------------------------------------------------------------- corrections


def test_q5_recall_and_precision_have_their_own_definitions(doc: RubricDocument) -> None:
    r = q(doc, 5)
    recall, precision = key_point(r, "召回率"), key_point(r, "精确率")
    assert recall != precision
    assert "TP/(TP+FN)" in recall and "实际为正" in recall
    assert "TP/(TP+FP)" in precision and "预测为正" in precision
    assert "TP/(TP+FP)" not in recall and "TP/(TP+FN)" not in precision
    assert "TP/(TP+FN)" in r.reference_answer and "TP/(TP+FP)" in r.reference_answer
    assert any("召回率" in m.text for m in r.misconceptions)


def test_q6_kernel_is_shared_across_positions_not_layers(doc: RubricDocument) -> None:
    r = q(doc, 6)
    cnn = key_point(r, "CNN")
    assert "同一卷积层" in cnn and "空间位置" in cnn
    assert "卷积核可以在多个卷积层之间共享" not in cnn + r.reference_answer
    assert any("卷积层之间共享" in m.text for m in r.misconceptions)


def test_q9_adam_is_momentum_plus_adaptive_rates(doc: RubricDocument) -> None:
    r = q(doc, 9)
    adam = key_point(r, "Adam")
    assert "自适应" in adam and "二阶矩" in adam and "一阶矩" in adam
    assert "结合了SGD和Momentum" not in adam + r.reference_answer
    assert any("SGD" in m.text and "Momentum" in m.text for m in r.misconceptions)


def test_q29_attention_does_not_reduce_compute(doc: RubricDocument) -> None:
    r = q(doc, 29)
    assert any("O(n²)" in k.text for k in r.key_points)
    assert any(
        re.search(r"(减少|降低).*计算", m.text) and m.penalty >= 15 for m in r.misconceptions
    )
    for k in r.key_points:
        assert not re.search(r"(减少|降低)(模型的)?计算复杂度", k.text), k.id


@pytest.mark.parametrize(
    ("number", "seed_wording"),
    [
        (2, "降低内存占用和计算量"),
        (16, "提高模型的可解释性"),
        (24, "避免模型在训练过程中出现过拟合现象"),
        (27, "如随机采样、顺序采样等"),
        (30, "数据去噪"),
        (30, "隐私剪枝"),
    ],
)
def test_other_seed_mistakes_are_gone_from_the_grading_text(
    doc: RubricDocument, number: int, seed_wording: str
) -> None:
    r = q(doc, number)
    graded = r.reference_answer + "".join(k.text for k in r.key_points)
    assert seed_wording not in graded
    # ...but the original wording is kept for the record.
    assert any(seed_wording in n for n in r.notes) or any(
        seed_wording in (k.note or "") for k in r.key_points
    )


def test_expected_misconceptions_are_listed(doc: RubricDocument) -> None:
    expected = {
        7: "推理时使用当前批次",
        8: "增大模型容量",
        11: "学生模型通常比教师模型更大",
        24: "学习率越大",
    }
    for number, wording in expected.items():
        assert any(wording in m.text for m in q(doc, number).misconceptions), number


# ---------------------------------------------------------------------------- duplicates


def test_duplicates_point_at_the_earlier_twin(doc: RubricDocument) -> None:
    links = {r.number: r.duplicate_of for r in doc.rubrics if r.duplicate_of}
    assert links == {
        15: "llm-training-q2",
        25: "llm-training-q12",
        26: "llm-training-q3",
        28: "llm-training-q14",
    }
    for number, target in links.items():
        assert int(target.rsplit("q", 1)[1]) < number
        assert q(doc, number).notes, f"Q{number}: say why it is a duplicate"


def test_q21_stays_independent_and_says_why(doc: RubricDocument) -> None:
    r = q(doc, 21)
    assert r.duplicate_of is None
    assert any("Q2" in n and "独立" in n for n in r.notes)


# ---------------------------------------------------------------------------- provenance


def test_source_ranges_cover_each_question_in_the_seed(
    doc: RubricDocument, seed_lines: list[str]
) -> None:
    previous_end = 0
    for r in doc.rubrics:
        assert r.source is not None and r.source.file == SEED
        start, end = r.source.lines
        assert previous_end < start <= end <= len(seed_lines), r.id
        assert seed_lines[start - 1].startswith(f"#### {r.number}."), r.id
        assert seed_lines[end - 1].startswith("**解析：**"), r.id
        between = seed_lines[start:end]
        assert not any(line.startswith("#### ") for line in between), r.id
        previous_end = end


def test_layout_matches_the_compiler(doc: RubricDocument) -> None:
    compiled = compile_markdown((REPO / SEED).read_text(encoding="utf-8"), SEED, "llm-training")
    assert [(r.id, r.title, r.question, r.source) for r in compiled.rubrics] == [
        (r.id, r.title, r.question, r.source) for r in doc.rubrics
    ]


def test_file_counts_as_human_edited(doc: RubricDocument) -> None:
    assert doc.build_hash is not None and re.fullmatch(r"[0-9a-f]{64}", doc.build_hash)
    assert doc.build_hash != doc.rubrics_hash()


def test_build_refuses_to_overwrite_the_curated_file(tmp_path: Path) -> None:
    target = tmp_path / "llm-training.yaml"
    original = RUBRIC_FILE.read_text(encoding="utf-8")
    target.write_text(original, encoding="utf-8")
    with pytest.raises(RubricError, match="edited since it was built"):
        build([REPO / SEED], tmp_path, document="llm-training")
    assert target.read_text(encoding="utf-8") == original
