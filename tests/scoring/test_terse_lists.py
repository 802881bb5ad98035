""" "列举三种…" is answered by naming items: a terse list of the right terms earns the key points
it names (#11 item 4), and nothing else does: not restating the question, not a long answer
that only drops the names, not a question that asks for no list. Hashing embedder."""

from __future__ import annotations

import pytest

from evaluator.result import Flag, Status
from evaluator.rubrics.io import load_rubrics
from evaluator.rubrics.lookup import RubricSet
from evaluator.scoring.grader import Grader
from evaluator.settings import Settings
from evaluator.text import is_list_question, is_term_list
from tests.helpers import SEED_SUBSET_RUBRICS, write_rubrics

TERSE = "正则化、dropout、数据增强、早停。"


@pytest.fixture(scope="module")
def rubrics(tmp_path_factory: pytest.TempPathFactory) -> RubricSet:
    return load_rubrics(write_rubrics(tmp_path_factory.mktemp("r"), SEED_SUBSET_RUBRICS))


def grader() -> Grader:
    return Grader("hashing", settings=Settings(use_cache=False))


def test_a_terse_list_earns_the_points_it_names(rubrics: RubricSet) -> None:
    grade = grader().grade(rubrics.find(8), TERSE)
    assert [k.status for k in grade.key_points] == [Status.COVERED] * 4
    assert grade.score >= 90 and Flag.OFF_TOPIC not in grade.flags
    assert grade.key_points[1].evidence == TERSE


def test_two_items_named_earn_two_points(rubrics: RubricSet) -> None:
    grade = grader().grade(rubrics.find(8), "正则化，dropout")
    covered = [k.id for k in grade.key_points if k.status == Status.COVERED]
    assert covered == ["regularisation", "dropout"]
    assert Flag.OFF_TOPIC not in grade.flags  # naming the right items is on topic
    assert grade.score < grader().grade(rubrics.find(8), TERSE).score


def test_items_the_question_names_earn_nothing(rubrics: RubricSet) -> None:
    q8 = rubrics.find(8)
    asks = q8.model_copy(update={"question": "请在正则化、dropout、数据增强、早停中列举三种方法。"})
    grade = grader().grade(asks, TERSE)
    assert all(k.status != Status.COVERED for k in grade.key_points)


def test_a_long_answer_is_graded_by_what_it_says_not_by_the_names(rubrics: RubricSet) -> None:
    long = TERSE + "这些方法我都听说过，但是具体怎么做我不太清楚，平时做项目也很少遇到这种问题。"
    grade = grader().grade(rubrics.find(8), long)
    assert grade.score < 60


def test_naming_counts_only_for_list_questions(rubrics: RubricSet) -> None:
    # Q7 asks what batch normalization is; its labels (定义, 稳定训练, …) are not items to list.
    grade = grader().grade(rubrics.find(7), "定义、缩放平移、稳定训练、加速收敛、正则化。")
    assert grade.score < 60


@pytest.mark.parametrize(
    ("question", "lists"),
    [
        ("请列举三种处理模型过拟合的方法。", True),
        ("常用的优化器有哪些？", True),
        ("List three ways to prevent overfitting.", True),
        ("Name two optimizers.", True),
        ("什么是批量归一化？请解释其作用。", False),
        ("Explain knowledge distillation.", False),
    ],
)
def test_list_questions(question: str, lists: bool) -> None:
    assert is_list_question(question) is lists


def test_a_term_list_to_a_question_that_asks_for_more_earns_no_full_point(
    rubrics: RubricSet,
) -> None:
    """Terms named, none explained: no key point earns more than the knee credit, and the grade
    says why. The same list answers a list question in full."""
    q8 = rubrics.find(8)
    explain = q8.model_copy(update={"question": "请解释正则化、dropout 等方法为什么能缓解过拟合。"})
    assert not is_list_question(explain.question)
    g = grader()
    capped, listed = g.grade(explain, TERSE), g.grade(q8, TERSE)
    assert Flag.TERM_LIST in capped.flags and Flag.TERM_LIST not in listed.flags
    assert max(k.credit for k in capped.key_points) <= g.calibration.knee_credit
    assert capped.score < listed.score


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("正则化、dropout、数据增强、早停。", True),
        ("- DataLoader + prefetch\n- 数据分片(shard)\n- HDFS/Ceph", True),
        ("regularization, dropout, early stopping", True),
        ("学生模型更小，推理也更快一些，部署方便。", False),  # a sentence of clauses
        ("The student is smaller, faster, and easier to deploy.", False),
        ("正则化、dropout", False),  # two items
        ("正则化：在损失函数中加入 L2 正则项、dropout、早停", False),  # one item explained
    ],
)
def test_what_a_term_list_is(answer: str, expected: bool) -> None:
    assert is_term_list(answer) is expected
