"""The checks of each rubric and what they find (evaluator/rubrics/checks.py), run through
`lint`. The rubric builders here serve test_duplicates.py and test_lint.py too."""

from __future__ import annotations

from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lint import lint
from evaluator.rubrics.model import KeyPoint, KeyPointGroup, Rubric, RubricDocument
from tests.helpers import REPO


def plain_rubric(rid: str, question: str, points: list[tuple[str, str]], **extra: object) -> Rubric:
    return Rubric(
        id=rid,
        title=question,
        question=question,
        reference_answer=" ".join(text for _, text in points),
        key_points=[KeyPoint(id=f"k{i}", label=lb, text=t) for i, (lb, t) in enumerate(points, 1)],
        explanation="Because.",
        **extra,  # type: ignore[arg-type]
    )


def doc_of(*rubrics: Rubric, document: str = "d") -> RubricDocument:
    return RubricDocument(document=document, rubrics=list(rubrics))


# ---------------------------------------------------------------------------- single checks


def test_seed_q5_recall_and_precision_share_a_definition(seed_doc: RubricDocument) -> None:
    repeated = [f for f in lint([seed_doc]) if f.code == "repeated-key-point"]
    assert len(repeated) == 1
    (finding,) = repeated
    assert (finding.level, finding.rubric_id) == ("warning", "llm-training-q5")
    assert "k2 and k3" in finding.message
    assert "召回率" in finding.message and "精确率" in finding.message


def test_near_identical_key_points_under_the_same_label_are_reported() -> None:
    r = plain_rubric(
        "d-q1",
        "Name two regularisers.",
        [
            ("L2", "Adds the squared weights to the loss."),
            ("L2", "Adds the squared weights to the loss!"),
        ],
    )
    (finding,) = [f for f in lint([doc_of(r)]) if f.code == "repeated-key-point"]
    assert "different labels" not in finding.message


def test_duplicate_of_links_are_checked() -> None:
    a = plain_rubric("d-q1", "What is a tensor?", [("", "A multi-dimensional array.")])
    b = plain_rubric(
        "d-q2", "What is a GPU?", [("", "A parallel processor.")], duplicate_of="d-q99"
    )
    c = plain_rubric("d-q3", "What is a TPU?", [("", "A matrix accelerator.")], duplicate_of="d-q3")
    errors = {(f.rubric_id, f.message) for f in lint([doc_of(a, b, c)]) if f.level == "error"}
    assert errors == {
        ("d-q2", "duplicate_of points at unknown id 'd-q99'"),
        ("d-q3", "duplicate_of points at itself"),
    }


def test_duplicate_of_may_point_into_another_document() -> None:
    a = plain_rubric("a-q1", "What is a tensor?", [("", "A multi-dimensional array.")])
    b = plain_rubric("b-q1", "What is a GPU?", [("", "A parallel processor.")], duplicate_of="a-q1")
    findings = lint([doc_of(a, document="a"), doc_of(b, document="b")])
    assert not [f for f in findings if f.code == "bad-duplicate-of"]


def test_empty_sections_weights_and_texts() -> None:
    # Built without validation, as a caller of the Python API might: lint must still catch them.
    blank = KeyPoint.model_construct(id="k1", label="x", text="  ", weight=0.0, note=None)
    r = Rubric.model_construct(
        id="d-q1",
        number=1,
        title="T",
        question="",
        reference_answer="Ref.",
        key_points=[blank],
        misconceptions=[],
        explanation="",
        source=None,
        language="en",
        duplicate_of=None,
        notes=[],
    )
    doc = RubricDocument.model_construct(document="d", title="", rubrics=[r])
    found = {(f.level, f.code, f.message) for f in lint([doc])}
    assert found == {
        ("error", "empty-section", "question is empty"),
        ("info", "empty-section", "explanation is empty"),
        ("error", "empty-key-point", "key point k1 has no text"),
        ("error", "zero-weight", "key point weights add up to 0"),
    }


# ---------------------------------------------------------------------------- weights (#16)


def _weighted(
    rid: str, question: str, points: list[tuple[str, str, float, str | None]], **extra: object
) -> Rubric:
    """A rubric whose key points carry (label, text, weight, note)."""
    return Rubric(
        id=rid,
        title=question,
        question=question,
        reference_answer=" ".join(p[1] for p in points),
        key_points=[
            KeyPoint(id=f"k{i}", label=lb, text=t, weight=w, note=n)
            for i, (lb, t, w, n) in enumerate(points, 1)
        ],
        explanation="Because.",
        **extra,  # type: ignore[arg-type]
    )


def _codes(*rubrics: Rubric) -> list[tuple[str | None, str]]:
    weight_codes = {
        "duplicate-weights",
        "marginal-full-weight",
        "list-item-explained",
        "list-item-lighter",
    }
    return [(f.rubric_id, f.code) for f in lint([doc_of(*rubrics)]) if f.code in weight_codes]


OVERSAMPLE = "通过复制少数类样本来增加其数量，使数据分布更加均衡。"
COST = "在损失函数中给少数类更大的权重（如类别加权、Focal Loss），让模型更关注少数类。"


def test_duplicates_that_weigh_a_shared_key_point_differently_are_warned() -> None:
    a = _weighted("d-q1", "请列举两种处理数据不平衡的方法。", [
        ("过采样", OVERSAMPLE, 2, None), ("代价敏感学习", COST, 1, None),
    ])  # fmt: skip
    b = _weighted("d-q2", "如何处理类别不平衡问题？", [
        ("重采样", "对少数类过采样或对多数类欠采样。", 2, None),
        ("成本敏感", COST.replace("给少数类更大的", "增加少数类的"), 2, None),
    ], duplicate_of="d-q1")  # fmt: skip
    assert _codes(a, b) == [("d-q2", "duplicate-weights")]
    (finding,) = [f for f in lint([doc_of(a, b)]) if f.code == "duplicate-weights"]
    assert "k2 (成本敏感) weighs 2 here but 1 as d-q1's k2 (代价敏感学习)" in finding.message
    # Not a duplicate: two questions may weigh one point differently.
    assert _codes(a, b.model_copy(update={"duplicate_of": None})) == []
    # A note naming the other question says why the weights differ.
    noted = b.model_copy(deep=True)
    noted.key_points[1].note = "Q1 只问两种方法，本题更看重成本敏感，权重 2。"
    noted.number = 2
    assert _codes(a.model_copy(update={"number": 1}), noted) == []


def test_a_key_point_its_note_calls_marginal_must_weigh_less_than_its_siblings() -> None:
    def speedups(pruning_weight: float) -> Rubric:
        return _weighted("d-q1", "请解释如何加快训练，并说明原因。", [
            ("使用GPU加速", "利用 GPU 的并行计算能力提高训练速度。", 2, None),
            ("混合精度训练", "用 FP16/BF16 计算、保留 FP32 主权重，提高吞吐。", 1, None),
            ("模型剪枝", "去除不重要的权重减少计算量。", pruning_weight,
             "原文：剪枝可以减少计算量。（作为训练加速手段作用有限）"),
        ])  # fmt: skip

    assert _codes(speedups(1)) == [("d-q1", "marginal-full-weight")]
    assert _codes(speedups(0.5)) == []
    # "边缘设备" (edge devices) is not a verdict on the key point.
    edge = _weighted("d-q1", "请解释嵌入式模型的概念。", [
        ("概念", "面向边缘设备设计的模型。", 3, "原文：用于边缘设备或移动设备。"),
        ("作用", "降低功耗。", 1, None),
    ])  # fmt: skip
    assert _codes(edge) == []


def test_a_list_question_where_one_item_outweighs_the_others_is_warned() -> None:
    optimizers = _weighted("d-q1", "请解释优化器的概念，并列举几种常用的优化器。", [
        ("优化器的概念", "根据梯度更新参数以最小化损失的算法。", 2, None),
        ("SGD", "沿负梯度方向更新参数。", 1, None),
        ("Adam", "结合一阶矩动量与二阶矩自适应学习率，并做偏差修正。", 3, None),
        ("RMSprop", "用梯度平方的滑动平均缩放学习率。", 1, None),
    ])  # fmt: skip
    findings = [f for f in lint([doc_of(optimizers)]) if f.code == "list-item-explained"]
    # The concept is not an item: only Adam is singled out.
    assert [f.message.split(" ")[0] for f in findings] == ["k3"]
    # The same weights on a "what is / why" question are the author's call.
    why = optimizers.model_copy(update={"question": "请解释优化器的概念和作用。"})
    assert _codes(why) == []


def test_one_item_split_into_two_key_points_is_warned() -> None:
    split = _weighted("d-q1", "请列举三种优化训练计算性能的方法。", [
        ("使用GPU加速", "利用 GPU 的并行计算能力。", 1, None),
        ("混合精度训练", "用 FP16 计算、保留 FP32 主权重。", 1, None),
        ("混合精度训练", "降低显存占用并利用 Tensor Core 提高吞吐。", 1, None),
        ("并行", "数据并行、张量并行和 ZeRO。", 1, None),
    ])  # fmt: skip
    messages = [f.message for f in lint([doc_of(split)]) if f.code == "list-item-explained"]
    assert messages == ["k2 and k3 are both '混合精度训练': one item split into two key points "
                        "counts twice in a list question"]  # fmt: skip


def test_a_lighter_item_of_a_group_says_why_in_its_note() -> None:
    def overfitting(note: str | None) -> Rubric:
        return _weighted("d-q1", "请列举三种处理模型过拟合的方法。", [
            ("正则化", "在损失函数中加入 L2 正则项。", 2, None),
            ("dropout", "训练时随机丢弃部分神经元。", 2, None),
            ("数据增强", "增加训练数据的多样性。", 2, None),
            ("早停", "验证损失不再下降时停止训练。", 1, note),
        ], groups=[KeyPointGroup(id="g1", key_points=["k1", "k2", "k3", "k4"], pick=3)])  # fmt: skip

    assert _codes(overfitting(None)) == [("d-q1", "list-item-lighter")]
    assert _codes(overfitting("补充：原答案未提及。")) == [("d-q1", "list-item-lighter")]
    assert _codes(overfitting("只在有验证集时可用，所以权重 1。")) == []


def test_the_bundled_rubrics_weigh_what_their_questions_ask() -> None:
    findings = lint(load_rubrics(REPO / "rubrics"))
    assert [str(f) for f in findings if f.level != "info"] == []
