""" "List three" rubrics (#11 item 5): a key-point group any `pick` members of which earn it in
full. The schema refuses impossible groups, the grader counts only the best `pick` members,
`rubrics build` proposes a group when the question asks for a number of items, and `rubrics
lint` checks `pick` against that number. Hashing embedder, synthetic rubrics."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from evaluator.result import Status
from evaluator.rubrics.compile import compile_markdown
from evaluator.rubrics.lint import lint
from evaluator.rubrics.model import KeyPoint, KeyPointGroup, Rubric, RubricDocument
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from evaluator.text import asked_count

ITEMS = {
    "k1": ("正则化", "在损失函数中加入 L1/L2 正则项，惩罚模型复杂度。", 2.0),
    "k2": ("dropout", "训练时随机丢弃部分神经元的输出，减少神经元之间的共适应。", 2.0),
    "k3": ("数据增强", "通过增加训练数据的多样性，提高模型的泛化能力。", 2.0),
    "k4": ("早停", "监控验证集上的损失，在验证损失不再下降时停止训练。", 1.0),
}


def overfitting(pick: int | None = 3, **changes: Any) -> Rubric:
    fields: dict[str, Any] = {
        "id": "q8",
        "number": 8,
        "title": "如何处理模型过拟合？",
        "question": "请列举三种处理模型过拟合的方法。",
        "reference_answer": "\n".join(f"- {label}：{text}" for label, text, _ in ITEMS.values()),
        "key_points": [
            KeyPoint(id=i, label=label, text=text, weight=w)
            for i, (label, text, w) in ITEMS.items()
        ],
        "groups": None
        if pick is None
        else [KeyPointGroup(id="g1", key_points=list(ITEMS), pick=pick)],
    }
    return Rubric(**{**fields, **changes})


THREE_GIVEN = (
    "第一，在损失函数中加入 L1/L2 正则项，惩罚模型复杂度。"
    "第二，训练时随机丢弃部分神经元的输出，减少神经元之间的共适应。"
    "第三，通过增加训练数据的多样性，提高模型的泛化能力。"
)


def grader() -> Grader:
    return Grader("hashing", settings=Settings(use_cache=False))


# ---------------------------------------------------------------------------- schema


@pytest.mark.parametrize(
    ("group", "message"),
    [
        (KeyPointGroup(id="g1", key_points=["k1", "k9"], pick=1), "no such key point: k9"),
        (KeyPointGroup(id="g1", key_points=["k1", "k2"], pick=3), "picks 3 of only 2"),
    ],
)
def test_impossible_groups_are_refused(group: KeyPointGroup, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        overfitting(groups=[group])


def test_a_key_point_belongs_to_one_group_at_most() -> None:
    groups = [
        KeyPointGroup(id="g1", key_points=["k1", "k2"], pick=1),
        KeyPointGroup(id="g2", key_points=["k2", "k3"], pick=1),
    ]
    with pytest.raises(ValidationError, match="more than one group: k2"):
        overfitting(groups=groups)


def test_not_needed_are_the_members_beyond_the_best_pick_by_weighted_credit() -> None:
    rubric = overfitting(pick=2)
    credits = {"k1": 0.9, "k2": 0.1, "k3": 0.8, "k4": 0.8}
    # k3 and k4 have the same credit, but k3 weighs 2 against k4's 1.
    assert rubric.not_needed(credits) == {"k2", "k4"}
    assert rubric.not_needed({"k1": 1.0, "k2": 1.0, "k3": 0.4, "k4": 1.0}) == {"k3", "k4"}
    assert overfitting(pick=None).not_needed(credits) == set()


def test_a_group_is_worth_its_pick_heaviest_members() -> None:
    rubric = overfitting(pick=3)  # weights 2, 2, 2, 1: the group is worth 6
    assert rubric.full_weight() == 6
    assert rubric.weighted_share({"k1": 1, "k2": 1, "k3": 1}) == 1.0
    # Three items of which one is the lighter one earn less than three full ones...
    assert rubric.weighted_share({"k1": 1, "k2": 1, "k4": 1}) == pytest.approx(5 / 6)
    # ...and a fourth item given besides the three full ones costs nothing.
    assert rubric.weighted_share({"k1": 1, "k2": 1, "k3": 1, "k4": 1}) == 1.0
    assert overfitting(pick=None).full_weight() == 7
    assert overfitting(pick=None).weighted_share({"k4": 1}) == pytest.approx(1 / 7)


# ---------------------------------------------------------------------------- grading


def test_exactly_the_three_asked_for_earn_full_marks() -> None:
    grouped, plain = grader().grade_many(
        [(overfitting(), THREE_GIVEN), (overfitting(pick=None), THREE_GIVEN)]
    )
    assert grouped.score > plain.score
    assert grouped.score >= 90
    early_stop = next(k for k in grouped.key_points if k.id == "k4")
    assert not early_stop.counted and early_stop.status == Status.MISSED
    assert early_stop not in grouped.missed and early_stop not in grouped.to_study
    assert "早停" not in grouped.feedback  # not needed: neither "missed" nor "study next"
    assert "早停" in plain.feedback


def test_a_fourth_item_neither_adds_nor_costs() -> None:
    four = THREE_GIVEN + "第四，监控验证集上的损失，在验证损失不再下降时停止训练。"
    three, all_four = grader().grade_many([(overfitting(), THREE_GIVEN), (overfitting(), four)])
    assert all_four.score >= three.score - 5


# ---------------------------------------------------------------------------- build and lint


@pytest.mark.parametrize(
    ("question", "count"),
    [
        ("请列举三种处理模型过拟合的方法。", 3),
        ("列出 2 个例子", 2),
        ("List three ways to avoid overfitting.", 3),
        ("Name 4 sorting algorithms.", 4),
        ("请解释权重共享的概念，并给出一个权重共享的例子。", None),  # one is not a list
        ("请解释优化器的概念，并列举几种常用的优化器。", None),  # no number
        ("What is a linked list?", None),
    ],
)
def test_asked_count(question: str, count: int | None) -> None:
    assert asked_count(question) == count


SEED_LIKE = """\
## 8. 如何处理模型过拟合？

**问题：** 请列举三种处理模型过拟合的方法。

**答案：**
- 正则化：在损失函数中加入正则项。
- Dropout：训练时随机丢弃部分神经元。
- 数据增强：增加训练数据的多样性。
- 早停：验证损失不再下降时停止训练。

## 9. 什么是优化器？

**问题：** 请解释优化器的概念。

**答案：**
- 优化器根据梯度更新模型参数。
- 常见的有 SGD 和 Adam。
"""


def test_build_groups_the_items_of_a_list_question_and_says_so() -> None:
    doc = compile_markdown(SEED_LIKE, "notes.md", "notes")
    listed, plain = doc.rubrics
    assert listed.groups == [
        KeyPointGroup(id="g1", label="any 3", key_points=["k1", "k2", "k3", "k4"], pick=3)
    ]
    assert any("asks for 3 items" in n for n in listed.notes)
    assert plain.groups is None


def _codes(rubric: Rubric) -> list[str]:
    doc = RubricDocument(document="t", title="t", rubrics=[rubric])
    return [f.code for f in lint([doc])]


def test_lint_checks_pick_against_the_question() -> None:
    assert "list-without-pick" in _codes(overfitting(pick=None))
    assert "pick-count" in _codes(overfitting(pick=2))
    assert "pick-all" in _codes(
        overfitting(groups=[KeyPointGroup(id="g1", key_points=["k1", "k2"], pick=2)])
    )
    assert not {"list-without-pick", "pick-count", "pick-all"} & set(_codes(overfitting()))
